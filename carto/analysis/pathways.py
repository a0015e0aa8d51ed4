"""Referral pathways (*passage de relais*): where a person or a case goes from one service to the next.

Read from the ``referral`` relations, always from ``source`` to ``target`` (a referral has a
direction even when ``directed`` was left empty). Graph work is networkx's: reach within k
referrals is a breadth-first search with a cutoff, loops are its bounded simple cycles.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
import pandas as pd

MAX_STEPS = 3
MAX_LOOP_LENGTH = 4
MAX_LISTED_LOOPS = 50


def referrals(relations: pd.DataFrame) -> pd.DataFrame:
    """The ``referral`` relations, with ``source`` and ``target`` as text."""
    found = relations[relations["kind"] == "referral"].copy()
    found["source"] = found["source"].astype(str)
    found["target"] = found["target"].astype(str)
    return found


def referral_graph(referral_rows: pd.DataFrame) -> nx.DiGraph:
    """One edge per (source, target) pair, whose ``count`` is how many referral relations join them."""
    graph = nx.DiGraph()
    counts = referral_rows.groupby(["source", "target"]).size()
    ends = zip(counts.index.get_level_values(0), counts.index.get_level_values(1), counts.to_numpy(), strict=True)
    for source, target, count in ends:
        if source != target:
            graph.add_edge(source, target, count=int(count))
    return graph


def reach_by_steps(graph: nx.DiGraph, start: str, *, max_steps: int = MAX_STEPS) -> pd.Series:
    """How many other nodes ``start`` can send a case to within 1, 2 … ``max_steps`` referrals (cumulative)."""
    if start not in graph:
        return pd.Series(0, index=pd.RangeIndex(1, max_steps + 1, name="steps"), name="reached")
    distance = nx.single_source_shortest_path_length(graph, start, cutoff=max_steps)
    counts = [sum(1 for node, d in distance.items() if node != start and d <= k) for k in range(1, max_steps + 1)]
    return pd.Series(counts, index=pd.RangeIndex(1, max_steps + 1, name="steps"), name="reached")


def reached_within(graph: nx.DiGraph, start: str, steps: int) -> dict[str, int]:
    """Node id → the fewest referrals from ``start`` to it, for nodes within ``steps`` referrals."""
    if start not in graph:
        return {}
    distance = nx.single_source_shortest_path_length(graph, start, cutoff=steps)
    return {node: d for node, d in sorted(distance.items()) if node != start}


def reach_from_types(
    graph: nx.DiGraph, nodes: pd.DataFrame, entry_type: str = "ccas", *, max_steps: int = MAX_STEPS
) -> pd.DataFrame:
    """For each node of ``entry_type`` (by id): how many services it reaches within 1 … ``max_steps`` referrals.

    Columns ``1`` … ``max_steps``; ``nodes`` is indexed by id with a ``type`` column.
    """
    entries = sorted(nodes.index[nodes["type"] == entry_type].astype(str))
    table = pd.DataFrame(
        [reach_by_steps(graph, e, max_steps=max_steps).to_list() for e in entries],
        index=pd.Index(entries, name="id"),
        columns=list(range(1, max_steps + 1)),
    )
    return table.astype("int64")


def type_flows(referral_rows: pd.DataFrame, nodes: pd.DataFrame) -> pd.DataFrame:
    """Referrals between node types: ``source_type``, ``target_type``, ``referrals``; most first."""
    types = nodes["type"].astype(str)
    flows = pd.DataFrame(
        {"source_type": referral_rows["source"].map(types), "target_type": referral_rows["target"].map(types)}
    ).dropna()
    table = flows.groupby(["source_type", "target_type"]).size().rename("referrals").reset_index()
    return table.sort_values(["referrals", "source_type", "target_type"], ascending=[False, True, True],
                             ignore_index=True)


def flows_of(graph: nx.DiGraph, node: str) -> tuple[list[str], list[str]]:
    """Where cases go from ``node`` and where they come from (ids, sorted)."""
    if node not in graph:
        return [], []
    return sorted(graph.successors(node)), sorted(graph.predecessors(node))


def dead_ends(graph: nx.DiGraph) -> list[str]:
    """Nodes that receive referrals and pass none on, sorted."""
    return sorted(n for n in graph if graph.in_degree(n) > 0 and graph.out_degree(n) == 0)


def loops(graph: nx.DiGraph, *, max_length: int = MAX_LOOP_LENGTH, limit: int = MAX_LISTED_LOOPS) -> list[list[str]]:
    """Cycles of at most ``max_length`` referrals (a case coming back where it started), each
    starting at its smallest id; shortest first, at most ``limit``."""
    found = []
    for cycle in nx.simple_cycles(graph, length_bound=max_length):
        turn = cycle.index(min(cycle))
        found.append(cycle[turn:] + cycle[:turn])
    found.sort(key=lambda c: (len(c), c))
    return found[:limit]


def chains(graph: nx.DiGraph, start: str, steps: int, *, limit: int = 200) -> list[list[str]]:
    """Chains of exactly ``steps`` referrals from ``start`` (no node twice), sorted, at most ``limit``."""
    if start not in graph:
        return []
    found: list[list[str]] = []
    for path in nx.all_simple_paths(graph, start, [n for n in graph if n != start], cutoff=steps):
        if len(path) == steps + 1:
            found.append(list(path))
    found.sort()
    return found[:limit]


def pathway_edges(graph: nx.DiGraph, reached: dict[str, int], start: str) -> pd.DataFrame:
    """The referrals that lead from ``start`` towards the nodes it reaches: ``source``, ``target``,
    ``step`` (1 for the first referral), for drawing with direction."""
    depth = {start: 0, **reached}
    rows = [
        {"source": s, "target": t, "step": depth[t]}
        for s, t in graph.edges
        if s in depth and t in depth and depth[t] == depth[s] + 1
    ]
    return pd.DataFrame(rows, columns=["source", "target", "step"]).sort_values(["step", "source", "target"],
                                                                                 ignore_index=True)


def services_reached(reached: Iterable[str], nodes: pd.DataFrame) -> pd.Series:
    """How many of the reached nodes are of each type (most first)."""
    types = nodes["type"].reindex(list(reached)).dropna().astype(str)
    return types.value_counts().sort_index().sort_values(ascending=False, kind="stable")

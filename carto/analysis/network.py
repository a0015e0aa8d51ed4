"""The network of actors and places: graph building, per-node metrics, communities, ego networks.

Conventions (the same for both engines, so igraph results can be checked against networkx):

- **Nodes** are every actor and every place (ids are unique across both); a node with no relation
  is still a node (degree 0, its own component and community).
- **Degree** counts relations, not neighbours: two relations between the same pair count twice.
  A relation with ``directed`` false (or missing) is a two-way link: it counts in ``in_degree``
  *and* ``out_degree`` of both ends; a directed one counts in the source's ``out_degree`` and the
  target's ``in_degree``. ``degree`` is the number of relations touching the node (a self-loop
  counts twice, as in networkx). ``weighted_degree`` sums the weights (missing weight = 1).
- **Betweenness** and **closeness** are computed on the *simple undirected* graph (direction
  ignored, parallel relations merged, self-loops dropped), **unweighted**: a broker is someone on
  the shortest chains of acquaintance, whatever the weight of each link. Betweenness is normalised
  by (n-1)(n-2)/2 over *all* n nodes; closeness is networkx's ``wf_improved`` form:
  ((r-1)/sum of distances) * ((r-1)/(n-1)) with r the size of the node's component.
  On large graphs both are estimated from a seeded sample of source nodes (see ``samples``); the
  frame's ``attrs["sampled_sources"]`` says how many sources were used (0 = exact).
- **PageRank** runs on the directed multigraph (a two-way relation is two arcs), weighted,
  damping 0.85.
- **Community**: modularity communities of the simple undirected graph whose edge weight is the
  sum of the merged relations' weights, with a fixed seed: Leiden (``LEIDEN_ITERATIONS`` passes)
  with igraph, Louvain with networkx (the two agree on modularity, not necessarily on labels).
- **Community** and **component** labels are integers 0, 1, 2... renumbered by size (largest
  first), ties broken by the smallest node id in the group, so they are stable from run to run.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date

import networkx as nx
import numpy as np
import pandas as pd

from carto.analysis import flows, hierarchy
from carto.analysis.activity import active_on
from carto.errors import InputError
from carto.model import relation_weights

ENGINES = ("igraph", "networkx")
METRIC_COLUMNS = (
    "degree",
    "in_degree",
    "out_degree",
    "weighted_degree",
    "betweenness",
    "closeness",
    "pagerank",
    "community",
    "component",
    "isolate",
    "articulation",
)
SEED = 42
# Exact betweenness/closeness costs about nodes x edges steps; above this budget they are sampled.
EXACT_BUDGET = 10_000_000
MIN_SAMPLES = 50
LEIDEN_ITERATIONS = 2


def _directed(relations: pd.DataFrame) -> pd.Series:
    if "directed" not in relations:
        return pd.Series(False, index=relations.index)
    return relations["directed"].astype("boolean").fillna(False).astype(bool)


def _node_ids(actors: pd.DataFrame, places: pd.DataFrame) -> list[str]:
    ids = [str(i) for frame in (actors, places) if len(frame) for i in frame["id"]]
    return sorted(set(ids))


def _known_relations(relations: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Relations whose both ends are nodes, with integer ends ``s``/``t``, ``w`` and ``d``."""
    if relations.empty:
        return pd.DataFrame({"s": [], "t": [], "w": [], "d": []}).astype(
            {"s": "int64", "t": "int64", "w": "float64", "d": "bool"}
        )
    s = pd.Categorical(relations["source"].astype(str), categories=index).codes.astype("int64")
    t = pd.Categorical(relations["target"].astype(str), categories=index).codes.astype("int64")
    weights, directed = relation_weights(relations).to_numpy(), _directed(relations).to_numpy()
    out = pd.DataFrame({"s": s, "t": t, "w": weights, "d": directed})
    return out[(out["s"] >= 0) & (out["t"] >= 0)].reset_index(drop=True)


def build_graph(
    actors: pd.DataFrame,
    places: pd.DataFrame,
    relations: pd.DataFrame,
    *,
    on_date: date | None = None,
) -> nx.MultiDiGraph:
    """The typed multigraph of actors and places.

    Node attributes: ``node_type`` ("actor" or "place"), ``name``, ``type`` (actor type or place
    kind), ``sector`` (actors only, else None), ``territory_code``. One edge per relation, from
    ``source`` to ``target``, keyed by relation id, with ``kind``, ``dimension``, ``formal``,
    ``weight`` (missing = 1.0), ``directed`` (missing = False) and ``scheme_id``. An undirected
    relation is still stored once, source to target: read its ``directed`` attribute. Relations
    whose ends are not known nodes are left out.
    """

    def value(row: dict, key: str) -> object:
        v = row.get(key)
        return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v

    graph = nx.MultiDiGraph()
    for node_type, frame, type_column in (("actor", actors, "type"), ("place", places, "kind")):
        for row in frame.drop(columns="geometry", errors="ignore").to_dict("records"):
            graph.add_node(
                str(row["id"]),
                node_type=node_type,
                name=value(row, "name"),
                type=value(row, type_column),
                sector=value(row, "sector") if node_type == "actor" else None,
                territory_code=value(row, "territory_code"),
            )
    rels = active_on(relations, on_date)
    if rels.empty:
        return graph
    weights = relation_weights(rels).to_numpy()
    directed = _directed(rels).to_numpy()
    for i, row in enumerate(rels.to_dict("records")):
        source, target = str(row["source"]), str(row["target"])
        if source not in graph or target not in graph:
            continue
        graph.add_edge(
            source,
            target,
            key=str(row["id"]),
            kind=value(row, "kind"),
            dimension=value(row, "dimension"),
            formal=value(row, "formal"),
            weight=float(weights[i]),
            directed=bool(directed[i]),
            scheme_id=value(row, "scheme_id"),
        )
    return graph


# --- labels --------------------------------------------------------------------------------------


def _stable_labels(groups: Iterable[Iterable[int]], n: int, ids: list[str]) -> np.ndarray:
    """Integer label per node: groups numbered by size (largest first), ties by smallest id."""
    listed = [sorted(g) for g in groups]
    # ids are sorted, so a group's smallest id is the id of its smallest index
    listed.sort(key=lambda g: (-len(g), ids[g[0]]))
    labels = np.full(n, -1, dtype="int64")
    for label, members in enumerate(listed):
        labels[members] = label
    return labels


def _sample_sources(members: list[int], k: int, seed: int) -> list[int]:
    return sorted(random.Random(seed).sample(sorted(members), k))


def _plan(n: int, m: int, components: list[list[int]], samples: int | None) -> int:
    """Number of sampled sources for the large components (0 = everything exact)."""
    if samples == 0 or n == 0:
        return 0
    if samples is None:
        if n * m <= EXACT_BUDGET:
            return 0
        samples = max(MIN_SAMPLES, EXACT_BUDGET // max(m, 1))
    largest = max((len(c) for c in components), default=0)
    return samples if largest > samples else 0


def _normalise(
    betweenness: np.ndarray, closeness_raw: np.ndarray, sizes: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    scale = (n - 1) * (n - 2) / 2
    betw = betweenness / scale if scale > 0 else np.zeros(n)
    close = np.nan_to_num(closeness_raw, nan=0.0) * ((sizes - 1) / (n - 1) if n > 1 else 0.0)
    return betw, close


# --- igraph engine ------------------------------------------------------------------------------


def _igraph_metrics(rels: pd.DataFrame, ids: list[str], samples: int | None, seed: int) -> dict[str, np.ndarray]:
    import igraph as ig

    n = len(ids)
    s, t, w, d = (rels[c].to_numpy() for c in ("s", "t", "w", "d"))
    out: dict[str, np.ndarray] = {}
    out["degree"] = np.bincount(s, minlength=n) + np.bincount(t, minlength=n)
    out["out_degree"] = np.bincount(s, minlength=n) + np.bincount(t[~d], minlength=n)
    out["in_degree"] = np.bincount(t, minlength=n) + np.bincount(s[~d], minlength=n)
    out["weighted_degree"] = np.bincount(s, weights=w, minlength=n) + np.bincount(t, weights=w, minlength=n)

    edges = list(zip(s.tolist(), t.tolist(), strict=True))
    reverse = list(zip(t[~d].tolist(), s[~d].tolist(), strict=True))
    directed = ig.Graph(n=n, edges=edges + reverse, directed=True)
    arc_weights = np.concatenate([w, w[~d]]).tolist()
    out["pagerank"] = np.asarray(directed.pagerank(damping=0.85, weights=arc_weights, directed=True))
    del directed, reverse

    simple = ig.Graph(n=n, edges=edges, directed=False)
    simple.es["weight"] = w.tolist()
    simple.simplify(multiple=True, loops=True, combine_edges={"weight": "sum"})

    components = [list(c) for c in simple.connected_components()]
    out["component"] = _stable_labels(components, n, ids)
    sizes = np.zeros(n)
    for c in components:
        sizes[c] = len(c)
    k = _plan(n, simple.ecount(), components, samples)
    large = [c for c in components if k and len(c) > k]
    small = sorted(i for c in components if not (k and len(c) > k) for i in c)
    betweenness = np.zeros(n)
    closeness = np.zeros(n)
    if small:
        sub = simple.induced_subgraph(small)
        betweenness[small] = sub.betweenness(directed=False)
        closeness[small] = sub.closeness(normalized=True)
    for number, members in enumerate(large):
        members = sorted(members)
        sub = simple.induced_subgraph(members)
        local = _sample_sources(list(range(len(members))), k, seed + number)
        betweenness[members] = np.asarray(sub.betweenness(directed=False, sources=local)) * len(members) / k
        dist = np.asarray(sub.distances(source=local))
        closeness[members] = _closeness_from_sources(dist, local, len(members))
    out["betweenness"], out["closeness"] = _normalise(betweenness, closeness, sizes, n)
    out["sampled_sources"] = np.array(k)

    ig.set_random_number_generator(random.Random(seed))
    try:
        communities = (
            simple.community_leiden(objective_function="modularity", weights="weight", n_iterations=LEIDEN_ITERATIONS)
            if simple.ecount()
            else None
        )
    finally:
        ig.set_random_number_generator(random)
    groups = [list(c) for c in communities] if communities is not None else [[i] for i in range(n)]
    out["community"] = _stable_labels(groups, n, ids)
    articulation = np.zeros(n, dtype=bool)
    articulation[simple.articulation_points()] = True
    out["articulation"] = articulation
    return out


def _closeness_from_sources(dist: np.ndarray, sources: list[int], r: int) -> np.ndarray:
    """(r-1) / estimated sum of distances, from a k x r distance matrix of one component.

    The sum of a node's distances to the r-1 others is estimated as (r-1) times its mean distance
    to the sampled sources other than itself (Eppstein and Wang's estimator).
    """
    totals = dist.sum(axis=0)
    counts = np.full(r, len(sources), dtype=float)
    counts[sources] -= 1
    with np.errstate(divide="ignore", invalid="ignore"):
        estimated = (r - 1) * totals / counts
        result = np.where(estimated > 0, (r - 1) / estimated, 0.0)
    return result


# --- networkx engine (reference) ----------------------------------------------------------------


def _networkx_metrics(rels: pd.DataFrame, ids: list[str], samples: int | None, seed: int) -> dict[str, np.ndarray]:
    n = len(ids)
    nodes = range(n)
    edges = list(zip(rels["s"].tolist(), rels["t"].tolist(), rels["w"].tolist(), strict=True))
    multi = nx.MultiGraph()
    multi.add_nodes_from(nodes)
    multi.add_weighted_edges_from(edges)
    arcs = nx.MultiDiGraph()
    arcs.add_nodes_from(nodes)
    arcs.add_weighted_edges_from(edges)
    arcs.add_weighted_edges_from((b, a, x) for (a, b, x), di in zip(edges, rels["d"], strict=True) if not di)
    simple = nx.Graph()
    simple.add_nodes_from(nodes)
    for a, b, x in edges:
        if a == b:
            continue
        if simple.has_edge(a, b):
            simple[a][b]["weight"] += x
        else:
            simple.add_edge(a, b, weight=x)

    def column(values: dict) -> np.ndarray:
        return np.array([values[i] for i in nodes])

    out: dict[str, np.ndarray] = {
        "degree": column(dict(multi.degree())),
        "in_degree": column(dict(arcs.in_degree())),
        "out_degree": column(dict(arcs.out_degree())),
        "weighted_degree": column(dict(multi.degree(weight="weight"))).astype(float),
        "pagerank": column(nx.pagerank(arcs, alpha=0.85, weight="weight", tol=1e-10, max_iter=1000))
        if n
        else np.zeros(0),
    }
    components = [sorted(c) for c in nx.connected_components(simple)]
    out["component"] = _stable_labels(components, n, ids)
    sizes = np.zeros(n)
    for c in components:
        sizes[c] = len(c)
    k = _plan(n, simple.number_of_edges(), components, samples)
    betweenness = np.zeros(n)
    closeness = np.zeros(n)
    for number, members in enumerate(c for c in components if k and len(c) > k):
        sub = simple.subgraph(members)
        local = _sample_sources(list(range(len(members))), k, seed + number)
        sources = [members[i] for i in local]
        b = nx.betweenness_centrality_subset(sub, sources, members, normalized=False)
        betweenness[members] = np.array([b[i] for i in members]) * len(members) / k
        position = {node: i for i, node in enumerate(members)}
        dist = np.zeros((k, len(members)))
        for row, src in enumerate(sources):
            for node, length in nx.single_source_shortest_path_length(sub, src).items():
                dist[row, position[node]] = length
        closeness[members] = _closeness_from_sources(dist, local, len(members))
    small = [i for c in components if not (k and len(c) > k) for i in c]
    if small:
        sub = simple.subgraph(small)
        b = nx.betweenness_centrality(sub, normalized=False)
        betweenness[small] = [b[i] for i in small]
        c = nx.closeness_centrality(sub, wf_improved=False)
        closeness[small] = [c[i] for i in small]
    out["betweenness"], out["closeness"] = _normalise(betweenness, closeness, sizes, n)
    out["sampled_sources"] = np.array(k)
    communities = nx.community.louvain_communities(simple, weight="weight", seed=seed)
    out["community"] = _stable_labels(communities, n, ids)
    articulation = np.zeros(n, dtype=bool)
    articulation[list(nx.articulation_points(simple))] = True
    out["articulation"] = articulation
    return out


def node_metrics(
    actors: pd.DataFrame,
    places: pd.DataFrame,
    relations: pd.DataFrame,
    *,
    on_date: date | None = None,
    engine: str = "igraph",
    samples: int | None = None,
    seed: int = SEED,
) -> pd.DataFrame:
    """Per-node metrics, indexed by node id (every actor and place, sorted by id).

    Columns: see :data:`METRIC_COLUMNS` and the module docstring for how directions, parallel
    relations and weights are treated. ``engine`` "igraph" is the fast path, "networkx" the
    reference. ``samples``: number of source nodes for betweenness/closeness in the components
    too large for an exact computation; None = exact when nodes x edges <= :data:`EXACT_BUDGET`,
    else ``EXACT_BUDGET / edges`` sources (at least :data:`MIN_SAMPLES`); 0 forces exact.
    """
    if engine not in ENGINES:
        msg = f"unknown engine {engine!r}; expected one of: {', '.join(ENGINES)}"
        raise InputError(msg)
    ids = _node_ids(actors, places)
    index = pd.Index(ids, name="id", dtype="object")
    rels = _known_relations(active_on(relations, on_date), index)
    compute = _igraph_metrics if engine == "igraph" else _networkx_metrics
    values = compute(rels, ids, samples, seed) if ids else {c: np.zeros(0) for c in METRIC_COLUMNS}
    frame = pd.DataFrame(index=index)
    for c in ("degree", "in_degree", "out_degree", "component", "community"):
        frame[c] = np.asarray(values[c], dtype="int64")
    for c in ("weighted_degree", "betweenness", "closeness", "pagerank"):
        frame[c] = np.asarray(values[c], dtype="float64")
    frame["isolate"] = frame["degree"].to_numpy() == 0
    frame["articulation"] = np.asarray(values["articulation"], dtype=bool)
    frame = frame[list(METRIC_COLUMNS)]
    frame.attrs["sampled_sources"] = int(values.get("sampled_sources", 0))
    return frame


def _codes(ends: pd.Series, index: pd.Index) -> np.ndarray:
    """Positions of ``ends`` in ``index`` (unique), -1 when absent; a categorical is looked up by its
    categories, not value by value."""
    if isinstance(ends.dtype, pd.CategoricalDtype):
        where = index.get_indexer(pd.Index(ends.cat.categories).astype(str))
        codes = ends.cat.codes.to_numpy()
        return np.where(codes >= 0, where[codes], -1).astype("int64")
    return index.get_indexer(pd.Index(ends).astype(str)).astype("int64")


def network_core(
    relations: pd.DataFrame, node_ids: Iterable[str], *, max_nodes: int
) -> tuple[frozenset[str], int, int]:
    """The network's core, in at most ``max_nodes`` nodes: ``(nodes, k, size of the k-core)``.

    The k-core is the largest group of nodes each linked to at least ``k`` others of the group
    (simple undirected graph: direction ignored, parallel relations merged, self-loops dropped).
    ``k`` is the smallest (k >= 1) whose core has at most ``max_nodes`` nodes. When even the
    innermost core is larger, its ``max_nodes`` nodes nearest its best-connected node (most
    neighbours in the core, then smallest id): a breadth-first walk from it, in the core, then the
    rest of the core by degree. No relation: ``(frozenset(), 0, 0)``.
    """
    import igraph as ig

    unique = pd.Index(list(node_ids) if not isinstance(node_ids, pd.Index) else node_ids).astype(str).unique()
    index = pd.Index(np.sort(unique.to_numpy(dtype=object)), dtype="object")
    ids = list(index)
    s, t = _codes(relations["source"], index), _codes(relations["target"], index)
    known = (s >= 0) & (t >= 0)
    graph = ig.Graph(n=len(ids), edges=np.column_stack([s[known], t[known]]).tolist())
    graph.simplify(multiple=True, loops=True)
    coreness = np.asarray(graph.coreness(), dtype="int64") if len(ids) else np.zeros(0, dtype="int64")
    top = int(coreness.max()) if len(coreness) else 0
    if top == 0:
        return frozenset(), 0, 0
    k = next((k for k in range(1, top + 1) if int((coreness >= k).sum()) <= max_nodes), top)
    members = np.flatnonzero(coreness >= k)
    if len(members) <= max_nodes:
        return frozenset(index[members]), k, len(members)
    core = graph.induced_subgraph(members.tolist())  # vertex i of core = members[i], ids still sorted
    degree = np.asarray(core.degree())
    by_degree = np.argsort(-degree, kind="stable")  # most neighbours first, ties by smallest id
    walk, _, _ = core.bfs(int(by_degree[0]))
    seen = set(walk)
    order = [*walk, *(int(v) for v in by_degree if int(v) not in seen)]
    return frozenset(index[members[order[:max_nodes]]]), k, len(members)


def territory_graph(
    relations: pd.DataFrame,
    node_territory: pd.Series,
    *,
    territories: pd.DataFrame | None = None,
    level: str | None = None,
) -> pd.DataFrame:
    """Relations aggregated between territories (see :func:`carto.analysis.flows.aggregate_flows`).

    With ``territories`` and ``level``, each node is first lifted to its ancestor at that level
    (e.g. flows between EPCIs). Columns: ``source_code``, ``target_code``, ``relations``,
    ``weight``, one count per relation kind.
    """
    if territories is not None and level is not None:
        lift = hierarchy.ancestors_at(territories, level)
        node_territory = node_territory.map(lift).fillna(node_territory)
    return flows.aggregate_flows(relations, node_territory)


def territory_nx_graph(flow_table: pd.DataFrame) -> nx.DiGraph:
    """A networkx DiGraph of a :func:`territory_graph` table (edge attributes = its columns)."""
    graph = nx.DiGraph()
    for row in flow_table.to_dict("records"):
        source, target = row.pop("source_code"), row.pop("target_code")
        graph.add_edge(source, target, **{str(k): v for k, v in row.items()})
    return graph


def ego_nodes(relations: pd.DataFrame, node_ids: str | Iterable[str], radius: int = 1) -> set[str]:
    """Ids of the nodes within ``radius`` relations (0 to 3) of ``node_ids``, themselves included.

    ``node_ids`` is one id or several (the explorer's selection). Direction is ignored (a referral
    links both services). Pure, over the relations frame.
    """
    if not 0 <= radius <= 3:
        msg = f"radius must be 0, 1, 2 or 3, not {radius}"
        raise InputError(msg)
    seeds = [node_ids] if isinstance(node_ids, str) else list(node_ids)
    source = relations["source"].astype(str)
    target = relations["target"].astype(str)
    reached = {str(n) for n in seeds}
    frontier = set(reached)
    for _ in range(radius):
        if not frontier:
            break
        step = set(target[source.isin(frontier)]) | set(source[target.isin(frontier)])
        frontier = step - reached
        reached |= frontier
    return reached


def ego_relations(relations: pd.DataFrame, node_ids: Iterable[str]) -> pd.DataFrame:
    """The relations whose two ends are both in ``node_ids``."""
    wanted = {str(i) for i in node_ids}
    keep = relations["source"].astype(str).isin(wanted) & relations["target"].astype(str).isin(wanted)
    return relations[keep.to_numpy()]

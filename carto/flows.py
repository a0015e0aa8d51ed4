"""Relations seen between territories: where each node sits, and flows aggregated by territory pair.

Shared by the explorer (aggregated flows when too many lines would be drawn) and the indicators
(relations inside a territory or crossing its border). Pure functions over frames.
"""

from __future__ import annotations

import pandas as pd

from carto.model import RELATION_KINDS


def node_territories(actors: pd.DataFrame, places: pd.DataFrame) -> pd.Series:
    """Territory code of every node (actor or place), indexed by node id."""
    parts = [
        frame.set_index("id")["territory_code"]
        for frame in (actors, places)
        if len(frame) and "territory_code" in frame.columns
    ]
    if not parts:
        return pd.Series([], dtype="object", name="territory_code")
    return pd.concat(parts).rename("territory_code")


def ancestors_at(territories: pd.DataFrame, level: str) -> pd.Series:
    """For each territory code, the code of its ancestor (or itself) at ``level``.

    Territories with no ancestor at that level map to themselves, so nothing is lost when a
    hierarchy is incomplete. Cycles in ``parent_code`` stop the walk instead of looping.
    """
    parent = territories.set_index("code")["parent_code"]
    levels = territories.set_index("code")["level"]
    result: dict[str, str] = {}
    for code in territories["code"]:
        seen: set[str] = set()
        current: str | None = code
        found = code
        while current is not None and current not in seen and current in levels.index:
            seen.add(current)
            if levels[current] == level:
                found = current
                break
            nxt = parent[current]
            current = None if pd.isna(nxt) else str(nxt)
        result[str(code)] = str(found)
    return pd.Series(result, name=f"{level}_code", dtype="object")


def relation_ends(relations: pd.DataFrame, node_territory: pd.Series) -> pd.DataFrame:
    """``relations`` with ``source_territory`` and ``target_territory`` columns added."""
    out = relations.copy()
    out["source_territory"] = out["source"].map(node_territory)
    out["target_territory"] = out["target"].map(node_territory)
    return out


def aggregate_flows(relations: pd.DataFrame, node_territory: pd.Series) -> pd.DataFrame:
    """Relations counted per pair of territories, with a breakdown by kind.

    Undirected relations are counted on the pair in code order (A–B and B–A are one flow);
    directed relations keep their direction. Relations with an end outside every territory
    are left out. Columns: ``source_code``, ``target_code``, ``relations``, ``weight`` and one
    count per relation kind; one row per pair, sorted by pair.
    """
    ends = relation_ends(relations, node_territory).dropna(subset=["source_territory", "target_territory"])
    source = ends["source_territory"].astype(str)
    target = ends["target_territory"].astype(str)
    directed = ends["directed"].fillna(False).astype(bool) if "directed" in ends else False
    swap = ~directed & (source > target)
    pairs = pd.DataFrame(
        {
            "source_code": source.where(~swap, target),
            "target_code": target.where(~swap, source),
            "kind": ends["kind"],
            "weight": pd.to_numeric(ends["weight"], errors="coerce").fillna(1.0) if "weight" in ends else 1.0,
        }
    )
    columns = ["source_code", "target_code", "relations", "weight", *RELATION_KINDS]
    if pairs.empty:
        return pd.DataFrame({c: pd.Series(dtype="object" if c.endswith("_code") else "int64") for c in columns})
    grouped = pairs.groupby(["source_code", "target_code"], sort=True)
    out = grouped.agg(relations=("kind", "size"), weight=("weight", "sum"))
    by_kind = pairs.pivot_table(
        index=["source_code", "target_code"], columns="kind", values="weight", aggfunc="size", fill_value=0
    )
    out = out.join(by_kind.reindex(columns=list(RELATION_KINDS), fill_value=0))
    return out.reset_index()[columns].astype({k: "int64" for k in ("relations", *RELATION_KINDS)})

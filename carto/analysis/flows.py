"""Relations seen between territories: where each node sits, and flows aggregated by territory pair.

Shared by the explorer (aggregated flows when too many lines would be drawn) and the indicators
(relations inside a territory or crossing its border). Pure functions over frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carto.analysis.hierarchy import ancestors_at
from carto.model import RELATION_KINDS, relation_weights

# The explorer reads ``flows.ancestors_at``; the walk itself lives in carto.analysis.hierarchy.
__all__ = ["aggregate_flows", "ancestors_at", "node_territories", "relation_ends", "territory_index",
           "territory_positions"]


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


def relation_ends(relations: pd.DataFrame, node_territory: pd.Series) -> pd.DataFrame:
    """``relations`` with ``source_territory`` and ``target_territory`` columns added."""
    out = relations.copy()
    out["source_territory"] = out["source"].map(node_territory)
    out["target_territory"] = out["target"].map(node_territory)
    return out


def territory_positions(node_territory: pd.Series) -> tuple[pd.Series, pd.Index]:
    """Each node's territory as a position among the returned codes (sorted), -1 when it has none."""
    positions, codes = pd.factorize(node_territory.to_numpy(dtype=object), sort=True)
    per_node = pd.Series(positions, index=node_territory.index)
    return per_node[~per_node.index.duplicated()], pd.Index(codes)


def territory_index(ids: pd.Series, per_node: pd.Series) -> np.ndarray:
    """The territory position (:func:`territory_positions`) of each id, -1 when it has none.

    Works on the ids' categories when ``ids`` is categorical (the explorer's relations are),
    so a million relations cost a lookup per node, not per relation.
    """
    categorical = ids if isinstance(ids.dtype, pd.CategoricalDtype) else ids.astype("category")
    per_category = per_node.reindex(categorical.cat.categories).fillna(-1).to_numpy(dtype=np.int64)
    category = categorical.cat.codes.to_numpy()
    return np.where(category >= 0, per_category[category], -1)


def aggregate_flows(relations: pd.DataFrame, node_territory: pd.Series) -> pd.DataFrame:
    """Relations counted per pair of territories, with a breakdown by kind.

    Undirected relations are counted on the pair in code order (A–B and B–A are one flow);
    directed relations keep their direction. Relations with an end outside every territory
    are left out. Columns: ``source_code``, ``target_code``, ``relations``, ``weight`` and one
    count per relation kind; one row per pair, sorted by pair.
    """
    per_node, codes = territory_positions(node_territory)
    source, target = (territory_index(relations[end], per_node) for end in ("source", "target"))
    known = (source >= 0) & (target >= 0)
    directed = (
        relations["directed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        if "directed" in relations
        else np.zeros(len(relations), dtype=bool)
    )
    swap = ~directed & (source > target)  # positions follow the codes' order
    first, second = np.where(swap, target, source)[known], np.where(swap, source, target)[known]
    weight = relation_weights(relations).to_numpy(dtype=float)[known]
    kind = pd.Categorical(relations["kind"].to_numpy(dtype=object)[known], categories=list(RELATION_KINDS)).codes
    pairs, row = np.unique(first.astype(np.int64) * max(len(codes), 1) + second, return_inverse=True)
    n_kinds = len(RELATION_KINDS)
    typed = kind >= 0
    by_kind = np.bincount(row[typed] * n_kinds + kind[typed], minlength=len(pairs) * n_kinds).reshape(-1, n_kinds)
    out = pd.DataFrame(
        {
            "source_code": codes.to_numpy(dtype=object)[pairs // max(len(codes), 1)],
            "target_code": codes.to_numpy(dtype=object)[pairs % max(len(codes), 1)],
            "relations": np.bincount(row, minlength=len(pairs)).astype("int64"),
            "weight": np.bincount(row, weights=weight, minlength=len(pairs)),
        }
    )
    for i, name in enumerate(RELATION_KINDS):
        out[name] = by_kind[:, i].astype("int64")
    return out

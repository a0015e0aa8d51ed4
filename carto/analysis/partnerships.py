"""Partnerships' life and fragility.

A partnership is a project with a life: negotiation of aims and contract → delivery → feedback
and review (the relation's ``stage``). It rests on its partners' personal, professional and
institutional dimensions: the *links it rests on* are every relation between its two partners
(the partnership itself and, say, a professional network link beside it). A partnership whose
links are all personal is **fragile**: it leaves with a person.

Frames in, frames out, indexed by relation id, actor id or territory code.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from carto.model import DIMENSIONS, STAGES

PARTNERSHIP_COLUMNS = ("source", "target", "stage", "scheme_id", "start", "dimensions", "fragile")


def _pair(relations: pd.DataFrame) -> pd.Series:
    low = relations[["source", "target"]].astype(str).min(axis=1)
    high = relations[["source", "target"]].astype(str).max(axis=1)
    return low + "\x1f" + high


def partnership_links(relations: pd.DataFrame) -> pd.DataFrame:
    """Each ``partnership`` relation (by relation id) with the dimensions of the links it rests on.

    ``dimensions``: the sorted tuple of the known dimensions of every relation between the same two
    nodes (either direction); ``fragile``: True when that tuple is exactly ``("personal",)``.
    """
    pairs = _pair(relations) if len(relations) else pd.Series(dtype=object)
    dims = relations["dimension"].where(relations["dimension"].isin(DIMENSIONS))
    found: dict[str, set[str]] = {}
    for pair, dim in zip(pairs, dims, strict=True):
        seen = found.setdefault(pair, set())
        if isinstance(dim, str):
            seen.add(dim)
    per_pair = {pair: tuple(sorted(dims_of)) for pair, dims_of in found.items()}
    chosen = relations["kind"] == "partnership"
    parts = relations[chosen]
    dimensions = pairs[chosen].map(per_pair) if len(parts) else pd.Series(dtype=object)
    out = pd.DataFrame(
        {
            "source": parts["source"].astype(str).to_numpy(),
            "target": parts["target"].astype(str).to_numpy(),
            "stage": parts["stage"].to_numpy(),
            "scheme_id": parts["scheme_id"].to_numpy(),
            "start": pd.to_datetime(parts["start"], errors="coerce").to_numpy(),
            "dimensions": dimensions.to_numpy(),
        },
        index=pd.Index(parts["id"].astype(str).to_numpy(), name="id"),
    )
    out["fragile"] = [d == ("personal",) for d in out["dimensions"]]
    return out[list(PARTNERSHIP_COLUMNS)]


def _by_territory(links: pd.DataFrame, node_territory: pd.Series) -> pd.DataFrame:
    """One row per (partnership, territory of one of its ends): a partnership crossing a border counts in both."""
    rows = [
        links.assign(territory=links[end].map(node_territory)) for end in ("source", "target")
    ]
    both = pd.concat(rows).reset_index()
    return both.dropna(subset=["territory"]).drop_duplicates(["id", "territory"])


def stages_by(links: pd.DataFrame, column: str, node_territory: pd.Series | None = None) -> pd.DataFrame:
    """Partnerships counted by stage (columns in life order, then ``none`` without a stage) per
    ``territory`` (with ``node_territory``: node id → code) or per ``scheme_id``."""
    frame = _by_territory(links, node_territory) if column == "territory" and node_territory is not None else (
        links.reset_index().dropna(subset=[column])
    )
    stage = frame["stage"].where(frame["stage"].isin(STAGES), "none")
    table = pd.crosstab(frame[column].astype(str), stage)
    table = table.reindex(columns=[*STAGES, "none"], fill_value=0)
    table.index.name = column
    table.columns.name = None
    return table.astype("int64")


def stage_counts(links: pd.DataFrame) -> dict[str, int]:
    """How many partnerships are at each stage, in life order, then ``none`` (no stage given)."""
    stage = links["stage"].where(links["stage"].isin(STAGES), "none").value_counts()
    return {s: int(stage.get(s, 0)) for s in (*STAGES, "none")}


def stuck_in_negotiation(links: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """Partnerships still in negotiation, with ``days`` since they started; longest first."""
    stuck = links[(links["stage"] == "negotiation") & links["start"].notna()].copy()
    stuck["days"] = (pd.Timestamp(today) - stuck["start"]).dt.days.astype("int64")
    return stuck.sort_values(["days", "source"], ascending=[False, True], kind="stable")


def fragility_by_territory(links: pd.DataFrame, node_territory: pd.Series) -> pd.DataFrame:
    """Per territory (node id → code in ``node_territory``): ``partnerships``, ``fragile`` and
    ``share_fragile``; a partnership counts in each territory one of its partners is in."""
    frame = _by_territory(links, node_territory)
    table = frame.groupby("territory").agg(partnerships=("id", "size"), fragile=("fragile", "sum"))
    table["fragile"] = table["fragile"].astype("int64")
    table["share_fragile"] = table["fragile"] / table["partnerships"]
    table.index.name = "code"
    return table


def fragile_in(links: pd.DataFrame, node_territory: pd.Series, code: str) -> pd.DataFrame:
    """The fragile partnerships with a partner in territory ``code``."""
    frame = _by_territory(links, node_territory)
    ids = frame.loc[(frame["territory"] == code) & frame["fragile"], "id"]
    return links.loc[sorted(set(ids))]


def actor_dimensions(relations: pd.DataFrame) -> pd.DataFrame:
    """Per node (by id): how many of its relations rest on each dimension (columns in
    :data:`carto.model.DIMENSIONS` order) and ``share_personal``."""
    ends = pd.concat(
        [relations[[end, "dimension"]].rename(columns={end: "id"}) for end in ("source", "target")]
    )
    ends = ends[ends["dimension"].isin(DIMENSIONS)]
    table = pd.crosstab(ends["id"].astype(str), ends["dimension"]).reindex(columns=list(DIMENSIONS), fill_value=0)
    table.columns.name = None
    table.index.name = "id"
    total = table.sum(axis=1)
    table["share_personal"] = table["personal"] / total.where(total > 0)
    return table

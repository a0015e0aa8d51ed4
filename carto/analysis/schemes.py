"""Schemes (*dispositifs*) and the partnerships they frame: partners, territories, who leads.

A scheme is attached to a territory (``territory_code``) and led by an actor (``lead``); its
partners are the ends of the relations attached to it. A territory *lacks* a kind of scheme that a
neighbour (a territory of the same level sharing a border) has.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd

from carto.analysis.activity import active_on
from carto.analysis.footprint import LAMBERT_93
from carto.analysis.hierarchy import ancestry

SCHEME_TABLE_COLUMNS = ("name", "kind", "territory_code", "lead", "lead_name", "relations", "partners", "territories")
TOUCH_M = 10.0  # borders closer than this are shared (boundaries drawn separately rarely meet exactly)


def scheme_table(schemes: pd.DataFrame, relations: pd.DataFrame, nodes: pd.DataFrame,
                 node_territory: pd.Series) -> pd.DataFrame:
    """Per scheme (by id): ``relations`` attached to it, ``partners`` (node ids, sorted), the
    ``territories`` its partners are in (codes from ``node_territory``, sorted) and its ``lead``
    with the lead's name (``None`` when no lead is known or the lead is not a node)."""
    names = nodes["name"].astype(str)
    rows = {}
    for row in schemes.itertuples(index=False):
        sid = str(row.id)
        attached = relations[relations["scheme_id"].astype(object) == sid]
        partners = sorted(set(attached["source"].astype(str)) | set(attached["target"].astype(str)))
        lead = getattr(row, "lead", None)
        lead = None if lead is None or pd.isna(lead) else str(lead)
        codes = node_territory.reindex(partners).dropna().astype(str)
        rows[sid] = {
            "name": str(row.name),
            "kind": row.kind,
            "territory_code": row.territory_code,
            "lead": lead,
            "lead_name": names.get(lead) if lead is not None else None,
            "relations": len(attached),
            "partners": tuple(partners),
            "territories": tuple(sorted(set(codes))),
        }
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(SCHEME_TABLE_COLUMNS))
    for column in ("lead", "lead_name"):  # None stays None (pandas would make a column of them NaN)
        table[column] = pd.Series([rows[i][column] for i in table.index], index=table.index, dtype=object)
    table.index.name = "id"
    return table


def neighbours(territories: gpd.GeoDataFrame, level: str) -> dict[str, list[str]]:
    """For each territory at ``level``, the codes of the territories at that level sharing a border."""
    at_level = territories[territories["level"] == level].to_crs(LAMBERT_93).reset_index(drop=True)
    codes = at_level["code"].astype(str).to_list()
    left, right = at_level.sindex.query(at_level.geometry.buffer(TOUCH_M), predicate="intersects")
    found: dict[str, list[str]] = {c: [] for c in codes}
    for i, j in zip(left, right, strict=True):
        if i != j:
            found[codes[i]].append(codes[j])
    return {c: sorted(set(v)) for c, v in found.items()}


def scheme_kinds_by_territory(schemes: pd.DataFrame, territories: pd.DataFrame, level: str) -> dict[str, set[str]]:
    """Kinds of scheme each territory at ``level`` has: attached to it, to a territory inside it,
    or to one containing it."""
    chains = ancestry(territories)
    at_level = set(territories.loc[territories["level"] == level, "code"].astype(str))
    # Each scheme's territory, with every territory above it, and every territory below it.
    above = chains.rename(columns={"code": "attached", "territory": "code"})
    below = chains.rename(columns={"territory": "attached"})
    related = pd.concat([above, below]).drop_duplicates()
    joined = schemes[["kind", "territory_code"]].astype(str).merge(related, left_on="territory_code",
                                                                    right_on="attached")
    found: dict[str, set[str]] = {c: set() for c in at_level}
    for code, kind in zip(joined["code"], joined["kind"], strict=True):
        if code in found:
            found[code].add(kind)
    return found


def missing_schemes(schemes: pd.DataFrame, territories: gpd.GeoDataFrame, *, level: str,
                    on_date: dt.date | None = None) -> pd.DataFrame:
    """Territories at ``level`` without a kind of scheme that one of their neighbours has:
    ``code``, ``kind``, ``neighbours`` (the codes of those that have it), sorted by code and kind.
    With ``on_date``, only the schemes running that day count."""
    running = active_on(schemes, on_date)
    kinds = scheme_kinds_by_territory(running, territories, level)
    rows = []
    for code, beside in neighbours(territories, level).items():
        for kind in sorted(set().union(*(kinds[b] for b in beside)) - kinds[code] if beside else set()):
            rows.append({"code": code, "kind": kind, "neighbours": tuple(b for b in beside if kind in kinds[b])})
    return pd.DataFrame(rows, columns=["code", "kind", "neighbours"]).sort_values(["code", "kind"], ignore_index=True)

"""The social space of one territory, gathered for the summary, its PDF and the command line.

From the datasets and the node metrics (communities), a :class:`SocialFacts`: how much of the
social space of the communities working there lies outside it and which territories it reaches;
where referrals from its CCAS go; its partnerships by stage, the fragile ones and the one stuck
longest in negotiation; its schemes and who leads them, the kinds of scheme its neighbours have and
it lacks; what changed in its relations since a year before. The words are carto.render's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import geopandas as gpd
import pandas as pd

from carto.analysis import changes, footprint, partnerships, pathways, schemes
from carto.analysis.hierarchy import descendants

YEAR = dt.timedelta(days=365)


@dataclass(frozen=True)
class NamedPair:
    """Two partners of a partnership, by name, and a number about it (days, or nothing)."""

    first: str
    second: str
    days: int | None = None


@dataclass(frozen=True)
class SchemeLine:
    """A scheme present in the territory, and who leads it (None when not known)."""

    name: str
    lead: str | None
    partners: int


@dataclass(frozen=True)
class SocialFacts:
    """Everything the summary says about one territory's social space."""

    code: str
    level: str
    groups: int
    share_outside: float | None
    reached: tuple[str, ...]  # names of the other territories those groups reach
    ccas: int
    ccas_reach: tuple[float, ...]  # mean number of services a CCAS reaches within 1, 2, 3 referrals
    dead_ends: int
    stages: dict[str, int]
    partnerships: int
    fragile: tuple[NamedPair, ...]
    stuck: NamedPair | None
    schemes: tuple[SchemeLine, ...]
    missing_kinds: tuple[str, ...]
    since: dt.date
    until: dt.date
    changes: dict[str, int]


def nodes_in_territory(nodes: pd.DataFrame, territories: pd.DataFrame, code: str) -> set[str]:
    """Ids of the nodes (``territory_code`` column, indexed by id) in territory ``code`` or inside it."""
    inside = descendants(territories, code)
    return set(nodes.index[nodes["territory_code"].isin(inside)].astype(str))


def touching(frame: pd.DataFrame, local: set[str], ends: tuple[str, str] = ("source", "target")) -> pd.DataFrame:
    """Rows of ``frame`` (relations, partnerships, a diff with ``ends=("a", "b")``) with an end in ``local``."""
    return frame[frame[ends[0]].isin(local) | frame[ends[1]].isin(local)]


def territory_social(
    code: str,
    territories: gpd.GeoDataFrame,
    actors: pd.DataFrame,
    places: pd.DataFrame,
    relations: pd.DataFrame,
    scheme_rows: pd.DataFrame,
    metrics: pd.DataFrame,
    *,
    today: dt.date | None = None,
    buffer_m: float = footprint.BUFFER_M,
) -> SocialFacts:
    """Gather the social-space facts of territory ``code`` (see the module docstring).

    Footprints and neighbours are compared at the territory's own level; ``metrics`` are
    :func:`carto.analysis.network.node_metrics` (its ``community`` column).
    """
    day = today or dt.date.today()
    row = territories[territories["code"] == code].iloc[0]
    level = str(row["level"])
    names = dict(zip(territories["code"].astype(str), territories["name"].astype(str), strict=True))
    nodes = footprint.node_table(actors, places)
    inside = descendants(territories, code)
    local = nodes_in_territory(nodes, territories, code)

    groups = footprint.community_groups(metrics)
    prints = footprint.group_footprints(groups, nodes, territories, level=level, buffer_m=buffer_m)
    outreach = footprint.territory_outreach(prints, territories, groups, nodes, level=level, codes=[code])
    reach_row = outreach.loc[code].to_dict() if code in outreach.index else None
    share = None if reach_row is None else reach_row["share_outside"]

    graph = pathways.referral_graph(pathways.referrals(relations))
    local_nodes = nodes.loc[sorted(local)]
    reach = pathways.reach_from_types(graph, local_nodes)
    ends = [n for n in pathways.dead_ends(graph) if n in local]

    links = partnerships.partnership_links(relations)  # every partnership, whatever its dates
    mine = touching(links, local)
    label = nodes["name"].astype(str)
    fragile = tuple(NamedPair(label[s], label[t]) for s, t in zip(mine.loc[mine["fragile"], "source"],
                                                                  mine.loc[mine["fragile"], "target"], strict=True))
    stuck_rows = partnerships.stuck_in_negotiation(mine, day)
    stuck = None
    if len(stuck_rows):
        first = stuck_rows.iloc[0]
        stuck = NamedPair(label[first["source"]], label[first["target"]], int(first["days"]))

    in_code = pd.Series({n: code for n in local}, dtype=object)
    table = schemes.scheme_table(scheme_rows, relations, nodes, in_code)
    present = table[(table["territories"].map(len) > 0) | table["territory_code"].isin(inside)]
    lines = tuple(
        SchemeLine(str(name), None if lead is None else str(lead), len(set(partners) & local))
        for name, lead, partners in zip(present["name"], present["lead_name"], present["partners"], strict=True)
    )
    gaps = schemes.missing_schemes(scheme_rows, territories, level=level, on_date=day)

    last = changes.latest_day(relations, day)
    diff = changes.compare_dates(relations, last - YEAR, last)
    diff = touching(diff, local, ("a", "b"))
    return SocialFacts(
        code=code,
        level=level,
        groups=int(reach_row["groups"]) if reach_row is not None else 0,
        share_outside=None if reach_row is None or pd.isna(share) else float(share),
        reached=tuple(names.get(c, c) for c in (reach_row["reached"] if reach_row is not None else ())),
        ccas=len(reach),
        ccas_reach=tuple(float(reach[k].mean()) for k in reach.columns) if len(reach) else (),
        dead_ends=len(ends),
        stages=partnerships.stage_counts(mine),
        partnerships=len(mine),
        fragile=fragile,
        stuck=stuck,
        schemes=lines,
        missing_kinds=tuple(gaps.loc[gaps["code"] == code, "kind"]),
        since=last - YEAR,
        until=last,
        changes=changes.change_counts(diff),
    )


def facts_record(facts: SocialFacts) -> dict[str, object]:
    """The facts as plain JSON values (dates as ISO text), for the command line."""
    record = asdict(facts)
    record["since"], record["until"] = facts.since.isoformat(), facts.until.isoformat()
    return record

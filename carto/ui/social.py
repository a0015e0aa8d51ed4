"""The social-space computations the pages cache, and the summary's social section.

Keyed by the data version (``db`` is a cache key only), like :mod:`carto.ui.cache`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from carto import i18n, ui
from carto.analysis import changes, footprint, network, partnerships, pathways
from carto.analysis.social import SocialFacts, territory_social
from carto.model import DETAIL_LEVELS, TERRITORY_LEVELS
from carto.render import social as social_draw
from carto.render import social_text
from carto.ui.state import SocialState

YEAR = dt.timedelta(days=365)
GROUP_KINDS = ("community", "scheme", "place")


@dataclass(frozen=True)
class SocialBase:
    """What every part of the social-space page reads, computed once per data version."""

    territories: gpd.GeoDataFrame
    nodes: gpd.GeoDataFrame
    relations: pd.DataFrame
    schemes: pd.DataFrame
    metrics: pd.DataFrame
    referrals: pd.DataFrame
    graph: nx.DiGraph
    links: pd.DataFrame

    @property
    def names(self) -> pd.Series:
        return self.nodes["name"].astype(str)

    def territory_names(self) -> dict[str, str]:
        return dict(zip(self.territories["code"].astype(str), self.territories["name"].astype(str), strict=True))

    def territory_choices(self) -> list[str]:
        """Codes, broadest level first, then by name."""
        order = {level: i for i, level in enumerate(TERRITORY_LEVELS)}
        rows = sorted(zip(self.territories["level"], self.territories["name"].astype(str),
                          self.territories["code"].astype(str), strict=True),
                      key=lambda r: (order.get(r[0], len(order)), r[1], r[2]))
        return [code for _, _, code in rows]

    def levels(self) -> list[str]:
        """Levels to compare footprints with, finest first, among those the data has."""
        present = set(self.territories["level"])
        return [level for level in DETAIL_LEVELS if level in present]


@st.cache_resource(max_entries=2, show_spinner=False)
def social_base(version: int, db: str) -> SocialBase:
    del db  # a cache key
    t, a, p, r, s = (ui.read(n, version) for n in ("territories", "actors", "places", "relations", "schemes"))
    referral_rows = pathways.referrals(r)
    return SocialBase(
        territories=t,
        nodes=footprint.node_table(a, p),
        relations=r,
        schemes=s,
        metrics=network.node_metrics(a, p, r),
        referrals=referral_rows,
        graph=pathways.referral_graph(referral_rows),
        links=partnerships.partnership_links(r),
    )


def groups_of(base: SocialBase, kind: str) -> pd.Series:
    """Node id → group label, for communities or schemes."""
    if kind == "scheme":
        return footprint.scheme_groups(base.relations, base.schemes)
    return footprint.community_groups(base.metrics)


@st.cache_resource(max_entries=8, show_spinner=False)
def footprints(version: int, db: str, kind: str, level: str, buffer_m: float) -> gpd.GeoDataFrame:
    """Every community's or scheme's footprint compared with the territories at ``level``."""
    base = social_base(version, db)
    return footprint.group_footprints(groups_of(base, kind), base.nodes, base.territories, level=level,
                                      buffer_m=buffer_m)


@st.cache_resource(max_entries=16, show_spinner=False)
def territory_facts(version: int, db: str, code: str, buffer_m: float, today: dt.date) -> SocialFacts:
    """The social-space facts of one territory (the summary's section and its PDF)."""
    base = social_base(version, db)
    t, a, p = base.territories, ui.read("actors", version), ui.read("places", version)
    return territory_social(code, t, a, p, base.relations, base.schemes, base.metrics, today=today,
                            buffer_m=buffer_m)


def summary_section(version: int, db: str, code: str, name: str, lang: str) -> None:
    """The summary page's social-space part: sentences in plain words, lists of names as text."""
    facts = territory_facts(version, db, code, footprint.BUFFER_M, dt.date.today())
    with st.container(key=SocialState.SUMMARY):
        st.subheader(ui.tr("social.summary.heading"))
        for heading, sentences, items in social_text.summary_sections(facts, name, lang):
            st.markdown(f"**{ui.md(heading)}**")
            st.markdown("\n".join(f"- {ui.md(line)}" for line in sentences))
            if items:
                with st.expander(f"{ui.md(heading)} ({len(items)})"):
                    st.markdown("\n".join(f"- {ui.md(item)}" for item in items[:50]))


def group_choices(base: SocialBase, kind: str, prints: gpd.GeoDataFrame, lang: str) -> dict[str, str]:
    """Group id → label, in the order the picker offers them (largest communities first)."""
    if kind == "place":
        places = base.nodes[base.nodes["type"] == "place"]
        return dict(sorted(zip(places.index.astype(str), places["name"].astype(str), strict=True),
                           key=lambda kv: (kv[1], kv[0])))
    if kind == "scheme":
        return {str(i): str(n) for i, n in zip(base.schemes["id"], base.schemes["name"], strict=True)}
    ranked = prints.sort_values(["nodes"], ascending=False, kind="stable")
    return {str(g): i18n.t("social.community", lang, n=str(g), count=int(n)) for g, n in ranked["nodes"].items()}


def group_footprint(
    base: SocialBase, kind: str, group: str, prints: gpd.GeoDataFrame, *, level: str, buffer_m: float
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The chosen group's footprint (one row, or none) and its node ids."""
    if kind == "place":
        members = footprint.place_group(base.relations, group)
        one = footprint.group_footprints(footprint.as_groups(members, group), base.nodes, base.territories,
                                         level=level, buffer_m=buffer_m)
        return one, members
    groups = groups_of(base, kind)
    members = sorted({str(i) for i, g in zip(groups.index, groups.astype(str), strict=True) if g == group})
    return prints[prints.index.astype(str) == group], members


def one_date(value: object) -> dt.date:
    """A date input's value as one date (a range keeps its first day; nothing chosen is today)."""
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    return value if isinstance(value, dt.date) else dt.date.today()


def referral_starts(base: SocialBase, lang: str) -> dict[str, str]:
    """Actors that refer cases, CCAS first, then by how many referrals they send: id → ``Name (type)``."""
    senders = base.referrals["source"].value_counts()
    types = base.nodes["type"].astype(str)
    ordered = sorted(senders.index, key=lambda n: (types.get(n) != "ccas", -senders[n], n))
    return {str(n): f"{base.names.get(n, n)} ({i18n.label(types.get(n), lang)})" for n in ordered}


@st.cache_resource(max_entries=4, show_spinner=False)
def network_by_year(version: int, db: str, lang: str) -> go.Figure | None:
    """The year-by-year figure (a frame per year; built once per data version and language)."""
    base = social_base(version, db)
    years = changes.years_of(base.relations, changes.latest_day(base.relations, dt.date.today()))
    if not years:
        return None
    return social_draw.network_by_year(base.nodes, changes.running_each_year(base.relations, years), lang)


def node_territories(base: SocialBase, level: str) -> pd.Series:
    """Each located node's territory at ``level`` (the schemes' territories on the page)."""
    return footprint.node_territories_at(base.nodes, base.territories, level).dropna()

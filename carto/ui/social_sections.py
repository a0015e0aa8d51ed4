"""The lower sections of the social-space page (partnerships, schemes, change over time), drawn for one
territory; the page keeps the group and referral sections, which hold its choices."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import streamlit as st
from streamlit_folium import st_folium

from carto import i18n, ui
from carto.analysis import changes, partnerships, schemes
from carto.analysis.social import touching
from carto.formatting import format_date
from carto.render import social as draw
from carto.render import social_text
from carto.render.netview import plotly_config
from carto.ui import social
from carto.ui.state import SocialState as keys


def partnerships_section(base: social.SocialBase, local: set[str], lang: str) -> None:
    """Stages, fragile partnerships and those stuck in negotiation among the territory's nodes."""
    with st.container(key=keys.PARTNERSHIPS):
        st.header(ui.tr("social.section.partnerships"))
        mine = touching(base.links, local)
        st.markdown(ui.md(social_text.stages_sentence(partnerships.stage_counts(mine), lang)))
        st.markdown(f"**{ui.md(social_text.fragile_sentence(int(mine['fragile'].sum()), len(mine), lang))}**")
        left, right = st.columns(2)
        left.caption(ui.tr("social.partnerships.fragile_list"))
        left.dataframe(draw.pairs_table(mine[mine["fragile"]], base.names, lang), hide_index=True)
        right.caption(ui.tr("social.partnerships.stuck_list"))
        stuck = partnerships.stuck_in_negotiation(mine, dt.date.today())
        right.dataframe(draw.pairs_table(stuck, base.names, lang, days=True), hide_index=True)
        st.caption(ui.tr("social.partnerships.by_scheme"))
        st.dataframe(draw.stages_table(partnerships.stages_by(mine, "scheme_id"), base.schemes, lang))


def schemes_section(base: social.SocialBase, code: str, names: dict[str, str], lang: str) -> None:
    """The kinds of scheme the territory's neighbours have and it lacks, and every scheme's partners."""
    with st.container(key=keys.SCHEMES):
        st.header(ui.tr("social.section.schemes"))
        level_of = str(base.territories.set_index("code").at[code, "level"])
        gaps = schemes.missing_schemes(base.schemes, base.territories, level=level_of, on_date=dt.date.today())
        missing = list(gaps.loc[gaps["code"] == code, "kind"])
        st.markdown(f"**{ui.md(social_text.missing_sentence(missing, lang))}**")
        table = schemes.scheme_table(base.schemes, base.relations, base.nodes, social.node_territories(base, level_of))
        st.dataframe(draw.schemes_table(table, names, lang), hide_index=True)
        st.caption(ui.tr("social.schemes.pick"))


def changes_section(
    base: social.SocialBase, local: set[str], finest: gpd.GeoDataFrame, version: int, db: str, lang: str, tiles: str
) -> None:
    """What changed among the territory's relations between two dates, and the network year by year."""
    with st.container(key=keys.CHANGES):
        st.header(ui.tr("social.section.changes"))
        a, b = st.columns(2)
        last = changes.latest_day(base.relations, dt.date.today())
        before = social.one_date(a.date_input(ui.tr("social.changes.before"), last - social.YEAR, key=keys.BEFORE))
        after = social.one_date(b.date_input(ui.tr("social.changes.after"), last, key=keys.AFTER))
        diff = touching(changes.compare_dates(base.relations, before, after), local, ("a", "b"))
        st.markdown(f"**{ui.md(social_text.changes_sentence(changes.change_counts(diff), before, after, lang))}**")
        left, right = st.columns([2, 3])
        on_before, on_after = (i18n.t("social.changes.on", lang, date=format_date(d, lang)) for d in (before, after))
        kinds = changes.kinds_on_two_dates(touching(base.relations, local), before, after)
        left.dataframe(draw.kinds_table(kinds, on_before, on_after, lang), hide_index=True)
        right.dataframe(draw.changes_table(diff[diff["change"] != "same"], base.names, lang), hide_index=True)
        if len(diff):
            st_folium(draw.change_map(finest, base.nodes, changes.node_changes(diff), lang, tiles=tiles), height=420,
                      use_container_width=True, returned_objects=[], key=keys.CHANGE_MAP)
            st.caption(ui.tr("social.changes.network"))
            st.plotly_chart(draw.change_network(base.nodes, diff, lang), key=keys.CHANGE_NETWORK,
                            config=plotly_config(lang))
        yearly = social.network_by_year(version, db, lang)
        if yearly is not None:
            st.caption(ui.tr("social.changes.years"))
            st.plotly_chart(yearly, key=keys.YEARS)

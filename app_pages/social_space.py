"""Social space for planners: a group's space against the borders, referral pathways, partnerships'
life and fragility, schemes, and what changed between two dates."""

from __future__ import annotations

import datetime as dt

import streamlit as st
from streamlit_folium import st_folium

from carto import i18n, store, ui
from carto.analysis import pathways
from carto.analysis.social import nodes_in_territory
from carto.render import offline, social_text
from carto.render import social as draw
from carto.ui import social
from carto.ui import social_sections as sections
from carto.ui.state import SocialState as keys

lang, version, db = ui.language(), ui.data_version(), store.default_db()
st.title(ui.tr("social.title"))
st.caption(ui.tr("social.intro"))
ui.warn_node_id_clashes(version)
with st.spinner(ui.tr("social.computing")):
    base = social.social_base(version, db)
if base.territories.empty or base.nodes.empty:
    st.info(ui.tr("social.empty"))
    st.stop()
names, where = base.territory_names(), base.territory_names().__getitem__
codes = base.territory_choices()
code = str(st.sidebar.selectbox(ui.tr("social.sidebar.territory"), codes, format_func=where, key=keys.TERRITORY))
buffer_km = st.sidebar.slider(ui.tr("social.sidebar.buffer"), 0.5, 5.0, 1.0, 0.5, format="%.1f km", key=keys.BUFFER)
tiles, finest = offline.default_tiles(), base.territories[base.territories["level"] == base.levels()[0]]

with st.container(key=keys.SPACE):
    st.header(ui.tr("social.section.space"))
    a, b, c = st.columns(3)
    kind = str(a.radio(ui.tr("social.space.group_kind"), social.GROUP_KINDS, key=keys.GROUP_KIND,
                       format_func=lambda k: ui.tr(f"social.group_kind.{k}")))
    levels = {lv: i18n.label(lv, lang) for lv in base.levels()}
    level = str(c.selectbox(ui.tr("social.space.level"), list(levels), key=keys.LEVEL, format_func=levels.__getitem__,
                            index=list(levels).index("epci") if "epci" in levels else 0))
    prints = social.footprints(version, db, "scheme" if kind == "scheme" else "community", level, buffer_km * 1000)
    options = social.group_choices(base, kind, prints, lang)
    group = b.selectbox(ui.tr("social.space.group"), list(options), format_func=options.__getitem__, key=keys.GROUP)
    one, members = social.group_footprint(base, kind, str(group), prints, level=level, buffer_m=buffer_km * 1000)
    if one.empty:
        st.info(ui.tr("social.space.none"))
    else:
        row = one.iloc[0]
        with st.container(key=keys.SPACE_SENTENCE):
            st.markdown(f"**{ui.md(social_text.footprint_sentence(row, names.get(row['home'], '—'), lang))}**")
            st.markdown(ui.md(social_text.reached_sentence([names.get(r, r) for r in row["reached"]], lang)))
        located = base.nodes.loc[[m for m in members if m in base.nodes.index]]
        shapes = base.territories[base.territories["level"] == level]
        st_folium(draw.footprint_map(shapes, one, located, lang, home=row["home"], tiles=tiles), height=460,
                  use_container_width=True, returned_objects=[], key=keys.SPACE_MAP)
    facts = social.territory_facts(version, db, code, buffer_km * 1000, dt.date.today())
    st.markdown(ui.md(social_text.outreach_sentence(facts, names[code], lang)))  # the chosen territory's groups
    if kind != "place" and len(prints):
        with st.expander(ui.tr("social.footprints.all")):
            st.dataframe(draw.footprints_table(prints, options, names, lang), hide_index=True)

with st.container(key=keys.REFERRALS):
    st.header(ui.tr("social.section.referrals"))
    starts = social.referral_starts(base, lang)
    if not starts:
        st.info(ui.tr("social.referral.none"))
    else:
        a, b = st.columns([3, 1])
        start = str(a.selectbox(ui.tr("social.referral.from"), list(starts), key=keys.REFERRAL_FROM,
                                format_func=starts.__getitem__))
        steps = int(b.slider(ui.tr("social.referral.steps"), 1, 3, 3, key=keys.STEPS))
        going, coming = pathways.flows_of(base.graph, start)
        reach = pathways.reach_by_steps(base.graph, start).to_list()
        st.markdown(ui.md(social_text.flows_sentence(base.names.get(start, start), len(going), len(coming), lang)))
        st.markdown(f"**{ui.md(social_text.reach_sentence(reach, lang))}**")
        reached = pathways.reached_within(base.graph, start, steps)
        edges = pathways.pathway_edges(base.graph, reached, start)
        st_folium(draw.pathway_map(finest, edges, base.nodes, start, lang, tiles=tiles), height=420,
                  use_container_width=True, returned_objects=[], key=keys.PATH_MAP)
        ends = pathways.dead_ends(base.graph)
        st.markdown(ui.md(social_text.dead_ends_sentence(len(ends), lang)))
        st.caption(ui.tr("social.referral.sankey"))
        st.plotly_chart(draw.referral_sankey(pathways.type_flows(base.referrals, base.nodes), lang), key=keys.SANKEY)
        loops = pathways.loops(base.graph)
        st.markdown(ui.md(social_text.loops_sentence(len(loops), lang)))
        with st.expander(ui.tr("social.referral.chains")):
            found = pathways.chains(base.graph, start, steps) + loops
            st.markdown("\n".join(f"- {ui.md(line)}" for line in draw.chain_lines(found, base.names)[:100]))
        with st.expander(ui.tr("social.referral.dead_end_list")):
            st.dataframe(draw.nodes_table(base.nodes.loc[ends], lang), hide_index=True)

local = nodes_in_territory(base.nodes, base.territories, code)
sections.partnerships_section(base, local, lang)
sections.schemes_section(base, code, names, lang)
sections.changes_section(base, local, finest, version, db, lang, tiles)

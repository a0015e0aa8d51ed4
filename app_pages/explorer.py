"""Explorer (default page): the map and the network, linked by one selection, shareable by URL."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from carto import formatting, store, ui
from carto.analysis import scene as view
from carto.analysis import selection as sel
from carto.render import explorer, netview
from carto.ui import cache
from carto.ui import explorer as explorer_ui
from carto.ui.state import MAP_RETURNS, ExplorerState

tr, lang, version, db, state = ui.tr, ui.language(), ui.data_version(), store.default_db(), ExplorerState()
choices = cache.explorer_choices(version, db)
names, scheme_names = choices.territory_names, choices.scheme_names
state.open(st.query_params.to_dict(), cache.explorer_base(version, db).territories, set(scheme_names))

tiles, word = explorer_ui.sidebar_filters(state, choices, lang), ui.words(lang)

filters, chosen = state.filters(), state.selection()
key = (version, db, view.effective_filters(filters, chosen))
scene, plan = cache.explorer_scene(*key), cache.explorer_map_plan(*key)
focused = view.focus(scene, chosen, leaving=bool(st.session_state.get(state.LEAVING)))
st.query_params.from_dict(state.query_params(filters, chosen))

st.title(tr("map.title"))
ui.warn_node_id_clashes(version)
with st.container(key=state.FIGURES):
    for col, (name, count) in zip(st.columns(4), view.scene_counts(scene).items(), strict=True):
        col.metric(tr(f"dataset.{name}"), formatting.format_number(count, lang))
if reason := view.why_no_relation(scene, choices.dates):
    st.container(key=state.EMPTY).warning(explorer.empty_note(reason, filters.on_date, choices.dates, lang))
left, right = st.columns([1, 1])
with left:
    indicator = st.selectbox(tr("explorer.map.indicator"), [None, *view.INDICATORS], key=state.INDICATOR,
                             format_func=lambda v: word(f"explorer.indicator.{v}" if v else
                                                      "explorer.map.indicator.none"))
    space = explorer_ui.selection_space(scene, focused, state)
    fmap = explorer.explorer_map(plan, focused, lang, tiles=tiles, footprint=space,
                                 indicator=view.territory_indicator(scene, indicator) if indicator else None,
                                 indicator_label=tr(f"explorer.indicator.{indicator}") if indicator else None)
    returned = st_folium(fmap, height=600, use_container_width=True, key=state.MAP, render=False,
                         returned_objects=list(MAP_RETURNS))
    with st.container(key=state.MAP_NOTES):
        for note in explorer.map_notes(plan, lang, focused):
            st.caption(note)
        if focused.area:
            st.toggle(tr("explorer.map.leaving"), key=state.LEAVING)
        explorer_ui.space_switch(space, names, state, lang)
    if cache.sample_in_sources(version, db):
        st.caption(tr("map.boundaries_note"))
with right:
    c1, c2, c3, c4 = st.columns(4)
    layout = c1.selectbox(tr("explorer.network.layout"), netview.LAYOUTS, key=state.LAYOUT,
                          format_func=lambda v: word(f"explorer.network.layout.{v}"))
    colour_by = c2.selectbox(tr("explorer.network.colour"), netview.COLOUR_BY, key=state.COLOUR,
                             format_func=lambda v: word(f"explorer.network.colour.{v}"))
    size_by = c3.selectbox(tr("explorer.network.size"), netview.SIZE_BY, key=state.SIZE,
                           format_func=lambda v: word(f"explorer.network.size.{v}"))
    metrics = cache.explorer_network_metrics(*key, colour_by=colour_by, size_by=size_by)
    c4.select_slider(tr("explorer.network.radius"), [1, 2, 3], key=state.RADIUS)
    event, note = None, tr("explorer.network.pending")
    if ui.after_first_run(state.NETWORK):
        sub = view.network_subgraph(scene, focused, core=None if focused.highlight else cache.explorer_core(*key))
        fig = explorer.explorer_figure(sub, metrics, cache.explorer_positions(*key, tuple(sub.nodes.index), layout),
                                       focused, lang, layout=layout, colour_by=colour_by, size_by=size_by)
        event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"),
                                key=state.NETWORK, width="stretch",
                                config={**netview.plotly_config(lang), "displayModeBar": True})
        note = explorer.network_note(sub, lang)
    st.container(key=state.NETWORK_NOTE).caption(note)

explorer_ui.details_panel(scene, focused, chosen, names, state, lang)
if not chosen.empty and st.button(tr("explorer.details.clear"), key=state.CLEAR) and state.select(sel.clear(chosen)):
    st.rerun()
st.caption(tr("explorer.share"))

if state.apply_events(returned, event, scene.nodes, names):
    st.rerun()

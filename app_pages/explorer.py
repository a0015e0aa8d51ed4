"""Explorer (default page): the map and the network, linked by one selection, shareable by URL."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from carto import formatting, i18n, store, ui
from carto.analysis import scene as view
from carto.analysis import selection as sel
from carto.analysis.filters import FORMAL_CHOICES, POSITIONS
from carto.model import ACTOR_TYPES, DIMENSIONS, RELATION_KINDS, SECTORS
from carto.render import explorer, netview, offline
from carto.ui import cache
from carto.ui.edits import explorer_shortcuts
from carto.ui.state import MAP_RETURNS, ExplorerState, SummaryState

tr, lang, version, db, state = ui.tr, ui.language(), ui.data_version(), str(store.default_db_path()), ExplorerState()
choices = cache.explorer_choices(version, db)
names, scheme_names = choices.territory_names, choices.scheme_names
state.open(st.query_params.to_dict(), cache.explorer_base(version, db).territories, set(scheme_names))

side, label = st.sidebar, (lambda v: i18n.label(v, lang))
side.header(tr("explorer.filters"))
level = side.selectbox(tr("explorer.filter.level"), choices.levels, format_func=label, key=state.LEVEL)
codes = choices.territories_at(level)
state.keep_territory_among(codes)
side.selectbox(tr("explorer.filter.territory"), [None, *codes], key=state.TERRITORY,
               placeholder=tr("explorer.filter.all_territories"),
               format_func=lambda c: f"{names[c]} ({c})" if c else tr("explorer.filter.all_territories"))
for widget, name, options in ((state.TYPES, "types", ACTOR_TYPES), (state.SECTORS, "sectors", SECTORS),
                              (state.KINDS, "kinds", RELATION_KINDS), (state.DIMS, "dimensions", DIMENSIONS)):
    side.multiselect(tr(f"explorer.filter.{name}"), options, key=widget, format_func=label,
                     placeholder=tr("explorer.filter.any"))
side.radio(tr("explorer.filter.formal"), FORMAL_CHOICES, key=state.FORMAL, horizontal=True,
           format_func=lambda v: tr(f"explorer.filter.formal.{v}"))
side.multiselect(tr("explorer.filter.schemes"), list(scheme_names), key=state.SCHEMES,
                 placeholder=tr("explorer.filter.any"), format_func=lambda s: scheme_names[s])
side.date_input(tr("explorer.filter.date"), value=None, key=state.DATE)
tiles = side.selectbox(tr("map.tiles"), offline.TILE_CHOICES, key=state.TILES,
                       format_func=lambda n: tr(f"map.tiles.{n}"),
                       index=offline.TILE_CHOICES.index(offline.default_tiles()))

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
left, right = st.columns([1, 1])
with left:
    indicator = st.selectbox(tr("explorer.map.indicator"), [None, *view.INDICATORS], key=state.INDICATOR,
                             format_func=lambda v: tr(f"explorer.indicator.{v}" if v else
                                                      "explorer.map.indicator.none"))
    fmap = explorer.explorer_map(plan, focused, lang, tiles=tiles,
                                 indicator=view.territory_indicator(scene, indicator) if indicator else None,
                                 indicator_label=tr(f"explorer.indicator.{indicator}") if indicator else None)
    returned = st_folium(fmap, height=600, use_container_width=True, key=state.MAP, render=False,
                         returned_objects=list(MAP_RETURNS))
    with st.container(key=state.MAP_NOTES):
        for note in explorer.map_notes(plan, lang, focused):
            st.caption(note)
        if focused.area:
            st.toggle(tr("explorer.map.leaving"), key=state.LEAVING)
    if cache.sample_in_sources(version, db):
        st.caption(tr("map.boundaries_note"))
with right:
    c1, c2, c3, c4 = st.columns(4)
    layout = c1.selectbox(tr("explorer.network.layout"), netview.LAYOUTS, key=state.LAYOUT,
                          format_func=lambda v: tr(f"explorer.network.layout.{v}"))
    colour_by = c2.selectbox(tr("explorer.network.colour"), netview.COLOUR_BY, key=state.COLOUR,
                             format_func=lambda v: tr(f"explorer.network.colour.{v}"))
    size_by = c3.selectbox(tr("explorer.network.size"), netview.SIZE_BY, key=state.SIZE,
                           format_func=lambda v: tr(f"explorer.network.size.{v}"))
    metrics = cache.explorer_network_metrics(*key, colour_by=colour_by, size_by=size_by)
    c4.select_slider(tr("explorer.network.radius"), [1, 2, 3], key=state.RADIUS)
    event, note = None, tr("explorer.network.pending")
    if ui.after_first_run(state.NETWORK):
        sub = view.network_subgraph(scene, focused)
        fig = explorer.explorer_figure(sub, metrics, cache.explorer_positions(*key, tuple(sub.nodes.index), layout),
                                       focused, lang, layout=layout, colour_by=colour_by, size_by=size_by)
        event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"),
                                key=state.NETWORK, width="stretch", config={"displayModeBar": True})
        note = explorer.network_note(sub, lang)
    st.container(key=state.NETWORK_NOTE).caption(note)

st.subheader(tr("explorer.details"))
with st.container(key=state.DETAILS):
    if chosen.territory:
        counts = view.position_counts(scene)
        st.markdown(tr("explorer.details.territory", name=names.get(chosen.territory, chosen.territory),
                       code=chosen.territory, **{p: counts.get(p, 0) for p in POSITIONS}))
        st.page_link("app_pages/summary.py", label=tr("explorer.open_summary"),
                     query_params=SummaryState.link(chosen.territory))
    if focused.selected:
        st.markdown(tr("explorer.details.nodes", n=len(focused.selected), ego=len(focused.highlight),
                       radius=chosen.radius))
        nodes, relations = explorer.details(scene, focused, lang)
        st.container(key=state.DETAILS_NODES).dataframe(nodes)
        st.caption(tr("explorer.details.relations"))
        st.container(key=state.DETAILS_RELATIONS).dataframe(relations, hide_index=True)
        explorer_shortcuts(focused.selected)
    elif not chosen.territory:
        st.info(tr("explorer.details.none"))
if not chosen.empty and st.button(tr("explorer.details.clear"), key=state.CLEAR) and state.select(sel.clear(chosen)):
    st.rerun()
st.caption(tr("explorer.share"))

if state.apply_events(returned, event, scene.nodes, names):
    st.rerun()

"""Explorer (default page): the map and the network, linked by one selection, shareable by URL."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from carto import i18n, store, ui
from carto.analysis import selection as sel
from carto.analysis.filters import FORMAL_CHOICES, POSITIONS, Filters
from carto.model import ACTOR_TYPES, DIMENSIONS, RELATION_KINDS, SECTORS, TERRITORY_LEVELS
from carto.render import explorer, netview, offline

_node_metrics: Callable[..., pd.DataFrame] | None
try:  # centralities and communities from the analytics module; without it, degree only
    from carto.analysis.network import node_metrics as _node_metrics
except ImportError:
    _node_metrics = None


# cache_resource, not cache_data: these are large and never mutated, so no copy per rerun.
@st.cache_resource(max_entries=2, show_spinner=False)
def base_for(version: int, db: str) -> explorer.Base:
    del db  # a cache key
    return explorer.prepare(*(ui.read(n, version) for n in ("territories", "places", "actors", "relations")))


@st.cache_resource(max_entries=6, show_spinner=False)
def scene_for(version: int, db: str, filters: Filters) -> explorer.Scene:
    return explorer.build_scene(base_for(version, db), filters)  # degree from the relations: fast


@st.cache_resource(max_entries=6, show_spinner=False)
def metrics_for(version: int, db: str, filters: Filters) -> pd.DataFrame:
    """Centralities and communities, computed only when the network is sized or coloured by them."""
    scene = scene_for(version, db, filters)
    if _node_metrics is None:
        return scene.metrics
    part = scene.filtered
    return _node_metrics(part.actors, part.places, part.relations).reindex(scene.nodes.index)


@st.cache_resource(max_entries=12, show_spinner=False)
def positions_for(version: int, db: str, filters: Filters, ids: tuple[str, ...], layout: str) -> pd.DataFrame:
    scene = scene_for(version, db, filters)
    return netview.layout_positions(scene.nodes.loc[list(ids)], scene.filtered.relations, layout=layout)


def handle(kind: str, event: object, transition: Callable[[sel.Selection], sel.Selection]) -> None:
    """Apply a map or network event once: the same event comes back on every rerun."""
    seen, token = st.session_state.setdefault("explorer_seen", {}), sel.event_token(event)
    if seen.get(kind) != token:
        seen[kind] = token
        new = transition(st.session_state["explorer_selection"])
        if new != st.session_state["explorer_selection"]:
            st.session_state["explorer_selection"] = new
            st.rerun()


tr, lang, version, db = ui.tr, ui.language(), ui.data_version(), str(store.default_db_path())
territories, schemes = base_for(version, db).territories, ui.read("schemes", version)
names = dict(zip(territories["code"], territories["name"], strict=True))
levels = [lv for lv in TERRITORY_LEVELS if lv in set(territories["level"])] or ["commune"]
scheme_names = dict(zip(schemes["id"], schemes["name"], strict=True))
if "explorer_selection" not in st.session_state:  # first run of the session: the URL wins
    url = st.query_params.to_dict()
    st.session_state["explorer_selection"] = sel.Selection.from_query_params(url)
    st.session_state.update(explorer.widget_values(Filters.from_query_params(url), st.session_state[
        "explorer_selection"], territories, set(scheme_names)))

side, label = st.sidebar, (lambda v: i18n.label(v, lang))
side.header(tr("explorer.filters"))
level = side.selectbox(tr("explorer.filter.level"), levels, format_func=label, key="f_level")
codes = sorted(territories.loc[territories["level"] == level, "code"], key=lambda c: names[c])
if st.session_state.get("f_territory") not in [None, *codes]:
    st.session_state["f_territory"] = None
territory = side.selectbox(tr("explorer.filter.territory"), [None, *codes], key="f_territory",
                           placeholder=tr("explorer.filter.all_territories"),
                           format_func=lambda c: f"{names[c]} ({c})" if c else tr("explorer.filter.all_territories"))
multi = {key: tuple(side.multiselect(tr(f"explorer.filter.{name}"), options, key=key, format_func=label,
                                     placeholder=tr("explorer.filter.any")))
         for key, name, options in (("f_types", "types", ACTOR_TYPES), ("f_sectors", "sectors", SECTORS),
                                    ("f_kinds", "kinds", RELATION_KINDS), ("f_dims", "dimensions", DIMENSIONS))}
formal = side.radio(tr("explorer.filter.formal"), FORMAL_CHOICES, key="f_formal", horizontal=True,
                    format_func=lambda v: tr(f"explorer.filter.formal.{v}"))
chosen_schemes = side.multiselect(tr("explorer.filter.schemes"), list(scheme_names), key="f_schemes",
                                  placeholder=tr("explorer.filter.any"),
                                  format_func=lambda s: scheme_names[s])
on_date = side.date_input(tr("explorer.filter.date"), value=None, key="f_date")
tiles = side.selectbox(tr("map.tiles"), offline.TILE_CHOICES, key="tiles", format_func=lambda n: tr(f"map.tiles.{n}"),
                       index=offline.TILE_CHOICES.index(offline.default_tiles()))
filters = Filters(territory=territory, level=level, actor_types=multi["f_types"], sectors=multi["f_sectors"],
                  kinds=multi["f_kinds"], dimensions=multi["f_dims"], formal=formal,
                  schemes=tuple(chosen_schemes), on_date=on_date)

state = sel.with_radius(st.session_state["explorer_selection"], st.session_state.get("n_radius", 1))
st.session_state["explorer_selection"] = state
key = (version, db, explorer.effective_filters(filters, state))
scene = scene_for(*key)
focused = explorer.focus(scene, state)
st.query_params.from_dict({**filters.to_query_params(), **state.to_query_params()})

st.title(tr("map.title"))
ui.warn_node_id_clashes(version)
shown = {"territories": explorer.shown_territories(scene), "actors": scene.filtered.actors,
         "places": scene.filtered.places, "relations": scene.filtered.relations}
for col, (name, frame) in zip(st.columns(4), shown.items(), strict=True):
    col.metric(tr(f"dataset.{name}"), f"{len(frame):,}".replace(",", "\u202f"))
left, right = st.columns([1, 1])
with left:
    indicator = st.selectbox(tr("explorer.map.indicator"), [None, *explorer.INDICATORS], key="m_indicator",
                             format_func=lambda v: tr(f"explorer.indicator.{v}" if v else
                                                      "explorer.map.indicator.none"))
    fmap = explorer.explorer_map(scene, focused, lang, tiles=tiles,
                                 indicator=explorer.territory_indicator(scene, indicator) if indicator else None,
                                 indicator_label=tr(f"explorer.indicator.{indicator}") if indicator else None)
    returned = st_folium(fmap, height=600, use_container_width=True, key="explorer_map", render=False,
                         returned_objects=["last_object_clicked", "last_object_clicked_tooltip"])
    for note in explorer.map_notes(scene, lang):
        st.caption(note)
with right:
    c1, c2, c3, c4 = st.columns(4)
    layout = c1.selectbox(tr("explorer.network.layout"), netview.LAYOUTS, key="n_layout",
                          format_func=lambda v: tr(f"explorer.network.layout.{v}"))
    rich = _node_metrics is not None
    colour_by = c2.selectbox(tr("explorer.network.colour"), netview.COLOUR_BY if rich else ["type"], key="n_colour",
                             format_func=lambda v: tr(f"explorer.network.colour.{v}"))
    size_by = c3.selectbox(tr("explorer.network.size"), netview.SIZE_BY if rich else ["degree", "weighted_degree"],
                           key="n_size", format_func=lambda v: tr(f"explorer.network.size.{v}"))
    needs_more = colour_by == "community" or size_by not in scene.metrics
    metrics = metrics_for(*key) if needs_more else scene.metrics
    c4.select_slider(tr("explorer.network.radius"), [1, 2, 3], key="n_radius")
    event = None
    if ui.after_first_run("explorer_network"):
        sub = explorer.network_subgraph(scene, focused)
        fig = explorer.explorer_figure(sub, metrics, positions_for(*key, tuple(sub.nodes.index), layout), focused,
                                       lang, layout=layout, colour_by=colour_by, size_by=size_by)
        event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"),
                                key="explorer_network", width="stretch")
        st.caption(explorer.network_note(sub, lang))
    else:
        st.caption(tr("explorer.network.pending"))

st.subheader(tr("explorer.details"))
if state.territory:
    counts = explorer.position_counts(scene)
    st.markdown(tr("explorer.details.territory", name=names.get(state.territory, state.territory),
                   code=state.territory, **{p: counts.get(p, 0) for p in POSITIONS}))
if focused.selected:
    st.markdown(tr("explorer.details.nodes", n=len(focused.selected), ego=len(focused.highlight),
                   radius=state.radius))
    chosen, relations = explorer.details(scene, focused, lang)
    st.dataframe(chosen)
    st.caption(tr("explorer.details.relations"))
    st.dataframe(relations, hide_index=True)
elif not state.territory:
    st.info(tr("explorer.details.none"))
if not state.empty and st.button(tr("explorer.details.clear"), key="explorer_clear"):
    st.session_state["explorer_selection"] = sel.clear(state)
    st.rerun()
st.caption(tr("explorer.share"))

handle("map", returned, lambda s: sel.select_from_map(s, sel.clicked_object(returned, scene.nodes, set(names))))
picked = sel.network_point_ids(event)
if picked:  # an empty selection comes back when the figure changes: not a user action
    handle("network", picked, lambda s: sel.select_from_network(s, picked))

"""Explorer (default page): the map and the network, linked by one selection, shareable by URL."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from carto import explorer, i18n, layers, netview, offline, store, ui
from carto import selection as sel
from carto.filters import FORMAL_CHOICES, Filters
from carto.model import ACTOR_TYPES, DIMENSIONS, RELATION_KINDS, SECTORS, TERRITORY_LEVELS

try:  # centralities from the analytics module once merged; degree from the relations until then
    from carto.network import node_metrics as _node_metrics
except ImportError:
    _node_metrics = None

tr, lang, SEL, SEEN = ui.tr, ui.language(), "explorer_selection", "explorer_seen"
territories, schemes = ui.read("territories"), ui.read("schemes")
names = dict(zip(territories["code"], territories["name"], strict=True))
levels = [lv for lv in TERRITORY_LEVELS if lv in set(territories["level"])] or ["commune"]

if SEL not in st.session_state:  # first run of the session: the URL wins
    url = st.query_params.to_dict()
    f0 = Filters.from_query_params(url)
    st.session_state[SEL] = sel.Selection.from_query_params(url)
    level0 = f0.level or str(territories.set_index("code")["level"].get(f0.territory, "commune"))
    st.session_state.update(
        f_level=level0 if level0 in levels else levels[-1], f_territory=f0.territory if f0.territory in names else None,
        f_types=list(f0.actor_types), f_sectors=list(f0.sectors), f_kinds=list(f0.kinds),
        f_dims=list(f0.dimensions), f_formal=f0.formal, f_date=f0.on_date, n_radius=st.session_state[SEL].radius,
        f_schemes=[s for s in f0.schemes if s in set(schemes["id"])],
    )

side = st.sidebar
side.header(tr("explorer.filters"))
level = side.selectbox(tr("explorer.filter.level"), levels, format_func=lambda v: i18n.label(v, lang), key="f_level")
codes = sorted(territories.loc[territories["level"] == level, "code"], key=lambda c: names[c])
if st.session_state.get("f_territory") not in [None, *codes]:
    st.session_state["f_territory"] = None
territory = side.selectbox(tr("explorer.filter.territory"), [None, *codes], key="f_territory",
                           format_func=lambda c: tr("explorer.filter.all_territories") if c is None else f"{names[c]} ({c})")
multi = {key: side.multiselect(tr(f"explorer.filter.{label}"), options, key=key, format_func=lambda v: i18n.label(v, lang))
         for key, label, options in (("f_types", "types", ACTOR_TYPES), ("f_sectors", "sectors", SECTORS),
                                     ("f_kinds", "kinds", RELATION_KINDS), ("f_dims", "dimensions", DIMENSIONS))}
formal = side.radio(tr("explorer.filter.formal"), FORMAL_CHOICES, key="f_formal", horizontal=True,
                    format_func=lambda v: tr(f"explorer.filter.formal.{v}"))
scheme_names = dict(zip(schemes["id"], schemes["name"], strict=True))
chosen_schemes = side.multiselect(tr("explorer.filter.schemes"), list(scheme_names), key="f_schemes",
                                  format_func=lambda s: scheme_names[s])
on_date = side.date_input(tr("explorer.filter.date"), value=None, key="f_date")
tiles = side.selectbox(tr("map.tiles"), list(offline.TILE_CHOICES), key="tiles", index=list(offline.TILE_CHOICES).index(
    offline.default_tiles()), format_func=lambda name: tr(f"map.tiles.{name}"))
filters = Filters(territory=territory, level=level, actor_types=tuple(multi["f_types"]), sectors=tuple(multi["f_sectors"]),
                  kinds=tuple(multi["f_kinds"]), dimensions=tuple(multi["f_dims"]), formal=formal,
                  schemes=tuple(chosen_schemes), on_date=on_date)


# cache_resource, not cache_data: scenes are large and never mutated, so no copy per rerun.
@st.cache_resource(max_entries=6, show_spinner=False)
def scene_for(version: int, db: str, filters: Filters) -> explorer.Scene:
    del version, db  # cache keys only
    metrics_fn = None if _node_metrics is None else (lambda a, p, r: _node_metrics(a, p, r))
    return explorer.build_scene(ui.read("territories"), ui.read("places"), ui.read("actors"), ui.read("relations"),
                                filters, metrics_fn=metrics_fn)


@st.cache_resource(max_entries=12, show_spinner=False)
def positions_for(version: int, db: str, filters: Filters, node_ids: tuple[str, ...], layout: str) -> object:
    scene = scene_for(version, db, filters)
    return netview.layout_positions(scene.nodes.loc[list(node_ids)], scene.filtered.relations, layout=layout)


def handle(kind: str, event: object, transition: object) -> None:
    """Apply a map or network event once: the same event comes back on every rerun."""
    seen = st.session_state.setdefault(SEEN, {})
    token = sel.event_token(event)
    if seen.get(kind) == token:
        return
    seen[kind] = token
    new = transition(st.session_state[SEL])  # type: ignore[operator]
    if new != st.session_state[SEL]:
        st.session_state[SEL] = new
        st.rerun()


state = sel.with_radius(st.session_state[SEL], st.session_state.get("n_radius", 1))
st.session_state[SEL] = state
key = (ui.data_version(), str(store.default_db_path()), explorer.effective_filters(filters, state))
scene = scene_for(*key)
focused = explorer.focus(scene, state)
st.query_params.from_dict({**filters.to_query_params(), **state.to_query_params()})

st.title(tr("map.title"))
counts = (("territories", explorer.shown_territories(scene)), ("actors", scene.filtered.actors),
          ("places", scene.filtered.places), ("relations", scene.filtered.relations))
for col, (name, frame) in zip(st.columns(4), counts, strict=True):
    col.metric(tr(f"dataset.{name}"), f"{len(frame):,}".replace(",", "\u202f"))
left, right = st.columns([1, 1])
with left:
    options = [None, *explorer.INDICATORS]
    indicator = st.selectbox(tr("explorer.map.indicator"), options, key="m_indicator",
                             format_func=lambda v: tr("explorer.map.indicator.none" if v is None else f"explorer.indicator.{v}"))
    values = explorer.territory_indicator(scene, indicator) if indicator else None
    fmap = explorer.explorer_map(scene, focused, lang, tiles=tiles, indicator=values,
                                 indicator_label=tr(f"explorer.indicator.{indicator}") if indicator else None)
    returned = st_folium(fmap, height=600, use_container_width=True, key="explorer_map",
                         returned_objects=["last_object_clicked", "last_object_clicked_tooltip"])
    mapped = scene.map_relations
    if mapped.mode == "individual":
        st.caption(tr("explorer.map.individual", shown=len(mapped.lines)))
    else:
        st.caption(tr("explorer.map.aggregated", total=mapped.total, threshold=layers.RELATION_THRESHOLD,
                      flows=len(mapped.lines), level=i18n.label(mapped.level, lang), internal=mapped.internal))
with right:
    c1, c2, c3, c4 = st.columns(4)
    layout = c1.selectbox(tr("explorer.network.layout"), ["force", "geo"], key="n_layout",
                          format_func=lambda v: tr(f"explorer.network.layout.{v}"))
    colour_by = c2.selectbox(tr("explorer.network.colour"), ["type"] + (["community"] if "community" in scene.metrics else []),
                             key="n_colour", format_func=lambda v: tr(f"explorer.network.colour.{v}"))
    sizes = [m for m in netview.SIZE_BY if m in scene.metrics]
    size_by = c3.selectbox(tr("explorer.network.size"), sizes, key="n_size", format_func=lambda v: tr(f"explorer.network.size.{v}"))
    c4.select_slider(tr("explorer.network.radius"), [1, 2, 3], key="n_radius")
    sub = explorer.network_subgraph(scene, focused)
    positions = positions_for(*key, tuple(sub.nodes.index), layout)
    fig = explorer.explorer_figure(sub, scene.metrics, positions, focused, lang, layout=layout,  # type: ignore[arg-type]
                                   colour_by=colour_by, size_by=size_by)
    event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"), key="explorer_network",
                            width="stretch")
    note = "explorer.network.reduced" if sub.reduced else "explorer.network.all"
    st.caption(tr(note, nodes=len(sub.nodes), edges=len(sub.edges), total_nodes=sub.total_nodes, total_edges=sub.total_edges)
               + " " + tr("explorer.network.hint"))

st.subheader(tr("explorer.details"))
if state.territory:
    counts = explorer.position_counts(scene)
    st.markdown(tr("explorer.details.territory", name=names.get(state.territory, state.territory), code=state.territory,
                   **{p: counts.get(p, 0) for p in ("inside", "entering", "leaving", "crossing")}))
if focused.selected:
    st.markdown(tr("explorer.details.nodes", n=len(focused.selected), ego=len(focused.highlight), radius=state.radius))
    chosen, relations = explorer.details(scene, focused, lang)
    st.dataframe(chosen)
    st.caption(tr("explorer.details.relations"))
    st.dataframe(relations, hide_index=True)
elif not state.territory:
    st.info(tr("explorer.details.none"))
if not state.empty and st.button(tr("explorer.details.clear"), key="explorer_clear"):
    st.session_state[SEL] = sel.clear(state)
    st.rerun()
st.caption(tr("explorer.share"))

handle("map", returned, lambda s: sel.select_from_map(s, sel.clicked_object(returned, scene.nodes, set(names))))
handle("network", sel.network_point_ids(event) or None,
       lambda s: sel.select_from_network(s, sel.network_point_ids(event)) if sel.network_point_ids(event) else s)

"""The explorer page's sidebar of filters and its details panel; the page keeps the linked map and network."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import streamlit as st

from carto import i18n, ui
from carto.analysis import footprint
from carto.analysis import scene as view
from carto.analysis.filters import FORMAL_CHOICES, POSITIONS
from carto.analysis.selection import Selection
from carto.formatting import format_number
from carto.model import ACTOR_TYPES, DIMENSIONS, RELATION_KINDS, SECTORS
from carto.render import explorer, offline
from carto.render.summary_text import plural_key
from carto.ui.edits import explorer_forms
from carto.ui.state import ExplorerState, SummaryState


def sidebar_filters(state: ExplorerState, choices: view.FilterChoices, lang: str) -> str:
    """Draw the filters (level, territory, types, dates...) into the sidebar; return the chosen tiles."""
    tr, side, word = ui.tr, st.sidebar, ui.words(lang)
    names, scheme_names = choices.territory_names, choices.scheme_names

    def label(value: str) -> str:
        return i18n.label(value, lang)

    side.header(tr("explorer.filters"))
    level = side.selectbox(word("explorer.filter.level"), choices.levels, format_func=label, key=state.LEVEL)
    codes = choices.territories_at(level)
    state.keep_territory_among(codes)
    side.selectbox(tr("explorer.filter.territory"), [None, *codes], key=state.TERRITORY,
                   placeholder=tr("explorer.filter.all_territories"),
                   format_func=lambda c: f"{names[c]} ({c})" if c else word("explorer.filter.all_territories"))
    for widget, name, options in ((state.TYPES, "types", ACTOR_TYPES), (state.SECTORS, "sectors", SECTORS),
                                  (state.KINDS, "kinds", RELATION_KINDS), (state.DIMS, "dimensions", DIMENSIONS)):
        side.multiselect(word(f"explorer.filter.{name}"), options, key=widget, format_func=label,
                         placeholder=tr("explorer.filter.any"))
    side.radio(tr("explorer.filter.formal"), FORMAL_CHOICES, key=state.FORMAL, horizontal=True,
               format_func=lambda v: word(f"explorer.filter.formal.{v}"))
    side.multiselect(tr("explorer.filter.schemes"), list(scheme_names), key=state.SCHEMES,
                     placeholder=word("explorer.filter.any"), format_func=lambda s: scheme_names[s])
    first_day, last_day = choices.date_bounds(state.filters().on_date, dt.date.today())
    side.date_input(tr("explorer.filter.date"), value=None, key=state.DATE, min_value=first_day, max_value=last_day,
                    format=tr("explorer.filter.date.format"), help=explorer.date_help(choices.dates, lang))
    return str(side.selectbox(tr("map.tiles"), offline.TILE_CHOICES, key=state.TILES,
                              format_func=lambda n: word(f"map.tiles.{n}"),
                              index=offline.TILE_CHOICES.index(offline.default_tiles())))


def details_panel(scene: view.Scene, focused: view.Focus, chosen: Selection, names: dict[str, str],
                  state: ExplorerState, lang: str) -> None:
    """The chosen territory's relation counts and the selected nodes' tables."""
    tr = ui.tr
    st.subheader(tr("explorer.details"))
    with st.container(key=state.DETAILS):
        if chosen.territory:
            counts = view.position_counts(scene)
            st.markdown(tr("explorer.details.territory", name=names.get(chosen.territory, chosen.territory),
                           code=chosen.territory, **{p: counts.get(p, 0) for p in POSITIONS}))
            st.caption(tr("explorer.position.help"))
            st.page_link("app_pages/summary.py", label=tr("explorer.open_summary"),
                         query_params=SummaryState.link(chosen.territory))
        if focused.selected:
            st.markdown(tr(plural_key("explorer.details.nodes", chosen.radius, lang), n=len(focused.selected),
                           ego=len(focused.highlight), radius=chosen.radius))
            nodes, relations = explorer.details(scene, focused, lang)
            st.container(key=state.DETAILS_NODES).dataframe(nodes)
            st.caption(tr("explorer.details.relations"))
            st.container(key=state.DETAILS_RELATIONS).dataframe(relations, hide_index=True)
            explorer_forms(focused.selected)
        elif not chosen.territory:
            st.info(tr("explorer.details.none"))


def selection_space(scene: view.Scene, focused: view.Focus, state: ExplorerState) -> gpd.GeoDataFrame | None:
    """The footprint of what the map highlights (selected nodes and their ego network, or the nodes of
    an area drawn) when the switch under the map is on, compared with the boundaries drawn; else None.

    Read from the switch's state before the map is drawn, so a network click, a lasso or a rectangle on
    the map all redraw it."""
    if not st.session_state.get(state.SPACE) or not focused.highlight:
        return None
    base = scene.base
    return footprint.selection_footprint(focused.highlight, base.actors, base.places, base.territories,
                                         level=view.shown_level(scene))


def space_switch(space: gpd.GeoDataFrame | None, names: dict[str, str], state: ExplorerState, lang: str) -> None:
    """The switch under the map and, when on, the selection's social space in the social page's words."""
    st.toggle(ui.tr("explorer.map.space"), key=state.SPACE,
              help=ui.tr("explorer.map.space.help", km=format_number(footprint.BUFFER_M / 1000, lang)))
    if not st.session_state.get(state.SPACE):
        return
    with st.container(key=state.SPACE_SENTENCE):
        if space is None:
            st.caption(ui.tr("explorer.map.space.empty"))
            return
        for line in explorer.space_sentences(space, names, lang):
            st.markdown(ui.md(line))

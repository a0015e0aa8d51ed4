"""The explorer's drawing: the folium map, the plotly network and the words around them.

The view model (what is shown for given data, filters and selection) is
:mod:`carto.analysis.scene`; here it becomes pictures and labelled tables:

- :func:`prepare_map` (once per data version): territory anchors and marker rows.
- :func:`plan_map` (per set of filters): relations as lines or flows, points as markers or counts.
- :func:`explorer_map`, :func:`map_notes`: the map and what it draws, in words.
- :func:`explorer_figure`, :func:`network_note`: the network and what it shows.
- :func:`details`: the selected nodes and their relations, labelled in the page's language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from carto import i18n
from carto.analysis import scene as view
from carto.analysis.scene import Base, Focus, Scene, Subgraph
from carto.formatting import format_date
from carto.model import ACTOR_TYPES, METROPOLITAN_FRANCE
from carto.render import layers, leaflet, netview, offline, social, social_text

# Closest zoom the map takes by itself when fitting a selection (street level is 17+).
FIT_MAX_ZOOM = 14
# Most relations the opening view (nothing filtered, no territory) draws one by one: beyond, a
# newcomer sees a tangle, not a structure, and the map shows flows between territories instead.
# Filtered, the map draws up to layers.RELATION_THRESHOLD lines; the selection's are always drawn.
LINE_BUDGET = 300
# Most flows from a chosen territory to the others: a few labelled spokes, not a star of lines.
BORDER_FLOWS = 40


@dataclass(frozen=True)
class MapBase:
    """What the map needs once per data version: each territory's anchor point (by code) and the
    marker rows of every actor and place."""

    anchors: pd.DataFrame
    actor_rows: layers.PointRows
    place_rows: layers.PointRows


def prepare_map(base: Base) -> MapBase:
    """Anchors and marker rows of the data version ``base`` was prepared from."""
    points = base.nodes[["lon", "lat"]]
    return MapBase(
        anchors=layers.territory_anchors(base.territories).set_axis(
            base.territories["code"].astype(object).to_numpy(), axis=0
        ),
        actor_rows=layers.actor_rows(base.actors, points=points),
        place_rows=layers.place_rows(base.places, points=points),
    )


@dataclass(frozen=True)
class MapPlan:
    """What the map draws for one scene: relations one by one or as flows, points one by one or counted."""

    scene: Scene
    relations: layers.MapRelations
    points: layers.MapPoints
    base: MapBase


def plan_map(
    scene: Scene,
    map_base: MapBase,
    *,
    threshold: int | None = None,
    point_threshold: int = layers.POINT_THRESHOLD,
    border_flows: int = BORDER_FLOWS,
) -> MapPlan:
    """Lines or flows (above ``threshold`` relations), markers or counts (above ``point_threshold`` points).

    ``threshold`` is :data:`LINE_BUDGET` at the opening view (:func:`carto.analysis.scene.is_overview`),
    :data:`carto.render.layers.RELATION_THRESHOLD` once filtered. With a territory chosen, its inside
    relations are lines and the others at most ``border_flows`` flows to the territories where they
    end (:func:`carto.render.layers.territory_relations_for_map`).
    """
    base, filtered = scene.base, scene.filtered
    if threshold is None:
        threshold = LINE_BUDGET if view.is_overview(scene.filters) else layers.RELATION_THRESHOLD
    relations: layers.MapRelations | None = None
    if filtered.inside_codes is not None and scene.filters.territory:
        inside = pd.concat([filtered.actors[["id", "inside"]], filtered.places[["id", "inside"]]])
        relations = layers.territory_relations_for_map(
            filtered.relations,
            scene.nodes[["lon", "lat"]],
            scene.filters.territory,
            inside.loc[inside["inside"].astype(bool), "id"].astype(str),
            base.node_at_level,
            _centred_anchor(map_base.anchors, filtered.territories, scene.filters.territory),
            levels=view.relation_levels(scene.filters),
            threshold=threshold,
            flow_threshold=border_flows,
            reach=_spoke_length(filtered.territories, scene.filters.territory),
        )
    if relations is None or relations.mode != "mixed":
        relations = layers.relations_for_map(
            filtered.relations,
            scene.nodes[["lon", "lat"]],
            base.territories,
            base.node_territory.reindex(scene.nodes.index),
            threshold=threshold,
            levels=view.relation_levels(scene.filters),
            ancestors=base.ancestors,
            anchors=map_base.anchors,
            node_at_level=base.node_at_level,
        )
    level = view.shown_level(scene)
    points = layers.points_for_map(
        filtered.actors,
        filtered.places,
        view.node_territory_at(scene, level),
        map_base.anchors,
        base.territories.set_index("code")["name"],
        level=level,
        threshold=point_threshold,
    )
    return MapPlan(scene, relations, points, map_base)


def _centred_anchor(anchors: pd.DataFrame, territories: pd.DataFrame, code: str) -> pd.DataFrame:
    """``anchors`` with territory ``code``'s moved to its centroid when the centroid is inside it:
    the spokes of its flows then start from its middle, not from an edge."""
    shape = territories.loc[territories["code"] == code, "geometry"]
    if not len(shape) or not shape.iloc[0].contains(shape.iloc[0].centroid):
        return anchors
    centre = shape.iloc[0].centroid
    moved = anchors.copy()
    moved.loc[code, ["x", "y"]] = [centre.x, centre.y]
    return moved


def _spoke_length(territories: pd.DataFrame, code: str) -> float | None:
    """How long a flow leaving territory ``code`` is drawn (degrees of latitude): 0.6 of its larger
    side as the map shows it, so that the spokes end just past its border, inside the frame fitted to it."""
    shape = territories.loc[territories["code"] == code, "geometry"]
    if not len(shape):
        return None
    minx, miny, maxx, maxy = shape.iloc[0].bounds
    return 0.6 * max((maxx - minx) * float(np.cos(np.radians((miny + maxy) / 2))), maxy - miny)


def explorer_map(
    plan: MapPlan,
    focused: Focus,
    lang: str,
    *,
    tiles: str = "none",
    indicator: pd.Series | None = None,
    indicator_label: str | None = None,
    footprint: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """The map: boundaries, relations (lines or flows), places, actors, selection on top; the
    selection's ``footprint`` (:func:`carto.analysis.footprint.selection_footprint`) over the
    boundaries when given."""
    scene = plan.scene
    boundaries = view.shown_territories(scene)
    if len(boundaries):
        minx, miny, maxx, maxy = boundaries.total_bounds
    else:
        minx, miny, maxx, maxy = METROPOLITAN_FRANCE
    # Quarter zoom steps: fitted to the data, the territory fills the frame instead of a third of it.
    m = offline.make_map(((miny + maxy) / 2, (minx + maxx) / 2), 8, tiles=tiles, zoomSnap=0.25, zoomDelta=0.5)
    m.add_child(leaflet.SelectionPane())
    if tiles != "none":
        m.add_child(leaflet.TilesNotice(i18n.t("map.tiles.unavailable", lang)))
    if len(boundaries):
        layers.territories_layer(
            boundaries,
            lang,
            tolerance=layers.simplify_tolerance((minx, miny, maxx, maxy)),
            indicator=indicator,
            indicator_label=indicator_label,
            selected=scene.filters.territory,
        ).add_to(m)
    if footprint is not None and len(footprint):
        social.footprint_layer(footprint, lang).add_to(m)
    mapped = plan.relations
    # Fainter behind a selection (its own lines are drawn on top, opaque) or over a choropleth.
    muted = bool(focused.highlight) or indicator is not None
    if mapped.flows is not None and len(mapped.flows):
        layers.flows_layer(mapped.flows, scene.base.territories, lang, muted=muted).add_to(m)
    if len(mapped.lines):
        if mapped.mode == "aggregated":
            layers.flows_layer(mapped.lines, scene.base.territories, lang, muted=muted).add_to(m)
        else:
            layers.relations_layer(mapped.lines, lang, muted=muted).add_to(m)
    places, actors = scene.filtered.places, scene.filtered.actors
    points = scene.nodes[["lon", "lat"]]
    if plan.points.mode == "aggregated":
        m.add_child(layers.count_bubbles(plan.points, lang))
    else:
        # The selection is drawn above the clusters (layers.selection_layer), never inside one.
        apart = list(focused.highlight)
        places, actors = places[~places["id"].isin(apart)], actors[~actors["id"].isin(apart)]
        if len(places):
            layers.places_layer(places, lang, rows=plan.base.place_rows).add_to(m)
        if len(actors):
            layers.actors_layer(actors, lang, rows=plan.base.actor_rows).add_to(m)
        places, actors = scene.filtered.places, scene.filtered.actors
    if focused.highlight:
        ego_lines = layers.relation_lines(focused.relations, points)
        layers.selection_layer(
            points, scene.nodes["name"], set(focused.highlight), set(focused.selected), ego_lines, lang
        ).add_to(m)
    types_present = set(actors["type"])
    present = [t for t in ACTOR_TYPES if t in types_present]
    m.add_child(
        layers.Legend(
            layers.legend_html(
                lang,
                actor_types=present,
                # Flows only, unless the selection's relations are drawn one by one over them.
                aggregated=mapped.mode == "aggregated" and not focused.highlight,
                with_flows=mapped.mode == "aggregated" or (mapped.flows is not None and len(mapped.flows) > 0),
                indicator=indicator,
                indicator_label=indicator_label,
            )
        )
    )
    folium.LayerControl(collapsed=True).add_to(m)
    m.add_child(leaflet.DrawArea({w: i18n.t(f"explorer.draw.{w}", lang) for w in leaflet.DrawArea.WORDS}))
    bounds = layers.fit_bounds_of(points, sorted(focused.highlight)) if focused.highlight else None
    if bounds is None and len(boundaries):
        bounds = [[float(miny), float(minx)], [float(maxy), float(maxx)]]
    if bounds is not None:
        # A single selected node has zero extent: cap the zoom so its neighbourhood stays readable.
        m.fit_bounds(bounds, max_zoom=FIT_MAX_ZOOM, padding=(30, 30))
    return offline.localize_assets(m)


def space_sentences(footprint: gpd.GeoDataFrame, names: dict[str, str], lang: str) -> list[str]:
    """The selection's social space in the social page's words: compact or scattered, the share outside
    its home territory, the other territories reached; or why there is none to draw."""
    if not len(footprint):
        return [i18n.t("explorer.map.space.none", lang)]
    row = footprint.iloc[0]
    home = names.get(str(row["home"]), "—") if row["home"] is not None else "—"
    return [social_text.footprint_sentence(row, home, lang),
            social_text.reached_sentence([names.get(r, r) for r in row["reached"]], lang)]


def map_notes(plan: MapPlan, lang: str, focused: Focus | None = None) -> list[str]:
    """What the map draws one by one and what it groups, in words (shown under the map), and how to
    select an area on it (or what the area drawn selected)."""
    mapped, counted = plan.relations, plan.points
    if mapped.mode == "individual":
        notes = [i18n.t("explorer.map.individual", lang, shown=len(mapped.lines))]
    elif mapped.mode == "mixed":
        notes = [
            i18n.t("explorer.map.mixed", lang, inside=len(mapped.lines), across=mapped.across,
                   flows=mapped.drawn - len(mapped.lines), level=i18n.label(mapped.level, lang))
        ]
    else:
        notes = [
            i18n.t("explorer.map.aggregated", lang, total=mapped.total, threshold=mapped.threshold,
                   flows=len(mapped.lines), level=i18n.label(mapped.level, lang), internal=mapped.internal)
        ]
    if counted.mode == "aggregated" and counted.counts is not None:
        notes.append(
            i18n.t("explorer.map.points_aggregated", lang, total=counted.total, threshold=counted.threshold,
                   level=i18n.label(counted.level, lang), circles=len(counted.counts))
        )
    if focused is not None and focused.area:
        notes.append(i18n.t("explorer.map.drawn", lang, n=len(focused.selected)))
    elif focused is not None:
        notes.append(i18n.t("explorer.map.draw_hint", lang))
    return notes


def network_note(sub: Subgraph, lang: str) -> str:
    """What the network view shows (all, its core, or the part kept) and how to select in it."""
    if sub.core:
        key = "explorer.network.core" if len(sub.nodes) == sub.core_size else "explorer.network.core_top"
        key = f"{key}.one" if sub.core == 1 else key
    else:
        key = "explorer.network.reduced" if sub.reduced else "explorer.network.all"
    shown = i18n.t(
        key,
        lang,
        nodes=len(sub.nodes),
        edges=len(sub.edges),
        total_nodes=sub.total_nodes,
        total_edges=sub.total_edges,
        k=sub.core,
        core_size=sub.core_size,
    )
    return f"{shown} {i18n.t('explorer.network.hint', lang)}"


def network_positions(scene: Scene, ids: tuple[str, ...], *, layout: str) -> pd.DataFrame:
    """Where the network draws the nodes ``ids`` of ``scene`` (:func:`carto.render.netview.layout_positions`)."""
    return netview.layout_positions(scene.nodes.loc[list(ids)], scene.filtered.relations, layout=layout)


def explorer_figure(
    sub: Subgraph,
    metrics: pd.DataFrame,
    positions: pd.DataFrame,
    focused: Focus,
    lang: str,
    *,
    layout: str,
    colour_by: str,
    size_by: str,
) -> go.Figure:
    return netview.network_figure(
        sub.nodes,
        sub.edges,
        metrics,
        positions=positions,
        layout=layout,
        colour_by=colour_by,
        size_by=size_by,
        highlight=set(focused.highlight),
        lang=lang,
    )


def details(scene: Scene, focused: Focus, lang: str, *, limit: int = 200) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The selected nodes (name, type, degree) and their relations, labelled and headed in ``lang``.

    The relations' position (inside, entering, leaving, crossing) is only shown with a territory
    chosen: without one, every relation is "inside".
    """
    nodes = view.selected_nodes(scene, focused)
    nodes["type"] = [
        i18n.t("explorer.node.place", lang) if t == "place" else i18n.label(t, lang) for t in nodes["type"]
    ]
    table = view.selected_relations(scene, focused, limit=limit)
    table["kind"] = [i18n.label(k, lang) for k in table["kind"]]
    table["dimension"] = [i18n.label(d, lang) for d in table["dimension"]]
    table["position"] = [i18n.t(f"explorer.position.{p}", lang) for p in table["position"]]
    if not scene.filters.territory:
        table = table.drop(columns="position")
    nodes = nodes.rename_axis(i18n.t("field.id", lang)).rename(columns=lambda c: detail_header(str(c), lang))
    return nodes, table.rename(columns=lambda c: detail_header(str(c), lang))


def detail_header(column: str, lang: str) -> str:
    """A details table's column header in ``lang``."""
    own = f"explorer.column.{column}"
    return i18n.t(own if own in i18n.catalog(lang) else f"field.{column}", lang)


def date_help(dates: tuple[dt.date, dt.date] | None, lang: str) -> str | None:
    """The date picker's help: which days the data's relations span."""
    if dates is None:
        return None
    first, last = (format_date(d, lang) for d in dates)
    return i18n.t("explorer.filter.date.help", lang, first=first, last=last)


def empty_note(reason: str, day: dt.date | None, dates: tuple[dt.date, dt.date] | None, lang: str) -> str:
    """Why no relation is shown (``reason`` from :func:`carto.analysis.scene.why_no_relation`), in words."""
    first, last = (format_date(d, lang) for d in dates) if dates else ("", "")
    return i18n.t(f"explorer.empty.{reason}", lang, date=format_date(day, lang) if day else "", first=first, last=last)

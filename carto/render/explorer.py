"""The explorer's view model: from data, filters and selection to what the map and network draw.

Pure and streamlit-free, so the page only wires widgets and caches these calls:

- :func:`build_scene` (heavy, cached by data version + filters): filtered frames, node
  positions, metrics, what the map draws for relations (individual or aggregated).
- :func:`focus` (cheap, per selection): selected nodes, their ego network.
- :func:`explorer_map` and :func:`explorer_figure`: the folium map and the plotly figure.
- :func:`details`: the selected element and its relations, for the details panel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import folium
import geopandas as gpd
import pandas as pd
import plotly.graph_objects as go

from carto import i18n
from carto.analysis import flows
from carto.analysis.filters import Filtered, Filters, apply_filters
from carto.analysis.network import ego_nodes, ego_relations
from carto.analysis.selection import Selection
from carto.model import ACTOR_TYPES, AGGREGATION_LEVELS, METROPOLITAN_FRANCE
from carto.render import layers, netview, offline

MetricsFn = Callable[[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame], pd.DataFrame]

# Closest zoom the map takes by itself when fitting a selection (street level is 17+).
FIT_MAX_ZOOM = 14


@dataclass(frozen=True)
class Base:
    """The data once per data version: text columns as plain objects (fast hashing), every
    node's position and finest territory, and each territory's ancestor at every level."""

    territories: gpd.GeoDataFrame
    places: gpd.GeoDataFrame
    actors: gpd.GeoDataFrame
    relations: pd.DataFrame
    nodes: pd.DataFrame
    node_territory: pd.Series
    ancestors: dict[str, pd.Series]
    node_at_level: dict[str, pd.Series]
    anchors: pd.DataFrame
    actor_rows: layers.PointRows
    place_rows: layers.PointRows


def _plain_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if column != "geometry" and pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def _coded_ends(relations: pd.DataFrame, node_ids: pd.Index) -> pd.DataFrame:
    """Relations whose ``source`` and ``target`` are categoricals over one set of ids.

    Filtering, degrees and flows then work on integer codes: at a million relations, hashing
    every id string again on each filter change costs seconds.
    """
    ids = node_ids.append(pd.Index(relations["source"])).append(pd.Index(relations["target"])).unique()
    out = relations.copy()
    for end in ("source", "target"):
        out[end] = pd.Categorical(out[end], categories=ids)
    return out


def prepare(
    territories: gpd.GeoDataFrame, places: gpd.GeoDataFrame, actors: gpd.GeoDataFrame, relations: pd.DataFrame
) -> Base:
    """Everything that does not depend on the filters, computed once per data version."""
    plain_territories, plain_places, plain_actors = (_plain_text(f) for f in (territories, places, actors))
    levels = [lv for lv in AGGREGATION_LEVELS if lv in set(plain_territories["level"])]
    nodes = netview.graph_nodes(plain_actors, plain_places)
    points = nodes[["lon", "lat"]]
    node_territory = flows.node_territories(plain_actors, plain_places)
    ancestors = {level: flows.ancestors_at(plain_territories, level) for level in levels}
    return Base(
        territories=plain_territories,
        places=plain_places,
        actors=plain_actors,
        relations=_coded_ends(_plain_text(relations), nodes.index),
        nodes=nodes,
        node_territory=node_territory,
        ancestors=ancestors,
        # Plain objects: pandas' Arrow strings are slow to look up by the hundred thousand.
        node_at_level={level: node_territory.map(up).astype(object) for level, up in ancestors.items()},
        anchors=layers.territory_anchors(plain_territories).set_axis(
            plain_territories["code"].astype(object).to_numpy(), axis=0
        ),
        actor_rows=layers.actor_rows(plain_actors, points=points),
        place_rows=layers.place_rows(plain_places, points=points),
    )


@dataclass(frozen=True)
class Scene:
    """Everything both views draw for one set of filters, before any selection."""

    filters: Filters
    filtered: Filtered
    nodes: pd.DataFrame  # netview.graph_nodes: name, type, lon, lat by node id
    metrics: pd.DataFrame  # by node id
    map_relations: layers.MapRelations
    map_points: layers.MapPoints
    drawn: gpd.GeoDataFrame  # the boundaries the map draws (see shown_territories)
    base: Base  # the data version the scene was built from


def default_level(territories: pd.DataFrame, *, max_polygons: int = 1000) -> str:
    """The finest level with at most ``max_polygons`` territories (else the coarsest present).

    What the map opens on: communes for a département, EPCIs for a region.
    """
    counts = territories["level"].value_counts()
    present = [lv for lv in AGGREGATION_LEVELS if lv in counts.index]
    for level in present:
        if counts[level] <= max_polygons:
            return level
    return present[-1] if present else "commune"


def widget_values(
    filters: Filters, selection: Selection, territories: pd.DataFrame, scheme_ids: set[str]
) -> dict[str, object]:
    """Sidebar and network widget values (by widget key) for filters and a selection read from a URL.

    A territory unknown to the data is dropped; the level follows the territory, else the
    URL, else :func:`default_level`.
    """
    level_of = dict(zip(territories["code"], territories["level"], strict=True))
    territory = filters.territory if filters.territory in level_of else None
    levels = set(level_of.values())
    level = level_of[territory] if territory else filters.level
    if level not in levels:
        level = default_level(territories)
    return {
        "f_level": level,
        "f_territory": territory,
        "f_types": list(filters.actor_types),
        "f_sectors": list(filters.sectors),
        "f_kinds": list(filters.kinds),
        "f_dims": list(filters.dimensions),
        "f_formal": filters.formal,
        "f_schemes": [s for s in filters.schemes if s in scheme_ids],
        "f_date": filters.on_date,
        "n_radius": selection.radius,
    }


def effective_filters(filters: Filters, selection: Selection) -> Filters:
    """A territory picked on the map restricts both views like the territory filter."""
    return filters.with_territory(selection.territory) if selection.territory else filters


def build_scene(
    base: Base,
    filters: Filters,
    *,
    metrics_fn: MetricsFn | None = None,
    threshold: int = layers.RELATION_THRESHOLD,
    point_threshold: int = layers.POINT_THRESHOLD,
) -> Scene:
    """Filter, place the nodes, compute metrics, choose lines or flows and markers or counts."""
    filtered = apply_filters(base.territories, base.places, base.actors, base.relations, filters)
    ids = pd.Index(filtered.actors["id"]).append(pd.Index(filtered.places["id"]))
    nodes = base.nodes.loc[ids]
    if metrics_fn is not None:
        metrics = metrics_fn(filtered.actors, filtered.places, filtered.relations).reindex(nodes.index)
    else:
        metrics = netview.degree_metrics(nodes, filtered.relations)
    levels: tuple[str, ...] = AGGREGATION_LEVELS
    if filters.level in levels:
        levels = levels[levels.index(filters.level) :]
    map_relations = layers.relations_for_map(
        filtered.relations,
        nodes[["lon", "lat"]],
        base.territories,
        base.node_territory.reindex(nodes.index),
        threshold=threshold,
        levels=levels,
        ancestors=base.ancestors,
        anchors=base.anchors,
        node_at_level=base.node_at_level,
    )
    drawn = _drawn_territories(filtered.territories, filters)
    point_level = str(drawn["level"].iloc[0]) if drawn["level"].nunique() == 1 else "commune"
    where = base.node_at_level.get(point_level)
    map_points = layers.points_for_map(
        filtered.actors,
        filtered.places,
        where if where is not None else base.node_territory.map(flows.ancestors_at(base.territories, point_level)),
        base.anchors,
        base.territories.set_index("code")["name"],
        level=point_level,
        threshold=point_threshold,
    )
    return Scene(filters, filtered, nodes, metrics, map_relations, map_points, drawn, base)


@dataclass(frozen=True)
class Focus:
    """The selection seen in one scene: selected nodes, the ego network around them."""

    selected: frozenset[str]
    highlight: frozenset[str]
    relations: pd.DataFrame


def focus(scene: Scene, selection: Selection) -> Focus:
    """Selected nodes present in the scene and their ego network of ``selection.radius`` steps."""
    selected = frozenset(n for n in selection.nodes if n in scene.nodes.index)
    if not selected:
        return Focus(frozenset(), frozenset(), scene.filtered.relations.iloc[0:0])
    rel = scene.filtered.relations
    highlight = frozenset(ego_nodes(rel, selected, selection.radius))
    return Focus(selected, highlight, ego_relations(rel, set(highlight)))


def shown_territories(scene: Scene) -> gpd.GeoDataFrame:
    """Boundaries to draw: the finest level below the chosen territory, else the chosen level."""
    return scene.drawn


def _drawn_territories(frame: gpd.GeoDataFrame, filters: Filters) -> gpd.GeoDataFrame:
    if frame.empty:
        return frame
    if filters.territory:
        levels = [lv for lv in ("commune", "qpv", "epci", "departement", "region") if lv in set(frame["level"])]
        return frame[frame["level"] == levels[0]] if levels else frame
    level = filters.level or "commune"
    chosen = frame[frame["level"] == level]
    return chosen if len(chosen) else frame


def explorer_map(
    scene: Scene,
    focused: Focus,
    lang: str,
    *,
    tiles: str = "none",
    indicator: pd.Series | None = None,
    indicator_label: str | None = None,
) -> folium.Map:
    """The map: boundaries, relations (lines or flows), places, actors, selection on top."""
    boundaries = shown_territories(scene)
    if len(boundaries):
        minx, miny, maxx, maxy = boundaries.total_bounds
    else:
        minx, miny, maxx, maxy = METROPOLITAN_FRANCE
    m = offline.make_map(((miny + maxy) / 2, (minx + maxx) / 2), 8, tiles=tiles)
    if len(boundaries):
        layers.territories_layer(
            boundaries,
            lang,
            tolerance=layers.simplify_tolerance((minx, miny, maxx, maxy)),
            indicator=indicator,
            indicator_label=indicator_label,
            selected=scene.filters.territory,
        ).add_to(m)
    mapped = scene.map_relations
    if len(mapped.lines):
        if mapped.mode == "individual":
            layers.relations_layer(mapped.lines, lang).add_to(m)
        else:
            layers.flows_layer(mapped.lines, scene.base.territories, lang).add_to(m)
    places, actors = scene.filtered.places, scene.filtered.actors
    points = scene.nodes[["lon", "lat"]]
    if scene.map_points.mode == "aggregated":
        m.add_child(layers.count_bubbles(scene.map_points, lang))
    else:
        if len(places):
            layers.places_layer(places, lang, rows=scene.base.place_rows).add_to(m)
        if len(actors):
            layers.actors_layer(actors, lang, rows=scene.base.actor_rows).add_to(m)
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
                aggregated=mapped.mode == "aggregated",
                indicator=indicator,
                indicator_label=indicator_label,
            )
        )
    )
    folium.LayerControl(collapsed=True).add_to(m)
    bounds = layers.fit_bounds_of(points, sorted(focused.highlight)) if focused.highlight else None
    if bounds is None and len(boundaries):
        bounds = [[float(miny), float(minx)], [float(maxy), float(maxx)]]
    if bounds is not None:
        # A single selected node has zero extent: cap the zoom so its neighbourhood stays readable.
        m.fit_bounds(bounds, max_zoom=FIT_MAX_ZOOM, padding=(30, 30))
    return offline.localize_assets(m)


def map_notes(scene: Scene, lang: str) -> list[str]:
    """What the map draws one by one and what it groups, in words (shown under the map)."""
    mapped, counted = scene.map_relations, scene.map_points
    if mapped.mode == "individual":
        notes = [i18n.t("explorer.map.individual", lang, shown=len(mapped.lines))]
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
    return notes


def network_note(sub: netview.Subgraph, lang: str) -> str:
    """What the network view shows (all, or the part kept) and how to select in it."""
    shown = i18n.t(
        "explorer.network.reduced" if sub.reduced else "explorer.network.all",
        lang,
        nodes=len(sub.nodes),
        edges=len(sub.edges),
        total_nodes=sub.total_nodes,
        total_edges=sub.total_edges,
    )
    return f"{shown} {i18n.t('explorer.network.hint', lang)}"


def network_subgraph(scene: Scene, focused: Focus, *, max_nodes: int = 500, max_edges: int = 2500) -> netview.Subgraph:
    """The part of the network sent to the browser (highlighted nodes always kept)."""
    return netview.reduce_graph(
        scene.nodes,
        scene.filtered.relations,
        scene.metrics,
        highlight=set(focused.highlight),
        max_nodes=max_nodes,
        max_edges=max_edges,
    )


def explorer_figure(
    sub: netview.Subgraph,
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
    """The selected nodes (name, type, degree) and their relations, labelled in ``lang``."""
    chosen = sorted(focused.selected)
    nodes = scene.nodes.loc[chosen, ["name", "type"]].copy()
    nodes["type"] = [
        i18n.t("explorer.node.place", lang) if t == "place" else i18n.label(t, lang) for t in nodes["type"]
    ]
    if "degree" in scene.metrics:
        nodes["degree"] = scene.metrics["degree"].reindex(nodes.index).fillna(0).astype(int)
    rel = scene.filtered.relations
    touching = rel[rel["source"].isin(chosen) | rel["target"].isin(chosen)].head(limit)
    names = scene.nodes["name"]
    table = pd.DataFrame(
        {
            "source": touching["source"].map(names).fillna(touching["source"]).to_numpy(),
            "target": touching["target"].map(names).fillna(touching["target"]).to_numpy(),
            "kind": [i18n.label(k, lang) for k in touching["kind"]],
            "dimension": [i18n.label(d if isinstance(d, str) else None, lang) for d in touching["dimension"]],
            "position": [i18n.t(f"explorer.position.{p}", lang) for p in touching["position"]],
        }
    )
    return nodes, table


def position_counts(scene: Scene) -> dict[str, int]:
    """Relations of the scene by position relative to the chosen territory."""
    counts = scene.filtered.relations["position"].value_counts()
    return {str(k): int(v) for k, v in counts.items()}


INDICATORS = ("population", "actors", "places", "relations")


def territory_indicator(scene: Scene, name: str) -> pd.Series:
    """One figure per shown territory (indexed by code): population, or nodes/relations counted in it.

    Relations count once in each territory they touch (both ends' territories, once if the same).
    """
    shown = shown_territories(scene)
    if name == "population":
        return pd.to_numeric(shown.set_index("code")["population"], errors="coerce").astype(float)
    levels = set(shown["level"])
    level = next(iter(levels)) if len(levels) == 1 else "commune"
    ancestors = scene.base.ancestors
    up = ancestors[level] if level in ancestors else flows.ancestors_at(scene.base.territories, level)
    where = flows.node_territories(scene.filtered.actors, scene.filtered.places).map(up)
    if name in ("actors", "places"):
        ids = getattr(scene.filtered, name)["id"]
        counts = where.reindex(ids).value_counts()
    elif name == "relations":
        rel = scene.filtered.relations
        ends = pd.DataFrame({"a": rel["source"].map(where).to_numpy(), "b": rel["target"].map(where).to_numpy()})
        first = ends["a"].value_counts()
        second = ends.loc[ends["a"] != ends["b"], "b"].value_counts()
        counts = first.add(second, fill_value=0)
    else:
        msg = f"unknown indicator {name!r}; expected one of {', '.join(INDICATORS)}"
        raise ValueError(msg)
    return counts.reindex(shown["code"]).fillna(0).astype(float)

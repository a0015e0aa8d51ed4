"""Data → folium layers. Pure: frames in, folium objects out; no database, no streamlit.

Built to stay small in the browser at every scale: coordinates are rounded to 5 decimals
(about a metre), polygons simplified to the drawing scale, actors and places sent as compact
arrays drawn by a JavaScript callback inside a marker cluster, and relations aggregated
between territories above a threshold (:func:`relations_for_map`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from carto import i18n
from carto.analysis import flows, hierarchy
from carto.formatting import format_number
from carto.model import (
    ACTOR_TYPES,
    AGGREGATION_LEVELS,
    METROPOLITAN_FRANCE,
    RELATION_KINDS,
    SECTORS,
    relation_weights,
)
from carto.render import offline, palette
from carto.render.choropleth import class_colour, class_limits, classes_legend
from carto.render.indicator_text import format_indicator
from carto.render.leaflet import (
    EGO_RING,
    SELECTED_RING,
    CompactMarkerCluster,
    CountBubbles,
    DirectionArrows,
    RingMarkers,
    point_cluster,
)
from carto.render.palette import ACTOR_COLOURS, CLUSTER_COLOUR, FLOW_COLOUR, PLACE_COLOUR
from carto.render.plain import (
    STYLE_PROPERTY,
    Legend,
    StyledGeoJson,
    script_safe,
    style_table,
)

PRECISION = 5  # decimals of a degree kept in the browser: ~1 m
# Opacity of relations and flows behind a selection: there, but the selection's lines stand out.
MUTED_OPACITY = 0.2
RELATION_THRESHOLD = 3000
# Actors and places drawn one by one at most; beyond, one circle per territory (~60 bytes a point).
POINT_THRESHOLD = 30_000

# Relation kinds: formal partnership solid, informal network dashed, referral dotted with an arrow
# towards its target; affinity and tension in their own colours.
RELATION_DASHES: dict[str, str | None] = {
    "partnership": None,
    "network": "6 4",
    "referral": "2 4",
    "affinity": None,
    "tension": "10 3 2 3",
}
RELATION_STYLE: dict[str, dict[str, object]] = {
    kind: {"color": palette.RELATION_COLOURS[kind], "dashArray": RELATION_DASHES[kind]} for kind in RELATION_KINDS
}
TERRITORY_STYLE = {
    "color": palette.TERRITORY_LINE,
    "weight": 1,
    "fillColor": palette.TERRITORY_FILL,
    "fillOpacity": 0.35,
}


def _tooltip_html(rows: list[tuple[str, object]]) -> str:
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(k)}</th>"
        f"<td>{html.escape('' if v is None or v is pd.NA else str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table>{cells}</table>"


def _round(geometry: gpd.GeoSeries) -> np.ndarray:
    return shapely.transform(geometry.to_numpy(), lambda xy: np.round(xy, PRECISION))


def simplify_tolerance(bounds: Sequence[float], *, width_px: int = 1000) -> float:
    """Half a screen pixel, in degrees, when ``bounds`` fill ``width_px`` pixels."""
    minx, miny, maxx, maxy = bounds
    extent = max(maxx - minx, maxy - miny, 1e-6)
    return extent / width_px / 2


def territories_layer(
    territories: gpd.GeoDataFrame,
    lang: str,
    *,
    name: str | None = None,
    indicator: pd.Series | None = None,
    indicator_label: str | None = None,
    tolerance: float | None = None,
    selected: str | None = None,
    indicator_column: str | None = None,
) -> StyledGeoJson:
    """Boundaries with a tooltip (``name [code]``, level, population) and an optional choropleth.

    ``indicator`` is indexed by territory code; each territory is filled by the class of its value
    (:mod:`carto.render.choropleth`), which the tooltip shows as ``indicator_column`` reads
    (:func:`carto.render.indicator_text.format_indicator`). ``tolerance`` (degrees) simplifies the
    outlines; ``selected`` is outlined.
    """
    codes = territories["code"].astype(str).to_numpy()
    # "name [code]": the bracketed code tells a map click which territory it hit (carto.analysis.selection).
    frame = pd.DataFrame(
        {
            "label": [f"{n} [{c}]" for n, c in zip(territories["name"].astype(str).to_numpy(), codes, strict=True)],
            "level": [i18n.label(v, lang) for v in territories["level"].to_numpy()],
            "population": [
                "" if pd.isna(v) else format_number(v, lang)
                for v in pd.to_numeric(territories["population"], errors="coerce")
            ],
        }
    )
    geometry = territories.geometry
    if tolerance:
        geometry = geometry.simplify(tolerance, preserve_topology=True)
    fields = ["label", "level", "population"]
    aliases = [i18n.t(f"field.{f}", lang) for f in ("name", "level", "population")]
    if indicator is not None:
        values = indicator.reindex(codes).to_numpy()
        limits = class_limits(indicator)
        frame["fill"] = [class_colour(v, limits) for v in values]
        frame["indicator"] = ["" if pd.isna(v) else format_indicator(indicator_column, v, lang) for v in values]
        fields.append("indicator")
        aliases.append(indicator_label or "")
    chosen = codes == selected if selected else np.zeros(len(codes), dtype=bool)
    fills = frame["fill"] if "fill" in frame else [TERRITORY_STYLE["fillColor"]] * len(frame)
    opacity = 0.6 if indicator is not None else TERRITORY_STYLE["fillOpacity"]
    styles, frame[STYLE_PROPERTY] = style_table(
        (
            (
                palette.SELECTED_OUTLINE if c else TERRITORY_STYLE["color"],
                3 if c else TERRITORY_STYLE["weight"],
                fill,
                opacity,
            )
            for c, fill in zip(chosen, fills, strict=True)
        ),
        ["color", "weight", "fillColor", "fillOpacity"],
    )
    return StyledGeoJson(
        frame,
        _round(geometry),
        styles,
        hover={"weight": 3, "color": palette.SELECTED_OUTLINE},
        name=name or i18n.t("dataset.territories", lang),
        tooltip=list(zip(fields, aliases, strict=True)),
    )


def _lat_lon(frame: gpd.GeoDataFrame, points: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Rounded latitude and longitude of each row: from ``points`` (lon/lat by id) when given."""
    if points is not None:
        known = points.reindex(frame["id"].to_numpy())
        if not known.isna().any().any():
            return np.round(known["lat"].to_numpy(float), PRECISION), np.round(known["lon"].to_numpy(float), PRECISION)
    located = frame.geometry.representative_point()
    return np.round(located.y.to_numpy(), PRECISION), np.round(located.x.to_numpy(), PRECISION)


@dataclass(frozen=True)
class PointRows:
    """Marker rows ``[lat, lon, id, name, kind index, extra index]`` as JSON texts, by node id.

    Built once per data version; a filtered layer joins the texts of its nodes. ``extra``
    names what the last index refers to (sectors for actors, publics for places).
    """

    texts: pd.Series
    extra: list[str]

    def json_of(self, ids: pd.Series) -> str:
        """The rows of ``ids`` (all known), in that order, as one script-safe JSON array."""
        return script_safe("[" + ",".join(self.texts.loc[ids.to_numpy()].tolist()) + "]")


def _row_texts(
    lat: np.ndarray, lon: np.ndarray, ids: pd.Series, names: pd.Series, first: pd.Series, second: pd.Series
) -> pd.Series:
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    texts = [
        f"[{la!r},{lo!r},{dumps(i)},{dumps(n)},{a},{b}]"
        for la, lo, i, n, a, b in zip(
            lat.tolist(),
            lon.tolist(),
            ids.astype(str).tolist(),
            names.astype(str).tolist(),
            first.astype(int).tolist(),
            second.astype(int).tolist(),
            strict=True,
        )
    ]
    return pd.Series(texts, index=ids.astype(str).to_numpy(), dtype=object)


def _index_in(values: pd.Series, choices: Sequence[str], missing: int) -> pd.Series:
    """The position of each value among ``choices``; ``missing`` for a value not among them."""
    return values.map(pd.Series(range(len(choices)), index=list(choices), dtype="float64")).fillna(missing)


def place_rows(places: gpd.GeoDataFrame, *, points: pd.DataFrame | None = None) -> PointRows:
    """Rows of places: kind index among :data:`PLACE_KINDS`, publics index among ``extra``."""
    from carto.model import PLACE_KINDS

    kinds = [*PLACE_KINDS]
    publics = sorted({str(p) for p in places["publics"] if isinstance(p, str)}) if "publics" in places else []
    lat, lon = _lat_lon(places, points)
    texts = _row_texts(
        lat,
        lon,
        places["id"],
        places["name"],
        _index_in(places["kind"], kinds, kinds.index("other")),
        _index_in(places["publics"] if "publics" in places else pd.Series(None, index=places.index), publics, -1),
    )
    return PointRows(texts, publics)


def actor_rows(actors: gpd.GeoDataFrame, *, points: pd.DataFrame | None = None) -> PointRows:
    """Rows of actors: type index among :data:`ACTOR_TYPES`, sector index among :data:`SECTORS`."""
    types, sectors = [*ACTOR_TYPES], [*SECTORS]
    lat, lon = _lat_lon(actors, points)
    texts = _row_texts(
        lat,
        lon,
        actors["id"],
        actors["name"],
        _index_in(actors["type"], types, types.index("other")),
        _index_in(actors["sector"], sectors, -1),
    )
    return PointRows(texts, sectors)


def places_layer(
    places: gpd.GeoDataFrame, lang: str, *, points: pd.DataFrame | None = None, rows: PointRows | None = None
) -> CompactMarkerCluster:
    """Inhabited places as dark rings; tooltip ``name [id]``, popup with kind and publics.

    ``rows`` (from :func:`place_rows`, covering every place given) saves encoding them again.
    """
    from carto.model import PLACE_KINDS

    rows = rows or place_rows(places, points=points)
    return point_cluster(
        rows.json_of(places["id"]),
        name=i18n.t("dataset.places", lang),
        fields=[i18n.t(f"field.{f}", lang) for f in ("name", "kind", "publics", "id")],
        kinds=[i18n.label(k, lang) for k in PLACE_KINDS],
        extra=rows.extra,
        colours=[palette.PLACE_FILL] * len(PLACE_KINDS),
        radius=7,
        stroke=PLACE_COLOUR,
        weight=2,
        opacity=0.85,
        disable_at=11,
        css="carto-place",
    )


def actors_layer(
    actors: gpd.GeoDataFrame, lang: str, *, points: pd.DataFrame | None = None, rows: PointRows | None = None
) -> CompactMarkerCluster:
    """Actors as dots coloured by type, clustered; tooltip ``name [id]``, popup type and sector.

    ``rows`` (from :func:`actor_rows`, covering every actor given) saves encoding them again.
    """
    rows = rows or actor_rows(actors, points=points)
    return point_cluster(
        rows.json_of(actors["id"]),
        name=i18n.t("dataset.actors", lang),
        fields=[i18n.t(f"field.{f}", lang) for f in ("name", "type", "sector", "id")],
        kinds=[i18n.label(t, lang) for t in ACTOR_TYPES],
        extra=[i18n.label(s, lang) for s in rows.extra],
        colours=[ACTOR_COLOURS[t] for t in ACTOR_TYPES],
        radius=6,
        stroke="#ffffff",
        weight=1,
        opacity=0.95,
        disable_at=13,
        css="carto-actor",
    )


def node_points(actors: gpd.GeoDataFrame, places: gpd.GeoDataFrame) -> pd.DataFrame:
    """Longitude and latitude of every node (actor or place), indexed by node id."""
    frames = []
    for frame in (actors, places):
        if len(frame):
            points = frame.geometry.representative_point()
            frames.append(
                pd.DataFrame({"lon": points.x.to_numpy(), "lat": points.y.to_numpy()}, index=frame["id"].to_numpy())
            )
    if not frames:
        return pd.DataFrame({"lon": [], "lat": []})
    return pd.concat(frames)


def relation_lines(relations: pd.DataFrame, points: pd.DataFrame) -> gpd.GeoDataFrame:
    """One straight line per relation whose two ends have a position; others are left out."""
    target_points = points.rename(columns={"lon": "lon_target", "lat": "lat_target"})
    ends = relations.join(points, on="source").join(target_points, on="target")
    ends = ends.dropna(subset=["lon", "lat", "lon_target", "lat_target"])
    start = np.round(ends[["lon", "lat"]].to_numpy(dtype=float), PRECISION)
    stop = np.round(ends[["lon_target", "lat_target"]].to_numpy(dtype=float), PRECISION)
    geometry = shapely.linestrings(np.stack([start, stop], axis=1)) if len(ends) else np.array([], dtype=object)
    return gpd.GeoDataFrame(ends[relations.columns], geometry=geometry, crs="EPSG:4326")


def relations_layer(
    lines: gpd.GeoDataFrame, lang: str, *, name: str | None = None, emphasis: bool = False, muted: bool = False
) -> StyledGeoJson:
    """Relations styled by kind, width by weight, tooltip kind/dimension/weight, arrows if directed.

    ``muted``: fainter, behind a selection drawn with ``emphasis``.
    """
    frame = pd.DataFrame(
        {
            "id": lines["id"].astype(str).to_numpy(),
            "kind": lines["kind"].astype(str).to_numpy(),
            "kind_label": [i18n.label(v, lang) for v in lines["kind"]],
            "dimension_label": [i18n.label(v if isinstance(v, str) else None, lang) for v in lines["dimension"]],
            "weight": relation_weights(lines).round(2).to_numpy(),
            "directed": lines["directed"].astype("boolean").fillna(False).astype(bool).to_numpy()
            if "directed" in lines
            else False,
        }
    )
    base = [RELATION_STYLE.get(kind, RELATION_STYLE["network"]) for kind in frame["kind"]]
    # Thin and translucent unless emphasised: the territories (and their choropleth) stay readable below.
    weight = frame["weight"].to_numpy(float)
    widths = 3 + np.minimum(5.0, weight) if emphasis else 1 + np.minimum(2.0, weight / 2)
    opacity = 0.95 if emphasis else MUTED_OPACITY if muted else 0.55
    styles, frame[STYLE_PROPERTY] = style_table(
        ((b["color"], b["dashArray"], w, opacity) for b, w in zip(base, widths.tolist(), strict=True)),
        ["color", "dashArray", "weight", "opacity"],
    )
    layer = StyledGeoJson(
        frame,
        lines.geometry.to_numpy(),
        styles,
        name=name or i18n.t("dataset.relations", lang),
        tooltip=[
            (f"{f}_label" if f != "weight" else f, i18n.t(f"field.{f}", lang)) for f in ("kind", "dimension", "weight")
        ],
    )
    if bool(frame["directed"].any()):
        layer.add_child(DirectionArrows(layer))
    return layer


@dataclass(frozen=True)
class MapRelations:
    """What the map draws for relations: ``individual`` lines, ``aggregated`` flows, or ``mixed``.

    ``lines`` is a GeoDataFrame of relation lines (individual, mixed) or of flows between territory
    points with ``relations`` (count) and one column per kind (aggregated). ``level`` is the
    territory level of the aggregation; ``internal`` counts relations whose two ends fall in the
    same territory at that level (no line to draw); ``total`` is the number of relations.
    Mixed (a territory chosen): ``lines`` are the relations inside it, ``flows`` the others
    grouped between the territory and the territories of ``level`` where their outer ends are.
    """

    mode: str
    lines: gpd.GeoDataFrame
    total: int
    level: str | None = None
    internal: int = 0
    threshold: int = RELATION_THRESHOLD
    flows: gpd.GeoDataFrame | None = None

    @property
    def drawn(self) -> int:
        """How many lines the map draws one by one (relations and flows)."""
        return len(self.lines) + (len(self.flows) if self.flows is not None else 0)

    @property
    def across(self) -> int:
        """Mixed: how many relations the flows across the territory's border stand for."""
        return int(self.flows["relations"].sum()) if self.flows is not None and len(self.flows) else 0


def _flows_at_levels(
    relations: pd.DataFrame,
    where_at: Callable[[str], pd.Series],
    levels: Sequence[str],
    anchors: pd.DataFrame,
    *,
    threshold: int,
) -> tuple[gpd.GeoDataFrame, str | None, int]:
    """Flows at the first of ``levels`` giving at most ``threshold`` of them (else the last tried).

    ``where_at(level)`` gives each node's territory at that level. Returns the flow lines between
    the territories' anchors, the level, and how many relations fell inside one territory.
    """
    chosen: pd.DataFrame | None = None
    chosen_level: str | None = None
    for level in levels:
        pairs = flows.aggregate_flows(relations, where_at(level).dropna())
        chosen, chosen_level = pairs, level
        if int((pairs["source_code"] != pairs["target_code"]).sum()) <= threshold:
            break
    if chosen is None:
        return gpd.GeoDataFrame({"relations": []}, geometry=[], crs="EPSG:4326"), None, 0
    internal = int(chosen.loc[chosen["source_code"] == chosen["target_code"], "relations"].sum())
    between = chosen[chosen["source_code"] != chosen["target_code"]].reset_index(drop=True)
    start = np.round(anchors.reindex(between["source_code"]).to_numpy(dtype=float), PRECISION)
    stop = np.round(anchors.reindex(between["target_code"]).to_numpy(dtype=float), PRECISION)
    geometry = shapely.linestrings(np.stack([start, stop], axis=1)) if len(between) else np.array([], dtype=object)
    return gpd.GeoDataFrame(between, geometry=geometry, crs="EPSG:4326"), chosen_level, internal


def relations_for_map(
    relations: pd.DataFrame,
    points: pd.DataFrame,
    territories: gpd.GeoDataFrame,
    node_territory: pd.Series,
    *,
    threshold: int = RELATION_THRESHOLD,
    levels: Sequence[str] = AGGREGATION_LEVELS,
    ancestors: Mapping[str, pd.Series] | None = None,
    anchors: pd.DataFrame | None = None,
    node_at_level: Mapping[str, pd.Series] | None = None,
) -> MapRelations:
    """Individual lines when at most ``threshold`` relations; else flows between territories.

    Flows use the finest level in ``levels`` present in ``territories`` that yields at most
    ``threshold`` pairs (else the coarsest tried). Each flow is a line between the two
    territories' representative points, ``relations`` = count, one count column per kind.
    ``ancestors`` may hold :func:`carto.analysis.hierarchy.ancestors_at` per level and ``anchors`` the
    territories' points (:func:`territory_anchors`), ``node_at_level`` each node's territory at
    each level, all computed once per data.
    """
    if len(relations) <= threshold:
        return MapRelations("individual", relation_lines(relations, points), total=len(relations), threshold=threshold)
    present = [lv for lv in levels if lv in set(territories["level"])]

    def where_at(level: str) -> pd.Series:
        if node_at_level is not None and level in node_at_level:
            return node_at_level[level]
        up = ancestors[level] if ancestors is not None and level in ancestors else None
        return node_territory.map(up if up is not None else hierarchy.ancestors_at(territories, level))

    xy = anchors if anchors is not None else territory_anchors(territories)
    lines, level, internal = _flows_at_levels(relations, where_at, present, xy, threshold=threshold)
    return MapRelations("aggregated", lines, total=len(relations), level=level, internal=internal, threshold=threshold)


def territory_relations_for_map(
    relations: pd.DataFrame,
    points: pd.DataFrame,
    home: str,
    inside_nodes: Collection[str],
    node_at_level: Mapping[str, pd.Series],
    anchors: pd.DataFrame,
    *,
    levels: Sequence[str],
    threshold: int = RELATION_THRESHOLD,
    flow_threshold: int = 40,
    reach: float | None = None,
) -> MapRelations:
    """A chosen territory ``home``: its inside relations one by one, the others as flows across its border.

    A relation with an end outside (``inside_nodes`` are the nodes in ``home``) becomes part of a
    flow between ``home`` and the territory of its outer end, at the first of ``levels`` giving at
    most ``flow_threshold`` flows: a few labelled spokes instead of one line per relation. More than
    ``threshold`` relations inside: ``mode`` is ``aggregated`` as in :func:`relations_for_map`.
    ``reach`` (degrees) shortens each flow to a spoke of at most that length pointing towards its
    other end, so that the spokes stay in a frame fitted to the territory.
    """
    inside = set(inside_nodes)
    both_in = (relations["source"].isin(inside) & relations["target"].isin(inside)).to_numpy(dtype=bool)
    if int(both_in.sum()) > threshold:
        return MapRelations("aggregated", gpd.GeoDataFrame({"relations": []}, geometry=[], crs="EPSG:4326"),
                            total=len(relations), threshold=threshold)
    at_home = pd.Series(home, index=pd.Index(sorted(inside), dtype=object), dtype=object)

    def where_at(level: str) -> pd.Series:
        outer = node_at_level[level]
        return pd.concat([outer[~outer.index.isin(inside)], at_home])

    present = [lv for lv in levels if lv in node_at_level]
    flow_lines, level, internal = _flows_at_levels(
        relations[~both_in], where_at, present, anchors, threshold=flow_threshold
    )
    if reach is not None and len(flow_lines):
        # From home towards the other end, whichever order the pair is in, then cut to a spoke.
        other = np.where(flow_lines["source_code"] == home, flow_lines["target_code"], flow_lines["source_code"])
        start = np.round(anchors.reindex([home] * len(other)).to_numpy(dtype=float), PRECISION)
        stop = np.round(anchors.reindex(other).to_numpy(dtype=float), PRECISION)
        spokes = shorten_lines(np.asarray(shapely.linestrings(np.stack([start, stop], axis=1))), reach)
        flow_lines = flow_lines.set_geometry(spokes, crs="EPSG:4326")
    return MapRelations(
        "mixed",
        relation_lines(relations[both_in], points),
        total=len(relations),
        level=level,
        internal=internal,
        threshold=threshold,
        flows=flow_lines,
    )


def shorten_lines(lines: np.ndarray, reach: float) -> np.ndarray:
    """Two-point lines cut to at most ``reach`` from their start, in the same direction (rounded).

    Lengths are measured as the map shows them: a degree of longitude counts ``cos(latitude)`` of
    a degree of latitude, so ``reach`` is in degrees of latitude.
    """
    xy = shapely.get_coordinates(lines).reshape(-1, 2, 2)
    start, stop = xy[:, 0], xy[:, 1]
    step = (stop - start) * np.stack([np.cos(np.radians(start[:, 1])), np.ones(len(start))], axis=1)
    length = np.hypot(*step.T)
    scale = np.minimum(1.0, reach / np.maximum(length, 1e-12))[:, None]
    cut = np.round(start + (stop - start) * scale, PRECISION)
    return np.asarray(shapely.linestrings(np.stack([start, cut], axis=1)))


@dataclass(frozen=True)
class MapPoints:
    """What the map draws for actors and places: each one (``individual``), or ``aggregated``.

    Aggregated, ``counts`` has one row per territory of ``level`` holding any: ``code``,
    ``name``, ``x``/``y`` (a point inside it), ``actors`` and ``places``. ``total`` is the
    number of actors and places.
    """

    mode: str
    total: int
    counts: pd.DataFrame | None = None
    level: str | None = None
    threshold: int = POINT_THRESHOLD


def points_for_map(
    actors: pd.DataFrame,
    places: pd.DataFrame,
    where: pd.Series,
    anchors: pd.DataFrame,
    names: pd.Series,
    *,
    level: str,
    threshold: int = POINT_THRESHOLD,
) -> MapPoints:
    """Every actor and place when at most ``threshold``; else their counts per territory of ``level``.

    ``where`` gives each node's territory at ``level`` (by node id), ``anchors`` each
    territory's point (:func:`territory_anchors`), ``names`` its name (by code).
    """
    total = len(actors) + len(places)
    if total <= threshold:
        return MapPoints("individual", total, threshold=threshold)
    counts = pd.DataFrame(
        {
            "actors": where.reindex(actors["id"].to_numpy()).value_counts(),
            "places": where.reindex(places["id"].to_numpy()).value_counts(),
        }
    ).fillna(0)
    counts = counts[counts.index.isin(anchors.index)].astype("int64").sort_index()
    xy = anchors.reindex(counts.index)
    frame = pd.DataFrame(
        {
            "code": counts.index.astype(str),
            "name": names.reindex(counts.index).fillna(pd.Series(counts.index, index=counts.index)).astype(str),
            "x": xy["x"].to_numpy(),
            "y": xy["y"].to_numpy(),
            "actors": counts["actors"].to_numpy(),
            "places": counts["places"].to_numpy(),
        }
    ).reset_index(drop=True)
    return MapPoints("aggregated", total, frame, level, threshold)


def count_bubbles(points: MapPoints, lang: str, *, max_radius: float = 28.0) -> CountBubbles:
    """The aggregated actors and places: ``[lat, lon, tooltip, radius]`` per territory."""
    counts = points.counts if points.counts is not None else pd.DataFrame()
    totals = (counts["actors"] + counts["places"]).to_numpy(dtype=float) if len(counts) else np.array([])
    largest = float(totals.max()) if len(totals) else 1.0
    radii = np.round(4.0 + (max_radius - 4.0) * np.sqrt(totals / max(largest, 1.0)), 1)
    rows = [
        [
            round(float(y), PRECISION),
            round(float(x), PRECISION),
            i18n.t(
                "explorer.map.bubble",
                lang,
                name=name,
                code=code,
                actors=format_number(a, lang),
                places=format_number(p, lang),
            ),
            float(r),
        ]
        for name, code, x, y, a, p, r in zip(
            counts.get("name", []), counts.get("code", []), counts.get("x", []), counts.get("y", []),
            counts.get("actors", []), counts.get("places", []), radii.tolist(), strict=True,
        )
    ]
    return CountBubbles(rows, CLUSTER_COLOUR)


FLOW_WIDTHS = (2.0, 3.5, 5.0, 7.0, 9.5)


def flow_widths(counts: pd.Series) -> np.ndarray:
    """Line width of each flow: one of five widths by the square root of its share of the largest.

    Five classes, not a width per flow, so the browser gets five styles, not one per line.
    """
    values = counts.to_numpy(dtype=float)
    if not len(values):
        return np.array([], dtype=float)
    share = np.sqrt(values / max(1.0, float(values.max())))
    index = np.minimum((share * len(FLOW_WIDTHS)).astype(int), len(FLOW_WIDTHS) - 1)
    return np.asarray(FLOW_WIDTHS, dtype=float)[index]


def territory_anchors(territories: gpd.GeoDataFrame) -> pd.DataFrame:
    """``x``/``y`` of a point inside each territory, by code: where flows start and end."""
    anchor = territories.set_index("code").geometry.representative_point()
    return pd.DataFrame({"x": anchor.x, "y": anchor.y})


def flows_layer(
    flow_lines: gpd.GeoDataFrame, territories: gpd.GeoDataFrame, lang: str, *, muted: bool = False
) -> StyledGeoJson:
    """Aggregated flows: width by count; tooltip ``A → B``, the count and its breakdown by kind.

    ``muted``: fainter, behind a selection.

    The breakdown is one short text listing only the kinds present, to keep the payload small.
    """
    names = territories.set_index("code")["name"].astype(str)
    source = flow_lines["source_code"].map(names).fillna(flow_lines["source_code"]).to_numpy()
    target = flow_lines["target_code"].map(names).fillna(flow_lines["target_code"]).to_numpy()
    labels = {kind: i18n.label(kind, lang) for kind in RELATION_KINDS}
    counts = flow_lines[list(RELATION_KINDS)].astype(int).to_numpy()
    frame = pd.DataFrame(
        {
            "label": [f"{a} → {b}" for a, b in zip(source, target, strict=True)],
            "relations": [format_number(n, lang) for n in flow_lines["relations"].astype(int).tolist()],
            "kinds": [
                " · ".join(
                    f"{labels[k]} {format_number(n, lang)}" for k, n in zip(RELATION_KINDS, row, strict=True) if n
                )
                for row in counts.tolist()
            ],
            "width": flow_widths(flow_lines["relations"]),
        }
    )
    styles, frame[STYLE_PROPERTY] = style_table(
        ((FLOW_COLOUR, w, MUTED_OPACITY if muted else 0.55) for w in frame["width"].tolist()),
        ["color", "weight", "opacity"],
    )
    return StyledGeoJson(
        frame,
        flow_lines.geometry.to_numpy(),
        styles,
        name=i18n.t("explorer.map.flows", lang),
        tooltip=[
            ("label", i18n.t("explorer.map.flow", lang)),
            ("relations", i18n.t("dataset.relations", lang)),
            ("kinds", i18n.t("explorer.map.by_kind", lang)),
        ],
    )


def selection_layer(
    points: pd.DataFrame,
    names: pd.Series,
    highlight: set[str],
    selected: set[str],
    ego_lines: gpd.GeoDataFrame | None,
    lang: str,
    *,
    max_markers: int = 2000,
) -> folium.FeatureGroup:
    """The selection drawn on top: ego relations bold, ego nodes ringed, selected nodes larger.

    Markers keep the ``name [id]`` tooltip so that a click on them selects again.
    """
    group = folium.FeatureGroup(name=i18n.t("explorer.map.selection", lang))
    if ego_lines is not None and len(ego_lines):
        relations_layer(ego_lines, lang, name=i18n.t("explorer.map.selection", lang), emphasis=True).add_to(group)
    ids = [n for n in sorted(highlight, key=lambda n: (n not in selected, n)) if n in points.index][:max_markers]
    located = points.loc[ids, ["lat", "lon"]].astype(float).round(PRECISION)
    rows = [
        [lat, lon, str(names.get(node, node)), node, 0 if node in selected else 1]
        for node, lat, lon in zip(ids, located["lat"].tolist(), located["lon"].tolist(), strict=True)
    ]
    group.add_child(RingMarkers(rows, [SELECTED_RING, EGO_RING]))
    return group


def legend_html(
    lang: str,
    *,
    actor_types: list[str] | None = None,
    aggregated: bool = False,
    with_flows: bool = False,
    indicator_label: str | None = None,
    indicator: pd.Series | None = None,
    indicator_column: str | None = None,
) -> str:
    """Legend body: relation kinds (or flows, or both), actor types present, places, choropleth classes."""
    parts = [f"<b>{html.escape(i18n.t('dataset.relations', lang))}</b><br>"]
    flows_entry = (
        f"<svg width='28' height='10'><line x1='0' y1='5' x2='28' y2='5' stroke='{FLOW_COLOUR}' "
        f"stroke-width='5'/></svg> {html.escape(i18n.t('explorer.map.flows', lang))}<br>"
    )
    if aggregated:
        parts.append(flows_entry)
    else:
        if with_flows:
            parts.append(flows_entry)
        for kind in RELATION_KINDS:
            style = RELATION_STYLE[kind]
            dash = style["dashArray"] or ""
            arrow = " ►" if kind == "referral" else ""
            parts.append(
                f"<svg width='28' height='10'><line x1='0' y1='5' x2='28' y2='5' stroke='{style['color']}' "
                f"stroke-width='3' stroke-dasharray='{dash}'/></svg> "
                f"{html.escape(i18n.label(kind, lang))}{arrow}<br>"
            )
    # The actor types folded (a click opens them): the legend leaves the map visible.
    parts.append(f"<details><summary><b>{html.escape(i18n.t('dataset.actors', lang))}</b></summary>")
    for actor_type in actor_types if actor_types is not None else list(ACTOR_TYPES):
        colour = ACTOR_COLOURS.get(actor_type, ACTOR_COLOURS["other"])
        parts.append(
            f"<span style='display:inline-block;width:10px;height:10px;border-radius:5px;"
            f"background:{colour}'></span> {html.escape(i18n.label(actor_type, lang))}<br>"
        )
    parts.append(
        "</details>"
        f"<span style='display:inline-block;width:10px;height:10px;border-radius:6px;border:2px solid "
        f"{PLACE_COLOUR}'></span> {html.escape(i18n.t('dataset.places', lang))}"
    )
    if indicator is not None:
        shown = classes_legend(
            indicator_label or "", class_limits(indicator), lambda v: format_indicator(indicator_column, v, lang)
        )
        parts.append(f"<br>{shown}")
    return "".join(parts)


def fit_bounds_of(points: pd.DataFrame, ids: Sequence[str]) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` around the given nodes, or None if none has a position."""
    known = points.reindex([i for i in ids if i in points.index]).dropna()
    if known.empty:
        return None
    pad = 0.01
    return [
        [float(known["lat"].min()) - pad, float(known["lon"].min()) - pad],
        [float(known["lat"].max()) + pad, float(known["lon"].max()) + pad],
    ]


def overview_map(
    territories: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    actors: gpd.GeoDataFrame,
    relations: pd.DataFrame,
    lang: str,
    *,
    tiles: str = "osm",
) -> folium.Map:
    """The whole picture on one map: boundaries, relations, places, actors, legend, layer control."""
    if len(territories):
        minx, miny, maxx, maxy = territories.total_bounds
    else:
        minx, miny, maxx, maxy = METROPOLITAN_FRANCE
    m = offline.make_map(((miny + maxy) / 2, (minx + maxx) / 2), 8, tiles=tiles)
    territories_layer(territories, lang, tolerance=simplify_tolerance((minx, miny, maxx, maxy))).add_to(m)
    if len(relations):
        relations_layer(relation_lines(relations, node_points(actors, places)), lang).add_to(m)
    places_layer(places, lang).add_to(m)
    actors_layer(actors, lang).add_to(m)
    present = [t for t in ACTOR_TYPES if t in set(actors["type"])]
    m.add_child(Legend(legend_html(lang, actor_types=present)))
    folium.LayerControl(collapsed=True).add_to(m)
    if len(territories):
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return offline.localize_assets(m)

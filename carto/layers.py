"""Data → folium layers. Pure: frames in, folium objects out; no database, no streamlit."""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import pandas as pd
from branca.element import MacroElement, Template
from folium.plugins import MarkerCluster

from carto import i18n, offline
from carto.model import ACTOR_TYPES, RELATION_KINDS

# Relation kinds: formal partnership solid, informal network dashed, referral dotted with an arrow
# head drawn by the direction of the line; affinity and tension in their own colours.
RELATION_STYLE: dict[str, dict[str, object]] = {
    "partnership": {"color": "#1f4e9c", "dashArray": None},
    "network": {"color": "#2a9d8f", "dashArray": "6 4"},
    "referral": {"color": "#e07a1f", "dashArray": "2 4"},
    "affinity": {"color": "#6a3d9a", "dashArray": None},
    "tension": {"color": "#d62828", "dashArray": "10 3 2 3"},
}

ACTOR_COLOURS: dict[str, str] = dict(
    zip(
        ACTOR_TYPES,
        (
            "#e41a1c",
            "#377eb8",
            "#4daf4a",
            "#984ea3",
            "#ff7f00",
            "#a65628",
            "#f781bf",
            "#1b9e77",
            "#7570b3",
            "#66a61e",
            "#e6ab02",
            "#666666",
            "#999999",
        ),
        strict=True,
    )
)

PLACE_COLOUR = "#222222"
TERRITORY_STYLE = {"color": "#555555", "weight": 1, "fillColor": "#f2efe6", "fillOpacity": 0.35}


def _tooltip_html(rows: list[tuple[str, object]]) -> str:
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(k)}</th>"
        f"<td>{html.escape('' if v is None or v is pd.NA else str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table>{cells}</table>"


def territories_layer(territories: gpd.GeoDataFrame, lang: str, *, name: str | None = None) -> folium.GeoJson:
    """Boundaries with a tooltip giving name, code, level and population."""
    frame = territories[["code", "name", "level", "population", "geometry"]].copy()
    frame["level"] = [i18n.label(v, lang) for v in frame["level"]]
    frame["population"] = frame["population"].astype("Int64").astype(str).replace("<NA>", "")
    return folium.GeoJson(
        frame.to_json(drop_id=True),
        name=name or i18n.t("dataset.territories", lang),
        style_function=lambda _feature: TERRITORY_STYLE,
        highlight_function=lambda _feature: {"weight": 3, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "code", "level", "population"],
            aliases=[i18n.t(f"field.{f}", lang) for f in ("name", "code", "level", "population")],
        ),
    )


def places_layer(places: gpd.GeoDataFrame, lang: str) -> folium.FeatureGroup:
    """Inhabited places as dark rings, sized by population, with their publics in the popup."""
    group = folium.FeatureGroup(name=i18n.t("dataset.places", lang))
    for row in places.itertuples(index=False):
        point = row.geometry.representative_point()
        population = int(row.population) if pd.notna(row.population) else None
        radius = 6 + min(10, (population or 0) ** 0.5 / 15)
        info = _tooltip_html(
            [
                (i18n.t("field.name", lang), row.name),
                (i18n.t("field.kind", lang), i18n.label(row.kind, lang)),
                (i18n.t("field.population", lang), population),
                (i18n.t("field.publics", lang), row.publics),
            ]
        )
        folium.CircleMarker(
            location=(point.y, point.x),
            radius=radius,
            color=PLACE_COLOUR,
            weight=2,
            fill=True,
            fill_color="#ffffff",
            fill_opacity=0.8,
            tooltip=html.escape(str(row.name)),
            popup=folium.Popup(info, max_width=320),
        ).add_to(group)
    return group


def actors_layer(actors: gpd.GeoDataFrame, lang: str) -> MarkerCluster:
    """Actors as coloured dots (colour = type), clustered so hundreds stay readable."""
    cluster = MarkerCluster(
        name=i18n.t("dataset.actors", lang),
        options={"disableClusteringAtZoom": 13, "showCoverageOnHover": False},
    )
    for row in actors.itertuples(index=False):
        info = _tooltip_html(
            [
                (i18n.t("field.name", lang), row.name),
                (i18n.t("field.type", lang), i18n.label(row.type, lang)),
                (i18n.t("field.sector", lang), i18n.label(row.sector, lang)),
                (i18n.t("field.id", lang), row.id),
            ]
        )
        folium.CircleMarker(
            location=(row.geometry.y, row.geometry.x),
            radius=6,
            color="#ffffff",
            weight=1,
            fill=True,
            fill_color=ACTOR_COLOURS.get(row.type, ACTOR_COLOURS["other"]),
            fill_opacity=0.95,
            tooltip=html.escape(str(row.name)),
            popup=folium.Popup(info, max_width=320),
        ).add_to(cluster)
    return cluster


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
    geometry = gpd.GeoSeries.from_xy(ends["lon"], ends["lat"]).shortest_line(
        gpd.GeoSeries.from_xy(ends["lon_target"], ends["lat_target"])
    )
    return gpd.GeoDataFrame(ends[relations.columns], geometry=geometry.to_numpy(), crs="EPSG:4326")


def relations_layer(lines: gpd.GeoDataFrame, lang: str) -> folium.GeoJson:
    """Relations styled by kind, width by weight, with a tooltip naming kind and dimension."""
    frame = lines[["id", "kind", "dimension", "weight", "geometry"]].copy()
    frame["kind_label"] = [i18n.label(v, lang) for v in frame["kind"]]
    frame["dimension_label"] = [i18n.label(v, lang) for v in frame["dimension"]]
    frame["weight"] = frame["weight"].astype(float).fillna(1.0)

    def style(feature: dict) -> dict:
        props = feature["properties"]
        base = RELATION_STYLE.get(props["kind"], RELATION_STYLE["network"])
        return {
            "color": base["color"],
            "dashArray": base["dashArray"],
            "weight": 1 + min(5.0, float(props["weight"])),
            "opacity": 0.7,
        }

    return folium.GeoJson(
        frame.to_json(drop_id=True),
        name=i18n.t("dataset.relations", lang),
        style_function=style,
        tooltip=folium.GeoJsonTooltip(
            fields=["kind_label", "dimension_label", "weight"],
            aliases=[i18n.t(f"field.{f}", lang) for f in ("kind", "dimension", "weight")],
        ),
    )


_LEGEND_TEMPLATE = """
{% macro html(this, kwargs) %}
<div class="carto-legend" style="position:absolute;bottom:24px;left:10px;z-index:1000;background:#fff;
 padding:8px 10px;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px sans-serif;
 max-height:60%;overflow:auto">{{ this.body }}</div>
{% endmacro %}
"""


class Legend(MacroElement):
    """A fixed HTML legend drawn over the map."""

    def __init__(self, body: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.body = body
        self._template = Template(_LEGEND_TEMPLATE)


def legend_html(lang: str, *, actor_types: list[str] | None = None) -> str:
    """Legend body: relation kinds, actor types present, and the place symbol."""
    parts = [f"<b>{html.escape(i18n.t('dataset.relations', lang))}</b><br>"]
    for kind in RELATION_KINDS:
        style = RELATION_STYLE[kind]
        dash = style["dashArray"] or ""
        parts.append(
            f"<svg width='28' height='10'><line x1='0' y1='5' x2='28' y2='5' stroke='{style['color']}' "
            f"stroke-width='3' stroke-dasharray='{dash}'/></svg> {html.escape(i18n.label(kind, lang))}<br>"
        )
    parts.append(f"<b>{html.escape(i18n.t('dataset.actors', lang))}</b><br>")
    for actor_type in actor_types if actor_types is not None else list(ACTOR_TYPES):
        colour = ACTOR_COLOURS.get(actor_type, ACTOR_COLOURS["other"])
        parts.append(
            f"<span style='display:inline-block;width:10px;height:10px;border-radius:5px;"
            f"background:{colour}'></span> {html.escape(i18n.label(actor_type, lang))}<br>"
        )
    parts.append(
        f"<span style='display:inline-block;width:10px;height:10px;border-radius:6px;border:2px solid "
        f"{PLACE_COLOUR}'></span> {html.escape(i18n.t('dataset.places', lang))}"
    )
    return "".join(parts)


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
        minx, miny, maxx, maxy = (-5.0, 42.0, 8.0, 51.0)  # metropolitan France
    m = offline.make_map(((miny + maxy) / 2, (minx + maxx) / 2), 8, tiles=tiles)
    territories_layer(territories, lang).add_to(m)
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

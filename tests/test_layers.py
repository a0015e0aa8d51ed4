"""Folium layers: exact feature counts, style per kind, level of detail, payload shrinking."""

from __future__ import annotations

import json

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon

from carto.model import ACTOR_TYPES, SECTORS
from carto.render import layers, leaflet, offline

POINTS = pd.DataFrame({"lon": [0.5, 0.6, 1.5, 1.2], "lat": [45.5, 45.4, 45.5, 45.8]}, index=["A1", "A2", "A3", "P1"])
NODE_TERRITORY = pd.Series({"A1": "C1", "A2": "C1", "A3": "C2", "P1": "C2"})


def _tooltip_fields(layer) -> list[str]:
    (tooltip,) = [c for c in layer._children.values() if c.__class__.__name__ == "TextTooltip"]
    return json.loads(tooltip.fields_json)


def _geojson(layer) -> dict:
    return json.loads(layer.geojson_text)


def _rel(rows: list[tuple[str, str, str, str, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "target": [r[2] for r in rows],
            "kind": [r[3] for r in rows],
            "dimension": ["professional"] * len(rows),
            "weight": [2.0] * len(rows),
            "directed": [r[4] for r in rows],
        }
    )


FOUR = _rel(
    [
        ("R1", "A1", "A2", "partnership", False),  # C1–C1: internal
        ("R2", "A1", "A3", "partnership", False),  # C1–C2
        ("R3", "A3", "A2", "network", False),  # C2–C1 undirected: the same flow as C1–C2
        ("R4", "A3", "A1", "referral", True),  # C2→C1 directed: its own flow
    ]
)


def test_territories_layer_features_tooltip_and_choropleth(territories):
    indicator = pd.Series({"C1": 1.0, "C2": 3.0})
    layer = layers.territories_layer(territories, "fr", indicator=indicator, indicator_label="Acteurs")
    features = _geojson(layer)["features"]
    assert [f["properties"]["label"] for f in features] == [
        "Alpha [C1]",
        "Bêta [C2]",
        "Département [D1]",
        "Interco [E1]",
    ]
    # quantile classes of {1, 3}: 1 falls in the first class, 3 in the last; no value: base fill
    fills = [layer.style_of(f)["fillColor"] for f in features]
    assert fills == ["#fef0d9", "#b30000", "#f2efe6", "#f2efe6"]
    assert _tooltip_fields(layer) == ["label", "level", "population", "indicator"]


def test_territory_outlines_are_rounded_and_simplified():
    wiggly = Polygon([(0.123456789, 45.0), (0.5, 45.0000001), (1.0, 45.0), (1.0, 46.0), (0.0, 46.0)])
    frame = gpd.GeoDataFrame(
        {"code": ["X"], "name": ["X"], "level": ["commune"], "parent_code": [None], "population": [1]},
        geometry=[wiggly],
        crs="EPSG:4326",
    )
    tolerance = layers.simplify_tolerance(frame.total_bounds)
    assert tolerance == pytest.approx(1 / 1000 / 2)
    ring = _geojson(layers.territories_layer(frame, "fr", tolerance=tolerance))["features"][0]["geometry"]
    coords = ring["coordinates"][0]
    assert [0.5, 45.0] not in coords  # the 0.1 mm bump is simplified away
    assert [0.12346, 45.0] in coords
    assert all(round(v, 5) == v for xy in coords for v in xy)


def test_actors_layer_sends_one_compact_row_per_actor(actors):
    layer = layers.actors_layer(actors, "fr")
    assert json.loads(layer.rows_json) == [
        [45.5, 0.5, "A1", "CCAS Alpha", ACTOR_TYPES.index("ccas"), SECTORS.index("social")],
        [45.4, 0.6, "A2", "CAF", ACTOR_TYPES.index("caf"), SECTORS.index("social")],
        [45.5, 1.5, "A3", "Asso Bêta", ACTOR_TYPES.index("association"), SECTORS.index("youth")],
    ]
    assert "bindTooltip(esc(row[3]) + ' [' + esc(row[2]) + ']')" in layer.callback


def test_places_layer_rows(places):
    layer = layers.places_layer(places, "en")
    assert json.loads(layer.rows_json) == [[45.8, 1.2, "P1", "Quartier Nord", 0, 0]]  # neighbourhood, first public


def test_relations_layer_styles_each_kind(actors, places, relations):
    lines = layers.relation_lines(relations, POINTS)
    layer = layers.relations_layer(lines, "fr")
    features = _geojson(layer)["features"]
    assert [f["properties"]["id"] for f in features] == ["R1", "R2"]
    assert features[0]["geometry"]["coordinates"] == [[0.5, 45.5], [0.6, 45.4]]
    styles = [layer.style_of(f) for f in features]
    # width 1 + min(2, weight / 2), translucent: the territories stay visible under the lines
    assert styles[0] == {"color": "#1f4e9c", "dashArray": None, "weight": 2.0, "opacity": 0.55}  # partnership, w=2
    assert styles[1] == {"color": "#e07a1f", "dashArray": "2 4", "weight": 1.5, "opacity": 0.55}  # referral, w=1
    arrows = [c for c in layer._children.values() if isinstance(c, leaflet.DirectionArrows)]
    assert len(arrows) == 1  # R2 is directed
    (script,) = [url for _, url in arrows[0].default_js]
    assert offline.local_asset_path(script).is_file()  # served by the app, not a CDN


def test_no_arrows_without_directed_relations(relations):
    undirected = relations.assign(directed=False)
    layer = layers.relations_layer(layers.relation_lines(undirected, POINTS), "fr")
    assert not any(isinstance(c, leaflet.DirectionArrows) for c in layer._children.values())


def test_relations_without_positions_are_left_out(relations):
    missing = relations.assign(target=["A2", "NOWHERE"])
    assert list(layers.relation_lines(missing, POINTS)["id"]) == ["R1"]


def test_relations_below_threshold_are_individual(territories):
    mapped = layers.relations_for_map(FOUR, POINTS, territories, NODE_TERRITORY, threshold=4)
    assert mapped.mode == "individual"
    assert list(mapped.lines["id"]) == ["R1", "R2", "R3", "R4"]


def test_relations_above_threshold_are_aggregated_by_commune(territories):
    mapped = layers.relations_for_map(FOUR, POINTS, territories, NODE_TERRITORY, threshold=3)
    assert (mapped.mode, mapped.level, mapped.total, mapped.internal) == ("aggregated", "commune", 4, 1)
    flows = mapped.lines
    assert list(zip(flows["source_code"], flows["target_code"], flows["relations"], strict=True)) == [
        ("C1", "C2", 2),
        ("C2", "C1", 1),
    ]
    assert list(flows["partnership"]) == [1, 0]
    assert list(flows["network"]) == [1, 0]
    assert list(flows["referral"]) == [0, 1]
    # lines join the territories' representative points
    anchor = territories.set_index("code").geometry.representative_point()
    start = flows.geometry.iloc[0].coords[0]
    assert start == (round(anchor["C1"].x, 5), round(anchor["C1"].y, 5))


def test_too_many_flows_go_up_a_level(territories):
    # Two commune flows > threshold 1: at EPCI level everything is inside E1, nothing to draw.
    mapped = layers.relations_for_map(FOUR, POINTS, territories, NODE_TERRITORY, threshold=1)
    assert (mapped.mode, mapped.level, len(mapped.lines), mapped.internal) == ("aggregated", "epci", 0, 4)


def test_flows_layer_width_by_count_and_breakdown_tooltip(territories):
    mapped = layers.relations_for_map(FOUR, POINTS, territories, NODE_TERRITORY, threshold=3)
    layer = layers.flows_layer(mapped.lines, territories, "fr")
    props = [f["properties"] for f in _geojson(layer)["features"]]
    assert [(p["label"], p["relations"], p["kinds"]) for p in props] == [
        ("Alpha → Bêta", "2", "Partenariat 1 · Réseau 1"),
        ("Bêta → Alpha", "1", "Passage de relais 1"),
    ]
    # five width classes by sqrt(count / max): sqrt(1) → last class, sqrt(0.5) = 0.71 → fourth class
    assert [p["width"] for p in props] == [9.5, 7.0]
    assert _tooltip_fields(layer) == ["label", "relations", "kinds"]


def test_selection_layer_rings_ego_nodes_and_draws_ego_lines(relations):
    names = pd.Series({"A1": "CCAS Alpha", "A2": "CAF", "A3": "Asso", "P1": "Quartier"})
    ego = layers.relation_lines(relations.iloc[:1], POINTS)
    group = layers.selection_layer(POINTS, names, {"A1", "A2"}, {"A1"}, ego, "fr")
    children = list(group._children.values())
    (rings,) = [c for c in children if isinstance(c, leaflet.RingMarkers)]
    assert rings.rows == [[45.5, 0.5, "CCAS Alpha", "A1", 0], [45.4, 0.6, "CAF", "A2", 1]]  # selected first
    assert [style["radius"] for style in rings.styles] == [11, 8]
    lines = [c for c in children if isinstance(c, folium.GeoJson)]
    assert len(_geojson(lines[0])["features"]) == 1


def test_fit_bounds_of_nodes():
    assert layers.fit_bounds_of(POINTS, ["A1", "A3", "ZZ"]) == [[45.49, 0.49], [45.51, 1.51]]
    assert layers.fit_bounds_of(POINTS, ["ZZ"]) is None


def test_points_are_counted_per_territory_above_the_threshold(actors, places):
    # A1, A2 in C1, A3 in C2; P1 in C1. Both communes belong to E1 at the epci level.
    where = pd.Series({"A1": "E1", "A2": "E1", "A3": "E2", "P1": "E1"})
    anchors = pd.DataFrame({"x": [0.5, 1.5], "y": [45.5, 45.6]}, index=["E1", "E2"])
    names = pd.Series({"E1": "Interco Un", "E2": "Interco Deux"})
    assert layers.points_for_map(actors, places, where, anchors, names, level="epci", threshold=4).mode == "individual"
    counted = layers.points_for_map(actors, places, where, anchors, names, level="epci", threshold=3)
    assert (counted.mode, counted.total, counted.level) == ("aggregated", 4, "epci")
    assert counted.counts is not None
    assert counted.counts.to_dict("records") == [
        {"code": "E1", "name": "Interco Un", "x": 0.5, "y": 45.5, "actors": 2, "places": 1},
        {"code": "E2", "name": "Interco Deux", "x": 1.5, "y": 45.6, "actors": 1, "places": 0},
    ]
    bubbles = layers.count_bubbles(counted, "fr")
    # radius 4 + 24 * sqrt(count / largest): 28 for E1 (3 points), 4 + 24 * sqrt(1/3) = 17.9 for E2
    assert bubbles.rows == [
        [45.5, 0.5, "Interco Un [E1] · acteurs : 2, lieux habités : 1 — cliquez pour les voir un à un", 28.0],
        [45.6, 1.5, "Interco Deux [E2] · acteurs : 1, lieux habités : 0 — cliquez pour les voir un à un", 17.9],
    ]


def test_counts_on_the_map_read_as_everywhere_else():
    counted = layers.MapPoints(
        "aggregated",
        12_346,
        pd.DataFrame({"code": ["E1"], "name": ["Interco"], "x": [0.5], "y": [45.5], "actors": [12_345], "places": [1]}),
        "epci",
    )
    (row,) = layers.count_bubbles(counted, "en").rows
    assert "actors: 12,345" in str(row[2])
    (row,) = layers.count_bubbles(counted, "fr").rows
    assert "12\u202f345" in str(row[2])


ANCHORS = pd.DataFrame({"x": [0.5, 1.5, 1.0, 1.0], "y": [45.5, 45.5, 45.5, 45.5]}, index=["C1", "C2", "D1", "E1"])
AT_LEVEL = {"commune": NODE_TERRITORY, "epci": pd.Series("E1", index=NODE_TERRITORY.index)}


def test_a_chosen_territory_draws_its_inside_relations_and_flows_across_its_border():
    mapped = layers.territory_relations_for_map(
        FOUR, POINTS, "C1", ["A1", "A2"], AT_LEVEL, ANCHORS, levels=("commune", "epci")
    )
    # R1 A1–A2 inside C1: a line. R2 C1–C2 and R3 C2–C1 undirected: one flow of 2; R4 C2→C1 directed: its own.
    assert (mapped.mode, list(mapped.lines["id"]), mapped.level, mapped.drawn, mapped.across) == (
        "mixed", ["R1"], "commune", 3, 3
    )
    assert mapped.flows is not None
    assert list(zip(mapped.flows["source_code"], mapped.flows["target_code"], mapped.flows["relations"],
                    strict=True)) == [("C1", "C2", 2), ("C2", "C1", 1)]
    assert list(mapped.flows.geometry.iloc[0].coords) == [(0.5, 45.5), (1.5, 45.5)]


def test_flows_across_the_border_go_up_a_level_and_become_spokes():
    # Two commune flows > 1; at EPCI level the outer end A3 is in E1: C1–E1 (R2, R3) and E1→C1 (R4),
    # still two, and EPCI is the last level tried.
    mapped = layers.territory_relations_for_map(
        FOUR, POINTS, "C1", ["A1", "A2"], AT_LEVEL, ANCHORS, levels=("commune", "epci"), flow_threshold=1, reach=0.2
    )
    assert mapped.flows is not None
    assert (mapped.level, list(mapped.flows["source_code"]), list(mapped.flows["relations"])) == (
        "epci", ["C1", "E1"], [2, 1]
    )
    # Both spokes start at C1's anchor (0.5, 45.5) towards E1's (1.0, 45.5): 0.5° of longitude at 45.5° N
    # shows as 0.5 × cos(45.5°) = 0.5 × 0.700909 = 0.350455, cut to 0.2: 0.2 / 0.350455 = 0.570687 of
    # the way, x = 0.5 + 0.5 × 0.570687 = 0.785343, rounded to 5 decimals
    assert [list(line.coords) for line in mapped.flows.geometry] == [[(0.5, 45.5), (0.78534, 45.5)]] * 2


def test_too_many_inside_relations_fall_back_to_flows():
    mapped = layers.territory_relations_for_map(
        FOUR, POINTS, "C1", ["A1", "A2"], AT_LEVEL, ANCHORS, levels=("commune",), threshold=0
    )
    assert mapped.mode == "aggregated"


def test_shorten_lines_measures_longitude_as_the_map_shows_it():
    lines = np.array([shapely.LineString([(0, 0), (0, 2)]), shapely.LineString([(0, 60), (2, 60)]),
                      shapely.LineString([(0, 0), (0.5, 0)])])
    cut = layers.shorten_lines(lines, 1.0)
    # 2° north cut to 1°; 2° of longitude at 60° N show as 2 × cos 60° = 1, already 1 long; 0.5 < 1 kept
    assert [list(line.coords) for line in cut] == [[(0, 0), (0, 1)], [(0, 60), (2, 60)], [(0, 0), (0.5, 0)]]


def test_muted_relations_and_flows_are_fainter(territories, relations):
    lines = layers.relations_layer(layers.relation_lines(relations, POINTS), "fr", muted=True)
    flows = layers.relations_for_map(FOUR, POINTS, territories, NODE_TERRITORY, threshold=3).lines
    muted_flows = layers.flows_layer(flows, territories, "fr", muted=True)
    assert {style["opacity"] for style in lines.styles} == {0.2}
    assert {style["opacity"] for style in muted_flows.styles} == {0.2}
    assert {style["opacity"] for style in layers.flows_layer(flows, territories, "fr").styles} == {0.55}

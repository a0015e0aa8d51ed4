"""Plain rendering of folium layers: what reaches the page, and that it is not templated twice."""

from __future__ import annotations

import json
import re

import folium
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Point

from carto.render import layers, plain


def test_style_table_keeps_distinct_styles_in_first_seen_order():
    styles, indices = plain.style_table(
        [("#f00", 1, None), ("#00f", 2, "4 2"), ("#f00", 1, None), ("#00f", 3, "4 2")],
        ["color", "weight", "dashArray"],
    )
    assert styles == [
        {"color": "#f00", "weight": 1, "dashArray": None},
        {"color": "#00f", "weight": 2, "dashArray": "4 2"},
        {"color": "#00f", "weight": 3, "dashArray": "4 2"},
    ]
    assert indices == [0, 1, 0, 2]


def test_feature_collection_json_skips_missing_geometries_and_cannot_close_the_script():
    properties = pd.DataFrame({"name": ["</script><b>&", "Bêta", "gone"], "n": [1, 2, 3]})
    geometry = np.array([Point(1.5, 45.25), LineString([(0, 0), (1, 1)]), None], dtype=object)
    text = plain.feature_collection_json(properties, geometry)
    assert "<" not in text and ">" not in text and "&" not in text
    assert "Bêta" in text  # UTF-8 kept, not \u00ea
    assert json.loads(text) == {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "</script><b>&", "n": 1},
                "geometry": {"type": "Point", "coordinates": [1.5, 45.25]},
            },
            {
                "type": "Feature",
                "properties": {"name": "Bêta", "n": 2},
                "geometry": {"type": "LineString", "coordinates": [[0.0, 0.0], [1.0, 1.0]]},
            },
        ],
    }


def _styled_layer(names: list[str]) -> plain.StyledGeoJson:
    properties = pd.DataFrame({"label": names, "style": [0, 1]})
    geometry = np.array([LineString([(0, 45), (1, 46)]), LineString([(2, 44), (3, 47)])], dtype=object)
    styles = [{"color": "#111111"}, {"color": "#222222"}]
    return plain.StyledGeoJson(properties, geometry, styles, hover={"weight": 3}, tooltip=[("label", "Nom")])


def test_styled_geojson_styles_each_feature_from_the_table_and_knows_its_bounds():
    layer = _styled_layer(["a", "b"])
    features = json.loads(layer.geojson_text)["features"]
    assert [layer.style_of(f) for f in features] == [{"color": "#111111"}, {"color": "#222222"}]
    assert layer.get_bounds() == [[44.0, 0.0], [47.0, 3.0]]


def test_a_rendered_page_adds_the_features_once_with_their_style_and_hover():
    m = folium.Map(tiles=None)
    _styled_layer(["Alpha", "Bravo"]).add_to(m)
    page = m.get_root().render()
    assert page.count('"label":"Alpha"') == 1
    assert 'var styles = [{"color":"#111111"},{"color":"#222222"}];' in page
    assert "styles[feature.properties.style]" in page
    assert 'var hover = {"weight":3};' in page
    # folium's own feature list is empty: the features reach the page once, as plain text
    assert re.search(r'_add\(\{"features": \[\]', page)


def test_template_syntax_in_the_data_reaches_the_page_as_text():
    # Branca compiles each rendered part as a template again: data would be evaluated ("42"), or
    # stop every render of the map (an unclosed "{% if" is a TemplateSyntaxError).
    names = ["{{ 7 * 6 }}", "{% if"]
    m = folium.Map(tiles=None)
    _styled_layer(names).add_to(m)
    actors = pd.DataFrame({"id": ["A1"], "name": ["{{ 7 * 6 }}"], "type": ["ccas"], "sector": ["social"]})
    points = pd.DataFrame({"lon": [0.5], "lat": [45.5]}, index=["A1"])
    layers.actors_layer(actors, "fr", points=points).add_to(m)
    page = m.get_root().render()
    assert '"label":"{{ 7 * 6 }}"' in page and '"label":"{% if"' in page
    assert '[45.5,0.5,"A1","{{ 7 * 6 }}",' in page

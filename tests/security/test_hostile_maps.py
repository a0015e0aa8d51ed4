"""Every map the app draws, on hostile names: no template evaluated, nothing live, only plain elements.

The rule has two halves. Data never reaches a Jinja template: every element that renders text
of ours or of the data is a :class:`carto.render.plain.PlainRender`, and the others are folium's
structural pieces, which carry no data (checked on the whole element tree of each map, so a new
layer that forgets the rule fails here). Data never reaches HTML unescaped: in the rendered page
the names appear only inside script-safe JSON (``\\u003c``), read by code that writes text.
"""

from __future__ import annotations

import folium
import hostile_data
import pandas as pd
import pytest
from branca.element import Element, Figure, MacroElement
from folium.map import FitBounds, LayerControl
from shapely.geometry import Point

from carto.analysis import footprint, indicators, network
from carto.analysis import scene as view
from carto.analysis.filters import Filters
from carto.analysis.selection import Selection
from carto.render import explorer, plain, preview
from carto.render.choropleth import choropleth_map

# Folium pieces that hold no text from the data: the map, its tiles, groups, bounds, icon path.
STRUCTURAL = (folium.Map, folium.TileLayer, folium.FeatureGroup, LayerControl, FitBounds, Figure)


def explorer_maps() -> list[folium.Map]:
    d = hostile_data.frames()
    base = view.prepare(d["territories"], d["places"], d["actors"], d["relations"])
    map_base = explorer.prepare_map(base)
    detailed = view.build_scene(base, Filters())
    grouped = view.build_scene(base, Filters(level="commune"))
    chosen = view.focus(detailed, Selection(nodes=("a2",), radius=2))
    inside = view.build_scene(base, Filters(territory="C1", level="commune"))
    detailed_map, inside_map = explorer.plan_map(detailed, map_base), explorer.plan_map(inside, map_base)
    grouped_map = explorer.plan_map(grouped, map_base, threshold=1, point_threshold=3)
    return [
        explorer.explorer_map(detailed_map, chosen, "fr", indicator=pd.Series({"C1": 1.0, "C2": 2.0}),
                              indicator_label="x"),
        explorer.explorer_map(grouped_map, view.focus(grouped, Selection()), "en"),
        explorer.explorer_map(inside_map, view.focus(inside, Selection(territory="C1")), "fr"),
        # the selection's social space over the boundaries (the switch under the map)
        explorer.explorer_map(detailed_map, chosen, "fr", footprint=footprint.selection_footprint(
            chosen.highlight, base.actors, base.places, base.territories, level=view.shown_level(detailed))),
    ]


def summary_map() -> folium.Map:
    d = hostile_data.frames()
    metrics = network.node_metrics(d["actors"], d["places"], d["relations"])
    table = indicators.territory_indicators(
        d["territories"], d["actors"], d["places"], d["relations"], d["schemes"], radius_km=1.0, metrics=metrics
    )
    return choropleth_map(d["territories"], table, "actors_per_10k", "fr", level="commune", highlight="C1")


def preview_map() -> folium.Map:
    frame = hostile_data.frames()["actors"].rename(columns={"name": "<b onmouseover=alert(1)>{{ 7*7 }}</b>"})
    extra = pd.DataFrame({"id": ["x"], "type": ["caf"]}).assign(geometry=[Point(2.1, 46.1)])
    return preview.preview_map(pd.concat([frame, extra], ignore_index=True).pipe(type(frame)), tiles="none")


MAPS = {
    "explorer": explorer_maps,
    "summary": lambda: [summary_map()],
    "import-preview": lambda: [preview_map()],
}


def elements(root: Element) -> list[Element]:
    found, stack = [], [root]
    while stack:
        element = stack.pop()
        found.append(element)
        stack.extend(element._children.values())
    return found


@pytest.mark.parametrize("name", list(MAPS))
def test_every_element_of_every_map_renders_without_templating_the_data(name):
    for m in MAPS[name]():
        templated = [
            type(e).__name__
            for e in elements(m)
            if isinstance(e, MacroElement) and not isinstance(e, (plain.PlainRender, *STRUCTURAL))
        ]
        assert templated == []


@pytest.mark.parametrize("name", list(MAPS))
def test_hostile_names_reach_the_rendered_map_as_inert_text(name):
    for m in MAPS[name]():
        page = m.get_root().render()  # an unclosed "{% if" in the data would raise here
        assert "{{ 7*7 }}" in page  # the template text itself, never its value
        for live in ("<img src=x", "<svg onload", "<iframe", "</script><script>alert", "<b onmouseover"):
            assert live not in page
        # C1's name, or actor a6's: present, as script-safe JSON
        assert "\\u003cimg src=x onerror=" in page or "\\u003csvg onload=alert(4)\\u003e" in page


def test_a_data_layer_refuses_folium_tooltips_and_popups():
    frame = pd.DataFrame({"name": ["a"], plain.STYLE_PROPERTY: [0]})
    geometry = pd.Series([Point(0, 0)]).to_numpy()
    for unsafe in ("popup", "marker"):
        with pytest.raises(TypeError, match="data reaches the map as text only"):
            plain.StyledGeoJson(frame, geometry, [{}], **{unsafe: object()})

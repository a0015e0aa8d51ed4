"""The one choropleth scheme (quantile classes) on the summary's map."""

from __future__ import annotations

import json

import summary_data
from summary_data import literal_indicators

from carto.render import offline
from carto.render.choropleth import choropleth_map, class_colour, class_limits
from carto.render.palette import CHOROPLETH_COLOURS, TERRITORY_FILL
from carto.render.plain import Legend, StyledGeoJson


def test_choropleth_is_offline() -> None:
    m = choropleth_map(
        summary_data.territories(), literal_indicators(), "actors_per_10k", "fr", level="commune", highlight="C1"
    )
    page = m.get_root().render()
    assert "Ville-Haute" in page and "Val-Clair" in page and "Département Test" not in page
    assert offline.external_urls(page) == []
    (layer,) = [c for c in m._children.values() if isinstance(c, StyledGeoJson)]
    outlines = {f["properties"]["code"]: layer.style_of(f)["color"] for f in json.loads(layer.geojson_text)["features"]}
    assert outlines["C1"] == "#d62828" and {v for k, v in outlines.items() if k != "C1"} == {"#555555"}


def test_summary_choropleth_uses_the_quantile_classes() -> None:
    table = literal_indicators()
    m = choropleth_map(summary_data.territories(), table, "actors_per_10k", "fr", level="commune")
    (layer,) = [c for c in m._children.values() if isinstance(c, StyledGeoJson)]
    features = json.loads(layer.geojson_text)["features"]
    fills = {f["properties"]["code"]: layer.style_of(f)["fillColor"] for f in features}
    # communes 8.0, 5.0, 2.5: the lowest in the first class, the highest in the last, as on the explorer
    assert (fills["C3"], fills["C1"]) == (CHOROPLETH_COLOURS[0], CHOROPLETH_COLOURS[-1])
    limits = class_limits(table.loc[["C1", "C2", "C3"], "actors_per_10k"])
    assert fills == {code: class_colour(table.loc[code, "actors_per_10k"], limits) for code in ("C1", "C2", "C3")}
    (legend,) = [c for c in m._children.values() if isinstance(c, Legend)]
    assert "2,5 – " in legend.body and " – 8,0" in legend.body  # limits as the summary writes the figure


def test_no_value_keeps_the_territory_fill() -> None:
    assert class_colour(None, [1.0, 2.0]) == TERRITORY_FILL
    assert class_colour(float("nan"), [1.0, 2.0]) == TERRITORY_FILL
    assert class_colour(3.0, []) == TERRITORY_FILL


"""The summary's yearly chart: stacked bars per kind in the map's colours, labelled in the page's language."""

from __future__ import annotations

import pandas as pd

from carto.render import charts, netview, summary_text


def test_the_yearly_figure_stacks_each_kind_in_its_map_colour():
    per_year = pd.DataFrame(
        {"year": [2023, 2023, 2024], "kind": ["tension", "partnership", "referral"], "count": [4, 2, 1]}
    )
    chart, colours = summary_text.per_year_chart(per_year, "en")
    fig = charts.yearly_figure(chart, colours, year_label="Year")
    assert fig.layout.barmode == "stack"
    assert [(t.name, t.marker.color, list(t.x), list(t.y)) for t in fig.data] == [
        ("Partnership", "#1f4e9c", [2023, 2024], [2, 0]),
        ("Referral", "#e07a1f", [2023, 2024], [0, 1]),
        ("Tension", "#d62828", [2023, 2024], [4, 0]),  # red, as on the map (the chart's default was teal)
    ]
    assert fig.layout.xaxis.title.text == "Year"


def test_plotly_speaks_french_from_its_vendored_locale():
    config = netview.plotly_config("fr")
    assert config["locale"] == "fr"
    french = config["locales"]["fr"]  # type: ignore[index]
    assert french["dictionary"]["Box Select"] == "Sélection rectangulaire"
    assert (french["format"]["decimal"], french["format"]["thousands"]) == (",", " ")
    assert netview.plotly_config("en") == {"locale": "en"}

"""The one choropleth scheme: quantile classes, one colour each, and their legend.

The explorer's indicator map (:func:`carto.render.layers.territories_layer`) and the summary's map
(:func:`choropleth_map`) colour territories the same way: values cut at their quantiles into at
most :data:`carto.render.palette.CHOROPLETH_COLOURS` classes, territories without a value in the
plain territory fill.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Callable

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from carto import i18n
from carto.model import METROPOLITAN_FRANCE
from carto.render import offline
from carto.render.indicator_text import format_indicator
from carto.render.palette import ALERT, CHOROPLETH_COLOURS, TERRITORY_FILL, TERRITORY_LINE
from carto.render.plain import STYLE_PROPERTY, Legend, StyledGeoJson, style_table


def class_limits(values: pd.Series, n: int = len(CHOROPLETH_COLOURS)) -> list[float]:
    """Class limits of ``values``: their quantiles cutting ``n`` classes, duplicates dropped."""
    clean = pd.to_numeric(values, errors="coerce").dropna()
    if clean.empty:
        return []
    return sorted(set(np.quantile(clean.to_numpy(dtype=float), np.linspace(0, 1, n + 1)).tolist()))


def class_colour(value: object, limits: list[float]) -> str:
    """The colour of ``value``'s class; the territory fill without a value or without classes."""
    if value is None or value is pd.NA or len(limits) < 2:
        return TERRITORY_FILL
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        return TERRITORY_FILL
    index = int(np.searchsorted(limits[1:-1], number, side="right"))
    # Fewer classes than colours (repeated values): spread them from the lightest to the darkest.
    scale = np.linspace(0, len(CHOROPLETH_COLOURS) - 1, len(limits) - 1).round().astype(int)
    return CHOROPLETH_COLOURS[scale[min(index, len(scale) - 1)]]


def classes_legend(label: str, limits: list[float], shown: Callable[[float], str]) -> str:
    """Legend HTML: ``label``, then one swatch and ``low – high`` per class (texts escaped)."""
    parts = [f"<b>{html.escape(label)}</b>"]
    for low, high in itertools.pairwise(limits):
        parts.append(
            f"<br><span style='display:inline-block;width:12px;height:10px;background:{class_colour(low, limits)}'>"
            f"</span> {html.escape(shown(low))} – {html.escape(shown(high))}"
        )
    return "".join(parts)


def choropleth_map(
    territories: gpd.GeoDataFrame,
    indicators: pd.DataFrame,
    column: str,
    lang: str,
    *,
    level: str,
    highlight: str | None = None,
    tiles: str = "none",
) -> folium.Map:
    """Territories of ``level`` coloured by the class of ``column``; assets served locally."""
    shapes = territories[territories["level"] == level][["code", "name", "geometry"]]
    values = pd.to_numeric(indicators[column], errors="coerce").astype(float)
    frame = shapes.assign(value=shapes["code"].map(values).to_numpy())
    frame["shown"] = [format_indicator(column, v, lang) for v in frame["value"]]
    limits = class_limits(frame["value"])
    if len(frame):
        minx, miny, maxx, maxy = frame.total_bounds
    else:
        minx, miny, maxx, maxy = METROPOLITAN_FRANCE
    m = offline.make_map(((miny + maxy) / 2, (minx + maxx) / 2), 8, tiles=tiles)

    chosen = (frame["code"] == highlight).to_numpy() if highlight else np.zeros(len(frame), dtype=bool)
    fills = [class_colour(v, limits) for v in frame["value"]]
    styles, style_index = style_table(
        ((ALERT if c else TERRITORY_LINE, 3 if c else 0.6, fill, 0.8) for c, fill in zip(chosen, fills, strict=True)),
        ["color", "weight", "fillColor", "fillOpacity"],
    )
    properties = pd.DataFrame(
        {"name": frame["name"].astype(str), "code": frame["code"].astype(str), "shown": frame["shown"]}
    ).assign(**{STYLE_PROPERTY: style_index})
    label = i18n.t(f"summary.label.{column}", lang)
    StyledGeoJson(
        properties,
        frame.geometry.to_numpy(),
        styles,
        tooltip=[("name", i18n.t("field.name", lang)), ("code", i18n.t("field.code", lang)), ("shown", label)],
    ).add_to(m)
    m.add_child(Legend(classes_legend(label, limits, lambda v: format_indicator(column, v, lang))))
    if len(frame):
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return offline.localize_assets(m)

"""Folium elements that render their output as plain text, without a second template pass.

When a folium/branca element renders, branca wraps each rendered part (header, html,
script) in a new ``Element``, which compiles that text as a Jinja template. For a layer
that embeds a megabyte of GeoJSON or marker rows, lexing the data as a template costs more
than everything else in a rerun of the explorer. Our data layers never rely on that second
pass (it only resolves element references in folium's fill-pattern styles, which we do not
use), so they add their parts as :class:`PlainText` instead.

Mix :class:`PlainRender` in *after* the folium class, so the folium class's own ``render``
(JS/CSS links, adding itself to its parent) still runs and only the final step changes::

    class CompactMarkerCluster(FastMarkerCluster, PlainRender): ...

:class:`StyledGeoJson` goes further for large layers: its features are serialised once, as
text, straight from GEOS (streamlit-folium renders every layer twice per rerun), and styling
happens in the browser: folium's ``style_function`` runs in Python for every feature and
writes a JavaScript ``switch`` over every feature id; here each feature carries the index of
its style in a small table, looked up by one function.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.template import Template

__all__ = [
    "STYLE_PROPERTY",
    "PlainRender",
    "PlainText",
    "StyledGeoJson",
    "TextTooltip",
    "script_json",
    "script_safe",
    "style_table",
]

# Feature property holding the index of the feature's style in StyledGeoJson.styles. No
# underscore: streamlit-folium rewrites ``_xxx`` words of the script it is given.
STYLE_PROPERTY = "style"


class PlainText(Element):
    """A rendered part, kept as the text it already is."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class PlainRender(MacroElement):
    """Replaces :meth:`MacroElement.render`: same parts, same names, no template compilation."""

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # as MacroElement.render: no result
        figure = self.get_root()
        if not isinstance(figure, Figure):
            msg = "You cannot render this element if it is not in a Figure."
            raise TypeError(msg)
        macros = self._template.module.__dict__
        for part in ("header", "html", "script"):
            macro = macros.get(part)
            if macro is not None:
                getattr(figure, part).add_child(PlainText(macro(self, kwargs)), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


def script_json(value: object) -> str:
    """Compact JSON (UTF-8 kept) that is safe inside a ``<script>``: no tag closes, no comment opens."""
    return script_safe(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def script_safe(text: str) -> str:
    """``text`` (JSON) with ``<``, ``>`` and ``&`` escaped, so that it cannot end a ``<script>``."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def feature_collection_json(properties: pd.DataFrame, geometry: np.ndarray) -> str:
    """A GeoJSON FeatureCollection as script-safe text, from plain properties and shapely geometries.

    Geometries are written by GEOS (fast, shortest round-trip numbers) and never parsed back;
    rows whose geometry is missing are left out.
    """
    shapes = shapely.to_geojson(geometry)
    records = properties.to_dict(orient="records")
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    features = ",".join(
        f'{{"type":"Feature","properties":{dumps(record)},"geometry":{shape}}}'
        for record, shape in zip(records, shapes.tolist(), strict=True)
        if shape is not None
    )
    return script_safe('{"type":"FeatureCollection","features":[' + features + "]}")


def style_table(rows: Iterable[Sequence[object]], options: Sequence[str]) -> tuple[list[dict[str, object]], list[int]]:
    """Distinct styles among ``rows`` (values of the Leaflet path ``options``), and each row's index.

    >>> style_table([("#f00", 1), ("#00f", 2), ("#f00", 1)], ["color", "weight"])
    ([{'color': '#f00', 'weight': 1}, {'color': '#00f', 'weight': 2}], [0, 1, 0])
    """
    seen: dict[tuple[object, ...], int] = {}
    indices = [seen.setdefault(tuple(row), len(seen)) for row in rows]
    return [dict(zip(options, row, strict=True)) for row in seen], indices


class _BrowserData(PlainRender):
    """Adds a StyledGeoJson's features, styled from its table, with the hover style if any."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (layer) {
            var styles = {{ this.styles_json }};
            layer.options.style = function (feature) { return styles[feature.properties.{{ this.prop }}]; };
            {%- if this.layer.circle_points %}
            layer.options.pointToLayer = function (feature, latlng) {
                return L.circleMarker(latlng, styles[feature.properties.{{ this.prop }}]);
            };
            {%- endif %}
            layer.addData({{ this.layer.geojson_text }});
            {%- if this.hover_json %}
            var hover = {{ this.hover_json }};
            layer.on('mouseover', function (e) { (e.propagatedFrom || e.layer).setStyle(hover); });
            layer.on('mouseout', function (e) { layer.resetStyle(e.propagatedFrom || e.layer); });
            {%- endif %}
        })({{ this.layer.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, layer: StyledGeoJson, styles: list[dict[str, object]], hover: dict[str, object] | None):
        super().__init__()
        self._name = "BrowserData"
        self.layer, self.prop = layer, STYLE_PROPERTY
        self.styles_json = script_json(styles)
        self.hover_json = script_json(hover) if hover else ""


class TextTooltip(PlainRender):
    """The tooltip of a GeoJSON layer: a table of feature properties under their labels.

    Cells are filled with ``textContent``: a property value is always shown as the text it is,
    never parsed as HTML (folium's GeoJSON tooltip class writes values into ``innerHTML``). The table
    is returned as an element, which streamlit-folium reads back as text after a click.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (layer) {
            var fields = {{ this.fields_json }}, labels = {{ this.labels_json }};
            layer.bindTooltip(function (item) {
                var properties = (item.feature && item.feature.properties) || {};
                var table = document.createElement('table');
                fields.forEach(function (field, i) {
                    var value = properties[field];
                    var row = table.insertRow();
                    var head = document.createElement('th');
                    head.style.textAlign = 'left';
                    head.style.paddingRight = '6px';
                    head.textContent = labels[i];
                    row.appendChild(head);
                    row.insertCell().textContent = value === null || value === undefined ? '' : String(value);
                });
                return table;
            }, {sticky: true});
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, fields: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self._name = "TextTooltip"
        self.fields_json = script_json([name for name, _ in fields])
        self.labels_json = script_json([label for _, label in fields])


class StyledGeoJson(folium.GeoJson, PlainRender):
    """A GeoJSON layer of ``geometry`` with ``properties``, styled in the browser.

    ``properties`` has a column ``style``: each feature's index in ``styles`` (see
    :func:`style_table`). ``hover`` is the style laid over a feature under the pointer.
    ``tooltip`` lists ``(property, label)`` pairs shown as text (:class:`TextTooltip`); folium's
    own ``tooltip``/``popup`` arguments are refused, since they write data into HTML.
    ``circle_points`` draws point features as circle markers styled like the other features.
    """

    def __init__(
        self,
        properties: pd.DataFrame,
        geometry: np.ndarray,
        styles: list[dict[str, object]],
        *,
        hover: dict[str, object] | None = None,
        tooltip: Sequence[tuple[str, str]] = (),
        circle_points: bool = False,
        **kwargs: Any,
    ) -> None:
        unsafe = sorted({"popup", "popup_keep_highlighted", "marker"} & set(kwargs))
        if unsafe:
            msg = f"StyledGeoJson does not take {', '.join(unsafe)}: data reaches the map as text only (tooltip=)"
            raise TypeError(msg)
        # The features are added by _BrowserData, as text that no template ever reads.
        super().__init__({"type": "FeatureCollection", "features": []}, **kwargs)
        self.styles, self.circle_points = styles, circle_points
        self.geojson_text = feature_collection_json(properties, geometry)
        present = geometry[~shapely.is_missing(geometry)]
        minx, miny, maxx, maxy = shapely.total_bounds(present).tolist() if len(present) else (None,) * 4
        self.feature_bounds = [[miny, minx], [maxy, maxx]]
        self.add_child(_BrowserData(self, styles, hover))
        if tooltip:
            self.add_child(TextTooltip(tooltip))

    def _get_self_bounds(self) -> list[list[float | None]]:
        return self.feature_bounds

    def style_of(self, feature: dict) -> dict[str, object]:
        """The style the browser gives ``feature``."""
        return self.styles[feature["properties"][STYLE_PROPERTY]]


_LEGEND_TEMPLATE = """
{% macro html(this, kwargs) %}
<div class="carto-legend" style="position:absolute;bottom:24px;left:10px;z-index:1000;background:#fff;
 padding:6px 8px;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.3);font:11px sans-serif;
 max-height:40%;overflow:auto">{{ this.body }}</div>
{% endmacro %}
"""


class Legend(PlainRender):
    """A fixed HTML legend drawn over the map; ``body`` is HTML whose every text was escaped."""

    _template = Template(_LEGEND_TEMPLATE)

    def __init__(self, body: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.body = body

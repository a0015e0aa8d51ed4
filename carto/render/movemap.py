"""The small map of an actor's or a place's edit form: a marker to drag (or a click) where the record is.

streamlit-folium sends back where the map was last clicked (``last_clicked``); the marker's script
moves the marker to a click, and at the end of a drag fires a click on the map at the marker's new
position, so that both end up in that one returned value. :func:`dragged_to` turns it into the
(lon, lat) the form's inputs take.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import folium
from folium.template import Template

from carto.model import METROPOLITAN_FRANCE
from carto.render import offline
from carto.render.plain import PlainRender, script_json

RETURNED = ("last_clicked",)  # streamlit-folium's returned_objects for this map
DECIMALS = 5  # about a metre: the precision of the sample's coordinates
ZOOM_ON_POINT = 14
MARKER_CLASS = "carto-move-marker"


class DraggableMarker(PlainRender):
    """A marker at ``start`` (or none until the first click) that a drag or a click moves."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            var start = {{ this.start_json }};
            var marker = null;
            var place = function (latlng) {
                if (marker !== null) { marker.setLatLng(latlng); return; }
                marker = L.marker(latlng, {draggable: true, title: {{ this.title_json }},
                                           alt: {{ this.title_json }}}).addTo(map);
                marker.getElement().classList.add({{ this.css_json }});
                marker.on('dragend', function () { map.fire('click', {latlng: marker.getLatLng()}); });
            };
            if (start !== null) { place(start); }
            map.on('click', function (e) { place(e.latlng); });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, start: tuple[float, float] | None, title: str) -> None:
        super().__init__()
        self._name = "DraggableMarker"
        self.start_json = script_json(None if start is None else [start[1], start[0]])
        self.title_json = script_json(title)
        self.css_json = script_json(MARKER_CLASS)


def move_map(point: tuple[float, float] | None, title: str, *, tiles: str) -> folium.Map:
    """The map centred on ``point`` (lon, lat) with its marker; without a point, metropolitan France
    and no marker until a click places one."""
    if point is None:
        west, south, east, north = METROPOLITAN_FRANCE
        m = offline.make_map(((south + north) / 2, (west + east) / 2), 5, tiles=tiles)
    else:
        m = offline.make_map((point[1], point[0]), ZOOM_ON_POINT, tiles=tiles)
    m.add_child(DraggableMarker(point, title))
    return m


def dragged_to(returned: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """(lon, lat) where the marker was dropped (or the map clicked), rounded to :data:`DECIMALS`;
    None when the map sent no such position or one that is not a place on Earth.

    A longitude beyond ±180° (the map panned round the globe) is brought back into [-180, 180).
    """
    spot = returned.get("last_clicked") if isinstance(returned, Mapping) else None
    if not isinstance(spot, Mapping):
        return None
    try:
        lat, lon = float(spot["lat"]), float(spot["lng"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)) or not -90 <= lat <= 90:
        return None
    if not -180 <= lon < 180:
        lon = (lon + 180) % 360 - 180
    return round(lon, DECIMALS) + 0.0, round(lat, DECIMALS) + 0.0


def coordinate_text(value: float) -> str:
    """A coordinate as the form's inputs show it: :data:`DECIMALS` decimals."""
    return f"{value:.{DECIMALS}f}"

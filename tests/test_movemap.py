"""The edit form's move map: what streamlit-folium sends back after a drag, as (lon, lat)."""

from __future__ import annotations

import pytest

from carto.render import movemap, offline


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        # A drop near Nantes: rounded to 5 decimals (about a metre).
        ({"last_clicked": {"lat": 47.2262612345, "lng": -1.5216949}}, (-1.52169, 47.22626)),
        ({"last_clicked": {"lat": 45.5, "lng": 0.5}}, (0.5, 45.5)),
        # Panned once round the globe eastward: -1.5 + 360 = 358.5 → -1.5.
        ({"last_clicked": {"lat": 47.0, "lng": 358.5}}, (-1.5, 47.0)),
        # 180 itself is the same meridian as -180.
        ({"last_clicked": {"lat": 0.0, "lng": 180.0}}, (-180.0, 0.0)),
        # Text numbers, as JSON may carry them, are read.
        ({"last_clicked": {"lat": "47.1", "lng": "-1.4"}}, (-1.4, 47.1)),
    ],
)
def test_a_drop_is_a_lon_lat(returned, expected):
    assert movemap.dragged_to(returned) == expected


@pytest.mark.parametrize(
    "returned",
    [
        None,
        {},
        {"last_clicked": None},  # the map's first value, before any drag or click
        {"last_clicked": {"lat": 47.0}},
        {"last_clicked": {"lat": "north", "lng": 1.0}},
        {"last_clicked": {"lat": float("nan"), "lng": 1.0}},
        {"last_clicked": {"lat": 91.0, "lng": 1.0}},
        {"last_clicked": [47.0, -1.5]},
    ],
)
def test_no_position_is_none(returned):
    assert movemap.dragged_to(returned) is None


def test_coordinate_text_has_five_decimals():
    assert [movemap.coordinate_text(v) for v in (-1.52169, 45.5, 0.0)] == ["-1.52169", "45.50000", "0.00000"]


def test_the_map_has_a_draggable_marker_at_the_point_and_loads_nothing_from_outside():
    m = movemap.move_map((-1.52169, 47.22626), "Position", tiles="none")
    html = m.get_root().render()
    # Leaflet's order: [lat, lon].
    assert "var start = [47.22626,-1.52169];" in html
    assert "draggable: true" in html
    assert "map.fire('click', {latlng: marker.getLatLng()})" in html
    assert offline.external_urls(html) == []


def test_without_a_point_the_map_shows_france_and_no_marker_until_a_click():
    m = movemap.move_map(None, "Position", tiles="none")
    html = m.get_root().render()
    assert "var start = null;" in html
    # METROPOLITAN_FRANCE = (-5.8, 41.2, 10.0, 51.3): centre (46.25, 2.1).
    assert m.location == [46.25, 2.1]

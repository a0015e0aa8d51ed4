"""Edits from the explorer in Debian's chromium, as the local analyst (no sign-in configured, served on
127.0.0.1: the one local user is an analyst): two actors selected by a rectangle drawn on the map,
a referral added between them in the details panel, seen in the network and in the store; and the
marker of a node's form dragged on its small map, which fills the form's lon/lat."""

from __future__ import annotations

import math
import re
import time

import pandas as pd
import pytest
from conftest import copy_sample

from bench.serve import start_streamlit, stop
from carto import store
from carto.errors import DatabaseInUse

pytestmark = pytest.mark.browser

TIMEOUT = 60_000
HUB = "A-0155"  # data/sample/actors.csv: lon -1.52169, lat 47.22626


def _map_frame(page):
    page.wait_for_selector("iframe[title*='st_folium']", timeout=TIMEOUT)
    frame = page.frame_locator("iframe[title*='st_folium']").first
    frame.locator(".leaflet-container").wait_for(timeout=TIMEOUT)
    return frame


def _read(db: str, name: str) -> pd.DataFrame:
    connection = store.connect(db, read_only=not db.startswith("postgres"))
    try:
        return store.read_dataset(connection.cursor(), name)
    finally:
        connection.close()


def _read_once_free(db: str, name: str) -> pd.DataFrame:
    """Read ``name`` once the stopped server's last process has let go of the DuckDB file."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return _read(db, name)
        except DatabaseInUse:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="module")
def isolated_pair(sample_db_template) -> tuple[str, str, tuple[float, float], tuple[float, float]]:
    """Two actors with no relation between them, whose nearest other node is farther from either than
    they are from each other: a rectangle just around them holds them alone."""
    db = str(sample_db_template)
    actors, places, relations = (_read(db, n) for n in ("actors", "places", "relations"))
    points = {str(i): (g.x, g.y) for frame in (actors, places)
              for i, g in zip(frame["id"], frame.geometry.representative_point(), strict=True)}
    linked = {frozenset(p) for p in zip(relations["source"], relations["target"], strict=True)}
    ids = sorted(str(i) for i in actors["id"])

    def dist(a: str, b: str) -> float:
        (x1, y1), (x2, y2) = points[a], points[b]
        return math.hypot((x1 - x2) * math.cos(math.radians(y1)), y1 - y2)

    best = None
    for a in ids:
        nearest = sorted((dist(a, b), b) for b in points if b != a)
        gap, b = nearest[0]
        if not b.startswith("A-") or frozenset((a, b)) in linked or gap < 1e-4:
            continue
        others = min(min(dist(a, c), dist(b, c)) for c in points if c not in (a, b))
        ratio = others / gap
        if best is None or ratio > best[0]:
            best = (ratio, a, b)
    assert best is not None and best[0] > 3, "no isolated pair of actors in the sample"
    first, second = sorted(best[1:])
    return first, second, points[first], points[second]


@pytest.fixture
def editable_app(sample_db_template, tmp_path, pg_cluster):
    """A server of its own on a copy of the sample (a save changes it); stopped by the test to read it."""
    db = copy_sample(sample_db_template, tmp_path, pg_cluster, "edited")
    url, proc = start_streamlit(db)
    yield url, db, proc
    stop(proc)


_DRAWN_BOUNDS = """
() => { const b = window.drawnItems.getBounds();
        return {west: b.getWest(), south: b.getSouth(), east: b.getEast(), north: b.getNorth()}; }
"""


# The explorer's figures hold a number (the relations' one): "%s" filled in.
_FIGURES_SAY = ("() => { const f = document.querySelector('.st-key-explorer_figures');"
                " return f && f.innerText.includes('%s'); }")


def _caption(page, key: str) -> str:
    return page.locator(f".st-key-{key}").inner_text(timeout=TIMEOUT)


def test_select_two_actors_on_the_map_add_a_referral_and_see_it(editable_app, isolated_pair, page, artifacts):
    url, db, proc = editable_app
    first, second, p1, p2 = isolated_pair
    # Someone else has the explorer open, and does nothing: it follows the edit by itself.
    watcher = page.context.new_page()
    watcher.goto(url, wait_until="domcontentloaded")
    watcher.wait_for_function(_FIGURES_SAY % "1\u202f170", timeout=TIMEOUT, polling=200)
    page.goto(url, wait_until="domcontentloaded")
    _map_frame(page)
    # The network is drawn on the page's second run, which draws the map again: zoom after it.
    page.wait_for_function(
        "() => { const p = document.querySelector('.js-plotly-plot'); return p && p._fullLayout && p.data; }",
        timeout=TIMEOUT, polling=200,
    )
    page.wait_for_timeout(2000)
    frame = _map_frame(page)
    inner = next(f for f in page.frames if "streamlit_folium" in f.url)
    # Zoom the map on the pair (as a user would), so that they lie some 150 px apart.
    span = max(abs(p1[0] - p2[0]), abs(p1[1] - p2[1]) / math.cos(math.radians(p1[1])), 1e-5)
    zoom = min(18, math.floor(math.log2(150 * 360 / (256 * span))))
    centre = [(p1[1] + p2[1]) / 2, (p1[0] + p2[0]) / 2]
    inner.evaluate(f"() => window.map.setView({centre}, {zoom}, {{animate: false}})")
    corners = inner.evaluate(
        f"() => [[{p1[1]}, {p1[0]}], [{p2[1]}, {p2[0]}]].map(c => window.map.latLngToContainerPoint(c))")
    box = page.locator("iframe[title*='st_folium']").first.bounding_box()
    x0 = box["x"] + min(c["x"] for c in corners) - 20
    x1 = box["x"] + max(c["x"] for c in corners) + 20
    y0 = box["y"] + min(c["y"] for c in corners) - 20
    y1 = box["y"] + max(c["y"] for c in corners) + 20
    frame.locator("a.leaflet-draw-draw-rectangle").click()
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=10)
    page.mouse.up()
    bounds = inner.evaluate(_DRAWN_BOUNDS)
    assert bounds["west"] < min(p1[0], p2[0]) and max(p1[0], p2[0]) < bounds["east"]
    page.wait_for_function("() => /[?&]area=1/.test(location.search)", timeout=TIMEOUT)
    chosen = sorted(re.sub("%2C", ",", re.search(r"[?&]sel=([^&]+)", page.url).group(1)).split(","))
    assert chosen == [first, second]
    # The two nodes alone, no relation between them: the network shows 2 nodes and 0 relations.
    page.get_by_text("Réseau : les 2 nœuds et 0 relations.").wait_for(timeout=TIMEOUT)
    assert "1\u202f170" in _caption(page, "explorer_figures")  # data/sample/relations.csv: 1,170 relations
    # The form is in an expander of the details panel, the pair filled in.
    page.locator(".st-key-explorer_edit_relate summary").click()
    source = page.locator(".st-key-edit_field_relations__new_source input")
    source.wait_for(timeout=TIMEOUT)
    assert source.input_value() == first
    assert page.locator(".st-key-edit_field_relations__new_target input").input_value() == second
    page.locator(".st-key-edit_field_relations__new_id input").fill("R-BROWSER")
    kind = page.locator(".st-key-edit_field_relations__new_kind input")
    kind.click()
    kind.fill("Passage de relais")  # the choices filtered to that one, taken with Enter
    kind.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.st-key-edit_field_relations__new_kind input').value === 'Passage de relais'",
        timeout=TIMEOUT, polling=200)
    page.locator(".st-key-edit_field_relations__new_start input").fill("2026-02-01")
    page.locator(".st-key-edit_save_relations_add button").click()
    page.get_by_text("Ajouté (modification n°1).").wait_for(timeout=TIMEOUT)
    # The explorer's scene now holds it: 2 nodes and 1 relation in the network, 1,171 in the figures.
    page.get_by_text("Réseau : les 2 nœuds et 1 relations.").wait_for(timeout=TIMEOUT)
    assert "1\u202f171" in _caption(page, "explorer_figures")
    page.screenshot(path=str(artifacts / "explorer-edit-referral.png"), full_page=True)
    watcher.wait_for_function(_FIGURES_SAY % "1\u202f171", timeout=TIMEOUT, polling=200)
    stop(proc)  # DuckDB takes one process per file: the server lets go before the test reads
    relations = _read_once_free(db, "relations").set_index("id")
    row = relations.loc["R-BROWSER"]
    assert (row["source"], row["target"], row["kind"], str(row["start"])[:10]) == (
        first, second, "referral", "2026-02-01")
    assert len(relations) == 1171


_MARKER_AT = """
() => { const m = Object.values(window.map._layers).find(l => l.options && l.options.draggable);
        const p = m.getLatLng(); return [p.lng, p.lat]; }
"""


def test_drag_the_marker_of_a_node_form_fills_its_lon_lat(served_app, page, artifacts):
    page.goto(f"{served_app}/?sel={HUB}", wait_until="domcontentloaded")
    _map_frame(page)
    page.locator(".st-key-explorer_edit_change summary").click()
    lon = page.locator(f".st-key-edit_field_actors_{HUB}_lon input")
    lat = page.locator(f".st-key-edit_field_actors_{HUB}_lat input")
    lon.wait_for(timeout=TIMEOUT)
    # Every input shows the stored value, after the page's several runs (the network is drawn on the second).
    assert page.locator(f".st-key-edit_field_actors_{HUB}_name input").input_value() == (
        "Centre social Les Quatre Vents (Nantes)")
    assert (lon.input_value(), lat.input_value()) == ("-1.52169", "47.22626")
    holder = page.locator(f".st-key-edit_move_actors_{HUB}_frame iframe")
    holder.wait_for(timeout=TIMEOUT)
    move_frame = holder.element_handle().content_frame()
    marker = page.frame_locator(f".st-key-edit_move_actors_{HUB}_frame iframe").locator(".carto-move-marker")
    marker.wait_for(timeout=TIMEOUT)
    spot = marker.bounding_box()
    x, y = spot["x"] + spot["width"] / 2, spot["y"] + spot["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 80, y + 40, steps=12)
    page.mouse.up()
    page.wait_for_function(
        f"() => document.querySelector('.st-key-edit_field_actors_{HUB}_lon input').value !== '-1.52169'",
        timeout=TIMEOUT, polling=200,
    )
    dropped_lon, dropped_lat = move_frame.evaluate(_MARKER_AT)
    # East and south of where it was: 80 px right, 40 px down.
    assert dropped_lon > -1.52169 and dropped_lat < 47.22626
    page.wait_for_function(
        f"() => document.querySelector('.st-key-edit_field_actors_{HUB}_lat input').value === "
        f"'{dropped_lat:.5f}'", timeout=TIMEOUT, polling=200,
    )
    assert (lon.input_value(), lat.input_value()) == (f"{dropped_lon:.5f}", f"{dropped_lat:.5f}")
    page.screenshot(path=str(artifacts / "explorer-edit-drag.png"), full_page=True)

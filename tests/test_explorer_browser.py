"""The explorer in Debian's chromium: a map click selects in the network, a network click on the map."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

TIMEOUT = 60_000

_HIGHLIGHT_IDS = """
() => {
  const plot = document.querySelector('.js-plotly-plot');
  if (!plot || !plot.data) return null;
  const lit = plot.data.filter(t => t.meta && t.meta.role === 'highlight');
  return lit.length ? Array.from(lit[0].customdata) : [];
}
"""

# Page coordinates of the first node of the "nodes" trace, from plotly's own axes.
_FIRST_NODE = """
() => {
  const plot = document.querySelector('.js-plotly-plot');
  const trace = plot._fullData.find(t => t.meta && t.meta.role === 'nodes');
  const layout = plot._fullLayout;
  const box = plot.querySelector('.nsewdrag').getBoundingClientRect();
  return {id: trace.customdata[0],
          x: box.left + layout.xaxis.l2p(trace.x[0]),
          y: box.top + layout.yaxis.l2p(trace.y[0])};
}
"""


# Centre (in the map frame) of an actor marker that is really on screen, on top of everything else.
_VISIBLE_ACTOR = """
() => {
  for (const path of document.querySelectorAll('path.carto-actor')) {
    const r = path.getBoundingClientRect();
    if (!r.width) continue;
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (document.elementFromPoint(x, y) === path) return {x, y};
  }
  return null;
}
"""


def _map_frame(page):
    page.wait_for_selector("iframe[title*='st_folium']", timeout=TIMEOUT)
    frame = page.frame_locator("iframe[title*='st_folium']").first
    frame.locator(".leaflet-container").wait_for(timeout=TIMEOUT)
    return frame


def _open_with_network(page, url: str) -> None:
    """Open the explorer and wait for the map, then for the network (drawn on the second run)."""
    page.goto(url, wait_until="domcontentloaded")
    _map_frame(page)
    page.wait_for_function(
        "() => { const p = document.querySelector('.js-plotly-plot'); return p && p._fullLayout && p.data; }",
        timeout=TIMEOUT, polling=200,
    )


def _selected_in_url(page) -> str | None:
    match = re.search(r"[?&]sel=([^&]+)", page.url)
    return match.group(1) if match else None


@pytest.fixture(scope="module")
def busiest_commune(sample_db_template) -> str:
    """The commune holding the most actors: zoomed on it, single actors are not clustered."""
    from carto import store

    connection = store.connect(sample_db_template, read_only=True)
    try:
        codes = store.read_dataset(connection.cursor(), "actors", columns=["territory_code"])["territory_code"]
    finally:
        connection.close()
    return str(codes.value_counts().index[0])


def test_click_on_an_actor_selects_it_in_the_network(served_app, busiest_commune, page, artifacts):
    page.goto(f"{served_app}/?territory={busiest_commune}", wait_until="domcontentloaded")
    frame = _map_frame(page)
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')", timeout=TIMEOUT, polling=200)
    frame.locator("path.carto-actor").first.wait_for(state="attached", timeout=TIMEOUT)
    inner = next(f for f in page.frames if "streamlit_folium" in f.url)
    inner.wait_for_function(f"() => ({_VISIBLE_ACTOR})() !== null", timeout=TIMEOUT)
    spot = inner.evaluate(_VISIBLE_ACTOR)
    box = page.locator("iframe[title*='st_folium']").first.bounding_box()
    page.mouse.click(box["x"] + spot["x"], box["y"] + spot["y"])
    page.wait_for_function("() => /[?&]sel=/.test(location.search)", timeout=TIMEOUT)
    chosen = _selected_in_url(page)
    page.get_by_text("1 sélectionné(s)").wait_for(timeout=TIMEOUT)
    page.wait_for_function(
        f"() => {{ const ids = ({_HIGHLIGHT_IDS})(); return ids && ids.includes({chosen!r}); }}", timeout=TIMEOUT
    )
    page.screenshot(path=str(artifacts / "explorer-map-click.png"), full_page=True)
    assert chosen is not None and chosen.startswith("A-")


def test_click_in_the_network_highlights_the_node_on_the_map(served_app, page, artifacts):
    _open_with_network(page, served_app)
    target = page.evaluate(_FIRST_NODE)
    page.mouse.click(target["x"], target["y"])
    page.wait_for_function(f"() => location.search.includes('sel={target['id']}')", timeout=TIMEOUT)
    frame = _map_frame(page)
    selected = frame.locator("path.carto-selected")
    selected.first.wait_for(timeout=TIMEOUT)
    tooltip_ids = page.evaluate(_HIGHLIGHT_IDS)
    page.screenshot(path=str(artifacts / "explorer-network-click.png"), full_page=True)
    assert selected.count() == 1
    assert target["id"] in tooltip_ids


# Page coordinates of every node of the "nodes" trace, from plotly's own axes.
_ALL_NODES = """
() => {
  const plot = document.querySelector('.js-plotly-plot');
  const trace = plot._fullData.find(t => t.meta && t.meta.role === 'nodes');
  const layout = plot._fullLayout;
  const box = plot.querySelector('.nsewdrag').getBoundingClientRect();
  return Array.from(trace.customdata, (id, i) => ({id: id,
          x: box.left + layout.xaxis.l2p(trace.x[i]), y: box.top + layout.yaxis.l2p(trace.y[i])}));
}
"""


def _lasso_square(nodes: list[dict]) -> tuple[float, float, float, list[str]]:
    for centre in nodes[:50]:
        for half in range(10, 80, 2):
            gaps = [max(abs(n["x"] - centre["x"]), abs(n["y"] - centre["y"])) for n in nodes]
            inside = sorted(n["id"] for n, gap in zip(nodes, gaps, strict=True) if gap < half - 3)
            near_border = any(half - 3 <= gap <= half + 3 for gap in gaps)
            if 2 <= len(inside) <= 8 and not near_border:
                return centre["x"], centre["y"], half, inside
    raise AssertionError("no square holds a few nodes clear of its border")


def test_lasso_in_the_network_rings_those_nodes_on_the_map(served_app, page, artifacts):
    _open_with_network(page, served_app)
    nodes = page.evaluate(_ALL_NODES)
    # A square around some node holding a few nodes, none near its border, drawn with the lasso.
    cx, cy, half, inside = _lasso_square(nodes)
    page.locator(".js-plotly-plot").first.hover()
    page.locator('.modebar-btn[data-val="lasso"]').first.click()
    corners = [(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half), (cx - half, cy + half)]
    page.mouse.move(*corners[0])
    page.mouse.down()
    for x, y in [*corners[1:], corners[0]]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    page.wait_for_function("() => /[?&]sel=[^&]*%2C|[?&]sel=[^&]*,/.test(location.search)", timeout=TIMEOUT)
    chosen = sorted(re.sub("%2C", ",", _selected_in_url(page) or "").split(","))
    frame = _map_frame(page)
    frame.locator("path.carto-selected").first.wait_for(timeout=TIMEOUT)
    page.wait_for_function(
        f"() => document.querySelector(\"iframe[title*='st_folium']\").contentDocument"
        f".querySelectorAll('path.carto-selected').length === {len(inside)}",
        timeout=TIMEOUT, polling=200,
    )
    page.screenshot(path=str(artifacts / "explorer-network-lasso.png"), full_page=True)
    assert chosen == inside


@pytest.fixture(scope="module")
def node_positions(sample_db_template) -> dict[str, tuple[float, float]]:
    """Every actor's and place's (lon, lat), read from the database the app serves."""
    from carto import store

    connection = store.connect(sample_db_template, read_only=True)
    try:
        frames = [store.read_dataset(connection.cursor(), name) for name in ("actors", "places")]
    finally:
        connection.close()
    return {
        str(i): (p.x, p.y) for frame in frames for i, p in zip(frame["id"], frame.geometry.representative_point(),
                                                                strict=True)
    }


# The map, the Leaflet object streamlit-folium keeps in the map's frame.
_DRAWN_BOUNDS = """
() => { const b = window.drawnItems.getBounds();
        return {west: b.getWest(), south: b.getSouth(), east: b.getEast(), north: b.getNorth()}; }
"""

_NETWORK_NODE_IDS = """
() => { const plot = document.querySelector('.js-plotly-plot');
        if (!plot || !plot._fullData) return null;
        return plot._fullData.filter(t => t.meta && ['nodes', 'highlight'].includes(t.meta.role))
            .flatMap(t => Array.from(t.customdata || [])); }
"""


def test_a_rectangle_drawn_on_the_map_selects_its_nodes_and_the_network_shows_their_subgraph(
    served_app, node_positions, page, artifacts
):
    _open_with_network(page, served_app)
    # The network's box and lasso are in sight without hovering it (the mode bar is always shown).
    assert page.evaluate("() => getComputedStyle(document.querySelector('.js-plotly-plot .modebar')).opacity") == "1"
    frame = _map_frame(page)
    frame.locator("a.leaflet-draw-draw-rectangle").click()
    box = page.locator("iframe[title*='st_folium']").first.bounding_box()
    # A rectangle over the middle of the map, drawn over territories and clusters.
    x0, y0 = box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.35
    x1, y1 = box["x"] + box["width"] * 0.65, box["y"] + box["height"] * 0.6
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=10)
    page.mouse.up()
    inner = next(f for f in page.frames if "streamlit_folium" in f.url)
    bounds = inner.evaluate(_DRAWN_BOUNDS)
    expected = sorted(
        node for node, (lon, lat) in node_positions.items()
        if bounds["west"] <= lon <= bounds["east"] and bounds["south"] <= lat <= bounds["north"]
    )
    assert expected, "the rectangle holds no node: draw it elsewhere"
    page.wait_for_function("() => /[?&]area=1/.test(location.search)", timeout=TIMEOUT)
    chosen = sorted(re.sub("%2C", ",", _selected_in_url(page) or "").split(","))
    assert chosen == expected
    # The network shows only the subgraph the area's nodes induce, the map rings them.
    page.wait_for_function(
        f"() => {{ const ids = ({_NETWORK_NODE_IDS})(); return ids && ids.length && "
        f"ids.every(i => {json.dumps(expected)}.includes(i)); }}",
        timeout=TIMEOUT, polling=200,
    )
    frame = _map_frame(page)
    page.wait_for_function(
        f"() => document.querySelector(\"iframe[title*='st_folium']\").contentDocument"
        f".querySelectorAll('path.carto-selected').length === {len(expected)}",
        timeout=TIMEOUT, polling=200,
    )
    page.get_by_text("Aire tracée sur la carte").wait_for(timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "explorer-map-rectangle.png"), full_page=True)


# The centre of the selected node's ring, and whether it is the topmost element there.
_SELECTED_ON_TOP = """
() => { const ring = document.querySelector('path.carto-selected');
        if (!ring) return null;
        const r = ring.getBoundingClientRect();
        return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === ring; }
"""


def test_a_selected_node_is_drawn_above_every_cluster_and_marker(served_app, page, node_positions):
    actor = sorted(n for n in node_positions if n.startswith("A-"))[0]
    page.goto(f"{served_app}/?sel={actor}", wait_until="domcontentloaded")
    _map_frame(page)
    inner = next(f for f in page.frames if "streamlit_folium" in f.url)
    inner.wait_for_function(f"() => ({_SELECTED_ON_TOP})() !== null", timeout=TIMEOUT)
    assert inner.evaluate(_SELECTED_ON_TOP) is True
    assert inner.evaluate("() => document.querySelector('path.carto-selected').closest('.leaflet-cartoSelection-pane')"
                          " !== null")


def test_unreachable_tiles_are_said_once(served_app, page):
    aborted: list[str] = []

    def refuse(route):
        aborted.append(route.request.url)
        route.abort()

    page.route("https://tile.openstreetmap.org/**", refuse)
    _open_with_network(page, served_app)
    # The sidebar's base map, from "None (offline)" (the served app's setting) to OpenStreetMap.
    choice = page.locator('[data-testid="stSelectbox"]').filter(has_text="Fond de carte").locator("input")
    choice.click()
    choice.press("ArrowDown")
    page.get_by_role("option", name="OpenStreetMap", exact=True).click()
    inner_ready = "() => document.querySelector('.carto-tiles-notice') !== null"
    page.wait_for_function(
        "() => { const f = document.querySelector(\"iframe[title*='st_folium']\");"
        " return f && f.contentDocument && f.contentDocument.querySelector('.carto-tiles-notice') !== null; }",
        timeout=TIMEOUT, polling=200,
    )
    inner = next(f for f in page.frames if "streamlit_folium" in f.url)
    assert inner.evaluate(inner_ready)
    notices = inner.evaluate("() => Array.from(document.querySelectorAll('.carto-tiles-notice'), n => n.textContent)")
    assert len(aborted) > 1  # many tiles failed ...
    assert notices == [  # ... one message
        "Fond de carte indisponible (pas d'accès à Internet ?). Choisissez « Aucun (hors ligne) » dans "
        "« Fond de carte » à gauche."
    ]

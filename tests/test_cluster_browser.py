"""The actors' marker cluster in Debian's chromium while it loads in chunks: the map moved between
chunks (a rerun fits its bounds, a user drags) must not break it.

Leaflet.markercluster 1.1.0 recomputes its clusters' bounds only after the last chunk, and a move
in between met clusters with no bounds yet ("Cannot read properties of undefined (reading 'lat')",
seen under load by bench/load.py). The page is the map as rendered for the dashboard, its
``/app/static`` assets answered from static/ by Playwright.
"""

from __future__ import annotations

import json
import random

import pytest

from carto.render import offline
from carto.render.leaflet import point_cluster

pytestmark = pytest.mark.browser

MARKERS = 100_000
ORIGIN = "http://carto.test"

# Pans the map every 15 ms from the first moment the map exists, so that moves fall between chunks;
# counts the moves made while the cluster was still loading (holding fewer markers than ``cartoTotal``).
_PAN_WHILE_LOADING = """
window.cartoMovesWhileLoading = 0;
window.cartoPanner = setInterval(function () {
    var name = Object.keys(window).find(function (k) {
        return k.indexOf('map_') === 0 && window[k] && window[k].panBy; });
    if (!name) { return; }
    var cluster = Object.values(window).find(function (v) { return v && v._topClusterLevel; });
    if (!cluster || cluster._topClusterLevel.getChildCount() < window.cartoTotal) {
        window.cartoMovesWhileLoading += 1; }
    window[name].panBy([3, 2], {animate: false});
}, 15);
"""


def _map_html(rows: list[list[object]]) -> str:
    m = offline.make_map([47.2, -1.6], 9, tiles="none")
    point_cluster(
        json.dumps(rows), name="actors", fields=["name", "type", "sector", "id"], kinds=["association"],
        extra=["social"], colours=["#336699"], radius=6, stroke="#ffffff", weight=1, opacity=0.95,
        disable_at=13, css="carto-actor",
    ).add_to(m)
    return m.get_root().render()


def _answer_from_static(route) -> None:
    path = route.request.url.removeprefix(ORIGIN + offline.STATIC_URL_PREFIX + "/")
    route.fulfill(path=str(offline.STATIC_DIR / path))


def test_moves_while_the_cluster_loads_in_chunks_break_nothing(page):
    spread = random.Random(44)
    rows: list[list[object]] = [
        [round(47.0 + spread.random() * 0.6, 5), round(-2.2 + spread.random() * 1.2, 5), f"A-{i:05d}",
         f"Acteur {i}", 0, 0] for i in range(MARKERS)]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route(f"{ORIGIN}{offline.STATIC_URL_PREFIX}/**", _answer_from_static)
    page.route(f"{ORIGIN}/map.html", lambda route: route.fulfill(body=_map_html(rows), content_type="text/html"))
    page.add_init_script(f"window.cartoTotal = {MARKERS};" + _PAN_WHILE_LOADING)
    # A slower machine, as under load: the loading takes some 8 chunks, with moves between them.
    page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": 4})
    page.goto(f"{ORIGIN}/map.html")
    # Loaded: every marker is in the cluster tree, and the tree's top holds their bounds.
    page.wait_for_function(
        "() => { const c = Object.values(window).find(v => v && v._topClusterLevel);"
        f" return c && c._topClusterLevel.getChildCount() === {MARKERS} && !c._topClusterLevel._boundsNeedUpdate; }}",
        timeout=120_000, polling=100,
    )
    moves = page.evaluate("() => { clearInterval(window.cartoPanner); return window.cartoMovesWhileLoading; }")
    assert moves > 5, "the map was hardly moved while it loaded: the test proves nothing"
    assert errors == []
    # Still usable after it: a move and a zoom redraw markers or clusters, with no error.
    page.evaluate("() => { const m = Object.values(window).find(v => v && v.panBy && v.getZoom);"
                  " m.panBy([40, 40], {animate: false}); m.setZoom(m.getZoom() + 1, {animate: false}); }")
    page.wait_for_selector(".marker-cluster, .carto-actor", timeout=30_000)
    assert errors == []

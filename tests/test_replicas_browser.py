"""Two app processes on one PostGIS database behind the nginx site of ``deploy/`` (bench/proxy.py).

Each browser is pinned to a replica by the proxy's affinity cookie; what one replica commits, the
other shows by itself: every page checks the data-version table every second and runs again when it moved.
"""

from __future__ import annotations

import http.cookiejar
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import copy_sample

from bench import proxy
from bench.serve import start_streamlit, stop
from carto.ui.state import ExplorerState

pytestmark = [pytest.mark.browser, pytest.mark.postgis_only]

TIMEOUT = 60_000
IDLE = "[data-test-script-state='notRunning']"
# Three new actors in Nantes (commune 44109 of the sample), French headers as an analyst brings them.
NEW_ACTORS = (
    "identifiant,nom,type,secteur,longitude,latitude\n"
    "REPL-1,Association Replica Un,association,social,-1.553,47.215\n"
    "REPL-2,Association Replica Deux,association,social,-1.554,47.216\n"
    "REPL-3,Association Replica Trois,association,social,-1.555,47.217\n"
)


@pytest.fixture(scope="module")
def replicas(sample_db_template, tmp_path_factory, pg_cluster) -> Iterator[tuple[proxy.Proxy, list[str]]]:
    """Two replicas on one copy of the sample (340 actors) and nginx in front: (proxy, replica addresses)."""
    if proxy.nginx_binary() is None:
        pytest.fail("nginx is missing: run ./test.sh, which installs it")
    db = copy_sample(sample_db_template, tmp_path_factory.mktemp("replicas"), pg_cluster, "replicas")
    started = [start_streamlit(db) for _ in range(2)]
    try:
        with proxy.proxy([url for url, _ in started]) as running:
            yield running, [url.removeprefix("http://") for url, _ in started]
    finally:
        for _, proc in started:
            stop(proc)
        pg_cluster.drop_database(db.rsplit("/", 1)[1])


def _context(browser, base: str, cookie: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, locale="fr-FR")
    context.add_cookies([{"name": proxy.AFFINITY_COOKIE, "value": cookie, "url": base}])
    context.set_default_timeout(TIMEOUT)
    return context


def _actors_shown(page) -> str:
    figures = page.locator(f".st-key-{ExplorerState.FIGURES} [data-testid='stMetricValue']")
    figures.nth(1).wait_for()
    return figures.nth(1).inner_text().strip()


def _open_explorer(page, base: str) -> str:
    page.goto(base + "/", wait_until="domcontentloaded")
    page.wait_for_selector(f".st-key-{ExplorerState.FIGURES}")
    page.wait_for_selector(IDLE)
    return _actors_shown(page)


def test_a_new_browser_gets_an_affinity_cookie_and_keeps_its_replica(replicas):
    running, addresses = replicas
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    served = []
    for _ in range(5):
        with opener.open(f"{running.url}/_stcore/health", timeout=10) as response:
            served.append(response.headers[proxy.REPLICA_HEADER])
    cookies = [c for c in jar if c.name == proxy.AFFINITY_COOKIE]
    assert len(cookies) == 1 and len(cookies[0].value) == 32  # nginx's $request_id: 32 hex digits
    assert len(set(served)) == 1 and served[0] in addresses


def test_the_page_runs_through_the_proxy_websocket_included(replicas, browser):
    running, addresses = replicas
    cookie = proxy.pinned_cookies(running.url, addresses)[addresses[0]]
    context = _context(browser, running.url, cookie)
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        # The figures come over the WebSocket: they are there only if the script ran.
        assert _open_explorer(page, running.url) == "340"
        assert page.get_by_text("Connection error").count() == 0
        assert page.locator("[data-testid='stConnectionStatus']").count() == 0
        assert f"{running.url.replace('http', 'ws')}/_stcore/stream" in sockets
    finally:
        context.close()


def test_an_import_through_one_replica_shows_on_the_other_by_itself(replicas, browser, tmp_path: Path):
    running, addresses = replicas
    cookies = proxy.pinned_cookies(running.url, addresses)
    analyst_ctx, viewer_ctx = (_context(browser, running.url, cookies[a]) for a in addresses)
    upload = tmp_path / "nouveaux_acteurs.csv"
    upload.write_text(NEW_ACTORS, encoding="utf-8")
    try:
        analyst, viewer = analyst_ctx.new_page(), viewer_ctx.new_page()
        # Both browse the explorer: the sample's 340 actors on each replica.
        assert _open_explorer(analyst, running.url) == "340"
        assert _open_explorer(viewer, running.url) == "340"
        # The analyst imports 3 actors through the import page of their replica (the upload goes
        # through nginx to the replica holding their session).
        analyst.goto(running.url + "/import?dataset=actors", wait_until="domcontentloaded")
        analyst.wait_for_selector(IDLE)
        analyst.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(upload))
        commit = analyst.locator(".st-key-import_commit button")
        commit.wait_for(timeout=120_000)
        commit.click()
        analyst.get_by_text("terminé :").wait_for(timeout=120_000)
        # The viewer's explorer, open on the other replica and left alone, follows by itself:
        # 340 + 3 = 343 (bench/load.py measures how soon).
        viewer.wait_for_function(
            f"() => {{ const v = document.querySelectorAll('.st-key-{ExplorerState.FIGURES} "
            "[data-testid=\"stMetricValue\"]'); return v.length > 1 && v[1].innerText.trim() === '343'; }",
            timeout=TIMEOUT, polling=200)
        # The analyst's page does not run again for its own import: its outcome stays.
        analyst.wait_for_timeout(3000)
        assert analyst.get_by_text("terminé :").count() == 1
        assert _open_explorer(viewer, running.url) == "343"
        assert _open_explorer(analyst, running.url) == "343"
    finally:
        analyst_ctx.close()
        viewer_ctx.close()
    # Every request of each browser, page, WebSocket and upload, went to its own replica. nginx logs
    # a WebSocket when it closes: wait for both.
    deadline = time.monotonic() + 10
    while len(_streams(running)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _streams(running) == {(addresses[0], cookies[addresses[0]]), (addresses[1], cookies[addresses[1]])}
    by_cookie: dict[str, set[str]] = {}
    for replica, _status, _request, cookie in running.served():
        by_cookie.setdefault(cookie, set()).add(replica)
    assert by_cookie[cookies[addresses[0]]] == {addresses[0]}
    assert by_cookie[cookies[addresses[1]]] == {addresses[1]}
    uploads = [(r, c) for r, _s, req, c in running.served() if "/_stcore/upload_file/" in req]
    assert uploads and all(r == addresses[0] and c == cookies[addresses[0]] for r, c in uploads)


def _streams(running: proxy.Proxy) -> set[tuple[str, str]]:
    """(replica, cookie) of each WebSocket nginx upgraded (status 101) and logged since the start."""
    return {(r, c) for r, s, req, c in running.served() if req.startswith("GET /_stcore/stream") and s == "101"}

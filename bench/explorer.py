"""Explorer payload and speed on a synthetic tier: ``python -m bench.explorer --scale M``.

Builds the tier with :func:`carto.ingest.synthetic.write_tier`, loads it with
:func:`carto.ingest.sample.load_folder` into a temporary database, then measures, in the same run,
the explorer against a naive peer: one folium map holding every territory (all levels), every
actor (a clustered CircleMarker with a popup each), every place and every relation (one
GeoJSON of lines), with assets served locally as well.

- **payload**: bytes of the rendered map HTML plus the network figure JSON (ours), against the
  naive map HTML; for the opening view and after a filter change (relation kind = partnership).
- **server**: (a) the explorer page rerun after a filter change, measured with Streamlit's
  AppTest (the whole page script: widgets, cached data, scene for the new filters, map and
  figure built and serialised), warm cache = the data already read and prepared and the
  session's first two runs done (the second one adds the network); a second filter change;
  a rerun back to already-seen filters; (b) the same compute called directly (scene + map +
  figure rendered) against building and rendering the naive map.
- **browser**: headless Chromium against ``streamlit run app.py`` (tiles off): time from
  navigation to the map drawn (``.leaflet-container`` with marker clusters, actor markers or,
  above the point threshold, circles per territory) on our page (first visit, then a second
  visit with the server warm), then to the network drawn (it comes a moment after the map, see
  ``carto.ui.after_first_run``), and for the naive HTML served from a local HTTP server with
  its assets taken from the Streamlit server.

At L the naive peer is not built (a million relation lines is beyond a gigabyte of HTML);
its figures are reported as null. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import folium
import pandas as pd
from folium.plugins import MarkerCluster

from bench.serve import start_streamlit, stop
from carto import store
from carto.analysis import scene as view
from carto.analysis.filters import Filters
from carto.analysis.selection import Selection
from carto.ingest import sample, synthetic
from carto.render import explorer, layers, netview, offline

PROJECT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TARGETS = {"payload_mb": 3.0, "payload_ratio": 0.2, "drawn_s": 4.0, "click_s": 1.0}
RERUN_TARGETS = {"S": 0.5, "M": 0.5, "L": 1.5}
NAIVE_SCALES = ("S", "M")
CHANGED = Filters(kinds=("partnership",))


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def naive_map(frames: dict[str, pd.DataFrame], *, prefix: str = offline.STATIC_URL_PREFIX) -> folium.Map:
    """The peer: everything in one folium map, the way a first version would draw it."""
    territories, actors, places, relations = (frames[n] for n in ("territories", "actors", "places", "relations"))
    minx, miny, maxx, maxy = territories.total_bounds
    m = offline.make_map(((miny + maxy) / 2, (minx + maxx) / 2), 8, tiles="none", prefix=prefix, leaflet_only=False)
    folium.GeoJson(territories[["code", "name", "level", "geometry"]].to_json(), name="territories").add_to(m)
    points = layers.node_points(actors, places)
    lines = layers.relation_lines(relations, points)[["id", "kind", "geometry"]]
    folium.GeoJson(lines.to_json(), name="relations").add_to(m)
    lat, lon = points["lat"].astype(float).to_dict(), points["lon"].astype(float).to_dict()
    for node, name in zip(places["id"], places["name"], strict=True):
        folium.CircleMarker((lat[node], lon[node]), radius=6, tooltip=str(name)).add_to(m)
    cluster = MarkerCluster(name="actors").add_to(m)
    for node, name, kind, sector in zip(actors["id"], actors["name"], actors["type"], actors["sector"], strict=True):
        folium.CircleMarker(
            (lat[node], lon[node]),
            radius=6,
            tooltip=str(name),
            popup=folium.Popup(f"{name}<br>{kind}<br>{sector}<br>{node}"),
        ).add_to(cluster)
    return offline.localize_assets(m, prefix=prefix)


def our_payload(base: view.Base, map_base: explorer.MapBase, filters: Filters) -> tuple[int, int, float]:
    """Bytes of the map HTML and of the figure JSON for ``filters``, and the time to make them."""
    start = time.perf_counter()
    scene = view.build_scene(base, filters)
    focused = view.focus(scene, Selection())
    html = explorer.explorer_map(explorer.plan_map(scene, map_base), focused, "fr", tiles="none").get_root().render()
    sub = view.network_subgraph(scene, focused)
    positions = netview.layout_positions(sub.nodes, sub.edges, layout="force")
    figure = explorer.explorer_figure(
        sub, scene.metrics, positions, focused, "fr", layout="force", colour_by="type", size_by="degree"
    ).to_json()
    elapsed = time.perf_counter() - start
    return len(html.encode()), len(figure.encode()), elapsed


def _prepared(frames: dict[str, pd.DataFrame]) -> tuple[view.Base, explorer.MapBase]:
    """What the explorer computes once per data version: the view model's base and the map's."""
    base = view.prepare(*frames.values())
    return base, explorer.prepare_map(base)


def app_reruns(db: Path, level: str) -> dict[str, Any]:
    """AppTest: first run, a filter change, then back to filters already seen."""
    from streamlit.testing.v1 import AppTest

    os.environ["CARTO_DB"] = str(db)
    os.environ["CARTO_TILES"] = "none"
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=600)
    _, first = _timed(at.run)
    if at.exception:
        msg = f"the explorer page failed: {at.exception[0].message}"
        raise RuntimeError(msg)
    _, network = _timed(at.run)  # the rerun a browser's timer makes to draw the network after the map
    _, changed = _timed(at.multiselect(key="f_kinds").set_value(list(CHANGED.kinds)).run)
    _, back = _timed(at.multiselect(key="f_kinds").set_value([]).run)
    _, changed_again = _timed(at.radio(key="f_formal").set_value("yes").run)
    return {
        "first": first,
        "network_run": network,
        "filter_change": changed,
        "filter_back": back,
        "second_filter_change": changed_again,
        "level": level,
    }


WARMED = re.compile(r"carto: explorer warm for data version \d+ in ([0-9.]+) s")


@contextmanager
def served_app(db: Path) -> Iterator[str]:
    url, proc = start_streamlit(db)
    try:
        yield url
    finally:
        stop(proc)


def wait_for_warm(db: Path, timeout_s: float) -> tuple[float | None, float | None]:
    """Seconds from the server healthy to its explorer warm (:func:`carto.ui.cache.keep_warm`), and
    the warm-up's own seconds as the server logs them; None when it did not happen in time."""
    log_path = db.with_suffix(".streamlit.log")
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        found = WARMED.search(log_path.read_text(errors="replace"))
        if found:
            return time.perf_counter() - start, float(found.group(1))
        time.sleep(0.2)
    return None, None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the base class's parameter name
        return


@contextmanager
def served_folder(folder: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


_NETWORK_DRAWN = "() => { const p = document.querySelector('.js-plotly-plot'); return !!(p && p._fullLayout); }"
_MARKERS = ".marker-cluster, path.carto-actor, path.carto-bubble"
_DRAWN = f"() => document.querySelector('.leaflet-container') && document.querySelector('{_MARKERS}')"


def time_to_map(browser: Any, url: str, *, in_iframe: bool, timeout_s: float) -> tuple[float | None, float | None]:
    """Seconds from navigation to Leaflet drawn with markers, and (our page) to the network drawn.

    None when it never happened.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    page = context.new_page()
    start = time.perf_counter()
    try:
        page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        if not in_iframe:
            page.wait_for_function(_DRAWN, timeout=timeout_s * 1000)
            return time.perf_counter() - start, None
        frame = page.frame_locator("iframe[title*='st_folium']").first
        frame.locator(".leaflet-container").wait_for(state="attached", timeout=timeout_s * 1000)
        markers = frame.locator(_MARKERS).first
        markers.wait_for(state="attached", timeout=timeout_s * 1000)
        drawn = time.perf_counter() - start
        page.wait_for_function(_NETWORK_DRAWN, timeout=timeout_s * 1000, polling=50)
        return drawn, time.perf_counter() - start
    except Exception as error:  # a timeout: reported as None, the table says so
        _progress(f"map not drawn at {url}: {str(error).splitlines()[0]}")
        page.screenshot(path=str(Path(tempfile.gettempdir()) / "bench-explorer-timeout.png"))
        return None, None
    finally:
        context.close()


_HIGHLIGHTED = (
    "() => { const p = document.querySelector('.js-plotly-plot');"
    " return !!(p && p.data && p.data.some(t => t.meta && t.meta.role === 'highlight')); }"
)


def click_round_trip(browser: Any, url: str, territory: str, *, timeout_s: float) -> float | None:
    """Seconds from a click on an actor on the map to its ego network drawn in the network view
    (the figure holds the highlighted trace), on the explorer opened on ``territory`` (its actors
    drawn one by one); None when it never happened."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    page = context.new_page()
    try:
        page.goto(f"{url}/?territory={territory}", wait_until="commit", timeout=timeout_s * 1000)
        frame = page.frame_locator("iframe[title*='st_folium']").first
        actor = frame.locator("path.carto-actor").first
        actor.wait_for(state="attached", timeout=timeout_s * 1000)
        page.wait_for_function(_NETWORK_DRAWN, timeout=timeout_s * 1000, polling=50)
        page.wait_for_timeout(2000)  # the page settled: no rerun of the first visit still under way
        # A click as Leaflet sees it, on the actor's own mark (a pointer click at its centre may land on
        # a cluster, a line or the legend drawn over it).
        start = time.perf_counter()
        actor.dispatch_event("click", {"bubbles": True})
        page.wait_for_function(_HIGHLIGHTED, timeout=timeout_s * 1000, polling=20)
        return time.perf_counter() - start
    except Exception as error:  # a timeout: reported as None, the table says so
        _progress(f"click round trip not measured: {str(error).splitlines()[0]}")
        page.screenshot(path=str(Path(tempfile.gettempdir()) / "bench-explorer-click.png"))
        return None
    finally:
        context.close()


def run(scale: str, seed: int, browser_timeout: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {"scale": scale, "loadavg": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-explorer-") as tmp:
        folder = Path(tmp) / "tier"
        synthetic.write_tier(folder, scale, seed=seed)
        db = Path(tmp) / "bench.duckdb"
        conn = store.connect(db)
        sample.load_folder(conn, folder)
        cur = conn.cursor()
        frames = {n: store.read_dataset(cur, n) for n in ("territories", "places", "actors", "relations")}
        conn.close()
        # The served app gets its own copy: this process keeps the first file open for AppTest.
        served_db = Path(tmp) / "served.duckdb"
        shutil.copy(db, served_db)
        out["rows"] = {n: len(f) for n, f in frames.items()}
        _progress("tier loaded")
        (base, map_base), out["prepare_s"] = _timed(lambda: _prepared(frames))
        level = view.default_level(base.territories)
        opening, changed = Filters(level=level), Filters(level=level, kinds=CHANGED.kinds)
        for name, filters in (("opening", opening), ("filter_change", changed)):
            map_bytes, fig_bytes, seconds = our_payload(base, map_base, filters)
            out[f"ours_{name}"] = {"map_bytes": map_bytes, "figure_bytes": fig_bytes, "compute_s": seconds}
        naive_html: str | None = None
        _progress("our payload measured")
        if scale in NAIVE_SCALES:
            naive_html, out["naive_compute_s"] = _timed(lambda: naive_map(frames).get_root().render())
            out["naive_bytes"] = len(naive_html.encode())
        else:
            out["naive_compute_s"] = out["naive_bytes"] = None
        out["apptest"] = app_reruns(db, level)
        _progress("AppTest reruns measured")

        with served_app(served_db) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # A visitor after the server started: it warmed the explorer in the background first.
            out["warm_wait_s"], out["warm_s"] = wait_for_warm(served_db, browser_timeout)
            out["drawn_first_s"], out["network_first_s"] = time_to_map(
                browser, url, in_iframe=True, timeout_s=browser_timeout
            )
            out["drawn_warm_s"], out["network_warm_s"] = time_to_map(
                browser, url, in_iframe=True, timeout_s=browser_timeout
            )
            _progress("our page drawn in Chromium")
            # A commune of about 30 actors: each drawn as a mark, a network of a few hundred nodes.
            per_territory = base.actors["territory_code"].value_counts()
            typical = str((per_territory - 30).abs().idxmin()) if len(per_territory) else ""
            out["click_s"] = click_round_trip(browser, url, typical, timeout_s=browser_timeout)
            _progress("click round trip measured")
            out["naive_drawn_s"] = None
            if naive_html is not None:
                # Same HTML, its local asset paths pointed at the Streamlit server that serves them.
                prefix = f'"{url}{offline.STATIC_URL_PREFIX}/'
                naive_dir = Path(tmp) / "naive"
                naive_dir.mkdir()
                (naive_dir / "index.html").write_text(
                    naive_html.replace(f'"{offline.STATIC_URL_PREFIX}/', prefix), encoding="utf-8"
                )
                with served_folder(naive_dir) as naive_url:
                    out["naive_drawn_s"], _ = time_to_map(
                        browser, f"{naive_url}/index.html", in_iframe=False, timeout_s=browser_timeout
                    )
            browser.close()
    return out


def _mb(n: float | None) -> str:
    return "n/a" if n is None else f"{n / 1e6:.2f} MB"


def _s(x: float | None) -> str:
    return "timeout/n.a." if x is None else f"{x:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.explorer", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="S", choices=sorted(synthetic.TIERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--browser-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    r = run(args.scale, args.seed, args.browser_timeout)
    opening = r["ours_opening"]["map_bytes"] + r["ours_opening"]["figure_bytes"]
    changed = r["ours_filter_change"]["map_bytes"] + r["ours_filter_change"]["figure_bytes"]
    naive = r["naive_bytes"]
    ratio = None if naive is None else opening / naive
    rerun_target = RERUN_TARGETS[args.scale]
    rows = [
        ("rows", json.dumps(r["rows"]), ""),
        ("load average (1 min)", f"{r['loadavg']:.2f}", ""),
        ("payload, opening view (map + figure)", _mb(opening), f"<= {TARGETS['payload_mb']} MB"),
        ("payload, after filter change", _mb(changed), f"<= {TARGETS['payload_mb']} MB"),
        ("payload, naive map", _mb(naive), ""),
        ("ours / naive", "n/a" if ratio is None else f"{ratio:.3f}", f"<= {TARGETS['payload_ratio']}"),
        ("page rerun after filter change (AppTest)", _s(r["apptest"]["filter_change"]), f"<= {rerun_target} s"),
        ("second filter change (AppTest)", _s(r["apptest"]["second_filter_change"]), f"<= {rerun_target} s"),
        ("rerun back to seen filters (AppTest)", _s(r["apptest"]["filter_back"]), ""),
        ("first page run, cold (AppTest)", _s(r["apptest"]["first"]), ""),
        ("second run, adds the network (AppTest)", _s(r["apptest"]["network_run"]), ""),
        ("compute ours after filter change (direct)", _s(r["ours_filter_change"]["compute_s"]), ""),
        ("compute naive map (build + render)", _s(r["naive_compute_s"]), ""),
        ("server warm-up after start (its log)", _s(r["warm_s"]), ""),
        ("waited for it after healthy", _s(r["warm_wait_s"]), ""),
        ("map drawn, first visit (Chromium)", _s(r["drawn_first_s"]), f"<= {TARGETS['drawn_s']} s"),
        ("map drawn, warm server (Chromium)", _s(r["drawn_warm_s"]), f"<= {TARGETS['drawn_s']} s"),
        ("network drawn, first visit (Chromium)", _s(r["network_first_s"]), ""),
        ("network drawn, warm server (Chromium)", _s(r["network_warm_s"]), ""),
        ("map drawn, naive HTML (Chromium)", _s(r["naive_drawn_s"]), ""),
        ("click on an actor → ego network drawn (Chromium)", _s(r["click_s"]), f"<= {TARGETS['click_s']} s"),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"bench.explorer --scale {args.scale}")
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>22}  {target}")
    result = {
        "bench": "explorer",
        "scale": args.scale,
        "loadavg": round(r["loadavg"], 2),
        "payload_bytes": opening,
        "payload_after_filter_bytes": changed,
        "naive_bytes": naive,
        "payload_ratio": None if ratio is None else round(ratio, 4),
        "rerun_filter_change_s": round(r["apptest"]["filter_change"], 3),
        "rerun_second_filter_change_s": round(r["apptest"]["second_filter_change"], 3),
        "rerun_back_s": round(r["apptest"]["filter_back"], 3),
        "compute_ours_s": round(r["ours_filter_change"]["compute_s"], 3),
        "compute_naive_s": None if r["naive_compute_s"] is None else round(r["naive_compute_s"], 3),
        "drawn_first_s": None if r["drawn_first_s"] is None else round(r["drawn_first_s"], 3),
        "drawn_warm_s": None if r["drawn_warm_s"] is None else round(r["drawn_warm_s"], 3),
        "network_first_s": None if r["network_first_s"] is None else round(r["network_first_s"], 3),
        "network_warm_s": None if r["network_warm_s"] is None else round(r["network_warm_s"], 3),
        "naive_drawn_s": None if r["naive_drawn_s"] is None else round(r["naive_drawn_s"], 3),
        "warm_s": r["warm_s"],
        "click_s": None if r["click_s"] is None else round(r["click_s"], 3),
        "warm_wait_s": None if r["warm_wait_s"] is None else round(r["warm_wait_s"], 3),
        "level": r["apptest"]["level"],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

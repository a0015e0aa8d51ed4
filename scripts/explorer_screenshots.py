"""Screenshots of the explorer on the embedded sample, and how many lines its map draws one by one.

    .venv/bin/python -m scripts.explorer_screenshots [--out docs/screenshots]

Serves the app on a copy of the sample (tiles off, as the browser tests), opens three views in
Debian's chromium (the opening view, Nantes chosen as territory, an actor's ego network) and, for
each, counts the polylines Leaflet holds (relations, flows, the selection's relations) and saves
the map and the network as a PNG.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from bench.serve import start_streamlit, stop
from carto import store
from carto.ingest import sample

CHROMIUM = "/usr/bin/chromium"
TIMEOUT = 90_000

# (file name, query string): the views the issue asks to read at a glance.
VIEWS = (
    ("explorer-opening", ""),
    ("explorer-nantes", "?level=commune&territory=44109"),
    ("explorer-ego", "?sel=A-0164"),
)

# Lines Leaflet draws separately in the map's frame: every polyline that is not a polygon.
_COUNT_LINES = """
() => { const L = window.L; let map = null;
        for (const key of Object.keys(window)) { if (window[key] instanceof L.Map) { map = window[key]; break; } }
        let lines = 0;
        map.eachLayer(l => { if (l instanceof L.Polyline && !(l instanceof L.Polygon)) lines += 1; });
        return lines; }
"""


def _sample_db(folder: Path) -> Path:
    path = folder / "sample.duckdb"
    connection = store.connect(path)
    sample.load_folder(connection, sample.SAMPLE_DIR)
    connection.close()
    return path


def _save_small(png: bytes, path: Path) -> None:
    """Save ``png`` with a 256-colour palette: a third of the size, the map and text still crisp."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def shoot(out: Path) -> dict[str, int]:
    """Save one PNG per view under ``out``; return the number of lines drawn in each."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        url, proc = start_streamlit(_sample_db(Path(folder)))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
                page = browser.new_context(viewport={"width": 1400, "height": 1100}, locale="fr-FR").new_page()
                for name, query in VIEWS:
                    page.goto(f"{url}/{query}", wait_until="domcontentloaded")
                    page.wait_for_function(
                        "() => { const p = document.querySelector('.js-plotly-plot'); return p && p._fullLayout; }",
                        timeout=TIMEOUT, polling=250,
                    )
                    inner = next(f for f in page.frames if "streamlit_folium" in f.url)
                    inner.wait_for_function("() => window.L && document.querySelector('.leaflet-container')",
                                            timeout=TIMEOUT)
                    time.sleep(2)  # tiles off; let the clusters and the network settle
                    counts[name] = int(inner.evaluate(_COUNT_LINES))
                    box = page.locator("iframe[title*='st_folium']").first.bounding_box()
                    assert box is not None
                    # The map, the network beside it and the notes under them (page coordinates).
                    top = box["y"] + page.evaluate("() => window.scrollY")
                    clip = {"x": box["x"] - 8, "y": top - 70, "width": 1400 - box["x"], "height": box["height"] + 130}
                    shot = page.screenshot(clip=clip, full_page=True)  # type: ignore[arg-type]
                    _save_small(shot, out / f"{name}.png")
                browser.close()
        finally:
            stop(proc)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    for name, lines in shoot(parser.parse_args().out).items():
        print(f"{name}: {lines} lines drawn one by one")


if __name__ == "__main__":
    main()

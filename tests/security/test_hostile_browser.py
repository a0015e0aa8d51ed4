"""The served dashboard on hostile names, in Debian's chromium: nothing runs, nothing leaves.

Every tooltip and popup of every map layer is opened (clustered markers too: their content is
built as Leaflet would), the network's hover is shown, the summary and the import preview are
visited; a ``dialog`` listener must see nothing, no request may leave the app's host, no
exception box may appear, and the names must read literally where they are shown.
"""

from __future__ import annotations

import shutil
from urllib.parse import urlparse

import hostile_data
import pytest

from bench.serve import start_streamlit, stop

pytestmark = pytest.mark.browser

TIMEOUT = 60_000

# In a map frame: open every tooltip and popup of every layer, clustered markers included, and
# return the text shown. Leaflet writes string content with innerHTML and appends element content.
_OPEN_EVERYTHING = """
() => {
  const maps = Object.keys(window).filter(k => k.startsWith('map_') && window[k] && window[k].eachLayer)
                                  .map(k => window[k]);
  const shown = [];
  const render = (content, layer) => {
    const value = typeof content === 'function' ? content(layer) : content;
    const box = document.createElement('div');
    if (value instanceof Node) box.appendChild(value); else box.innerHTML = value;
    document.body.appendChild(box);
    shown.push(box.textContent);
  };
  const visit = (layer, owner) => {
    for (const [get, name] of [['getTooltip', 'tooltip'], ['getPopup', 'popup']]) {
      const bound = layer[get] && layer[get]();
      if (bound) render(bound._content, owner || layer);
    }
  };
  for (const map of maps) {
    map.eachLayer(layer => {
      visit(layer);
      if (layer.getLayers) layer.getLayers().forEach(child => {
        visit(child);
        const group = layer[`getTooltip`] && layer.getTooltip();
        if (group) render(group._content, child);
      });
    });
  }
  return shown;
}
"""

_NODE_HOVER = """
(needle) => {
  const plot = document.querySelector('.js-plotly-plot');
  const layout = plot._fullLayout;
  const box = plot.querySelector('.nsewdrag').getBoundingClientRect();
  for (const trace of plot._fullData) {
    const i = Array.isArray(trace.text) ? trace.text.findIndex(t => t.includes(needle)) : -1;
    if (i >= 0) return {x: box.left + layout.xaxis.l2p(trace.x[i]), y: box.top + layout.yaxis.l2p(trace.y[i])};
  }
  return null;
}
"""


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    db = hostile_data.write_database(tmp_path_factory.mktemp("hostile-served"))
    url, proc = start_streamlit(db)
    yield url
    stop(proc)


@pytest.fixture
def watched(browser):
    """A French page with every dialog and every request recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    page = context.new_page()
    page.dialogs, page.requested = [], []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: page.requested.append(request.url))
    yield page
    context.close()


def _frames_with_maps(page, count: int = 1):
    page.wait_for_selector("iframe[title*='st_folium']", timeout=TIMEOUT)
    frames = page.frame_locator("iframe[title*='st_folium']")
    for i in range(count):
        frames.nth(i).locator(".leaflet-container").wait_for(timeout=TIMEOUT)
    return [f for f in page.frames if f.url.startswith("about:") is False and f != page.main_frame]


def _open_all_map_texts(page) -> list[str]:
    texts: list[str] = []
    for frame in page.frames:
        if frame == page.main_frame:
            continue
        if frame.evaluate("() => !!window.L"):
            # The explorer's map draws paths; the edit form's move map, one draggable marker.
            frame.wait_for_function(
                "() => document.querySelectorAll('path.leaflet-interactive, .leaflet-marker-draggable').length > 0",
                timeout=TIMEOUT)
            texts += frame.evaluate(_OPEN_EVERYTHING)
    return texts


def _assert_clean(page, host: str) -> None:
    page.wait_for_timeout(500)  # let any image error fire
    assert page.dialogs == []
    outside = {urlparse(u).netloc for u in page.requested if u.startswith("http")} - {host}
    assert outside == set()
    assert page.locator("[data-testid='stException']").count() == 0


def test_explorer_map_network_and_details_run_nothing(hostile_app, watched):
    page, host = watched, urlparse(hostile_app).netloc
    page.goto(f"{hostile_app}/?territory=C1&tsel=C1&sel=a2", wait_until="domcontentloaded")
    _frames_with_maps(page)
    texts = _open_all_map_texts(page)
    # the commune C1, actors a5 and a3 read exactly as stored, markup and all
    assert any("<img src=x onerror=alert(parent.document.title)> Ville-Haute [C1]" in t for t in texts)
    assert any(t == "[lien](javascript:alert(3)) :red[rouge] $x^2$ **gras** Club isolé [a5]" for t in texts)
    assert any(t == "</script><script>alert(2)</script> Association Lien [a3]" for t in texts)
    page.wait_for_function(
        "() => { const p = document.querySelector('.js-plotly-plot'); return p && p._fullData; }", timeout=TIMEOUT
    )
    point = page.evaluate(_NODE_HOVER, "Association Lien")
    page.mouse.move(point["x"], point["y"])
    page.locator(".hoverlayer .hovertext").first.wait_for(timeout=TIMEOUT)
    hover = page.locator(".hoverlayer .hovertext").first.text_content()
    assert "</script><script>alert(2)</script> Association Lien [a3]" in hover
    # details: the territory's name in the sentence, shown literally (markdown escaped)
    sentence = page.get_by_text("<img src=x onerror=alert(parent.document.title)> Ville-Haute", exact=False)
    sentence.first.wait_for(timeout=TIMEOUT)
    # the selection's social space (a1, a2, a3, p1, all in C1): its home named literally in the sentence
    page.get_by_text("Espace social de la sélection").click()
    space = page.locator(".st-key-explorer_space_sentence")
    space.get_by_text("hors de <img src=x onerror=alert(parent.document.title)> Ville-Haute",
                      exact=False).first.wait_for(timeout=TIMEOUT)
    _assert_clean(page, host)


def test_summary_and_its_map_run_nothing(hostile_app, watched):
    page, host = watched, urlparse(hostile_app).netloc
    page.goto(f"{hostile_app}/summary", wait_until="domcontentloaded")
    page.get_by_role("heading", name="<img src=x onerror=alert(parent.document.title)> Département Test (D1)").wait_for(
        timeout=TIMEOUT
    )
    _frames_with_maps(page)
    texts = _open_all_map_texts(page)
    assert any("{{ 7*7 }} Bourg-Bas" in t for t in texts)
    _assert_clean(page, host)


def test_social_space_maps_and_sentences_run_nothing(hostile_app, watched):
    page, host = watched, urlparse(hostile_app).netloc
    page.goto(f"{hostile_app}/espace-social", wait_until="domcontentloaded")
    # the referral sentence names a2 literally (markdown escaped), the beacon is never fetched
    page.get_by_text("Services vers lesquels ![x](http://evil.example/beacon.png) Centre social Les Tilleuls",
                     exact=False).first.wait_for(timeout=TIMEOUT)
    _frames_with_maps(page, count=2)
    texts = _open_all_map_texts(page)
    # the referral a2 → p1 on the pathway map, both names as stored
    assert any("![x](http://evil.example/beacon.png) Centre social Les Tilleuls" in t for t in texts)
    assert any("{{ 7*7 }} Quartier Nord" in t for t in texts)
    _assert_clean(page, host)


def test_import_preview_runs_nothing(hostile_app, watched, tmp_path):
    page, host = watched, urlparse(hostile_app).netloc
    upload = tmp_path / "partenaires.csv"
    upload.write_text(
        "id,nom,type,lon,lat,<b onmouseover=alert(7)>note</b>\n"
        'n1,"<img src=x onerror=alert(8)>",caf,2.05,46.05,x\n'
        'n2,"{{ 7*7 }} {% if",ccas,2.06,46.06,x\n'
        'n3,"</script><script>alert(9)</script>",association,2.07,46.07,x\n',
        encoding="utf-8",
    )
    page.goto(f"{hostile_app}/import?dataset=actors", wait_until="domcontentloaded")
    page.locator("input[type='file']").first.set_input_files(str(upload))
    _frames_with_maps(page)
    texts = _open_all_map_texts(page)
    assert any("<img src=x onerror=alert(8)>" in t for t in texts), texts
    assert any("{{ 7*7 }} {% if" in t for t in texts)
    _assert_clean(page, host)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOCAL_MODE = "Mode local : vous êtes analyste"


def _visit(browser, url: str, wait_for: str | None, *, seconds: float = 8) -> str:
    """The page's text after opening ``url`` (waiting for ``wait_for``, else ``seconds``)."""
    context = browser.new_context(locale="fr-FR")
    try:
        page = context.new_page()
        page.goto(url, wait_until="domcontentloaded")
        if wait_for:
            page.get_by_text(wait_for).first.wait_for(timeout=TIMEOUT)
        else:
            page.wait_for_timeout(seconds * 1000)
        return page.locator("body").inner_text()
    finally:
        context.close()


@pytest.fixture(scope="module")
def rebinding_browser(browser):
    """Chromium for which evil.example resolves to 127.0.0.1, as a rebinding attacker arranges."""
    instance = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP evil.example 127.0.0.1"]
    )
    yield instance
    instance.close()


def test_a_foreign_host_name_gets_no_local_analyst(sample_db, tmp_path, rebinding_browser):
    copy = tmp_path / "second.duckdb"
    shutil.copy(sample_db, copy)
    # Streamlit refuses the session itself (server.allowedHosts in .streamlit/config.toml) ...
    url, proc = start_streamlit(sample_db)
    try:
        port = urlparse(url).port
        assert LOCAL_MODE in _visit(rebinding_browser, f"http://127.0.0.1:{port}/import", LOCAL_MODE)
        shown = _visit(rebinding_browser, f"http://evil.example:{port}/import", None)
        assert LOCAL_MODE not in shown and "Importer un fichier" not in shown
    finally:
        stop(proc)
    # ... and where a deployment accepts any host name, the app itself still refuses local mode.
    url, proc = start_streamlit(copy, extra_args=["--server.allowedHosts", "*"])
    try:
        port = urlparse(url).port
        shown = _visit(rebinding_browser, f"http://evil.example:{port}/import", "Adresse refusée")
        assert LOCAL_MODE not in shown and "Importer un fichier" not in shown
        assert "Territoires, lieux habités et partenaires" not in shown  # no data at all
        assert LOCAL_MODE in _visit(rebinding_browser, f"http://localhost:{port}/import", LOCAL_MODE)
    finally:
        stop(proc)

"""One language per screen, in Debian's chromium: what plotly and Streamlit draw themselves."""

from __future__ import annotations

import re

import pytest
from test_one_language import ENGLISH, FRENCH

pytestmark = pytest.mark.browser

TIMEOUT = 60_000

_MODEBAR_TITLES = """
() => Array.from(document.querySelectorAll('.js-plotly-plot .modebar-btn'), b => b.getAttribute('data-title'))
"""


def _network_drawn(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function(
        "() => { const p = document.querySelector('.js-plotly-plot'); return p && p._fullLayout && p.data; }",
        timeout=TIMEOUT, polling=200,
    )
    page.locator(".js-plotly-plot .modebar-btn").first.wait_for(state="attached", timeout=TIMEOUT)


@pytest.mark.parametrize(
    ("locale", "shown", "not_shown"),
    [
        ("fr-FR", {"Sélection rectangulaire", "Sélection lasso", "Translation"}, {"Box Select", "Lasso Select", "Pan"}),
        ("en-GB", {"Box Select", "Lasso Select", "Pan"}, {"Sélection rectangulaire", "Sélection lasso"}),
    ],
)
def test_the_network_tools_speak_the_page_language(served_app, browser, artifacts, locale, shown, not_shown):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale=locale)
    try:
        page = context.new_page()
        _network_drawn(page, served_app)
        titles = set(page.evaluate(_MODEBAR_TITLES))
        page.screenshot(path=str(artifacts / f"explorer-network-{locale}.png"), full_page=True)
        assert shown <= titles, titles
        assert not titles & not_shown
    finally:
        context.close()


# What Streamlit draws itself in English on a French page, and why we cannot translate it (Streamlit 1.67):
STREAMLIT_ENGLISH = {
    "Skip to main content": "the keyboard users' skip link Streamlit adds to every page; no setting",
    "dd": "st.date_input shows its empty field as the format's letters (dd/mm/yyyy); we choose only their order",
    "mm": "idem",
    "yyyy": "idem",
    "Upload": "st.file_uploader's button: no parameter sets its text",
    "upload": "the name of that button's Material icon, shown as text when the icon font is not loaded (offline)",
    "200MB per file": "st.file_uploader's size limit line: no parameter sets its text",
    "Fullscreen": "the button Streamlit adds to plotly's mode bar: plotly's locale does not reach added buttons",
}
# Not scanned (read by screen readers, not shown): aria labels such as "Open", "Clear value", "Choose date",
# "Collapse sidebar", "Help for ...", and the list texts "No results" / "Select all" of an open multiselect.

_SHOWN = """
() => [document.body.innerText,
       ...Array.from(document.querySelectorAll('.js-plotly-plot .modebar-btn'), b => b.getAttribute('data-title'))]
"""


def _english_left(texts: list[str]) -> tuple[dict[str, list[str]], set[str]]:
    """English words left once Streamlit's known strings are taken out, and which known strings were seen."""
    seen, found = set(), {}
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            if line in STREAMLIT_ENGLISH:
                seen.add(line)
                continue
            hits = [w for w in ENGLISH if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", line)]
            if hits:
                found[line] = hits
    return found, seen


def test_french_pages_show_no_english_but_streamlit_s_listed_strings(served_app, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    try:
        page = context.new_page()
        _network_drawn(page, served_app)
        texts = page.evaluate(_SHOWN)
        page.goto(f"{served_app}/summary", wait_until="domcontentloaded")
        page.get_by_text("Liens actifs par année").first.wait_for(timeout=TIMEOUT)
        texts += page.evaluate(_SHOWN)
        page.goto(f"{served_app}/import", wait_until="domcontentloaded")
        page.get_by_text("Choisissez un fichier pour commencer.").wait_for(timeout=TIMEOUT)
        page.get_by_text("200MB per file").wait_for(timeout=TIMEOUT)
        texts += page.evaluate(_SHOWN)
    finally:
        context.close()
    found, seen = _english_left(texts)
    assert found == {}
    assert seen == set(STREAMLIT_ENGLISH)  # every listed exception is real: drop one Streamlit translates


def test_english_pages_show_no_french(served_app, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    try:
        page = context.new_page()
        _network_drawn(page, served_app)
        texts = [*page.evaluate(_SHOWN), page.title()]
        title = page.title()
    finally:
        context.close()
    assert "Territories & social space" in title
    lines = [line.strip() for text in texts for line in text.splitlines()]
    found = {line: [w for w in FRENCH if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", line)] for line in lines}
    assert {line: words for line, words in found.items() if words} == {}

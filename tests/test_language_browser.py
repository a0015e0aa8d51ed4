"""One language per screen, in Debian's chromium: what plotly and Streamlit draw themselves."""

from __future__ import annotations

import pytest

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

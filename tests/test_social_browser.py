"""The social-space page in Debian's chromium, on the sample: a footprint over the borders with its
sentence, and the referrals from a CCAS drawn with their direction."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

TIMEOUT = 60_000

# In a map frame: how many footprint polygons, referral lines and direction marks Leaflet drew.
_DRAWN = """
() => {
  const map = Object.keys(window).filter(k => k.startsWith('map_')).map(k => window[k])[0];
  let fills = 0, lines = 0;
  map.eachLayer(layer => {
    if (layer instanceof L.Polygon && layer.options.fillOpacity === 0.35 && layer.options.weight === 2) fills++;
    else if (layer instanceof L.Polyline && !(layer instanceof L.Polygon)) lines++;
  });
  return {fills, lines, arrows: document.querySelectorAll('textPath').length};
}
"""


def _map_frames(page, count: int):
    page.wait_for_selector("iframe[title*='st_folium']", timeout=TIMEOUT)
    locators = page.frame_locator("iframe[title*='st_folium']")
    for i in range(count):
        locators.nth(i).locator(".leaflet-container").wait_for(timeout=TIMEOUT)
    return [f for f in page.frames if f != page.main_frame and f.evaluate("() => !!window.L")]


def test_a_community_space_and_the_referrals_of_a_ccas(served_app, page):
    page.goto(f"{served_app}/espace-social", wait_until="domcontentloaded")
    # The largest community of the sample spreads over the département: several areas, in words.
    page.get_by_text("Espace social éclaté :", exact=False).first.wait_for(timeout=TIMEOUT)
    page.get_by_text("se trouve hors de", exact=False).first.wait_for(timeout=TIMEOUT)
    space, paths, _changes = _map_frames(page, 3)  # the social space, the referrals, what changed
    space.wait_for_function("() => document.querySelectorAll('path.leaflet-interactive').length > 0", timeout=TIMEOUT)
    drawn = space.evaluate(_DRAWN)
    assert drawn["fills"] >= 1 and drawn["lines"] == 0
    # The first offered start is a CCAS that refers cases: its referrals are lines with an arrow each.
    paths.wait_for_function("() => document.querySelectorAll('textPath').length > 0", timeout=TIMEOUT)
    drawn = paths.evaluate(_DRAWN)
    assert drawn["lines"] >= 1
    assert drawn["arrows"] == drawn["lines"]
    assert page.locator("[data-testid='stException']").count() == 0

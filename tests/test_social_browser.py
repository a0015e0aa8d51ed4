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
    frames = _map_frames(page, 3)  # the social space, the referrals, what changed (frames load in any order)
    for frame in frames:
        frame.wait_for_function("() => document.querySelectorAll('path.leaflet-interactive').length > 0",
                                timeout=TIMEOUT)
    page.wait_for_function(  # the referral arrows are laid after the lines, in one of the frames
        "() => [...document.querySelectorAll('iframe')].some(f => f.contentDocument"
        " && f.contentDocument.querySelectorAll('textPath').length > 0)", timeout=TIMEOUT)
    drawn = [frame.evaluate(_DRAWN) for frame in frames]
    # One map holds the footprint and no line: the social space.
    assert [d for d in drawn if d["fills"] >= 1 and d["lines"] == 0]
    # The first offered start is a CCAS that refers cases: its referrals are lines with an arrow each.
    paths = [d for d in drawn if d["arrows"] > 0]
    assert len(paths) == 1
    assert paths[0]["lines"] >= 1
    assert paths[0]["arrows"] == paths[0]["lines"]
    assert page.locator("[data-testid='stException']").count() == 0

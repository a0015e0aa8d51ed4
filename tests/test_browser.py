"""The served dashboard in Debian's chromium: Leaflet draws the sample with no request leaving the app."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.browser


def _map_frame(page):
    """The streamlit-folium iframe that holds the Leaflet map."""
    page.wait_for_selector("iframe[title*='st_folium']", timeout=60_000)
    frame = page.frame_locator("iframe[title*='st_folium']").first
    frame.locator(".leaflet-container").wait_for(timeout=60_000)
    return frame


def test_map_draws_territories_and_markers_offline(served_app, page, artifacts):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(served_app, wait_until="domcontentloaded")
    frame = _map_frame(page)
    # Territories and relations are SVG paths; places and actors are circle markers (also paths)
    # or cluster icons: wait until Leaflet has drawn many of them.
    frame.locator("path.leaflet-interactive").nth(150).wait_for(timeout=60_000)
    drawn_paths = frame.locator("path.leaflet-interactive").count()
    clusters = frame.locator(".marker-cluster").count()
    legend = frame.locator(".carto-legend").inner_text()
    page.screenshot(path=str(artifacts / "map.png"), full_page=True)

    assert drawn_paths > 150
    assert clusters > 0
    assert "Flux entre territoires" in legend  # the opening view groups the sample's 1,170 relations
    hosts = {urlparse(url).netloc for url in requested if url.startswith("http")}
    assert hosts == {urlparse(served_app).netloc}


def test_english_browser_gets_english_labels(served_app, browser):
    context = browser.new_context(locale="en-GB")
    try:
        page = context.new_page()
        page.goto(served_app, wait_until="domcontentloaded")
        page.get_by_text("Territories, inhabited places and partners").wait_for(timeout=60_000)
        legend = _map_frame(page).locator(".carto-legend").inner_text()
        assert "Flows between territories" in legend  # the opening view groups the relations into flows
    finally:
        context.close()


def test_roles_by_trusted_proxy_header(sample_db, tmp_path, browser):
    """Behind an intranet proxy: a viewer typing /admin, /import or /data gets the map; an admin gets /admin."""
    from bench.serve import start_streamlit, stop

    roles = tmp_path / "roles.toml"
    roles.write_text('[roles]\ndefault = "viewer"\n[roles.emails]\n"dsi@ville.fr" = "admin"\n', encoding="utf-8")
    url, proc = start_streamlit(
        sample_db,
        extra_env={
            "CARTO_ROLES": str(roles),
            "STREAMLIT_SERVER_TRUSTED_USER_HEADERS": '{"X-Carto-Email": "email"}',
        },
    )
    try:
        viewer = browser.new_context(locale="fr-FR", extra_http_headers={"X-Carto-Email": "agent@ville.fr"})
        page = viewer.new_page()
        refused = (("/admin", "Sauvegardes"), ("/import", "Importer un fichier"), ("/data", "Données et imports"))
        for path, title in refused:
            page.goto(f"{url}{path}", wait_until="domcontentloaded")
            page.get_by_text("Connecté : agent@ville.fr (lecteur)").wait_for(timeout=60_000)
            # Not registered for a viewer: Streamlit says so and runs the map page instead.
            page.get_by_text("Territoires, lieux habités et partenaires").wait_for(timeout=60_000)
            assert page.get_by_text(title, exact=True).count() == 0, path
        viewer.close()
        admin = browser.new_context(locale="fr-FR", extra_http_headers={"X-Carto-Email": "dsi@ville.fr"})
        page = admin.new_page()
        page.goto(f"{url}/admin", wait_until="domcontentloaded")
        page.get_by_text("Connecté : dsi@ville.fr (administrateur)").wait_for(timeout=60_000)
        page.get_by_text("Sauvegardes", exact=True).wait_for(timeout=60_000)
        admin.close()
    finally:
        stop(proc)

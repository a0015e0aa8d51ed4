"""The map renders from vendored assets only; tiles are the one configurable exception."""

from __future__ import annotations

import re
from typing import ClassVar

import folium
import pytest
from branca.colormap import LinearColormap
from folium import plugins
from folium.elements import JSCSSMixin

from carto.errors import CartoError
from carto.render.offline import (
    CDN_TO_LOCAL,
    STATIC_DIR,
    STATIC_URL_PREFIX,
    base_tiles,
    external_urls,
    local_asset_path,
    localize_assets,
    make_map,
)

LYON = (45.76, 4.84)

SQUARE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "Quartier A"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[4.80, 45.74], [4.86, 45.74], [4.86, 45.78], [4.80, 45.78], [4.80, 45.74]]
                ],
            },
        }
    ],
}

# Every http(s) URL anywhere in the page text, script bodies included.
ANY_URL = re.compile(r"https?://[^\s\"'<>\\]+")


def _full_map(tiles: str) -> folium.Map:
    """A map using every element folium can draw with, and their assets."""
    m = make_map(LYON, 12, tiles=tiles, leaflet_only=False)
    folium.GeoJson(SQUARE, name="Territoires", tooltip=folium.GeoJsonTooltip(["name"])).add_to(m)
    folium.Marker(LYON, icon=folium.Icon(icon="home", prefix="fa", color="red")).add_to(m)
    folium.Marker((45.75, 4.85), icon=folium.Icon(icon="info-sign")).add_to(m)  # glyphicon
    folium.Marker((45.77, 4.83), icon=folium.Icon(icon="user", prefix="fa", angle=45)).add_to(m)
    cluster = plugins.MarkerCluster(name="Acteurs").add_to(m)
    for i in range(5):
        folium.Marker((45.70 + i / 100, 4.80)).add_to(cluster)
    plugins.Fullscreen().add_to(m)
    folium.LayerControl().add_to(m)
    return m


def _local_urls(html: str) -> list[str]:
    return re.findall(rf"""(?:src|href)=["']({re.escape(STATIC_URL_PREFIX)}/[^"']+)""", html)


def test_map_without_tiles_references_no_external_url() -> None:
    html = _full_map("none").get_root().render()

    assert external_urls(html) == []
    assert ANY_URL.findall(html) == []
    assert "L.tileLayer" not in html


def test_every_local_asset_exists_under_static() -> None:
    html = _full_map("none").get_root().render()

    urls = _local_urls(html)
    # 4 scripts + 6 stylesheets for the map, 1 + 2 for MarkerCluster, 1 + 1 for Fullscreen.
    assert len(set(urls)) == 15
    missing = [url for url in urls if not local_asset_path(url).is_file()]
    assert missing == []


def test_a_dashboard_map_loads_leaflet_and_nothing_else_of_folium() -> None:
    html = make_map(LYON, 12, tiles="none").get_root().render()
    assert sorted(set(_local_urls(html))) == [
        "/app/static/vendor/leaflet-1.9.3/leaflet.css",
        "/app/static/vendor/leaflet-1.9.3/leaflet.js",
    ]


def test_every_mapped_file_and_what_its_css_points_to_exists() -> None:
    for local in CDN_TO_LOCAL.values():
        path = STATIC_DIR / local
        assert path.is_file(), local
        if path.suffix == ".css":
            refs = re.findall(r"url\(\s*['\"]?([^'\")]+)", path.read_text(encoding="utf-8"))
            files = [r.split("?")[0].split("#")[0] for r in refs if not r.startswith(("data:", "#"))]
            assert [f for f in files if not (path.parent / f).is_file()] == [], local


def test_osm_tiles_are_the_only_remote_url_and_only_in_script() -> None:
    spec = base_tiles("osm")
    assert spec is not None
    html = _full_map("osm").get_root().render()

    assert external_urls(html) == []
    assert spec["tiles"] in html
    # The attribution text links to the OSM copyright page; it is a link, not a download.
    assert set(ANY_URL.findall(html)) == {
        spec["tiles"],
        "https://www.openstreetmap.org/copyright",
    }


def test_ign_tiles_use_the_geoplateforme_wmts() -> None:
    spec = base_tiles("IGN")

    assert spec is not None
    assert spec["tiles"].startswith("https://data.geopf.fr/wmts?")
    assert "LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2" in spec["tiles"]
    assert "IGN" in spec["attr"]


def test_no_tiles_means_no_tile_layer() -> None:
    m = make_map(LYON, 9, tiles="none")

    assert base_tiles("none") is None
    assert not any(isinstance(c, folium.TileLayer) for c in m._children.values())


def test_unknown_tiles_name_is_refused() -> None:
    with pytest.raises(CartoError, match="osm, ign, none"):
        base_tiles("google")


def test_unknown_cdn_asset_raises_naming_the_url() -> None:
    class CustomPlugin(JSCSSMixin):
        default_js: ClassVar = [("custom", "https://cdn.example.org/custom@1.0/custom.min.js")]

    m = make_map(LYON, 9, tiles="none")
    CustomPlugin().add_to(m)

    with pytest.raises(CartoError, match=re.escape("https://cdn.example.org/custom@1.0/custom.min.js")):
        localize_assets(m)
    # Rendering re-checks, so a plugin added after make_map cannot reach the CDN either.
    with pytest.raises(CartoError, match=re.escape("cdn.example.org")):
        m.get_root().render()


def test_protocol_relative_url_counts_as_external() -> None:
    class SneakyPlugin(JSCSSMixin):
        default_css: ClassVar = [("sneaky", "//cdn.example.org/x.css")]

    m = folium.Map(tiles=None)
    SneakyPlugin().add_to(m)

    with pytest.raises(CartoError, match=re.escape("//cdn.example.org/x.css")):
        localize_assets(m)


def test_colormap_legend_is_refused() -> None:
    m = make_map(LYON, 9, tiles="none")
    LinearColormap(["white", "red"], vmin=0, vmax=1).add_to(m)

    with pytest.raises(CartoError, match="d3"):
        localize_assets(m)


def test_links_added_to_the_header_are_rewritten() -> None:
    m = make_map(LYON, 9, tiles="none")
    jquery = "https://code.jquery.com/jquery-3.7.1.min.js"
    m.get_root().header.add_child(folium.JavascriptLink(jquery), name="extra_jquery")

    localize_assets(m)

    assert m.get_root().header._children["extra_jquery"].url == (
        f"{STATIC_URL_PREFIX}/vendor/jquery-3.7.1/jquery.min.js"
    )


def test_localize_assets_leaves_folium_class_defaults_alone() -> None:
    map_js = list(folium.Map.default_js)
    cluster_css = list(plugins.MarkerCluster.default_css)

    localize_assets(_full_map("none"))
    fresh = folium.Map()
    cluster = plugins.MarkerCluster().add_to(fresh)

    assert folium.Map.default_js == map_js
    assert plugins.MarkerCluster.default_css == cluster_css
    assert fresh.default_js[0] == ("leaflet", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js")
    assert all(url.startswith("https://") for _, url in cluster.default_css)


def test_localize_assets_is_idempotent() -> None:
    m = localize_assets(_full_map("none"))
    elements = [m, *(e for e in m._children.values() if isinstance(e, JSCSSMixin))]
    first = [(list(e.default_js), list(e.default_css)) for e in elements]

    localize_assets(m)

    assert [(e.default_js, e.default_css) for e in elements] == first
    assert all(url.startswith(STATIC_URL_PREFIX) for _, url in m.default_js)


def test_external_urls_reads_attributes_not_script_text() -> None:
    html = (
        '<script src="https://cdn.example.org/a.js"></script>'
        '<link rel="stylesheet" href="//cdn.example.org/b.css"/>'
        '<img src="/app/static/vendor/x.png">'
        '<a href="mailto:someone@example.org">mail</a>'
        '<script>var u = "https://tiles.example.org/{z}/{x}/{y}.png";</script>'
    )

    assert external_urls(html) == ["https://cdn.example.org/a.js", "//cdn.example.org/b.css"]


def test_map_without_tiles_still_has_a_max_zoom() -> None:
    # MarkerCluster throws "Map has no maxZoom specified" when no tile layer provides one.
    html = make_map(LYON, 9, tiles="none").get_root().render()

    assert '"maxZoom": 19' in html


def test_default_marker_images_are_set_before_markers_and_exist() -> None:
    m = _full_map("none")
    html = m.get_root().render()

    match = re.search(r'L\.Icon\.Default\.imagePath = "([^"]+)"', html)
    assert match is not None
    assert match.start() < html.index("L.marker(")
    images = local_asset_path(match.group(1))
    assert (images / "marker-icon.png").is_file()
    assert (images / "marker-shadow.png").is_file()

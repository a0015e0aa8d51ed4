"""Serve every browser asset of a folium map from the app, never from a CDN.

folium and its plugins point their ``default_js`` / ``default_css`` at public CDNs. The
dashboard must work on a network with no internet access, so each of those URLs is mapped to a
copy vendored under ``static/vendor/`` (see ``static/vendor/README.md``), which Streamlit serves
at ``/app/static/...`` when ``server.enableStaticServing`` is on. streamlit-folium renders the
map in a component iframe on the same origin as the Streamlit server and injects the map's
``default_js`` / ``default_css`` as ``<script src>`` / ``<link href>``, so absolute paths
starting with ``/app/static`` resolve against the Streamlit server.

Base tiles are the one thing allowed to come from the internet, and only when configured.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import folium
from branca.colormap import ColorMap
from branca.element import CssLink, Element, JavascriptLink
from folium.template import Template

from carto.errors import CartoError
from carto.render.plain import PlainRender

__all__ = [
    "CDN_TO_LOCAL",
    "STATIC_DIR",
    "STATIC_URL_PREFIX",
    "TILE_CHOICES",
    "base_tiles",
    "external_urls",
    "local_asset_path",
    "localize_assets",
    "make_map",
]

STATIC_URL_PREFIX = "/app/static"
"""URL path under which Streamlit serves the repository's ``static/`` folder."""

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
"""The folder Streamlit serves; vendored assets live in its ``vendor/`` subfolder."""

# Exact CDN URL -> path relative to static/. Exact keys (versions included) on purpose: a folium
# or plugin upgrade that changes a version must fail loudly until the new file is vendored.
CDN_TO_LOCAL: dict[str, str] = {
    # folium.Map
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js":
        "vendor/leaflet-1.9.3/leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css":
        "vendor/leaflet-1.9.3/leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js":
        "vendor/jquery-3.7.1/jquery.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js":
        "vendor/bootstrap-5.2.2/js/bootstrap.bundle.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css":
        "vendor/bootstrap-5.2.2/css/bootstrap.min.css",
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css":
        "vendor/bootstrap-3.4.1-glyphicons/css/bootstrap-glyphicons.css",
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css":
        "vendor/fontawesome-free-6.2.0/css/all.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js":
        "vendor/leaflet.awesome-markers-2.0.5/leaflet.awesome-markers.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css":
        "vendor/leaflet.awesome-markers-2.0.5/leaflet.awesome-markers.css",
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css":
        "vendor/folium-0.20.0/leaflet.awesome.rotate.min.css",
    # folium.plugins.MarkerCluster
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js":
        "vendor/leaflet.markercluster-1.1.0/leaflet.markercluster.js",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css":
        "vendor/leaflet.markercluster-1.1.0/MarkerCluster.css",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css":
        "vendor/leaflet.markercluster-1.1.0/MarkerCluster.Default.css",
    # folium.plugins.Fullscreen (npm ships no .min.js; the CDN one is minified on the fly)
    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.min.js":
        "vendor/leaflet.fullscreen-3.0.0/Control.FullScreen.js",
    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css":
        "vendor/leaflet.fullscreen-3.0.0/Control.FullScreen.css",
    # folium.plugins.PolyLineTextPath
    "https://cdn.jsdelivr.net/npm/leaflet-textpath@1.2.3/leaflet.textpath.min.js":
        "vendor/leaflet-textpath-1.2.3/leaflet.textpath.js",
    # folium.plugins.Draw (the explorer uses carto.render.leaflet.DrawArea, which loads the same files)
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.draw/1.0.2/leaflet.draw.js":
        "vendor/leaflet.draw-1.0.2/leaflet.draw.js",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.draw/1.0.2/leaflet.draw.css":
        "vendor/leaflet.draw-1.0.2/leaflet.draw.css",
    # folium.plugins.AntPath
    "https://cdn.jsdelivr.net/npm/leaflet-ant-path@1.1.2/dist/leaflet-ant-path.min.js":
        "vendor/leaflet-ant-path-1.1.2/leaflet-ant-path.js",
}

_OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
_IGN_ATTRIBUTION = '&copy; <a href="https://www.ign.fr/">IGN</a> - Plan IGN v2'

# Keyword arguments for folium.TileLayer; None means "no tile layer at all".
_TILES: dict[str, dict[str, Any] | None] = {
    "osm": {
        "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attr": _OSM_ATTRIBUTION,
        "name": "OpenStreetMap",
        "max_zoom": 19,
    },
    "ign": {
        "tiles": (
            "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&TILEMATRIXSET=PM"
            "&FORMAT=image/png&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
        ),
        "attr": _IGN_ATTRIBUTION,
        "name": "Plan IGN",
        "max_zoom": 19,
    },
    "none": None,
}

TILE_CHOICES: tuple[str, ...] = tuple(_TILES)
"""Accepted values of the ``tiles`` setting."""


def default_tiles() -> str:
    """The configured base tiles: ``$CARTO_TILES`` (osm, ign or none), OpenStreetMap otherwise.

    An unknown value falls back to ``none`` rather than to a server nobody configured.
    """
    chosen = os.environ.get("CARTO_TILES", "osm").strip().lower()
    return chosen if chosen in _TILES else "none"

_LEAFLET_CSS = CDN_TO_LOCAL["https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"]

# Without tiles Leaflet has no maxZoom, and MarkerCluster refuses to start ("Map has no maxZoom
# specified"); 19 is what both tile servers offer.
_DEFAULT_MAX_ZOOM = 19

_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


def local_asset_path(url: str) -> Path:
    """Return the file under ``static/`` that a local asset URL points to."""
    if not url.startswith(STATIC_URL_PREFIX + "/"):
        msg = f"{url!r} is not a local asset URL (it does not start with {STATIC_URL_PREFIX}/)."
        raise CartoError(msg)
    return STATIC_DIR / url[len(STATIC_URL_PREFIX) + 1 :]


def _localize_url(url: str, prefix: str, owner: str) -> str:
    if not _EXTERNAL.match(url):
        # Already local (e.g. a second call, or an app-relative path): nothing to fetch outside.
        return url
    local = CDN_TO_LOCAL.get(url)
    if local is None:
        msg = (
            f"{owner} loads {url!r}, which has no local copy, so the map would reach the "
            "internet. Vendor the file under static/vendor/ and add it to "
            "carto.render.offline.CDN_TO_LOCAL, or do not use this element."
        )
        raise CartoError(msg)
    return f"{prefix}/{local}"


def _localize_links(
    links: Sequence[tuple[str, str]], prefix: str, owner: str
) -> list[tuple[str, str]]:
    return [(name, _localize_url(url, prefix, owner)) for name, url in links]


class _DefaultIconPath(PlainRender):
    """Tell Leaflet where its default marker images are, before any marker is drawn.

    Leaflet guesses the path from leaflet.css once the first plain marker appears. In the
    streamlit-folium iframe the stylesheet is often not applied yet, and Leaflet's fallback
    (the <link> href) drops a slash: ".../leaflet-1.9.3marker-icon.png", a 404.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.Icon.Default.imagePath = {{ this.image_path|tojson }};
        {% endmacro %}
        """
    )

    def __init__(self, image_path: str) -> None:
        super().__init__()
        self._name = "DefaultIconPath"
        self.image_path = image_path


def _set_default_icon_path(m: folium.Map, prefix: str) -> None:
    image_path = f"{prefix}/{_LEAFLET_CSS.rsplit('/', 1)[0]}/images/"
    for child in m._children.values():
        if isinstance(child, _DefaultIconPath):
            child.image_path = image_path
            return
    # First child, so its script runs right after the map is created and before any marker.
    m.add_child(_DefaultIconPath(image_path), index=0)


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def localize_assets(m: folium.Map, *, prefix: str = STATIC_URL_PREFIX) -> folium.Map:
    """Point the JS/CSS of ``m`` and of all its descendants at the vendored copies.

    The new lists are set on each instance, so folium's class-level defaults, shared by every
    other map in the process, stay untouched. Idempotent: call it again after adding layers.
    ``prefix`` only needs changing when Streamlit runs under ``server.baseUrlPath``.

    Raises
    ------
    CartoError
        If an element loads a URL that has no local copy.
    """
    for element in _walk(m):
        owner = type(element).__name__
        if isinstance(element, ColorMap):
            # streamlit-folium hard-codes two d3 CDN URLs for any colormap it finds in the map.
            msg = (
                f"{owner} (a branca colormap legend) makes folium and streamlit-folium load d3 "
                "from a CDN; draw the legend outside the map instead."
            )
            raise CartoError(msg)
        # getattr on the instance finds the class list; assigning shadows it per instance.
        if hasattr(element, "default_js"):
            element.default_js = _localize_links(element.default_js, prefix, owner)
        if hasattr(element, "default_css"):
            element.default_css = _localize_links(element.default_css, prefix, owner)

    if isinstance(m, folium.Map):
        _set_default_icon_path(m, prefix)

    # Links added straight to the page header (not through default_js/css) would escape the
    # walk above, so rewrite those too.
    root = m.get_root()
    header = getattr(root, "header", None)
    if header is not None:
        for child in header._children.values():
            if isinstance(child, (JavascriptLink, CssLink)):
                child.url = _localize_url(child.url, prefix, "page header")
    return m


def base_tiles(name: str) -> dict[str, Any] | None:
    """Describe the configured base tiles as ``folium.TileLayer`` keyword arguments.

    ``"osm"`` (OpenStreetMap), ``"ign"`` (Plan IGN v2 from the Géoplateforme WMTS) or
    ``"none"``, which returns None: no tile layer, nothing fetched from the internet.
    """
    key = name.strip().lower()
    if key not in _TILES:
        msg = f"Unknown base tiles {name!r}; choose one of {', '.join(TILE_CHOICES)}."
        raise CartoError(msg)
    spec = _TILES[key]
    return None if spec is None else dict(spec)


class _OfflineMap(folium.Map):
    """A folium.Map that localizes its assets again each time it is rendered.

    Layers and plugins are usually added after the map is made; re-running the rewrite at
    render time (streamlit-folium renders before it collects the links) covers them too.
    """

    _asset_prefix: str = STATIC_URL_PREFIX

    def render(self, **kwargs: Any) -> Any:
        localize_assets(self, prefix=self._asset_prefix)
        return super().render(**kwargs)


def make_map(
    location: Sequence[float],
    zoom: int,
    *,
    tiles: str,
    prefix: str = STATIC_URL_PREFIX,
    leaflet_only: bool = True,
    **map_kwargs: Any,
) -> folium.Map:
    """Build a map whose assets come from ``static/`` and whose only tiles are ``tiles``.

    The returned map also localizes elements added later, when it is rendered. With
    ``leaflet_only`` the map itself loads Leaflet and nothing else: folium's jQuery,
    Bootstrap and Awesome Markers serve features we do not use (icon markers, popups holding
    elements, GeoJSON fetched by URL), and streamlit-folium loads scripts one after another.
    """
    spec = base_tiles(tiles)
    # A Leaflet map option (camel case), not folium's max_zoom, which only reaches a TileLayer.
    map_kwargs.setdefault("maxZoom", spec["max_zoom"] if spec else _DEFAULT_MAX_ZOOM)
    m = _OfflineMap(location=list(location), zoom_start=zoom, tiles=None, **map_kwargs)
    m._asset_prefix = prefix
    if leaflet_only:
        m.default_js = [link for link in m.default_js if link[0] == "leaflet"]
        m.default_css = [link for link in m.default_css if link[0] == "leaflet_css"]
    if spec is not None:
        folium.TileLayer(**spec).add_to(m)
    return localize_assets(m, prefix=prefix)


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for attr, value in attrs:
            if attr in ("src", "href") and value:
                self.urls.append(value.strip())

    handle_startendtag = handle_starttag


def _attribute_urls(html: str) -> list[str]:
    parser = _LinkCollector()
    parser.feed(html)
    parser.close()
    return parser.urls


def external_urls(html: str) -> list[str]:
    """List the http(s) and protocol-relative URLs in ``src``/``href`` attributes of ``html``.

    Script bodies are not attributes, so a tile URL template inside the map's JS is not listed.
    """
    return [url for url in _attribute_urls(html) if _EXTERNAL.match(url)]

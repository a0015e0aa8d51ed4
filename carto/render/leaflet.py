"""Our Leaflet elements: marker clusters drawn from compact rows, direction arrows, count bubbles, rings.

Each is a :class:`carto.render.plain.PlainRender`: its data arrives as script-safe JSON and its
script builds the markers in the browser, where every text from the data goes through ``esc``
(:data:`JS_ESCAPE`) before it enters a tooltip or a popup. :mod:`carto.render.layers` decides what
to draw and with which of these.
"""

from __future__ import annotations

import json

import folium
from branca.element import Template
from folium.elements import JSCSSMixin
from folium.plugins import FastMarkerCluster
from folium.template import Template as FoliumTemplate

from carto.render import offline, palette
from carto.render.palette import HIGHLIGHT_COLOUR
from carto.render.plain import PlainRender, script_json

# ``esc(text)``: text made safe inside tooltip and popup HTML, for every marker script below.
JS_ESCAPE = (
    "var esc = (function () { var codes = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '\"': '&quot;', \"'\": '&#39;'}; "
    "return function (s) { return String(s).replace(/[&<>\"']/g, function (c) { return codes[c]; }); }; })();"
)


# The callback (FastMarkerCluster wraps it in ``var callback = ...;``): one marker from one row.
# Labels, colours and the escaper are made once; the popup table only when a popup opens.
POINT_CALLBACK = """(function () {
    var labels = %(labels)s;
    var colours = %(colours)s;
    %(escape)s
    var table = function (row) {
        var cells = '';
        for (var i = 0; i < labels.fields.length; i++) {
            var v = i < 3 ? [row[3], labels.kinds[row[4]], labels.extra[row[5]]][i] : row[2];
            cells += '<tr><th style="text-align:left;padding-right:6px">' + esc(labels.fields[i]) +
                '</th><td>' + esc(v === undefined || v === null ? '' : v) + '</td></tr>';
        }
        return '<table>' + cells + '</table>';
    };
    return function (row) {
        var m = L.circleMarker([row[0], row[1]], {radius: %(radius)s, color: %(stroke)s, weight: %(weight)s,
            fill: true, fillColor: colours[row[4]], fillOpacity: %(opacity)s, className: %(css)s});
        m.bindTooltip(esc(row[3]) + ' [' + esc(row[2]) + ']');
        m.bindPopup(function () { return table(row); }, {maxWidth: 320});
        return m;
    };
})()
"""


class CompactMarkerCluster(FastMarkerCluster, PlainRender):
    """FastMarkerCluster whose rows arrive as one compact JSON text (no spaces, UTF-8 kept).

    At tens of thousands of rows the separators and ``\\u00e9`` escapes of the default
    embedding are a sizeable share of what the browser downloads, and encoding the rows on
    every rerun a sizeable share of the server's time: :class:`PointRows` encodes them once.
    """

    _template = FoliumTemplate(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = (function(){
                {{ this.callback }}
                var data = {{ this.rows_json }};
                var options = {{ this.options|tojavascript }};
                var cluster;
                // markercluster 1.1.0 gives new clusters their bounds only after the last chunk: a move
                // of the map in between (a rerun fitting it, a drag) met clusters with none and threw.
                options.chunkProgress = function (done, total) {
                    if (done < total) { cluster._topClusterLevel._recalculateBounds(); }
                };
                cluster = L.markerClusterGroup(options);
                cluster.addTo({{ this._parent.get_name() }});
                // One batch, clustered in chunks on the map: adding markers one by one re-clusters each time.
                cluster.addLayers(data.map(callback));
                return cluster;
            })();
        {% endmacro %}"""
    )

    def __init__(self, rows_json: str, **kwargs: object) -> None:
        super().__init__([], **kwargs)
        self.rows_json = rows_json


def point_cluster(
    rows_json: str,
    *,
    name: str,
    fields: list[str],
    kinds: list[str],
    extra: list[str],
    colours: list[str],
    radius: int,
    stroke: str,
    weight: int,
    opacity: float,
    disable_at: int,
    css: str,
) -> CompactMarkerCluster:
    labels = {"fields": fields, "kinds": kinds, "extra": extra}
    callback = POINT_CALLBACK % {
        "labels": script_json(labels),
        "colours": json.dumps(colours),
        "radius": radius,
        "stroke": json.dumps(stroke),
        "weight": weight,
        "opacity": opacity,
        "css": json.dumps(css),
        "escape": JS_ESCAPE,
    }
    return CompactMarkerCluster(
        rows_json,
        callback=callback,
        name=name,
        options={"disableClusteringAtZoom": disable_at, "showCoverageOnHover": False, "chunkedLoading": True},
    )


class DirectionArrows(JSCSSMixin, PlainRender):
    """Draw a ► along every line of a GeoJson layer whose ``directed`` property is true.

    Uses leaflet-textpath, vendored under ``static/vendor`` (our own element: no CDN to rewrite);
    :class:`JSCSSMixin` is what streamlit-folium looks for when it collects the scripts a map needs.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this.layer.get_name() }}.eachLayer(function (line) {
            var p = line.feature && line.feature.properties;
            if (p && p.directed && line.setText) {
                line.setText('\u25ba', {center: true, offset: 4,
                    attributes: {fill: line.options.color, 'font-size': '14px'}});
            }
        });
        {% endmacro %}
        """
    )

    def __init__(self, layer: folium.GeoJson) -> None:
        super().__init__()
        self._name = "DirectionArrows"
        self.default_js = [
            ("leaflet.textpath", f"{offline.STATIC_URL_PREFIX}/vendor/leaflet-textpath-1.2.3/leaflet.textpath.js"),
        ]
        self.layer = layer


class CountBubbles(PlainRender):
    """One circle per territory, area by count; the tooltip ``name [code] · …`` selects it on click."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            var group = L.featureGroup();
            {{ this.escape_js }}
            {{ this.rows_json }}.forEach(function (r) {
                L.circleMarker([r[0], r[1]], {radius: r[3], color: '#ffffff', weight: 1, fill: true,
                    fillColor: {{ this.colour_json }}, fillOpacity: 0.7, className: 'carto-bubble'})
                    .bindTooltip(esc(r[2])).addTo(group);
            });
            group.addTo(map);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[object]], colour: str) -> None:
        super().__init__()
        self._name = "CountBubbles"
        self.rows, self.escape_js = rows, JS_ESCAPE
        self.rows_json, self.colour_json = script_json(rows), script_json(colour)


# Leaflet circle-marker options of a selected node and of a node of its ego network.
# Leaflet pane of the selection: above the marker clusters (markerPane 600), below tooltips (650).
SELECTION_PANE = "cartoSelection"


# Both in the selection's pane (:class:`SelectionPane`), above the clusters.
SELECTED_RING = {"radius": 11, "color": HIGHLIGHT_COLOUR, "weight": 4, "fill": True, "fillColor": HIGHLIGHT_COLOUR,
                 "fillOpacity": 0.5, "className": "carto-selected", "pane": SELECTION_PANE}


# Filled white: an ego node is taken out of its cluster, the ring is all that shows it.
EGO_RING = {"radius": 8, "color": palette.SELECTED_OUTLINE, "weight": 2, "fill": True, "fillColor": "#ffffff",
            "fillOpacity": 0.9, "className": "carto-ego", "pane": SELECTION_PANE}


class RingMarkers(PlainRender):
    """Unclustered circle markers from rows ``[lat, lon, name, id, style index]``, in their parent layer.

    The tooltip is ``name [id]``, like the actors' and places', so that a click selects again.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (group) {
            var styles = {{ this.styles_json }};
            var rows = {{ this.rows_json }};
            {{ this.escape_js }}
            rows.forEach(function (r) {
                L.circleMarker([r[0], r[1]], styles[r[4]]).bindTooltip(esc(r[2]) + ' [' + esc(r[3]) + ']').addTo(group);
            });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[object]], styles: list[dict[str, object]]) -> None:
        super().__init__()
        self._name = "RingMarkers"
        self.rows, self.styles, self.escape_js = rows, styles, JS_ESCAPE
        self.rows_json, self.styles_json = script_json(rows), script_json(styles)


class SelectionPane(PlainRender):
    """Create the pane the selection is drawn in, so that no cluster icon ever covers it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.createPane({{ this.pane_json }}).style.zIndex = 640;
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "SelectionPane"
        self.pane_json = script_json(SELECTION_PANE)


class TilesNotice(PlainRender):
    """Say once, over the map, that the base tiles cannot be loaded (no internet access, a proxy).

    Shown when a tile fails before any tile loaded; a tile that loads later removes it. The text
    is ours (a catalogue message), set with ``textContent`` all the same.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            var notice = null, loaded = false;
            var show = function () {
                if (notice || loaded) return;
                notice = L.control({position: 'topright'});
                notice.onAdd = function () {
                    var box = L.DomUtil.create('div', 'carto-tiles-notice');
                    box.style.cssText = 'background:#fff8e1;border:1px solid #e0a800;border-radius:4px;' +
                        'padding:4px 8px;font:12px sans-serif;max-width:260px';
                    box.textContent = {{ this.message_json }};
                    return box;
                };
                notice.addTo(map);
            };
            map.eachLayer(function (layer) {
                if (!(layer instanceof L.TileLayer)) return;
                layer.on('tileerror', show);
                layer.on('tileload', function () {
                    loaded = true;
                    if (notice) { notice.remove(); notice = null; }
                });
            });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, message: str) -> None:
        super().__init__()
        self._name = "TilesNotice"
        self.message_json = script_json(message)


class DrawArea(JSCSSMixin, PlainRender):
    """Leaflet.draw's rectangle and polygon tools: the shape drawn is the map's area selection.

    Only the last shape is kept, in the global ``drawnItems`` that streamlit-folium reads back
    as ``all_drawings`` (:func:`carto.analysis.selection.nodes_in_drawings` turns it into nodes).
    Leaflet.draw is vendored under ``static/vendor`` (no CDN to rewrite); :class:`JSCSSMixin` is what
    streamlit-folium looks for when it collects the scripts a map needs.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            var words = {{ this.words_json }}, local = L.drawLocal.draw;
            local.toolbar.actions = {title: words['cancel.title'], text: words.cancel};
            local.toolbar.finish = {title: words['finish.title'], text: words.finish};
            local.toolbar.undo = {title: words['undo.title'], text: words.undo};
            local.toolbar.buttons.rectangle = words.rectangle;
            local.toolbar.buttons.polygon = words.polygon;
            local.handlers.rectangle.tooltip.start = words['rectangle.start'];
            local.handlers.polygon.tooltip = {start: words['polygon.start'], cont: words['polygon.cont'],
                                              end: words['polygon.end']};
            local.handlers.simpleshape.tooltip.end = words.release;
            var drawn = new L.FeatureGroup().addTo(map);
            window.drawnItems = drawn;
            var shape = {shapeOptions: {color: {{ this.colour_json }}, weight: 2, fillOpacity: 0.08}};
            new L.Control.Draw({
                position: 'topleft',
                draw: {polyline: false, circle: false, marker: false, circlemarker: false,
                       rectangle: shape, polygon: shape},
                edit: {featureGroup: drawn, edit: false, remove: false}
            }).addTo(map);
            map.on(L.Draw.Event.CREATED, function (e) {
                drawn.clearLayers();
                drawn.addLayer(e.layer);
            });
            // Territories, lines and markers would take the mouse down that starts a rectangle:
            // while drawing, the map alone receives it.
            var style = document.createElement('style');
            style.textContent = '.carto-drawing .leaflet-interactive, .carto-drawing .marker-cluster ' +
                '{pointer-events: none !important}';
            document.head.appendChild(style);
            map.on(L.Draw.Event.DRAWSTART, function () { L.DomUtil.addClass(map.getContainer(), 'carto-drawing'); });
            map.on(L.Draw.Event.DRAWSTOP, function () { L.DomUtil.removeClass(map.getContainer(), 'carto-drawing'); });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    # The words of Leaflet.draw's buttons and hints that the explorer uses (English in the library).
    WORDS = ("cancel", "cancel.title", "finish", "finish.title", "undo", "undo.title", "rectangle", "polygon",
             "rectangle.start", "polygon.start", "polygon.cont", "polygon.end", "release")

    def __init__(self, words: dict[str, str]) -> None:
        """``words``: the text of each of :attr:`WORDS` in the page's language (Leaflet.draw writes them
        as HTML: catalogue text only, never data)."""
        super().__init__()
        self._name = "DrawArea"
        self.words_json = script_json({key: words[key] for key in self.WORDS})
        folder = f"{offline.STATIC_URL_PREFIX}/vendor/leaflet.draw-1.0.2"
        self.default_js = [("leaflet_draw_js", f"{folder}/leaflet.draw.js")]
        self.default_css = [("leaflet_draw_css", f"{folder}/leaflet.draw.css")]
        self.colour_json = script_json(HIGHLIGHT_COLOUR)

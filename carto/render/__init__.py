"""Renderers: computed frames in, folium layers, plotly figures, PDF, HTML, CSV and graph files out.

May import: the analysis layer (for its result types) and the base modules. May not import: the
store or ingest layers, nor streamlit (``.importlinter``). A renderer never runs a metric and never
reads the store. Every string from the data is text where it lands: escaped for HTML, JSON-escaped
inside ``<script>`` and shown with ``textContent`` in the browser (:mod:`carto.render.plain`), and
never compiled as a Jinja template (every map element that carries text is a ``PlainRender``).
"""

"""Ingest: untrusted files in, the second layer. Read safely, map columns, validate, ask the store to commit.

May import: the store and the base modules. May not import: analysis, render, ui, streamlit.

- :mod:`carto.ingest.safety`: size limits and hostile-input checks (zip inspection, CRS texts,
  encodings, GeoPackage schemas): how a file is refused before any reader sees it.
- :mod:`carto.ingest.read` and ``_reader_child``: parse an upload in a child process with time,
  memory and output limits.
- :mod:`carto.ingest.mapping`: column mapping, CRS guessing and geometry building.
- :mod:`carto.ingest.validate`: the per-row report (errors and warnings) that decides what may be stored.
- :mod:`carto.ingest.commit` and :mod:`carto.ingest.pipeline`: one code path for the page and the CLI.
- :mod:`carto.ingest.sample` and :mod:`carto.ingest.synthetic`: the embedded sample and the scale tiers.
"""

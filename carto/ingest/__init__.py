"""Bring analysts' files into the store: read safely, map columns, validate, commit.

- :mod:`carto.ingest.safety`: size limits and hostile-input checks (zip inspection, content sniffing).
- :mod:`carto.ingest.read`: parse an upload in a child process with time and memory limits.
- :mod:`carto.ingest.mapping`: column mapping, CRS guessing and geometry building.
"""

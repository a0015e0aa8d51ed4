"""Territories and social space: the library behind the Streamlit dashboard.

Five layers, each importing only from those below it (checked by ``lint-imports``, see
``.importlinter`` and ``docs/architecture.md``):

- ``carto.ui`` and ``carto.cli``: the dashboard's state and caches (the only streamlit importer),
  and the command line; both call the same functions below.
- ``carto.render``: maps, network figure, PDF/HTML/CSV and graph files, from computed frames.
- ``carto.analysis``: pure analyses over frames.
- ``carto.ingest``: untrusted files in: read in a sandbox, map, validate, then ask the store to commit.
- ``carto.store``: the one place with SQL (DuckDB), snapshots and backups.
- base, usable by all: ``model`` (vocabulary), ``errors``, ``i18n`` (labels), ``text`` (data as
  inert text), ``formatting`` (numbers and dates, Babel), ``auth`` (roles).
"""

from __future__ import annotations

__version__ = "0.1.0"

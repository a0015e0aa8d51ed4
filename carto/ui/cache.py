"""The pages' cached computations, keyed by the data version (never by hashing frames).

``st.cache_resource`` for large results that are never mutated (no copy per rerun),
``st.cache_data`` for what pages may change. ``db`` is the database file: a cache key only.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from carto import store, ui
from carto.analysis import indicators, network
from carto.analysis import scene as view
from carto.analysis.filters import Filters
from carto.analysis.footprint import BUFFER_M
from carto.analysis.summary import Summary
from carto.analysis.summary import territory_summary as summarise
from carto.ingest import pipeline
from carto.ingest.read import RawTable
from carto.ingest.safety import limits_from_env
from carto.ingest.sample import SAMPLE_DIR
from carto.render import explorer, export, summary_text
from carto.render.pdf import summary_pdf
from carto.render.summary_html import summary_html
from carto.ui import social

SUMMARY_DATASETS = ("territories", "actors", "places", "relations", "schemes")


# --- explorer ---------------------------------------------------------------------------------


@st.cache_resource(max_entries=2, show_spinner=False)
def explorer_base(version: int, db: str) -> view.Base:
    del db  # a cache key
    return view.prepare(*(ui.read(n, version) for n in ("territories", "places", "actors", "relations")))


@st.cache_data(max_entries=2, show_spinner=False)
def sample_in_sources(version: int, db: str) -> bool:
    """True when the embedded sample is among the committed imports: the map then credits its sources."""
    del version, db  # cache keys
    imports = store.list_imports(ui.cursor())
    done = imports[imports["status"] == "committed"] if "status" in imports else imports
    return bool((done["file_name"] == SAMPLE_DIR.name).any())


@st.cache_resource(max_entries=2, show_spinner=False)
def explorer_choices(version: int, db: str) -> view.FilterChoices:
    base = explorer_base(version, db)
    return view.filter_choices(base.territories, ui.read("schemes", version), base.relations)


@st.cache_resource(max_entries=2, show_spinner=False)
def explorer_map_base(version: int, db: str) -> explorer.MapBase:
    return explorer.prepare_map(explorer_base(version, db))


@st.cache_resource(max_entries=6, show_spinner=False)
def explorer_scene(version: int, db: str, filters: Filters) -> view.Scene:
    return view.build_scene(explorer_base(version, db), filters)  # degree from the relations: fast


@st.cache_resource(max_entries=6, show_spinner=False)
def explorer_map_plan(version: int, db: str, filters: Filters) -> explorer.MapPlan:
    return explorer.plan_map(explorer_scene(version, db, filters), explorer_map_base(version, db))


@st.cache_resource(max_entries=6, show_spinner=False)
def explorer_metrics(version: int, db: str, filters: Filters) -> pd.DataFrame:
    """Centralities and communities, computed only when the network is sized or coloured by them."""
    return view.network_metrics(explorer_scene(version, db, filters))


def explorer_network_metrics(version: int, db: str, filters: Filters, *, colour_by: str, size_by: str) -> pd.DataFrame:
    """The scene's degrees, or its centralities and communities when the network is coloured or sized by them."""
    scene = explorer_scene(version, db, filters)
    needs_more = colour_by == "community" or size_by not in scene.metrics
    return explorer_metrics(version, db, filters) if needs_more else scene.metrics


@st.cache_resource(max_entries=6, show_spinner=False)
def explorer_core(version: int, db: str, filters: Filters) -> tuple[frozenset[str], int, int]:
    """The network's core, drawn when nothing is selected (:func:`carto.analysis.scene.core_of`)."""
    return view.core_of(explorer_scene(version, db, filters))


@st.cache_resource(max_entries=12, show_spinner=False)
def explorer_positions(version: int, db: str, filters: Filters, ids: tuple[str, ...], layout: str) -> pd.DataFrame:
    return explorer.network_positions(explorer_scene(version, db, filters), ids, layout=layout)


# --- summary ----------------------------------------------------------------------------------


@st.cache_data(max_entries=8, show_spinner=False)
def summary_analytics(version: int, db: str, radius_km: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Indicators (with comparisons) and node metrics, recomputed only after a commit."""
    del db  # a cache key
    t, a, p, r, s = (ui.read(name, version) for name in SUMMARY_DATASETS)
    metrics = network.node_metrics(a, p, r)
    table = indicators.territory_indicators(t, a, p, r, s, radius_km=radius_km, metrics=metrics)
    return indicators.with_comparisons(table, indicators.HEADLINES), metrics


def territory_summary(version: int, db: str, code: str, radius_km: float) -> Summary:
    table, metrics = summary_analytics(version, db, radius_km)
    t, a, p, r = (ui.read(name, version) for name in SUMMARY_DATASETS[:4])
    return summarise(code, table, a, p, r, t, metrics, radius_km=radius_km)


@st.cache_data(max_entries=16, show_spinner=False)
def summary_exports(version: int, db: str, code: str, lang: str, radius_km: float) -> tuple[bytes, str]:
    """The PDF and HTML of one summary."""
    summary = territory_summary(version, db, code, radius_km)
    sources = summary_text.sources_line(store.list_imports(ui.cursor()), lang, sample_name=SAMPLE_DIR.name)
    facts = social.territory_facts(version, db, code, BUFFER_M, dt.date.today())  # the PDF's second page
    return (summary_pdf(summary, lang, sources=sources, social=facts),
            summary_html(summary, lang, sources=sources, social=facts))


# --- import -----------------------------------------------------------------------------------


# Parsed files are kept briefly and few (each is bounded by CARTO_MAX_RESULT_MB): a rerun of the
# page reuses its file, an abandoned upload does not hold memory for long.
@st.cache_resource(max_entries=2, ttl=900, show_spinner=False)
def uploaded_table(path: str, name: str, layer: str | None, encoding: str | None) -> RawTable:
    return pipeline.read(Path(path), original_name=name, layer=layer, encoding=encoding, limits=limits_from_env())


@st.cache_data(max_entries=8, show_spinner=False)
def export_bytes(name: str, fmt: str, version: int, db: str) -> bytes:
    """A table or the network as a file's bytes, made once per data version."""
    del version, db
    frames = store.read_datasets(ui.cursor(), export.datasets_needed(name, fmt))
    with tempfile.TemporaryDirectory(prefix="carto-export-") as tmp:
        return export.export_bytes(frames, name, fmt, Path(tmp))

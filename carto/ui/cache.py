"""The pages' cached computations, keyed by the data version (never by hashing frames).

``st.cache_resource`` for large results that are never mutated (no copy per rerun),
``st.cache_data`` for what pages may change. ``db`` is the database file: a cache key only.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from carto import store, ui
from carto.analysis import indicators, network
from carto.analysis import scene as view
from carto.analysis.filters import Filters
from carto.analysis.footprint import BUFFER_M
from carto.analysis.selection import Selection
from carto.analysis.summary import Summary
from carto.analysis.summary import territory_summary as summarise
from carto.ingest import pipeline
from carto.ingest.read import RawTable
from carto.ingest.safety import limits_from_env
from carto.ingest.sample import SAMPLE_DIR
from carto.render import explorer, export, netview, summary_text
from carto.render.pdf import summary_pdf
from carto.render.summary_html import summary_html
from carto.ui import social

SUMMARY_DATASETS = ("territories", "actors", "places", "relations", "schemes")
WARM_EVERY_S = 2.0

log = logging.getLogger(__name__)


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


def warm_explorer(version: int, db: str) -> float:
    """Build what the explorer's opening view needs at ``version`` into the caches above (the data
    read and prepared, the opening scene and map plan, the network's positions); its seconds.

    The same calls with the same keys as the page's first run, so the first visitor finds them
    ready (or waits for the computation in progress: Streamlit locks each key while it computes).
    """
    start = time.perf_counter()
    base, choices = explorer_base(version, db), explorer_choices(version, db)
    explorer_map_base(version, db)
    opening = view.filters_for_data(Filters(), base.territories, set(choices.scheme_names))
    scene = explorer_scene(version, db, opening)
    explorer_map_plan(version, db, opening)
    shown = view.network_subgraph(scene, view.focus(scene, Selection()))
    explorer_positions(version, db, opening, tuple(shown.nodes.index), netview.LAYOUTS[0])
    return time.perf_counter() - start


_keeper_lock = threading.Lock()
_keepers: set[str] = set()


def keep_warm(db: str, *, every_s: float = WARM_EVERY_S) -> bool:
    """Start, once per process and database, a thread that warms the explorer's caches
    (:func:`warm_explorer`) for the data version in force: at once, then after every commit
    (the version is read every ``every_s`` seconds), off the request path. True when started now.

    Called by the launcher (:mod:`carto.ui.serve`, which ``run.sh`` uses) as the server starts; a
    server started with plain ``streamlit run app.py`` does without it.
    """
    with _keeper_lock:
        if db in _keepers:
            return False
        _keepers.add(db)
    threading.Thread(target=_keep_warm, args=(db, every_s), name="carto-warm", daemon=True).start()
    return True


def warm_if_changed(db: str, warmed: int | None) -> int | None:
    """Warm the explorer for the data version in force when it is not ``warmed``; the version
    warmed now (``warmed`` when nothing changed, or the store holds no data yet)."""
    cur = ui.connection().cursor()
    version = store.data_version(cur)
    if version == warmed or store.is_empty(cur):
        return warmed
    seconds = warm_explorer(version, db)
    print(f"carto: explorer warm for data version {version} in {seconds:.1f} s", file=sys.stderr, flush=True)
    return version


def _keep_warm(db: str, every_s: float) -> None:
    from streamlit.runtime import Runtime

    warmed: int | None = None
    while True:
        try:
            # Before the server's runtime exists Streamlit's data cache would live apart from it.
            if Runtime.exists() and type(Runtime.instance()) is Runtime:  # not a test's stand-in
                warmed = warm_if_changed(db, warmed)
        except Exception:  # a commit during the warm-up, a closed connection: tried again next round
            log.warning("carto: warm-up failed, retrying", exc_info=True)
        time.sleep(every_s)


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

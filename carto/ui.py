"""The one place of ``carto`` that talks to streamlit: connection, language, cached reads.

Pages call these helpers so that session state and caching rules live here, not in every page.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from carto import i18n, sample, store

LANG_KEY = "lang"


@st.cache_resource(show_spinner=False)
def connection() -> store.Connection:
    """One read-write connection per server process; threads take cursors from it."""
    return store.connect()


def cursor() -> store.Connection:
    """A cursor for this script run: DuckDB cursors are not shared between threads."""
    return connection().cursor()


def language() -> str:
    """The chosen language, else the browser's, else French."""
    chosen = st.session_state.get(LANG_KEY)
    if chosen in i18n.LANGUAGES:
        return str(chosen)
    return i18n.language_from_locale(getattr(st.context, "locale", None))


def tr(key: str, **values: object) -> str:
    """Translate ``key`` in the current language."""
    return i18n.t(key, language(), **values)


def language_switch() -> None:
    """Sidebar selector; its value persists in the session and wins over the browser's."""
    current = language()
    st.sidebar.selectbox(
        "Langue / Language",
        options=list(i18n.LANGUAGES),
        index=list(i18n.LANGUAGES).index(current),
        format_func=lambda code: {"fr": "Français", "en": "English"}[code],
        key=LANG_KEY,
    )


def ensure_data() -> None:
    """On a new, empty database, load the sample with a visible progress bar."""
    conn = connection()
    if not store.is_empty(conn.cursor()):
        return
    bar = st.progress(0.0, text=tr("first_run.loading"))

    def report(fraction: float, step: str) -> None:
        bar.progress(min(1.0, fraction), text=tr("first_run.step", step=tr(f"first_run.step.{step}")))

    if sample.ensure_loaded(conn, progress=report):
        _read_cached.clear()
        st.toast(tr("first_run.done"))
    bar.empty()


def data_version() -> int:
    """Changes with every commit: part of every cache key."""
    return store.data_version(cursor())


@st.cache_data(max_entries=32, show_spinner=False)
def _read_cached(name: str, version: int, db: str) -> pd.DataFrame:
    # ``version`` and ``db`` only key the cache: a commit or another database means new rows.
    del version, db
    return store.read_dataset(cursor(), name)


def read(name: str) -> pd.DataFrame:
    """All rows of a dataset, cached until the next commit."""
    return _read_cached(name, data_version(), str(store.default_db_path()))

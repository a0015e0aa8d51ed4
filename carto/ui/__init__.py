"""The one place of ``carto`` that talks to streamlit: connection, language, cached reads.

Pages call these helpers so that session state and caching rules live here, not in every page:
:mod:`carto.ui.state` holds every widget and session key and each page's typed state,
:mod:`carto.ui.cache` the pages' cached computations.
"""

from __future__ import annotations

import cProfile
import gc
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st

from carto import auth, i18n, model, store, text
from carto.errors import DiskFull, StaleVersion
from carto.ingest import sample
from carto.ingest.sandbox import SPARE_READER, sweep_stale_workdirs
from carto.store import backup
from carto.ui.state import FOLLOWED_VERSION, LANGUAGE, after_first_run_keys


@st.cache_resource(show_spinner=False, max_entries=4)
def _connection_to(path: str) -> store.Connection:
    conn = store.connect(path)
    backup.start_scheduled_backups(conn)  # with $CARTO_BACKUP_EVERY_H set; once per process and file
    sweep_stale_workdirs()  # work folders of reads killed with an earlier server
    SPARE_READER.enable()  # a reader child started ahead: an upload is read at once
    return conn


def after_write_error(exc: BaseException) -> None:
    """After a refused write: a full disk that broke the connection gets a fresh one on the next run.

    (DuckDB cannot write geometries again on a connection whose commit met a full disk.)
    """
    if isinstance(exc, DiskFull) and exc.reopen:
        connection().close()
        _connection_to.clear()


def connection() -> store.Connection:
    """One read-write connection per server process and database file; threads take cursors."""
    return _connection_to(store.default_db())


def cursor() -> store.Connection:
    """A cursor for this script run: DuckDB cursors are not shared between threads."""
    return connection().cursor()


def language() -> str:
    """The chosen language, else the browser's, else French."""
    chosen = st.session_state.get(LANGUAGE)
    if chosen in i18n.LANGUAGES:
        return str(chosen)
    return i18n.language_from_locale(getattr(st.context, "locale", None))


def tr(key: str, **values: object) -> str:
    """Translate ``key`` in the current language, for a Streamlit element (which renders markdown).

    The ``values`` filled in are shown as text: a name or an error message quoting a file can
    never add a link, an image or a heading (:func:`carto.text.markdown_text`).
    """
    return i18n.t(key, language(), **{name: text.markdown_text(v) for name, v in values.items()})


def words(lang: str) -> Callable[[str], str]:
    """``key → label`` in ``lang``, fixed when called: for a widget's ``format_func``, which AppTest also
    calls after the run, where the session's language is no longer known."""
    return lambda key: i18n.t(key, lang)


def md(value: object) -> str:
    """Data text (a name, a sentence naming partners) for an element that renders markdown."""
    return text.markdown_text(value)


def language_switch() -> None:
    """Sidebar selector; its value persists in the session and wins over the browser's."""
    current = language()
    st.sidebar.selectbox(
        "Langue / Language",
        options=list(i18n.LANGUAGES),
        index=list(i18n.LANGUAGES).index(current),
        format_func=lambda code: {"fr": "Français", "en": "English"}[code],
        key=LANGUAGE,
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


def follow_commits(*, every_s: float = 1.0) -> None:
    """Draw the page again within ``every_s`` of a commit made elsewhere (another session, another
    replica, a command-line import): a map or a summary left open shows the new data by itself.

    Called before the page runs, with the version it is about to read; the check every ``every_s``
    is a fragment (one small query), the page runs again only when the version moved.
    """
    _follow_from_now()

    @st.fragment(run_every=every_s)
    def watch() -> None:
        if data_version() != st.session_state.get(FOLLOWED_VERSION):
            st.rerun()

    watch()


def committed_here() -> None:
    """This run committed and shows what it did (an import's outcome): not a change to follow, which
    would draw the page again without that outcome."""
    _follow_from_now()


def _follow_from_now() -> None:
    """The page on screen is drawn from the current version: only a later commit makes it run again."""
    st.session_state[FOLLOWED_VERSION] = data_version()


# One frame per dataset and version for the whole process (two versions of the five datasets): a
# data cache would unpickle a fresh copy, geometries and all, on every call of every run, which
# made the server's memory creep up round after round under load. ``read`` hands out shallow
# copies, which copy-on-write (pandas 3) keeps from ever changing the cached frame.
@st.cache_resource(max_entries=10, show_spinner=False)
def _read_cached(name: str, version: int, db: str) -> pd.DataFrame:
    # Raises StaleVersion (not cached) when a commit came after ``version``.
    frame = store.read_dataset_at(cursor(), name, version)
    if name == "places":  # a place whose id an actor also uses is left out (see node_id_clashes)
        frame, _ = model.places_beside_actors(frame, _read_cached("actors", version, db))
    return frame.copy(deep=False)


@st.cache_data(max_entries=8, show_spinner=False)
def node_id_clashes(version: int, db: str) -> list[str]:
    """Ids that name both an actor and a place at ``version`` (:func:`carto.model.shared_node_ids`)."""
    actors = _read_cached("actors", version, db)
    places = store.read_dataset_at(cursor(), "places", version)
    return model.shared_node_ids(actors["id"], places["id"])


def warn_node_id_clashes(version: int) -> None:
    """Say which ids an actor and a place share, on pages that leave those places out."""
    clashes = node_id_clashes(version, store.default_db())
    if clashes:
        st.warning(tr("data.node_id_clash", count=len(clashes), ids=", ".join(clashes[:5])))


def read(name: str, version: int | None = None) -> pd.DataFrame:
    """All rows of a dataset, cached until the next commit.

    Pages pass the ``version`` they read once at the top: every dataset of the run is then
    from that one state. When an import committed since, the page starts again on the new data.
    """
    try:
        frame = _read_cached(name, data_version() if version is None else version, store.default_db())
    except StaleVersion:
        st.rerun()
    return frame.copy(deep=False)


def auth_configured() -> bool:
    """Sign-in is configured: OpenID Connect in secrets, or trusted reverse-proxy headers."""
    try:
        oidc = "auth" in st.secrets
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        oidc = False
    return oidc or bool(st.get_option("server.trustedUserHeaders"))


def role_rules() -> auth.RoleRules:
    """Roles from the ``[roles]`` table of secrets, else the file ``$CARTO_ROLES``.

    Read on every run (a small file): a changed role takes effect without a restart.
    """
    try:
        if "roles" in st.secrets:
            return auth.parse_role_rules(st.secrets["roles"].to_dict())
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        pass
    return auth.load_role_rules()


def current_user() -> auth.User:
    """Who is using this session, with their role (see :func:`carto.auth.resolve_user`)."""
    identity = st.user.to_dict() if st.user else None
    return auth.resolve_user(
        identity,
        role_rules(),
        auth_configured=auth_configured(),
        server_address=st.get_option("server.address"),
        request_host=_request_header("Host"),
        request_origin=_request_header("Origin"),
    )


def _request_header(name: str) -> str | None:
    """A header of the browser's connection to this session; None when there is no request (AppTest)."""
    value = st.context.headers.get(name)
    return None if value is None else str(value)


def sign_in_gate(user: auth.User) -> None:
    """With sign-in configured, nobody anonymous sees data: offer the sign-in and stop.

    A local dashboard reached under a foreign host name (DNS rebinding) shows nothing at all.
    """
    if user.source == "foreign-host":
        st.title(tr("auth.foreign_host.title"))
        st.error(tr("auth.foreign_host"))
        st.stop()
    if user.source != "anonymous" or not auth_configured():
        return
    st.title(tr("auth.title"))
    st.write(tr("auth.explain"))
    try:
        has_oidc = "auth" in st.secrets
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        has_oidc = False
    if has_oidc:
        st.button(tr("auth.sign_in"), on_click=st.login, type="primary")
    else:
        st.error(tr("auth.proxy_missing"))
    st.stop()


def identity_badge(user: auth.User) -> None:
    """Sidebar line saying who is signed in and with which role."""
    role = tr(f"role.{user.role}")
    if user.source == "local":
        st.sidebar.info(tr("auth.local_mode", role=role))
    elif user.source == "anonymous":
        st.sidebar.caption(tr("auth.anonymous", role=role))
    else:
        st.sidebar.caption(tr("auth.signed_in", name=user.name, role=role))
        if user.source == "oidc":
            st.sidebar.button(tr("auth.sign_out"), on_click=st.logout)


def page_guard(action: str) -> auth.User:
    """Stop a page the current user may not use, whatever URL led to it (defence in depth)."""
    user = current_user()
    if not auth.can(user, action):
        st.error(tr("auth.refused", role=tr(f"role.{user.role}")))
        st.stop()
    return user


def after_first_run(key: str, *, delay_s: float = 1.5) -> bool:
    """False on the first run of a session, which then reruns the page once ``delay_s`` later; True after.

    For a part of a page that should appear a moment after the rest (the explorer's network:
    its chart library holds the browser's main thread for about a second, which the map's
    frame shares, so drawing it second gets the map on screen sooner).
    """
    shown, armed = after_first_run_keys(key)
    if st.session_state.get(shown):
        return True
    st.session_state[shown] = True

    @st.fragment(run_every=delay_s)
    def rerun_later() -> None:
        if st.session_state.get(armed):  # a timed run, not the first (inline) one
            st.rerun()
        st.session_state[armed] = True

    rerun_later()
    return False


class GarbageCollector:
    """Full garbage collections after page runs, in a thread of its own: one for all the runs that
    ended while it collected, then at most one every ``every_s``.

    Streamlit's own (``runner.postScriptGC``, turned off in .streamlit/config.toml) collected after
    every script run, fragment runs included: with the check of :func:`follow_commits` every second in ten
    open pages, those collections held the interpreter for most of each second and the server
    stopped answering. Page runs ask (:meth:`want`); fragment runs do not.
    """

    def __init__(self, every_s: float = 0.0, collect: Callable[[int], object] = gc.collect) -> None:
        self.every_s = every_s
        self._collect = collect
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def want(self) -> None:
        """A page run ended: collect soon (its thread starts with the first request)."""
        self._wanted.set()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="carto-gc", daemon=True)
                self._thread.start()

    def collect_if_wanted(self) -> bool:
        """One collection when a run asked since the last one; True when it collected."""
        if not self._wanted.is_set():
            return False
        self._wanted.clear()
        self._collect(2)
        return True

    def _loop(self) -> None:
        while self._wanted.wait():
            self.collect_if_wanted()
            time.sleep(self.every_s)


GARBAGE = GarbageCollector()


@contextmanager
def collect_garbage_after() -> Iterator[None]:
    """Around a page run (not a fragment's): ask for a full collection once it ends, however it ends."""
    try:
        yield
    finally:
        GARBAGE.want()


@contextmanager
def timed_run() -> Iterator[None]:
    """Append this script run's server time to ``$CARTO_RUN_LOG`` when set (for bench.load).

    With ``$CARTO_PROFILE`` set to a folder, also write each run's cProfile statistics there
    (``run-<n>.prof``, readable with :mod:`pstats`): the script thread is invisible to a
    profiler started outside it.
    """
    log, profile_dir = os.environ.get("CARTO_RUN_LOG"), os.environ.get("CARTO_PROFILE")
    profiler = cProfile.Profile() if profile_dir else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    try:
        yield
    finally:
        if profiler and profile_dir:
            profiler.disable()
            folder = Path(profile_dir)
            folder.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(folder / f"run-{len(list(folder.glob('run-*.prof'))):04d}.prof")
        if log:
            with open(log, "a", encoding="utf-8") as out:
                out.write(f"{time.perf_counter() - started:.4f}\n")

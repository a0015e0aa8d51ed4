"""The PostgreSQL/PostGIS store: the same store API as DuckDB's, for a team on a shared server.

:func:`connect_url` gives a :class:`PgCursor` that behaves like a DuckDB connection for what
:mod:`carto.store` asks of one (``execute`` then ``fetchone``/``fetchall``/``fetchdf``/
``to_arrow_table``, ``register`` of a frame, ``cursor``, ``close``), so the store's SQL is written
once. The few words where PostgreSQL says it differently are rewritten here, in one table
(:data:`_REWRITES`); values still travel only as bound parameters.

Each cursor takes a connection from the process's pool for one statement and gives it back, except
while it is inside a transaction, holds staged frames or the writers' lock. Every write transaction
of every process first takes one advisory lock (:meth:`PgCursor.lock_writers`): writers follow one
another as they do on DuckDB, and each transaction, begun once the lock is held, reads one snapshot
(``REPEATABLE READ``) that sees every commit before it.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import duckdb
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql as pgsql
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from carto.errors import InputError, StoreError

URL_SCHEMES = ("postgresql://", "postgres://")
# The advisory lock every writer takes: any fixed number, the same in every process.
WRITERS_LOCK = 0x6361_7274_6F  # "carto"
POOL_SIZE = 8

# DuckDB's words on the left, PostgreSQL's on the right. Geometries are EPSG:4326 (carto.model.CRS).
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bDOUBLE\b(?! PRECISION)"), "DOUBLE PRECISION"),
    (re.compile(r"\bgeometry GEOMETRY\b"), "geometry geometry(Geometry, 4326)"),
    (re.compile(r"\bST_AsWKB\("), "ST_AsBinary("),
    (re.compile(r"\bST_AsHEXWKB\(([\w.]+)\)"), r"upper(encode(ST_AsBinary(\1), 'hex'))"),  # upper case, as DuckDB's
    (re.compile(r"\bST_GeomFromHEXWKB\(\?\)"), "ST_GeomFromWKB(decode(?, 'hex'), 4326)"),
    (re.compile(r"\bST_GeomFromWKB\(([\w.]+)\)"), r"ST_GeomFromWKB(\1, 4326)"),
    (re.compile(r"\blist_contains\(\?, ([\w.]+)\)"), r"(\1 = ANY(?))"),
    # A transaction reads one snapshot, as on DuckDB (read committed would see a commit half-way).
    (re.compile(r"^BEGIN TRANSACTION$"), "BEGIN ISOLATION LEVEL REPEATABLE READ"),
)

# What a staged column becomes, by the Python type of its values (text for anything else).
_STAGED_TYPES: tuple[tuple[tuple[type, ...], str], ...] = (
    ((bool, np.bool_), "BOOLEAN"),
    ((int, np.integer), "BIGINT"),
    ((int, float, np.integer, np.floating), "DOUBLE PRECISION"),
    ((bytes, bytearray, memoryview), "BYTEA"),
    ((dt.datetime, dt.date), "TIMESTAMP"),
)

# Arrow types of PostgreSQL's type oids, for frames the same as DuckDB's (see PgCursor.fetchdf).
_ARROW_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    17: pa.binary(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    700: pa.float32(),
    701: pa.float64(),
    1043: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}


def is_url(target: object) -> bool:
    """True when ``target`` names a PostgreSQL database rather than a DuckDB file."""
    return isinstance(target, str) and target.startswith(URL_SCHEMES)


def redacted(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``: what messages and logs may show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def translate(query: str, params: object) -> str:
    """``query`` in PostgreSQL's words, with psycopg's ``%s`` placeholders for DuckDB's ``?``."""
    for pattern, replacement in _REWRITES:
        query = pattern.sub(replacement, query)
    if params is None:
        return query
    out: list[str] = []
    quoted = False
    for char in query:
        if char == "'":
            quoted = not quoted
        if char == "?" and not quoted:
            out.append("%s")
        elif char == "%":
            out.append("%%")
        else:
            out.append(char)
    return "".join(out)


def _plain(value: Any) -> Any:
    """A value psycopg can send: numpy scalars as Python's, missing values as None."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def _csv_to_arrow(data: bytes, names: list[str], oids: list[int]) -> pa.Table:
    """PostgreSQL's CSV (NULL unquoted and empty, booleans ``t``/``f``, bytea as ``\\x`` hex) as Arrow."""
    wanted = {n: _ARROW_TYPES.get(oid, pa.string()) for n, oid in zip(names, oids, strict=True)}
    as_text = {n: (pa.string() if t == pa.binary() else t) for n, t in wanted.items()}
    if not names:
        return pa.table({})
    if not data:  # no row: Arrow's reader refuses an empty file
        return pa.table({n: pa.array([], type=t) for n, t in wanted.items()})
    table = pa_csv.read_csv(
        io.BytesIO(data),
        read_options=pa_csv.ReadOptions(column_names=names, use_threads=True),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=as_text,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )
    for name, arrow_type in wanted.items():
        if arrow_type == pa.binary():
            hexes = table[name].to_pylist()
            values = pa.array([None if h is None else bytes.fromhex(h[2:]) for h in hexes], type=pa.binary())
            table = table.set_column(table.schema.get_field_index(name), name, values)
    return table


def _staged_type(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None]
    for kinds, sql_type in _STAGED_TYPES:
        if present and all(isinstance(v, kinds) for v in present):
            return sql_type
    return "TEXT"


class PgCursor:
    """One user of the pool: DuckDB's connection API, over one pooled connection at a time."""

    def __init__(self, pool: ConnectionPool, url: str) -> None:
        self._pool = pool
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None
        self._views: set[str] = set()
        self._locks = 0
        self._columns: list[str] = []
        self._oids: list[int] = []
        self._rows: list[tuple[Any, ...]] = []

    # --- the pooled connection ---

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            self._conn = self._pool.getconn()
        return self._conn

    def _release_if_idle(self) -> None:
        conn = self._conn
        if conn is None or self._views or self._locks:
            return
        if conn.closed or conn.info.transaction_status == TransactionStatus.IDLE:
            self._conn = None
            self._pool.putconn(conn)

    # --- DuckDB's API ---

    def cursor(self) -> PgCursor:
        return PgCursor(self._pool, self.url)

    def execute(self, query: str, parameters: object = None) -> PgCursor:
        conn = self._connection()
        params = None if parameters is None else [_plain(p) for p in parameters]  # type: ignore[attr-defined]
        try:
            result = conn.execute(translate(query, parameters), params)  # type: ignore[call-overload,unused-ignore]  # the store's SQL
            if result.description is None:
                self._columns, self._oids, self._rows = [], [], []
            else:
                self._columns = [d.name for d in result.description]
                self._oids = [d.type_code for d in result.description]
                self._rows = result.fetchall()
        finally:
            self._release_if_idle()
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def to_arrow_table(self) -> pa.Table:
        rows = self.fetchall()
        columns = {
            name: pa.array([r[i] for r in rows], type=_ARROW_TYPES.get(oid))
            for i, (name, oid) in enumerate(zip(self._columns, self._oids, strict=True))
        }
        return pa.table(columns) if columns else pa.table({})

    def fetchdf(self) -> pd.DataFrame:
        # Through DuckDB's own conversion: the same dtypes (nullable integers, str, datetime64[us])
        # whichever store a frame comes from.
        return duckdb.from_arrow(self.to_arrow_table()).df()

    def read_arrow(self, query: str) -> pa.Table:
        """The rows of a parameterless SELECT as Arrow, through ``COPY ... TO STDOUT`` (CSV parsed by
        Arrow in C): several times faster than row tuples on a large table. ``bytea`` columns (WKB)
        come back as binary, as :meth:`to_arrow_table` gives them."""
        conn = self._connection()
        sql = translate(query, None)
        try:
            described = conn.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0").description or []  # type: ignore[call-overload,unused-ignore]
            names = [d.name for d in described]
            oids = [d.type_code for d in described]
            buffer = io.BytesIO()
            with conn.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:  # type: ignore[call-overload,unused-ignore]
                for block in copy:
                    buffer.write(block)
        finally:
            self._release_if_idle()
        return _csv_to_arrow(buffer.getvalue(), names, oids)

    def register(self, view_name: str, python_object: object) -> PgCursor:
        """Stage a frame as the temporary table ``view_name`` (COPY), until :meth:`unregister`."""
        frame = python_object
        if not isinstance(frame, pd.DataFrame):
            msg = f"only data frames can be staged, not {type(frame).__name__}"
            raise StoreError(msg)
        conn = self._connection()
        self._views.add(view_name)
        columns = {str(c): [_plain(v) for v in frame[c].tolist()] for c in frame.columns}
        types = {c: _staged_type(v) for c, v in columns.items()}
        for c, sql_type in types.items():
            if sql_type == "TEXT":
                columns[c] = [None if v is None else str(v) for v in columns[c]]
        table = pgsql.Identifier(view_name)
        definition = pgsql.SQL(", ").join(
            pgsql.SQL("{} {}").format(pgsql.Identifier(c), pgsql.SQL(t)) for c, t in types.items()
        )
        conn.execute(pgsql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(table))
        conn.execute(pgsql.SQL("CREATE TEMPORARY TABLE {} ({})").format(table, definition))
        names = pgsql.SQL(", ").join(pgsql.Identifier(c) for c in types)
        with conn.cursor() as cur, cur.copy(pgsql.SQL("COPY {} ({}) FROM STDIN").format(table, names)) as copy:
            for row in zip(*columns.values(), strict=True):
                copy.write_row(row)
        return self

    def unregister(self, view_name: str) -> PgCursor:
        conn = self._conn
        # In a failed transaction nothing may run (and the rollback takes the staged table with it):
        # the error to report is the one that failed it.
        live = conn is not None and not conn.closed and conn.info.transaction_status != TransactionStatus.INERROR
        if view_name in self._views and live and self._conn is not None:
            self._conn.execute(pgsql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(pgsql.Identifier(view_name)))
        self._views.discard(view_name)
        self._release_if_idle()
        return self

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self._views.clear()
        self._locks = 0
        if conn is not None:
            if not conn.closed:
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")
                # A session's advisory lock would outlive the cursor on the pooled connection.
                conn.execute("SELECT pg_advisory_unlock_all()")
            self._pool.putconn(conn)

    def __enter__(self) -> PgCursor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:  # a cursor dropped without close() gives its connection back
        if self._conn is not None:
            with suppress(Exception):  # the pool may already be closed at exit
                self.close()

    # --- what only PostgreSQL needs ---

    def lock_writers(self) -> None:
        """Wait for, then hold, the lock every writer of every process takes (before BEGIN)."""
        self._locks += 1
        try:
            self.execute("SELECT pg_advisory_lock(?)", [WRITERS_LOCK])
        except BaseException:
            self._locks -= 1
            raise

    def unlock_writers(self) -> None:
        if self._locks == 0:
            return
        try:
            if self._conn is not None and not self._conn.closed:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", [WRITERS_LOCK])
        finally:
            self._locks -= 1
            self._release_if_idle()


class PgConnection(PgCursor):
    """The process's handle on one PostgreSQL database: a cursor that also owns the pool."""

    def close(self) -> None:
        super().close()
        self._pool.close()


_POOLS_LOCK = threading.Lock()


def connect_url(url: str) -> PgConnection:
    """A handle on the database at ``url``, with PostGIS checked; the schema is migrated by the caller."""
    pool: ConnectionPool = ConnectionPool(
        url,
        min_size=1,
        max_size=POOL_SIZE,
        kwargs={"autocommit": True, "options": "-c TimeZone=UTC -c client_min_messages=warning"},
        open=False,
        name="carto",
    )
    try:
        with _POOLS_LOCK:
            pool.open(wait=True, timeout=15)
    except Exception as exc:
        pool.close()
        msg = f"cannot connect to the database {redacted(url)}: {_first_line(exc)}"
        raise StoreError(msg) from exc
    conn = PgConnection(pool, url)
    try:
        _ensure_postgis(conn, url)
    except BaseException:
        conn.close()
        raise
    return conn


def _ensure_postgis(conn: PgCursor, url: str) -> None:
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone():
        return
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        msg = (
            f"PostGIS is not enabled in the database {redacted(url)} and this role may not enable it: "
            f"as a superuser, run CREATE EXTENSION postgis; in that database ({_first_line(exc)})"
        )
        raise StoreError(msg) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- dumps: backups, snapshots and restore with PostgreSQL's own tools ----------------------------

DUMP_SUFFIX = ".dump"
CLIENT_TIMEOUT_S = 3600


def database_label(url: str) -> str:
    """A folder name for the database at ``url``: ``<host>-<port>-<database>``, safe characters only."""
    parts = urlsplit(url)
    raw = f"{parts.hostname or 'local'}-{parts.port or 5432}-{parts.path.lstrip('/') or 'postgres'}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw)


def database_name(url: str) -> str:
    """The database's own name in ``url`` (``carto`` for ``postgresql://host/carto``)."""
    return urlsplit(url).path.lstrip("/") or "postgres"


def client_program(name: str) -> str:
    """The newest installed ``pg_dump`` or ``pg_restore`` (a dump needs a client at least as new as the server)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    program = str(found[-1]) if found else shutil.which(name)
    if program is None:
        msg = f"{name} is not installed: install PostgreSQL's client programs (Debian: postgresql-client)"
        raise StoreError(msg)
    return program


def _client_call(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and an environment holding it: a password never shows in ``ps``."""
    parts = urlsplit(url)
    env = {**os.environ}
    if parts.password is None:
        return url, env
    env["PGPASSWORD"] = unquote(parts.password)
    netloc = parts.netloc.replace(f":{parts.password}@", "@", 1)
    return urlunsplit(parts._replace(netloc=netloc)), env


def _run_client(command: list[str], env: dict[str, str], what: str, url: str) -> str:
    try:
        done = subprocess.run(  # our own argument list, no shell
            command, env=env, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        msg = f"{what} of {redacted(url)} took more than {CLIENT_TIMEOUT_S} s and was stopped"
        raise StoreError(msg) from exc
    if done.returncode != 0:
        detail = next((line for line in done.stderr.splitlines() if line.strip()), f"exit {done.returncode}")
        msg = f"{what} of {redacted(url)} failed: {detail.replace(url, redacted(url))}"
        raise StoreError(msg)
    return done.stdout


def dump(url: str, target: Path) -> None:
    """Write a consistent copy of the database at ``url`` to ``target`` (``pg_dump``'s custom format).

    pg_dump reads one snapshot of its own: nobody waits while it runs, and it sees no half commit.
    """
    dbname, env = _client_call(url)
    _run_client(
        [client_program("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
         f"--file={target}", f"--dbname={dbname}"],
        env, "the backup", url,
    )


def dump_contents(path: Path) -> list[str]:
    """The table of contents of a dump (``pg_restore --list``), one entry a line; refuse what is not a dump."""
    try:
        command = [client_program("pg_restore"), "--list", str(path)]
        listing = _run_client(command, dict(os.environ), "reading", str(path))
    except StoreError as exc:
        msg = f"{path} is not a PostgreSQL dump (pg_restore cannot read it)"
        raise InputError(msg) from exc
    return listing.splitlines()


def dumped_tables(contents: Sequence[str]) -> set[str]:
    """The tables a dump's table of contents creates (``TABLE public <name> <owner>`` entries)."""
    tables = set()
    for line in contents:
        found = re.match(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", line)
        if found:
            tables.add(found[1])
    return tables


def dumped_schema_version(path: Path) -> int:
    """The schema version a dump holds (the highest row of its ``schema_version`` table), 0 if none."""
    text = _run_client(
        [client_program("pg_restore"), "--data-only", "--table=schema_version", "--file=-", str(path)],
        dict(os.environ), "reading", str(path),
    )
    versions = []
    copying = False
    for line in text.splitlines():
        if line.startswith("COPY ") and "schema_version" in line:
            copying = True
        elif copying and line == "\\.":
            copying = False
        elif copying and line.split("\t", 1)[0].isdigit():
            versions.append(int(line.split("\t", 1)[0]))
    return max(versions, default=0)


def restore_dump(url: str, path: Path, contents: Sequence[str]) -> None:
    """Replace the database's tables by the dump's, in one transaction (all or nothing).

    Extensions are left as they are (PostGIS is already there; the role may not create it again), and
    so is the data of PostGIS's own ``spatial_ref_sys`` table: it belongs to the extension's owner (a
    superuser), and a database owner who is not one may not write it.
    """
    kept = [line for line in contents if line and not line.startswith(";") and " EXTENSION " not in line
            and " TABLE DATA public spatial_ref_sys " not in line]
    dbname, env = _client_call(url)
    with tempfile.NamedTemporaryFile("w", suffix=".list", prefix="carto-restore-", delete=False) as listing:
        listing.write("\n".join(kept) + "\n")
    try:
        _run_client(
            [client_program("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
             "--single-transaction", "--exit-on-error", f"--use-list={listing.name}", f"--dbname={dbname}",
             str(path)],
            env, "the restore", url,
        )
    finally:
        Path(listing.name).unlink(missing_ok=True)

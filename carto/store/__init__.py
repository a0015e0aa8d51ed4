"""The store: the one source of truth, and the one place with SQL.

The layers above ask it for frames and for writes by name (:func:`read_dataset`, :func:`insert_rows`,
:func:`stored_keys`, :mod:`carto.store.imports` for the undo of imports...), never with SQL of their
own. Values are always bound parameters; table and column names come from :mod:`carto.model` and
pass one check, :func:`_ident`. May import: the base modules (model, errors, auth).

One connection per process (:func:`connect`), one cursor per thread (``conn.cursor()``), and every
write inside :func:`transaction`, which serialises writers of this process and commits all or
nothing. Geometries are stored as DuckDB ``GEOMETRY`` in EPSG:4326 and travel as WKB.

The embedded DuckDB file is the default. A ``postgresql://`` URL instead of a path (``--db``,
``$CARTO_DB``) runs the same SQL on PostgreSQL/PostGIS (:mod:`carto.store.postgis`), where several
processes and machines share the database.

A connection is hardened once the spatial extension is loaded (:func:`harden`): it reads and writes
no file but its own database and the folders where its snapshots and backups go, loads and
installs no extension, and its configuration is locked, so no SQL can undo that.
"""

from __future__ import annotations

import errno
import os
import re
import threading
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import shapely

from carto.errors import DatabaseInUse, DiskFull, StaleVersion, StoreError
from carto.model import CRS, DATASETS, Dataset, dataset
from carto.store import postgis

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_DB = PROJECT_DIR / "data" / "carto.duckdb"



class Connection(Protocol):
    """What the store asks of a connection or cursor: DuckDB's, or :class:`postgis.PgCursor`."""

    def cursor(self) -> Connection: ...
    def execute(self, query: str, parameters: object = None) -> Connection: ...
    def fetchone(self) -> tuple[Any, ...] | None: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...
    def fetchdf(self) -> pd.DataFrame: ...
    def to_arrow_table(self) -> pa.Table: ...
    def register(self, view_name: str, python_object: object) -> Connection: ...
    def unregister(self, view_name: str) -> Connection: ...
    def close(self) -> None: ...


# Writers of one process take this lock; DuckDB itself keeps readers on consistent snapshots. On
# PostgreSQL, writers of all processes also take an advisory lock (:func:`_lock_writers`).
WRITE_LOCK = threading.RLock()

# Raised by a write that breaks a key or a NOT NULL rule: callers turn it into a message for the user.
ConstraintError = (duckdb.ConstraintException, psycopg.errors.IntegrityError)
# Any error of either database.
DatabaseError = (duckdb.Error, psycopg.Error)


SECRETS_FILE = PROJECT_DIR / ".streamlit" / "secrets.toml"


def default_db() -> str:
    """The database: ``$CARTO_DB`` when set (a file path or a ``postgresql://`` URL), else ``CARTO_DB``
    in ``.streamlit/secrets.toml`` (where a team keeps a URL with its password), else
    ``data/carto.duckdb``."""
    return os.environ.get("CARTO_DB") or _secret_db(SECRETS_FILE) or str(DEFAULT_DB)


def _secret_db(path: Path) -> str | None:
    try:
        secrets = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        msg = f"cannot read {path}: {exc}; fix the file or set CARTO_DB"
        raise StoreError(msg) from exc
    value = secrets.get("CARTO_DB")
    return str(value) if value else None


def default_db_path() -> Path:
    """The database file (DuckDB): ``$CARTO_DB`` when set, else ``data/carto.duckdb``."""
    return Path(default_db())


def is_postgres(target: object) -> bool:
    """True for a PostgreSQL URL, connection or cursor; False for DuckDB's."""
    return isinstance(target, postgis.PgCursor) or postgis.is_url(target)


def describe(target: str | Path) -> str:
    """The database as messages may name it: a file path, or a URL without its password."""
    return postgis.redacted(str(target)) if postgis.is_url(target) else str(target)


def spatial_extension_path() -> Path:
    """Path of the spatial extension shipped in the ``duckdb-extension-spatial`` wheel."""
    import duckdb_extension_spatial

    root = Path(duckdb_extension_spatial.__file__).parent / "extensions"
    found = sorted(root.glob(f"v{duckdb.__version__}/spatial.duckdb_extension"))
    if not found:
        msg = (
            f"the spatial extension for DuckDB {duckdb.__version__} is not installed; "
            f"install duckdb-extension-spatial=={duckdb.__version__} (see requirements.txt)"
        )
        raise StoreError(msg)
    return found[0]


def _copies_beside(db: str | Path, kind: str) -> Path:
    """``<kind>/<name>/``: beside a DuckDB file, or for a PostgreSQL database under ``$CARTO_COPIES_DIR``
    (default ``data/``), named ``<host>-<port>-<database>``. One folder per database, so that two
    databases never rotate each other's copies."""
    if postgis.is_url(db):
        home = Path(os.environ.get("CARTO_COPIES_DIR") or PROJECT_DIR / "data")
        return home / kind / postgis.database_label(str(db))
    path = Path(db)
    return path.parent / kind / path.name


def snapshot_dir(db_path: str | Path) -> Path:
    """Where the automatic snapshots of the database go: ``snapshots/<file name>/`` beside its file."""
    return _copies_beside(db_path, "snapshots")


def backup_dir(db_path: str | Path) -> Path:
    """Where the backups the dashboard takes of the database go: ``backups/<file name>/`` beside its file."""
    return _copies_beside(db_path, "backups")


def connect(
    path: str | Path | None = None, *, read_only: bool = False, also_allow: Sequence[str | Path] = ()
) -> Connection:
    """Open (creating if needed) the database, load spatial offline and bring the schema up to date.

    ``path`` may be ``":memory:"`` for tests, or a ``postgresql://`` URL (PostGIS must be enabled
    there, or the role allowed to enable it). A DuckDB connection is hardened (:func:`harden`): the only
    folders it may write besides its own file are the database's snapshot and backup folders, and
    ``also_allow`` (the folder of a backup the command line writes elsewhere).
    """
    target = str(path) if path is not None else default_db()
    if postgis.is_url(target):
        pg = postgis.connect_url(target)
        if not read_only:
            try:
                migrate(pg)
            except BaseException:
                pg.close()
                raise
        return pg
    allowed: list[Path] = [Path(folder).absolute() for folder in also_allow]
    if target != ":memory:":
        # Absolute, so that the snapshot paths built from it are the ones the hardening allows.
        target = str(Path(target).absolute())
        folder = Path(target).parent
        if Path(target) == DEFAULT_DB:
            folder.mkdir(parents=True, exist_ok=True)
        elif not folder.is_dir():
            msg = f"cannot create the database {target}: the folder {folder} does not exist"
            raise StoreError(msg)
        allowed += [snapshot_dir(target), backup_dir(target)]
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
    }
    try:
        conn = duckdb.connect(target, read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            msg = (
                f"the database {target} is in use by another process (the dashboard or a CLI "
                "command); stop it or point --db / CARTO_DB to another file, then try again"
            )
            raise DatabaseInUse(msg) from exc
        msg = f"cannot open the database {target}: {exc}"
        raise StoreError(msg) from exc
    except duckdb.Error as exc:
        msg = f"cannot open the database {target}: {exc}"
        raise StoreError(msg) from exc
    # A statement slower than 2 s (on a busy machine, even this LOAD) would otherwise draw DuckDB's
    # progress bar on standard output, in the middle of what the CLI prints; cursors inherit it.
    conn.execute("SET enable_progress_bar = false")
    # The path comes from the installed wheel, never from a user; loading needs file access,
    # so it comes before the hardening.
    conn.execute(f"LOAD '{spatial_extension_path()}'")
    harden(conn, allowed)
    if not read_only:
        migrate(conn)
    return conn


def harden(conn: Connection, folders: Sequence[Path] = ()) -> None:
    """Close every door of ``conn`` to the file system but ``folders``, and lock its configuration.

    After this, SQL run on ``conn`` cannot read or write a file outside its own database and
    ``folders`` (``read_csv``, ``read_text``, ``ATTACH``, ``COPY ... TO``, ``ST_Read``...), nor load or
    install an extension, nor change a setting back (``lock_configuration``). DuckDB still writes
    its own write-ahead log and spills to its temporary folder.
    """
    # A trailing separator: "snapshots/x.duckdb/" must not also allow "snapshots/x.duckdb-other/".
    prefixes = [os.path.join(str(folder), "") for folder in folders]
    conn.execute("SET allowed_directories = ?", [prefixes])
    conn.execute("SET enable_external_access = false")
    conn.execute("SET lock_configuration = true")


# --- identifiers -----------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def _read_arrow(cur: Connection, sql: str) -> pa.Table:
    """A parameterless SELECT as Arrow: DuckDB's own, or PostgreSQL's COPY (bulk reads)."""
    if isinstance(cur, postgis.PgCursor):
        return cur.read_arrow(sql)
    return cur.execute(sql).to_arrow_table()


def _read_frame(cur: Connection, sql: str) -> pd.DataFrame:
    """A parameterless SELECT as a frame, with DuckDB's dtypes whichever the store."""
    if isinstance(cur, postgis.PgCursor):
        return duckdb.from_arrow(cur.read_arrow(sql)).df()
    return cur.execute(sql).fetchdf()


def _ident(name: str) -> str:
    """``name`` double-quoted for SQL, once checked to be a plain lower-case name.

    Values always travel as bound parameters; the names of tables and columns cannot, so every one
    the store writes into SQL (datasets and columns of :mod:`carto.model`, the store's own tables,
    snapshot tables and staging views) goes through this one check.
    """
    if not _IDENTIFIER.fullmatch(name):
        msg = f"{name!r} is not a table or column name of the store"
        raise StoreError(msg)
    return f'"{name}"'


@contextmanager
def _staged(cur: Connection, view: str, frame: pd.DataFrame) -> Iterator[str]:
    """``frame`` readable as the view ``view`` in SQL on ``cur`` for the ``with`` block; yield its quoted name."""
    quoted = _ident(view)
    cur.register(view, frame)
    try:
        yield quoted
    finally:
        cur.unregister(view)


# --- errors of the disk ----------------------------------------------------------------------

_QUOTED_PATH = re.compile(r'"(/[^"]+)"')


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` says the disk (or a quota) has no space left."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "no space left on device" in text or "disk quota exceeded" in text


def disk_full_error(exc: BaseException, fallback: str | Path | None, *, reopen: bool = False) -> DiskFull:
    """The one-sentence error for a full disk, naming the folder the failed write was in.

    ``reopen``: the failure was a COMMIT's. DuckDB 1.5.5 then keeps its write-ahead log in a state
    where the next commit of a geometry fails fatally, until the database is opened again.
    """
    found = _QUOTED_PATH.search(str(exc))
    if found:
        where: str = str(Path(found.group(1)).parent)
    elif isinstance(exc, OSError) and exc.filename:
        where = str(Path(os.fsdecode(exc.filename)).parent)
    elif fallback is not None:
        where = str(Path(fallback).parent)
    else:
        where = "the database"
    if reopen:
        msg = f"the disk holding {where} is full: free space, then restart the dashboard and try again"
    else:
        msg = f"the disk holding {where} is full: free space and try again"
    return DiskFull(msg, reopen=reopen)


# --- schema and migrations -------------------------------------------------------------------


def _create_table_sql(ds: Dataset) -> str:
    # "geometry GEOMETRY" is a geometry(Geometry, 4326) column on PostGIS (postgis._REWRITES).
    cols = [f'"{c.name}" {c.sql_type}' for c in ds.columns]
    if ds.geometry is not None:
        cols.append("geometry GEOMETRY")
    cols[0] += " PRIMARY KEY"
    return f"CREATE TABLE {ds.name} ({', '.join(cols)})"


def _migration_1(cur: Connection) -> None:
    for ds in DATASETS.values():
        cur.execute(_create_table_sql(ds))
    cur.execute(
        """
        CREATE TABLE imports (
            id INTEGER PRIMARY KEY,
            imported_at TIMESTAMP NOT NULL,
            username VARCHAR NOT NULL,
            dataset VARCHAR NOT NULL,
            file_name VARCHAR,
            sha256 VARCHAR,
            mode VARCHAR NOT NULL,
            rows_read INTEGER NOT NULL DEFAULT 0,
            rows_inserted INTEGER NOT NULL DEFAULT 0,
            rows_updated INTEGER NOT NULL DEFAULT 0,
            rows_deleted INTEGER NOT NULL DEFAULT 0,
            status VARCHAR NOT NULL DEFAULT 'committed'
        )
        """
    )
    # Bumped by every commit: pages key their caches on it.
    cur.execute("CREATE TABLE data_version (version BIGINT NOT NULL)")
    cur.execute("INSERT INTO data_version VALUES (0)")


def _migration_2(cur: Connection) -> None:
    # Undo of imports (carto.ingest.commit): who undid what, and the rows each import replaced.
    cur.execute("ALTER TABLE imports ADD COLUMN rows_skipped INTEGER DEFAULT 0")
    cur.execute("ALTER TABLE imports ADD COLUMN undone_at TIMESTAMP")
    cur.execute("ALTER TABLE imports ADD COLUMN undone_by VARCHAR")
    cur.execute(
        """
        CREATE TABLE import_snapshots (
            import_id INTEGER NOT NULL,
            dataset VARCHAR NOT NULL,
            snapshot_table VARCHAR NOT NULL,
            rows INTEGER NOT NULL,
            PRIMARY KEY (import_id, dataset)
        )
        """
    )


def _migration_3(cur: Connection) -> None:
    # Actors' services (data·inclusion): the column, also in the kept undo snapshots of actors, so
    # that undoing an import made before this migration puts the same columns back.
    # Migration 1 builds tables from the current model: a new database has the column already.
    cur.execute("ALTER TABLE actors ADD COLUMN IF NOT EXISTS services VARCHAR")
    kept = cur.execute("SELECT snapshot_table FROM import_snapshots WHERE dataset = 'actors'").fetchall()
    for (table,) in kept:
        cur.execute(f"ALTER TABLE {_ident(table)} ADD COLUMN IF NOT EXISTS services VARCHAR")


def _migration_4(cur: Connection) -> None:
    # The actor leading each scheme: the column, also in the kept undo snapshots of schemes (undoing an
    # older import then puts the same columns back). A new database has it already (migration 1).
    cur.execute('ALTER TABLE schemes ADD COLUMN IF NOT EXISTS "lead" VARCHAR')
    kept = cur.execute("SELECT snapshot_table FROM import_snapshots WHERE dataset = 'schemes'").fetchall()
    for (table,) in kept:
        cur.execute(f'ALTER TABLE {_ident(table)} ADD COLUMN IF NOT EXISTS "lead" VARCHAR')


def _migration_5(cur: Connection) -> None:
    # Edits from the dashboard (carto.store.edits): the change log, and a version per record that
    # detects two edits of the same record prepared against the same state.
    cur.execute(
        """
        CREATE TABLE IF NOT EXISTS edits (
            id INTEGER PRIMARY KEY,
            edited_at TIMESTAMP NOT NULL,
            username VARCHAR NOT NULL,
            dataset VARCHAR NOT NULL,
            record_id VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            changes VARCHAR NOT NULL,
            before_row VARCHAR,
            after_row VARCHAR,
            version INTEGER NOT NULL,
            status VARCHAR NOT NULL DEFAULT 'committed',
            undone_at TIMESTAMP,
            undone_by VARCHAR
        )
        """
    )
    cur.execute(
        """
        CREATE TABLE IF NOT EXISTS record_versions (
            dataset VARCHAR NOT NULL,
            record_id VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (dataset, record_id)
        )
        """
    )


def _migration_6(cur: Connection) -> None:
    # PostGIS: a GiST index on each geometry, used by the spatial assignment and every spatial
    # filter. (DuckDB's spatial assignment runs in shapely's STRtree: no index to keep.)
    if not is_postgres(cur):
        return
    for ds in DATASETS.values():
        if ds.geometry is not None:
            index = _ident(f"{ds.name}_geometry_gist")
            cur.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {_ident(ds.name)} USING GIST (geometry)")


# Append only: a released migration never changes, a new one gets the next number.
MIGRATIONS: tuple[tuple[int, str, Any], ...] = (
    (1, "tables of the five datasets, imports", _migration_1),
    (2, "import snapshots for undo, skipped rows and undo audit in imports", _migration_2),
    (3, "services of actors", _migration_3),
    (4, "the actor leading each scheme", _migration_4),
    (5, "edits log and record versions", _migration_5),
    (6, "spatial indexes (PostGIS)", _migration_6),
)

SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_version(cur: Connection) -> int:
    """Highest migration applied (0 on an empty database)."""
    exists = cur.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' "
        "AND table_schema = current_schema()"
    ).fetchone()
    if not exists or exists[0] == 0:
        return 0
    row = cur.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: Connection, *, migrations: Sequence[tuple[int, str, Any]] = MIGRATIONS) -> int:
    """Apply the migrations the database lacks, each in its own transaction; return the version."""
    with WRITE_LOCK, _writers_locked(conn.cursor()) as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)"
        )
        current = schema_version(cur)
        newest = max((v for v, _, _ in migrations), default=0)
        if current > newest:
            msg = (
                f"the database schema is version {current} but this program knows only up to "
                f"{newest}; update the program"
            )
            raise StoreError(msg)
        for version, description, apply in migrations:
            if version <= current:
                continue
            cur.execute("BEGIN TRANSACTION")
            try:
                apply(cur)
                cur.execute(
                    "INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)",
                    [version, description],
                )
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise
            current = version
        return current


# --- transactions ----------------------------------------------------------------------------


@contextmanager
def _writers_locked(cur: Connection) -> Iterator[Connection]:
    """``cur`` holding the writers' lock of every process (PostgreSQL; DuckDB has one writer process)."""
    if not isinstance(cur, postgis.PgCursor):
        yield cur
        return
    cur.lock_writers()
    try:
        yield cur
    finally:
        cur.unlock_writers()


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """Yield a cursor inside one transaction; commit and bump the data version, or roll back."""
    with WRITE_LOCK, _writers_locked(conn.cursor()) as cur:
        cur.execute("BEGIN TRANSACTION")
        committing = False
        try:
            yield cur
            cur.execute("UPDATE data_version SET version = version + 1")
            committing = True
            cur.execute("COMMIT")
        except BaseException as exc:
            # A COMMIT that failed (a full disk) has already ended the transaction: the error
            # to report is the first one, never "cannot rollback".
            with suppress(*DatabaseError):
                cur.execute("ROLLBACK")
            if isinstance(exc, DatabaseError) and is_disk_full(exc):
                raise disk_full_error(exc, database_file(conn), reopen=committing) from exc
            raise
        finally:
            cur.close()


@contextmanager
def discarded_transaction(conn: Connection) -> Iterator[Connection]:
    """Yield a cursor inside one transaction that is always rolled back: to time a write, not keep it."""
    with WRITE_LOCK, _writers_locked(conn.cursor()) as cur:
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        finally:
            cur.execute("ROLLBACK")
            cur.close()


def database_file(conn: Connection) -> Path | None:
    """The file of the connected database, or None for an in-memory or PostgreSQL one (or a broken connection)."""
    if is_postgres(conn):
        return None
    try:
        cur = conn.cursor()
    except duckdb.Error:
        return None
    try:
        row = cur.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    except duckdb.Error:
        return None
    finally:
        cur.close()
    return Path(row[0]) if row and row[0] else None


def database_target(conn: Connection) -> str | Path | None:
    """What the connection was opened on: a DuckDB file, a PostgreSQL URL, or None (in memory)."""
    if isinstance(conn, postgis.PgCursor):
        return conn.url
    return database_file(conn)


def data_version(cur: Connection) -> int:
    """A number that changes with every committed write: the key of every cache."""
    row = cur.execute("SELECT version FROM data_version").fetchone()
    return int(row[0]) if row else 0


# --- writing ---------------------------------------------------------------------------------


def _to_sql_frame(ds: Dataset, frame: pd.DataFrame) -> pd.DataFrame:
    """Columns in stored order and types, geometry as WKB bytes (``None`` when missing)."""
    out = pd.DataFrame(index=range(len(frame)))
    for col in ds.columns:
        values = frame[col.name].to_numpy() if col.name in frame.columns else [None] * len(frame)
        series = pd.Series(values, dtype="object")
        out[col.name] = series.where(pd.notna(series), None)
    if ds.geometry is not None:
        geoms = frame.geometry.to_numpy() if isinstance(frame, gpd.GeoDataFrame) else None
        if geoms is None:
            out["wkb"] = pd.Series([None] * len(frame), dtype="object")
        else:
            wkb = shapely.to_wkb(geoms)
            out["wkb"] = pd.Series(list(wkb), dtype="object")
    return out


def _insert_select_sql(ds: Dataset, source: str) -> str:
    names = [_ident(c.name) for c in ds.columns]
    casts = [f"CAST({_ident(c.name)} AS {c.sql_type})" for c in ds.columns]
    if ds.geometry is not None:
        names.append("geometry")
        casts.append("ST_GeomFromWKB(wkb)")
    return f"INSERT INTO {_ident(ds.name)} ({', '.join(names)}) SELECT {', '.join(casts)} FROM {source}"


def insert_rows(cur: Connection, name: str, frame: pd.DataFrame) -> int:
    """Insert the rows of ``frame`` (a GeoDataFrame for spatial datasets) into ``name``.

    Call inside :func:`transaction`. Geometries must already be in EPSG:4326.
    """
    ds = dataset(name)
    if len(frame) == 0:
        return 0
    if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None and not frame.crs.equals(CRS):
        msg = f"{name}: geometries must be in {CRS} before storing, got {frame.crs}"
        raise StoreError(msg)
    staged = _to_sql_frame(ds, frame)
    with _staged(cur, f"_staged_{ds.name}", staged) as view:
        cur.execute(_insert_select_sql(ds, view))
    return len(staged)


def delete_all(cur: Connection, name: str) -> int:
    """Remove every row of a dataset; return how many were removed."""
    removed = count_rows(cur, name)
    cur.execute(f"DELETE FROM {_ident(dataset(name).name)}")
    return removed


def _keys_frame(keys: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({"k": pd.Series(list(keys), dtype="object")})


def delete_keys(cur: Connection, name: str, keys: Sequence[str]) -> int:
    """Remove the rows of dataset ``name`` whose key is in ``keys``; return how many were removed."""
    ds = dataset(name)
    with _staged(cur, "_deleted_keys", _keys_frame(keys)) as view:
        removed = _count_keys_in(cur, ds, view)
        cur.execute(f"DELETE FROM {_ident(ds.name)} WHERE {_ident(ds.key)} IN (SELECT k FROM {view})")
    return removed


def upsert_rows(cur: Connection, name: str, frame: pd.DataFrame, columns: Sequence[str]) -> tuple[int, int]:
    """Update the stored rows of ``frame`` (by key), only in ``columns`` and the geometry; insert the others.

    Columns of the dataset not in ``columns`` keep their stored values (an upsert from a file that
    maps only some fields changes only those). Returns (inserted, updated). Call inside :func:`transaction`.
    """
    ds = dataset(name)
    if len(frame) == 0:
        return 0, 0
    staged = _to_sql_frame(ds, frame)
    table, key = _ident(ds.name), _ident(ds.key)
    sets = [f"{_ident(c.name)} = CAST(v.{_ident(c.name)} AS {c.sql_type})" for c in ds.columns if c.name in columns]
    sets = [s for s in sets if not s.startswith(f"{key} =")]
    if ds.geometry is not None:
        sets.append("geometry = ST_GeomFromWKB(v.wkb)")
    with _staged(cur, f"_upserted_{ds.name}", staged) as view:
        row = cur.execute(f"SELECT count(*) FROM {view} WHERE {key} IN (SELECT {key} FROM {table})").fetchone()
        updated = int(row[0]) if row else 0
        if updated and sets:
            cur.execute(f"UPDATE {table} SET {', '.join(sets)} FROM {view} v WHERE {table}.{key} = v.{key}")
        fresh = f"(SELECT * FROM {view} WHERE {key} NOT IN (SELECT {key} FROM {table})) AS fresh"
        cur.execute(_insert_select_sql(ds, fresh))
    return len(staged) - updated, updated


def _gone_nodes_sql(ds: Dataset, view: str) -> str:
    """Stored nodes of ``ds`` whose id is not in the staged keys ``view``, that a relation names."""
    table, key = _ident(ds.name), _ident(ds.key)
    return (
        f"SELECT {key} AS id FROM {table} WHERE {key} NOT IN (SELECT k FROM {view}) "
        f"AND ({key} IN (SELECT source FROM relations) OR {key} IN (SELECT target FROM relations))"
    )


def relations_to_removed_nodes(
    cur: Connection, name: str, kept: Sequence[str], *, first: int = 5
) -> tuple[int, int, list[str]]:
    """What replacing the nodes of ``name`` (actors or places) by ``kept`` would leave dangling.

    Returns (relations naming a stored node whose id is not in ``kept``, how many such nodes, the
    ``first`` of their ids in order).
    """
    ds = dataset(name)
    if _count(cur, "relations") == 0:
        return 0, 0, []
    with _staged(cur, "_kept_keys", _keys_frame(kept)) as view:
        gone = _gone_nodes_sql(ds, view)
        ids = [str(r[0]) for r in cur.execute(f"{gone} ORDER BY id").fetchall()]
        if not ids:
            return 0, 0, []
        row = cur.execute(
            f"SELECT count(*) FROM relations WHERE source IN ({gone}) OR target IN ({gone})"
        ).fetchone()
    return (int(row[0]) if row else 0), len(ids), ids[:first]


def delete_relations_to_removed_nodes(cur: Connection, name: str, kept: Sequence[str]) -> int:
    """Delete the relations that name a stored node of ``name`` whose id is not in ``kept``; how many."""
    ds = dataset(name)
    with _staged(cur, "_kept_keys", _keys_frame(kept)) as view:
        gone = _gone_nodes_sql(ds, view)
        row = cur.execute(f"SELECT count(*) FROM relations WHERE source IN ({gone}) OR target IN ({gone})").fetchone()
        cur.execute(f"DELETE FROM relations WHERE source IN ({gone}) OR target IN ({gone})")
    return int(row[0]) if row else 0


def record_import(
    cur: Connection,
    *,
    username: str,
    dataset_name: str,
    file_name: str | None,
    sha256: str | None,
    mode: str,
    rows_read: int,
    rows_inserted: int,
    rows_updated: int = 0,
    rows_deleted: int = 0,
) -> int:
    """Write the audit row of an import and return its id."""
    row = cur.execute("SELECT coalesce(max(id), 0) + 1 FROM imports").fetchone()
    import_id = int(row[0]) if row else 1
    cur.execute(
        "INSERT INTO imports (id, imported_at, username, dataset, file_name, sha256, mode, rows_read, "
        "rows_inserted, rows_updated, rows_deleted) VALUES (?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            import_id,
            username,
            dataset_name,
            file_name,
            sha256,
            mode,
            rows_read,
            rows_inserted,
            rows_updated,
            rows_deleted,
        ],
    )
    return import_id


def _territory_index(cur: Connection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes, geometries (prepared for repeated tests) and areas of the stored territories."""
    table = _read_arrow(cur, "SELECT code, ST_AsWKB(geometry) AS wkb FROM territories ORDER BY code")
    codes = np.asarray(table.column("code").to_pylist(), dtype=object)
    geoms = shapely.from_wkb(table.column("wkb").to_numpy(zero_copy_only=False))
    shapely.prepare(geoms)
    # Degrees² on EPSG:4326 coordinates, as DuckDB's ST_Area: only the order of areas matters.
    return codes, geoms, shapely.area(geoms)


def _finest(points: np.ndarray, territories: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """For each point, the code of the smallest territory that contains it (``None`` outside all).

    One bulk query of shapely's STRtree, built on the points and asked with the (prepared)
    territories: GEOS tests each candidate point against a polygon prepared once, several times faster
    than testing each point against unprepared polygons. "Contains" leaves a point on a boundary out,
    as ``ST_Contains`` does; ties in area go to the smaller code.
    """
    codes, geoms, area = territories
    found = np.full(len(points), None, dtype=object)
    if len(points) == 0 or len(geoms) == 0:
        return found
    territory, point = shapely.STRtree(points).query(geoms, predicate="contains")
    if len(point) == 0:
        return found
    order = np.lexsort((territory, area[territory], point))
    point, territory = point[order], territory[order]
    first = np.r_[True, point[1:] != point[:-1]]
    found[point[first]] = codes[territory[first]]
    return found


def assign_territories(cur: Connection) -> None:
    """Set ``territory_code`` of actors and places to the finest territory that contains them.

    The finest is the smallest by area among those containing the point (a place polygon
    counts by a point on its surface). Rows outside every territory get NULL.
    """
    if is_postgres(cur):
        _assign_with_gist(cur)
        return
    territories = _territory_index(cur)
    for name in ("actors", "places"):
        table = _ident(name)
        rows = _read_arrow(cur, f"SELECT id, ST_AsWKB(ST_PointOnSurface(geometry)) AS wkb FROM {table}")
        if rows.num_rows == 0:
            continue
        points = shapely.from_wkb(rows.column("wkb").to_numpy(zero_copy_only=False))
        staged = pd.DataFrame({"k": rows.column("id").to_pandas(), "c": _finest(points, territories)})
        with _staged(cur, "_assigned", staged) as view:
            cur.execute(f"UPDATE {table} SET territory_code = v.c FROM {view} v WHERE {table}.id = v.k")


def _assign_with_gist(cur: Connection) -> None:
    """:func:`assign_territories` in PostGIS, with the same rule: one join through the territories'
    GiST index picks each row's finest territory; only the rows whose territory changes are written."""
    for name in ("actors", "places"):
        table = _ident(name)
        cur.execute(
            f"WITH finest AS (SELECT DISTINCT ON (x.id) x.id, t.code FROM {table} x "
            "JOIN territories t ON ST_Contains(t.geometry, ST_PointOnSurface(x.geometry)) "
            "ORDER BY x.id, ST_Area(t.geometry), t.code) "
            f"UPDATE {table} AS a SET territory_code = f.code FROM {table} x LEFT JOIN finest f ON f.id = x.id "
            "WHERE a.id = x.id AND a.territory_code IS DISTINCT FROM f.code"
        )


def finest_territories(cur: Connection, name: str, rows: pd.DataFrame) -> pd.Series:
    """The finest stored territory containing each of ``rows``, as :func:`assign_territories` decides.

    ``rows`` are rows of dataset ``name`` (their geometry is read; ``name`` says which dataset they
    belong to). Smallest area among the territories containing the point (a polygon counts by a
    point on its surface); ``None`` outside every territory. Indexed like ``rows``.
    """
    dataset(name)
    points = shapely.point_on_surface(rows.geometry.to_numpy())
    return pd.Series(_finest(points, _territory_index(cur)), index=rows.index, dtype=object)


# --- reading ---------------------------------------------------------------------------------


def read_dataset_at(cur: Connection, name: str, version: int) -> pd.DataFrame:
    """All rows of a dataset as they are at data ``version``, else :class:`StaleVersion`.

    Read in one transaction (one snapshot) with the version, so that a page whose reads all
    succeed at the same version drew from one consistent state, even while an import commits.
    """
    cur.execute("BEGIN TRANSACTION")
    try:
        current = data_version(cur)
        if current != version:
            msg = f"data version {current}, not {version}"
            raise StaleVersion(msg)
        return read_dataset(cur, name)
    finally:
        cur.execute("COMMIT")


def read_dataset(
    cur: Connection,
    name: str,
    *,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Rows of a dataset (all its ``columns`` by default), ordered by key: a GeoDataFrame
    (EPSG:4326) for spatial datasets. No SQL comes from outside the store: filter the frame."""
    ds = dataset(name)
    wanted = list(columns) if columns is not None else list(ds.column_names)
    unknown = [c for c in wanted if c not in ds.column_names]
    if unknown:
        msg = f"{name} has no column(s) {unknown}"
        raise StoreError(msg)
    select = [_ident(c) for c in wanted]
    if ds.geometry is not None:
        select.append("ST_AsWKB(geometry) AS wkb")
    sql = f"SELECT {', '.join(select)} FROM {_ident(ds.name)} ORDER BY {_ident(ds.key)}"
    frame = _read_frame(cur, sql)
    if ds.geometry is None:
        return frame
    wkb = frame.pop("wkb")
    geometry = shapely.from_wkb([bytes(b) if b is not None else None for b in wkb])
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=CRS)


def read_datasets(cur: Connection, names: Sequence[str] = tuple(DATASETS)) -> dict[str, pd.DataFrame]:
    """Every row of each dataset of ``names`` (:func:`read_dataset`), by name."""
    return {name: read_dataset(cur, name) for name in names}


def _count(cur: Connection, table: str) -> int:
    row = cur.execute(f"SELECT count(*) FROM {_ident(table)}").fetchone()
    return int(row[0]) if row else 0


def count_rows(cur: Connection, name: str) -> int:
    """How many rows dataset ``name`` holds."""
    return _count(cur, dataset(name).name)


def stored_keys(cur: Connection, name: str) -> set[str]:
    """The keys (ids, or codes of territories) of every stored row of dataset ``name``, as text."""
    ds = dataset(name)
    rows = cur.execute(f"SELECT {_ident(ds.key)} FROM {_ident(ds.name)}").fetchall()
    return {str(r[0]) for r in rows}


def _count_keys_in(cur: Connection, ds: Dataset, view: str) -> int:
    row = cur.execute(
        f"SELECT count(*) FROM {_ident(ds.name)} WHERE {_ident(ds.key)} IN (SELECT k FROM {view})"
    ).fetchone()
    return int(row[0]) if row else 0


def count_stored_keys(cur: Connection, name: str, keys: Sequence[str]) -> int:
    """How many stored rows of dataset ``name`` have their key in ``keys``."""
    ds = dataset(name)
    with _staged(cur, "_counted_keys", _keys_frame(keys)) as view:
        return _count_keys_in(cur, ds, view)


def counts(cur: Connection) -> dict[str, int]:
    """Rows per dataset and the number of imports, in the order the CLI prints them."""
    return {name: _count(cur, name) for name in ("territories", "places", "actors", "relations", "schemes", "imports")}


def is_empty(cur: Connection) -> bool:
    """True when no dataset holds a row: the first run of a new database."""
    c = counts(cur)
    return all(c[name] == 0 for name in DATASETS)


def list_imports(cur: Connection) -> pd.DataFrame:
    """The audit trail, newest first."""
    return cur.execute("SELECT * FROM imports ORDER BY id DESC").fetchdf()

"""Snapshots, backups and restore of the database file.

A snapshot is a complete copy of the database taken through the open connection (so it works while
the dashboard runs), under the write lock so no commit lands half in it. One is taken before every
destructive operation (replace, undo, restore); explicit backups need the admin role.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from carto import auth, store
from carto.errors import InputError, StoreError

KEEP_SNAPSHOTS = 10


def snapshot_dir(db_path: Path) -> Path:
    """Where automatic snapshots of ``db_path`` go: a ``snapshots/`` folder beside it."""
    return Path(db_path).parent / "snapshots"


def _database_file(conn: store.Connection) -> Path | None:
    row = conn.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return Path(row[0]) if row and row[0] else None


def copy_database(conn: store.Connection, target: Path) -> Path:
    """Write a complete, consistent copy of the connected database to the new file ``target``."""
    target = Path(target)
    if target.exists():
        msg = f"{target} already exists; choose a new file name"
        raise InputError(msg)
    if not target.parent.is_dir():
        msg = f"the folder {target.parent} does not exist"
        raise InputError(msg)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with store.WRITE_LOCK:
        cur = conn.cursor()
        source = cur.execute("SELECT current_database()").fetchone()
        assert source is not None
        # The path is ours (a snapshot name or a CLI argument checked above), quoted as a literal.
        literal = str(partial).replace("'", "''")
        cur.execute(f"ATTACH '{literal}' AS carto_copy")
        try:
            cur.execute(f'COPY FROM DATABASE "{source[0]}" TO carto_copy')
        finally:
            cur.execute("DETACH carto_copy")
            cur.close()
    # Only a finished copy gets the final name: a crash leaves at most a .partial file.
    os.replace(partial, target)
    return target


def snapshot(conn: store.Connection, reason: str, *, keep: int = KEEP_SNAPSHOTS) -> Path | None:
    """Copy the database before a destructive operation; keep the newest ``keep`` snapshots.

    Returns the snapshot's path, or None for an in-memory database (nothing to protect on disk).
    """
    db_path = _database_file(conn)
    if db_path is None:
        return None
    folder = snapshot_dir(db_path)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    tag = re.sub(r"[^a-z0-9-]+", "-", reason.lower()).strip("-") or "snapshot"
    path = copy_database(conn, folder / f"{db_path.stem}-{stamp}-{tag}.duckdb")
    for old in list_snapshots(db_path)[keep:]:
        old.unlink(missing_ok=True)
    return path


def list_snapshots(db_path: Path) -> list[Path]:
    """Snapshots of ``db_path``, newest first."""
    folder = snapshot_dir(db_path)
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"{Path(db_path).stem}-*.duckdb"), reverse=True)


def backup(conn: store.Connection, target: Path | None, user: auth.User) -> Path | None:
    """An explicit backup (admins only) to the new file ``target``, or a snapshot when None."""
    auth.require(user, "backup")
    if target is None:
        return snapshot(conn, f"backup by {user.name}")
    return copy_database(conn, target)


def _check_backup(path: Path) -> int:
    """Open ``path`` read-only and return its schema version; refuse what is not our database."""
    if not path.is_file():
        msg = f"{path} is not a file"
        raise InputError(msg)
    try:
        probe = duckdb.connect(str(path), read_only=True, config={"autoinstall_known_extensions": False})
    except duckdb.Error as exc:
        msg = f"{path} is not a DuckDB database: {exc}"
        raise InputError(msg) from exc
    try:
        probe.execute(f"LOAD '{store.spatial_extension_path()}'")
        version = store.schema_version(probe)
        tables = {r[0] for r in probe.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        probe.close()
    missing = {"territories", "places", "actors", "relations", "schemes", "imports"} - tables
    if version == 0 or missing:
        msg = f"{path} is not a backup of this dashboard (missing: {', '.join(sorted(missing)) or 'schema version'})"
        raise InputError(msg)
    if version > store.SCHEMA_VERSION:
        msg = f"{path} was written by a newer program (schema {version}); update the program first"
        raise InputError(msg)
    return version


def restore(db_path: Path, source: Path, user: auth.User) -> Path | None:
    """Replace the database file by the backup ``source`` (admins only); return the safety snapshot.

    The dashboard must be stopped: the database is opened exclusively, which fails with a clear
    message while another process holds it. The current content is snapshotted first, the backup
    is migrated to the current schema, and the swap is one atomic rename.
    """
    auth.require(user, "backup")
    db_path, source = Path(db_path), Path(source)
    _check_backup(source)
    safety: Path | None = None
    if db_path.exists():
        conn = store.connect(db_path)  # raises StoreError while the dashboard holds the file
        try:
            safety = snapshot(conn, "before-restore")
        finally:
            conn.close()  # checkpoints: no write-ahead log is left to replay onto the new file
    staged = db_path.with_name(db_path.name + ".restoring")
    staged.unlink(missing_ok=True)
    shutil.copyfile(source, staged)
    try:
        store.connect(staged).close()  # bring an older backup's schema up to date
    except StoreError:
        staged.unlink(missing_ok=True)
        raise
    os.replace(staged, db_path)
    return safety

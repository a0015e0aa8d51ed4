"""Snapshots, backups and restore of the database file.

A copy is taken through the open connection (so it works while the dashboard runs), under the write
lock so no commit lands half in it. Two kinds of copies, each in its own folder per database file:

- **snapshots** (:func:`snapshot`), in ``snapshots/<file name>/`` beside the database, before every
  operation that is about to change data wholesale (replace, undo, restore); the newest
  :data:`KEEP_SNAPSHOTS` are kept, and always the newest of each reason;
- **backups** (:func:`backup`, admins only), in ``backups/<file name>/``: taken from the admin page,
  or by the dashboard every ``$CARTO_BACKUP_EVERY_H`` hours (:func:`start_scheduled_backups`); the
  newest ``$CARTO_BACKUP_KEEP`` (default :data:`KEEP_BACKUPS`) are kept. The command line writes a
  backup to any file while the dashboard is stopped.

File names are parsed strictly (:func:`parse_copy_name`): a file whose name does not match is never
listed nor deleted.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from carto import auth, store
from carto.errors import InputError, StoreError
from carto.store import postgis

KEEP_SNAPSHOTS = 10
KEEP_BACKUPS = 14
BACKUP_KIND = "backup"
SCHEDULER_CHECK_S = 60.0

_STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
# <stamp>-<kind>.duckdb: the stamp has a fixed width, the kind only lower-case words joined by "-".
_COPY_NAME = re.compile(r"(?P<stamp>\d{8}T\d{12}Z)-(?P<kind>[a-z0-9]+(?:-[a-z0-9]+)*)\.(?:duckdb|dump)")
DUCKDB_SUFFIX = ".duckdb"

log = logging.getLogger(__name__)

# Re-exported: the folders are the store's, because the hardened connection may write only there.
snapshot_dir = store.snapshot_dir
backup_dir = store.backup_dir


@dataclass(frozen=True)
class CopyName:
    """What a snapshot's or backup's file name says: when it was taken, and why (its kind)."""

    taken_at: datetime
    kind: str


def copy_name(taken_at: datetime, reason: str, suffix: str = DUCKDB_SUFFIX) -> str:
    """The file name of a copy taken at ``taken_at`` (UTC) for ``reason``: ``<stamp>-<kind>.duckdb``
    (``.dump`` for a PostgreSQL database: ``pg_dump``'s custom format)."""
    kind = re.sub(r"[^a-z0-9]+", "-", reason.lower()).strip("-") or "snapshot"
    return f"{taken_at.astimezone(UTC).strftime(_STAMP_FORMAT)}-{kind}{suffix}"


def parse_copy_name(name: str) -> CopyName | None:
    """The stamp and kind of a copy's file name, or None when ``name`` is not exactly one of ours."""
    found = _COPY_NAME.fullmatch(name)
    if found is None:
        return None
    try:
        taken_at = datetime.strptime(found["stamp"], _STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return CopyName(taken_at=taken_at, kind=found["kind"])


def expired_copies(names: Iterable[str], keep: int) -> list[str]:
    """The names to delete so that the newest ``keep`` copies remain, and the newest of each kind.

    Names that are not copies of ours (:func:`parse_copy_name`) are never returned.
    """
    parsed = [(name, meta) for name in names if (meta := parse_copy_name(name)) is not None]
    parsed.sort(key=lambda item: (item[1].taken_at, item[0]), reverse=True)
    kept = {name for name, _ in parsed[: max(keep, 1)]}
    seen_kinds: set[str] = set()
    for name, meta in parsed:
        if meta.kind not in seen_kinds:
            seen_kinds.add(meta.kind)
            kept.add(name)
    return [name for name, _ in parsed if name not in kept]


def _copies_in(folder: Path) -> list[Path]:
    """The copies in ``folder``, newest first."""
    if not folder.is_dir():
        return []
    found = [(meta.taken_at, p) for p in folder.iterdir() if p.is_file() and (meta := parse_copy_name(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def _rotate(folder: Path, keep: int) -> None:
    for name in expired_copies((p.name for p in folder.iterdir() if p.is_file()), keep):
        (folder / name).unlink(missing_ok=True)


def _absolute(db: str | Path) -> str | Path:
    return db if postgis.is_url(db) else Path(db).absolute()


def list_snapshots(db_path: str | Path) -> list[Path]:
    """Snapshots of the database (a file or a PostgreSQL URL; of no other database), newest first."""
    return _copies_in(store.snapshot_dir(_absolute(db_path)))


def list_backups(db_path: str | Path) -> list[Path]:
    """Backups of the database in its backup folder, newest first."""
    return _copies_in(store.backup_dir(_absolute(db_path)))


def _remove_partial(partial: Path) -> None:
    for leftover in (partial, partial.with_name(partial.name + ".wal")):
        leftover.unlink(missing_ok=True)


def copy_database(conn: store.Connection, target: Path) -> Path:
    """Write a complete, consistent copy of the connected database to the new file ``target``.

    ``target`` must be in a folder the connection may write (:func:`carto.store.connect`). On any
    failure (a full disk) nothing is left behind but the database as it was.
    """
    target = Path(target)
    if target.exists():
        msg = f"{target} already exists; choose a new file name"
        raise InputError(msg)
    if not target.parent.is_dir():
        msg = f"the folder {target.parent} does not exist"
        raise InputError(msg)
    partial = target.with_name(target.name + ".partial")
    if isinstance(conn, postgis.PgCursor):
        return _dump_into(conn.url, partial, target)
    with store.WRITE_LOCK:
        _remove_partial(partial)
        cur = conn.cursor()
        try:
            _copy_into(cur, partial)
            # Only a finished copy gets the final name: a crash leaves at most a .partial file.
            os.replace(partial, target)
        except (duckdb.Error, OSError) as exc:
            _remove_partial(partial)
            if store.is_disk_full(exc):
                raise store.disk_full_error(exc, partial) from exc
            if isinstance(exc, duckdb.PermissionException):
                msg = (
                    f"this connection may not write into {target.parent}: copies go into the database's "
                    "backups/ or snapshots/ folder (the command line also writes where --out says)"
                )
                raise StoreError(msg) from exc
            msg = f"cannot write the copy {target}: {exc}"
            raise StoreError(msg) from exc
        finally:
            cur.close()
    return target


def _dump_into(url: str, partial: Path, target: Path) -> Path:
    """PostgreSQL: ``pg_dump`` to ``partial``, renamed ``target`` once whole (it needs no write lock)."""
    _remove_partial(partial)
    try:
        postgis.dump(url, partial)
        os.replace(partial, target)
    except (StoreError, OSError) as exc:
        _remove_partial(partial)
        if store.is_disk_full(exc):
            raise store.disk_full_error(exc, partial) from exc
        raise
    return target


def _copy_into(cur: store.Connection, partial: Path) -> None:
    source = cur.execute("SELECT current_database()").fetchone()
    assert source is not None
    # The path is ours (a snapshot name or a CLI argument checked above), quoted as a literal.
    literal = str(partial).replace("'", "''")
    cur.execute(f"ATTACH '{literal}' AS carto_copy")
    name = str(source[0]).replace('"', '""')  # the database's name comes from its file name
    try:
        cur.execute(f'COPY FROM DATABASE "{name}" TO carto_copy')
    finally:
        # A failed COPY leaves the cursor's transaction aborted: end it, or DETACH is refused
        # and the half-written copy stays attached (and open) for the life of the process.
        with suppress(duckdb.Error):
            cur.execute("ROLLBACK")
        cur.execute("DETACH carto_copy")


def snapshot(conn: store.Connection, reason: str, *, keep: int = KEEP_SNAPSHOTS) -> Path | None:
    """Copy the database before an operation that will change it; rotate the snapshots.

    The newest ``keep`` snapshots of this database stay, and the newest of each reason. Returns the
    snapshot's path, or None for an in-memory database (nothing to protect on disk).
    """
    return _rotated_copy(conn, store.snapshot_dir, reason, keep)


def _rotated_copy(
    conn: store.Connection, folder_of: Callable[[str | Path], Path], kind: str, keep: int
) -> Path | None:
    """A copy of the database, named for ``kind``, in its folder (``folder_of`` the database file),
    then the folder rotated to ``keep``; None for an in-memory database."""
    db = store.database_target(conn)
    if db is None:
        return None
    folder = folder_of(db)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = postgis.DUMP_SUFFIX if postgis.is_url(db) else DUCKDB_SUFFIX
    with store.WRITE_LOCK:
        path = copy_database(conn, folder / copy_name(datetime.now(UTC), kind, suffix))
        _rotate(folder, keep)
    return path


def keep_backups(environ: Mapping[str, str] | None = None) -> int:
    """How many backups the backup folder keeps: ``$CARTO_BACKUP_KEEP``, else :data:`KEEP_BACKUPS`."""
    raw = (os.environ if environ is None else environ).get("CARTO_BACKUP_KEEP", "").strip()
    if not raw:
        return KEEP_BACKUPS
    if not raw.isdigit() or int(raw) < 1:
        msg = f"CARTO_BACKUP_KEEP must be a whole number of backups, 1 or more, not {raw!r}"
        raise InputError(msg)
    return int(raw)


def backup(conn: store.Connection, target: Path | None, user: auth.User) -> Path | None:
    """A backup (admins only) to the new file ``target``, or into the backup folder when None.

    Works while the dashboard runs, through its own connection. Returns None for an in-memory
    database asked for a backup into its (non-existent) folder.
    """
    auth.require(user, "backup")
    if target is not None:
        return copy_database(conn, target)
    return _rotated_copy(conn, store.backup_dir, BACKUP_KIND, keep_backups())


def download_name(db_path: str | Path, backup_path: Path) -> str:
    """The file name offered when a backup is downloaded: ``<database stem>-<backup name>``."""
    stem = postgis.database_name(str(db_path)) if postgis.is_url(db_path) else Path(db_path).stem
    return f"{stem}-{Path(backup_path).name}"


# --- scheduled backups -----------------------------------------------------------------------


def backup_interval(environ: Mapping[str, str] | None = None) -> timedelta | None:
    """``$CARTO_BACKUP_EVERY_H`` (hours, may be decimal) as an interval; None when unset."""
    raw = (os.environ if environ is None else environ).get("CARTO_BACKUP_EVERY_H", "").strip()
    if not raw:
        return None
    try:
        hours = float(raw)
    except ValueError:
        hours = float("nan")
    if not hours > 0 or hours == float("inf"):
        msg = f"CARTO_BACKUP_EVERY_H must be a number of hours above 0 (e.g. 24), not {raw!r}"
        raise InputError(msg)
    return timedelta(hours=hours)


def backup_due(newest: datetime | None, now: datetime, every: timedelta) -> bool:
    """True when a scheduled backup should be taken: none yet, or the newest is ``every`` old."""
    return newest is None or now - newest >= every


def newest_backup_time(db_path: str | Path) -> datetime | None:
    """When the newest backup of ``db_path`` was taken (from its name), or None."""
    found = list_backups(db_path)
    meta = parse_copy_name(found[0].name) if found else None
    return meta.taken_at if meta else None


def scheduled_backup(conn: store.Connection, every: timedelta, *, now: datetime | None = None) -> Path | None:
    """Take a backup when one is due (:func:`backup_due`); return it, or None when none was due."""
    db_path = store.database_target(conn)
    if db_path is None:
        return None
    if not backup_due(newest_backup_time(db_path), now or datetime.now(UTC), every):
        return None
    return backup(conn, None, auth.SYSTEM)


_SCHEDULERS: dict[str, threading.Thread] = {}
_SCHEDULERS_LOCK = threading.Lock()


def start_scheduled_backups(
    conn: store.Connection,
    every: timedelta | None = None,
    *,
    check_every_s: float = SCHEDULER_CHECK_S,
    stop: threading.Event | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> threading.Thread | None:
    """Start, once per process and database, the thread taking the dashboard's scheduled backups.

    ``every`` defaults to ``$CARTO_BACKUP_EVERY_H``; nothing starts when it is unset or wrong (the
    admin page says why) or for an in-memory database. The thread checks every ``check_every_s``
    seconds whether a backup is due, so a restarted dashboard does not take one before the interval
    has passed since the last. Errors are logged (``on_error``), and the next check tries again.
    """
    if every is None:
        try:
            every = backup_interval()
        except InputError as exc:
            log.error("%s", exc)
            return None
    db_path = store.database_target(conn)
    if every is None or db_path is None:
        return None
    report = on_error or (lambda exc: log.error("scheduled backup of %s failed: %s", db_path, exc))
    halt = stop or threading.Event()

    def run() -> None:
        while True:
            try:
                scheduled_backup(conn, every)
            except Exception as exc:  # the next check tries again; the dashboard keeps running
                report(exc)
            if halt.wait(check_every_s):
                return

    with _SCHEDULERS_LOCK:
        running = _SCHEDULERS.get(str(db_path))
        if running is not None and running.is_alive():
            return running
        thread = threading.Thread(target=run, name="carto-backup", daemon=True)
        _SCHEDULERS[str(db_path)] = thread
        thread.start()
    return thread


# --- restore ---------------------------------------------------------------------------------


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
        store.harden(probe)
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


def restore(db_path: str | Path, source: Path, user: auth.User) -> Path | None:
    """Replace the database file by the backup ``source`` (admins only); return the safety snapshot.

    The dashboard must be stopped: the database is opened exclusively, which fails with a clear
    message while another process holds it. The current content is snapshotted first, the backup
    is migrated to the current schema, and the swap is one atomic rename.
    """
    auth.require(user, "backup")
    if postgis.is_url(db_path):
        return _restore_postgres(str(db_path), Path(source))
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
    try:
        shutil.copyfile(source, staged)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        if store.is_disk_full(exc):
            raise store.disk_full_error(exc, staged) from exc
        raise
    try:
        store.connect(staged).close()  # bring an older backup's schema up to date
    except StoreError:
        staged.unlink(missing_ok=True)
        raise
    os.replace(staged, db_path)
    return safety


def _restore_postgres(url: str, source: Path) -> Path | None:
    """:func:`restore` for PostgreSQL: check the dump, snapshot, restore in one transaction, migrate.

    Other processes may keep running: the data version is moved past both the old and the restored
    one, so that no cache of any process mistakes the restored data for what it read before.
    """
    if not source.is_file():
        msg = f"{source} is not a file"
        raise InputError(msg)
    contents = postgis.dump_contents(source)
    missing = {"territories", "places", "actors", "relations", "schemes", "imports", "schema_version"}
    missing -= postgis.dumped_tables(contents)
    if missing:
        msg = f"{source} is not a backup of this dashboard (missing: {', '.join(sorted(missing))})"
        raise InputError(msg)
    version = postgis.dumped_schema_version(source)
    if version > store.SCHEMA_VERSION:
        msg = f"{source} was written by a newer program (schema {version}); update the program first"
        raise InputError(msg)
    conn = store.connect(url)
    try:
        safety = snapshot(conn, "before-restore")
        before = store.data_version(conn)
        postgis.restore_dump(url, source, contents)
        store.migrate(conn)  # bring an older backup's schema up to date
        with store.transaction(conn) as cur:  # bumps the version once more
            cur.execute("UPDATE data_version SET version = version + ?", [before + 1])
    finally:
        conn.close()
    return safety

"""What undoing an import needs from the database: its outcome, its state and its snapshot tables.

Before an import changes anything, :func:`take_snapshots` copies every table it may change into a
snapshot table listed in ``import_snapshots`` (migration 2); :func:`restore_snapshots` puts those rows
back. The audit row itself is written by :func:`carto.store.record_import`. The rules (which import
may be undone, by whom, what to tell the user) live in :mod:`carto.ingest.commit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from carto.model import DATASETS, Dataset
from carto.store import Connection, _ident

_IMPORT_FIELDS = ("id", "dataset", "file_name", "imported_at", "username")
_STATE_FIELDS = ("dataset", "file_name", "status", "undone_by")


def _snapshot_name(import_id: int, name: str) -> str:
    # Built from an integer and a dataset name of the model: never user text.
    return f"_snapshot_{int(import_id)}_{DATASETS[name].name}"


def _snapshot_table(import_id: int, name: str) -> str:
    return _ident(_snapshot_name(import_id, name))


def _stored_columns(ds: Dataset) -> str:
    names = [_ident(c) for c in ds.column_names]
    if ds.geometry is not None:
        names.append("geometry")
    return ", ".join(names)


def record_import_counts(
    cur: Connection, import_id: int, *, inserted: int, updated: int, deleted: int, skipped: int
) -> None:
    """Write what import ``import_id`` did into its audit row, once its rows are stored."""
    cur.execute(
        "UPDATE imports SET rows_inserted = ?, rows_updated = ?, rows_deleted = ?, rows_skipped = ? WHERE id = ?",
        [inserted, updated, deleted, skipped, import_id],
    )


def take_snapshots(cur: Connection, import_id: int, names: Sequence[str]) -> None:
    """Copy every row of the datasets ``names`` as they are before import ``import_id``."""
    for name in names:
        table = _snapshot_table(import_id, name)
        cur.execute(f"CREATE TABLE {table} AS SELECT {_stored_columns(DATASETS[name])} FROM {_ident(name)}")
        row = cur.execute(f"SELECT count(*) FROM {table}").fetchone()
        cur.execute(
            "INSERT INTO import_snapshots VALUES (?, ?, ?, ?)",
            [import_id, name, _snapshot_name(import_id, name), row[0] if row else 0],
        )


def prune_snapshots(cur: Connection, keep: int) -> None:
    """Drop the snapshots of every import but the ``keep`` newest that have one."""
    kept = [
        r[0]
        for r in cur.execute(
            "SELECT DISTINCT import_id FROM import_snapshots ORDER BY import_id DESC LIMIT ?",
            [keep],
        ).fetchall()
    ]
    old = cur.execute(
        "SELECT import_id, snapshot_table FROM import_snapshots WHERE NOT list_contains(?, import_id)",
        [kept],
    ).fetchall()
    for import_id, _table in old:
        for name in DATASETS:
            cur.execute(f"DROP TABLE IF EXISTS {_snapshot_table(import_id, name)}")
    cur.execute("DELETE FROM import_snapshots WHERE NOT list_contains(?, import_id)", [kept])


def snapshot_datasets(cur: Connection, import_id: int) -> list[str]:
    """The datasets whose rows before import ``import_id`` are kept (none once pruned or undone)."""
    rows = cur.execute("SELECT dataset FROM import_snapshots WHERE import_id = ?", [import_id]).fetchall()
    return [r[0] for r in rows]


def restore_snapshots(cur: Connection, import_id: int, names: Sequence[str]) -> None:
    """Put back the rows of ``names`` as they were before import ``import_id``, and drop its snapshots."""
    for name in names:
        ds = DATASETS[name]
        table = _snapshot_table(import_id, name)
        cols = _stored_columns(ds)
        cur.execute(f"DELETE FROM {_ident(ds.name)}")
        cur.execute(f"INSERT INTO {_ident(ds.name)} ({cols}) SELECT {cols} FROM {table}")
        cur.execute(f"DROP TABLE {table}")
    cur.execute("DELETE FROM import_snapshots WHERE import_id = ?", [import_id])


def mark_undone(cur: Connection, import_id: int, username: str) -> None:
    """Record in the audit trail that ``username`` undid import ``import_id`` now."""
    cur.execute(
        "UPDATE imports SET status = 'undone', undone_at = now()::TIMESTAMP, undone_by = ? WHERE id = ?",
        [username, import_id],
    )


def import_state(cur: Connection, import_id: int) -> dict[str, Any] | None:
    """Dataset, file_name, status and undone_by of import ``import_id``, or None when there is none."""
    row = cur.execute("SELECT dataset, file_name, status, undone_by FROM imports WHERE id = ?", [import_id]).fetchone()
    return None if row is None else dict(zip(_STATE_FIELDS, row, strict=True))


def last_import(cur: Connection) -> dict[str, Any] | None:
    """The newest committed import (id, dataset, file_name, imported_at, username), or None."""
    row = cur.execute(
        "SELECT id, dataset, file_name, imported_at, username FROM imports WHERE status = 'committed' "
        "ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else dict(zip(_IMPORT_FIELDS, row, strict=True))


def undoable_import(cur: Connection) -> dict[str, Any] | None:
    """The newest committed import if it can be undone (its snapshot is kept), else None."""
    last = last_import(cur)
    if last is None or not snapshot_datasets(cur, last["id"]):
        return None
    return last

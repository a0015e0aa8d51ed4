"""Store a validated frame in one transaction, record it, and undo the last import exactly.

Before changing anything, :func:`commit` copies every table the import may change (the target, and
actors and places whose ``territory_code`` a spatial join recomputes) into snapshot tables listed in
``import_snapshots`` (migration 2). :func:`undo_import` puts those rows back, so the state before
the import returns exactly, ``territory_code`` included. Only the newest committed import can be
undone, and only by naming it: what a person confirmed is what is undone, or nothing (another
import may have landed since). The snapshots of the :data:`SNAPSHOTS_KEPT` newest imports are kept,
older ones dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
import shapely

from carto import auth, store
from carto.errors import InputError, ValidationError
from carto.ingest.validate import Report
from carto.model import DATASETS, IMPORT_MODES, Dataset
from carto.store import backup

SNAPSHOTS_KEPT = 5

# Tables whose rows an import into a dataset may change: new territories move actors and places.
AFFECTED = {
    "territories": ("territories", "actors", "places"),
    "actors": ("actors",),
    "places": ("places",),
    "schemes": ("schemes",),
    "relations": ("relations",),
}
# Datasets whose rows get their territory_code from the stored territories.
LOCATED = ("actors", "places")

Progress = Callable[[float, str], None]


class ImportRefused(ValidationError):
    """The file has errors and the user did not ask to skip invalid rows; ``report`` says which."""

    def __init__(self, message: str, report: Report) -> None:
        super().__init__(message, [p.message for p in report.problems])
        self.report = report


@dataclass(frozen=True)
class ImportResult:
    """What an import did (or, for a dry run, would do)."""

    import_id: int | None
    dataset: str
    mode: str
    rows_read: int
    inserted: int
    updated: int
    deleted: int
    skipped: int
    report: Report
    dry_run: bool = False

    def summary(self) -> str:
        """One paragraph for the CLI and the page."""
        what = "would import" if self.dry_run else f"import #{self.import_id}"
        text = (
            f"{self.dataset}: {what} ({self.mode}): {self.rows_read} rows read, {self.inserted} inserted, "
            f"{self.updated} updated, {self.deleted} deleted, {self.skipped} skipped as invalid; "
            f"{self.report.warnings} warnings"
        )
        if self.report.generated_ids:
            text += f"; {self.report.generated_ids} ids generated"
        return text + ("; nothing stored (dry run)." if self.dry_run else ".")


def _acting(user: auth.User, action: str) -> str:
    """The name to record, once the acting user's role is checked for ``action``."""
    if not isinstance(user, auth.User):
        msg = "the acting user must be a carto.auth.User, so that the role is checked"
        raise TypeError(msg)
    auth.require(user, action)
    return user.name


def _dataset(value: Dataset | str) -> Dataset:
    return value if isinstance(value, Dataset) else DATASETS[value]


def rows_to_store(frame: pd.DataFrame, report: Report, *, skip_invalid: bool) -> pd.DataFrame:
    """The rows an import stores, or :class:`ImportRefused` when errors forbid it."""
    if not report.ok and not skip_invalid:
        msg = (
            f"{report.dataset}: {report.errors} errors in {report.rows - report.valid_rows} rows, nothing "
            "stored; fix the file, or import only the valid rows (--skip-invalid)"
        )
        raise ImportRefused(msg, report)
    rows = frame[report.valid_mask.to_numpy()] if skip_invalid else frame
    if len(rows) == 0:
        msg = f"{report.dataset}: no valid row to import, nothing stored"
        raise ImportRefused(msg, report)
    return rows


def _snapshot_table(import_id: int, name: str) -> str:
    # Built from an integer and a dataset name of the model: never user text.
    return f"_snapshot_{int(import_id)}_{DATASETS[name].name}"


def _stored_columns(ds: Dataset) -> str:
    names = [f'"{c}"' for c in ds.column_names]
    if ds.geometry is not None:
        names.append("geometry")
    return ", ".join(names)


def _take_snapshots(cur: store.Connection, import_id: int, names: tuple[str, ...]) -> None:
    for name in names:
        table = _snapshot_table(import_id, name)
        cur.execute(f"CREATE TABLE {table} AS SELECT {_stored_columns(DATASETS[name])} FROM {name}")
        row = cur.execute(f"SELECT count(*) FROM {table}").fetchone()
        cur.execute("INSERT INTO import_snapshots VALUES (?, ?, ?, ?)", [import_id, name, table, row[0] if row else 0])


def _prune_snapshots(cur: store.Connection) -> None:
    kept = [
        r[0]
        for r in cur.execute(
            "SELECT DISTINCT import_id FROM import_snapshots ORDER BY import_id DESC LIMIT ?",
            [SNAPSHOTS_KEPT],
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


def territory_codes(cur: store.Connection, ds: Dataset, rows: pd.DataFrame) -> pd.Series:
    """The finest stored territory containing each row, as :func:`carto.store.assign_territories` decides.

    Smallest area among the territories containing the point (a polygon counts by a point on its
    surface); ``None`` outside every territory. Indexed like ``rows``.
    """
    keys = rows[ds.key].astype(object)
    staged = pd.DataFrame(
        {"k": keys.to_numpy(), "wkb": pd.Series(list(shapely.to_wkb(rows.geometry.to_numpy())), dtype=object)}
    )
    cur.register("_located_rows", staged)
    try:
        found = cur.execute(
            """
            WITH p AS (SELECT k, ST_PointOnSurface(ST_GeomFromWKB(wkb)) AS g FROM _located_rows),
                 t AS (SELECT code, geometry, ST_Area(geometry) AS area FROM territories)
            SELECT p.k, arg_min(t.code, t.area) FROM p JOIN t ON ST_Contains(t.geometry, p.g) GROUP BY p.k
            """
        ).fetchall()
    finally:
        cur.unregister("_located_rows")
    codes = dict(found)
    return pd.Series([codes.get(k) for k in keys], index=rows.index, dtype=object)


def _delete_keys(cur: store.Connection, ds: Dataset, keys: list[str]) -> int:
    staged = pd.DataFrame({"k": pd.Series(keys, dtype="object")})
    cur.register("_upsert_keys", staged)
    try:
        row = cur.execute(f'SELECT count(*) FROM {ds.name} WHERE "{ds.key}" IN (SELECT k FROM _upsert_keys)').fetchone()
        cur.execute(f'DELETE FROM {ds.name} WHERE "{ds.key}" IN (SELECT k FROM _upsert_keys)')
    finally:
        cur.unregister("_upsert_keys")
    return int(row[0]) if row else 0


def commit(
    conn: store.Connection,
    dataset: Dataset | str,
    frame: pd.DataFrame,
    *,
    mode: str,
    user: auth.User,
    file_name: str | None,
    sha256: str | None,
    skip_invalid: bool,
    report: Report,
    progress: Progress | None = None,
) -> ImportResult:
    """Store ``frame`` (normally ``report.frame``) in one transaction, all or nothing.

    ``append`` inserts (a stored id is an error), ``replace`` deletes every row first, ``upsert``
    replaces the rows whose key is stored and inserts the others. Refuses with
    :class:`ImportRefused` when the report has errors, unless ``skip_invalid``. ``user`` must hold
    a role that allows importing; a replace first snapshots the database file
    (:func:`carto.store.backup.snapshot`).
    """
    ds = _dataset(dataset)
    username = _acting(user, "import")
    if mode not in IMPORT_MODES:
        msg = f"unknown import mode {mode!r}; expected one of: {', '.join(IMPORT_MODES)}"
        raise InputError(msg)
    tell = progress or (lambda _fraction, _step: None)
    rows = rows_to_store(frame, report, skip_invalid=skip_invalid)
    # One lock around the file snapshot and the transaction: no other write of this process lands
    # between the copy and the change it protects.
    with store.WRITE_LOCK:
        if mode == "replace":
            # A copy of the whole file, beside the in-database undo copies: a replace gone wrong can
            # also be rolled back by an administrator with `python -m carto restore`.
            backup.snapshot(conn, f"before replace of {ds.name}")
        import_id, inserted, updated, deleted = _write(
            conn, ds, rows, mode=mode, username=username, file_name=file_name, sha256=sha256, report=report, tell=tell
        )
    tell(1.0, "done")
    return ImportResult(
        import_id=import_id,
        dataset=ds.name,
        mode=mode,
        rows_read=report.rows,
        inserted=inserted,
        updated=updated,
        deleted=deleted,
        skipped=report.rows - len(rows),
        report=report,
    )


def _write(
    conn: store.Connection,
    ds: Dataset,
    rows: pd.DataFrame,
    *,
    mode: str,
    username: str,
    file_name: str | None,
    sha256: str | None,
    report: Report,
    tell: Progress,
) -> tuple[int, int, int, int]:
    """The transaction of :func:`commit`: return the import's id, rows inserted, updated, deleted."""
    updated = deleted = 0
    try:
        with store.transaction(conn) as cur:
            import_id = store.record_import(
                cur,
                username=username,
                dataset_name=ds.name,
                file_name=file_name,
                sha256=sha256,
                mode=mode,
                rows_read=report.rows,
                rows_inserted=0,
            )
            tell(0.1, "snapshot")
            _take_snapshots(cur, import_id, AFFECTED[ds.name])
            tell(0.3, "write")
            if mode == "replace":
                deleted = store.delete_all(cur, ds.name)
            elif mode == "upsert":
                updated = _delete_keys(cur, ds, rows[ds.key].astype(str).tolist())
            if ds.name in LOCATED:
                # Territories do not change: only the incoming rows need theirs, found before the insert
                # (updating freshly inserted rows is several times slower in DuckDB).
                tell(0.4, "assign")
                rows = rows.assign(territory_code=territory_codes(cur, ds, rows))
            tell(0.5, "write")
            inserted = store.insert_rows(cur, ds.name, rows) - updated
            if ds.name == "territories":
                tell(0.7, "assign")
                store.assign_territories(cur)
            cur.execute(
                "UPDATE imports SET rows_inserted = ?, rows_updated = ?, rows_deleted = ?, rows_skipped = ? "
                "WHERE id = ?",
                [inserted, updated, deleted, report.rows - len(rows), import_id],
            )
            _prune_snapshots(cur)
            tell(0.9, "commit")
    except duckdb.ConstraintException as exc:
        msg = f"{ds.name}: the database refused the rows ({exc}); nothing stored"
        raise InputError(msg) from exc
    return import_id, inserted, updated, deleted


_IMPORT_FIELDS = ("id", "dataset", "file_name", "imported_at", "username")


def last_import(cur: store.Connection) -> dict[str, Any] | None:
    """The newest committed import (id, dataset, file_name, imported_at, username), or None."""
    row = cur.execute(
        "SELECT id, dataset, file_name, imported_at, username FROM imports WHERE status = 'committed' "
        "ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else dict(zip(_IMPORT_FIELDS, row, strict=True))


def undoable_import(cur: store.Connection) -> dict[str, Any] | None:
    """The newest committed import if it can be undone (its snapshot is kept), else None."""
    last = last_import(cur)
    if last is None:
        return None
    has = cur.execute("SELECT count(*) FROM import_snapshots WHERE import_id = ?", [last["id"]]).fetchone()
    if not has or has[0] == 0:
        return None
    return last


def _check_undoable(cur: store.Connection, import_id: int) -> list[str]:
    """The datasets whose rows undoing ``import_id`` puts back, or why it cannot be undone."""
    row = cur.execute("SELECT dataset, file_name, status, undone_by FROM imports WHERE id = ?", [import_id]).fetchone()
    if row is None:
        msg = f"there is no import #{import_id}; nothing was undone"
        raise InputError(msg)
    name, file_name, status, undone_by = row
    if status == "undone":
        msg = f"import #{import_id} was already undone by {undone_by}; nothing was undone"
        raise InputError(msg)
    last = last_import(cur)
    if last is not None and last["id"] != import_id:
        msg = (
            f"import #{import_id} is no longer the last one: import #{last['id']} ({last['dataset']}, "
            f"{last['file_name']}, by {last['username']}) came after it, so nothing was undone; "
            "look at the list of imports again"
        )
        raise InputError(msg)
    snaps = cur.execute("SELECT dataset FROM import_snapshots WHERE import_id = ?", [import_id]).fetchall()
    if not snaps:
        msg = (
            f"import #{import_id} ({name}, {file_name}) cannot be undone: it kept no snapshot "
            "(a sample load, or an import older than the kept snapshots)"
        )
        raise InputError(msg)
    return [r[0] for r in snaps]


def undo_import(conn: store.Connection, import_id: int, user: auth.User) -> int:
    """Restore the state before import ``import_id``, which must still be the newest committed one.

    Refuses with :class:`InputError`, changing nothing (not even a snapshot), when another import
    came after it, when it was already undone or kept no snapshot. Returns ``import_id``.
    """
    username = _acting(user, "undo")
    import_id = int(import_id)
    with store.WRITE_LOCK:
        _check_undoable(conn.cursor(), import_id)
        backup.snapshot(conn, "before undo")
        with store.transaction(conn) as cur:
            for snap_name in _check_undoable(cur, import_id):
                ds = DATASETS[snap_name]
                table = _snapshot_table(import_id, snap_name)
                cols = _stored_columns(ds)
                cur.execute(f"DELETE FROM {ds.name}")
                cur.execute(f"INSERT INTO {ds.name} ({cols}) SELECT {cols} FROM {table}")
                cur.execute(f"DROP TABLE {table}")
            cur.execute("DELETE FROM import_snapshots WHERE import_id = ?", [import_id])
            cur.execute(
                "UPDATE imports SET status = 'undone', undone_at = now()::TIMESTAMP, undone_by = ? WHERE id = ?",
                [username, import_id],
            )
    return import_id

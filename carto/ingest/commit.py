"""Store a validated frame in one transaction, record it, and undo the last import exactly.

Before changing anything, :func:`commit` asks the store to snapshot every table the import may change
(the target, and actors and places whose ``territory_code`` a spatial join recomputes; see
:mod:`carto.store.imports`). :func:`undo_import` has those rows put back, so the state before the
import returns exactly, ``territory_code`` included. Only the newest committed import can be
undone, and only by naming it: what a person confirmed is what is undone, or nothing (another
import may have landed since). The snapshots of the :data:`SNAPSHOTS_KEPT` newest imports are kept,
older ones dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from carto import auth, store
from carto.errors import InputError, ValidationError
from carto.ingest.validate import Report
from carto.model import DATASETS, IMPORT_MODES, Dataset
from carto.store import backup, imports

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
            imports.take_snapshots(cur, import_id, AFFECTED[ds.name])
            tell(0.3, "write")
            if mode == "replace":
                deleted = store.delete_all(cur, ds.name)
            elif mode == "upsert":
                updated = store.delete_keys(cur, ds.name, rows[ds.key].astype(str).tolist())
            if ds.name in LOCATED:
                # Territories do not change: only the incoming rows need theirs, found before the insert
                # (updating freshly inserted rows is several times slower in DuckDB).
                tell(0.4, "assign")
                rows = rows.assign(territory_code=store.finest_territories(cur, ds.name, rows))
            tell(0.5, "write")
            inserted = store.insert_rows(cur, ds.name, rows) - updated
            if ds.name == "territories":
                tell(0.7, "assign")
                store.assign_territories(cur)
            imports.record_import_counts(
                cur, import_id, inserted=inserted, updated=updated, deleted=deleted, skipped=report.rows - len(rows)
            )
            imports.prune_snapshots(cur, SNAPSHOTS_KEPT)
            tell(0.9, "commit")
    except store.ConstraintError as exc:
        msg = f"{ds.name}: the database refused the rows ({exc}); nothing stored"
        raise InputError(msg) from exc
    return import_id, inserted, updated, deleted


def _check_undoable(cur: store.Connection, import_id: int) -> list[str]:
    """The datasets whose rows undoing ``import_id`` puts back, or why it cannot be undone."""
    state = imports.import_state(cur, import_id)
    if state is None:
        msg = f"there is no import #{import_id}; nothing was undone"
        raise InputError(msg)
    if state["status"] == "undone":
        msg = f"import #{import_id} was already undone by {state['undone_by']}; nothing was undone"
        raise InputError(msg)
    last = imports.last_import(cur)
    if last is not None and last["id"] != import_id:
        msg = (
            f"import #{import_id} is no longer the last one: import #{last['id']} ({last['dataset']}, "
            f"{last['file_name']}, by {last['username']}) came after it, so nothing was undone; "
            "look at the list of imports again"
        )
        raise InputError(msg)
    kept = imports.snapshot_datasets(cur, import_id)
    if not kept:
        msg = (
            f"import #{import_id} ({state['dataset']}, {state['file_name']}) cannot be undone: it kept no snapshot "
            "(a sample load, or an import older than the kept snapshots)"
        )
        raise InputError(msg)
    return kept


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
            imports.restore_snapshots(cur, import_id, _check_undoable(cur, import_id))
            imports.mark_undone(cur, import_id, username)
    return import_id

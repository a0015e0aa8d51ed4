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

from collections.abc import Callable, Sequence
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
# Datasets whose rows relations name (both are nodes of the network).
NODES = ("actors", "places")
FIRST_IDS = 5

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
    relations_removed: int = 0  # relations naming nodes a replace removed, when the user chose so

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
        if self.relations_removed:
            removed = "would remove" if self.dry_run else "removed"
            text += f"; {removed} {self.relations_removed} relations to {self.dataset} no longer in the file"
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


def relations_left_behind(
    cur: store.Connection, ds: Dataset, rows: pd.DataFrame, *, mode: str, drop_relations: bool
) -> int:
    """How many relations a ``replace`` of the nodes ``ds`` by ``rows`` removes with the nodes they name.

    Refuses with :class:`InputError` (the count and the first ids) unless ``drop_relations``: a
    relation is never left pointing to a node that is gone, nor removed without the user's say.
    """
    if mode != "replace" or ds.name not in NODES:
        return 0
    kept = rows[ds.key].astype(str).tolist()
    count, nodes, first = store.relations_to_removed_nodes(cur, ds.name, kept, first=FIRST_IDS)
    if count and not drop_relations:
        more = ", ..." if nodes > len(first) else ""
        msg = (
            f"{ds.name}: replacing would remove {nodes} {ds.name} that {count} relations point to "
            f"(first: {', '.join(first)}{more}); nothing stored; keep them in the file, or choose to also remove "
            "those relations (--drop-relations)"
        )
        raise InputError(msg)
    return count


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
    columns: Sequence[str] | None = None,
    drop_relations: bool = False,
) -> ImportResult:
    """Store ``frame`` (normally ``report.frame``) in one transaction, all or nothing.

    ``append`` inserts (a stored id is an error), ``replace`` deletes every row first, ``upsert``
    updates the rows whose key is stored, in ``columns`` (the fields the file maps; all when None)
    and the geometry only, and inserts the others. Refuses with :class:`ImportRefused` when the
    report has errors, unless ``skip_invalid``, and with :class:`InputError` when a replace would
    remove actors or places that relations point to, unless ``drop_relations`` (those relations
    are then removed too, and counted). ``user`` must hold a role that allows importing; a replace
    first snapshots the database file (:func:`carto.store.backup.snapshot`).
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
            relations_left_behind(conn.cursor(), ds, rows, mode=mode, drop_relations=drop_relations)
            backup.snapshot(conn, f"before replace of {ds.name}")
        import_id, inserted, updated, deleted, removed = _write(
            conn,
            ds,
            rows,
            mode=mode,
            username=username,
            file_name=file_name,
            sha256=sha256,
            report=report,
            tell=tell,
            columns=ds.column_names if columns is None else tuple(columns),
            drop_relations=drop_relations,
            located_at=report.territories_version if frame is report.frame else None,
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
        relations_removed=removed,
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
    columns: tuple[str, ...],
    drop_relations: bool,
    located_at: int | None,
) -> tuple[int, int, int, int, int]:
    """The transaction of :func:`commit`: the import's id, rows inserted, updated, deleted, relations removed."""
    updated = deleted = removed = 0
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
            # Checked again inside the transaction: relations may have landed since the check before it.
            removed = relations_left_behind(cur, ds, rows, mode=mode, drop_relations=drop_relations)
            imports.take_snapshots(cur, import_id, AFFECTED[ds.name] + (("relations",) if removed else ()))
            tell(0.3, "write")
            if removed:
                store.delete_relations_to_removed_nodes(cur, ds.name, rows[ds.key].astype(str).tolist())
            if mode == "replace":
                deleted = store.delete_all(cur, ds.name)
            if ds.name in LOCATED:
                # Territories do not change: only the incoming rows need theirs, found before the insert
                # (updating freshly inserted rows is several times slower in DuckDB).
                tell(0.4, "assign")
                # Found by the validation, unless a commit has changed the territories since.
                if located_at is None or located_at != store.data_version(cur):
                    rows = rows.assign(territory_code=store.finest_territories(cur, ds.name, rows))
            tell(0.5, "write")
            if mode == "upsert":
                located = ("territory_code",) if ds.name in LOCATED else ()
                inserted, updated = store.upsert_rows(cur, ds.name, rows, (*columns, *located))
            else:
                inserted = store.insert_rows(cur, ds.name, rows)
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
    return import_id, inserted, updated, deleted, removed


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

"""What editing one record needs from the database: its row, its version, the change log, undo.

Every edit of a record (insert, update, retire) is one call of :func:`write_record` inside
:func:`carto.store.transaction`: it checks the record's version against the one the edit was prepared
at, writes the whole row, bumps the version and logs who, when, and each field's value before and
after (migration 4). :func:`undo_edit` puts the row back as it was before an edit, only while the
record is still at the version that edit left. The rules (who may edit, what a valid row is) live in
:mod:`carto.ingest.edits`.

Rows travel as dicts of plain values: text, numbers, booleans, ISO dates, and the geometry as
hexadecimal WKB under ``"geometry"``; the log holds them as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
import shapely

from carto.errors import EditConflict, StoreError
from carto.model import Dataset, dataset
from carto.store import Connection, _ident

EDIT_ACTIONS = ("insert", "update", "retire")
GEOMETRY = "geometry"
_HISTORY_FIELDS = (
    "id", "edited_at", "username", "dataset", "record_id", "action", "version", "status", "undone_by",
)

Row = dict[str, Any]


def _plain(value: Any) -> Any:
    """``value`` as JSON can hold it: dates as ISO text, missing numbers as None."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def read_record(cur: Connection, name: str, key: str) -> Row | None:
    """The stored row of dataset ``name`` whose key is ``key`` (plain values), or None."""
    ds = dataset(name)
    select = [_ident(c) for c in ds.column_names]
    if ds.geometry is not None:
        select.append("ST_AsHEXWKB(geometry)")
    row = cur.execute(
        f"SELECT {', '.join(select)} FROM {_ident(ds.name)} WHERE {_ident(ds.key)} = ?", [key]
    ).fetchone()
    if row is None:
        return None
    names = [*ds.column_names, *([GEOMETRY] if ds.geometry is not None else [])]
    return {n: _plain(v) for n, v in zip(names, row, strict=True)}


def record_version(cur: Connection, name: str, key: str) -> int:
    """How many edits (and undos) record ``key`` of ``name`` has had; 0 for one never edited."""
    row = cur.execute(
        "SELECT version FROM record_versions WHERE dataset = ? AND record_id = ?", [dataset(name).name, key]
    ).fetchone()
    return int(row[0]) if row else 0


def _check_version(cur: Connection, ds: Dataset, key: str, expected: int) -> int:
    current = record_version(cur, ds.name, key)
    if current != expected:
        msg = (
            f"{ds.name} {key!r} was changed by someone else since you opened it (version {current}, "
            f"not {expected}): nothing was saved; reload the record and make your change again"
        )
        raise EditConflict(msg)
    return current


def _bump(cur: Connection, ds: Dataset, key: str, version: int) -> int:
    cur.execute(
        "INSERT INTO record_versions VALUES (?, ?, ?) ON CONFLICT (dataset, record_id) DO UPDATE SET version = ?",
        [ds.name, key, version + 1, version + 1],
    )
    return version + 1


def _delete(cur: Connection, ds: Dataset, key: str) -> None:
    cur.execute(f"DELETE FROM {_ident(ds.name)} WHERE {_ident(ds.key)} = ?", [key])


def _insert(cur: Connection, ds: Dataset, row: Mapping[str, Any]) -> None:
    names = [_ident(c.name) for c in ds.columns]
    values = [f"CAST(? AS {c.sql_type})" for c in ds.columns]
    params = [row.get(c.name) for c in ds.columns]
    if ds.geometry is not None:
        names.append("geometry")
        values.append("ST_GeomFromHEXWKB(?)")
        params.append(row.get(GEOMETRY))
    cur.execute(f"INSERT INTO {_ident(ds.name)} ({', '.join(names)}) VALUES ({', '.join(values)})", params)


def _shown(field: str, value: Any) -> Any:
    """A value as the history shows it: geometries as WKT text."""
    if field == GEOMETRY and value is not None:
        return shapely.from_wkb(bytes.fromhex(str(value))).wkt
    return value


def changed_fields(ds: Dataset, before: Row | None, after: Row | None) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for every field whose value differs (geometries as WKT)."""
    fields = [*ds.column_names, *([GEOMETRY] if ds.geometry is not None else [])]
    old, new = before or {}, after or {}
    return {
        f: [_shown(f, old.get(f)), _shown(f, new.get(f))]
        for f in fields
        if _plain(old.get(f)) != _plain(new.get(f))
    }


def _log(
    cur: Connection, *, username: str, ds: Dataset, key: str, action: str, before: Row | None, after: Row | None,
    version: int,
) -> int:
    row = cur.execute("SELECT coalesce(max(id), 0) + 1 FROM edits").fetchone()
    edit_id = int(row[0]) if row else 1
    cur.execute(
        "INSERT INTO edits (id, edited_at, username, dataset, record_id, action, changes, before_row, after_row, "
        "version) VALUES (?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            edit_id,
            username,
            ds.name,
            key,
            action,
            json.dumps(changed_fields(ds, before, after), ensure_ascii=False),
            None if before is None else json.dumps(before, ensure_ascii=False),
            None if after is None else json.dumps(after, ensure_ascii=False),
            version,
        ],
    )
    return edit_id


def write_record(
    cur: Connection,
    name: str,
    key: str,
    row: Mapping[str, Any] | None,
    *,
    expected_version: int,
    username: str,
    expected_row: Mapping[str, Any] | None = None,
) -> int:
    """Make record ``key`` of ``name`` be ``row`` (None: retire it); log the edit; return its id.

    ``row`` is the whole record (every column, and ``"geometry"`` as hex WKB for spatial datasets).
    Refused with :class:`EditConflict` when the record's version is not ``expected_version`` (someone
    else edited it since), or when ``expected_row`` (the record as the form showed it) is given and the
    stored record differs from it (an import changed it since: imports keep no record versions);
    with :class:`StoreError` when inserting a key already stored or retiring
    one that is not. Call inside :func:`carto.store.transaction`.
    """
    ds = dataset(name)
    version = _check_version(cur, ds, key, expected_version)
    before = read_record(cur, ds.name, key)
    if expected_row is not None and before != dict(expected_row):
        msg = (
            f"{ds.name} {key!r} was changed (by an import) since you opened it: nothing was saved; "
            "reload the record and make your change again"
        )
        raise EditConflict(msg)
    if row is not None and str(row.get(ds.key)) != key:
        msg = f"{ds.name}: the row's {ds.key} {row.get(ds.key)!r} is not the edited record {key!r}"
        raise StoreError(msg)
    if before is None and row is None:
        msg = f"{ds.name} {key!r} is not in the database: there is nothing to retire"
        raise StoreError(msg)
    action = "insert" if before is None else ("retire" if row is None else "update")
    if before is not None:
        _delete(cur, ds, key)
    after: Row | None = None
    if row is not None:
        _insert(cur, ds, row)
        after = read_record(cur, ds.name, key)
    return _log(
        cur, username=username, ds=ds, key=key, action=action, before=before, after=after,
        version=_bump(cur, ds, key, version),
    )


def edit_state(cur: Connection, edit_id: int) -> dict[str, Any] | None:
    """Id, dataset, record_id, action, version, status... of edit ``edit_id``, or None."""
    row = cur.execute(f"SELECT {', '.join(_HISTORY_FIELDS)} FROM edits WHERE id = ?", [edit_id]).fetchone()
    return None if row is None else dict(zip(_HISTORY_FIELDS, row, strict=True))


def undo_edit(cur: Connection, edit_id: int, username: str) -> int:
    """Put the record of edit ``edit_id`` back as it was before; log the undo; return the undo's edit id.

    Refused (:class:`EditConflict`) when the record changed since that edit, and (:class:`StoreError`)
    when the edit does not exist or is already undone. Call inside :func:`carto.store.transaction`.
    """
    state = edit_state(cur, edit_id)
    if state is None:
        msg = f"there is no edit {edit_id}"
        raise StoreError(msg)
    if state["status"] != "committed":
        msg = f"edit {edit_id} is already undone (by {state['undone_by']})"
        raise StoreError(msg)
    ds = dataset(state["dataset"])
    key = str(state["record_id"])
    current = record_version(cur, ds.name, key)
    if current != state["version"]:
        msg = (
            f"edit {edit_id} cannot be undone: {ds.name} {key!r} was changed again since "
            f"(version {current}, not {state['version']}); undo the later edits first"
        )
        raise EditConflict(msg)
    found = cur.execute("SELECT before_row, after_row FROM edits WHERE id = ?", [edit_id]).fetchone()
    before = None if found is None or found[0] is None else json.loads(found[0])
    left = None if found is None or found[1] is None else json.loads(found[1])
    if read_record(cur, ds.name, key) != left:
        # An import (which keeps no record versions) changed the record since the edit.
        msg = (
            f"edit {edit_id} cannot be undone: {ds.name} {key!r} is no longer as that edit left it "
            "(an import changed it since); edit it again instead"
        )
        raise EditConflict(msg)
    undo_id = write_record(cur, ds.name, key, before, expected_version=current, username=username)
    cur.execute("UPDATE edits SET action = 'undo:' || action WHERE id = ?", [undo_id])
    cur.execute(
        "UPDATE edits SET status = 'undone', undone_at = now()::TIMESTAMP, undone_by = ? WHERE id = ?",
        [username, edit_id],
    )
    return undo_id


def record_history(cur: Connection, name: str, key: str) -> pd.DataFrame:
    """The edits of record ``key`` of ``name``, newest first, with ``changes`` as a dict per edit."""
    frame = cur.execute(
        f"SELECT {', '.join(_HISTORY_FIELDS)}, changes FROM edits WHERE dataset = ? AND record_id = ? ORDER BY id DESC",
        [dataset(name).name, key],
    ).fetchdf()
    frame["changes"] = [json.loads(c) for c in frame["changes"]]
    return frame


def list_edits(cur: Connection, *, limit: int = 200) -> pd.DataFrame:
    """The newest ``limit`` edits of every record (the audit of edits), newest first, ``changes`` as dicts."""
    frame = cur.execute(
        f"SELECT {', '.join(_HISTORY_FIELDS)}, changes FROM edits ORDER BY id DESC LIMIT ?", [limit]
    ).fetchdf()
    frame["changes"] = [json.loads(c) for c in frame["changes"]]
    return frame


def last_undoable_edit(
    cur: Connection, username: str | None = None, *, name: str | None = None, key: str | None = None
) -> dict[str, Any] | None:
    """The newest committed edit (of ``username``, of record ``key`` of dataset ``name``, when given)
    whose record has not changed since, or None."""
    table = None if name is None else dataset(name).name
    rows = cur.execute(
        "SELECT e.id FROM edits e JOIN record_versions v ON v.dataset = e.dataset AND v.record_id = e.record_id "
        "WHERE e.status = 'committed' AND e.version = v.version AND e.action NOT LIKE 'undo:%' "
        "AND (CAST(? AS VARCHAR) IS NULL OR e.username = ?) "
        "AND (CAST(? AS VARCHAR) IS NULL OR e.dataset = ?) AND (CAST(? AS VARCHAR) IS NULL OR e.record_id = ?) "
        "ORDER BY e.id DESC LIMIT 1",
        [username, username, table, table, key, key],
    ).fetchone()
    return None if rows is None else edit_state(cur, int(rows[0]))


def relations_naming(cur: Connection, node_id: str) -> list[str]:
    """Ids of the stored relations whose source or target is ``node_id``, in order."""
    rows = cur.execute("SELECT id FROM relations WHERE source = ? OR target = ? ORDER BY id", [node_id, node_id])
    return [str(r[0]) for r in rows.fetchall()]


def relations_of_scheme(cur: Connection, scheme_id: str) -> list[str]:
    """Ids of the stored relations made under scheme ``scheme_id``, in order."""
    rows = cur.execute("SELECT id FROM relations WHERE scheme_id = ? ORDER BY id", [scheme_id])
    return [str(r[0]) for r in rows.fetchall()]

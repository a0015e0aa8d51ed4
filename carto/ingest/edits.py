"""Edits of one record from the dashboard, checked by the import's own rules, logged and undoable.

Each function takes the acting :class:`carto.auth.User` and refuses a role below analyst
(:class:`carto.errors.PermissionDenied`), as :func:`carto.ingest.commit.commit` does. The new row is
checked by :func:`carto.ingest.validate.validate`, the import's one code path: the vocabularies of
:mod:`carto.model`, dates, numbers, relation ends and schemes, geometry, and the territory of a point
found from the stored territories. Then :mod:`carto.store.edits` writes it in one transaction, with
the version check that refuses the second of two concurrent edits (:class:`carto.errors.EditConflict`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from carto import auth, store
from carto.errors import InputError, ValidationError
from carto.ingest.commit import _acting
from carto.ingest.validate import ERROR, validate
from carto.model import CRS, Dataset, dataset
from carto.store import edits as stored

# Datasets the dashboard edits; territories come only from imports.
EDITABLE = ("actors", "places", "schemes", "relations")
NODES = ("actors", "places")


@dataclass(frozen=True)
class EditResult:
    """What an edit did: its id in the log, the record, its new version, and the import's warnings."""

    edit_id: int
    dataset: str
    record_id: str
    version: int
    warnings: list[str] = field(default_factory=list)


def _editable(name: str) -> Dataset:
    if name not in EDITABLE:
        msg = f"{name} cannot be edited here; expected one of: {', '.join(EDITABLE)}"
        raise InputError(msg)
    return dataset(name)


def _geometry_of(row: Mapping[str, Any]) -> BaseGeometry | None:
    wkb = row.get(stored.GEOMETRY)
    return None if wkb is None else shapely.from_wkb(bytes.fromhex(str(wkb)))


def _coordinate(value: float | str, name: str) -> float:
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        msg = f"the {name} {value!r} is not a number (decimal degrees, e.g. -1.55)"
        raise InputError(msg) from None
    if number != number or number in (float("inf"), float("-inf")):
        msg = f"the {name} {value!r} is not a number (decimal degrees, e.g. -1.55)"
        raise InputError(msg)
    return number


def _point(lon: float | str | None, lat: float | str | None) -> BaseGeometry | None:
    """The point at ``lon``/``lat`` (numbers or their text, a decimal comma allowed); None when both are empty."""
    lon = None if lon is None or str(lon).strip() == "" else lon
    lat = None if lat is None or str(lat).strip() == "" else lat
    if lon is None and lat is None:
        return None
    if lon is None or lat is None:
        msg = "give both the longitude and the latitude, or neither"
        raise InputError(msg)
    return shapely.Point(_coordinate(lon, "longitude"), _coordinate(lat, "latitude"))


def form_fields(name: str) -> tuple[str, ...]:
    """The fields a form edits: every column but the id, the territory (found from the point) and
    the services (a JSON list only an import brings)."""
    ds = _editable(name)
    return tuple(c for c in ds.column_names if c not in (ds.key, "territory_code", "services"))


def point_of(row: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """(lon, lat) of a stored record that is a point; None for a polygon, no geometry or no record."""
    geometry = None if row is None else _geometry_of(row)
    if not isinstance(geometry, shapely.Point):
        return None
    return float(geometry.x), float(geometry.y)


def changes_text(changes: Mapping[str, list[Any]]) -> str:
    """One line of what an edit changed: ``field: before → after; ...`` (empty values as ∅), as text."""
    return "; ".join(
        f"{f}: {'∅' if old is None else old} → {'∅' if new is None else new}" for f, (old, new) in changes.items()
    )


def _checked_row(
    cur: store.Connection, ds: Dataset, values: Mapping[str, Any], geometry: BaseGeometry | None, *, mode: str
) -> tuple[stored.Row, list[str]]:
    """``values`` as the import would store them, else :class:`ValidationError` listing every error."""
    frame = pd.DataFrame([{c: values.get(c) for c in ds.column_names}], dtype=object)
    if ds.geometry is not None:
        frame = gpd.GeoDataFrame(frame, geometry=[geometry], crs=CRS)
    report = validate(frame, ds, conn_or_cursor=cur, mode=mode)
    errors = [f"{p.field}: {p.message}" for p in report.problems if p.severity == ERROR]
    if errors:
        msg = f"the {ds.name} record was not saved: " + "; ".join(errors)
        raise ValidationError(msg, errors)
    row = report.frame.iloc[0]
    out: stored.Row = {c: stored._plain(row[c]) for c in ds.column_names}
    if ds.geometry is not None:
        out[stored.GEOMETRY] = shapely.to_wkb(row.geometry, hex=True)
    warnings = [f"{p.field}: {p.message}" for p in report.problems if p.severity != ERROR]
    return out, warnings


def _write(
    cur: store.Connection, user: auth.User, ds: Dataset, key: str, row: stored.Row | None, version: int,
    warnings: list[str], expected_row: Mapping[str, Any] | None = None,
) -> EditResult:
    edit_id = stored.write_record(
        cur, ds.name, key, row, expected_version=version, username=user.name, expected_row=expected_row
    )
    return EditResult(edit_id, ds.name, key, version + 1, warnings)


def edit_record(
    conn: store.Connection,
    user: auth.User,
    name: str,
    key: str,
    changes: Mapping[str, Any],
    *,
    expected_version: int,
    expected_row: Mapping[str, Any] | None = None,
    lon: float | str | None = None,
    lat: float | str | None = None,
) -> EditResult:
    """Change fields of record ``key`` (and, with ``lon``/``lat``, move it: geometry and territory).

    ``expected_version`` (and ``expected_row``, the record as the form showed it, when given) must
    still hold, else :class:`carto.errors.EditConflict`: the record changed since it was opened.
    """
    _acting(user, "edit")
    ds = _editable(name)
    unknown = sorted(set(changes) - set(ds.column_names) | ({ds.key} & set(changes)))
    if unknown:
        msg = f"{ds.name}: cannot change {', '.join(unknown)} (the id stays; unknown fields are refused)"
        raise InputError(msg)
    with store.transaction(conn) as cur:
        before = stored.read_record(cur, ds.name, key)
        if before is None:
            msg = f"{ds.name} {key!r} is not in the database (retired meanwhile?): reload the page"
            raise InputError(msg)
        geometry = _point(lon, lat) if ds.geometry is not None else None
        if ds.geometry is not None and geometry is None:
            geometry = _geometry_of(before)
        row, warnings = _checked_row(cur, ds, {**before, **changes}, geometry, mode="upsert")
        if not stored.changed_fields(ds, before, row):
            msg = f"{ds.name} {key!r}: nothing to save, every value is the one stored"
            raise InputError(msg)
        return _write(cur, user, ds, key, row, expected_version, warnings, expected_row)


def add_record(
    conn: store.Connection, user: auth.User, name: str, values: Mapping[str, Any], *,
    lon: float | str | None = None, lat: float | str | None = None,
) -> EditResult:
    """Add one actor, place, scheme or relation; an empty id gets one generated, as an import does."""
    _acting(user, "edit")
    ds = _editable(name)
    with store.transaction(conn) as cur:
        row, warnings = _checked_row(cur, ds, values, _point(lon, lat), mode="append")
        key = str(row[ds.key])
        return _write(cur, user, ds, key, row, stored.record_version(cur, ds.name, key), warnings)


def add_relation(
    conn: store.Connection,
    user: auth.User,
    source: str,
    target: str,
    kind: str,
    *,
    dimension: str | None = None,
    formal: bool | None = None,
    scheme_id: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    stage: str | None = None,
    relation_id: str | None = None,
) -> EditResult:
    """A relation between two stored nodes (actors or places), checked as an imported one."""
    values = {
        "id": relation_id, "source": source, "target": target, "kind": kind, "dimension": dimension,
        "formal": formal, "scheme_id": scheme_id, "start": start, "end": end, "stage": stage,
    }
    return add_record(conn, user, "relations", values)


def end_relation(
    conn: store.Connection, user: auth.User, relation_id: str, end: dt.date, *, expected_version: int,
    expected_row: Mapping[str, Any] | None = None,
) -> EditResult:
    """Set the end date of a relation (it stays, as history); refused before its start date."""
    if end is None:
        msg = "choose the date the relation ends"
        raise InputError(msg)
    return edit_record(conn, user, "relations", relation_id, {"end": end}, expected_version=expected_version,
                       expected_row=expected_row)


def _refuse_if_named(cur: store.Connection, ds: Dataset, key: str, doing: str) -> None:
    """Refuse to remove a node or scheme that a stored relation names: it would be left dangling."""
    if ds.name in NODES:
        naming = stored.relations_naming(cur, key)
        fix = "retire those relations first"
    elif ds.name == "schemes":
        naming = stored.relations_of_scheme(cur, key)
        fix = "change their scheme first"
    else:
        return
    if naming:
        msg = (
            f"cannot {doing} {ds.name} {key!r}: {len(naming)} relation(s) name it ({', '.join(naming[:5])}); "
            f"{fix}, then try again"
        )
        raise InputError(msg)


def retire_record(
    conn: store.Connection, user: auth.User, name: str, key: str, *, expected_version: int,
    expected_row: Mapping[str, Any] | None = None,
) -> EditResult:
    """Remove record ``key`` (undoable); an actor or place is refused while a relation names it."""
    _acting(user, "edit")
    ds = _editable(name)
    with store.transaction(conn) as cur:
        _refuse_if_named(cur, ds, key, "retire")
        return _write(cur, user, ds, key, None, expected_version, [], expected_row)


def undo_edit(conn: store.Connection, user: auth.User, edit_id: int) -> EditResult:
    """Put a record back as it was before edit ``edit_id``, refused if it changed since."""
    _acting(user, "undo")
    with store.transaction(conn) as cur:
        state = stored.edit_state(cur, edit_id)
        if state is not None and state["action"] == "insert":
            # Undoing an addition removes the record: not while a relation added since names it.
            _refuse_if_named(cur, dataset(state["dataset"]), str(state["record_id"]), "undo the addition of")
        undo_id = stored.undo_edit(cur, edit_id, user.name)
        state = stored.edit_state(cur, undo_id)
        if state is None:  # pragma: no cover - written just above, in this transaction
            msg = f"the undo of edit {edit_id} was not logged"
            raise InputError(msg)
        return EditResult(undo_id, state["dataset"], state["record_id"], int(state["version"]))

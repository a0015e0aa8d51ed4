"""The data page's edits: forms to change, add, end or retire a record, its history, undo of the last edit.

The forms offer the import's vocabulary (the same labels) and send what was typed to
:mod:`carto.ingest.edits`, which checks it with the import's validation and refuses a lower role; the
page only shows what it answered. A form's submit callback carries the record's version as the form
showed it, so that an edit saved by someone else meanwhile is refused, not overwritten.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pandas as pd
import streamlit as st

from carto import auth, i18n, store, ui
from carto.errors import CartoError, InputError
from carto.ingest import edits
from carto.model import dataset
from carto.render import preview
from carto.store import edits as stored
from carto.ui.state import EditState as keys

ACTIONS = {
    "actors": ("change", "add", "retire"),
    "places": ("change", "add", "retire"),
    "schemes": ("change", "add", "retire"),
    "relations": ("change", "add", "end", "retire"),
}
BOOLEANS = ("", "true", "false")
SHOWN_COLUMNS = ["id", "edited_at", "username", "dataset", "record_id", "action", "status", "changes"]


def _typed(value: Any) -> Any:
    """A widget's value as the edit takes it: empty text is no value."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    return value


def _initial(key: str, name: str, value: Any) -> dict[str, Any]:
    """``{name: value}`` for a widget, unless the session already holds its value (set by a shortcut
    of the explorer, or typed): a widget takes one or the other, never both."""
    return {} if key in st.session_state else {name: value}


def _field_widget(name: str, record: str | None, field: str, value: Any) -> None:
    lang = ui.language()
    label = preview.field_label(field, lang)
    column = dataset(name).column(field)
    key = keys.field(name, record, field)
    if column.choices is not None:
        options = ["", *column.choices]
        st.selectbox(label, options, key=key, **_initial(key, "index", options.index(value) if value in options else 0),
                     format_func=lambda v: ui.tr("edit.empty") if v == "" else i18n.label(v, lang))
    elif column.sql_type == "BOOLEAN":
        shown = "" if value is None else str(bool(value)).lower()
        st.selectbox(label, BOOLEANS, key=key, **_initial(key, "index", BOOLEANS.index(shown)),
                     format_func=lambda v: ui.tr(f"edit.bool.{v or 'empty'}"))
    else:
        st.text_input(label, key=key, **_initial(key, "value", "" if value is None else str(value)))


def _fields(name: str, record: str | None, row: dict[str, Any] | None) -> None:
    if record is None:
        st.text_input(ui.tr("edit.new_id"), key=keys.field(name, None, "id"))
    for field in edits.form_fields(name):
        _field_widget(name, record, field, None if row is None else row.get(field))
    if name in edits.NODES:
        point = edits.point_of(row)
        left, right = st.columns(2)
        left.text_input(ui.tr("edit.lon"), value="" if point is None else str(point[0]),
                        key=keys.field(name, record, "lon"))
        right.text_input(ui.tr("edit.lat"), value="" if point is None else str(point[1]),
                         key=keys.field(name, record, "lat"))


def _forget_form(name: str, record: str | None) -> None:
    """Drop the typed values of a record's form, so that it shows the stored values again."""
    prefix = keys.field(name, record, "")
    for key in [k for k in st.session_state if str(k).startswith(prefix)]:
        del st.session_state[key]


def _save(
    name: str, action: str, record: str | None, version: int, shown: dict[str, Any] | None, user: auth.User
) -> None:
    """The form's submit: make the edit; the outcome waits in the session for the next run."""
    session = st.session_state
    values = {f: _typed(session.get(keys.field(name, record, f))) for f in edits.form_fields(name)}
    for f in edits.form_fields(name):
        if dataset(name).column(f).sql_type == "BOOLEAN" and values[f] is not None:
            values[f] = values[f] == "true"
    lon, lat = (_typed(session.get(keys.field(name, record, c))) for c in ("lon", "lat"))
    conn = ui.connection()
    try:
        if action == "add":
            values["id"] = _typed(session.get(keys.field(name, None, "id")))
            result = edits.add_record(conn, user, name, values, lon=lon, lat=lat)
        elif record is None:
            raise InputError(ui.tr("edit.no_record"))
        elif action == "change":
            result = edits.edit_record(conn, user, name, record, values, expected_version=version,
                                       expected_row=shown, lon=lon, lat=lat)
        elif action == "end":
            result = edits.end_relation(conn, user, record, session[keys.END_DATE], expected_version=version,
                                        expected_row=shown)
        elif not session.get(keys.RETIRE_CONFIRM):
            raise InputError(ui.tr("edit.confirm_first"))
        else:
            result = edits.retire_record(conn, user, name, record, expected_version=version, expected_row=shown)
    except CartoError as exc:
        ui.after_write_error(exc)
        session[keys.REFUSED] = str(exc)
        return
    session[keys.DONE] = (f"edit.done.{action}", result.edit_id)
    _forget_form(name, record)


def _undo(edit_id: int, name: str, record: str, user: auth.User) -> None:
    try:
        result = edits.undo_edit(ui.connection(), user, edit_id)
    except CartoError as exc:
        ui.after_write_error(exc)
        st.session_state[keys.REFUSED] = str(exc)
        return
    st.session_state[keys.DONE] = ("edit.done.undo", result.edit_id)
    _forget_form(name, record)


def _edits_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The log as shown: what changed as one line of text per edit (never markdown)."""
    return frame.assign(changes=[edits.changes_text(c) for c in frame["changes"]])[SHOWN_COLUMNS]


def edit_form(user: auth.User) -> None:
    """Choose a table, an action and a record; the form; what the last edit did; the record's history."""
    name = st.selectbox(ui.tr("edit.dataset"), edits.EDITABLE, key=keys.DATASET,
                        format_func=lambda n: ui.tr(f"dataset.{n}"))
    action = st.radio(ui.tr("edit.action"), ACTIONS[name], key=f"{keys.ACTION}_{name}", horizontal=True,
                      format_func=lambda a: ui.tr(f"edit.action.{a}"))
    cur = ui.cursor()
    record: str | None = None
    if action != "add":
        ids = sorted(store.stored_keys(cur, name))
        record_key = f"{keys.RECORD}_{name}"
        record = st.selectbox(ui.tr("edit.record"), ids, key=record_key, **_initial(record_key, "index", None))
    row = None if record is None else stored.read_record(cur, name, record)
    version = 0 if record is None else stored.record_version(cur, name, record)
    if action == "add" or row is not None:
        with st.form(key=f"edit_form_{name}_{action}"):
            if action in ("change", "add"):
                _fields(name, record, row)
            elif action == "end":
                st.date_input(ui.tr("edit.end_date"), key=keys.END_DATE, value=None)
            else:
                st.checkbox(ui.tr("edit.retire_confirm", record=record), key=keys.RETIRE_CONFIRM)
            st.form_submit_button(ui.tr(f"edit.submit.{action}"), key=keys.SAVE, on_click=_save,
                                  args=(name, action, record, version, row, user))
    done, refused = keys.outcome()
    if done is not None:
        st.success(ui.tr(done[0], id=done[1]))
    if refused is not None:
        st.error(ui.tr("edit.refused", error=refused))
    if record is not None:
        st.markdown(f"**{ui.tr('edit.history')}**")
        history = stored.record_history(cur, name, record)
        with st.container(key=keys.HISTORY):
            if history.empty:
                st.caption(ui.tr("edit.no_history"))
            else:
                st.dataframe(_edits_table(history), hide_index=True, width="stretch")


def undo_and_audit(user: auth.User) -> None:
    """Undo of the newest edit whose record has not changed since, and the log of every edit."""
    cur = ui.cursor()
    last = stored.last_undoable_edit(cur)
    if last is None:
        st.caption(ui.tr("edit.nothing_to_undo"))
    else:
        st.write(ui.tr("edit.undo_what", id=last["id"], dataset=ui.tr(f"dataset.{last['dataset']}"),
                       record=last["record_id"], user=last["username"], when=f"{last['edited_at']:%Y-%m-%d %H:%M}"))
        st.button(ui.tr("edit.undo"), key=keys.UNDO_BUTTON, on_click=_undo,
                  args=(int(last["id"]), str(last["dataset"]), str(last["record_id"]), user))
    log = stored.list_edits(cur)
    with st.container(key=keys.AUDIT):
        if log.empty:
            st.caption(ui.tr("edit.no_edits"))
        else:
            st.dataframe(_edits_table(log), hide_index=True, width="stretch")


def _open_data_page(name: str, action: str, *, record: str | None = None, **fields: str) -> None:
    """Go to the data page with the form of ``action`` on ``name`` chosen (and ``record``, or ``fields`` filled)."""
    session = st.session_state
    session[keys.DATASET] = name
    session[f"{keys.ACTION}_{name}"] = action
    if record is not None:
        session[f"{keys.RECORD}_{name}"] = record
    for field, value in fields.items():
        session[keys.field(name, None, field)] = value
    st.switch_page("app_pages/data.py")


def explorer_shortcuts(selected: Collection[str]) -> None:
    """In the explorer's details panel, for analysts and admins: edit the one selected node, or add a
    relation between the two selected nodes, in the data page's form."""
    ids = sorted(selected)
    if len(ids) not in (1, 2) or not auth.can(ui.current_user(), "edit"):
        return
    if len(ids) == 1:
        if st.button(ui.tr("edit.this_node"), key=keys.EXPLORER_EDIT):
            name = "actors" if stored.read_record(ui.cursor(), "actors", ids[0]) is not None else "places"
            _open_data_page(name, "change", record=ids[0])
        return
    if st.button(ui.tr("edit.relate_two"), key=keys.EXPLORER_RELATE):
        _open_data_page("relations", "add", source=ids[0], target=ids[1])
    cur = ui.cursor()
    between = sorted(set(stored.relations_naming(cur, ids[0])) & set(stored.relations_naming(cur, ids[1])))
    if between:
        left, right = st.columns([2, 1], vertical_alignment="bottom")
        chosen = left.selectbox(ui.tr("edit.relation_between"), between, key=keys.EXPLORER_RELATION)
        if right.button(ui.tr("edit.end_this"), key=keys.EXPLORER_END):
            _open_data_page("relations", "end", record=str(chosen))

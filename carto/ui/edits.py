"""The data page's edits: forms to change, add, end or retire a record, its history, undo of the last edit.

The forms offer the import's vocabulary (the same labels) and send what was typed to
:mod:`carto.ingest.edits`, which checks it with the import's validation and refuses a lower role; the
page only shows what it answered. A form's submit callback carries the record's version as the form
showed it, so that an edit saved by someone else meanwhile is refused, not overwritten.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import Any

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from carto import auth, i18n, store, ui
from carto.errors import CartoError, InputError
from carto.ingest import edits
from carto.model import dataset
from carto.render import movemap, offline, preview
from carto.store import edits as stored
from carto.ui.state import EditState as keys
from carto.ui.state import ExplorerState

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


def _seed(key: str, value: Any) -> str:
    """``key``, its session value set to ``value`` unless the session already holds one (typed, dragged
    on the move map, or prefilled). Widgets take their value from the session only, never a default
    too: a default that changed between runs would make the browser show a new, empty widget."""
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def _field_widget(name: str, record: str | None, field: str, value: Any) -> None:
    lang = ui.language()
    label = preview.field_label(field, lang)
    column = dataset(name).column(field)
    key = keys.field(name, record, field)
    if column.choices is not None:
        options = ["", *column.choices]
        st.selectbox(label, options, key=_seed(key, value if value in options else ""),
                     format_func=lambda v: ui.tr("edit.empty") if v == "" else i18n.label(v, lang))
    elif column.sql_type == "BOOLEAN":
        shown = "" if value is None else str(bool(value)).lower()
        st.selectbox(label, BOOLEANS, key=_seed(key, shown),
                     format_func=lambda v: ui.tr(f"edit.bool.{v or 'empty'}"))
    else:
        st.text_input(label, key=_seed(key, "" if value is None else str(value)))


def _moved(name: str, record: str | None, map_key: str) -> None:
    """The move map's callback: the marker dropped (or the map clicked) fills the lon/lat inputs."""
    spot = movemap.dragged_to(st.session_state.get(map_key))
    if spot is not None:
        for coordinate, value in zip(("lon", "lat"), spot, strict=True):
            st.session_state[keys.field(name, record, coordinate)] = movemap.coordinate_text(value)


def _move_map(name: str, record: str | None, point: tuple[float, float] | None) -> None:
    """The small map above a node's form: drag the marker, or click, to set its coordinates."""
    map_key = keys.move_map(name, record)
    tiles = str(st.session_state.get(ExplorerState.TILES) or offline.default_tiles())
    st.caption(ui.tr("edit.move_map"))
    with st.container(key=f"{map_key}_frame"):
        st_folium(movemap.move_map(point, ui.tr("edit.move_marker"), tiles=tiles), key=map_key, height=260,
                  use_container_width=True, returned_objects=list(movemap.RETURNED),
                  on_change=functools.partial(_moved, name, record, map_key))


def _fields(name: str, record: str | None, row: dict[str, Any] | None) -> None:
    if record is None:
        st.text_input(ui.tr("edit.new_id"), key=keys.field(name, None, "id"))
    for field in edits.form_fields(name):
        _field_widget(name, record, field, None if row is None else row.get(field))
    if name in edits.NODES:
        point = edits.point_of(row)
        for column, coordinate, value in zip(st.columns(2), ("lon", "lat"), point or (None, None), strict=True):
            key = keys.field(name, record, coordinate)
            # The stored coordinate as it is (not rounded): saving another field does not move the node.
            column.text_input(ui.tr(f"edit.{coordinate}"), key=_seed(key, "" if value is None else str(value)))


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
        keys.record_outcome(None, str(exc))
        return
    keys.record_outcome((f"edit.done.{action}", result.edit_id), None)
    _forget_form(name, record)


def _undo(edit_id: int, name: str, record: str, user: auth.User) -> None:
    try:
        result = edits.undo_edit(ui.connection(), user, edit_id)
    except CartoError as exc:
        ui.after_write_error(exc)
        keys.record_outcome(None, str(exc))
        return
    keys.record_outcome(("edit.done.undo", result.edit_id), None)
    _forget_form(name, record)


def _edits_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The log as shown: what changed as one line of text per edit (never markdown)."""
    return frame.assign(changes=[edits.changes_text(c) for c in frame["changes"]])[SHOWN_COLUMNS]


def record_form(name: str, action: str, record: str | None, user: auth.User) -> None:
    """The form of ``action`` on record ``record`` of ``name`` (None: a new record), the one form of
    the data page and of the explorer's details panel; a node's change or addition has its move map."""
    cur = ui.cursor()
    row = None if record is None else stored.read_record(cur, name, record)
    if action != "add" and row is None:
        return
    version = 0 if record is None else stored.record_version(cur, name, record)
    if name in edits.NODES and action in ("change", "add"):
        _move_map(name, record, edits.point_of(row))
    with st.form(key=f"edit_form_{name}_{action}"):
        if action in ("change", "add"):
            _fields(name, record, row)
        elif action == "end":
            st.date_input(ui.tr("edit.end_date"), key=keys.END_DATE, value=None)
        else:
            st.checkbox(ui.tr("edit.retire_confirm", record=record), key=keys.RETIRE_CONFIRM)
        st.form_submit_button(ui.tr(f"edit.submit.{action}"), key=keys.save(name, action), on_click=_save,
                              args=(name, action, record, version, row, user))


def show_outcome(scope: object) -> None:
    """What the last edit or undo made from the forms of ``scope`` did, or why it was refused."""
    done, refused = keys.outcome(scope)
    if done is not None:
        st.success(ui.tr(done[0], id=done[1]))
    if refused is not None:
        st.error(ui.tr("edit.refused", error=refused))


def record_history(name: str, record: str, container: str) -> None:
    """The edits of one record, newest first, as a table in the container keyed ``container``."""
    st.caption(f"**{ui.tr('edit.history')}**")  # a caption: the panel's sentences stay its markdown
    history = stored.record_history(ui.cursor(), name, record)
    with st.container(key=container):
        if history.empty:
            st.caption(ui.tr("edit.no_history"))
        else:
            st.dataframe(_edits_table(history), hide_index=True, width="stretch")


def edit_form(user: auth.User) -> None:
    """Choose a table, an action and a record; the form; what the last edit did; the record's history."""
    name = st.selectbox(ui.tr("edit.dataset"), edits.EDITABLE, key=keys.DATASET,
                        format_func=lambda n: ui.tr(f"dataset.{n}"))
    action = st.radio(ui.tr("edit.action"), ACTIONS[name], key=f"{keys.ACTION}_{name}", horizontal=True,
                      format_func=lambda a: ui.tr(f"edit.action.{a}"))
    record: str | None = None
    if action != "add":
        ids = sorted(store.stored_keys(ui.cursor(), name))
        record_key = f"{keys.RECORD}_{name}"
        record = st.selectbox(ui.tr("edit.record"), ids, key=record_key, index=None)
    if record is not None or action == "add":
        record_form(name, action, record, user)
    show_outcome((name, action))  # not the record: a retired one leaves the choices, its outcome stays
    if record is not None:
        record_history(name, record, keys.HISTORY)


def _undo_offer(last: dict[str, Any], user: auth.User, button: str) -> None:
    st.write(ui.tr("edit.undo_what", id=last["id"], dataset=ui.tr(f"dataset.{last['dataset']}"),
                   record=last["record_id"], user=last["username"], when=f"{last['edited_at']:%Y-%m-%d %H:%M}"))
    st.button(ui.tr("edit.undo"), key=button, on_click=_undo,
              args=(int(last["id"]), str(last["dataset"]), str(last["record_id"]), user))


def undo_and_audit(user: auth.User) -> None:
    """Undo of the newest edit whose record has not changed since, and the log of every edit."""
    cur = ui.cursor()
    last = stored.last_undoable_edit(cur)
    if last is None:
        st.caption(ui.tr("edit.nothing_to_undo"))
    else:
        _undo_offer(last, user, keys.UNDO_BUTTON)
    log = stored.list_edits(cur)
    with st.container(key=keys.AUDIT):
        if log.empty:
            st.caption(ui.tr("edit.no_edits"))
        else:
            st.dataframe(_edits_table(log), hide_index=True, width="stretch")


def _node_forms(node: str, user: auth.User) -> None:
    """The change form of the one selected actor or place; its history and the undo of its last edit."""
    cur = ui.cursor()
    name = next((n for n in edits.NODES if stored.read_record(cur, n, node) is not None), None)
    if name is None:
        return
    with st.expander(ui.tr("edit.explorer.change", record=node), key=keys.EXPLORER_CHANGE):
        record_form(name, "change", node, user)
    with st.expander(ui.tr("edit.explorer.history"), key=keys.EXPLORER_HISTORY_BOX):
        last = stored.last_undoable_edit(cur, name=name, key=node)
        if last is None:
            st.caption(ui.tr("edit.explorer.nothing_to_undo"))
        else:
            _undo_offer(last, user, keys.EXPLORER_UNDO)
        record_history(name, node, keys.EXPLORER_HISTORY)


def _prefill_pair(source: str, target: str) -> None:
    """The new relation's source and target are the two selected nodes: set when the pair changes or
    the form starts afresh (after a save), kept while the user edits them (to swap them, say)."""
    session = st.session_state
    changed = session.get(keys.EXPLORER_PAIR) != (source, target)
    for field, value in (("source", source), ("target", target)):
        key = keys.field("relations", None, field)
        if changed or key not in session:
            session[key] = value
    session[keys.EXPLORER_PAIR] = (source, target)


def _relation_text(row: dict[str, Any] | None, lang: str) -> str:
    if row is None:
        return ""
    dates = " – ".join(str(d) for d in (row.get("start"), row.get("end")) if d)
    return f"{row['id']} · {i18n.label(row.get('kind'), lang)} · {row['source']} → {row['target']}" + (
        f" · {dates}" if dates else "")


def _pair_forms(first: str, second: str, user: auth.User) -> None:
    """The new relation between the two selected nodes; the end at a date of one relation between them."""
    _prefill_pair(first, second)
    with st.expander(ui.tr("edit.relate_two"), key=keys.EXPLORER_RELATE):
        record_form("relations", "add", None, user)
    cur = ui.cursor()
    between = sorted(set(stored.relations_naming(cur, first)) & set(stored.relations_naming(cur, second)))
    if not between:
        return
    rows, lang = {r: stored.read_record(cur, "relations", r) for r in between}, ui.language()
    with st.expander(ui.tr("edit.explorer.end"), key=keys.EXPLORER_END):
        chosen = st.selectbox(ui.tr("edit.relation_between"), between, key=keys.EXPLORER_RELATION,
                              format_func=lambda r: _relation_text(rows.get(r), lang))
        record_form("relations", "end", str(chosen), user)


def explorer_forms(selected: Collection[str]) -> None:
    """In the explorer's details panel, for analysts and admins only: change the one selected node
    (its history, the undo of its last edit), or add a relation between the two selected nodes and
    end one between them, with the data page's forms."""
    user = ui.current_user()
    ids = sorted(selected)
    if len(ids) not in (1, 2) or not auth.can(user, "edit"):
        return
    show_outcome(tuple(ids))
    if len(ids) == 1:
        _node_forms(ids[0], user)
    else:
        _pair_forms(ids[0], ids[1], user)

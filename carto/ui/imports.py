"""The import page's compound widgets: reading options and notes, the mapping editor (columns, the
same value for every row, the file's values in the vocabulary, a saved mapping reused), the report,
and the commit with its progress bar. What the page says is in the user's language: the ingest
layer's English messages, written for the command line, are replaced where the page has its own words."""

from __future__ import annotations

from typing import Any

import streamlit as st

from carto import auth, i18n, ui
from carto.errors import CartoError
from carto.ingest import mapping, pipeline, uploads, values
from carto.ingest.commit import ImportRefused, undo_import
from carto.ingest.read import RawTable
from carto.ingest.validate import Report
from carto.model import Dataset
from carto.render import preview
from carto.ui import cache
from carto.ui.state import DataState, ImportState

# Encodings offered for a text file; "" is automatic: UTF-8, else Windows-1252 with a note.
ENCODINGS = ("", "utf-8", "cp1252", "iso8859-15")
_TEXT_SUFFIXES = (".csv", ".tsv", ".txt")


def encoding_choice(file_name: str, state: ImportState) -> str | None:
    """The text encoding the user chose for a CSV file (None: automatic); nothing to choose for other files."""
    if not file_name.lower().endswith(_TEXT_SUFFIXES):
        return None
    chosen = st.selectbox(ui.tr("import.encoding"), ENCODINGS, key=state.ENCODING,
                          format_func=lambda e: ui.tr(f"import.encoding.{e or 'auto'}"))
    return str(chosen) or None


def read_table(upload: dict[str, str], layer: str | None, encoding: str | None) -> RawTable:
    """The uploaded file as read; when the encoding the user chose cannot read it and the automatic
    one can, say so in words and stop (the reader's message names a command-line option)."""
    try:
        return cache.uploaded_table(upload["path"], upload["name"], layer, encoding)
    except CartoError:
        if encoding is None:
            raise
        cache.uploaded_table(upload["path"], upload["name"], layer, None)  # raises when the file is unreadable
        st.error(ui.tr("import.encoding_failed", encoding=ui.tr(f"import.encoding.{encoding}")))
        st.stop()
        raise


def reading_notes(raw: RawTable, encoding: str | None, state: ImportState) -> None:
    """What the reader noticed, in the user's language where the page has its own words for it.

    The reader's notes are written for the command line: the two the page replaces (the layer
    read among several, the encoding guessed) are recognised by how they start.
    """
    replaced = []
    if len(raw.layers) > 1:
        replaced.append(f"{raw.original_name} has {len(raw.layers)} layers")
    with st.container(key=state.NOTES):
        if encoding is None and raw.encoding == "cp1252":
            replaced.append(f"{raw.original_name} is not UTF-8;")
            st.info(ui.tr("import.read_as_cp1252"))
        for note in raw.warnings:
            if not note.startswith(tuple(replaced)):
                st.warning(note)


def stop_unless_placeable(raw: RawTable, dataset: Dataset, columns: dict[str, str], lang: str) -> None:
    """Say in words what the rows lack to be placed on the map, and stop, before anything is checked."""
    gap = mapping.geometry_gap(raw, dataset.name, columns)
    if gap is not None:
        code, field = gap
        st.warning(ui.tr(f"import.geometry.{code}", field=preview.field_label(field, lang) if field else ""))
        st.stop()


# The column choice "same value for every row" (a file's column never holds a NUL in its name).
SAME = "\x00same"


def _apply_saved(
    saved: mapping.SavedMapping, columns: list[str], dataset: Dataset, state: ImportState
) -> dict[str, Any]:
    """Put a saved mapping into the editor's widgets (before they are drawn); what it set, for the page."""
    session = state.session
    fields = mapping.mapping_fields(dataset.name)
    constants = values.check_constants(
        {f: v for f, v in saved.constants.items() if f in dataset.column_names}, dataset.name
    )
    recodings = values.check_values(
        {f: r for f, r in saved.values.items() if f in values.value_fields(dataset)}, dataset.name
    )
    used = {f: c for f, c in saved.columns.items() if f in fields and f not in constants}
    missing = sorted({c for c in used.values() if c not in columns})
    for field, column in used.items():
        if column in columns:
            session[state.mapping_key(dataset.name, field)] = column
    for field, value in constants.items():
        session[state.mapping_key(dataset.name, field)] = SAME
        session[state.constant_key(dataset.name, field)] = value
    for field, recoding in recodings.items():
        for raw_value, target in recoding.items():
            session[state.value_key(dataset.name, field, raw_value)] = target
        session[state.values_confirmed_key(dataset.name, field)] = True
    return {
        "columns": sum(1 for c in used.values() if c in columns),
        "constants": len(constants),
        "values": sum(len(r) for r in recodings.values()),
        "missing": missing,
    }


def _reuse_saved_mapping(columns: list[str], dataset: Dataset, state: ImportState) -> None:
    """The "reuse a saved mapping" uploader: a new file fills the editor once, and the page says what it did."""
    saved_file = st.file_uploader(ui.tr("import.mapping_upload"), type=["json"], key=state.MAPPING_FILE)
    if saved_file is None:
        return
    applied = state.session.get(state.MAPPING_APPLIED)
    if not isinstance(applied, dict) or applied.get("file_id") != (saved_file.file_id, dataset.name):
        try:
            done = _apply_saved(mapping.parse_saved_mapping(saved_file.getvalue()), columns, dataset, state)
        except CartoError as exc:
            done = {"error": str(exc)}
        applied = {"file_id": (saved_file.file_id, dataset.name), **done}
        state.session[state.MAPPING_APPLIED] = applied
    with st.container(key=state.MAPPING_NOTE):
        if "error" in applied:
            st.error(ui.tr("import.mapping_error", error=applied["error"]))
            return
        st.success(ui.tr("import.mapping_applied", name=saved_file.name, columns=applied["columns"],
                         constants=applied["constants"], values=applied["values"]))
        if applied["missing"]:
            st.warning(ui.tr("import.mapping_missing_columns", columns=", ".join(applied["missing"])))


def _constant_input(cell: Any, dataset: Dataset, field: str, state: ImportState, lang: str) -> str:
    """The value every row gets for ``field``: one of its allowed values, or a text."""
    label = ui.tr("import.same_value", field=preview.field_label(field, lang))
    key = state.constant_key(dataset.name, field)
    choices = dataset.column(field).choices
    if choices is None:
        return str(cell.text_input(label, key=key)).strip()
    options = ["", *choices]
    if state.session.get(key) not in options:
        state.session[key] = ""
    return str(cell.selectbox(label, options, key=key,
                              format_func=lambda v: i18n.label(v, lang) if v else ui.tr("import.choose")))


def _column_label(column: str) -> str:
    if not column:
        return ui.tr("import.mapping_none")
    return ui.tr("import.mapping_same") if column == SAME else column


def _column_choices(raw: RawTable, dataset: Dataset, state: ImportState, lang: str) -> tuple[dict, dict]:
    """One selectbox per field: a column of the file, none, or the same value for every row."""
    columns = uploads.file_columns(raw)
    _reuse_saved_mapping(columns, dataset, state)
    suggested = pipeline.suggest(columns, dataset)
    grid = st.columns(3)
    chosen: dict[str, str] = {}
    constants: dict[str, str] = {}
    for i, field in enumerate(mapping.mapping_fields(dataset.name)):
        key = state.mapping_key(dataset.name, field)
        same = [] if field in mapping.COORDINATE_FIELDS or SAME in columns else [SAME]
        options = ["", *same, *columns]
        if state.session.get(key) not in options:
            state.session[key] = suggested.get(field, "")
        cell = grid[i % 3]
        choice = cell.selectbox(
            preview.field_label(field, lang),
            options,
            format_func=_column_label,
            key=key,
        )
        if choice == SAME:
            value = _constant_input(cell, dataset, field, state, lang)
            if value:
                constants[field] = value
        chosen[field] = "" if choice == SAME else choice
    return chosen, constants


def _value_recoding(
    raw: RawTable, dataset: Dataset, field: str, column: str, state: ImportState, lang: str
) -> dict[str, str] | None:
    """The file's values of ``field`` that are not allowed as they are, each with a suggestion the user
    confirms or changes; the recoding once confirmed, else None."""
    found = [c for c in values.value_choices(raw.frame[column], field, dataset=dataset.name) if not c.accepted]
    if not found:
        return None
    label = preview.field_label(field, lang)
    choices = dataset.column(field).choices or ()
    st.markdown("**" + ui.tr("import.values_title", field=label) + "**")
    st.caption(ui.tr("import.values_help", allowed=", ".join(i18n.label(c, lang) for c in choices)))
    grid = st.columns(3)
    picked: dict[str, str] = {}
    for i, choice in enumerate(found):
        key = state.value_key(dataset.name, field, choice.raw)
        options = ["", *choices]
        if state.session.get(key) not in options:
            state.session[key] = choice.suggested or ""
        target = grid[i % 3].selectbox(
            ui.tr("import.value_label", value=choice.raw, rows=choice.rows),
            options,
            format_func=lambda v: i18n.label(v, lang) if v else ui.tr("import.value_unchanged"),
            key=key,
        )
        if target:
            picked[choice.raw] = str(target)
    confirmed = st.checkbox(ui.tr("import.values_confirm", field=label),
                            key=state.values_confirmed_key(dataset.name, field))
    return picked if confirmed else None


def mapping_editor(raw: RawTable, dataset: Dataset, state: ImportState, lang: str) -> mapping.SavedMapping:
    """The columns, the constants and the value recoding the user chose; prefilled from the column
    names, the file's values or an uploaded mapping. Downloadable as JSON (the CLI's ``--mapping``).

    ``""`` is the user's "none": it removes a suggestion.
    """
    st.caption(ui.tr("import.mapping_help"))
    chosen, constants = _column_choices(raw, dataset, state, lang)
    recodings: dict[str, dict[str, str]] = {}
    for field in values.value_fields(dataset):
        column = chosen.get(field)
        if column and field not in constants:
            recoding = _value_recoding(raw, dataset, field, column, state, lang)
            if recoding:
                recodings[field] = recoding
    result = mapping.SavedMapping(chosen, constants, recodings)
    st.download_button(
        ui.tr("import.mapping_download"),
        mapping.SavedMapping({k: v for k, v in chosen.items() if v}, constants, recodings).to_json(),
        f"mapping-{dataset.name}.json",
        mime="application/json",
        key=state.MAPPING_DOWNLOAD,
    )
    return result


def cog_notes(prepared: pipeline.Prepared, state: ImportState) -> None:
    """What the COG filled in a territories file, and the offer to create the missing parents."""
    if not (prepared.cog_notes or prepared.missing_parents):
        return
    with st.container(key=state.COG_NOTES):
        for note in prepared.cog_notes:
            st.warning(ui.tr(f"import.cog.{note.code}", count=note.count, examples=note.examples))
        if prepared.missing_parents:
            st.checkbox(ui.tr("import.create_parents", count=prepared.missing_parents), key=state.CREATE_PARENTS)
        if prepared.parents_created:
            st.info(ui.tr("import.parents_created", count=prepared.parents_created))


def report(prepared: pipeline.Prepared, report: Report, state: ImportState, lang: str, name: str) -> Any:
    """The check report: its figures and problems in the user's language; an empty slot for the
    verdict, which the page fills unless an import just ran."""
    with st.container(key=state.FIGURES):
        for col, (figure, value) in zip(st.columns(4), preview.report_figures(report), strict=True):
            col.metric(ui.tr(f"import.metric.{figure}"), value)
    if report.generated_ids:
        st.info(ui.tr("import.generated_ids", count=report.generated_ids))
    banner = st.empty()
    if report.problems:
        table = preview.report_table(report.to_frame(), lang, mapped=prepared.frame)
        st.container(key=state.PROBLEMS).dataframe(table, hide_index=True)
        st.download_button(ui.tr("import.report_download"), report.to_csv(), f"report-{name}.csv", mime="text/csv",
                           key=state.REPORT_DOWNLOAD)
    return banner


def commit(prepared: pipeline.Prepared, options: pipeline.ImportOptions, user: auth.User) -> bool:
    """Store the checked rows with a progress bar; say what was stored, or why nothing was; True once stored."""
    bar = st.progress(0.0, text=ui.tr("import.progress", step=ui.tr("import.step.check")))

    def progress(fraction: float, step: str) -> None:
        bar.progress(fraction, text=ui.tr("import.progress", step=ui.tr(f"import.step.{step}")))

    try:
        result = pipeline.commit_prepared(ui.connection(), prepared, options, user=user, progress=progress)
    except ImportRefused as exc:
        bar.empty()
        st.error(ui.tr("import.refused_errors", errors=exc.report.errors))
        return False
    except CartoError as exc:
        bar.empty()
        ui.after_write_error(exc)
        st.error(ui.tr("import.refused", error=exc))
        return False
    else:
        ui.committed_here()
        st.success(
            ui.tr(
                "import.done",
                id=result.import_id,
                inserted=result.inserted,
                updated=result.updated,
                deleted=result.deleted,
                skipped=result.skipped,
            )
        )
        if result.relations_removed:
            st.info(ui.tr("import.relations_removed", count=result.relations_removed))
        return True


def undo_shown_import(import_id: int, user: auth.User) -> None:
    """The data page's undo button: undo the import it was shown with, never another one.

    An import that landed since is refused by :func:`carto.ingest.commit.undo_import`; the outcome
    waits in the session for the next run (:meth:`DataState.outcome`).
    """
    try:
        st.session_state[DataState.UNDO_DONE] = undo_import(ui.connection(), import_id, user)
    except CartoError as exc:
        ui.after_write_error(exc)
        st.session_state[DataState.UNDO_REFUSED] = str(exc)

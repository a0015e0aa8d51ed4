"""The import page's compound widgets: the mapping editor and the commit with its progress bar."""

from __future__ import annotations

import json

import streamlit as st

from carto import auth, ui
from carto.errors import CartoError
from carto.ingest import mapping, pipeline, uploads
from carto.ingest.commit import ImportRefused, undo_import
from carto.ingest.read import RawTable
from carto.model import Dataset
from carto.render import preview
from carto.ui.state import DataState, ImportState


def mapping_editor(raw: RawTable, dataset: Dataset, state: ImportState, lang: str) -> dict[str, str]:
    """One selectbox per field, prefilled from the column names or an uploaded mapping; the chosen columns.

    ``""`` is the user's "none": it removes a suggestion. The mapping can be downloaded as JSON.
    """
    st.caption(ui.tr("import.mapping_help"))
    saved = st.file_uploader(ui.tr("import.mapping_upload"), type=["json"], key=state.MAPPING_FILE)
    try:
        overrides = mapping.parse_mapping(saved.getvalue()) if saved is not None else {}
    except CartoError as exc:
        st.error(ui.tr("import.mapping_error", error=exc))
        overrides = {}
    columns = ["", *uploads.file_columns(raw)]
    suggested = {**pipeline.suggest(columns[1:], dataset), **overrides}
    grid = st.columns(3)
    chosen = {
        field: grid[i % 3].selectbox(
            preview.field_label(field, lang),
            columns,
            index=columns.index(suggested[field]) if suggested.get(field) in columns else 0,
            format_func=lambda c: c or ui.tr("import.mapping_none"),
            key=state.mapping_key(dataset.name, field),
        )
        for i, field in enumerate(mapping.mapping_fields(dataset.name))
    }
    st.download_button(
        ui.tr("import.mapping_download"),
        json.dumps({k: v for k, v in chosen.items() if v}),
        f"mapping-{dataset.name}.json",
        mime="application/json",
        key=state.MAPPING_DOWNLOAD,
    )
    return chosen


def commit(prepared: pipeline.Prepared, options: pipeline.ImportOptions, user: auth.User) -> None:
    """Store the checked rows with a progress bar; say what was stored, or why nothing was."""
    bar = st.progress(0.0, text=ui.tr("import.progress", step=ui.tr("import.step.check")))

    def progress(fraction: float, step: str) -> None:
        bar.progress(fraction, text=ui.tr("import.progress", step=ui.tr(f"import.step.{step}")))

    try:
        result = pipeline.commit_prepared(ui.connection(), prepared, options, user=user, progress=progress)
    except (ImportRefused, CartoError) as exc:
        bar.empty()
        ui.after_write_error(exc)
        st.error(ui.tr("import.refused", error=exc))
    else:
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

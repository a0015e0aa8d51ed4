"""Data page: edits of records with their history and undo, the imports audit trail, undo of the last
import, downloads of every table."""

from __future__ import annotations

import streamlit as st

from carto import i18n, store, ui
from carto.model import DATASETS
from carto.render import export
from carto.store.imports import undoable_import
from carto.ui import cache
from carto.ui import edits as edit_ui
from carto.ui.imports import undo_shown_import
from carto.ui.state import DataState as keys

user, lang = ui.page_guard("undo"), ui.language()
st.title(ui.tr("data.title"))

st.subheader(ui.tr("edit.title"))
edit_ui.edit_form(user)
st.subheader(ui.tr("edit.audit"))
edit_ui.undo_and_audit(user)

st.subheader(ui.tr("data.imports"))
imports = store.list_imports(ui.cursor())
if imports.empty:
    st.info(ui.tr("data.no_imports"))
else:
    st.dataframe(imports, hide_index=True, width="stretch")

st.subheader(ui.tr("data.undo"))
last = undoable_import(ui.cursor())
if last is None:
    st.caption(ui.tr("data.nothing_to_undo"))
else:
    st.write(
        ui.tr(
            "data.undo_what",
            id=last["id"],
            dataset=ui.tr(f"dataset.{last['dataset']}"),
            file=last["file_name"],
            user=last["username"],
            when=f"{last['imported_at']:%Y-%m-%d %H:%M}",
        )
    )
    keys.confirm_for(last["id"])  # a confirmation is for one import only
    confirmed = st.checkbox(ui.tr("data.undo_confirm"), key=keys.UNDO_CONFIRM)
    st.button(ui.tr("data.undo"), disabled=not confirmed, key=keys.UNDO_BUTTON, on_click=undo_shown_import,
              args=(int(last["id"]), user))
undone, refused = keys.outcome()
if undone is not None:
    st.success(ui.tr("data.undo_done", id=undone))
if refused is not None:
    st.error(ui.tr("data.undo_refused", error=refused))

st.subheader(ui.tr("data.downloads"))
names = [*DATASETS, export.NETWORK]
left, right = st.columns(2)
name = left.selectbox(
    ui.tr("data.download_dataset"),
    names,
    format_func=lambda n: i18n.t("data.network" if n == export.NETWORK else f"dataset.{n}", lang),
    key=keys.DOWNLOAD_DATASET,
)
formats = export.GRAPH_FORMATS if name == export.NETWORK else export.TABLE_FORMATS
fmt = right.selectbox(ui.tr("data.download_format"), formats, key=keys.DOWNLOAD_FORMAT)
shown = ui.tr("data.network") if name == export.NETWORK else ui.tr(f"dataset.{name}")
st.download_button(
    ui.tr("data.download", name=shown, format=fmt),
    data=cache.export_bytes(name, fmt, ui.data_version(), store.default_db()),
    file_name=f"{name}.{fmt}",
    mime=export.MEDIA_TYPES[fmt],
    key=keys.DOWNLOAD_BUTTON,
)

"""Data page: the imports audit trail, undo of the last import, downloads of every table."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from carto import auth, store, ui
from carto.errors import CartoError
from carto.ingest.commit import undo_import
from carto.model import DATASETS
from carto.render import export
from carto.store.imports import undoable_import

UNDO_SHOWN = "undo_shown_id"  # the import the confirmation box refers to


def _undo(import_id: int, user: auth.User) -> None:
    # Bound to the import shown when the button was drawn: another import that landed since is
    # refused by undo_import, never undone in its place.
    try:
        st.session_state["undo_done"] = undo_import(ui.connection(), import_id, user)
    except CartoError as exc:
        ui.after_write_error(exc)
        st.session_state["undo_refused"] = str(exc)


@st.cache_data(max_entries=8, show_spinner=False)
def _export_bytes(name: str, fmt: str, version: int, db: str) -> bytes:
    # ``version`` and ``db`` key the cache: a commit or another database means a new file.
    del version, db
    frames = store.read_datasets(ui.cursor(), export.datasets_needed(name, fmt))
    with tempfile.TemporaryDirectory(prefix="carto-export-") as tmp:
        return export.export_bytes(frames, name, fmt, Path(tmp))


user = ui.page_guard("undo")
st.title(ui.tr("data.title"))

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
    if st.session_state.get(UNDO_SHOWN) != last["id"]:  # a confirmation is for one import only
        st.session_state[UNDO_SHOWN] = last["id"]
        st.session_state["undo_confirm"] = False
    confirmed = st.checkbox(ui.tr("data.undo_confirm"), key="undo_confirm")
    st.button(
        ui.tr("data.undo"), disabled=not confirmed, key="undo_button", on_click=_undo, args=(int(last["id"]), user)
    )
if "undo_done" in st.session_state:
    st.success(ui.tr("data.undo_done", id=st.session_state.pop("undo_done")))
if "undo_refused" in st.session_state:
    st.error(ui.tr("data.undo_refused", error=st.session_state.pop("undo_refused")))

st.subheader(ui.tr("data.downloads"))
names = [*DATASETS, export.NETWORK]
left, right = st.columns(2)
name = left.selectbox(
    ui.tr("data.download_dataset"),
    names,
    format_func=lambda n: ui.tr("data.network") if n == export.NETWORK else ui.tr(f"dataset.{n}"),
    key="download_dataset",
)
formats = export.GRAPH_FORMATS if name == export.NETWORK else export.TABLE_FORMATS
fmt = right.selectbox(ui.tr("data.download_format"), formats, key="download_format")
shown = ui.tr("data.network") if name == export.NETWORK else ui.tr(f"dataset.{name}")
st.download_button(
    ui.tr("data.download", name=shown, format=fmt),
    data=_export_bytes(name, fmt, ui.data_version(), str(store.default_db_path())),
    file_name=f"{name}.{fmt}",
    mime=export.MEDIA_TYPES[fmt],
    key="download_button",
)

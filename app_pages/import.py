"""Import page: upload → layer → mapping → CRS → preview → checks → commit (the CLI's code path)."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from carto import i18n, ui
from carto.errors import CartoError
from carto.ingest import pipeline
from carto.ingest.safety import limits_from_env
from carto.model import DATASETS, IMPORT_MODES
from carto.render import preview
from carto.ui import imports
from carto.ui.state import ImportState

user, state, limits, lang = ui.page_guard("import"), ImportState(), limits_from_env(), ui.language()
st.title(ui.tr("import.title"))
st.caption(ui.tr("import.intro"))
asked = st.query_params.get("dataset")  # /import?dataset=actors opens on that dataset
name = st.selectbox(ui.tr("import.dataset"), list(DATASETS), key=state.DATASET,
                    index=list(DATASETS).index(asked) if asked in DATASETS else 0,
                    format_func=lambda n: i18n.t(f"dataset.{n}", lang))
dataset = DATASETS[name]
uploaded = st.file_uploader(ui.tr("import.file"), key=state.FILE)
try:
    if uploaded is not None:
        state.remember_upload(uploaded.getvalue(), uploaded.name, file_id=uploaded.file_id, limits=limits)
    if (upload := state.current_upload()) is None:
        st.info(ui.tr("import.waiting"))
        st.stop()
    encoding = imports.encoding_choice(upload["name"], state)
    raw = imports.read_table(upload, state.layer, encoding)
    if pipeline.detected_format(raw, dataset) != "plain" and st.checkbox(
            ui.tr("import.datainclusion"), value=True, key=state.DATAINCLUSION):
        raw = pipeline.as_format(raw, dataset, "data-inclusion")
except CartoError as exc:
    st.error(ui.tr("import.read_error", error=exc))
    st.stop()

if len(raw.layers) > 1:
    st.selectbox(ui.tr("import.layer"), raw.layers, index=raw.layers.index(raw.layer or raw.layers[0]), key=state.LAYER)
st.caption(ui.tr("import.rows_read", rows=len(raw.frame), name=raw.original_name, format=raw.format))
imports.reading_notes(raw, encoding, state)

with st.expander(ui.tr("import.mapping"), expanded=True):
    chosen = imports.mapping_editor(raw, dataset, state, lang)

left, middle, right = st.columns(3)
mode = left.selectbox(ui.tr("import.mode"), IMPORT_MODES, format_func=lambda m: i18n.t(f"import.mode.{m}", lang),
                      key=state.MODE)
repair = middle.checkbox(ui.tr("import.repair"), key=state.REPAIR)
skip_invalid = right.checkbox(ui.tr("import.skip_invalid"), key=state.SKIP_INVALID)
imports.stop_unless_placeable(raw, dataset, chosen.columns, lang)
create_parents = bool(st.session_state.get(state.CREATE_PARENTS, False))  # the box below, as last run
drop_relations = mode == "replace" and name in ("actors", "places") and st.checkbox(
    ui.tr("import.drop_relations"), key=state.DROP_RELATIONS)
try:
    prepared = pipeline.prepare_raw(raw, dataset=dataset, conn=ui.connection(), mapping_overrides=chosen.columns,
                                    crs=state.crs, repair=repair, mode=mode, constants=chosen.constants,
                                    values=chosen.values, create_parents=create_parents)
except CartoError as exc:
    st.error(ui.tr("import.mapping_error", error=exc))
    st.stop()

if prepared.needs_crs:
    guess = prepared.crs_guess
    st.warning(ui.tr("import.crs_missing", guess=guess) if guess else ui.tr("import.crs_unknown"))
    crs_text = st.text_input(ui.tr("import.crs"), value=guess or "", key=state.CRS_TEXT)
    if st.button(ui.tr("import.crs_confirm"), key=state.CRS_CONFIRM):
        state.confirm_crs(crs_text)
        st.rerun()
    st.stop()
report = prepared.checked_report()
imports.cog_notes(prepared, state)

st.subheader(ui.tr("import.preview"))
if dataset.geometry is not None:
    st.caption(ui.tr("import.preview_note", shown=min(preview.PREVIEW_FEATURES, report.rows), rows=report.rows))
    st_folium(preview.preview_map(report.frame, tiles=state.preview_tiles(), lang=lang), height=360,
              returned_objects=[], key=state.MAP)
st.container(key=state.PREVIEW).dataframe(preview.preview_table(report.frame, lang=lang), hide_index=True)

st.subheader(ui.tr("import.report"))
banner = imports.report(prepared, report, state, lang, name)
committed = False
if st.button(ui.tr("import.commit"), type="primary", key=state.COMMIT):
    options = pipeline.ImportOptions(original_name=raw.original_name, mode=mode, repair=repair,
                                     skip_invalid=skip_invalid, create_parents=create_parents, limits=limits,
                                     drop_relations=drop_relations)
    with st.container(key=state.OUTCOME):
        committed = imports.commit(prepared, options, user)
if not committed:  # after an import, its outcome says what happened: no banner about the file before it
    with banner:
        if report.ok:
            st.success(ui.tr("import.report_ok"))
        else:
            st.error(ui.tr("import.report_errors", errors=report.errors))

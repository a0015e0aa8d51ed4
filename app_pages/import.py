"""Import page: upload → layer → mapping → CRS → preview → checks → commit (the CLI's code path)."""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st
from streamlit_folium import st_folium

from carto import ui
from carto.errors import CartoError
from carto.ingest import flow, pipeline
from carto.ingest.commit import ImportRefused
from carto.ingest.read import RawTable
from carto.ingest.safety import limits_from_env
from carto.model import DATASETS, IMPORT_MODES

LIMITS = limits_from_env()


# Parsed files are kept briefly and few (each is bounded by CARTO_MAX_RESULT_MB): a rerun of the
# page reuses its file, an abandoned upload does not hold memory for long.
@st.cache_resource(max_entries=2, ttl=900, show_spinner=False)
def _read(path: str, name: str, layer: str | None, encoding: str | None) -> RawTable:
    return pipeline.read(Path(path), original_name=name, layer=layer, encoding=encoding, limits=LIMITS)


user = ui.page_guard("import")
st.title(ui.tr("import.title"))
st.caption(ui.tr("import.intro"))
asked = st.query_params.get("dataset")  # /import?dataset=actors opens on that dataset
name = st.selectbox(
    ui.tr("import.dataset"),
    list(DATASETS),
    index=list(DATASETS).index(asked) if asked in DATASETS else 0,
    format_func=lambda n: ui.tr(f"dataset.{n}"),
    key="import_dataset",
)
dataset = DATASETS[name]
uploaded = st.file_uploader(ui.tr("import.file"), key="import_file")
try:
    if uploaded is not None:
        flow.remember_upload(
            st.session_state, uploaded.getvalue(), uploaded.name, file_id=uploaded.file_id, limits=LIMITS
        )
    upload = flow.current_upload(st.session_state)
    if upload is None:
        st.info(ui.tr("import.waiting"))
        st.stop()
    raw = _read(upload["path"], upload["name"], st.session_state.get("import_layer"), None)
except CartoError as exc:
    st.error(ui.tr("import.read_error", error=exc))
    st.stop()

if len(raw.layers) > 1:
    st.selectbox(
        ui.tr("import.layer"),
        raw.layers,
        index=raw.layers.index(raw.layer or raw.layers[0]),
        key="import_layer",
    )
st.caption(ui.tr("import.rows_read", rows=len(raw.frame), name=raw.original_name, format=raw.format))
for note in raw.warnings:
    st.warning(note)

with st.expander(ui.tr("import.mapping"), expanded=True):
    st.caption(ui.tr("import.mapping_help"))
    saved = st.file_uploader(ui.tr("import.mapping_upload"), type=["json"], key="import_mapping_file")
    try:
        overrides = flow.mapping_from_json(saved.getvalue()) if saved is not None else {}
    except CartoError as exc:
        st.error(ui.tr("import.mapping_error", error=exc))
        overrides = {}
    columns = ["", *flow.file_columns(raw)]
    suggested = {**pipeline.suggest(columns[1:], dataset), **overrides}
    grid = st.columns(3)
    chosen = {  # "" is the user's "none": it removes a suggestion
        field: grid[i % 3].selectbox(
            flow.field_label(field, ui.language()),
            columns,
            index=columns.index(suggested[field]) if suggested.get(field) in columns else 0,
            format_func=lambda c: c or ui.tr("import.mapping_none"),
            key=f"map_{name}_{field}",
        )
        for i, field in enumerate(flow.mapping_fields(dataset))
    }
    st.download_button(
        ui.tr("import.mapping_download"),
        json.dumps({k: v for k, v in chosen.items() if v}),
        f"mapping-{name}.json",
        mime="application/json",
        key="import_mapping_download",
    )

left, middle, right = st.columns(3)
mode = left.selectbox(
    ui.tr("import.mode"), IMPORT_MODES, format_func=lambda m: ui.tr(f"import.mode.{m}"), key="import_mode"
)
repair = middle.checkbox(ui.tr("import.repair"), key="import_repair")
skip_invalid = right.checkbox(ui.tr("import.skip_invalid"), key="import_skip_invalid")
try:
    prepared = pipeline.prepare_raw(
        raw,
        dataset=dataset,
        conn=ui.connection(),
        mapping_overrides=chosen,
        crs=st.session_state.get("import_crs"),
        repair=repair,
        mode=mode,
    )
except CartoError as exc:
    st.error(ui.tr("import.mapping_error", error=exc))
    st.stop()

if prepared.needs_crs:
    guess = prepared.crs_guess
    st.warning(ui.tr("import.crs_missing", guess=guess) if guess else ui.tr("import.crs_unknown"))
    crs_text = st.text_input(ui.tr("import.crs"), value=guess or "", key="import_crs_text")
    if st.button(ui.tr("import.crs_confirm"), key="import_crs_confirm"):
        st.session_state["import_crs"] = crs_text.strip()
        st.rerun()
    st.stop()
report = prepared.checked_report()

st.subheader(ui.tr("import.preview"))
if dataset.geometry is not None:
    st.caption(ui.tr("import.preview_note", shown=min(flow.PREVIEW_FEATURES, report.rows), rows=report.rows))
    tiles = flow.preview_tiles(st.session_state.get("tiles"))
    st_folium(flow.preview_map(report.frame, tiles=tiles), height=360, returned_objects=[], key="import_map")
st.dataframe(flow.preview_table(report.frame), hide_index=True)

st.subheader(ui.tr("import.report"))
for col, (figure, value) in zip(st.columns(4), flow.report_figures(report), strict=True):
    col.metric(ui.tr(f"import.metric.{figure}"), value)
if report.generated_ids:
    st.info(ui.tr("import.generated_ids", count=report.generated_ids))
if report.ok:
    st.success(ui.tr("import.report_ok"))
else:
    st.error(ui.tr("import.report_errors", errors=report.errors))
if report.problems:
    st.dataframe(flow.report_table(report, ui.language()), hide_index=True)
    st.download_button(
        ui.tr("import.report_download"),
        report.to_csv(),
        f"report-{name}.csv",
        mime="text/csv",
        key="import_report_download",
    )

if st.button(ui.tr("import.commit"), type="primary", key="import_commit"):
    bar = st.progress(0.0, text=ui.tr("import.progress", step=ui.tr("import.step.check")))

    def _progress(fraction: float, step: str) -> None:
        bar.progress(fraction, text=ui.tr("import.progress", step=ui.tr(f"import.step.{step}")))

    choice = pipeline.ImportOptions(
        original_name=raw.original_name, mode=mode, repair=repair, skip_invalid=skip_invalid, limits=LIMITS
    )
    try:
        result = pipeline.commit_prepared(ui.connection(), prepared, choice, user=user, progress=_progress)
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

"""Administration (admins only): settings in force, backups (taken and downloaded here), snapshots."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from carto import store, ui
from carto.errors import CartoError
from carto.render import offline
from carto.store import backup

LAST_BACKUP = "admin_last_backup"  # path of the backup this session took, offered for download


def _files_table(paths: list[Path]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            ui.tr("admin.file"): [p.name for p in paths],
            ui.tr("admin.size_mb"): [round(p.stat().st_size / 1e6, 1) for p in paths],
        }
    )


user = ui.page_guard("settings")
st.title(ui.tr("admin.title"))

db_path = store.default_db_path().absolute()
cur = ui.cursor()
st.subheader(ui.tr("admin.settings"))
st.table(
    pd.DataFrame(
        {
            ui.tr("admin.setting"): [
                ui.tr("admin.database"),
                ui.tr("admin.schema"),
                ui.tr("admin.data_version"),
                ui.tr("admin.sign_in"),
                ui.tr("map.tiles"),
            ],
            ui.tr("admin.value"): [
                str(db_path),
                str(store.schema_version(cur)),
                str(store.data_version(cur)),
                ui.tr("admin.sign_in.on") if ui.auth_configured() else ui.tr("admin.sign_in.off"),
                ui.tr(f"map.tiles.{offline.default_tiles()}"),
            ],
        }
    )
)

st.subheader(ui.tr("admin.snapshots"))
backup.start_scheduled_backups(ui.connection())  # once per process; nothing when not configured
try:
    every = backup.backup_interval()
    st.caption(ui.tr("admin.backups_explain", folder=str(store.backup_dir(db_path)), keep=backup.keep_backups()))
    if every is None:
        st.caption(ui.tr("admin.backup_schedule_off"))
    else:
        st.caption(ui.tr("admin.backup_schedule_on", hours=f"{every.total_seconds() / 3600:g}"))
except CartoError as exc:
    st.error(ui.md(exc))
if st.button(ui.tr("admin.snapshot_now"), key="snapshot_now"):
    try:
        made = backup.backup(ui.connection(), None, user)
    except CartoError as exc:
        ui.after_write_error(exc)
        st.error(ui.tr("admin.backup_failed", error=str(exc)))
    else:
        if made is not None:
            st.session_state[LAST_BACKUP] = str(made)
            st.success(ui.tr("admin.snapshot_done", name=backup.download_name(db_path, made)))
last = Path(st.session_state.get(LAST_BACKUP, "")) if st.session_state.get(LAST_BACKUP) else None
if last is not None and last.is_file():
    st.download_button(
        ui.tr("admin.backup_download", name=backup.download_name(db_path, last)),
        data=last.read_bytes(),
        file_name=backup.download_name(db_path, last),
        mime="application/octet-stream",
        on_click="ignore",
        key="backup_download",
    )
backups = backup.list_backups(db_path)
if backups:
    st.dataframe(_files_table(backups), hide_index=True)
else:
    st.info(ui.tr("admin.no_snapshot"))

st.subheader(ui.tr("admin.safety_snapshots"))
st.caption(ui.tr("admin.snapshots_explain"))
snapshots = backup.list_snapshots(db_path)
if snapshots:
    st.dataframe(_files_table(snapshots), hide_index=True)
st.caption(ui.tr("admin.restore_help"))

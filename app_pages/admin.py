"""Administration (admins only): settings in force, backups (taken and downloaded here), snapshots."""

from __future__ import annotations

import streamlit as st

from carto import store, ui
from carto.errors import CartoError
from carto.store import backup
from carto.ui import admin
from carto.ui.state import AdminState

user = ui.page_guard("settings")
st.title(ui.tr("admin.title"))

db_path = store.default_db() if store.is_postgres(store.default_db()) else store.default_db_path().absolute()
st.subheader(ui.tr("admin.settings"))
st.table(admin.settings_table(db_path))

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
if st.button(ui.tr("admin.snapshot_now"), key=AdminState.BACKUP_NOW):
    admin.back_up_now(db_path, user)
last = AdminState.last_backup()
if last is not None:
    st.download_button(
        ui.tr("admin.backup_download", name=backup.download_name(db_path, last)),
        data=last.read_bytes(),
        file_name=backup.download_name(db_path, last),
        mime="application/octet-stream",
        on_click="ignore",
        key=AdminState.BACKUP_DOWNLOAD,
    )
backups = backup.list_backups(db_path)
if backups:
    st.dataframe(admin.files_table(backups), hide_index=True)
else:
    st.info(ui.tr("admin.no_snapshot"))

st.subheader(ui.tr("admin.safety_snapshots"))
st.caption(ui.tr("admin.snapshots_explain"))
snapshots = backup.list_snapshots(db_path)
if snapshots:
    st.dataframe(admin.files_table(snapshots), hide_index=True)
st.caption(ui.tr("admin.restore_help"))

"""Administration (admins only): settings in force and database snapshots."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from carto import backup, offline, store, ui

user = ui.page_guard("settings")
st.title(ui.tr("admin.title"))

db_path = store.default_db_path()
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
st.caption(ui.tr("admin.snapshots_explain"))
if st.button(ui.tr("admin.snapshot_now"), key="snapshot_now"):
    made = backup.backup(ui.connection(), None, user)
    st.success(ui.tr("admin.snapshot_done", name=Path(str(made)).name))
snapshots = backup.list_snapshots(db_path)
if snapshots:
    st.dataframe(
        pd.DataFrame(
            {
                ui.tr("admin.file"): [p.name for p in snapshots],
                ui.tr("admin.size_mb"): [round(p.stat().st_size / 1e6, 1) for p in snapshots],
            }
        ),
        hide_index=True,
    )
else:
    st.info(ui.tr("admin.no_snapshot"))
st.caption(ui.tr("admin.restore_help"))

"""The administration page's tables and its "back up now" button."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from carto import auth, store, ui
from carto.errors import CartoError
from carto.render import offline
from carto.store import backup
from carto.ui.state import AdminState


def settings_table(db_path: str | Path) -> pd.DataFrame:
    """The settings in force: database, schema and data versions, sign-in, base tiles."""
    cur = ui.cursor()
    rows = {
        "admin.database": store.describe(db_path),  # a URL without its password
        "admin.schema": str(store.schema_version(cur)),
        "admin.data_version": str(store.data_version(cur)),
        "admin.sign_in": ui.tr("admin.sign_in.on") if ui.auth_configured() else ui.tr("admin.sign_in.off"),
        "map.tiles": ui.tr(f"map.tiles.{offline.default_tiles()}"),
    }
    return pd.DataFrame({ui.tr("admin.setting"): [ui.tr(k) for k in rows], ui.tr("admin.value"): list(rows.values())})


def files_table(paths: list[Path]) -> pd.DataFrame:
    """Backup or snapshot files with their size in MB."""
    return pd.DataFrame(
        {
            ui.tr("admin.file"): [p.name for p in paths],
            ui.tr("admin.size_mb"): [round(p.stat().st_size / 1e6, 1) for p in paths],
        }
    )


def back_up_now(db_path: str | Path, user: auth.User) -> None:
    """Take a backup through the dashboard's own connection (admins only: checked by the store)."""
    try:
        made = backup.backup(ui.connection(), None, user)
    except CartoError as exc:
        ui.after_write_error(exc)
        st.error(ui.tr("admin.backup_failed", error=str(exc)))
        return
    if made is not None:
        st.session_state[AdminState.LAST_BACKUP] = str(made)
        st.success(ui.tr("admin.snapshot_done", name=backup.download_name(db_path, made)))

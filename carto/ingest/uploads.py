"""Uploaded files on the server: where they are kept, for how long, what columns they offer.

An upload is saved under a server-made name in a private folder (:func:`upload_dir`) by
:func:`store_upload`, which also forgets uploads older than a day. The dashboard's session keeps
only the saved file's path (:class:`carto.ui.state.ImportState`).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import geopandas as gpd

from carto.ingest.read import RawTable, save_upload
from carto.ingest.safety import Limits

UPLOAD_MAX_AGE_S = 24 * 3600


def upload_dir() -> Path:
    """A private folder of the server for uploads (``$CARTO_UPLOAD_DIR`` or the temp dir)."""
    base = os.environ.get("CARTO_UPLOAD_DIR") or os.path.join(tempfile.gettempdir(), "carto-uploads")
    path = Path(base)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _forget_old_uploads(folder: Path, *, now: float | None = None) -> None:
    limit = (now or time.time()) - UPLOAD_MAX_AGE_S
    for old in folder.glob("upload-*"):
        if old.is_file() and old.stat().st_mtime < limit:
            old.unlink(missing_ok=True)


def store_upload(data: bytes, original_name: str, *, limits: Limits, folder: Path | None = None) -> Path:
    """Save an upload's bytes in ``folder`` (else :func:`upload_dir`), after forgetting old uploads there."""
    target = folder or upload_dir()
    _forget_old_uploads(target)
    return save_upload(data, original_name, target, limits=limits)


def file_columns(raw: RawTable) -> list[str]:
    """The file's own columns, geometry excluded: the choices of the mapping editor."""
    geometry = raw.frame.geometry.name if isinstance(raw.frame, gpd.GeoDataFrame) else None
    return [str(c) for c in raw.frame.columns if c != geometry]

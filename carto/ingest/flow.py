"""Streamlit-free helpers of the import page: where uploads go, what the page shows.

The page keeps one record of the current upload in its session state under :data:`UPLOAD_KEY`
(``{"path": ..., "name": ..., "file_id": ...}``), written by :func:`remember_upload` from the
uploader's bytes. Tests (AppTest cannot drive ``st.file_uploader``) seed the same record with
:func:`upload_record` after saving a file with :func:`carto.ingest.read.save_upload`; every step after
the upload then runs exactly as for a real one.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from carto import i18n
from carto.ingest import mapping
from carto.ingest.read import RawTable, save_upload
from carto.ingest.safety import Limits
from carto.ingest.validate import Report
from carto.model import Dataset
from carto.render import offline
from carto.render.plain import STYLE_PROPERTY, StyledGeoJson

UPLOAD_KEY = "import_upload"
# Session keys that belong to one file: mapping selectboxes, layer, confirmed CRS.
FILE_CHOICES = ("map_", "import_layer", "import_crs")
PREVIEW_FEATURES = 500
PREVIEW_ROWS = 200
UPLOAD_MAX_AGE_S = 24 * 3600
# Leaflet path options of every previewed feature (points are drawn as circles of this radius).
PREVIEW_STYLE = {"color": "#1f4e9c", "weight": 2, "fillColor": "#1f4e9c", "fillOpacity": 0.5, "radius": 4}


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


def upload_record(path: Path, original_name: str, file_id: str | None = None) -> dict[str, str]:
    """What the session keeps about the current upload."""
    return {"path": str(path), "name": original_name, "file_id": file_id or str(path)}


def remember_upload(
    state: MutableMapping[str, Any] | Any,
    data: bytes,
    original_name: str,
    *,
    file_id: str,
    limits: Limits,
    folder: Path | None = None,
) -> dict[str, str]:
    """Save a new upload's bytes under a server-made name, once per uploaded file.

    A new file forgets the previous file's choices (mapping, layer, confirmed CRS).
    """
    current = state.get(UPLOAD_KEY)
    if isinstance(current, dict) and current.get("file_id") == file_id:
        return current
    for key in [k for k in list(state.keys()) if str(k).startswith(FILE_CHOICES)]:
        del state[key]
    target = folder or upload_dir()
    _forget_old_uploads(target)
    path = save_upload(data, original_name, target, limits=limits)
    state[UPLOAD_KEY] = upload_record(path, original_name, file_id)
    return state[UPLOAD_KEY]


def current_upload(state: MutableMapping[str, Any] | Any) -> dict[str, str] | None:
    """The current upload's record if its file is still there."""
    record = state.get(UPLOAD_KEY)
    if isinstance(record, dict) and Path(record.get("path", "")).is_file():
        return record
    return None


def file_columns(raw: RawTable) -> list[str]:
    """The file's own columns, geometry excluded: the choices of the mapping editor."""
    geometry = raw.frame.geometry.name if isinstance(raw.frame, gpd.GeoDataFrame) else None
    return [str(c) for c in raw.frame.columns if c != geometry]


def mapping_from_json(data: bytes) -> dict[str, str]:
    """A mapping saved by the page or ``--save-mapping``, checked by :func:`carto.ingest.mapping.parse_mapping`."""
    return mapping.parse_mapping(data)


def preview_table(frame: pd.DataFrame, *, rows: int = PREVIEW_ROWS) -> pd.DataFrame:
    """The first mapped rows, geometry as WKT text (what ``st.dataframe`` can show)."""
    head = frame.head(rows)
    out = pd.DataFrame(head.drop(columns=[c for c in ("geometry",) if c in head.columns]))
    if isinstance(head, gpd.GeoDataFrame):
        out[head.geometry.name] = head.geometry.to_wkt(rounding_precision=5)
    return out


def preview_map(frame: gpd.GeoDataFrame, *, tiles: str, features: int = PREVIEW_FEATURES) -> folium.Map:
    """A small offline map of the first ``features`` mapped geometries, zoomed on them.

    The file is untrusted: its values and column names reach the map as text only
    (:class:`carto.render.plain.StyledGeoJson`), never through a template or into HTML.
    """
    shown = frame[frame.geometry.notna() & ~frame.geometry.is_empty].head(features)
    shown = shown[shown.geometry.is_valid]
    m = offline.make_map((46.6, 2.4), 5, tiles=tiles)
    if len(shown):
        x0, y0, x1, y1 = shown.total_bounds
        m.fit_bounds([[y0, x0], [y1, x1]])
        columns = [str(c) for c in shown.columns if c not in ("_row", shown.geometry.name)][:3]
        properties = pd.DataFrame(
            {
                f"f{i}": shown[c].astype("object").map(lambda v: "" if v is None or pd.isna(v) else str(v)).to_numpy()
                for i, c in enumerate(columns)
            }
        )
        properties[STYLE_PROPERTY] = 0
        StyledGeoJson(
            properties,
            shown.geometry.to_numpy(),
            [PREVIEW_STYLE],
            tooltip=[(f"f{i}", c) for i, c in enumerate(columns)],
            circle_points=True,
            name="preview",
        ).add_to(m)
    return m


def report_figures(report: Report) -> list[tuple[str, int]]:
    """The four counts the page shows above the problems."""
    return [
        ("rows", report.rows),
        ("valid", report.valid_rows),
        ("errors", report.errors),
        ("warnings", report.warnings),
    ]


def report_table(report: Report, lang: str) -> pd.DataFrame:
    """The problems with translated headers and codes, for the page's table."""
    table = report.to_frame()
    table["problem"] = table["code"].map(lambda c: i18n.t(f"import.code.{c}", lang))
    table = table[["row", "id", "field", "severity", "problem", "message"]]
    return table.rename(columns={c: i18n.t(f"import.col.{c}", lang) for c in table.columns})


def mapping_fields(dataset: Dataset) -> list[str]:
    """Fields the editor shows: the dataset's columns, then coordinates for point datasets."""
    return list(mapping.mapping_fields(dataset.name))


def field_label(field: str, lang: str) -> str:
    """The field's translated name (``field.<name>`` in the catalogues), else the code name."""
    key = f"field.{field}"
    text = i18n.t(key, lang)
    return field if text == key else text


def preview_tiles(chosen: object) -> str:
    """Base tiles of the preview: the map page's choice, else ``$CARTO_TILES``, else none (offline)."""
    for candidate in (chosen, os.environ.get("CARTO_TILES")):
        if isinstance(candidate, str) and candidate in offline.TILE_CHOICES:
            return candidate
    return "none"

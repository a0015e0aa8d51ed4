"""Load a folder of trusted, project-made files (the embedded sample or a synthetic tier).

The folder holds ``territories`` and ``places`` as GeoJSON or GeoPackage, and ``actors.csv``,
``schemes.csv``, ``relations.csv``; columns as in :mod:`carto.model`. These files are ours, so
they skip the upload checks of :mod:`carto.ingest`; they are still loaded in one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from carto import auth, store
from carto.errors import InputError
from carto.model import CRS, LOAD_ORDER
from carto.store import backup

SAMPLE_DIR = store.PROJECT_DIR / "data" / "sample"

Progress = Callable[[float, str], None]


def _spatial_file(directory: Path, stem: str) -> Path:
    for suffix in (".gpkg", ".geojson"):
        candidate = directory / f"{stem}{suffix}"
        if candidate.exists():
            return candidate
    msg = f"{directory} has no {stem}.gpkg or {stem}.geojson"
    raise InputError(msg)


def _csv_file(directory: Path, stem: str) -> Path:
    path = directory / f"{stem}.csv"
    if not path.exists():
        msg = f"{directory} has no {stem}.csv"
        raise InputError(msg)
    return path


def _read_csv(path: Path) -> pd.DataFrame:
    # Everything as text: the store casts to the column types, so "007" codes stay intact.
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def read_folder(directory: Path) -> dict[str, pd.DataFrame]:
    """Read every dataset of the folder into frames ready for :func:`carto.store.insert_rows`."""
    frames: dict[str, pd.DataFrame] = {}
    for name in ("territories", "places"):
        path = _spatial_file(directory, name)
        gdf = pyogrio.read_dataframe(path)
        frames[name] = gdf.to_crs(CRS) if gdf.crs is not None else gdf.set_crs(CRS)
    actors = _read_csv(_csv_file(directory, "actors"))
    points = gpd.points_from_xy(actors.pop("lon").astype(float), actors.pop("lat").astype(float))
    frames["actors"] = gpd.GeoDataFrame(actors, geometry=points, crs=CRS)
    frames["schemes"] = _read_csv(_csv_file(directory, "schemes"))
    frames["relations"] = _read_csv(_csv_file(directory, "relations"))
    return frames


def folder_digest(directory: Path) -> str:
    """sha256 over the folder's files, in name order: what the audit row records."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_folder(
    conn: store.Connection,
    directory: Path = SAMPLE_DIR,
    *,
    user: auth.User = auth.SYSTEM,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Replace every dataset by the folder's content in one transaction; return row counts.

    ``user`` must be allowed to import; a snapshot of the database file is taken first when the
    database already holds data.
    """
    auth.require(user, "import")
    directory = Path(directory)
    if not directory.is_dir():
        msg = f"{directory} is not a folder"
        raise InputError(msg)
    report = progress or (lambda _fraction, _step: None)
    report(0.0, "read")
    frames = read_folder(directory)
    if not store.is_empty(conn.cursor()):
        backup.snapshot(conn, "before load-sample")
    digest = folder_digest(directory)
    loaded: dict[str, int] = {}
    with store.transaction(conn) as cur:
        # Children first when deleting, parents first when inserting.
        for name in reversed(LOAD_ORDER):
            store.delete_all(cur, name)
        for step, name in enumerate(LOAD_ORDER, start=1):
            loaded[name] = store.insert_rows(cur, name, frames[name])
            report(step / (len(LOAD_ORDER) + 1), name)
        store.assign_territories(cur)
        store.record_import(
            cur,
            username=user.name,
            dataset_name="all",
            file_name=directory.name,
            sha256=digest,
            mode="replace",
            rows_read=sum(len(f) for f in frames.values()),
            rows_inserted=sum(loaded.values()),
        )
    report(1.0, "done")
    return loaded


def ensure_loaded(
    conn: store.Connection,
    directory: Path = SAMPLE_DIR,
    *,
    progress: Progress | None = None,
) -> bool:
    """Fill an empty database from the sample; return True when it loaded something."""
    # Under the write lock, so two sessions opening a new database load it once.
    with store.WRITE_LOCK:
        if not store.is_empty(conn.cursor()):
            return False
        load_folder(conn, directory, progress=progress)
    return True

"""The one import path shared by the CLI and the page: read → map → validate → commit.

:func:`read` parses the upload (in a child process, see :mod:`carto.ingest.read`); :func:`prepare_raw`
maps its columns (suggestion + the user's overrides), builds geometries in EPSG:4326 and validates;
:func:`run_import` chains them and commits. The page keeps the :class:`~carto.ingest.read.RawTable`
between reruns and calls :func:`prepare_raw` as the user edits the mapping; the CLI calls
:func:`run_import`. Both therefore apply the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from carto import store
from carto.errors import InputError
from carto.ingest import mapping as mapping_mod
from carto.ingest.commit import ImportResult, commit, rows_to_store
from carto.ingest.read import RawTable, read_upload
from carto.ingest.safety import DEFAULT_LIMITS, Limits
from carto.ingest.validate import Report, validate
from carto.model import DATASETS, IMPORT_MODES, Dataset

Progress = Callable[[float, str], None]

# Share of the progress bar per step: parsing dominates for big files, then checks, then the commit.
PARSE, CHECK, COMMIT = (0.0, 0.4), (0.4, 0.6), (0.6, 1.0)


@dataclass
class ImportOptions:
    """Everything the user chooses about one import (CLI flags, page widgets)."""

    original_name: str | None = None
    layer: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    crs: str | None = None
    encoding: str | None = None
    mode: str = "append"
    repair: bool = False
    skip_invalid: bool = False
    limits: Limits = DEFAULT_LIMITS


@dataclass
class Prepared:
    """A read, mapped and validated file, ready to commit (or waiting for a CRS confirmation)."""

    raw: RawTable
    dataset: Dataset
    suggested: dict[str, str]
    mapping: dict[str, str]
    crs: str | None
    crs_guess: str | None = None
    frame: pd.DataFrame | None = None
    report: Report | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def needs_crs(self) -> bool:
        """True when the file gives no CRS: the user must confirm :attr:`crs_guess` or give one."""
        return self.frame is None


def _dataset(value: Dataset | str) -> Dataset:
    if isinstance(value, Dataset):
        return value
    if value not in DATASETS:
        msg = f"unknown dataset {value!r}; expected one of: {', '.join(DATASETS)}"
        raise InputError(msg)
    return DATASETS[value]


def _scaled(progress: Progress | None, span: tuple[float, float]) -> Progress:
    low, high = span

    def tell(fraction: float, step: str) -> None:
        if progress is not None:
            progress(low + (high - low) * min(1.0, max(0.0, fraction)), step)

    return tell


def read(
    path: Path,
    *,
    original_name: str,
    layer: str | None = None,
    encoding: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> RawTable:
    """Parse the upload stored at ``path`` (a server-made name) in a child process."""
    return read_upload(Path(path), original_name=original_name, layer=layer, encoding=encoding, limits=limits)


def _coordinates(raw: RawTable, chosen: dict[str, str]) -> tuple[Any, Any] | None:
    """x and y of the file, to guess a missing CRS: from its geometries or its coordinate columns."""
    import geopandas as gpd
    import shapely

    if isinstance(raw.frame, gpd.GeoDataFrame):
        points = shapely.point_on_surface(raw.frame.geometry.dropna().to_numpy())
        return shapely.get_x(points), shapely.get_y(points)
    for xf, yf in (("x", "y"), ("lon", "lat")):
        if xf in chosen and yf in chosen:
            xs = pd.to_numeric(raw.frame[chosen[xf]].astype(str).str.replace(",", "."), errors="coerce")
            ys = pd.to_numeric(raw.frame[chosen[yf]].astype(str).str.replace(",", "."), errors="coerce")
            return xs.dropna().to_numpy(), ys.dropna().to_numpy()
    return None


def prepare_raw(
    raw: RawTable,
    *,
    dataset: Dataset | str,
    conn: store.Connection,
    mapping_overrides: dict[str, str] | None = None,
    crs: str | None = None,
    repair: bool = False,
    mode: str = "append",
) -> Prepared:
    """Map, georeference and validate a read file; never stores anything."""
    ds = _dataset(dataset)
    if mode not in IMPORT_MODES:
        msg = f"unknown import mode {mode!r}; expected one of: {', '.join(IMPORT_MODES)}"
        raise InputError(msg)
    columns = [str(c) for c in raw.frame.columns if c != getattr(raw.frame, "_geometry_column_name", None)]
    suggested = mapping_mod.suggest_mapping(columns, ds)
    chosen = {**suggested, **(mapping_overrides or {})}
    chosen = {k: v for k, v in chosen.items() if v}
    unknown = sorted(set(chosen.values()) - set(columns))
    if unknown:
        msg = f"{raw.original_name} has no column(s) {', '.join(unknown)}; columns are: {', '.join(columns)}"
        raise InputError(msg)
    prepared = Prepared(raw=raw, dataset=ds, suggested=suggested, mapping=chosen, crs=crs or raw.crs)
    if ds.geometry is not None and prepared.crs is None:
        coords = _coordinates(raw, chosen)
        if coords is not None:
            prepared.crs_guess = mapping_mod.guess_crs(*coords)
            return prepared
    cur = conn.cursor()
    territories = None
    if ds.geometry is not None and "territory_code" in chosen:
        territories = store.read_dataset(cur, "territories", columns=["code", "name"])
    frame = mapping_mod.apply_mapping(raw, ds, chosen, crs=prepared.crs, territories=territories)
    prepared.frame = frame
    prepared.report = validate(frame, ds, conn_or_cursor=cur, repair=repair, mode=mode)
    return prepared


def prepare(
    path: Path,
    *,
    dataset: Dataset | str,
    original_name: str,
    conn: store.Connection,
    layer: str | None = None,
    mapping_overrides: dict[str, str] | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    repair: bool = False,
    mode: str = "append",
    limits: Limits = DEFAULT_LIMITS,
) -> Prepared:
    """:func:`read` then :func:`prepare_raw`."""
    raw = read(path, original_name=original_name, layer=layer, encoding=encoding, limits=limits)
    return prepare_raw(
        raw, dataset=dataset, conn=conn, mapping_overrides=mapping_overrides, crs=crs, repair=repair, mode=mode
    )


def crs_refusal(prepared: Prepared) -> str:
    """What to tell a user whose file gives no CRS."""
    guess = prepared.crs_guess
    hint = (
        f"its coordinates look like {guess}: confirm with --crs {guess}"
        if guess
        else "give it with --crs EPSG:N (4326 for longitude/latitude, 2154 for Lambert-93)"
    )
    return f"{prepared.raw.original_name} does not say which coordinate system it uses; {hint}"


def dry_run_result(conn: store.Connection, prepared: Prepared, options: ImportOptions) -> ImportResult:
    """What :func:`commit` would do, computed without writing."""
    assert prepared.report is not None and prepared.frame is not None
    report = prepared.report
    ds = prepared.dataset
    rows = rows_to_store(report.frame, report, skip_invalid=options.skip_invalid)
    cur = conn.cursor()
    updated = deleted = 0
    if options.mode == "replace":
        row = cur.execute(f"SELECT count(*) FROM {ds.name}").fetchone()
        deleted = int(row[0]) if row else 0
    elif options.mode == "upsert":
        keys = pd.DataFrame({"k": rows[ds.key].astype(str).astype("object")})
        cur.register("_dry_keys", keys)
        try:
            row = cur.execute(f'SELECT count(*) FROM {ds.name} WHERE "{ds.key}" IN (SELECT k FROM _dry_keys)').fetchone()
        finally:
            cur.unregister("_dry_keys")
        updated = int(row[0]) if row else 0
    return ImportResult(
        import_id=None,
        dataset=ds.name,
        mode=options.mode,
        rows_read=report.rows,
        inserted=len(rows) - updated,
        updated=updated,
        deleted=deleted,
        skipped=report.rows - len(rows),
        report=report,
        dry_run=True,
    )


def commit_prepared(
    conn: store.Connection,
    prepared: Prepared,
    options: ImportOptions,
    *,
    username: str,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Commit a prepared file (refusing when its CRS is unconfirmed or it has errors)."""
    if prepared.needs_crs or prepared.report is None:
        raise InputError(crs_refusal(prepared))
    if dry_run:
        return dry_run_result(conn, prepared, options)
    return commit(
        conn,
        prepared.dataset,
        prepared.report.frame,
        mode=options.mode,
        username=username,
        file_name=prepared.raw.original_name,
        sha256=prepared.raw.sha256,
        skip_invalid=options.skip_invalid,
        report=prepared.report,
        progress=progress,
    )


def run_import(
    conn: store.Connection,
    path: Path,
    dataset: Dataset | str,
    options: ImportOptions,
    *,
    username: str,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Read, map, validate and commit one file; ``progress(fraction, step)`` sees parse/check/commit."""
    path = Path(path)
    _scaled(progress, PARSE)(0.0, "parse")
    raw = read(
        path,
        original_name=options.original_name or path.name,
        layer=options.layer,
        encoding=options.encoding,
        limits=options.limits,
    )
    _scaled(progress, CHECK)(0.0, "check")
    prepared = prepare_raw(
        raw,
        dataset=dataset,
        conn=conn,
        mapping_overrides=options.mapping,
        crs=options.crs,
        repair=options.repair,
        mode=options.mode,
    )
    tell = _scaled(progress, COMMIT)
    tell(0.0, "commit")
    result = commit_prepared(conn, prepared, options, username=username, progress=tell, dry_run=dry_run)
    if progress is not None:
        progress(1.0, "done")
    return result

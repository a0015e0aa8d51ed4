"""The one import path shared by the CLI and the page: read → map → validate → commit.

:func:`read` parses the upload (in a child process, see :mod:`carto.ingest.read`); :func:`prepare_raw`
maps its columns (suggestion + the user's overrides), builds geometries in EPSG:4326 and validates;
:func:`run_import` chains them and commits. The page keeps the :class:`~carto.ingest.read.RawTable`
between reruns and calls :func:`prepare_raw` as the user edits the mapping; the CLI calls
:func:`run_import`. Both therefore apply the same rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyproj

from carto import auth, store
from carto.errors import InputError
from carto.ingest import cog as cog_mod
from carto.ingest import datainclusion
from carto.ingest import mapping as mapping_mod
from carto.ingest import values as values_mod
from carto.ingest.commit import ImportResult, commit, relations_left_behind, rows_to_store
from carto.ingest.read import RawTable, read_upload
from carto.ingest.safety import DEFAULT_LIMITS, Limits, check_crs_text
from carto.ingest.validate import ERROR, Problem, Report, validate
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
    # The same value on every row ({field: value}) and the confirmed value recoding
    # ({field: {value in the file: vocabulary value}}), see :mod:`carto.ingest.values`.
    constants: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    crs: str | None = None
    encoding: str | None = None
    mode: str = "append"
    repair: bool = False
    skip_invalid: bool = False
    create_parents: bool = False
    limits: Limits = DEFAULT_LIMITS
    # "auto" (data·inclusion when the columns say so), "plain" or "data-inclusion" (see :func:`as_format`)
    file_format: str = "auto"
    services: Path | None = None  # data·inclusion's services file, attached to their structures
    drop_relations: bool = False  # a replace may remove actors/places with the relations that name them


@dataclass
class Prepared:
    """A read, mapped and validated file, ready to commit (or waiting for a CRS confirmation)."""

    raw: RawTable
    dataset: Dataset
    suggested: dict[str, str]
    mapping: dict[str, str]
    crs: str | None
    crs_guess: str | None = None
    crs_candidates: list[str] = field(default_factory=list)
    frame: pd.DataFrame | None = None
    report: Report | None = None
    notes: list[str] = field(default_factory=list)
    # Territories only: what the embedded COG filled in, and the EPCIs/départements it could create.
    cog_notes: list[cog_mod.CogNote] = field(default_factory=list)
    missing_parents: int = 0
    parents_created: int = 0

    def checked_report(self) -> Report:
        """The validation report; :class:`InputError` while the CRS is unconfirmed."""
        if self.report is None:
            raise InputError(crs_refusal(self))
        return self.report

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
    """Parse the upload stored at ``path`` in a child process (see :func:`carto.ingest.read.read_upload`)."""
    return read_upload(Path(path), original_name=original_name, layer=layer, encoding=encoding, limits=limits)


FILE_FORMATS = ("auto", "plain", datainclusion.FORMAT)


def detected_format(raw: RawTable, dataset: Dataset | str) -> str:
    """``data-inclusion`` when ``raw`` is a data·inclusion structures file and ``dataset`` is actors, else ``plain``."""
    if _dataset(dataset).name == "actors" and raw.schema == datainclusion.STRUCTURES:
        return datainclusion.FORMAT
    return "plain"


def as_format(raw: RawTable, dataset: Dataset | str, file_format: str, services: RawTable | None = None) -> RawTable:
    """``raw`` as the import reads it: data·inclusion structures become the actors' columns.

    ``file_format`` is ``auto`` (:func:`detected_format`), ``plain`` (the file's columns as they are)
    or ``data-inclusion`` (refused when the file is not a structures file of the schema, or the
    dataset not actors). ``services``: the schema's services file, read like any upload.
    """
    if file_format not in FILE_FORMATS:
        msg = f"unknown file format {file_format!r}; expected one of: {', '.join(FILE_FORMATS)}"
        raise InputError(msg)
    wanted = detected_format(raw, dataset) if file_format == "auto" else file_format
    if wanted == "plain":
        return raw
    if _dataset(dataset).name != "actors" or raw.schema != datainclusion.STRUCTURES:
        msg = (
            f"{raw.original_name} cannot be read as data·inclusion structures for {_dataset(dataset).name}: "
            "the format imports the schema's structures file (columns id, nom, source, date_maj, "
            "reseaux_porteurs...) as actors"
        )
        raise InputError(msg)
    if services is not None and services.schema != datainclusion.SERVICES:
        msg = f"{services.original_name} is not a data·inclusion services file (columns id, structure_id, nom...)"
        raise InputError(msg)
    frame, notes = datainclusion.structures_as_actors(raw.frame, services.frame if services is not None else None)
    return dataclasses.replace(raw, frame=frame, warnings=[*raw.warnings, *notes])


def _schema_problems(raw: RawTable, report: Report) -> list[Problem]:
    """The rows the data·inclusion schema refused, as errors of the report (rows as the report counts them)."""
    if datainclusion.SCHEMA_COLUMN not in raw.frame.columns:
        return []
    found = raw.frame[datainclusion.SCHEMA_COLUMN].to_numpy(dtype=object)
    key = DATASETS[report.dataset].key
    rows, ids = report.frame["_row"].to_numpy(), report.frame[key].to_numpy(dtype=object)
    return [
        Problem(int(rows[i]), None if ids[i] is None else str(ids[i]), "id", ERROR, "schema_invalid",
                f"not a valid data·inclusion row: {found[i]}")
        for i in range(len(found))
        if isinstance(found[i], str)
    ]


def check_user_crs(crs: str | None, file_name: str) -> str | None:
    """The CRS a user typed (``--crs``, the page's box), refused when it is not an EPSG code, WKT or
    PROJJSON free of grid and file references (PROJ would open them in the server process)."""
    if crs is None or not crs.strip():
        return None
    return check_crs_text(
        crs,
        whose=f"{file_name}: the coordinate system you gave",
        fix="give it as EPSG:N, e.g. EPSG:2154 for Lambert-93 or EPSG:4326 for longitude/latitude",
    )


def suggest(columns: list[str], dataset: Dataset | str) -> dict[str, str]:
    """The mapping suggested from the file's column names (``{field: column}``)."""
    return dict(mapping_mod.suggest_mapping(columns, _dataset(dataset).name))


def _crs_candidates(raw: RawTable, chosen: dict[str, str], crs: str | None) -> list[str] | None:
    """None when the geometry's CRS is known; else the CRS its coordinates fit, best first (maybe none).

    Longitude/latitude columns are WGS84 by definition; x/y columns and files without a CRS need
    the user's confirmation, never a silent guess.
    """
    import geopandas as gpd

    if crs is not None:
        return None
    has_lonlat = "lon" in chosen or "lat" in chosen
    has_xy = "x" in chosen and "y" in chosen
    if has_lonlat:
        return None
    if has_xy:
        return mapping_mod.guess_crs(
            mapping_mod._numbers(raw.frame[chosen["x"]]), mapping_mod._numbers(raw.frame[chosen["y"]])
        )
    frame = raw.frame
    if isinstance(frame, gpd.GeoDataFrame) and not frame.geometry.isna().all() and raw.crs is None:
        bounds = frame.geometry.bounds
        return mapping_mod.guess_crs(bounds["minx"], bounds["miny"])
    return None


def _needs_territories(ds: Dataset, raw: RawTable, chosen: dict[str, str]) -> bool:
    import geopandas as gpd

    if ds.name not in ("actors", "places") or "territory_code" not in chosen:
        return False
    if any(f in chosen for f in mapping_mod.COORDINATE_FIELDS):
        return False
    return not (isinstance(raw.frame, gpd.GeoDataFrame) and not raw.frame.geometry.isna().all())


def prepare_raw(
    raw: RawTable,
    *,
    dataset: Dataset | str,
    conn: store.Connection,
    mapping_overrides: dict[str, str] | None = None,
    crs: str | None = None,
    repair: bool = False,
    mode: str = "append",
    constants: dict[str, str] | None = None,
    values: dict[str, dict[str, str]] | None = None,
    create_parents: bool = False,
) -> Prepared:
    """Map, georeference and validate a read file; never stores anything.

    ``constants`` and ``values`` (the same value on every row, the confirmed value recoding) are
    applied to the mapped rows before the checks (:func:`carto.ingest.values.apply_values`).

    When the file's CRS is unknown the result has no frame (:attr:`Prepared.needs_crs`) and lists
    the CRS its coordinates fit: the user confirms one and calls again with ``crs``. Territories are
    completed from the embedded COG (:mod:`carto.ingest.cog`); with ``create_parents`` the EPCIs and
    départements their communes need are added, dissolved from them.
    """
    ds = _dataset(dataset)
    crs = check_user_crs(crs, raw.original_name)
    if mode not in IMPORT_MODES:
        msg = f"unknown import mode {mode!r}; expected one of: {', '.join(IMPORT_MODES)}"
        raise InputError(msg)
    columns = [str(c) for c in raw.frame.columns if c != getattr(raw.frame, "_geometry_column_name", None)]
    suggested = suggest(columns, ds)
    chosen = {**suggested, **(mapping_overrides or {})}
    chosen = {k: v for k, v in chosen.items() if v}
    prepared = Prepared(raw=raw, dataset=ds, suggested=suggested, mapping=chosen, crs=crs or raw.crs)
    if ds.geometry is not None:
        candidates = _crs_candidates(raw, chosen, crs)
        if candidates is not None:
            prepared.crs_candidates = candidates
            prepared.crs_guess = candidates[0] if candidates else None
            return prepared
    cur = conn.cursor()
    territories = (
        store.read_dataset(cur, "territories", columns=["code"]) if _needs_territories(ds, raw, chosen) else None
    )
    try:
        frame = mapping_mod.apply_mapping(raw, ds.name, chosen, crs=crs, territories=territories)
    except pyproj.exceptions.ProjError as exc:
        used = crs or raw.crs
        msg = (
            f"{raw.original_name}: its coordinates cannot be converted from {used} to longitude/latitude "
            f"({str(exc).split(':', 1)[0]}); give the coordinate system as EPSG:N with --crs"
        )
        raise InputError(msg) from None
    frame = values_mod.apply_values(frame, ds.name, constants=constants, values=values)
    if ds.name == "territories":
        frame = _complete_territories(prepared, frame, cur, mode=mode, create_parents=create_parents)
    prepared.frame = frame
    prepared.notes = list(frame.attrs.get("warnings", []))
    report = validate(frame, ds, conn_or_cursor=cur, repair=repair, mode=mode)
    refused = _schema_problems(raw, report)
    if refused:
        report.problems = sorted([*report.problems, *refused], key=lambda p: p.row)
    prepared.report = report
    return prepared


def _complete_territories(
    prepared: Prepared, frame: pd.DataFrame, cur: store.Connection, *, mode: str, create_parents: bool
) -> pd.DataFrame:
    import geopandas as gpd

    completion = cog_mod.complete_territories(frame)
    frame = completion.frame
    prepared.cog_notes = completion.notes
    if not isinstance(frame, gpd.GeoDataFrame):
        return frame
    stored = set() if mode == "replace" else store.stored_keys(cur, "territories")
    missing = cog_mod.missing_parents(frame, known_codes=stored)
    prepared.missing_parents = len(missing)
    if not create_parents or not missing:
        return frame
    parents = cog_mod.parent_territories(frame, missing)
    # Created rows come after the file's rows, so a report's row numbers still point into the file.
    last = int(frame["_row"].max()) if len(frame) else 0
    parents = parents.assign(_row=range(last + 1, last + 1 + len(parents)))
    combined = gpd.GeoDataFrame(pd.concat([frame, parents], ignore_index=True), geometry="geometry", crs=frame.crs)
    combined.attrs = dict(frame.attrs)
    prepared.parents_created = len(parents)
    return combined


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
    create_parents: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> Prepared:
    """:func:`read` then :func:`prepare_raw`."""
    raw = read(path, original_name=original_name, layer=layer, encoding=encoding, limits=limits)
    return prepare_raw(
        raw,
        dataset=dataset,
        conn=conn,
        mapping_overrides=mapping_overrides,
        crs=crs,
        repair=repair,
        mode=mode,
        create_parents=create_parents,
    )


def crs_refusal(prepared: Prepared) -> str:
    """What to tell a user whose file gives no CRS."""
    guess = prepared.crs_guess
    hint = (
        f"its coordinates fit {', '.join(prepared.crs_candidates)}: confirm one with --crs {guess}"
        if guess
        else "its coordinates fit no usual French CRS; give it with --crs EPSG:N"
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
    removed = relations_left_behind(cur, ds, rows, mode=options.mode, drop_relations=options.drop_relations)
    if options.mode == "replace":
        deleted = store.count_rows(cur, ds.name)
    elif options.mode == "upsert":
        updated = store.count_stored_keys(cur, ds.name, rows[ds.key].astype(str).tolist())
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
        relations_removed=removed,
    )


def mapped_columns(prepared: Prepared) -> list[str]:
    """The dataset's columns the file gives (mapped fields and the key): what an upsert updates."""
    ds = prepared.dataset
    return [c for c in ds.column_names if c in prepared.mapping or c == ds.key]


def commit_prepared(
    conn: store.Connection,
    prepared: Prepared,
    options: ImportOptions,
    *,
    user: auth.User,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Commit a prepared file (refusing when its CRS is unconfirmed or it has errors)."""
    if prepared.needs_crs or prepared.report is None:
        raise InputError(crs_refusal(prepared))
    if dry_run:
        auth.require(user, "import")
        return dry_run_result(conn, prepared, options)
    return commit(
        conn,
        prepared.dataset,
        prepared.report.frame,
        mode=options.mode,
        user=user,
        file_name=prepared.raw.original_name,
        sha256=prepared.raw.sha256,
        skip_invalid=options.skip_invalid,
        report=prepared.report,
        progress=progress,
        columns=mapped_columns(prepared),
        drop_relations=options.drop_relations,
    )


def run_import(
    conn: store.Connection,
    path: Path,
    dataset: Dataset | str,
    options: ImportOptions,
    *,
    user: auth.User,
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
    services = None
    if options.services is not None:
        services = read(Path(options.services), original_name=Path(options.services).name, limits=options.limits)
    raw = as_format(raw, dataset, options.file_format, services)
    _scaled(progress, CHECK)(0.0, "check")
    prepared = prepare_raw(
        raw,
        dataset=dataset,
        conn=conn,
        mapping_overrides=options.mapping,
        crs=options.crs,
        repair=options.repair,
        mode=options.mode,
        constants=options.constants,
        values=options.values,
        create_parents=options.create_parents,
    )
    tell = _scaled(progress, COMMIT)
    tell(0.0, "commit")
    result = commit_prepared(conn, prepared, options, user=user, progress=tell, dry_run=dry_run)
    if progress is not None:
        progress(1.0, "done")
    return result

"""Read an uploaded file into a :class:`RawTable`: the format readers, run in the sandbox.

The server writes the upload's bytes to a name it generates (:func:`save_upload`); the user's file
name is only used to choose the format and in messages. :func:`read_upload` then

1. checks the content against the extension (:func:`carto.ingest.safety.sniff`); XLSX archives are
   inspected like zips;
2. for zipped shapefiles and MapInfo tables, inspects the archive and extracts it itself into a
   fresh directory (GDAL never sees the zip, a URL or a ``/vsi`` prefix);
3. parses the file in the reader's child process (:mod:`carto.ingest.sandbox`: memory, CPU, output
   and time limits; dies with the server; a work folder of its own, never beside the user's file,
   and GDAL only ever sees names inside it);
4. gets the table back as an uncompressed Arrow IPC file with WKB geometries, no larger than
   ``CARTO_MAX_RESULT_MB`` (checked by the child before writing and by size before loading),
   which the parent decodes with shapely, not GDAL.

A coordinate system read from a file goes through :func:`carto.ingest.safety.check_crs_text` in
the child before PROJ sees it, and again here. Text decoded with the wrong encoding is repaired
or refused by :mod:`carto.ingest.text_repair`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import secrets
import shutil
import warnings as py_warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyogrio
import pyproj
import shapely

from carto.errors import InputError
from carto.ingest.safety import (
    DEFAULT_LIMITS,
    ENCODING_EXAMPLES,
    MB,
    SUFFIX_FORMATS,
    Limits,
    check_crs_text,
    check_geopackage_schema,
    check_mapinfo_table,
    check_prj,
    check_shapefile_codepage,
    crs_of_file_fix,
    encoding_gdal_name,
    format_from_name,
    inspect_zip,
    safe_extract,
    sniff,
)
from carto.ingest.sandbox import (
    make_workdir,
    result_message,
    run_in_child,
)
from carto.ingest.text_repair import MOJIBAKE, NON_ASCII, plan_text_repair

TABULAR_FORMATS = ("csv", "xlsx")
SINGLE_LAYER_FORMATS = ("geojson", "flatgeobuf")
_RECORD = "__carto_record__"


@dataclass
class RawTable:
    """A file as read, before mapping: its own column names, its CRS, what the reader noticed."""

    frame: pd.DataFrame  # GeoDataFrame when the file has geometries; the file's own column names
    original_name: str  # user's file name, for display only
    sha256: str
    format: str  # geojson, gpkg, shapefile, flatgeobuf, geoparquet, kml, topojson, mapinfo, csv, xlsx
    layers: list[str]  # available layers (gpkg, kml, xlsx sheets...); the one read is `layer`
    layer: str | None
    crs: str | None  # from the file, e.g. "EPSG:2154"; None when the file has none
    encoding: str | None  # encoding used for text
    warnings: list[str] = field(default_factory=list)
    # "structures" or "services" when the child recognised a data·inclusion file and checked its rows
    # against the schema's models (their findings in the column datainclusion.SCHEMA_COLUMN)
    schema: str | None = None

    @property
    def first_row(self) -> int:
        """Row number of the first record as a user counts it: spreadsheets have a header row 1."""
        return 2 if self.format in TABULAR_FORMATS else 1


# --- upload -----------------------------------------------------------------------------------


def save_upload(data: bytes, original_name: str, workdir: Path, *, limits: Limits = DEFAULT_LIMITS) -> Path:
    """Write the uploaded bytes to a random name (with the right extension) inside ``workdir``."""
    if len(data) > limits.max_bytes:
        msg = (
            f"{original_name} is {len(data) / MB:.1f} MB, more than the limit of "
            f"{limits.max_bytes / MB:.0f} MB (CARTO_MAX_UPLOAD_MB)"
        )
        raise InputError(msg)
    format_from_name(original_name)  # refuse unknown types before writing anything
    suffix = Path(original_name).suffix.lower()
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"upload-{secrets.token_hex(16)}{suffix}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MB):
            digest.update(chunk)
    return digest.hexdigest()


# --- readers (run in the child) ---------------------------------------------------------------


def _crs_name(crs: Any, shown: str) -> str | None:
    """The file's CRS as ``EPSG:N`` or WKT, refused when it names a grid or a file (run in the child)."""
    if crs is None:
        return None
    whose, fix = f"the coordinate system of {shown}", crs_of_file_fix(shown)
    text = crs.to_wkt() if isinstance(crs, pyproj.CRS) else str(crs)
    check_crs_text(text, whose=whose, fix=fix)
    try:
        parsed = pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError:
        msg = f"{whose} cannot be understood; {fix}"
        raise InputError(msg) from None
    epsg = parsed.to_epsg(min_confidence=25)
    return check_crs_text(f"EPSG:{epsg}" if epsg is not None else str(parsed.to_wkt()), whose=whose, fix=fix)


def _pick_layer(layers: list[str], layer: str | None, shown: str, warnings: list[str]) -> str | None:
    if not layers:
        return None
    if layer is None:
        if len(layers) > 1:
            warnings.append(
                f"{shown} has {len(layers)} layers ({', '.join(layers)}); read {layers[0]!r}, "
                "choose another with --layer"
            )
        return layers[0]
    if layer not in layers:
        msg = f"{shown} has no layer {layer!r}; its layers are: {', '.join(layers)}"
        raise InputError(msg)
    return layer


def _read_ogr(
    job: dict[str, Any], warnings: list[str]
) -> tuple[pa.Table, str | None, list[str], str | None, str | None, str]:
    """Read with GDAL straight into Arrow: (table, geometry column, layers, layer, crs, encoding)."""
    source = job["source"]
    shown = job["shown"]
    if job["archive"]:
        # One file extracted from a zip, chosen by the parent: GDAL reads its only layer.
        layers, layer, gdal_layer = job["layers"], job["layer"], None
    elif job["format"] in SINGLE_LAYER_FORMATS:
        # Opening GeoJSON parses the whole file: open it once only.
        layers, layer, gdal_layer = [], None, None
    else:
        if job["format"] == "gpkg":
            check_geopackage_schema(Path(source), shown)
        layers = [str(name) for name in pyogrio.list_layers(source)[:, 0]]
        layer = gdal_layer = _pick_layer(layers, job["layer"], shown, warnings)
    limits = Limits(**job["limits"])
    encoding = None if job["encoding"] is None else check_encoding(job["encoding"])
    if encoding is None and job["archive"]:
        # Without an explicit encoding the Arrow reader passes DBF bytes through undecoded:
        # name the encoding of the .cpg (checked by the parent) or the one the driver infers
        # (DBF language id, or ISO-8859-1). "UTF-8" means GDAL recodes by itself.
        inferred = job.get("codepage") or pyogrio.read_info(source).get("encoding")
        encoding = inferred if inferred not in (None, "UTF-8") else None
    meta, table = _read_arrow_bounded(source, gdal_layer, encoding, limits, shown)
    geometry = (meta["geometry_name"] or "wkb_geometry") if meta["geometry_type"] is not None else None
    if geometry is not None and geometry not in table.column_names:
        geometry = None
    encoding = job["encoding"] or encoding or str(meta.get("encoding") or "UTF-8")
    return table, geometry, layers, layer, _crs_name(meta["crs"], shown), encoding


def _read_arrow_bounded(
    source: str, layer: str | None, encoding: str | None, limits: Limits, shown: str
) -> tuple[dict[str, Any], pa.Table]:
    """GDAL's Arrow batches, stopping as soon as the rows or their bytes pass the limits."""
    batches: list[pa.RecordBatch] = []
    rows = size = 0
    with pyogrio.open_arrow(source, layer=layer, encoding=encoding, batch_size=8192, use_pyarrow=True) as (
        meta,
        reader,
    ):
        for batch in reader:
            rows += batch.num_rows
            size += batch.nbytes
            if rows > limits.max_features:
                msg = f"{shown} has more than {limits.max_features} features (limit CARTO_MAX_FEATURES)"
                raise InputError(msg)
            if size > limits.max_result_bytes:
                raise InputError(result_message(shown, limits))
            batches.append(batch)
        table = pa.Table.from_batches(batches, schema=reader.schema)
    return meta, table


def _geoparquet_crs_texts(source: str) -> list[str]:
    """The CRS texts a GeoParquet file's ``geo`` metadata declares (PROJJSON as text); [] if unreadable."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(source).metadata or {}
        columns = json.loads(metadata.get(b"geo", b"{}")).get("columns", {})
        declared = [column.get("crs") for column in columns.values()]
    except (pa.ArrowException, ValueError, AttributeError, OSError):
        return []  # gpd.read_parquet says what is wrong
    return [crs if isinstance(crs, str) else json.dumps(crs) for crs in declared if crs is not None]


def _read_geoparquet(job: dict[str, Any]) -> gpd.GeoDataFrame:
    shown = job["shown"]
    for text in _geoparquet_crs_texts(job["source"]):
        check_crs_text(text, whose=f"the coordinate system of {shown}", fix=crs_of_file_fix(shown))
    try:
        return gpd.read_parquet(job["source"])
    except ValueError as exc:
        msg = f"{job['shown']} is not a GeoParquet file: {exc}"
        raise InputError(msg) from None


def check_encoding(encoding: str) -> str:
    """The GDAL name of a user-given encoding (``latin-1`` → ``ISO-8859-1``), or a clear refusal.

    Only the encodings of :data:`carto.ingest.safety.ACCEPTED_ENCODINGS` (and UTF-16 for text
    files) are accepted: UTF-7 and other exotic ones turn any bytes into wrong text silently.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        msg = f"unknown encoding {encoding!r}; use one of {ENCODING_EXAMPLES}"
        raise InputError(msg) from None
    name = encoding_gdal_name(encoding, text_file=True)
    if name is None:
        msg = f"the encoding {encoding!r} is not accepted for imported files; use one of {ENCODING_EXAMPLES}"
        raise InputError(msg)
    return name


def _decode(data: bytes, encoding: str | None, shown: str, warnings: list[str]) -> tuple[str, str]:
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            msg = f"{shown} is not valid {encoding} text (byte {exc.start}); choose another --encoding"
            raise InputError(msg) from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    warnings.append(f"{shown} is not UTF-8; read as Windows-1252. If accents look wrong, use --encoding")
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _csv_names(first_line: str, delimiter: str) -> list[str] | None:
    """Header names as pandas would give them (``a``, ``a.1`` for a repeat; ``Unnamed: 2``)."""
    try:
        header = next(csv.reader([first_line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return None
    names: list[str] = []
    for position, name in enumerate(header):
        base = name if name != "" else f"Unnamed: {position}"
        candidate, repeat = base, 0
        while candidate in names:
            repeat += 1
            candidate = f"{base}.{repeat}"
        names.append(candidate)
    return names


def _read_csv_arrow(data: bytes, first_line: str, delimiter: str) -> pa.Table | None:
    """The fast path (Arrow's multithreaded reader) for UTF-8 files without blank lines; else None."""
    body = data.rstrip(b"\r\n")
    if b"\n\n" in body or b"\n\r\n" in body:
        return None  # blank lines: the pandas path keeps record positions right
    names = _csv_names(first_line.rstrip("\r"), delimiter)
    if not names:
        return None
    payload = data[3:] if data.startswith(codecs.BOM_UTF8) else data
    try:
        return pa_csv.read_csv(
            pa.BufferReader(payload),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                null_values=[""],
                strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid:
        return None  # ragged rows and other oddities: pandas reads them or says what is wrong


def _read_csv(job: dict[str, Any], warnings: list[str]) -> tuple[pa.Table, str]:
    """Every value as text, as written: "007" codes keep their zeros and "47,2" its decimal comma.

    Decimal commas are read where numbers are parsed (coordinates in :mod:`carto.ingest.mapping`,
    numbers in validation), so a column of lists such as "1,2" is never silently changed here.
    Blank lines are skipped but keep their place: row numbers in reports stay right.
    """
    shown = job["shown"]
    data = Path(job["source"]).read_bytes()
    text, encoding = _decode(data, job["encoding"], shown, warnings)
    first_line = text.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(first_line, ",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    if codecs.lookup(encoding).name == "utf-8":
        table = _read_csv_arrow(data, first_line, delimiter)
        if table is not None:
            return table, encoding
    try:
        with py_warnings.catch_warnings():
            # index_col=False: a first row longer than the header must not become an index
            # (pandas would shift every value one column left); pandas warns instead: refuse.
            py_warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                skip_blank_lines=False,
                index_col=False,
            )
    except pd.errors.ParserWarning:
        msg = f"{shown}: row 2 has more values than the header has columns; fix the header or the row"
        raise InputError(msg) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = f"{shown} is not a readable CSV file: {exc}"
        raise InputError(msg) from None
    frame = frame.dropna(how="all")
    frame.columns = [str(c) for c in frame.columns]
    # Record positions (blank lines skipped) travel as a column: row numbers in reports.
    frame[_RECORD] = frame.index.to_numpy(dtype="int64")
    return pa.Table.from_pandas(frame, preserve_index=False), encoding


def _read_json_records(job: dict[str, Any]) -> pa.Table:
    """A JSON array of flat records (data·inclusion's export) as text columns; lists stay JSON text."""
    shown = job["shown"]
    try:
        records = json.loads(Path(job["source"]).read_bytes())
    except (ValueError, RecursionError) as exc:
        msg = f"{shown} is not readable JSON: {str(exc)[:200]}"
        raise InputError(msg) from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        msg = f"{shown} is a JSON array but not a list of records (objects); export it as CSV or GeoJSON"
        raise InputError(msg)
    limits = Limits(**job["limits"])
    if len(records) > limits.max_features:
        msg = f"{shown} has more than {limits.max_features} rows (CARTO_MAX_FEATURES)"
        raise InputError(msg)
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(str(k) for k in record))

    def cell(value: Any) -> str | None:
        if isinstance(value, list | dict):
            return json.dumps(value, ensure_ascii=False)
        return _cell_text(value)

    return pa.table(
        {name: pa.array([cell(r.get(name)) for r in records], type=pa.string()) for name in columns}
    )


def _check_schema(table: pa.Table) -> tuple[pa.Table, str | None]:
    """A data·inclusion table with each row's findings against the schema's models (see :mod:`datainclusion`)."""
    from carto.ingest import datainclusion

    if datainclusion.SCHEMA_COLUMN in table.column_names:
        table = table.drop_columns([datainclusion.SCHEMA_COLUMN])
    kind = datainclusion.schema_of(table.column_names)
    if kind is None:
        return table, None
    found = datainclusion.check_rows(table.to_pylist(), kind)
    return table.append_column(datainclusion.SCHEMA_COLUMN, pa.array(found, type=pa.string())), kind


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text
    text = str(value)
    return text if text.strip() else None


def _read_xlsx(job: dict[str, Any], warnings: list[str]) -> tuple[pd.DataFrame, list[str], str]:
    import openpyxl

    shown = job["shown"]
    try:
        book = openpyxl.load_workbook(job["source"], read_only=True, data_only=True)
    except Exception as exc:
        msg = f"{shown} is not a readable XLSX file: {exc}"
        raise InputError(msg) from None
    sheets = list(book.sheetnames)
    sheet = _pick_layer(sheets, job["layer"], shown, warnings)
    limits = Limits(**job["limits"])
    rows = book[sheet].iter_rows(values_only=True)
    header: list[str] | None = None
    records: list[list[str | None]] = []
    index: list[int] = []
    for number, row in enumerate(rows):
        cells = [_cell_text(v) for v in row]
        if header is None:
            if any(c is not None for c in cells):
                header = [c if c is not None else f"column_{i + 1}" for i, c in enumerate(cells)]
                header_row = number
            continue
        if all(c is None for c in cells):
            continue
        records.append(cells)
        index.append(number - header_row - 1)
        if len(records) > limits.max_features:
            msg = f"{shown} has more than {limits.max_features} rows (CARTO_MAX_FEATURES)"
            raise InputError(msg)
    book.close()
    if header is None:
        msg = f"{shown}: sheet {sheet!r} is empty"
        raise InputError(msg)
    width = len(header)
    while (
        width
        and header[width - 1].startswith("column_")
        and all(len(r) < width or r[width - 1] is None for r in records)
    ):
        width -= 1
    frame = pd.DataFrame(
        [(r + [None] * width)[:width] for r in records],
        columns=header[:width],
        index=pd.Index(index, dtype="int64"),
        dtype="str",
    )
    return frame, sheets, str(sheet)


# Mis-decoded UTF-8 round-trips through Latin-1 / Windows-1252 back to valid UTF-8; correctly
# decoded accented text does not ("é" is the single byte E9, never valid UTF-8 on its own).
def _check_vertices(table: pa.Table, geometry: str | None, limits: Limits, shown: str, first_row: int) -> None:
    """Refuse a feature with more than ``limits.max_vertices`` vertices (WKB size pre-filters)."""
    if geometry is None or table.num_rows == 0:
        return
    column = table.column(geometry)
    lengths = pc.fill_null(pc.binary_length(column), 0).to_numpy()
    # A 2D vertex takes 16 bytes of WKB, so only longer geometries can exceed the limit.
    candidates = np.flatnonzero(lengths > 16 * limits.max_vertices)
    if len(candidates) == 0:
        return
    wkb = column.take(pa.array(candidates)).to_pylist()
    counts = shapely.get_num_coordinates(shapely.from_wkb(wkb))
    worst = int(np.argmax(counts))
    if counts[worst] > limits.max_vertices:
        msg = (
            f"{shown}: feature {int(candidates[worst]) + first_row} has {int(counts[worst])} vertices, more "
            f"than the limit of {limits.max_vertices} (CARTO_MAX_VERTICES); simplify it first"
        )
        raise InputError(msg)


def _repair_table(table: pa.Table, geometry: str | None, job: dict[str, Any]) -> tuple[pa.Table, list[str]]:
    """Repair wrongly decoded text of an Arrow table (see :func:`repair_mojibake`)."""
    try:
        table.validate(full=True)
    except pa.ArrowInvalid:
        msg = f"{job['shown']} holds text that is not valid in its declared encoding; name it with --encoding"
        raise InputError(msg) from None
    text = [
        name
        for name, kind in zip(table.column_names, table.schema.types, strict=True)
        if name != geometry and (pa.types.is_string(kind) or pa.types.is_large_string(kind))
    ]
    # Fast exact pre-filter (RE2 in Arrow): most files have nothing to repair.
    hit = any(MOJIBAKE.search(name) for name in table.column_names) or any(
        pc.any(pc.match_substring_regex(table.column(name), MOJIBAKE.pattern)).as_py() for name in text
    )
    if not hit:
        return table, []
    found: dict[str, set[str]] = {}
    for name in text:
        column = table.column(name)
        strings = pc.unique(pc.filter(column, pc.match_substring_regex(column, NON_ASCII.pattern)))
        values = {v for v in strings.to_pylist() if v is not None}
        if values:
            found[name] = values
    names = {n for n in table.column_names if NON_ASCII.search(n)}
    changed, warning = plan_text_repair(
        set().union(names, *found.values()), shown=job["shown"], explicit_encoding=job["encoding"]
    )
    if not changed:
        return table, []
    columns = [c for c, vs in found.items() if vs & changed.keys()]
    for name in columns:
        position = table.column_names.index(name)
        fixed = [changed.get(v, v) if v is not None else None for v in table.column(name).to_pylist()]
        table = table.set_column(position, name, pa.array(fixed, type=pa.string()))
    table = table.rename_columns([changed.get(n, n) for n in table.column_names])
    where = ", ".join(changed.get(c, c) for c in columns) if columns else "column names"
    return table, [f"text in {where} {warning}"]


def _child_read(job: dict[str, Any]) -> dict[str, Any]:
    """Parse ``job['source']`` and write it as an Arrow IPC file to ``job['out']``; return metadata."""
    fmt = job["format"]
    shown = job["shown"]
    limits = Limits(**job["limits"])
    warnings: list[str] = []
    layers: list[str] = []
    layer: str | None = None
    crs: str | None = None
    encoding: str | None = "utf-8"
    geometry: str | None = None
    if fmt == "csv":
        table, encoding = _read_csv(job, warnings)
    elif fmt == "json":
        table = _read_json_records(job)
    elif fmt in ("xlsx", "geoparquet"):
        if fmt == "xlsx":
            frame, layers, layer = _read_xlsx(job, warnings)
            # Record positions (blank rows skipped) travel as a column: row numbers in reports.
            frame[_RECORD] = frame.index.to_numpy(dtype="int64")
        else:
            gdf = _read_geoparquet(job)
            crs = _crs_name(gdf.crs, shown)
            geometry = str(gdf.geometry.name)
            frame = pd.DataFrame(gdf.drop(columns=geometry))
            frame[geometry] = gdf.geometry.to_wkb()
        frame.columns = [str(c) for c in frame.columns]
        table = pa.Table.from_pandas(frame, preserve_index=False)
    else:
        table, geometry, layers, layer, crs, encoding = _read_ogr(job, warnings)
    if table.num_rows > limits.max_features:
        msg = f"{shown} has {table.num_rows} rows, more than the limit of {limits.max_features} (CARTO_MAX_FEATURES)"
        raise InputError(msg)
    _check_vertices(table, geometry, limits, shown, 2 if fmt in TABULAR_FORMATS else 1)
    table, repaired = _repair_table(table, geometry, job)
    warnings.extend(repaired)
    schema = None
    if geometry is None:
        table, schema = _check_schema(table)
    if table.nbytes > limits.max_result_bytes:
        raise InputError(result_message(shown, limits, table.nbytes))
    with pa.OSFile(job["out"], "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return {
        "geometry": geometry,
        "layers": layers,
        "layer": layer,
        "crs": crs,
        "encoding": encoding,
        "warnings": warnings,
        "schema": schema,
    }


def _parse_file_crs(crs: str | None, shown: str) -> pyproj.CRS | None:
    """The CRS the child named, checked again before PROJ sees it in the server process."""
    if crs is None:
        return None
    whose, fix = f"the coordinate system of {shown}", crs_of_file_fix(shown)
    check_crs_text(crs, whose=whose, fix=fix)
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.ProjError:
        msg = f"{whose} cannot be understood; {fix}"
        raise InputError(msg) from None


def _load_table(path: Path, geometry: str | None, crs: pyproj.CRS | None) -> pd.DataFrame:
    """The child's Arrow file as a (Geo)DataFrame; geometries are decoded here from WKB, not by GDAL."""
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    if geometry is None:
        frame = table.to_pandas()
        if _RECORD in frame.columns:
            frame = frame.set_index(_RECORD).rename_axis(None)
        return frame
    frame = table.drop_columns([geometry]).to_pandas()
    geoms = shapely.from_wkb(table.column(geometry).to_numpy(zero_copy_only=False))
    # The geometry is called "geometry" unless the file has an attribute of that name.
    name = "geometry" if "geometry" not in frame.columns else geometry
    series = gpd.GeoSeries(geoms, index=frame.index, crs=crs, name=name)
    return gpd.GeoDataFrame(frame.assign(**{name: series}), geometry=name, crs=crs)


# --- public entry point -----------------------------------------------------------------------


def _archive_layers(files: list[Path], root: Path, suffix: str) -> dict[str, Path]:
    found = sorted(p for p in files if p.suffix.lower() == suffix)
    return {str(PurePosixPath(p.relative_to(root).as_posix()).with_suffix("")): p for p in found}


def read_upload(
    path: Path,
    *,
    original_name: str,
    layer: str | None = None,
    encoding: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> RawTable:
    """Read the upload stored at ``path`` (a name the server generated) as ``original_name`` says.

    Raises :class:`InputError` with a message for the user when the file is refused or unreadable.
    """
    shown = Path(original_name).name
    if encoding is not None:
        check_encoding(encoding)
    if path.stat().st_size > limits.max_bytes:
        msg = f"{shown} is larger than the limit of {limits.max_bytes / MB:.0f} MB (CARTO_MAX_UPLOAD_MB)"
        raise InputError(msg)
    fmt = sniff(path, format_from_name(shown), display_name=shown)
    digest = _sha256(path)
    work = make_workdir()
    try:
        layers: list[str] = []
        codepage: str | None = None
        if fmt == "xlsx":
            inspect_zip(path, limits, display_name=shown, nested_ok=True)
        if fmt in ("shapefile", "mapinfo"):
            root = work / "extracted"
            root.mkdir()
            files = safe_extract(path, root, limits, display_name=shown)
            by_layer = _archive_layers(files, root, ".shp" if fmt == "shapefile" else ".tab")
            layers = list(by_layer)
            chosen = _pick_layer(layers, layer, shown, [])
            assert chosen is not None
            source = by_layer[chosen]
            layer = chosen
            if fmt == "mapinfo":
                check_mapinfo_table(source, shown)
            else:
                check_prj(source, shown)
                codepage = check_shapefile_codepage(source, shown)
        else:
            # GDAL sees a name made here, never the user's path (a CLI user's may be relative,
            # or look like a GDAL connection string).
            source = work / f"input{path.suffix.lower()}"
            source.symlink_to(path.resolve())
        out = work / "table.arrow"
        job = {
            "format": fmt,
            "source": str(source),
            "shown": shown,
            "layer": layer,
            "layers": layers,
            "archive": fmt in ("shapefile", "mapinfo"),
            "encoding": encoding,
            "codepage": codepage,
            "limits": asdict(limits),
            "out": str(out),
        }
        meta = run_in_child(_child_read, job, limits=limits, workdir=work, shown=shown)
        size = out.stat().st_size
        if size > limits.max_result_bytes:
            raise InputError(result_message(shown, limits, size))
        frame = _load_table(out, meta["geometry"], _parse_file_crs(meta["crs"], shown))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return RawTable(
        frame=frame,
        original_name=shown,
        sha256=digest,
        format=fmt,
        layers=list(meta["layers"]),
        layer=meta["layer"],
        crs=meta["crs"],
        encoding=meta["encoding"],
        warnings=list(meta["warnings"]),
        schema=meta.get("schema"),
    )


__all__ = [
    "SUFFIX_FORMATS",
    "RawTable",
    "read_upload",
    "save_upload",
]

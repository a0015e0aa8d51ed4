"""Limits and hostile-input checks for uploaded files.

Everything here reads bytes with plain Python (no GDAL), so it may run in the server process: it
decides whether a file is allowed to reach a reader at all.

Limits
------
Every limit has a default and an environment variable (read by :func:`limits_from_env`):

=============================  ==========================  =========================================
variable                       default                     what it bounds
=============================  ==========================  =========================================
``CARTO_MAX_UPLOAD_MB``        200                         size of the uploaded file
``CARTO_MAX_ZIP_ENTRIES``      1000                        number of entries in a zip archive
``CARTO_MAX_UNCOMPRESSED_MB``  1000                        total size of a zip archive once extracted
``CARTO_MAX_ZIP_RATIO``        100                         uncompressed / compressed size of a zip
                                                           entry (a zip bomb compresses far more)
``CARTO_READ_TIMEOUT_S``       300                         wall-clock time to parse one file
``CARTO_READ_MEMORY_MB``       4000                        memory the reader may allocate beyond its
                                                           own start-up footprint
``CARTO_MAX_FEATURES``         2000000                     rows / features in one file
``CARTO_MAX_VERTICES``         1000000                     vertices of one geometry
``CARTO_MAX_RESULT_MB``        500                         the table a reader hands back to the
                                                           server (checked by the reader before
                                                           writing it, and by size before loading)
=============================  ==========================  =========================================

Checks
------
- :func:`inspect_zip` reads a zip's central directory before anything is extracted and refuses
  too many entries, too much uncompressed data, a suspicious compression ratio, ``..`` or absolute
  names, symbolic links, nested archives and GDAL virtual files (``.vrt``).
- :func:`safe_extract` extracts an inspected archive into a directory the server created, counting
  the bytes really written.
- :func:`sniff` checks that the content is what the extension says: a ``.geojson`` is JSON, not a
  VRT or a URL; a GeoPackage starts with the SQLite header; a FlatGeobuf with its magic bytes...
- :func:`check_crs_text` accepts a coordinate system only as an authority code (``EPSG:2154``), WKT
  or PROJJSON that names no grid or other file, so PROJ never opens a file a user chose.
- :func:`check_shapefile_codepage` accepts a shapefile's ``.cpg`` only when it names an encoding of
  :data:`ACCEPTED_ENCODINGS`.
- :func:`check_geopackage_schema` (run by the reader, in its child process) refuses views and
  virtual tables, whose content is computed when the file is read rather than stored in it.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import sqlite3
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from carto.errors import InputError

MB = 1024 * 1024

# What Python's zipfile raises on damaged archives: found by fuzzing (an unsupported compression
# method raises NotImplementedError, a corrupt deflate stream zlib.error, an encrypted entry
# RuntimeError, a torn header struct.error).
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, zlib.error, struct.error)


@dataclass(frozen=True)
class Limits:
    """Upper bounds applied to one upload; see the module docstring for the environment variables."""

    max_bytes: int = 200 * MB
    max_zip_entries: int = 1000
    max_uncompressed_bytes: int = 1000 * MB
    max_ratio: float = 100.0
    timeout_s: float = 300.0
    memory_bytes: int = 4000 * MB
    max_features: int = 2_000_000
    max_vertices: int = 1_000_000
    max_result_bytes: int = 500 * MB


DEFAULT_LIMITS = Limits()

_ENV = {
    "max_bytes": ("CARTO_MAX_UPLOAD_MB", MB),
    "max_zip_entries": ("CARTO_MAX_ZIP_ENTRIES", 1),
    "max_uncompressed_bytes": ("CARTO_MAX_UNCOMPRESSED_MB", MB),
    "max_ratio": ("CARTO_MAX_ZIP_RATIO", 1),
    "timeout_s": ("CARTO_READ_TIMEOUT_S", 1),
    "memory_bytes": ("CARTO_READ_MEMORY_MB", MB),
    "max_features": ("CARTO_MAX_FEATURES", 1),
    "max_vertices": ("CARTO_MAX_VERTICES", 1),
    "max_result_bytes": ("CARTO_MAX_RESULT_MB", MB),
}


def limits_from_env(environ: dict[str, str] | None = None) -> Limits:
    """Build :class:`Limits` from the ``CARTO_*`` environment variables, defaults elsewhere."""
    env = os.environ if environ is None else environ
    values: dict[str, float | int] = {}
    for field, (variable, unit) in _ENV.items():
        raw = env.get(variable)
        if raw is None or raw.strip() == "":
            continue
        try:
            number = float(raw)
        except ValueError:
            msg = f"{variable}={raw!r} is not a number"
            raise InputError(msg) from None
        if number <= 0:
            msg = f"{variable} must be positive, got {raw!r}"
            raise InputError(msg)
        default = getattr(DEFAULT_LIMITS, field)
        values[field] = number * unit if isinstance(default, float) else int(number * unit)
    return Limits(**values)  # type: ignore[arg-type]


# --- zip archives -----------------------------------------------------------------------------

ARCHIVE_SUFFIXES = (
    ".zip",
    ".gz",
    ".tgz",
    ".tar",
    ".7z",
    ".rar",
    ".bz2",
    ".xz",
    ".zst",
    ".kmz",
    ".lz",
    ".lzma",
    ".z",
)
# Files that make GDAL open other files or URLs.
_INDIRECT_SUFFIXES = (".vrt", ".ovf", ".lnk", ".url", ".xml.vrt")


def is_junk_entry(name: str) -> bool:
    """Files archivers add by themselves (macOS resource forks, Finder and Explorer caches): skipped."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return bool(parts) and (
        parts[0] == "__MACOSX" or parts[-1].startswith("._") or parts[-1] in (".DS_Store", "Thumbs.db")
    )


def _is_absolute(name: str) -> bool:
    return name.startswith(("/", "\\")) or PureWindowsPath(name).is_absolute() or bool(PureWindowsPath(name).drive)


def inspect_zip(
    path: Path, limits: Limits = DEFAULT_LIMITS, *, display_name: str | None = None, nested_ok: bool = False
) -> list[str]:
    """Check a zip archive before anything is extracted; return the names of its files.

    ``nested_ok`` allows archives inside (an XLSX may embed objects; they are never opened).
    Raises :class:`InputError` naming the first problem found.
    """
    shown = display_name or path.name
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_ERRORS as exc:
        msg = f"{shown} is not a readable zip archive (truncated or damaged?): {exc}"
        raise InputError(msg) from None
    with archive:
        infos = archive.infolist()
    if len(infos) > limits.max_zip_entries:
        msg = (
            f"{shown} holds {len(infos)} entries, more than the limit of {limits.max_zip_entries} "
            "(CARTO_MAX_ZIP_ENTRIES)"
        )
        raise InputError(msg)
    total = 0
    names: list[str] = []
    for info in infos:
        name = info.filename
        if _is_absolute(name):
            msg = f"{shown} contains an entry with an absolute path ({name!r}); refused"
            raise InputError(msg)
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if ".." in parts:
            msg = f"{shown} contains an entry that points outside the archive ({name!r}); refused"
            raise InputError(msg)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            msg = f"{shown} contains a symbolic link ({name!r}); refused"
            raise InputError(msg)
        if info.is_dir() or is_junk_entry(name):
            continue
        lower = name.lower()
        if lower.endswith(ARCHIVE_SUFFIXES) and not nested_ok:
            msg = f"{shown} contains another archive ({name!r}); extract it and upload its content instead"
            raise InputError(msg)
        if lower.endswith(_INDIRECT_SUFFIXES):
            msg = f"{shown} contains a GDAL virtual file ({name!r}); refused"
            raise InputError(msg)
        if info.flag_bits & 0x1:
            msg = f"{shown} contains an encrypted entry ({name!r}); upload an unencrypted archive"
            raise InputError(msg)
        total += info.file_size
        if total > limits.max_uncompressed_bytes:
            msg = (
                f"{shown} would extract to more than {limits.max_uncompressed_bytes // MB} MB "
                "(CARTO_MAX_UNCOMPRESSED_MB); refused"
            )
            raise InputError(msg)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MB and ratio > limits.max_ratio:
            msg = (
                f"{shown}: entry {name!r} is compressed {ratio:.0f} times (limit {limits.max_ratio:.0f}, "
                "CARTO_MAX_ZIP_RATIO); this looks like a zip bomb and is refused"
            )
            raise InputError(msg)
        names.append(name)
    return names


def safe_extract(
    path: Path, dest: Path, limits: Limits = DEFAULT_LIMITS, *, display_name: str | None = None
) -> list[Path]:
    """Inspect then extract ``path`` into the existing directory ``dest``; return the files written.

    Bytes are counted while copying, so an archive whose headers lie about sizes is stopped too.
    """
    shown = display_name or path.name
    names = inspect_zip(path, limits, display_name=shown)
    root = dest.resolve()
    written: list[Path] = []
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for name in names:
                target = (root / name.replace("\\", "/")).resolve()
                if root not in target.parents:
                    msg = f"{shown} contains an entry that points outside the archive ({name!r}); refused"
                    raise InputError(msg)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(name) as source, open(target, "xb") as out:
                    while chunk := source.read(MB):
                        total += len(chunk)
                        if total > limits.max_uncompressed_bytes:
                            msg = (
                                f"{shown} extracts to more than {limits.max_uncompressed_bytes // MB} MB "
                                "(CARTO_MAX_UNCOMPRESSED_MB); refused"
                            )
                            raise InputError(msg)
                        out.write(chunk)
                written.append(target)
    except _ZIP_ERRORS as exc:
        msg = f"{shown} is not a readable zip archive (truncated or damaged?): {exc}"
        raise InputError(msg) from None
    return written


# --- content sniffing -------------------------------------------------------------------------

FORMATS = (
    "geojson",
    "gpkg",
    "shapefile",
    "flatgeobuf",
    "geoparquet",
    "kml",
    "topojson",
    "mapinfo",
    "csv",
    "xlsx",
    "json",  # a JSON array of records (data·inclusion's structures), no geometry
)

SUFFIX_FORMATS = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".topojson": "topojson",
    ".gpkg": "gpkg",
    ".zip": "zip",  # shapefile or mapinfo, decided by the content
    ".fgb": "flatgeobuf",
    ".parquet": "geoparquet",
    ".geoparquet": "geoparquet",
    ".kml": "kml",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
}

_HINTS = {
    ".shp": "upload the shapefile as a .zip holding the .shp, .shx and .dbf (and .prj, .cpg) files",
    ".tab": "upload the MapInfo table as a .zip holding the .tab, .dat, .map and .id files",
    ".xls": "save the sheet as .xlsx (Excel 2007 and later) and upload that",
    ".ods": "save the sheet as .xlsx or .csv and upload that",
    ".vrt": "GDAL virtual files are not accepted; upload the data file itself",
    ".kmz": "extract the .kml from the .kmz and upload that",
}

SQLITE_HEADER = b"SQLite format 3\x00"
FGB_MAGIC = b"fgb"
PARQUET_MAGIC = b"PAR1"
_SOURCE_REFERENCE = re.compile(rb"^\s*(?:/vsi|[a-z][a-z0-9+.-]*://)", re.IGNORECASE)
_JSON_LINK_CRS = re.compile(rb'"type"\s*:\s*"link"', re.IGNORECASE)
_SCAN_CHUNK = 8 * MB


def format_from_name(original_name: str) -> str:
    """The reader format for a user's file name (``zip`` still to be resolved), or a clear refusal."""
    suffix = Path(original_name).suffix.lower()
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    if suffix in _HINTS:
        msg = f"{original_name}: {_HINTS[suffix]}"
        raise InputError(msg)
    known = ", ".join(sorted(SUFFIX_FORMATS))
    msg = f"{original_name}: unsupported file type {suffix or '(no extension)'!r}; accepted: {known}"
    raise InputError(msg)


def _head(path: Path, size: int = 64 * 1024) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def _contains(path: Path, needles: tuple[bytes, ...]) -> bytes | None:
    """First needle found anywhere in the file, scanning in overlapping chunks.

    Case-sensitive on purpose: GDAL's ``/vsi`` prefixes and XML element names are.
    """
    overlap = max(len(n) for n in needles)
    tail = b""
    with open(path, "rb") as f:
        while chunk := f.read(_SCAN_CHUNK):
            block = tail + chunk
            for needle in needles:
                if needle in block:
                    return needle
            tail = block[-overlap:]
    return None


def _not_recognised(shown: str, what: str) -> InputError:
    return InputError(f"{shown} is not a recognised {what} file (its content does not match its extension)")


def _strip_bom(head: bytes) -> bytes:
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if head.startswith(bom):
            return head[len(bom) :]
    return head


def _check_no_indirection(path: Path, shown: str) -> None:
    head = _strip_bom(_head(path, 4096))
    if _SOURCE_REFERENCE.match(head):
        msg = f"{shown} holds a reference to another source (a URL or a /vsi path), not data; refused"
        raise InputError(msg)
    found = _contains(path, (b"<OGRVRTDataSource", b"/vsi"))
    if found == b"<OGRVRTDataSource":
        msg = f"{shown} is a GDAL virtual file (VRT), not data; refused"
        raise InputError(msg)
    if found == b"/vsi":
        msg = f"{shown} contains a GDAL virtual path ('/vsi...'); refused"
        raise InputError(msg)


def _zip_names(path: Path, shown: str) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except _ZIP_ERRORS as exc:
        msg = f"{shown} is not a readable zip archive (truncated or damaged?): {exc}"
        raise InputError(msg) from None


def zip_content_format(names: list[str], shown: str) -> str:
    """``shapefile`` or ``mapinfo`` from the names inside a zip, or a refusal naming what is missing."""
    stems: dict[str, set[str]] = {}
    for name in names:
        if is_junk_entry(name):
            continue
        p = PurePosixPath(name.replace("\\", "/"))
        stems.setdefault(str(p.with_suffix("")).lower(), set()).add(p.suffix.lower())
    if any(".shp" in s for s in stems.values()):
        for stem, suffixes in stems.items():
            if ".shp" in suffixes:
                missing = [s for s in (".shx", ".dbf") if s not in suffixes]
                if missing:
                    lacking = " and ".join(missing)
                    msg = f"{shown}: shapefile {stem!r} lacks its {lacking} file; add it to the zip"
                    raise InputError(msg)
        return "shapefile"
    if any(".tab" in s for s in stems.values()):
        for stem, suffixes in stems.items():
            if ".tab" in suffixes:
                missing = [s for s in (".dat", ".map", ".id") if s not in suffixes]
                if missing:
                    lacking = " and ".join(missing)
                    msg = f"{shown}: MapInfo table {stem!r} lacks its {lacking} file; add it to the zip"
                    raise InputError(msg)
        return "mapinfo"
    msg = f"{shown}: the zip holds neither a shapefile (.shp, .shx, .dbf) nor a MapInfo table (.tab, .dat, .map, .id)"
    raise InputError(msg)


def sniff(path: Path, declared_format: str, *, display_name: str | None = None) -> str:
    """Check that the content of ``path`` matches ``declared_format``; return the precise format.

    ``declared_format`` comes from :func:`format_from_name`; ``zip`` resolves to ``shapefile`` or
    ``mapinfo`` and ``geojson`` to ``topojson`` when the JSON is a topology.
    """
    shown = display_name or path.name
    head = _head(path)
    if not head:
        msg = f"{shown} is empty"
        raise InputError(msg)
    if declared_format in ("geojson", "topojson"):
        _check_no_indirection(path, shown)
        body = _strip_bom(head).lstrip()
        if not body.startswith((b"{", b"[")):
            raise _not_recognised(shown, "GeoJSON/TopoJSON")
        if _JSON_LINK_CRS.search(head):
            msg = f"{shown} declares a linked CRS (a reference to another resource); refused"
            raise InputError(msg)
        if body.startswith(b"[") and declared_format == "geojson":
            # GeoJSON is an object: a top-level array is a list of records (data·inclusion's export).
            return "json"
        if re.search(rb'"type"\s*:\s*"Topology"', head):
            return "topojson"
        if declared_format == "topojson":
            raise _not_recognised(shown, "TopoJSON")
        return "geojson"
    if declared_format == "gpkg":
        if not head.startswith(SQLITE_HEADER):
            raise _not_recognised(shown, "GeoPackage")
        return "gpkg"
    if declared_format == "flatgeobuf":
        if not head.startswith(FGB_MAGIC):
            raise _not_recognised(shown, "FlatGeobuf")
        return "flatgeobuf"
    if declared_format == "geoparquet":
        with open(path, "rb") as f:
            f.seek(-4, os.SEEK_END)
            tail = f.read(4)
        if not (head.startswith(PARQUET_MAGIC) and tail == PARQUET_MAGIC):
            raise _not_recognised(shown, "GeoParquet")
        return "geoparquet"
    if declared_format == "kml":
        _check_no_indirection(path, shown)
        body = _strip_bom(head).lstrip()
        if not body.startswith(b"<") or b"<kml" not in head.lower():
            raise _not_recognised(shown, "KML")
        if _contains(path, (b"<NetworkLink", b"<!ENTITY")) is not None:
            msg = f"{shown} contains network links or XML entities that would fetch other resources; refused"
            raise InputError(msg)
        return "kml"
    if declared_format == "csv":
        if b"\x00" in head:
            raise _not_recognised(shown, "CSV (text)")
        _check_no_indirection(path, shown)
        return "csv"
    if declared_format == "xlsx":
        if not head.startswith(b"PK"):
            raise _not_recognised(shown, "XLSX")
        if "[Content_Types].xml" not in _zip_names(path, shown):
            raise _not_recognised(shown, "XLSX")
        return "xlsx"
    if declared_format == "zip":
        if not head.startswith(b"PK"):
            raise _not_recognised(shown, "zip")
        return zip_content_format(_zip_names(path, shown), shown)
    msg = f"unknown format {declared_format!r}"
    raise InputError(msg)


def check_mapinfo_table(tab: Path, shown: str) -> None:
    """Refuse MapInfo tables that point to other tables (seamless, view, linked): only NATIVE ones."""
    text = _head(tab, 16 * 1024).decode("latin-1").lower()
    if "seamless" in text or not re.search(r"type\s+native", text):
        msg = (
            f"{shown}: MapInfo table {tab.name!r} is not a native table (seamless, view and linked tables are refused)"
        )
        raise InputError(msg)


# --- coordinate systems -----------------------------------------------------------------------

_AUTHORITY_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_]*:[A-Za-z0-9_.]+|urn:ogc:def:crs:[A-Za-z]+:[0-9.]*:[A-Za-z0-9_]+")
_WKT_START = re.compile(r"[A-Z][A-Z0-9_]*\s*\[")
# "+nadgrids=@null" (no grid, optional) is how Web Mercator is written in PROJ strings and WKT1.
_NULL_GRID = re.compile(r"\+?nadgrids\s*=\s*@null\b", re.IGNORECASE)
# What makes PROJ open a file: grid parameters, +init files, WKT2 PARAMETERFILE, PROJJSON "... file"
# parameters, paths and URLs.
_CRS_FILE_REFERENCES = (
    (re.compile(r"nadgrids|geoidgrids|gridshift|tinshift|PARAMETERFILE|\bdeformation\b", re.I), "a grid file"),
    (re.compile(r"\binit\s*=", re.I), "an init file"),
    (re.compile(r"\bfile\b", re.I), "a file"),
    (re.compile(r"@"), "a grid file"),
    (re.compile(r"://|/vsi|\\|(?:^|[\s\"'=,\[(])(?:~|\.{1,2})?/[^\s/\"']+/"), "a path or URL"),
)
MAX_CRS_CHARS = 64 * 1024


def _json_strings(value: object) -> list[str]:
    """Every key and string value of a parsed JSON document, as "key" "value" pairs are written."""
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (f'"{key}"', *_json_strings(item))]
    if isinstance(value, list):
        return [text for item in value for text in _json_strings(item)]
    return [f'"{value}"'] if isinstance(value, str) else []


def check_crs_text(text: str, *, whose: str, fix: str) -> str:
    """``text`` (stripped) when it is a coordinate system PROJ can build without opening any file.

    Accepted: an authority code (``EPSG:2154``, ``IGNF:LAMB93``, ``urn:ogc:def:crs:EPSG::2154``),
    WKT or PROJJSON naming no grid, ``+init`` file, path or URL. ``whose`` names the coordinate
    system in the message (``"the coordinate system of communes.gpkg"``) and ``fix`` ends it.
    Never calls PROJ.
    """
    text = text.strip()
    excerpt = text if len(text) <= 80 else text[:77] + "..."
    if not text:
        msg = f"{whose} is empty; {fix}"
        raise InputError(msg)
    if len(text) > MAX_CRS_CHARS:
        msg = f"{whose} is {len(text)} characters long, too long to be one; {fix}"
        raise InputError(msg)
    if _AUTHORITY_CODE.fullmatch(text):
        return text
    body = text
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            msg = f"{whose} is not valid PROJJSON ({excerpt!r}); {fix}"
            raise InputError(msg)
        parsed.pop("$schema", None)  # the address of PROJJSON's schema, never fetched
        body = "\n".join(_json_strings(parsed))
    body = _NULL_GRID.sub("", body)
    for pattern, what in _CRS_FILE_REFERENCES:
        found = pattern.search(body)
        if found:
            msg = f"{whose} refers to {what} ({found.group(0).strip()!r}), which is not accepted; {fix}"
            raise InputError(msg)
    if not text.startswith("{") and not _WKT_START.match(text):
        msg = f"{whose} ({excerpt!r}) is not an EPSG code, WKT or PROJJSON; {fix}"
        raise InputError(msg)
    return text


def crs_of_file_fix(shown: str) -> str:
    """How to get past a refused coordinate system read from ``shown``."""
    return (
        f"save {shown} again with a plain EPSG coordinate system (e.g. EPSG:2154 for Lambert-93), "
        "or without one and give it with --crs EPSG:N"
    )


def check_prj(shp: Path, shown: str) -> None:
    """Refuse a shapefile whose ``.prj`` is not a WKT naming no grid or file (see :func:`check_crs_text`)."""
    prj = _sibling(shp, ".prj")
    if prj is None:
        return
    raw = _head(prj, MAX_CRS_CHARS + 1)
    text = raw.decode("latin-1")
    if not text.strip():
        return
    check_crs_text(text, whose=f"{shown}: the coordinate system in {prj.name}", fix=crs_of_file_fix(shown))


# --- text encodings ---------------------------------------------------------------------------

# Python's canonical codec name → GDAL's (iconv's) name. Encodings outside this list are refused:
# UTF-7 and friends decode any bytes into something, so a wrong one corrupts text silently.
ACCEPTED_ENCODINGS = {
    "utf-8": "UTF-8",
    "ascii": "ASCII",
    **{f"iso8859-{n}": f"ISO-8859-{n}" for n in (*range(1, 12), 13, 14, 15, 16)},
    "latin-1": "ISO-8859-1",
    **{f"cp{n}": f"CP{n}" for n in (*range(1250, 1259), 437, 850, 852, 858, 866)},
    "mac-roman": "MACINTOSH",
}
# UTF-16 is for text files (spreadsheet exports), never for a DBF's fixed-width byte fields.
TEXT_ONLY_ENCODINGS = {"utf-16": "UTF-16"}
ENCODING_EXAMPLES = "utf-8, cp1252 (Windows), latin-1 (ISO-8859-1) or iso8859-15"


def encoding_gdal_name(name: str, *, text_file: bool = False) -> str | None:
    """GDAL's name for an accepted encoding (``latin1`` → ``ISO-8859-1``); None when refused or unknown."""
    try:
        canonical = codecs.lookup(name).name
    except (LookupError, ValueError):
        return None
    allowed = {**ACCEPTED_ENCODINGS, **TEXT_ONLY_ENCODINGS} if text_file else ACCEPTED_ENCODINGS
    return allowed.get(canonical)


def _codepage_codec(value: str) -> str:
    """A .cpg value as a Python codec name: ESRI writes ``UTF-8``, ``1252``, ``ANSI 1252``, ``88591``..."""
    compact = re.sub(r"^(?:ANSI|OEM|WINDOWS|CP)[\s_-]*", "", value.strip(), flags=re.IGNORECASE)
    if compact.isdigit():
        number = int(compact)
        if number == 65001:
            return "utf-8"
        if 28591 <= number <= 28606:
            return f"iso8859-{number - 28590}"
        if compact.startswith("8859") and len(compact) > 4:
            return f"iso8859-{compact[4:]}"
        return f"cp{number}"
    return value.strip()


def _sibling(path: Path, suffix: str) -> Path | None:
    """The file beside ``path`` with the same stem and ``suffix``, whatever the case of the suffix."""
    for candidate in path.parent.iterdir():
        if candidate.stem == path.stem and candidate.suffix.lower() == suffix and candidate.is_file():
            return candidate
    return None


def check_shapefile_codepage(shp: Path, shown: str) -> str | None:
    """GDAL's name for the encoding a shapefile's ``.cpg`` names; None without one; refusal if not accepted."""
    cpg = _sibling(shp, ".cpg")
    if cpg is None:
        return None
    raw = _head(cpg, 256)
    value = raw.decode("ascii", errors="replace").strip()
    if not value:
        return None
    name = encoding_gdal_name(_codepage_codec(value)) if value.isprintable() else None
    if name is None:
        shown_value = value if len(value) <= 40 else value[:37] + "..."
        msg = (
            f"{shown}: {cpg.name} names the text encoding {shown_value!r}, which is not accepted; "
            f"write one of {ENCODING_EXAMPLES} in it, or remove it and give the encoding with --encoding"
        )
        raise InputError(msg)
    return name


# --- GeoPackage -------------------------------------------------------------------------------

_RTREE = re.compile(r"^\s*CREATE\s+VIRTUAL\s+TABLE\s+.*?\bUSING\s+rtree(?:_i32)?\s*\(", re.IGNORECASE | re.DOTALL)


def check_geopackage_schema(path: Path, shown: str) -> None:
    """Refuse a GeoPackage holding views or virtual tables other than spatial indexes.

    A view's rows are computed when it is read: a few bytes can produce gigabytes (a recursive
    query), and a virtual table can make SQLite or GDAL read other files. Data must be stored in
    tables. Run this in the reader's child process: it parses the untrusted file with SQLite.
    """
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        with sqlite3.connect(uri, uri=True) as db:
            db.execute("PRAGMA trusted_schema = OFF")
            rows = db.execute(
                "SELECT type, name, sql FROM sqlite_master"
                " WHERE type = 'view' OR sql LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
            ).fetchall()
    except sqlite3.Error as exc:
        msg = f"{shown} could not be read as gpkg: {exc} (truncated or damaged file?)"
        raise InputError(msg) from None
    for kind, name, sql in rows:
        if kind == "view":
            msg = (
                f"{shown}: {name!r} is a view (rows computed by a query when the file is read), which is not "
                "accepted; save it as a table (e.g. in QGIS, Export > Save Features As) and upload that file"
            )
            raise InputError(msg)
        if kind == "table" and sql and not _RTREE.match(sql):
            msg = (
                f"{shown}: {name!r} is a virtual table (its rows come from elsewhere), which is not accepted; "
                "save the data as a plain table and upload that file"
            )
            raise InputError(msg)

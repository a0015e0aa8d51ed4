"""Reading every accepted format in the child process, and refusing what cannot be read safely.

Fixtures are written here, in ``tmp_path``, with geopandas/pyogrio/zipfile/openpyxl or as literal text.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import types
import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, Polygon

from carto.errors import InputError
from carto.ingest.read import RawTable, read_upload, save_upload
from carto.ingest.safety import MB, Limits
from carto.ingest.sandbox import SPARE_READER, make_workdir, run_in_child, sweep_stale_workdirs

PROJECT = Path(__file__).resolve().parent.parent

POINTS = gpd.GeoDataFrame(
    {"nom": ["École Jules Ferry", "Mairie", "Gare"], "pop": [120, 35, 0]},
    geometry=[Point(2.35, 48.85), Point(5.0, 45.0), Point(-1.5, 47.25)],
    crs="EPSG:4326",
)


def _upload(tmp_path: Path, name: str, data: bytes, **kwargs: object) -> RawTable:
    path = save_upload(data, name, tmp_path / "uploads")
    return read_upload(path, original_name=name, **kwargs)  # type: ignore[arg-type]


def _geo(raw: RawTable) -> gpd.GeoDataFrame:
    assert isinstance(raw.frame, gpd.GeoDataFrame)
    return raw.frame


def _coords(frame: gpd.GeoDataFrame) -> list[tuple[float, float]]:
    return [(round(p.x, 6), round(p.y, 6)) for p in frame.geometry]


def _values(frame: pd.DataFrame) -> dict[str, list[object]]:
    """Columns as lists, missing values as None (pandas' str dtype shows them as NaN)."""
    return {str(c): [None if pd.isna(v) else v for v in frame[c]] for c in frame.columns}


def _zip_dir(directory: Path, target: Path, *, skip: tuple[str, ...] = ()) -> bytes:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.iterdir()):
            if path.suffix.lower() not in skip:
                archive.write(path, path.name)
    return target.read_bytes()


# --- upload -----------------------------------------------------------------------------------


def test_save_upload_uses_a_server_name(tmp_path: Path) -> None:
    path = save_upload(b"{}", "../../etc/passwd.geojson", tmp_path)
    assert path.parent == tmp_path
    assert path.suffix == ".geojson"
    assert "passwd" not in path.name
    assert path.read_bytes() == b"{}"


def test_save_upload_enforces_the_size_limit(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"big.csv is 2.0 MB, more than the limit of 1 MB \(CARTO_MAX_UPLOAD_MB\)"):
        save_upload(bytes(2 * MB), "big.csv", tmp_path, limits=Limits(max_bytes=1 * MB))


# --- one test per format ----------------------------------------------------------------------


def test_geojson(tmp_path: Path) -> None:
    POINTS.to_file(tmp_path / "p.geojson")
    data = (tmp_path / "p.geojson").read_bytes()
    raw = _upload(tmp_path, "Écoles.geojson", data)
    assert raw.format == "geojson"
    assert raw.original_name == "Écoles.geojson"
    assert raw.sha256 == hashlib.sha256(data).hexdigest()
    assert raw.crs == "EPSG:4326"
    assert raw.encoding == "UTF-8"
    assert raw.warnings == []
    assert isinstance(raw.frame, gpd.GeoDataFrame)
    assert list(raw.frame.columns) == ["nom", "pop", "geometry"]
    assert list(raw.frame["nom"]) == ["École Jules Ferry", "Mairie", "Gare"]
    assert list(raw.frame["pop"]) == [120, 35, 0]
    assert _coords(raw.frame) == [(2.35, 48.85), (5.0, 45.0), (-1.5, 47.25)]


def test_geopackage_layers(tmp_path: Path) -> None:
    path = tmp_path / "two.gpkg"
    squares = gpd.GeoDataFrame(
        {"code": ["44109", "44026"]},
        geometry=[Polygon([(0, 0), (1, 0), (1, 1), (0, 1)]), Polygon([(1, 0), (2, 0), (2, 1), (1, 1)])],
        crs="EPSG:2154",
    )
    squares.to_file(path, layer="communes")
    POINTS.to_file(path, layer="ecoles")
    data = path.read_bytes()
    first = _upload(tmp_path, "two.gpkg", data)
    assert first.layers == ["communes", "ecoles"]
    assert first.layer == "communes"
    assert first.crs == "EPSG:2154"
    assert list(first.frame["code"]) == ["44109", "44026"]
    assert first.warnings == ["two.gpkg has 2 layers (communes, ecoles); read 'communes', choose another with --layer"]
    second = _upload(tmp_path, "two.gpkg", data, layer="ecoles")
    assert second.layer == "ecoles"
    assert second.warnings == []
    assert list(second.frame["nom"]) == ["École Jules Ferry", "Mairie", "Gare"]
    with pytest.raises(InputError, match=r"two\.gpkg has no layer 'schools'; its layers are: communes, ecoles"):
        _upload(tmp_path, "two.gpkg", data, layer="schools")


def test_zipped_shapefile_with_prj_and_cpg(tmp_path: Path) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    POINTS.to_crs("EPSG:2154").to_file(folder / "ecoles.shp", encoding="UTF-8")
    assert (folder / "ecoles.prj").exists() and (folder / "ecoles.cpg").exists()
    raw = _upload(tmp_path, "ecoles.zip", _zip_dir(folder, tmp_path / "e.zip"))
    assert raw.format == "shapefile"
    assert raw.layers == ["ecoles"]
    assert raw.crs == "EPSG:2154"
    assert list(raw.frame["nom"]) == ["École Jules Ferry", "Mairie", "Gare"]
    back = _geo(raw).to_crs("EPSG:4326")
    assert _coords(back) == [(2.35, 48.85), (5.0, 45.0), (-1.5, 47.25)]


def test_zipped_shapefile_without_prj_and_cpg(tmp_path: Path) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    POINTS.iloc[1:].to_file(folder / "gares.shp")
    raw = _upload(tmp_path, "gares.zip", _zip_dir(folder, tmp_path / "g.zip", skip=(".prj", ".cpg")))
    assert raw.crs is None
    assert list(raw.frame["nom"]) == ["Mairie", "Gare"]
    assert _coords(raw.frame) == [(5.0, 45.0), (-1.5, 47.25)]


def test_zipped_shapefile_from_macos_finder(tmp_path: Path) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    POINTS.to_file(folder / "ecoles.shp")
    data = _zip_dir(folder, tmp_path / "e.zip")
    with zipfile.ZipFile(tmp_path / "e.zip", "a") as archive:
        for suffix in (".shp", ".shx", ".dbf"):
            archive.writestr(f"__MACOSX/._ecoles{suffix}", b"\x00\x05\x16\x07 resource fork")
    raw = _upload(tmp_path, "ecoles.zip", (tmp_path / "e.zip").read_bytes())
    assert data != (tmp_path / "e.zip").read_bytes()
    assert raw.layers == ["ecoles"]
    assert len(raw.frame) == 3


def test_shapefile_layer_choice_in_zip(tmp_path: Path) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    POINTS.iloc[:1].to_file(folder / "a.shp")
    POINTS.iloc[1:].to_file(folder / "b.shp")
    data = _zip_dir(folder, tmp_path / "ab.zip")
    raw = _upload(tmp_path, "ab.zip", data, layer="b")
    assert raw.layers == ["a", "b"]
    assert raw.layer == "b"
    assert list(raw.frame["nom"]) == ["Mairie", "Gare"]


def test_flatgeobuf(tmp_path: Path) -> None:
    POINTS.to_file(tmp_path / "p.fgb", driver="FlatGeobuf", SPATIAL_INDEX="NO")  # keep the order
    raw = _upload(tmp_path, "p.fgb", (tmp_path / "p.fgb").read_bytes())
    assert raw.format == "flatgeobuf"
    assert raw.crs == "EPSG:4326"
    assert list(raw.frame["nom"]) == ["École Jules Ferry", "Mairie", "Gare"]
    assert _coords(raw.frame) == [(2.35, 48.85), (5.0, 45.0), (-1.5, 47.25)]


def test_geoparquet(tmp_path: Path) -> None:
    POINTS.to_crs("EPSG:2154").to_parquet(tmp_path / "p.parquet")
    raw = _upload(tmp_path, "p.parquet", (tmp_path / "p.parquet").read_bytes())
    assert raw.format == "geoparquet"
    assert raw.crs == "EPSG:2154"
    assert list(raw.frame["nom"]) == ["École Jules Ferry", "Mairie", "Gare"]
    assert list(raw.frame["pop"]) == [120, 35, 0]
    assert _coords(_geo(raw).to_crs("EPSG:4326")) == [(2.35, 48.85), (5.0, 45.0), (-1.5, 47.25)]


def test_kml(tmp_path: Path) -> None:
    POINTS.to_file(tmp_path / "p.kml", driver="KML")
    raw = _upload(tmp_path, "p.kml", (tmp_path / "p.kml").read_bytes())
    assert raw.format == "kml"
    assert raw.layers == ["p"]
    assert raw.crs == "EPSG:4326"
    assert list(raw.frame["nom"]) == ["École Jules Ferry", "Mairie", "Gare"]
    assert _coords(raw.frame) == [(2.35, 48.85), (5.0, 45.0), (-1.5, 47.25)]


TOPOJSON = """{"type": "Topology",
 "objects": {"communes": {"type": "GeometryCollection", "geometries": [
   {"type": "Polygon", "arcs": [[0]], "properties": {"code": "44109", "nom": "Nantes"}},
   {"type": "Point", "coordinates": [-1.5, 47.2], "properties": {"code": "44000", "nom": "Église"}}]}},
 "arcs": [[[-1.6, 47.1], [-1.4, 47.1], [-1.4, 47.3], [-1.6, 47.1]]]}"""


def test_topojson(tmp_path: Path) -> None:
    raw = _upload(tmp_path, "communes.topojson", TOPOJSON.encode())
    assert raw.format == "topojson"
    assert raw.layers == ["communes"]
    assert list(raw.frame["nom"]) == ["Nantes", "Église"]
    assert raw.frame.geometry.iloc[0].equals(Polygon([(-1.6, 47.1), (-1.4, 47.1), (-1.4, 47.3)]))
    assert raw.frame.geometry.iloc[1].equals(Point(-1.5, 47.2))


def test_zipped_mapinfo(tmp_path: Path) -> None:
    folder = tmp_path / "tab"
    folder.mkdir()
    POINTS.to_crs("EPSG:2154").to_file(folder / "ecoles.tab", driver="MapInfo File")
    raw = _upload(tmp_path, "ecoles.zip", _zip_dir(folder, tmp_path / "t.zip"))
    assert raw.format == "mapinfo"
    assert raw.crs == "EPSG:2154"
    assert list(raw.frame["nom"]) == ["École Jules Ferry", "Mairie", "Gare"]
    assert _coords(_geo(raw).to_crs("EPSG:4326")) == [(2.35, 48.85), (5.0, 45.0), (-1.5, 47.25)]


def test_csv_semicolon_and_decimal_comma(tmp_path: Path) -> None:
    text = "id;nom;code_insee;lat;lon\na1;CCAS de Nantes;44109;47,218;-1,553\n\na2;CAF;01001;46,2;5\n"
    raw = _upload(tmp_path, "acteurs.csv", text.encode("utf-8"))
    assert raw.format == "csv"
    assert raw.encoding == "utf-8"
    assert raw.warnings == []
    assert list(raw.frame.columns) == ["id", "nom", "code_insee", "lat", "lon"]
    # Values as written; decimal commas are parsed with the coordinates (see test_ingest_mapping).
    assert raw.frame.to_dict("list") == {
        "id": ["a1", "a2"],
        "nom": ["CCAS de Nantes", "CAF"],
        "code_insee": ["44109", "01001"],
        "lat": ["47,218", "46,2"],
        "lon": ["-1,553", "5"],
    }
    assert list(raw.frame.index) == [0, 2]  # the blank line keeps its place for row numbers


def test_csv_tab_delimited(tmp_path: Path) -> None:
    raw = _upload(tmp_path, "a.tsv", b"name\tx\ty\nGare\t652000.5\t6862000\n")
    assert raw.frame.to_dict("list") == {"name": ["Gare"], "x": ["652000.5"], "y": ["6862000"]}


def test_csv_quotes_duplicate_names_and_bom(tmp_path: Path) -> None:
    text = '\ufeffnom,nom,,note\n"Centre ""Le Phare""",x,y,"ligne 1\nligne 2"\nCAF,,z,\n'
    raw = _upload(tmp_path, "a.csv", text.encode("utf-8"))
    assert _values(raw.frame) == {
        "nom": ['Centre "Le Phare"', "CAF"],
        "nom.1": ["x", None],
        "Unnamed: 2": ["y", "z"],
        "note": ["ligne 1\nligne 2", None],
    }


def test_csv_rows_longer_than_the_header_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="row 2 has more values than the header has columns"):
        _upload(tmp_path, "a.csv", b"id,nom\na1,CAF,extra\n")
    with pytest.raises(InputError, match="Expected 2 fields in line 3, saw 3"):
        _upload(tmp_path, "b.csv", b"id,nom\na1,CAF\na2,CCAS,extra\n")


def test_csv_short_rows_are_padded(tmp_path: Path) -> None:
    raw = _upload(tmp_path, "a.csv", b"id;nom;type\na1;CAF\n")
    assert _values(raw.frame) == {"id": ["a1"], "nom": ["CAF"], "type": [None]}


def test_xlsx_sheets(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Notes"
    sheet.append(["nothing here"])
    data = book.create_sheet("Acteurs")
    data.append(["id", "nom", "code_insee", "lat", "lon", "depuis", "actif"])
    data.append(["a1", "Mission locale", "01001", 46.2, 5, dt.datetime(2021, 3, 1), True])
    data.append([None, None, None, None, None, None, None])
    data.append(["a2", "Centre social", "44109", 47.218, -1.553, None, False])
    book.save(tmp_path / "b.xlsx")
    blob = (tmp_path / "b.xlsx").read_bytes()
    raw = _upload(tmp_path, "b.xlsx", blob, layer="Acteurs")
    assert raw.format == "xlsx"
    assert raw.layers == ["Notes", "Acteurs"]
    assert raw.layer == "Acteurs"
    assert _values(raw.frame) == {
        "id": ["a1", "a2"],
        "nom": ["Mission locale", "Centre social"],
        "code_insee": ["01001", "44109"],
        "lat": ["46.2", "47.218"],
        "lon": ["5", "-1.553"],
        "depuis": ["2021-03-01", None],
        "actif": ["true", "false"],
    }
    assert list(raw.frame.index) == [0, 2]
    default = _upload(tmp_path, "b.xlsx", blob)
    assert default.layer == "Notes"
    assert default.warnings == ["b.xlsx has 2 layers (Notes, Acteurs); read 'Notes', choose another with --layer"]


# --- text encoding ----------------------------------------------------------------------------


def _shapefile_zip(tmp_path: Path, names: list[str], *, encoding: str, cpg: str | None) -> bytes:
    folder = tmp_path / "enc"
    folder.mkdir()
    frame = gpd.GeoDataFrame({"nom": names}, geometry=[Point(i, 45) for i in range(len(names))], crs="EPSG:4326")
    frame.to_file(folder / "lieux.shp", encoding=encoding)
    (folder / "lieux.cpg").unlink(missing_ok=True)
    if cpg is not None:
        (folder / "lieux.cpg").write_text(cpg)
    return _zip_dir(folder, tmp_path / "lieux.zip")


def test_utf8_dbf_declared_latin1_is_repaired(tmp_path: Path) -> None:
    names = ["Cité de l’Europe", "Hôtel de ville", "Quartier Malakoff"]
    data = _shapefile_zip(tmp_path, names, encoding="UTF-8", cpg="ISO-8859-1")
    raw = _upload(tmp_path, "lieux.zip", data)
    assert list(raw.frame["nom"]) == names
    assert len(raw.warnings) == 1
    assert "decoded with the wrong encoding (e.g. 'CitÃ© de lâ\\x80\\x99Europe')" in raw.warnings[0]
    assert "repaired as UTF-8 (e.g. 'Cité de l’Europe')" in raw.warnings[0]


def test_explicit_encoding_is_honoured_for_dbf(tmp_path: Path) -> None:
    names = ["Œuvre d’accueil", "Café", "Ecole"]
    data = _shapefile_zip(tmp_path, names, encoding="cp1252", cpg=None)
    raw = _upload(tmp_path, "lieux.zip", data, encoding="cp1252")
    assert list(raw.frame["nom"]) == names
    assert raw.encoding == "cp1252"
    assert raw.warnings == []


def test_windows_1252_dbf_without_cpg_is_repaired(tmp_path: Path) -> None:
    # GDAL reads a DBF without .cpg as ISO-8859-1, which turns ’ and Œ into control characters.
    names = ["Œuvre d’accueil", "Café", "Ecole"]
    data = _shapefile_zip(tmp_path, names, encoding="cp1252", cpg=None)
    raw = _upload(tmp_path, "lieux.zip", data)
    assert list(raw.frame["nom"]) == names
    assert raw.warnings == [
        "text in nom had been decoded with the wrong encoding (e.g. '\\x8cuvre d\\x92accueil'); "
        "repaired as Windows-1252 (e.g. 'Œuvre d’accueil')"
    ]
    with pytest.raises(
        InputError,
        match=r"reading with --encoding latin-1 gives mis-decoded text.*try --encoding windows-1252",
    ):
        _upload(tmp_path, "lieux.zip", data, encoding="latin-1")


def test_csv_double_encoded_is_repaired(tmp_path: Path) -> None:
    text = "nom;ville\nCentre social;Saint-Étienne\nCCAS;Besançon\n"
    mangled = text.encode("utf-8").decode("latin-1").encode("utf-8")
    raw = _upload(tmp_path, "a.csv", mangled)
    assert raw.frame.to_dict("list") == {
        "nom": ["Centre social", "CCAS"],
        "ville": ["Saint-Étienne", "Besançon"],
    }
    assert raw.warnings == [
        "text in ville had been decoded with the wrong encoding (e.g. 'BesanÃ§on'); repaired as UTF-8 (e.g. 'Besançon')"
    ]


def test_mixed_mojibake_is_refused_naming_encoding_option(tmp_path: Path) -> None:
    text = "nom\nSaint-Ã©tienne\nBesançon\n"
    with pytest.raises(
        InputError, match="cannot be repaired safely; re-import naming the file's encoding with --encoding"
    ):
        _upload(tmp_path, "a.csv", text.encode("utf-8"))


def test_csv_in_windows_1252_is_read_with_a_warning(tmp_path: Path) -> None:
    raw = _upload(tmp_path, "a.csv", "nom\nŒuvre d’accueil\n".encode("cp1252"))
    assert list(raw.frame["nom"]) == ["Œuvre d’accueil"]
    assert raw.encoding == "cp1252"
    assert raw.warnings == ["a.csv is not UTF-8; read as Windows-1252. If accents look wrong, use --encoding"]


def test_wrong_explicit_encoding_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="reading with --encoding latin-1 gives mis-decoded text"):
        _upload(tmp_path, "a.csv", "nom\nCafé\n".encode(), encoding="latin-1")
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        _upload(tmp_path, "a.csv", b"nom\nx\n", encoding="klingon")


# --- hostile and broken files -----------------------------------------------------------------


def test_truncated_geopackage_is_refused(tmp_path: Path) -> None:
    POINTS.to_file(tmp_path / "p.gpkg")
    data = (tmp_path / "p.gpkg").read_bytes()
    with pytest.raises(InputError, match=r"p\.gpkg could not be read as gpkg") as caught:
        _upload(tmp_path, "p.gpkg", data[:3000])
    assert str(tmp_path) not in str(caught.value)  # no server path in what the user reads


def test_random_bytes_with_geojson_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"noise\.geojson is not a recognised GeoJSON"):
        _upload(tmp_path, "noise.geojson", os.urandom(4096).replace(b"{", b"x").replace(b"[", b"x"))


def test_vrt_disguised_as_geojson_is_refused_end_to_end(tmp_path: Path) -> None:
    vrt = (
        b"<OGRVRTDataSource><OGRVRTLayer name='p'><SrcDataSource>/etc/passwd</SrcDataSource>"
        b"</OGRVRTLayer></OGRVRTDataSource>"
    )
    with pytest.raises(InputError, match="is a GDAL virtual file"):
        _upload(tmp_path, "p.geojson", vrt)


def test_huge_feature_is_refused(tmp_path: Path) -> None:
    ring = shapely.Point(0, 0).buffer(1, quad_segs=300)  # 1201 vertices
    frame = gpd.GeoDataFrame({"nom": ["small", "huge"]}, geometry=[Point(0, 0), ring], crs="EPSG:4326")
    frame.to_file(tmp_path / "h.geojson")
    data = (tmp_path / "h.geojson").read_bytes()
    with pytest.raises(
        InputError, match=r"feature 2 has 1201 vertices, more than the limit of 1000 \(CARTO_MAX_VERTICES\)"
    ):
        _upload(tmp_path, "h.geojson", data, limits=Limits(max_vertices=1000))


def test_too_many_features_are_refused(tmp_path: Path) -> None:
    POINTS.to_file(tmp_path / "p.geojson")
    with pytest.raises(InputError, match=r"more than 2 features \(limit CARTO_MAX_FEATURES\)"):
        _upload(tmp_path, "p.geojson", (tmp_path / "p.geojson").read_bytes(), limits=Limits(max_features=2))
    with pytest.raises(InputError, match=r"has 3 rows, more than the limit of 2"):
        _upload(tmp_path, "p.csv", b"a\n1\n2\n3\n", limits=Limits(max_features=2))


def test_zip_bomb_is_refused_before_extraction(tmp_path: Path) -> None:
    target = tmp_path / "bomb.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.shp", b"")
        archive.writestr("x.shx", b"")
        archive.writestr("x.dbf", bytes(50 * MB))
    with pytest.raises(InputError, match="zip bomb"):
        _upload(tmp_path, "bomb.zip", target.read_bytes())
    assert not any((tmp_path / "uploads").glob("read-*")), "the extraction directory is removed"


def test_xlsx_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    target = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (50 * MB))
    with pytest.raises(InputError, match=r"bomb\.xlsx: entry 'xl/worksheets/sheet1\.xml' is compressed"):
        _upload(tmp_path, "bomb.xlsx", target.read_bytes())


def test_reading_beyond_the_memory_limit_is_refused(tmp_path: Path) -> None:
    many = gpd.GeoDataFrame(
        {"nom": [f"lieu {i}" for i in range(30_000)]},
        geometry=gpd.points_from_xy(range(30_000), range(30_000)),
        crs="EPSG:2154",
    )
    many.to_file(tmp_path / "p.geojson")
    data = (tmp_path / "p.geojson").read_bytes()
    assert len(_upload(tmp_path, "p.geojson", data).frame) == 30_000
    with pytest.raises(InputError, match=r"p.geojson: .*more than 1 MB"):
        _upload(tmp_path, "p.geojson", data, limits=Limits(memory_bytes=1 * MB))


def _crash(job: dict[str, object]) -> dict[str, object]:
    os._exit(3)


def _sleep(job: dict[str, object]) -> dict[str, object]:
    time.sleep(30)
    return {}


def _allocate(job: dict[str, object]) -> dict[str, object]:
    blob = bytearray(200 * MB)
    return {"size": len(blob)}


def _echo(job: dict[str, object]) -> dict[str, object]:
    return {"echo": job["value"]}


def _describe_process(job: dict[str, object]) -> dict[str, object]:
    deathsig = ctypes.c_int()
    ctypes.CDLL(None).prctl(2, ctypes.byref(deathsig), 0, 0, 0)  # PR_GET_PDEATHSIG
    return {
        "pid": os.getpid(),
        "parent": os.getppid(),
        "deathsig": deathsig.value,
        "cpu": resource.getrlimit(resource.RLIMIT_CPU),
        "fsize": resource.getrlimit(resource.RLIMIT_FSIZE),
        "address_space": resource.getrlimit(resource.RLIMIT_AS)[0],
        "files": sorted(str(path.resolve()) for path in Path("/proc/self/fd").iterdir() if path.exists()),
        "cwd": os.getcwd(),
        "main": getattr(sys.modules["__main__"], "__file__", None),
    }


def test_child_runs_with_limits_dies_with_its_parent_and_inherits_no_file(tmp_path: Path) -> None:
    held = open(tmp_path / "carto.duckdb", "wb")  # noqa: SIM115 - stands for the database, open in the parent
    try:
        limits = Limits(timeout_s=7.5, max_result_bytes=3 * MB, memory_bytes=500 * MB)
        seen = run_in_child(_describe_process, {}, limits=limits, workdir=tmp_path, shown="x")
    finally:
        held.close()
    assert seen["parent"] == os.getpid()
    assert seen["deathsig"] == signal.SIGKILL
    assert seen["cpu"] == [9, 14]
    assert seen["fsize"] == [4 * MB, 4 * MB]
    assert 500 * MB < seen["address_space"] < 500 * MB + 4096 * MB  # start-up footprint + the limit
    assert str(tmp_path / "carto.duckdb") not in seen["files"]
    assert seen["cwd"] == str(tmp_path)
    assert str(seen["main"]).endswith("carto/ingest/_reader_child.py")


def test_a_spare_child_takes_the_job_at_once_with_the_same_limits(tmp_path: Path) -> None:
    SPARE_READER.enable()
    assert SPARE_READER.ready()
    spare = SPARE_READER._spare
    assert spare is not None
    limits = Limits(timeout_s=7.5, max_result_bytes=3 * MB, memory_bytes=500 * MB)
    seen = run_in_child(_describe_process, {}, limits=limits, workdir=tmp_path, shown="x")
    assert seen["pid"] == spare.pid  # the spare started ahead, not a new child
    assert (seen["parent"], seen["deathsig"], seen["cwd"]) == (os.getpid(), signal.SIGKILL, str(tmp_path))
    assert seen["fsize"] == [4 * MB, 4 * MB]
    # its imports took CPU time before the job came: the job still gets its 9 s (+ 5 before SIGKILL)
    assert seen["cpu"][1] - seen["cpu"][0] == 5 and seen["cpu"][0] >= 9
    assert 500 * MB < seen["address_space"] < 500 * MB + 4096 * MB
    assert SPARE_READER.ready()  # and the next one is waiting
    assert SPARE_READER._spare is not spare


def test_a_spare_child_dies_with_the_server(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from carto.ingest import sandbox\n"
        "sandbox.SPARE_READER.enable()\n"
        "assert sandbox.SPARE_READER.ready()\n"
        "print(sandbox.SPARE_READER._spare.pid, flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=PROJECT)
    assert server.stdout is not None
    with server.stdout:
        spare_pid = int(server.stdout.readline())
    os.kill(spare_pid, 0)  # alive while the server runs
    server.kill()
    server.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _running(spare_pid):
        time.sleep(0.05)
    assert not _running(spare_pid)


def _running(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_child_target_must_be_importable(tmp_path: Path) -> None:
    def local(job: dict[str, object]) -> dict[str, object]:
        return {}

    with pytest.raises(TypeError, match="module-level function"):
        run_in_child(local, {}, limits=Limits(), workdir=tmp_path, shown="x")


def test_child_does_not_rerun_the_main_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Under Streamlit the page being shown is __main__: the reader's child must not run it again.
    marker = tmp_path / "page-ran"
    page = tmp_path / "page.py"
    page.write_text(f"open({str(marker)!r}, 'w').close()\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    assert run_in_child(_echo, {"value": 7}, limits=Limits(), workdir=tmp_path, shown="x") == {"echo": 7}
    assert not marker.exists()


def test_child_crash_becomes_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"x.gpkg: the reader crashed on this file \(it exited with code 3\)"):
        run_in_child(_crash, {}, limits=Limits(), workdir=tmp_path, shown="x.gpkg")


def test_child_timeout_becomes_an_input_error(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(InputError, match=r"x.gpkg: the file took longer than 0.5 s to read"):
        run_in_child(_sleep, {}, limits=Limits(timeout_s=0.5), workdir=tmp_path, shown="x.gpkg")
    assert time.monotonic() - started < 10


def test_child_memory_error_becomes_an_input_error(tmp_path: Path) -> None:
    assert run_in_child(_allocate, {}, limits=Limits(), workdir=tmp_path, shown="x") == {"size": 200 * MB}
    with pytest.raises(InputError, match=r"x.gpkg: reading the file needed more than 50 MB of memory"):
        run_in_child(_allocate, {}, limits=Limits(memory_bytes=50 * MB), workdir=tmp_path, shown="x.gpkg")


def test_frame_index_matches_features(tmp_path: Path) -> None:
    POINTS.to_file(tmp_path / "p.geojson")
    raw = _upload(tmp_path, "p.geojson", (tmp_path / "p.geojson").read_bytes())
    assert isinstance(raw.frame.index, pd.RangeIndex)
    assert raw.first_row == 1


# --- work folders -----------------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_stale_work_folders_are_swept(tmp_path: Path) -> None:
    dead = _dead_pid()
    now = time.time()
    names = {
        f"carto-read-{dead}-old": now - 3600,  # dead and old: swept
        f"carto-read-{dead}-recent": now - 60,  # may belong to a process of another container: kept
        f"carto-read-{os.getpid()}-mine": now - 3600,  # its process runs: kept
        "carto-read-x-odd": now - 3600,
        "read-1234": now - 3600,
    }
    for name, when in names.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "table.arrow").write_bytes(b"x")
        os.utime(tmp_path / name, (when, when))
    assert sweep_stale_workdirs(root=tmp_path, now=now) == [tmp_path / f"carto-read-{dead}-old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(set(names) - {f"carto-read-{dead}-old"})


def test_reads_work_in_a_private_temp_folder_and_remove_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    work = make_workdir()
    assert work.parent == temp
    assert work.name.startswith(f"carto-read-{os.getpid()}-")
    assert work.stat().st_mode & 0o777 == 0o700
    work.rmdir()
    raw = _upload(tmp_path, "a.csv", b"id\n1\n")
    assert list(raw.frame["id"]) == ["1"]
    assert list(temp.iterdir()) == []
    assert all(p.name.startswith("upload-") for p in (tmp_path / "uploads").iterdir())

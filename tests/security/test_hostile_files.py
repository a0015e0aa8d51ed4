"""Hostile uploads: every one is refused with one clear sentence, before the server loads or PROJ opens anything.

Each file is built here, in ``tmp_path``: GeoPackages with :mod:`sqlite3`, shapefiles with pyogrio,
GeoParquet with pyarrow, GeoJSON as literal text.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest
from shapely.geometry import Point

from carto import cli, store
from carto.errors import InputError
from carto.ingest import pipeline, read
from carto.ingest.read import RawTable, read_upload, save_upload
from carto.ingest.safety import MB, Limits

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

POINTS = gpd.GeoDataFrame(
    {"nom": ["Café des sports", "Hôtel de ville"]},
    geometry=[Point(2.35, 48.85), Point(-1.55, 47.22)],
    crs="EPSG:4326",
)
GRID_CRS = "+proj=longlat +ellps=WGS84 +nadgrids=/dev/zero"
GRID_WKT = (
    'GEOGCS["x",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],'
    f'UNIT["degree",0.0174532925199433],EXTENSION["PROJ4","{GRID_CRS}"]]'
)


def _upload(tmp_path: Path, name: str, data: bytes, **kwargs: Any) -> RawTable:
    path = save_upload(data, name, tmp_path / "uploads")
    return read_upload(path, original_name=name, **kwargs)


@pytest.fixture
def never_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the server process starts loading what the reader child produced."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server loaded the reader's result")

    monkeypatch.setattr(read, "_load_table", refuse)


# --- B: what the reader hands back is bounded ---------------------------------------------------


def _geopackage_with_view(path: Path, rows: int) -> bytes:
    """A small GeoPackage whose gpkg_contents registers a view of ``rows`` strings of 1 MiB each."""
    POINTS.to_file(path, layer="lieux")
    with sqlite3.connect(path) as db:
        db.executescript(
            f"""
            CREATE VIEW big AS
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
                SELECT i AS fid, printf('%.*c', 1048576, 'x') AS payload FROM n;
            INSERT INTO gpkg_contents (table_name, data_type, identifier) VALUES ('big', 'attributes', 'big');
            """
        )
    db.close()
    return path.read_bytes()


def test_geopackage_view_is_refused_before_anything_is_loaded(tmp_path: Path, never_loaded: None) -> None:
    data = _geopackage_with_view(tmp_path / "v.gpkg", rows=64)
    assert len(data) < 200_000  # 64 MiB of text once read
    with pytest.raises(InputError, match=r"^vue\.gpkg: 'big' is a view \(rows computed by a query") as caught:
        _upload(tmp_path, "vue.gpkg", data, layer="big")
    assert "save it as a table" in str(caught.value)
    # The whole file is refused, whichever layer is asked for: GDAL never runs the view.
    with pytest.raises(InputError, match="'big' is a view"):
        _upload(tmp_path, "vue.gpkg", data)


def test_geopackage_virtual_table_is_refused(tmp_path: Path, never_loaded: None) -> None:
    # A virtual table reads its rows from elsewhere (GDAL's VirtualOGR opens any data source).
    path = tmp_path / "virtual.gpkg"
    POINTS.to_file(path, layer="lieux")
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA writable_schema = ON")
        db.execute(
            "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) VALUES "
            "('table', 'passwd', 'passwd', 0, 'CREATE VIRTUAL TABLE passwd USING VirtualOGR(''/etc/passwd'')')"
        )
    db.close()
    with pytest.raises(InputError, match=r"^virtual\.gpkg: 'passwd' is a virtual table"):
        _upload(tmp_path, "virtual.gpkg", path.read_bytes())


def test_geopackage_spatial_index_is_accepted(tmp_path: Path) -> None:
    POINTS.to_file(tmp_path / "p.gpkg", layer="lieux", SPATIAL_INDEX="YES")
    with sqlite3.connect(tmp_path / "p.gpkg") as db:
        virtual = db.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'").fetchall()
    db.close()
    assert virtual == [("rtree_lieux_geom",)]
    assert list(_upload(tmp_path, "p.gpkg", (tmp_path / "p.gpkg").read_bytes()).frame["nom"]) == list(POINTS["nom"])


def test_a_result_larger_than_the_limit_is_refused_by_the_child(tmp_path: Path, never_loaded: None) -> None:
    rows = "\n".join(f"{i};{'x' * 1000}" for i in range(3000))  # 3 MB of text
    with pytest.raises(
        InputError,
        match=r"^big\.csv: the table read from this file takes 3 MB, more than the limit of 2 MB "
        r"\(CARTO_MAX_RESULT_MB\); split the file or drop unneeded columns$",
    ):
        _upload(tmp_path, "big.csv", f"id;texte\n{rows}\n".encode(), limits=Limits(max_result_bytes=2 * MB))


def lying_reader(job: dict[str, Any]) -> dict[str, Any]:
    """A reader child that ignores the result limit: the server must still not load its output."""
    table = pa.table({"payload": ["x" * (MB // 2)] * 5})
    with pa.OSFile(job["out"], "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return {"geometry": None, "layers": [], "layer": None, "crs": None, "encoding": "utf-8", "warnings": []}


def test_a_result_file_larger_than_the_limit_is_never_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, never_loaded: None
) -> None:
    monkeypatch.setattr(read, "_child_read", lying_reader)
    with pytest.raises(
        InputError, match=r"^a\.csv: the table read from this file takes \d MB, more than the limit of 2"
    ):
        _upload(tmp_path, "a.csv", b"id\n1\n", limits=Limits(max_result_bytes=2 * MB))


def test_the_child_cannot_write_a_file_larger_than_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # RLIMIT_FSIZE in the child: the write itself fails, whatever the reader's code checks.
    monkeypatch.setattr(read, "_child_read", lying_reader)
    with pytest.raises(InputError, match=r"^a\.csv: the table read from this file takes more than the limit of 1 MB"):
        _upload(tmp_path, "a.csv", b"id\n1\n", limits=Limits(max_result_bytes=1 * MB))


# --- C: coordinate systems that make PROJ open files ----------------------------------------------


def _shapefile_zip(tmp_path: Path, *, prj: str | None = None, cpg: str | None = None, encoding: str = "UTF-8") -> bytes:
    folder = tmp_path / "shp"
    folder.mkdir(exist_ok=True)
    pyogrio.write_dataframe(POINTS, folder / "lieux.shp", encoding=encoding)
    if prj is not None:
        (folder / "lieux.prj").write_text(prj)
    if cpg is not None:
        (folder / "lieux.cpg").write_text(cpg)
    target = tmp_path / "lieux.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    return target.read_bytes()


def _prepare(raw: RawTable, crs: str | None = None) -> pipeline.Prepared:
    conn = store.connect(":memory:")
    try:
        return pipeline.prepare_raw(raw, dataset="places", conn=conn, mapping_overrides={"id": "nom"}, crs=crs)
    finally:
        conn.close()


@pytest.mark.parametrize("prj", [GRID_CRS, GRID_WKT], ids=["proj-string", "wkt-with-proj4-extension"])
def test_prj_naming_a_grid_is_refused(tmp_path: Path, prj: str) -> None:
    with pytest.raises(InputError, match=r"^lieux\.zip: the coordinate system in lieux\.prj ") as caught:
        _upload(tmp_path, "lieux.zip", _shapefile_zip(tmp_path, prj=prj))
    assert "save lieux.zip again with a plain EPSG coordinate system" in str(caught.value)


def _geoparquet(tmp_path: Path, crs: object) -> bytes:
    POINTS.to_parquet(tmp_path / "g.parquet")
    table = pq.read_table(tmp_path / "g.parquet")
    metadata = dict(table.schema.metadata)
    geo = json.loads(metadata[b"geo"])
    geo["columns"]["geometry"]["crs"] = crs
    metadata[b"geo"] = json.dumps(geo).encode()
    pq.write_table(table.replace_schema_metadata(metadata), tmp_path / "hostile.parquet")
    return (tmp_path / "hostile.parquet").read_bytes()


BOUND_CRS_PROJJSON = {
    "type": "BoundCRS",
    "source_crs": {"type": "GeographicCRS", "name": "unknown", "datum": {"type": "GeodeticReferenceFrame",
        "name": "World Geodetic System 1984", "ellipsoid": {"name": "WGS 84", "semi_major_axis": 6378137,
        "inverse_flattening": 298.257223563}}, "coordinate_system": {"subtype": "ellipsoidal", "axis": [
        {"name": "Longitude", "abbreviation": "lon", "direction": "east", "unit": "degree"},
        {"name": "Latitude", "abbreviation": "lat", "direction": "north", "unit": "degree"}]}},
    "target_crs": {"type": "GeographicCRS", "name": "WGS 84", "id": {"authority": "EPSG", "code": 4326}},
    "transformation": {"name": "unknown to WGS84", "method": {"name": "NTv2"}, "parameters": [
        {"name": "Latitude and longitude difference file", "value": "/dev/zero"}]},
}  # fmt: skip


@pytest.mark.parametrize("crs", [GRID_CRS, BOUND_CRS_PROJJSON], ids=["proj-string", "projjson-parameter-file"])
def test_geoparquet_crs_naming_a_grid_is_refused(tmp_path: Path, crs: object) -> None:
    with pytest.raises(InputError, match=r"^the coordinate system of g\.parquet .*; save g\.parquet again"):
        _upload(tmp_path, "g.parquet", _geoparquet(tmp_path, crs))


def test_geojson_named_crs_naming_a_grid_is_refused(tmp_path: Path) -> None:
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": GRID_CRS}},
        "features": [
            {"type": "Feature", "properties": {"nom": "a"}, "geometry": {"type": "Point", "coordinates": [1, 2]}}
        ],
    }
    with pytest.raises(InputError, match=r"^the coordinate system of n\.geojson refers to a grid file"):
        _upload(tmp_path, "n.geojson", json.dumps(collection).encode())


def test_a_crs_the_file_gives_is_rechecked_in_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever the child says, the server does not hand a grid reference to PROJ.
    original = read.run_in_child

    def child_says_grid(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**original(*args, **kwargs), "crs": GRID_WKT}

    monkeypatch.setattr(read, "run_in_child", child_says_grid)
    with pytest.raises(InputError, match=r"^the coordinate system of p\.csv refers to a grid file \('nadgrids'\)"):
        _upload(tmp_path, "p.csv", b"id\n1\n")


@pytest.mark.parametrize(
    ("crs", "problem"),
    [
        (GRID_CRS, "refers to a grid file ('nadgrids')"),
        ("+init=epsg:4326", "refers to an init file ('init=')"),
        ("IGNF:LAMB93 +nadgrids=@ntf_r93.gsb", "refers to a grid file ('nadgrids')"),
        ("/dev/zero", "refers to a path or URL ('/dev/')"),
        ("+proj=longlat +datum=WGS84", "('+proj=longlat +datum=WGS84') is not an EPSG code, WKT or PROJJSON"),
    ],
)
def test_a_typed_crs_naming_files_or_not_a_crs_is_refused(tmp_path: Path, crs: str, problem: str) -> None:
    raw = _upload(tmp_path, "lieux.zip", _shapefile_zip(tmp_path))
    with pytest.raises(InputError) as caught:
        _prepare(raw, crs=crs)
    assert str(caught.value).startswith(f"lieux.zip: the coordinate system you gave {problem}")
    assert str(caught.value).endswith(
        "; give it as EPSG:N, e.g. EPSG:2154 for Lambert-93 or EPSG:4326 for longitude/latitude"
    )


def test_a_typed_epsg_code_is_accepted(tmp_path: Path) -> None:
    raw = _upload(tmp_path, "lieux.zip", _shapefile_zip(tmp_path))
    assert _prepare(raw, crs="EPSG:4326").crs == "EPSG:4326"


def test_cli_crs_naming_a_grid_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lieux.csv").write_text("id;nom;type;x;y\nP1;Quartier;quartier;652000;6862000\n")
    db = str(tmp_path / "carto.duckdb")
    assert cli.main(["--db", db, "import", "places", str(tmp_path / "lieux.csv"), "--crs", GRID_CRS]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: lieux.csv: the coordinate system you gave refers to a grid file ('nadgrids')")
    assert "Traceback" not in err and err.count("\n") == 1


# --- D: a .cpg naming an encoding that corrupts text silently ---------------------------------------


@pytest.mark.parametrize("cpg", ["UTF-7", "bogus", "UTF-16", "65000"])
def test_cpg_outside_the_accepted_encodings_is_refused(tmp_path: Path, cpg: str) -> None:
    with pytest.raises(
        InputError,
        match=rf"^lieux\.zip: lieux\.cpg names the text encoding '{cpg}', which is not accepted; write one of utf-8",
    ):
        _upload(tmp_path, "lieux.zip", _shapefile_zip(tmp_path, cpg=cpg))


@pytest.mark.parametrize(
    ("cpg", "encoding"),
    [("UTF-8", "UTF-8"), ("65001", "UTF-8"), ("1252", "cp1252"), ("ANSI 1252", "cp1252"), ("88591", "ISO-8859-1")],
)
def test_cpg_with_an_accepted_encoding_is_read(tmp_path: Path, cpg: str, encoding: str) -> None:
    raw = _upload(tmp_path, "lieux.zip", _shapefile_zip(tmp_path, cpg=cpg, encoding=encoding))
    assert list(raw.frame["nom"]) == ["Café des sports", "Hôtel de ville"]
    assert raw.warnings == []


def test_cpg_that_contradicts_the_bytes_goes_through_the_mojibake_check(tmp_path: Path) -> None:
    raw = _upload(tmp_path, "lieux.zip", _shapefile_zip(tmp_path, cpg="1252", encoding="UTF-8"))
    assert list(raw.frame["nom"]) == ["Café des sports", "Hôtel de ville"]
    assert raw.warnings == [
        "text in nom had been decoded with the wrong encoding (e.g. 'CafÃ© des sports'); "
        "repaired as UTF-8 (e.g. 'Café des sports')"
    ]


def test_typed_encoding_outside_the_accepted_ones_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^the encoding 'utf-7' is not accepted for imported files; use one of utf-8"):
        _upload(tmp_path, "a.csv", b"nom\nx\n", encoding="utf-7")


# --- F: only names the server made reach GDAL ------------------------------------------------------


def test_vrt_inside_a_zip_is_refused_end_to_end(tmp_path: Path) -> None:
    target = tmp_path / "v.zip"
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("lieux.vrt", "<OGRVRTDataSource><OGRVRTLayer name='x'/></OGRVRTDataSource>")
        archive.writestr("lieux.shp", b"")
        archive.writestr("lieux.shx", b"")
        archive.writestr("lieux.dbf", b"")
    with pytest.raises(InputError, match=r"^v\.zip contains a GDAL virtual file \('lieux\.vrt'\); refused$"):
        _upload(tmp_path, "v.zip", target.read_bytes())


def test_geojson_linking_another_resource_is_refused(tmp_path: Path) -> None:
    linked = {"type": "link", "properties": {"href": "file:///etc/passwd", "type": "proj4"}}
    data = json.dumps({"type": "FeatureCollection", "crs": linked, "features": []}).encode()
    with pytest.raises(InputError, match=r"^l\.geojson declares a linked CRS"):
        _upload(tmp_path, "l.geojson", data)


def test_gdal_sees_a_name_in_the_work_folder_not_the_users_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A command-line user's path may be relative, or read like a GDAL connection string.
    folder = tmp_path / "GPKG:data"
    folder.mkdir()
    POINTS.to_file(folder / "lieux.gpkg")
    seen: list[str] = []
    original = read.run_in_child

    def spy(target: Any, job: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        seen.append(job["source"])
        return original(target, job, **kwargs)

    monkeypatch.setattr(read, "run_in_child", spy)
    monkeypatch.chdir(tmp_path)
    raw = read_upload(Path("GPKG:data/lieux.gpkg"), original_name="lieux.gpkg")
    assert list(raw.frame["nom"]) == list(POINTS["nom"])
    [source] = seen
    assert Path(source).name == "input.gpkg"
    assert Path(source).parent.name.startswith("carto-read-")
    assert not Path(source).exists(), "the work folder is removed after the read"
    assert sorted(p.name for p in folder.iterdir()) == ["lieux.gpkg"], "nothing is written beside the user's file"

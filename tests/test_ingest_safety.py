"""Hostile and malformed inputs are refused before any reader sees them."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from carto.errors import InputError
from carto.ingest.safety import (
    MB,
    Limits,
    check_crs_text,
    check_shapefile_codepage,
    encoding_gdal_name,
    format_from_name,
    inspect_zip,
    limits_from_env,
    safe_extract,
    sniff,
)


def _zip(path: Path, entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


SHAPEFILE = {"roads.shp": b"shp", "roads.shx": b"shx", "roads.dbf": b"dbf"}


def test_limits_from_env_reads_units_and_defaults() -> None:
    limits = limits_from_env(
        {
            "CARTO_MAX_UPLOAD_MB": "5",
            "CARTO_READ_TIMEOUT_S": "2.5",
            "CARTO_MAX_FEATURES": "10",
            "CARTO_MAX_RESULT_MB": "20",
        }
    )
    assert limits.max_result_bytes == 20 * MB
    assert Limits().max_result_bytes == 500 * MB
    assert limits.max_bytes == 5 * MB
    assert limits.timeout_s == 2.5
    assert limits.max_features == 10
    assert limits.max_zip_entries == Limits().max_zip_entries


def test_limits_from_env_refuses_nonsense() -> None:
    with pytest.raises(InputError, match="CARTO_MAX_ZIP_ENTRIES='many' is not a number"):
        limits_from_env({"CARTO_MAX_ZIP_ENTRIES": "many"})
    with pytest.raises(InputError, match="CARTO_READ_MEMORY_MB must be positive"):
        limits_from_env({"CARTO_READ_MEMORY_MB": "-1"})


def test_inspect_zip_lists_a_clean_archive(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip", {**SHAPEFILE, "docs/": b""})
    assert inspect_zip(path) == ["roads.shp", "roads.shx", "roads.dbf"]


def test_archiver_junk_is_skipped(tmp_path: Path) -> None:
    junk = {"__MACOSX/._roads.shp": b"x", "__MACOSX/._roads.dbf": b"x", "._roads.shp": b"x", ".DS_Store": b"x"}
    path = _zip(tmp_path / "a.zip", {**SHAPEFILE, **junk})
    assert inspect_zip(path) == ["roads.shp", "roads.shx", "roads.dbf"]
    assert sniff(path, "zip") == "shapefile"


def test_zip_slip_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip", {**SHAPEFILE, "../evil.shp": b"x"})
    with pytest.raises(InputError, match=r"points outside the archive \('../evil.shp'\)"):
        inspect_zip(path)


def test_absolute_path_entry_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip", {**SHAPEFILE, "/etc/cron.d/evil": b"x"})
    with pytest.raises(InputError, match="absolute path"):
        inspect_zip(path)


def test_windows_drive_entry_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip", {"C:/evil.shp": b"x"})
    with pytest.raises(InputError, match="absolute path"):
        inspect_zip(path)


def test_symlink_entry_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("roads.dbf")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(InputError, match=r"symbolic link \('roads.dbf'\)"):
        inspect_zip(path)


def test_zip_bomb_ratio_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "bomb.zip", {"roads.dbf": bytes(20 * MB)})
    assert path.stat().st_size < 100_000  # 20 MB of zeros compress ~1000 times
    with pytest.raises(InputError, match="looks like a zip bomb"):
        inspect_zip(path)


def test_huge_declared_size_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "big.zip", {"roads.dbf": os.urandom(2 * MB)}, compression=zipfile.ZIP_STORED)
    with pytest.raises(InputError, match="would extract to more than 1 MB"):
        inspect_zip(path, Limits(max_uncompressed_bytes=1 * MB))


def test_nested_archive_is_refused(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("roads.shp", b"x")
    path = _zip(tmp_path / "a.zip", {**SHAPEFILE, "more/inner.zip": inner.getvalue()})
    with pytest.raises(InputError, match=r"contains another archive \('more/inner.zip'\)"):
        inspect_zip(path)


def test_vrt_inside_zip_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip", {**SHAPEFILE, "roads.vrt": b"<OGRVRTDataSource/>"})
    with pytest.raises(InputError, match="GDAL virtual file"):
        inspect_zip(path)


def test_too_many_entries_are_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip", {f"f{i}.txt": b"x" for i in range(5)})
    with pytest.raises(InputError, match="holds 5 entries, more than the limit of 3"):
        inspect_zip(path, Limits(max_zip_entries=3))


def test_truncated_zip_is_refused(tmp_path: Path) -> None:
    whole = _zip(tmp_path / "a.zip", SHAPEFILE).read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="not a readable zip archive"):
        inspect_zip(path)


def test_safe_extract_writes_inside_destination(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip", {"sub/roads.shp": b"shp", "roads.dbf": b"dbf"})
    dest = tmp_path / "out"
    dest.mkdir()
    written = safe_extract(path, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in written) == ["roads.dbf", "sub/roads.shp"]
    assert (dest / "sub" / "roads.shp").read_bytes() == b"shp"


def test_format_from_name() -> None:
    assert format_from_name("Communes 2024.GeoJSON") == "geojson"
    assert format_from_name("x.zip") == "zip"
    with pytest.raises(InputError, match=r"upload the shapefile as a \.zip"):
        format_from_name("roads.shp")
    with pytest.raises(InputError, match="GDAL virtual files are not accepted"):
        format_from_name("roads.vrt")
    with pytest.raises(InputError, match=r"unsupported file type '\.exe'"):
        format_from_name("setup.exe")


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_geojson_that_is_a_vrt_is_refused(tmp_path: Path) -> None:
    vrt = (
        b'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource>'
        b"</OGRVRTLayer></OGRVRTDataSource>"
    )
    with pytest.raises(InputError, match=r"is a GDAL virtual file \(VRT\)"):
        sniff(_write(tmp_path, "a.geojson", vrt), "geojson")


def test_geojson_that_is_a_url_is_refused(tmp_path: Path) -> None:
    for content in (b"https://example.org/data.geojson\n", b"  /vsicurl/http://example.org/x.json"):
        with pytest.raises(InputError, match="reference to another source"):
            sniff(_write(tmp_path, "a.geojson", content), "geojson")


def test_geojson_with_vsi_path_inside_is_refused(tmp_path: Path) -> None:
    content = b'{"type": "FeatureCollection", "features": [], "x": "/vsicurl/http://example.org/a"}'
    with pytest.raises(InputError, match=r"GDAL virtual path \('/vsi...'\)"):
        sniff(_write(tmp_path, "a.geojson", content), "geojson")


def test_geojson_with_linked_crs_is_refused(tmp_path: Path) -> None:
    content = b'{"type": "FeatureCollection", "crs": {"type": "link", "properties": {"href": "http://x/crs"}}}'
    with pytest.raises(InputError, match="linked CRS"):
        sniff(_write(tmp_path, "a.geojson", content), "geojson")


def test_geojson_with_a_website_attribute_is_accepted(tmp_path: Path) -> None:
    content = (
        b'{"type": "FeatureCollection", "features": [{"type": "Feature", '
        b'"properties": {"web": "https://caf.fr"}, "geometry": null}]}'
    )
    assert sniff(_write(tmp_path, "a.geojson", content), "geojson") == "geojson"


def test_topojson_is_recognised(tmp_path: Path) -> None:
    content = b'{"type":"Topology","objects":{},"arcs":[]}'
    assert sniff(_write(tmp_path, "a.json", content), "geojson") == "topojson"


def test_random_bytes_are_not_recognised(tmp_path: Path) -> None:
    noise = bytes(range(256)) * 8
    for name, fmt, what in (
        ("a.geojson", "geojson", "GeoJSON"),
        ("a.gpkg", "gpkg", "GeoPackage"),
        ("a.fgb", "flatgeobuf", "FlatGeobuf"),
        ("a.parquet", "geoparquet", "GeoParquet"),
        ("a.kml", "kml", "KML"),
        ("a.csv", "csv", "CSV"),
        ("a.xlsx", "xlsx", "XLSX"),
        ("a.zip", "zip", "zip"),
    ):
        with pytest.raises(InputError, match=f"{name} is not a recognised {what}"):
            sniff(_write(tmp_path, name, noise), fmt)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"a\.csv is empty"):
        sniff(_write(tmp_path, "a.csv", b""), "csv")


def test_kml_with_network_link_is_refused(tmp_path: Path) -> None:
    kml = b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><NetworkLink><Link><href>http://x/y.kml</href></Link></NetworkLink></kml>'
    with pytest.raises(InputError, match="network links"):
        sniff(_write(tmp_path, "a.kml", kml), "kml")


def test_zip_content_decides_shapefile_or_mapinfo(tmp_path: Path) -> None:
    assert sniff(_zip(tmp_path / "a.zip", SHAPEFILE), "zip") == "shapefile"
    tab = {"t.tab": b"", "t.dat": b"", "t.map": b"", "t.id": b""}
    assert sniff(_zip(tmp_path / "b.zip", tab), "zip") == "mapinfo"
    with pytest.raises(InputError, match=r"shapefile 'roads' lacks its \.dbf file"):
        sniff(_zip(tmp_path / "c.zip", {"roads.shp": b"", "roads.shx": b""}), "zip")
    with pytest.raises(InputError, match="holds neither a shapefile"):
        sniff(_zip(tmp_path / "d.zip", {"readme.txt": b""}), "zip")


def test_xlsx_needs_content_types(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a recognised XLSX"):
        sniff(_zip(tmp_path / "a.xlsx", {"xl/workbook.xml": b""}), "xlsx")


# --- coordinate systems -----------------------------------------------------------------------

WEB_MERCATOR_WKT1 = (
    'PROJCS["WGS 84 / Pseudo-Mercator",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Mercator_1SP"],UNIT["metre",1],'
    'EXTENSION["PROJ4","+proj=merc +a=6378137 +b=6378137 +lon_0=0 +k=1 +units=m +nadgrids=@null +no_defs"]]'
)


@pytest.mark.parametrize(
    "text",
    [
        "EPSG:2154",
        " epsg:4326 ",
        "IGNF:LAMB93",
        "urn:ogc:def:crs:EPSG::2154",
        'PROJCS["RGF93 / Lambert-93",GEOGCS["RGF93",DATUM["RGF93",SPHEROID["GRS 1980",6378137,298.257222101]]]]',
        WEB_MERCATOR_WKT1,  # +nadgrids=@null means "no grid"
        '{"$schema": "https://proj.org/schemas/v0.7/projjson.schema.json", "type": "GeographicCRS", "name": "Café"}',
    ],
)
def test_check_crs_text_accepts_codes_wkt_and_projjson(text: str) -> None:
    assert check_crs_text(text, whose="the CRS", fix="fix it") == text.strip()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("+proj=longlat +nadgrids=/dev/zero", "refers to a grid file ('nadgrids')"),
        ('GEOGCRS["x",REMARK["+geoidgrids=egm96.gtx"]]', "refers to a grid file ('geoidgrids')"),
        ('BOUNDCRS[ABRIDGEDTRANSFORMATION[PARAMETERFILE["f","ntf_r93.gsb"]]]', "refers to a grid file"),
        ('{"parameters": [{"name": "Geoid model file", "value": "egm08.tif"}]}', "refers to a file ('file')"),
        ("+init=epsg:4326", "refers to an init file ('init=')"),
        ('GEOGCS["x",EXTENSION["PROJ4","+proj=longlat +nadgrids=@foo.gsb"]]', "refers to a grid file ('nadgrids')"),
        ('GEOGCS["x",REMARK["/proc/self/environ"]]', "refers to a path or URL ('\"/proc/')"),
        ('GEOGCS["x",REMARK["https://example.org/crs"]]', "refers to a path or URL ('://')"),
        ('GEOGCS["x",REMARK["\\\\server\\share"]]', "refers to a path or URL ('\\\\')"),
        ("+proj=longlat +datum=WGS84", "('+proj=longlat +datum=WGS84') is not an EPSG code, WKT or PROJJSON"),
        ("2154", "('2154') is not an EPSG code, WKT or PROJJSON"),
        ("{not json", "is not valid PROJJSON ('{not json')"),
        ("   ", "is empty"),
    ],
)
def test_check_crs_text_refuses_files_grids_and_other_forms(text: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        check_crs_text(text, whose="the CRS of a.gpkg", fix="give EPSG:N")
    assert str(caught.value).startswith(f"the CRS of a.gpkg {problem}")
    assert str(caught.value).endswith("; give EPSG:N")


# --- text encodings ---------------------------------------------------------------------------


def test_encoding_gdal_name_accepts_only_the_allow_list() -> None:
    assert encoding_gdal_name("latin-1") == "ISO-8859-1"
    assert encoding_gdal_name("Windows-1252") == "CP1252"
    assert encoding_gdal_name("utf8") == "UTF-8"
    assert encoding_gdal_name("utf-7") is None
    assert encoding_gdal_name("utf-16") is None
    assert encoding_gdal_name("utf-16", text_file=True) == "UTF-16"
    assert encoding_gdal_name("klingon") is None


@pytest.mark.parametrize(
    ("cpg", "expected"),
    [
        ("UTF-8", "UTF-8"),
        ("utf8\r\n", "UTF-8"),
        ("65001", "UTF-8"),
        ("1252", "CP1252"),
        ("ANSI 1252", "CP1252"),
        ("OEM 850", "CP850"),
        ("88591", "ISO-8859-1"),
        ("28605", "ISO-8859-15"),
        ("ISO-8859-15", "ISO-8859-15"),
        ("", None),
    ],
)
def test_shapefile_codepage_is_read_from_the_cpg(tmp_path: Path, cpg: str, expected: str | None) -> None:
    (tmp_path / "lieux.shp").write_bytes(b"")
    (tmp_path / "lieux.CPG").write_text(cpg)
    assert check_shapefile_codepage(tmp_path / "lieux.shp", "lieux.zip") == expected


def test_shapefile_without_cpg_has_no_codepage(tmp_path: Path) -> None:
    (tmp_path / "lieux.shp").write_bytes(b"")
    (tmp_path / "autre.cpg").write_text("UTF-7")
    assert check_shapefile_codepage(tmp_path / "lieux.shp", "lieux.zip") is None


@pytest.mark.parametrize("cpg", ["UTF-7", "bogus", "UTF-16", "EBCDIC", "cp037"])
def test_shapefile_codepage_outside_the_allow_list_is_refused(tmp_path: Path, cpg: str) -> None:
    (tmp_path / "lieux.shp").write_bytes(b"")
    (tmp_path / "lieux.cpg").write_text(cpg)
    with pytest.raises(
        InputError,
        match=rf"^lieux\.zip: lieux\.cpg names the text encoding '{cpg}', which is not accepted; write one of utf-8, "
        r"cp1252 \(Windows\), latin-1 \(ISO-8859-1\) or iso8859-15 in it, or remove it and give the encoding "
        r"with --encoding$",
    ):
        check_shapefile_codepage(tmp_path / "lieux.shp", "lieux.zip")

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
    limits = limits_from_env({"CARTO_MAX_UPLOAD_MB": "5", "CARTO_READ_TIMEOUT_S": "2.5", "CARTO_MAX_FEATURES": "10"})
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

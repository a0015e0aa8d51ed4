"""Column mapping, CRS guessing and geometry building."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon

from carto.errors import InputError, ValidationError
from carto.ingest.mapping import (
    all_mapping_fields,
    apply_mapping,
    detect_swapped_lonlat,
    guess_crs,
    load_mapping,
    mapping_fields,
    normalise_name,
    parse_map_args,
    parse_mapping,
    save_mapping,
    suggest_mapping,
)
from carto.ingest.read import RawTable


def _raw(frame: pd.DataFrame, *, fmt: str = "csv", crs: str | None = None) -> RawTable:
    return RawTable(
        frame=frame,
        original_name=f"f.{fmt}",
        sha256="0" * 64,
        format=fmt,
        layers=[],
        layer=None,
        crs=crs,
        encoding="utf-8",
        warnings=[],
    )


def _text(values: dict[str, list[str | None]], index: list[int] | None = None) -> pd.DataFrame:
    return pd.DataFrame(values, index=index, dtype="str")


# --- suggestions ------------------------------------------------------------------------------


def test_normalise_name() -> None:
    assert normalise_name("  Libellé de l'Établissement ") == "libelle_de_l_etablissement"
    assert normalise_name("CODE-INSEE") == "code_insee"


def test_suggest_mapping_french_actors() -> None:
    columns = [
        "Identifiant",
        "Raison sociale",
        "Catégorie",
        "Secteur",
        "SIRET",
        "Code INSEE",
        "Latitude",
        "Longitude",
        "Remarque",
    ]
    assert suggest_mapping(columns, "actors") == {
        "id": "Identifiant",
        "name": "Raison sociale",
        "type": "Catégorie",
        "sector": "Secteur",
        "siret": "SIRET",
        "territory_code": "Code INSEE",
        "lat": "Latitude",
        "lon": "Longitude",
    }


def test_suggest_mapping_english_relations() -> None:
    columns = [
        "id",
        "from",
        "to",
        "kind",
        "Weight",
        "Directed",
        "start_date",
        "end_date",
        "scheme",
        "stage",
        "formal",
    ]
    assert suggest_mapping(columns, "relations") == {
        "id": "id",
        "source": "from",
        "target": "to",
        "kind": "kind",
        "weight": "Weight",
        "directed": "Directed",
        "start": "start_date",
        "end": "end_date",
        "scheme_id": "scheme",
        "stage": "stage",
        "formal": "formal",
    }


def test_suggest_mapping_french_relations_and_territories() -> None:
    relations = [
        "origine",
        "cible",
        "genre",
        "dimension",
        "formel",
        "dispositif",
        "poids",
        "orienté",
        "début",
        "fin",
        "étape",
    ]
    assert suggest_mapping(relations, "relations") == {
        "source": "origine",
        "target": "cible",
        "kind": "genre",
        "dimension": "dimension",
        "formal": "formel",
        "scheme_id": "dispositif",
        "weight": "poids",
        "directed": "orienté",
        "start": "début",
        "end": "fin",
        "stage": "étape",
    }
    territories = ["CODGEO", "LIBGEO", "Niveau", "PTOT", "code_parent"]
    assert suggest_mapping(territories, "territories") == {
        "code": "CODGEO",
        "name": "LIBGEO",
        "level": "Niveau",
        "population": "PTOT",
        "parent_code": "code_parent",
    }


def test_suggest_mapping_places_type_means_kind_and_xy() -> None:
    assert suggest_mapping(["nom", "type", "publics", "X", "Y", "pop"], "places") == {
        "name": "nom",
        "kind": "type",
        "publics": "publics",
        "population": "pop",
        "x": "X",
        "y": "Y",
    }


def test_suggest_mapping_ign_and_insee_headers() -> None:
    # IGN ADMIN EXPRESS communes.
    admin_express = ["ID", "NOM", "NOM_M", "INSEE_COM", "STATUT", "POPULATION", "INSEE_CAN", "INSEE_DEP", "SIREN_EPCI"]
    assert suggest_mapping(admin_express, "territories") == {
        "code": "INSEE_COM",
        "name": "NOM",
        "parent_code": "SIREN_EPCI",
        "population": "POPULATION",
    }
    # INSEE base permanente des équipements, Lambert-93 coordinates.
    bpe = ["DEPCOM", "TYPEQU", "LAMBERT_X", "LAMBERT_Y", "QUALITE_XY"]
    assert suggest_mapping(bpe, "places") == {"territory_code": "DEPCOM", "x": "LAMBERT_X", "y": "LAMBERT_Y"}
    # SIRENE géolocalisé, camelCase headers.
    sirene = ["siret", "denominationUniteLegale", "codeCommuneEtablissement", "longitude", "latitude"]
    assert suggest_mapping(sirene, "actors") == {
        "name": "denominationUniteLegale",
        "siret": "siret",
        "territory_code": "codeCommuneEtablissement",
        "lon": "longitude",
        "lat": "latitude",
    }


def test_suggest_mapping_leaves_coordinates_to_a_file_geometry() -> None:
    assert suggest_mapping(["nom", "lat", "lon"], "places", has_geometry=True) == {"name": "nom"}


def test_mapping_save_load_round_trip(tmp_path: Path) -> None:
    mapping = {"name": "Raison sociale", "lat": "Latitude"}
    save_mapping(mapping, tmp_path / "m.json")
    assert load_mapping(tmp_path / "m.json") == mapping
    (tmp_path / "bad.json").write_text('["name"]')
    with pytest.raises(InputError, match=r"bad\.json is not a mapping"):
        load_mapping(tmp_path / "bad.json")


EXPECTED_MAPPING = (
    'expected a flat JSON object of field names to column names, e.g. {"name": "nom_structure", "lat": "Latitude"}'
)
TOO_DEEP = "is not a mapping: its JSON nests more than 3 levels deep; " + EXPECTED_MAPPING


@pytest.mark.parametrize(
    "data",
    [b"[" * 100_000, b'{"a": ' * 10_000 + b"1" + b"}" * 10_000, b'{"values": {"type": {"x": {"y": "z"}}}}'],
    ids=["open-brackets", "objects-10000-deep", "four-levels"],
)
def test_load_mapping_refuses_deep_nesting_before_parsing(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "deep.json").write_bytes(data)
    with pytest.raises(InputError) as info:
        load_mapping(tmp_path / "deep.json")
    assert str(info.value) == "deep.json " + TOO_DEEP


def test_load_mapping_refuses_a_big_file_without_reading_it(tmp_path: Path) -> None:
    with (tmp_path / "big.json").open("wb") as file:
        file.write(b'{"name": "' + b"n" * (10 * 1024 * 1024) + b'"}')
    with pytest.raises(InputError) as info:
        load_mapping(tmp_path / "big.json")
    assert str(info.value) == (
        "big.json is 10,485,772 bytes: a mapping file is at most 256 KB; "
        "give a mapping saved by --save-mapping or by the import page"
    )


def test_parse_mapping_lists_every_wrong_key_and_value() -> None:
    data = b'{"name": 3, "nom": "Nom", "lat": ["y"], "lon": "Longitude", "x": null, "dim": {"a": "b"}}'
    with pytest.raises(ValidationError) as info:
        parse_mapping(data, name="m.json")
    fields = ", ".join(all_mapping_fields())
    assert info.value.problems == [
        f"unknown fields 'nom', 'dim' (the fields are: {fields})",
        "a column is a text, but 'name' is a number, 'lat' is a list, 'x' is null, 'dim' is an object",
    ]
    assert str(info.value) == "m.json is not a mapping: " + "; ".join(info.value.problems) + "; " + EXPECTED_MAPPING


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'["name"]', "the file holds a list, not an object"),
        (b'"name"', "the file holds a text, not an object"),
        (b"true", "the file holds true/false, not an object"),
        (b"12", "the file holds a number, not an object"),
    ],
)
def test_parse_mapping_refuses_what_is_not_an_object(data: bytes, problem: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_mapping(data)
    assert str(info.value) == f"the uploaded file is not a mapping: {problem}; {EXPECTED_MAPPING}"


def test_parse_mapping_refuses_what_is_not_json() -> None:
    with pytest.raises(InputError) as info:
        parse_mapping(b'{"name": "nom"')
    assert str(info.value) == (
        "the uploaded file is not a mapping: it is not valid JSON (Expecting ',' delimiter: line 1 column 15 (char 14))"
    )
    with pytest.raises(InputError) as info:
        parse_mapping(b'{"name": "\xff"}')
    assert str(info.value) == "the uploaded file is not a mapping: it is not UTF-8 text (invalid start byte at byte 10)"


def test_the_import_page_reads_an_upload_through_the_same_checks() -> None:
    # carto.ui.imports.mapping_editor hands the uploaded bytes to parse_mapping, named as an upload
    with pytest.raises(InputError) as info:
        parse_mapping(b"[" * 100_000)
    assert str(info.value) == "the uploaded file " + TOO_DEEP
    assert parse_mapping(b'{"name": "nom"}') == {"name": "nom"}


def test_parse_mapping_accepts_brackets_in_names_and_the_page_wrapper() -> None:
    assert parse_mapping(b'{"name": "[[[{{{\\"", "lat": "}}]]"}') == {"name": '[[[{{{"', "lat": "}}]]"}
    assert parse_mapping(b'{"mapping": {"name": "nom"}}') == {"name": "nom"}


def test_parse_map_args() -> None:
    assert parse_map_args(["name=Nom de la structure", "lon=X"], "actors") == {
        "name": "Nom de la structure",
        "lon": "X",
    }
    with pytest.raises(InputError, match=r"--map 'colour=rouge': actors has no field 'colour'; fields: id, name"):
        parse_map_args(["colour=rouge"], "actors")
    with pytest.raises(InputError, match="expected FIELD=COLUMN"):
        parse_map_args(["name"], "actors")
    assert "lon" not in mapping_fields("territories")


# --- CRS --------------------------------------------------------------------------------------


def test_guess_crs_lambert93() -> None:
    # Nantes, Strasbourg, Ajaccio in Lambert-93, rounded to the metre.
    xs = [355_578, 1_050_363, 1_176_668]
    ys = [6_689_723, 6_840_900, 6_108_273]
    candidates = guess_crs(xs, ys)
    assert candidates[0] == "EPSG:2154"
    assert "EPSG:4326" not in candidates
    assert "EPSG:3857" not in candidates


def test_guess_crs_wgs84() -> None:
    assert guess_crs([-1.5536, 7.75, 8.7369], [47.2184, 48.5833, 41.9192]) == ["EPSG:4326"]


def test_guess_crs_web_mercator_and_nothing() -> None:
    # Paris alone in Web Mercator also reads as a point of Lambert-93: both are offered.
    assert guess_crs([261_845.7], [6_250_564.3]) == ["EPSG:2154", "EPSG:3857"]
    # With Brest (48.3904 N, 4.4861 W) the negative x rules Lambert-93 out.
    assert guess_crs([261_845.7, -499_390.4], [6_250_564.3, 6_172_051.0]) == ["EPSG:3857"]
    assert guess_crs([1e9], [1e9]) == []


def test_detect_swapped_lonlat() -> None:
    assert detect_swapped_lonlat([47.2, 48.58, 43.3], [-1.55, 7.75, 5.37])
    assert not detect_swapped_lonlat([-1.55, 7.75, 5.37], [47.2, 48.58, 43.3])
    assert not detect_swapped_lonlat([], [])


# --- apply_mapping ----------------------------------------------------------------------------


def test_apply_mapping_lonlat_columns() -> None:
    frame = _text(
        {
            "ident": ["a1", "a2"],
            "nom": ["CCAS", "CAF"],
            "cat": ["ccas", "caf"],
            "Y": ["47.2", "45,5"],
            "X": ["-1.5", "4"],
        },
        index=[0, 2],
    )
    out = apply_mapping(
        _raw(frame), "actors", {"id": "ident", "name": "nom", "type": "cat", "lat": "Y", "lon": "X"}, crs=None
    )
    assert isinstance(out, gpd.GeoDataFrame)
    assert out.crs == "EPSG:4326"
    assert list(out.columns) == [
        "id",
        "name",
        "type",
        "sector",
        "siret",
        "territory_code",
        "services",
        "_row",
        "_issue",
        "geometry",
    ]
    assert list(out["id"]) == ["a1", "a2"]
    assert list(out["_row"]) == [2, 4]
    assert out["sector"].isna().all()
    assert [(p.x, p.y) for p in out.geometry] == [(-1.5, 47.2), (4.0, 45.5)]


def test_apply_mapping_swapped_lonlat_is_refused() -> None:
    frame = _text({"nom": ["a", "b"], "lat": ["-1.55", "7.75"], "lon": ["47.2", "48.58"]})
    with pytest.raises(
        InputError,
        match=r"column 'lon' holds latitudes and 'lat' longitudes; swap them: --map lon=lat --map lat=lon",
    ):
        apply_mapping(_raw(frame), "actors", {"name": "nom", "lat": "lat", "lon": "lon"}, crs=None)


def test_apply_mapping_xy_needs_a_confirmed_crs() -> None:
    # Nantes (47.2184 N, 1.5536 W) and Strasbourg (48.5734 N, 7.7521 E) in Lambert-93.
    frame = _text({"nom": ["Nantes", "Strasbourg"], "x": ["355578", "1050363"], "y": ["6689723", "6840900"]})
    mapping = {"name": "nom", "x": "x", "y": "y"}
    with pytest.raises(InputError, match=r"columns 'x'/'y' has no CRS; its coordinates fit EPSG:2154.*--crs EPSG:2154"):
        apply_mapping(_raw(frame), "places", mapping, crs=None)
    out = apply_mapping(_raw(frame), "places", mapping, crs="EPSG:2154")
    assert [(round(p.x, 3), round(p.y, 3)) for p in out.geometry] == [(-1.554, 47.218), (7.752, 48.573)]


def test_apply_mapping_file_geometry_is_reprojected() -> None:
    square = Polygon([(355_000, 6_689_000), (356_000, 6_689_000), (356_000, 6_690_000), (355_000, 6_690_000)])
    frame = gpd.GeoDataFrame(
        {"INSEE": ["44109"], "NOM": ["Nantes"], "NIVEAU": ["commune"]}, geometry=[square], crs="EPSG:2154"
    )
    raw = _raw(frame, fmt="gpkg", crs="EPSG:2154")
    out = apply_mapping(raw, "territories", {"code": "INSEE", "name": "NOM", "level": "NIVEAU"}, crs=None)
    assert list(out.columns) == [
        "code",
        "name",
        "level",
        "parent_code",
        "population",
        "_row",
        "_issue",
        "geometry",
    ]
    assert list(out["_row"]) == [1]
    assert out.crs == "EPSG:4326"
    # The square holds Nantes (47.2184 N, 1.5536 W), which is (355578, 6689723) in Lambert-93.
    assert out.geometry.iloc[0].contains(Point(-1.5536, 47.2184))
    assert not out.geometry.iloc[0].buffer(0.01).contains(Point(-1.5536, 47.25))


def test_apply_mapping_file_without_crs_lists_candidates() -> None:
    frame = gpd.GeoDataFrame({"nom": ["x"]}, geometry=[Point(355_578, 6_689_723)])
    with pytest.raises(InputError, match=r"f.shapefile: the file has no CRS; its coordinates fit EPSG:2154"):
        apply_mapping(_raw(frame, fmt="shapefile"), "places", {"name": "nom"}, crs=None)
    out = apply_mapping(_raw(frame, fmt="shapefile"), "places", {"name": "nom"}, crs="EPSG:2154")
    assert (round(out.geometry.iloc[0].x, 3), round(out.geometry.iloc[0].y, 3)) == (-1.554, 47.218)


def test_apply_mapping_attaches_by_commune_code() -> None:
    territories = gpd.GeoDataFrame(
        {"code": ["01001", "44109"]},
        geometry=[
            Polygon([(5, 46), (5.1, 46), (5.1, 46.1), (5, 46.1)]),
            Polygon([(-1.6, 47.2), (-1.5, 47.2), (-1.5, 47.3), (-1.6, 47.3)]),
        ],
        crs="EPSG:4326",
    )
    frame = _text({"nom": ["CAF", "CCAS", "Asso", "Club"], "code_insee": ["44109", "1001", "99999", None]})
    out = apply_mapping(
        _raw(frame, fmt="xlsx"),
        "actors",
        {"name": "nom", "territory_code": "code_insee"},
        crs=None,
        territories=territories,
    )
    assert list(out["territory_code"].astype(object).where(out["territory_code"].notna(), None)) == [
        "44109",
        "01001",
        "99999",
        None,
    ]
    assert out.geometry.iloc[0].within(territories.geometry.iloc[1])
    assert out.geometry.iloc[1].within(territories.geometry.iloc[0])
    assert out.geometry.iloc[2] is None and out.geometry.iloc[3] is None
    issues = [None if pd.isna(v) else v for v in out["_issue"]]
    assert issues == [
        None,
        None,
        "commune code '99999' is not a known territory",
        "no coordinates and no commune code",
    ]
    assert out.attrs["warnings"] == [
        "1 commune codes had lost their leading zero (e.g. 1001 → 01001) and were completed"
    ]
    assert list(out["_row"]) == [2, 3, 4, 5]


def test_apply_mapping_by_code_needs_territories() -> None:
    frame = _text({"nom": ["CAF"], "insee": ["44109"]})
    with pytest.raises(InputError, match="needs territories loaded first"):
        apply_mapping(_raw(frame), "actors", {"name": "nom", "territory_code": "insee"}, crs=None)


def test_apply_mapping_relations_have_no_geometry() -> None:
    frame = _text({"de": ["a1"], "vers": ["p2"], "genre": ["referral"]})
    out = apply_mapping(_raw(frame), "relations", {"source": "de", "target": "vers", "kind": "genre"}, crs=None)
    assert not isinstance(out, gpd.GeoDataFrame)
    assert [out.loc[0, c] for c in ("source", "target", "kind", "_row")] == ["a1", "p2", "referral", 2]
    assert out["id"].isna().all()


def test_apply_mapping_refuses_unknown_columns_and_missing_geometry() -> None:
    frame = _text({"nom": ["CAF"]})
    with pytest.raises(InputError, match=r"f.csv has no column 'Nom'; its columns: nom"):
        apply_mapping(_raw(frame), "actors", {"name": "Nom"}, crs=None)
    with pytest.raises(InputError, match=r"f\.csv has no geometry: map lon/lat or x/y columns, or a commune code"):
        apply_mapping(_raw(frame), "actors", {"name": "nom"}, crs=None)
    with pytest.raises(InputError, match="map both lon and lat: lat is missing"):
        apply_mapping(_raw(frame), "actors", {"name": "nom", "lon": "nom"}, crs=None)

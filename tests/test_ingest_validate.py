"""One test per validation rule, on tiny literal frames, with exact expectations."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from carto import store
from carto.ingest.validate import validate
from carto.model import ACTORS, PLACES, RELATIONS, SCHEMES, TERRITORIES
from carto.text import neutralise_formulas

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS


@pytest.fixture(scope="module")
def conn() -> store.Connection:
    c = store.connect(":memory:")
    with store.transaction(c) as cur:
        store.insert_rows(
            cur,
            "territories",
            gpd.GeoDataFrame(
                {"code": ["75056"], "name": ["Paris"], "level": ["commune"]},
                geometry=[shapely.box(2.2, 48.8, 2.5, 48.9)],
                crs="EPSG:4326",
            ),
        )
        store.insert_rows(
            cur,
            "actors",
            gpd.GeoDataFrame(
                {"id": ["a1", "a2"], "name": ["CCAS", "CAF"], "type": ["ccas", "caf"]},
                geometry=[shapely.Point(2.3, 48.85), shapely.Point(2.4, 48.85)],
                crs="EPSG:4326",
            ),
        )
        store.insert_rows(
            cur,
            "places",
            gpd.GeoDataFrame(
                {"id": ["pl1"], "name": ["Quartier"], "kind": ["neighbourhood"]},
                geometry=[shapely.Point(2.3, 48.86)],
                crs="EPSG:4326",
            ),
        )
        store.insert_rows(cur, "schemes", pd.DataFrame({"id": ["s1"], "name": ["Contrat de ville"]}))
    return c


def _actors(**overrides: list) -> gpd.GeoDataFrame:
    n = len(next(iter(overrides.values()))) if overrides else 1
    data: dict[str, list[Any]] = {
        "id": [f"x{i}" for i in range(1, n + 1)],
        "name": ["Nom"] * n,
        "type": ["ccas"] * n,
    }
    data["_row"] = list(range(1, n + 1))
    geometry = overrides.pop("geometry", [shapely.Point(2.35, 48.85)] * n)
    data.update(overrides)
    return gpd.GeoDataFrame(data, geometry=geometry, crs="EPSG:4326")


def _relations(**overrides: list) -> pd.DataFrame:
    n = len(next(iter(overrides.values()))) if overrides else 1
    data = {
        "id": [f"r{i}" for i in range(1, n + 1)],
        "source": ["a1"] * n,
        "target": ["a2"] * n,
        "kind": ["partnership"] * n,
        "_row": list(range(1, n + 1)),
    }
    data.update(overrides)
    return pd.DataFrame(data)


def _found(report) -> list[tuple[int, str, str, str]]:
    return [(p.row, p.field, p.severity, p.code) for p in report.problems]


def test_clean_rows_have_no_problem(conn: store.Connection) -> None:
    report = validate(_actors(id=["x1", "x2"]), ACTORS, conn_or_cursor=conn)
    assert report.problems == []
    assert report.ok and report.valid_rows == 2 and report.valid_mask.tolist() == [True, True]


def test_missing_required(conn: store.Connection) -> None:
    report = validate(_actors(name=["Nom", "  ", None]), ACTORS, conn_or_cursor=conn)
    assert _found(report) == [
        (2, "name", "error", "missing_required"),
        (3, "name", "error", "missing_required"),
    ]
    assert report.valid_mask.tolist() == [True, False, False]
    assert not report.ok


def test_missing_id_is_generated_stably(conn: store.Connection) -> None:
    frame = _actors(id=[None, None, None], name=["A", "B", "A"])
    report = validate(frame, ACTORS, conn_or_cursor=conn)

    # Independent reference: sha1 of the row's content columns joined by \x1f, then the point's WKT.
    def expected(name: str) -> str:
        content = "\x1f".join([name, "ccas", "None", "None", "POINT (2.35 48.85)"])
        return "act-" + hashlib.sha1(content.encode()).hexdigest()[:10]

    assert report.frame["id"].tolist() == [expected("A"), expected("B"), expected("A") + "-2"]
    assert report.generated_ids == 3
    assert report.ok
    again = validate(frame, ACTORS, conn_or_cursor=conn)
    assert again.frame["id"].tolist() == report.frame["id"].tolist()


def test_empty_geometry(conn: store.Connection) -> None:
    frame = _actors(geometry=[None, shapely.Point(), shapely.Point(2.35, 48.85)])
    report = validate(frame, ACTORS, conn_or_cursor=conn)
    assert _found(report) == [
        (1, "geometry", "error", "empty_geometry"),
        (2, "geometry", "error", "empty_geometry"),
    ]


def test_wrong_geometry_type(conn: store.Connection) -> None:
    report = validate(_actors(geometry=[shapely.box(2.3, 48.8, 2.4, 48.9)]), ACTORS, conn_or_cursor=conn)
    assert _found(report) == [(1, "geometry", "error", "wrong_geometry_type")]
    assert report.problems[0].message == "expected Point, got Polygon"


BOWTIE = shapely.Polygon([(2, 45), (3, 46), (3, 45), (2, 46), (2, 45)])


def _territory(geometry: shapely.Geometry) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["1"], "name": ["N"], "level": ["commune"], "_row": [1]},
        geometry=[geometry],
        crs="EPSG:4326",
    )


def test_invalid_geometry_gives_reason_and_location(conn: store.Connection) -> None:
    report = validate(_territory(BOWTIE), TERRITORIES, conn_or_cursor=conn)
    assert _found(report) == [(1, "geometry", "error", "invalid_geometry")]
    assert "Self-intersection[2.5 45.5]" in report.problems[0].message
    assert report.frame.geometry.iloc[0].equals(BOWTIE)


def test_invalid_geometry_repaired_only_when_asked(conn: store.Connection) -> None:
    report = validate(_territory(BOWTIE), TERRITORIES, conn_or_cursor=conn, repair=True)
    assert _found(report) == [(1, "geometry", "warning", "repaired")]
    fixed = report.frame.geometry.iloc[0]
    assert fixed.is_valid
    # Two triangles of area 0.25 each.
    assert fixed.geom_type == "MultiPolygon" and fixed.area == pytest.approx(0.5)


def _with_nan(wkt: str) -> shapely.Geometry:
    with np.errstate(invalid="ignore"):  # GEOS reads NaN coordinates, numpy flags them
        return shapely.from_wkt(wkt)


# A NaN vertex: make_valid drops it and the two vertices left cannot make a polygon.
NAN_VERTEX = "POLYGON ((2 45, 3 NaN, 3 46, 2 45))"


def test_geometry_emptied_by_repair_is_refused(conn: store.Connection) -> None:
    frame = _territory(_with_nan(NAN_VERTEX))
    refused = validate(frame, TERRITORIES, conn_or_cursor=conn)
    assert _found(refused) == [(1, "geometry", "error", "invalid_geometry")]
    report = validate(frame, TERRITORIES, conn_or_cursor=conn, repair=True)
    assert [(p.row, p.field, p.severity, p.code, p.message) for p in report.problems] == [
        (
            1,
            "geometry",
            "error",
            "empty_geometry",
            "geometry is empty after repair: Invalid Coordinate[3 nan]; fix it in the source",
        )
    ]
    assert report.valid_mask.tolist() == [False]


def test_repair_keeps_what_a_nan_vertex_leaves_of_a_polygon(conn: store.Connection) -> None:
    frame = _territory(_with_nan("POLYGON ((2 45, 3 NaN, 3 46, 2 46, 2 45))"))
    report = validate(frame, TERRITORIES, conn_or_cursor=conn, repair=True)
    assert _found(report) == [(1, "geometry", "warning", "repaired")]
    assert report.frame.geometry.iloc[0].normalize().equals(shapely.Polygon([(2, 45), (2, 46), (3, 46)]).normalize())


def test_out_of_range_coordinates(conn: store.Connection) -> None:
    report = validate(_actors(geometry=[shapely.Point(652000, 6862000)]), ACTORS, conn_or_cursor=conn)
    assert _found(report) == [(1, "geometry", "error", "out_of_range")]


def test_outside_france_is_a_warning(conn: store.Connection) -> None:
    points = [shapely.Point(48.85, 2.35), shapely.Point(55.45, -20.9), shapely.Point(-52.3, 4.9)]
    report = validate(_actors(geometry=points), ACTORS, conn_or_cursor=conn)
    # Swapped Paris is in the Indian Ocean; Saint-Denis de La Réunion and Cayenne are in France.
    # None of them is in the one stored territory (Paris): each row also says so.
    assert _found(report) == [
        (1, "geometry", "warning", "outside_france"),
        (1, "geometry", "warning", "no_territory"),
        (2, "geometry", "warning", "no_territory"),
        (3, "geometry", "warning", "no_territory"),
    ]
    assert report.ok


def test_duplicate_id_within_file(conn: store.Connection) -> None:
    report = validate(_actors(id=["x1", "x2", "x1"]), ACTORS, conn_or_cursor=conn)
    assert _found(report) == [(3, "id", "error", "duplicate_id")]
    assert "row 1" in report.problems[0].message


def test_duplicate_id_against_store_only_in_append_mode(conn: store.Connection) -> None:
    frame = _actors(id=["a1", "new"])
    assert _found(validate(frame, ACTORS, conn_or_cursor=conn)) == [(1, "id", "error", "duplicate_id")]
    assert validate(frame, ACTORS, conn_or_cursor=conn, mode="upsert").problems == []
    assert validate(frame, ACTORS, conn_or_cursor=conn, mode="replace").problems == []


def test_unknown_endpoint(conn: store.Connection) -> None:
    report = validate(_relations(source=["a1", "nobody"], target=["a2", "a1"]), RELATIONS, conn_or_cursor=conn)
    assert _found(report) == [(2, "source", "error", "unknown_endpoint")]


def test_unknown_scheme(conn: store.Connection) -> None:
    report = validate(_relations(scheme_id=["s1", "s9"]), RELATIONS, conn_or_cursor=conn)
    assert _found(report) == [(2, "scheme_id", "error", "unknown_scheme")]


def test_self_loop_is_a_warning(conn: store.Connection) -> None:
    report = validate(_relations(target=["a1"]), RELATIONS, conn_or_cursor=conn)
    assert _found(report) == [(1, "target", "warning", "self_loop")]


def test_unknown_value_and_accepted_labels(conn: store.Connection) -> None:
    report = validate(
        _relations(kind=["Partenariat", "passage de relais", "NETWORK", "contract"]),
        RELATIONS,
        conn_or_cursor=conn,
    )
    assert _found(report) == [(4, "kind", "error", "unknown_value")]
    assert report.frame["kind"].tolist()[:3] == ["partnership", "referral", "network"]


def test_unknown_value_optional_enum(conn: store.Connection) -> None:
    report = validate(_actors(sector=["social", "cuisine", None]), ACTORS, conn_or_cursor=conn)
    assert _found(report) == [(2, "sector", "error", "unknown_value")]


def test_bad_number(conn: store.Connection) -> None:
    report = validate(_relations(weight=["1,5", "2.25", "1 000", "beaucoup", None]), RELATIONS, conn_or_cursor=conn)
    assert _found(report) == [(4, "weight", "error", "bad_number")]
    assert report.frame["weight"].tolist() == [1.5, 2.25, 1000.0, None, None]


def test_bad_number_population_must_be_whole_and_positive(conn: store.Connection) -> None:
    frame = gpd.GeoDataFrame(
        {
            "id": ["p1", "p2", "p3"],
            "name": ["a", "b", "c"],
            "population": ["1\u202f200", "12,5", "-3"],
            "_row": [1, 2, 3],
        },
        geometry=[shapely.Point(2.35, 48.85)] * 3,
        crs="EPSG:4326",
    )
    report = validate(frame, PLACES, conn_or_cursor=conn)
    assert _found(report) == [
        (2, "population", "error", "bad_number"),
        (3, "population", "error", "bad_number"),
    ]
    assert report.frame["population"].tolist()[0] == 1200


def test_bad_date(conn: store.Connection) -> None:
    frame = pd.DataFrame(
        {
            "id": ["s1", "s2", "s3"],
            "name": ["a", "b", "c"],
            "start": ["2024-03-01", "01/03/2024", "mars 2024"],
            "_row": [1, 2, 3],
        }
    )
    report = validate(frame, SCHEMES, conn_or_cursor=conn, mode="upsert")
    assert _found(report) == [(3, "start", "error", "bad_date")]
    assert report.frame["start"].tolist() == [dt.date(2024, 3, 1), dt.date(2024, 3, 1), None]


def test_end_before_start(conn: store.Connection) -> None:
    report = validate(_relations(start=["2024-01-01"], end=["2023-12-31"]), RELATIONS, conn_or_cursor=conn)
    assert _found(report) == [(1, "end", "error", "bad_date")]


def test_bad_boolean(conn: store.Connection) -> None:
    words = ["true", "False", "oui", "NON", "1", "0", "vrai", "faux", "yes", "no", "peut-être"]
    report = validate(_relations(formal=words), RELATIONS, conn_or_cursor=conn)
    assert _found(report) == [(11, "formal", "error", "bad_boolean")]
    assert report.frame["formal"].tolist() == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        None,
    ]


def test_unknown_parent(conn: store.Connection) -> None:
    frame = gpd.GeoDataFrame(
        {
            "code": ["c1", "c2", "c3"],
            "name": ["a", "b", "c"],
            "level": ["commune"] * 3,
            "parent_code": ["75056", "c1", "99999"],
            "_row": [1, 2, 3],
        },
        geometry=[shapely.box(2.3, 48.8, 2.4, 48.9)] * 3,
        crs="EPSG:4326",
    )
    report = validate(frame, TERRITORIES, conn_or_cursor=conn)
    # A warning: real files name parents (EPCI, département) that are often not loaded.
    assert _found(report) == [(3, "parent_code", "warning", "unknown_parent")]
    # In replace mode the stored territories go away: only the file's codes count.
    replaced = validate(frame, TERRITORIES, conn_or_cursor=conn, mode="replace")
    assert _found(replaced) == [
        (1, "parent_code", "warning", "unknown_parent"),
        (3, "parent_code", "warning", "unknown_parent"),
    ]


def test_report_counts_frame_and_csv(conn: store.Connection) -> None:
    report = validate(
        _actors(id=["x1", "x1"], name=["=HYPERLINK(1)", "b"], sector=["zz", None]),
        ACTORS,
        conn_or_cursor=conn,
    )
    assert report.counts() == {
        "rows": 2,
        "valid_rows": 0,
        "errors": 2,
        "warnings": 0,
        "generated_ids": 0,
        "by_code": {"duplicate_id": 1, "unknown_value": 1},
    }
    table = report.to_frame()
    assert table[["row", "field", "code"]].values.tolist() == [
        [1, "sector", "unknown_value"],
        [2, "id", "duplicate_id"],
    ]
    assert report.to_csv().splitlines()[0] == "row,id,field,severity,code,message"


def test_neutralise_formulas() -> None:
    frame = pd.DataFrame({"a": ["=1+1", "+33", "-x", "@f", "\tx", "\rx", "ok", None], "n": range(8)})
    out = neutralise_formulas(frame)
    assert out["a"].fillna("<NA>").tolist() == ["'=1+1", "'+33", "'-x", "'@f", "'\tx", "'\rx", "ok", "<NA>"]
    assert out["n"].tolist() == list(range(8))


def test_export_neutralisation_is_undone_on_import(conn: store.Connection) -> None:
    report = validate(_actors(name=["'=SUM(A1)", "'+33 1 23", "'Apostrophe", "l'Escale"]), ACTORS, conn_or_cursor=conn)
    assert report.frame["name"].tolist() == ["=SUM(A1)", "+33 1 23", "'Apostrophe", "l'Escale"]


def _problems(report) -> list[tuple[int, str | None, str, str, str, str]]:
    return [(p.row, p.id, p.field, p.severity, p.code, p.message) for p in report.problems]


def test_control_characters_are_removed_and_reported(conn: store.Connection) -> None:
    names = ["Centre\x00 social", "Maison\tdes\r\njeunes", "\x1b[31mRouge\x7f", "ok \ufffe", "\x07", "Fine"]
    report = validate(_actors(id=["x1", "x\x1f2", "x3", "x4", "x5", "x6"], name=names), ACTORS, conn_or_cursor=conn)
    assert report.frame["name"].tolist() == ["Centre social", "Maison des jeunes", "[31mRouge", "ok", None, "Fine"]
    assert report.frame["id"].tolist() == ["x1", "x2", "x3", "x4", "x5", "x6"]
    assert _problems(report) == [
        (1, "x1", "name", "warning", "control_characters", "control characters removed (U+0000)"),
        (2, "x2", "id", "warning", "control_characters", "control characters removed (U+001F)"),
        (
            2,
            "x2",
            "name",
            "warning",
            "control_characters",
            "control characters removed (U+0009, U+000A, U+000D): tabs and line breaks became spaces",
        ),
        (3, "x3", "name", "warning", "control_characters", "control characters removed (U+001B, U+007F)"),
        (4, "x4", "name", "warning", "control_characters", "control characters removed (U+FFFE)"),
        (5, "x5", "name", "warning", "control_characters", "control characters removed (U+0007)"),
        (5, "x5", "name", "error", "missing_required", "name is required but empty"),
    ]


def test_lone_surrogates_are_removed_and_reported(conn: store.Connection) -> None:
    frame = _actors(id=["x1", "x2"])
    frame["name"] = pd.Series(["Caf\udce9 des enfants", "Fine"], dtype="object")
    report = validate(frame, ACTORS, conn_or_cursor=conn)
    assert report.frame["name"].tolist() == ["Caf des enfants", "Fine"]
    assert _problems(report) == [
        (1, "x1", "name", "warning", "control_characters", "control characters removed (U+DCE9)"),
    ]


def test_neutralised_cells_with_control_characters_import_back_clean(conn: store.Connection) -> None:
    report = validate(_actors(name=["'\tTab", "'\rCR", "'=SUM\x00(A1)"]), ACTORS, conn_or_cursor=conn)
    assert report.frame["name"].tolist() == ["Tab", "CR", "=SUM(A1)"]


SHARED_ID = (
    "{key} {value!r} is already the id of one of the {other} in the database; ids are shared by actors and "
    "places, which are both nodes of the network: give this row another id"
)


@pytest.mark.parametrize("mode", ["append", "upsert", "replace"])
def test_actor_id_equal_to_a_stored_place_id_is_refused(conn: store.Connection, mode: str) -> None:
    report = validate(_actors(id=["pl1", "x2"]), ACTORS, conn_or_cursor=conn, mode=mode)
    message = SHARED_ID.format(key="id", value="pl1", other="places")
    assert _problems(report) == [(1, "pl1", "id", "error", "duplicate_id", message)]
    assert report.valid_mask.tolist() == [False, True]


def test_place_id_equal_to_a_stored_actor_id_is_refused(conn: store.Connection) -> None:
    frame = gpd.GeoDataFrame(
        {"id": ["pl9", "a2", "pl9"], "name": ["a", "b", "c"], "_row": [2, 3, 4]},
        geometry=[shapely.Point(2.35, 48.85)] * 3,
        crs="EPSG:4326",
    )
    report = validate(frame, PLACES, conn_or_cursor=conn, mode="replace")
    assert _problems(report) == [
        (3, "a2", "id", "error", "duplicate_id", SHARED_ID.format(key="id", value="a2", other="actors")),
        (4, "pl9", "id", "error", "duplicate_id", "id 'pl9' already used on row 2 of this file"),
    ]


def test_actor_upserted_onto_its_own_id_is_not_a_clash(conn: store.Connection) -> None:
    assert validate(_actors(id=["a1"]), ACTORS, conn_or_cursor=conn, mode="upsert").problems == []

"""French codes on import: the embedded COG fills levels, parents and populations, and builds parents."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from carto import cli, store
from carto.ingest import cog, pipeline
from carto.ingest.cog import level_from_shape
from scripts.build_cog import build_cog, render_cog

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS


def _square(x: float, y: float, size: float = 0.05) -> list[list[list[float]]]:
    return [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]


def _feature(code: str, nom: str, coords: list[list[list[float]]]) -> dict[str, object]:
    return {
        "type": "Feature",
        "properties": {"code": code, "nom": nom},
        "geometry": {"type": "Polygon", "coordinates": coords},
    }


# Three communes of Corse-du-Sud (not the sample's département), only `code` and `nom`: all three are
# members of the CA du Pays Ajaccien (SIREN 242010056) in the COG of decoupage-administratif 6.0.0.
# The squares are made up; Alata is east of Appietto and Ajaccio south of both, sharing edges.
CORSICA = {
    "type": "FeatureCollection",
    "features": [
        _feature("2A017", "Appietto", _square(8.70, 41.95)),
        _feature("2A006", "Alata", _square(8.75, 41.95)),
        _feature("2A004", "Ajaccio", [[[8.70, 41.90], [8.80, 41.90], [8.80, 41.95], [8.70, 41.95], [8.70, 41.90]]]),
    ],
}
# COG populations (municipal, decoupage-administratif 6.0.0): Ajaccio 76320, Alata 3681, Appietto 1749.
POPULATIONS = {"2A004": 76320, "2A006": 3681, "2A017": 1749}


@pytest.fixture
def corsica(tmp_path: Path) -> Path:
    path = tmp_path / "communes-2a.geojson"
    path.write_text(json.dumps(CORSICA), encoding="utf-8")
    return path


def _territories(db: Path) -> pd.DataFrame:
    conn = store.connect(str(db))
    try:
        frame = store.read_dataset(conn.cursor(), "territories")
    finally:
        conn.close()
    return frame.set_index("code").sort_index()


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("44109", "commune"),
        ("2A004", "commune"),
        ("2b033", "commune"),
        ("44", "departement"),
        ("2A", "departement"),
        ("974", "departement"),
        ("244400404", "epci"),
        ("QP044001", "qpv"),
        ("QN04401M", "qpv"),
        ("4410", None),
        ("ZONE-1", None),
        ("1234567890", None),
    ],
)
def test_level_from_shape(code: str, level: str | None) -> None:
    assert level_from_shape(code) == level


def test_another_departement_imports_with_no_option(new_db: str, corsica: Path, capsys) -> None:
    db = new_db
    assert cli.main(["--db", str(db), "import", "territories", str(corsica)]) == 0
    stored = _territories(db)
    assert list(stored.index) == ["2A004", "2A006", "2A017"]
    assert set(stored["level"]) == {"commune"}
    assert set(stored["parent_code"]) == {"242010056"}
    assert stored["population"].to_dict() == POPULATIONS
    err = capsys.readouterr().err
    assert "level was empty for 3 codes of the COG" in err
    assert "population filled from the COG for 3 codes" in err
    assert "--create-parents" in err


def test_create_parents_flag_dissolves_epci_and_departement(new_db: str, corsica: Path) -> None:
    db = new_db
    assert cli.main(["--db", str(db), "import", "territories", str(corsica), "--create-parents"]) == 0
    stored = _territories(db)
    assert list(stored.index) == ["242010056", "2A", "2A004", "2A006", "2A017"]
    epci, departement = stored.loc["242010056"], stored.loc["2A"]
    assert (epci["name"], epci["level"], epci["parent_code"]) == ("CA du Pays Ajaccien", "epci", "2A")
    # The EPCI's population is the COG's (all its 10 communes), not the three of the file.
    assert epci["population"] == 92766
    assert (departement["name"], departement["level"], departement["parent_code"]) == (
        "Corse-du-Sud",
        "departement",
        "94",
    )
    # Both are the union of the three squares: 0.05² + 0.05² + 0.1 × 0.05 = 0.01 square degrees.
    for code in ("242010056", "2A"):
        shape = stored.loc[code, "geometry"]
        assert shape.equals(box(8.70, 41.90, 8.80, 42.00)), shape.wkt
        assert shape.area == pytest.approx(0.01)


def test_stored_parents_are_not_created_again(conn: store.Connection, corsica: Path) -> None:
    raw = pipeline.read(corsica, original_name=corsica.name)
    first = pipeline.prepare_raw(raw, dataset="territories", conn=conn, create_parents=True)
    assert (first.missing_parents, first.parents_created) == (2, 2)
    options = pipeline.ImportOptions(original_name=corsica.name, create_parents=True)
    pipeline.commit_prepared(conn, first, options, user=pipeline.auth.SYSTEM)
    again = pipeline.prepare_raw(raw, dataset="territories", conn=conn, create_parents=True, mode="upsert")
    assert (again.missing_parents, again.parents_created) == (0, 0)


def test_former_codes_are_merged_into_todays_commune(conn: store.Connection) -> None:
    # 49001 and 49078 are two former communes of Brissac Loire Aubance (49050) in the COG.
    frame = gpd.GeoDataFrame(
        {
            "code": ["49001", "49078"],
            "name": ["Les Alleuds", "Charcé-Saint-Ellier-sur-Aubance"],
            "level": [None, None],
            "parent_code": [None, None],
            "population": ["600", "700"],
            "_row": [1, 2],
        },
        geometry=[box(0, 47, 0.1, 47.1), box(0.1, 47, 0.2, 47.1)],
        crs="EPSG:4326",
    )
    done = cog.complete_territories(frame)
    assert len(done.frame) == 1
    row = done.frame.iloc[0]
    assert (row["code"], row["name"], row["level"], row["parent_code"]) == (
        "49050",
        "Brissac Loire Aubance",
        "commune",
        "200071553",
    )
    assert row["population"] == "10878"  # today's commune in the COG, not 600 + 700 of the former ones
    assert row.geometry.equals(box(0, 47, 0.2, 47.1))
    assert [n.code for n in done.notes][:1] == ["former_codes"]
    assert done.notes[0].count == 2


def test_unknown_codes_fall_back_on_their_shape_then_custom() -> None:
    frame = pd.DataFrame(
        {
            "code": ["99999", "QP044001", "ZONE-1", "44109"],
            "name": ["a", "b", "c", "Nantes"],
            "level": [None, None, None, "epci"],  # a level given in the file is never replaced
            "parent_code": [None, None, None, None],
            "population": [None, None, None, None],
            "_row": [1, 2, 3, 4],
        }
    )
    done = cog.complete_territories(frame)
    assert list(done.frame["level"]) == ["commune", "qpv", "custom", "epci"]
    assert list(done.frame["parent_code"]) == [None, None, None, None]
    assert {n.code: n.count for n in done.notes} == {
        "level_custom": 1,
        "level_shape_commune": 1,
        "level_shape_qpv": 1,
    }


def test_build_cog_tables() -> None:
    communes = [
        {"code": "44109", "nom": "Nantes", "departement": "44", "type": "commune-actuelle", "population": 100},
        {
            "code": "44180",
            "nom": "Vallons",
            "departement": "44",
            "type": "commune-actuelle",
            "population": 7,
            "anciensCodes": ["44040"],
        },
        {"code": "44072", "nom": "Old", "departement": "44", "type": "commune-deleguee", "chefLieu": "44180"},
        {"code": "49001", "nom": "Loire", "departement": "49", "type": "commune-actuelle", "population": 50},
    ]
    epcis = [
        {
            "code": "200000001",
            "nom": "CA X",
            "populationMunicipale": 150,
            "membres": [{"code": "44109"}, {"code": "49001"}],
        }
    ]
    departements = [{"code": "44", "nom": "Loire-Atlantique", "region": "52"}]
    table = build_cog(communes, epcis, departements, source="test")
    assert table["communes"]["44109"] == ["Nantes", "200000001", "44", 100]
    assert table["communes"]["44180"] == ["Vallons", "", "44", 7]
    assert table["former"] == {"44040": "44180", "44072": "44180"}
    # 100 inhabitants in 44 against 50 in 49: 44 first, the EPCI's parent.
    assert table["epcis"]["200000001"] == ["CA X", ["44", "49"], 150]
    assert render_cog(table) == render_cog(table)
    assert json.loads(gzip.decompress(render_cog(table))) == table


def test_embedded_cog_is_small_and_records_its_source() -> None:
    assert cog.COG_PATH.stat().st_size < 2_000_000
    loaded = cog.load_cog()
    assert loaded.source == "@etalab/decoupage-administratif@6.0.0"
    assert loaded.communes["44109"][:3] == ("Nantes", "244400404", "44")
    assert loaded.departements["2B"] == ("Haute-Corse", "94")
    assert shapely.__version__  # shapely is what dissolves the parents


def test_missing_parents_follow_the_cog_not_a_files_own_hierarchy() -> None:
    # 2A004 hangs on its COG EPCI; 2A006 on a parent of the file's own; L'Île-d'Yeu (85113) has no
    # EPCI in the COG, so its parent is its département, Vendée (85).
    frame = gpd.GeoDataFrame(
        {
            "code": ["2A004", "2A006", "85113"],
            "name": ["Ajaccio", "Alata", "L'Île-d'Yeu"],
            "level": ["commune", "commune", None],
            "parent_code": [None, "MY-ZONE", None],
            "population": [None, None, None],
            "_row": [1, 2, 3],
        },
        geometry=[box(8.70, 41.90, 8.75, 41.95), box(8.75, 41.90, 8.80, 41.95), box(-2.4, 46.68, -2.3, 46.74)],
        crs="EPSG:4326",
    )
    done = cog.complete_territories(frame).frame
    assert list(done["parent_code"]) == ["242010056", "MY-ZONE", "85"]
    plans = cog.missing_parents(done, known_codes=["2A"])
    assert plans == [
        cog.Parent("242010056", "epci", "2A", ("2A004",)),
        cog.Parent("85", "departement", "52", ("85113",)),
    ]
    rows = cog.parent_territories(done, plans)
    assert list(rows["code"]) == ["242010056", "85"]
    assert list(rows["name"]) == ["CA du Pays Ajaccien", "Vendée"]
    assert rows.geometry.iloc[1].equals(box(-2.4, 46.68, -2.3, 46.74))


def test_a_level_spelled_as_its_label_still_gets_the_cogs_parent() -> None:
    frame = pd.DataFrame(
        {
            "code": ["44109", "244400404"],
            "name": ["Nantes", "Nantes Métropole"],
            "level": ["Commune", "Intercommunalité (EPCI)"],
            "parent_code": [None, None],
            "population": [None, None],
            "_row": [1, 2],
        }
    )
    done = cog.complete_territories(frame).frame
    assert list(done["level"]) == ["Commune", "Intercommunalité (EPCI)"]  # validation maps labels
    assert list(done["parent_code"]) == ["244400404", "44"]

"""``python -m carto import / export / undo``: exit codes, nothing stored on refusal or dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carto import cli, store

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

TERRITORIES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code_insee": "44109", "nom": "Nantes", "niveau": "commune"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[-1.6, 47.18], [-1.5, 47.18], [-1.5, 47.3], [-1.6, 47.3], [-1.6, 47.18]]],
            },
        },
        {
            "type": "Feature",
            "properties": {"code_insee": "44143", "nom": "Rezé", "niveau": "commune"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[-1.6, 47.1], [-1.5, 47.1], [-1.5, 47.18], [-1.6, 47.18], [-1.6, 47.1]]],
            },
        },
    ],
}

ACTORS_OK = "identifiant;nom;type;latitude;longitude\nA1;CCAS de Nantes;ccas;47,21;-1,55\nA2;CAF;caf;47,15;-1,55\n"
ACTORS_BAD = "identifiant;nom;type;latitude;longitude\nA1;CCAS de Nantes;ccas;47.21;-1.55\nA2;;inconnu;47.15;-1.55\n"
ACTORS_L93 = "id,nom,type,x,y\nB1,Mission locale,mission_locale,355000,6690000\n"


@pytest.fixture
def db(tmp_path: Path, new_db: str) -> str:
    path = new_db
    (tmp_path / "territories.geojson").write_text(json.dumps(TERRITORIES), encoding="utf-8")
    assert cli.main(["--db", str(path), "import", "territories", str(tmp_path / "territories.geojson")]) == 0
    return str(path)


def _counts(db: str) -> dict[str, int]:
    conn = store.connect(db)
    try:
        return store.counts(conn.cursor())
    finally:
        conn.close()


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_success_prints_summary(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--db", db, "import", "actors", _write(tmp_path, "acteurs.csv", ACTORS_OK)])
    out = capsys.readouterr().out
    assert code == 0
    assert "actors: import #2 (append): 2 rows read, 2 inserted, 0 updated, 0 deleted" in out
    conn = store.connect(db)
    actors = store.read_dataset(conn.cursor(), "actors")
    assert actors[["id", "territory_code"]].values.tolist() == [["A1", "44109"], ["A2", "44143"]]


def test_refusal_exits_2_with_report_and_stores_nothing(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _counts(db)
    report = tmp_path / "report.csv"
    code = cli.main(["--db", db, "import", "actors", _write(tmp_path, "bad.csv", ACTORS_BAD), "--report", str(report)])
    err = capsys.readouterr().err
    assert code == 2
    assert "actors: 2 rows read, 1 valid, 2 errors, 0 warnings" in err
    assert "row 3 [A2] name: error missing_required" in err
    assert _counts(db) == before
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row,id,field,severity,code,message"
    assert [line.split(",")[4] for line in lines[1:]] == ["missing_required", "unknown_value"]


def test_skip_invalid_stores_the_valid_rows(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--db", db, "import", "actors", _write(tmp_path, "bad.csv", ACTORS_BAD), "--skip-invalid"])
    assert code == 0
    assert "1 inserted" in capsys.readouterr().out
    assert _counts(db)["actors"] == 1


def test_dry_run_stores_nothing(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _counts(db)
    code = cli.main(["--db", db, "import", "actors", _write(tmp_path, "a.csv", ACTORS_OK), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "would import (append): 2 rows read, 2 inserted" in out
    assert "nothing stored (dry run)" in out
    assert _counts(db) == before


def test_missing_crs_is_refused_then_confirmed(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "l93.csv", ACTORS_L93)
    assert cli.main(["--db", db, "import", "actors", path]) == 2
    err = capsys.readouterr().err
    assert "--crs EPSG:2154" in err
    assert _counts(db)["actors"] == 0
    assert cli.main(["--db", db, "import", "actors", path, "--crs", "EPSG:2154"]) == 0
    assert _counts(db)["actors"] == 1


def test_map_and_saved_mapping(db: str, tmp_path: Path) -> None:
    path = _write(tmp_path, "odd.csv", "ref_structure;intitule_x;genre;lat;lon\nZ1;Centre;centre_social;47.2;-1.55\n")
    saved = tmp_path / "mapping.json"
    args = [
        "--db",
        db,
        "import",
        "actors",
        path,
        "--map",
        "id=ref_structure",
        "--map",
        "name=intitule_x",
        "--map",
        "type=genre",
        "--save-mapping",
        str(saved),
        "--dry-run",
    ]
    assert cli.main(args) == 0
    assert json.loads(saved.read_text(encoding="utf-8")) == {
        "id": "ref_structure",
        "lat": "lat",
        "lon": "lon",
        "name": "intitule_x",
        "type": "genre",
    }
    assert cli.main(["--db", db, "import", "actors", path, "--mapping", str(saved)]) == 0
    assert _counts(db)["actors"] == 1


def test_modes_and_undo(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "a.csv", ACTORS_OK)
    assert cli.main(["--db", db, "import", "actors", path]) == 0
    assert cli.main(["--db", db, "import", "actors", path]) == 2  # append: ids already stored
    assert cli.main(["--db", db, "import", "actors", path, "--mode", "upsert"]) == 0
    assert "0 inserted, 2 updated" in capsys.readouterr().out
    assert cli.main(["--db", db, "undo"]) == 0
    assert "import #3 undone" in capsys.readouterr().out
    assert cli.main(["--db", db, "undo"]) == 0
    assert _counts(db)["actors"] == 0
    assert cli.main(["--db", db, "undo"]) == 0  # the territories import
    assert cli.main(["--db", db, "undo"]) == 2
    assert "no import to undo" in capsys.readouterr().err


def test_export_command(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.gpkg"
    assert cli.main(["--db", db, "export", "territories", "--format", "gpkg", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"territories: 2 rows written to {out}"
    assert cli.main(["--db", db, "export", "network", "--format", "gexf", "--out", str(tmp_path / "n.gexf")]) == 0
    assert cli.main(["--db", db, "export", "actors", "--format", "gexf", "--out", str(tmp_path / "x")]) == 2


def test_unknown_file_is_a_one_line_error(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--db", db, "import", "actors", str(tmp_path / "absent.csv")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'absent.csv'} is not a file"


# A département's partners list as analysts receive it: semicolon CSV in Windows-1252, French
# headers, types written out in full (one with a typographic apostrophe), postal codes.
PARTNERS = Path(__file__).parent / "fixtures" / "partenaires-departement.csv"
PARTNER_VALUES = {
    "Caisse d'allocations familiales": "caf",
    "Centre communal d'action sociale": "ccas",
    "Centre communal d’action sociale": "ccas",
    "Conseil départemental": "local_authority",
    "Protection maternelle et infantile": "pmi",
}


def _actors(db: str) -> list[tuple[str, str]]:
    conn = store.connect(db)
    try:
        actors = store.read_dataset(conn.cursor(), "actors")
    finally:
        conn.close()
    return sorted(zip(actors["name"], actors["type"], strict=True))


def test_partners_list_refused_then_imported_with_values_then_with_the_saved_mapping(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--db", db, "import", "actors", str(PARTNERS)]) == 2
    err = capsys.readouterr().err
    assert "actors: 5 rows read, 0 valid, 5 errors, 0 warnings" in err
    assert "by code: unknown_value=5" in err
    # What to add, after checking: one line per value (the two "Centre communal" differ by their apostrophe).
    hints = err[err.index("values of type not in the vocabulary") :].splitlines()
    assert hints[1:6] == [
        "  --value \"type:Caisse d'allocations familiales=caf\"  (rows: 1)",
        "  --value \"type:Centre communal d'action sociale=ccas\"  (rows: 1)",
        "  --value \"type:Centre communal d’action sociale=ccas\"  (rows: 1)",
        "  --value \"type:Conseil départemental=local_authority\"  (rows: 1)",
        "  --value \"type:Protection maternelle et infantile=pmi\"  (rows: 1)",
    ]
    saved = tmp_path / "partenaires.json"
    args = [f"--value=type:{raw}={code}" for raw, code in PARTNER_VALUES.items()]
    assert cli.main(["--db", db, "import", "actors", str(PARTNERS), *args, "--save-mapping", str(saved)]) == 0
    assert "5 inserted" in capsys.readouterr().out
    assert json.loads(saved.read_text(encoding="utf-8")) == {
        "mapping": {"lat": "Latitude", "lon": "Longitude", "name": "Nom de la structure", "type": "Type"},
        "constants": {},
        "values": {"type": PARTNER_VALUES},
    }
    expected = [
        ("CAF de Loire-Atlantique", "caf"),
        ("CCAS de Nantes", "ccas"),
        ("CCAS de Rezé", "ccas"),
        ("Centre de PMI Bellevue", "pmi"),
        ("Département de Loire-Atlantique", "local_authority"),
    ]
    assert _actors(db) == expected
    # The saved mapping alone imports the same file into another database.
    other = str(tmp_path / "other.duckdb")
    assert cli.main(["--db", other, "import", "actors", str(PARTNERS), "--mapping", str(saved)]) == 0
    assert _actors(other) == expected


def test_set_gives_every_row_the_same_value(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    places = _write(tmp_path, "lieux.csv", "nom;latitude;longitude\nMarché Talensac;47.2204;-1.5592\n")
    # A list without type: every actor refused, then all of them associations.
    assert cli.main(["--db", db, "import", "actors", places]) == 2
    assert "missing_required=1" in capsys.readouterr().err
    assert cli.main(["--db", db, "import", "actors", places, "--set", "type=Association"]) == 0
    assert _actors(db) == [("Marché Talensac", "association")]
    # Neighbourhoods with only a code and a name: the COG cannot tell their level ("custom");
    # the user says they are all priority neighbourhoods.
    boundaries = {"type": "FeatureCollection", "features": [
        {**feature, "properties": {"code": f"N{i}", "nom": f"Quartier {i}"}}
        for i, feature in enumerate(TERRITORIES["features"], start=1)
    ]}
    path = tmp_path / "quartiers.geojson"
    path.write_text(json.dumps(boundaries), encoding="utf-8")
    guessed, given = str(tmp_path / "guessed.duckdb"), str(tmp_path / "given.duckdb")
    assert cli.main(["--db", guessed, "import", "territories", str(path)]) == 0
    assert cli.main(["--db", given, "import", "territories", str(path), "--set", "level=qpv"]) == 0
    levels = {}
    for name in (guessed, given):
        conn = store.connect(name)
        try:
            stored = store.read_dataset(conn.cursor(), "territories")
        finally:
            conn.close()
        levels[name] = sorted(zip(stored["code"], stored["level"], strict=True))
    assert levels == {guessed: [("N1", "custom"), ("N2", "custom")], given: [("N1", "qpv"), ("N2", "qpv")]}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--set", "level"], "error: --set 'level': expected FIELD=VALUE, e.g. --set level=commune"),
        (["--set", "type=ovni"], "error: --set: 'ovni' is not a known type; expected one of: ccas, caf, mission"),
        (["--value", "type:CCAS=ovni"], "error: --value: 'ovni' is not a known type; expected one of: ccas, caf,"),
        (["--value", "colour:rouge=red"], "error: --value: actors has no field 'colour' with allowed values; those"),
    ],
)
def test_set_and_value_refuse_what_is_not_in_the_vocabulary(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    assert cli.main(["--db", db, "import", "actors", str(PARTNERS), *args]) != 0
    assert capsys.readouterr().err.startswith(error)
    assert _counts(db)["actors"] == 0
def test_replace_that_would_orphan_relations_needs_drop_relations(db: str, tmp_path: Path, capsys) -> None:
    assert cli.main(["--db", db, "import", "actors", _write(tmp_path, "a.csv", ACTORS_OK)]) == 0
    relations = _write(tmp_path, "r.csv", "id,source,target,kind\nr1,A1,A2,network\n")
    assert cli.main(["--db", db, "import", "relations", relations]) == 0
    only_a1 = _write(tmp_path, "a1.csv", ACTORS_OK.rsplit("A2;", 1)[0])
    capsys.readouterr()
    replace = ["--db", db, "import", "actors", only_a1, "--mode", "replace"]
    assert cli.main(replace) == 2
    assert "replacing would remove 1 actors that 1 relations point to (first: A2)" in capsys.readouterr().err
    assert _counts(db)["relations"] == 1
    assert cli.main([*replace, "--drop-relations"]) == 0
    assert "removed 1 relations to actors no longer in the file" in capsys.readouterr().out
    assert (_counts(db)["actors"], _counts(db)["relations"]) == (1, 0)

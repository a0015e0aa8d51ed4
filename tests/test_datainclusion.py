"""data·inclusion structures (schema v1) imported as actors: detection, the schema's checks, types, services.

The fixture files are written here from the schema's fields (``data_inclusion.schema.v1.Structure``
and ``Service``): required ``source, id, nom, date_maj``; ``reseaux_porteurs`` and ``thematiques``
are lists of the schema's values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carto import cli, store
from carto.ingest import datainclusion, pipeline
from carto.ingest.read import read_upload
from carto.model import ACTOR_TYPES, SECTORS

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

TERRITORIES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code_insee": code, "nom": name, "niveau": "commune"},
            "geometry": {"type": "Polygon", "coordinates": [[[-1.6, s], [-1.5, s], [-1.5, n], [-1.6, n], [-1.6, s]]]},
        }
        for code, name, s, n in (("44109", "Nantes", 47.18, 47.3), ("44143", "Rezé", 47.1, 47.18))
    ],
}

STRUCTURES = [
    {
        "source": "dora",
        "id": "dora--1",
        "nom": "CCAS de Nantes",
        "date_maj": "2025-02-14",
        "siret": "21440109300015",
        "commune": "Nantes",
        "code_insee": "44109",
        "longitude": -1.55,
        "latitude": 47.21,
        "reseaux_porteurs": ["ccas-cias"],
    },
    {
        "source": "dora",
        "id": "dora--2",
        "nom": "Mission locale de Rezé",
        "date_maj": "2025-01-02",
        "code_insee": "44143",
        "longitude": -1.55,
        "latitude": 47.15,
        "reseaux_porteurs": ["communes", "mission-locale"],
    },
    # The schema wants a SIRET of 14 digits.
    {"source": "dora", "id": "dora--3", "nom": "Épicerie", "date_maj": "2025-01-02", "siret": "123",
     "longitude": -1.55, "latitude": 47.15},
]

SERVICES_CSV = (
    "source,id,structure_id,nom,description,date_maj,thematiques\n"
    "dora,s1,dora--1,Aide alimentaire,Colis et bons alimentaires,2025-02-14,"
    '"[""equipement-et-alimentation--alimentation""]"\n'
    "dora,s2,dora--1,Domiciliation,Adresse postale pour recevoir son courrier,2025-02-14,\n"
    # "logement" alone is not one of the schema's thematiques: this service is left out.
    "dora,s3,dora--2,Logement,Aide à la recherche de logement,2025-02-14,logement\n"
)

# The CSV export: lists as JSON text, no coordinates (the commune code places each structure).
STRUCTURES_CSV = (
    "id,source,nom,date_maj,siret,code_insee,longitude,latitude,reseaux_porteurs\n"
    'cd44--7,cd44,Espace départemental des solidarités,2024-11-30,,44143,,,"[""maisons-des-solidarites""]"\n'
    'cd44--8,cd44,CAF de Loire-Atlantique,2024-11-30,53446919500013,44109,,,"[""caf""]"\n'
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def db(tmp_path: Path, new_db: str) -> str:
    path = new_db
    territories = _write(tmp_path, "communes.geojson", json.dumps(TERRITORIES))
    assert cli.main(["--db", str(path), "import", "territories", str(territories)]) == 0
    return str(path)


def _actors(db: str) -> list[dict[str, object]]:
    conn = store.connect(db)
    try:
        frame = store.read_dataset(conn.cursor(), "actors")
    finally:
        conn.close()
    frame["point"] = [(g.x, g.y) for g in frame.geometry]
    columns = ["id", "name", "type", "sector", "siret", "territory_code", "services", "point"]
    return frame[columns].astype(object).where(frame[columns].notna(), None).to_dict("records")


def test_every_network_of_the_schema_has_a_type() -> None:
    from data_inclusion.schema.v1 import ReseauPorteur

    assert set(datainclusion.NETWORK_TYPES) == {r.value for r in ReseauPorteur}
    for kind, sector in datainclusion.NETWORK_TYPES.values():
        assert kind in ACTOR_TYPES
        assert sector is None or sector in SECTORS


def test_actor_type_prefers_the_named_public_service() -> None:
    assert datainclusion.actor_type(["ccas-cias"]) == ("ccas", "social")
    assert datainclusion.actor_type(["caf"]) == ("caf", "social")
    assert datainclusion.actor_type(["france-travail"]) == ("france_travail", "employment")
    # communes → local_authority, mission-locale → mission_locale: the mission locale comes first.
    assert datainclusion.actor_type(["communes", "mission-locale"]) == ("mission_locale", "youth")
    assert datainclusion.actor_type([]) == ("other", None)
    assert datainclusion.actor_type(["not-a-network"]) == ("other", None)


def test_list_cells_in_every_spelling() -> None:
    assert datainclusion.parse_list('["caf", "ccas-cias"]') == ["caf", "ccas-cias"]
    assert datainclusion.parse_list("caf, ccas-cias") == ["caf", "ccas-cias"]
    assert datainclusion.parse_list("{caf|ccas-cias}") == ["caf", "ccas-cias"]
    assert datainclusion.parse_list(["caf"]) == ["caf"]
    assert datainclusion.parse_list("  ") is None


def test_schema_recognised_from_the_columns() -> None:
    assert datainclusion.schema_of(STRUCTURES[0]) == "structures"
    assert datainclusion.schema_of(SERVICES_CSV.splitlines()[0].split(",")) == "services"
    assert datainclusion.schema_of(["id", "nom", "type", "latitude", "longitude"]) is None


def test_rows_checked_by_the_schema_models() -> None:
    text = {k: str(v) if not isinstance(v, list) else json.dumps(v) for k, v in STRUCTURES[0].items()}
    found = datainclusion.check_rows([STRUCTURES[0], text, STRUCTURES[2], {"id": "x"}], "structures")
    assert found[:2] == [None, None]
    assert found[2] == "siret: String should have at least 14 characters"
    assert found[3] is not None and "source: Field required" in found[3]


def test_reader_checks_rows_in_the_child(tmp_path: Path) -> None:
    path = _write(tmp_path, "upload.json", json.dumps(STRUCTURES))
    raw = read_upload(path, original_name="structures.json")
    assert (raw.format, raw.schema) == ("json", "structures")
    found = raw.frame[datainclusion.SCHEMA_COLUMN]
    assert found.isna().tolist() == [True, True, False]
    assert found.iloc[2] == "siret: String should have at least 14 characters"
    assert raw.frame["reseaux_porteurs"].tolist()[:2] == ['["ccas-cias"]', '["communes", "mission-locale"]']


def test_json_structures_import_as_actors_with_their_services(db: str, tmp_path: Path, capsys) -> None:
    structures = _write(tmp_path, "structures.json", json.dumps(STRUCTURES))
    services = _write(tmp_path, "services.csv", SERVICES_CSV)
    args = ["--db", db, "import", "actors", str(structures), "--services", str(services)]
    # Row 3 breaks the schema: refused, nothing stored.
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "row 3 [dora--3] id: error schema_invalid: not a valid data·inclusion row: siret:" in err
    assert _actors(db) == []
    assert cli.main([*args, "--skip-invalid"]) == 0
    out, err = capsys.readouterr()
    assert "3 rows read, 2 inserted" in out and "1 skipped as invalid" in out
    assert "note: 1 services left out: the data·inclusion schema refused them" in err
    assert _actors(db) == [
        {
            "id": "dora--1",
            "name": "CCAS de Nantes",
            "type": "ccas",
            "sector": "social",
            "siret": "21440109300015",
            "territory_code": "44109",
            "services": '[{"nom": "Aide alimentaire", "thematiques": ["equipement-et-alimentation--alimentation"]}, '
            '{"nom": "Domiciliation", "thematiques": []}]',
            "point": (-1.55, 47.21),
        },
        {
            "id": "dora--2",
            "name": "Mission locale de Rezé",
            "type": "mission_locale",
            "sector": "youth",
            "siret": None,
            "territory_code": "44143",
            "services": None,
            "point": (-1.55, 47.15),
        },
    ]


def test_csv_structures_without_coordinates_attach_by_commune_code(db: str, tmp_path: Path) -> None:
    structures = _write(tmp_path, "structures.csv", STRUCTURES_CSV)
    assert cli.main(["--db", db, "import", "actors", str(structures)]) == 0
    found = _actors(db)
    assert [(a["id"], a["type"], a["territory_code"]) for a in found] == [
        ("cd44--7", "local_authority", "44143"),
        ("cd44--8", "caf", "44109"),
    ]


def test_format_forced_on_another_file_is_refused(db: str, tmp_path: Path, capsys) -> None:
    plain = _write(tmp_path, "acteurs.csv", "id,nom,type,lat,lon\nA1,CCAS,ccas,47.2,-1.55\n")
    assert cli.main(["--db", db, "import", "actors", str(plain), "--format", "data-inclusion"]) == 2
    assert "cannot be read as data·inclusion structures for actors" in capsys.readouterr().err
    # Read as it is, the structures file has no "type" column: every row misses it.
    structures = _write(tmp_path, "structures.csv", STRUCTURES_CSV)
    assert cli.main(["--db", db, "import", "actors", str(structures), "--format", "plain"]) == 2
    assert "missing_required=2" in capsys.readouterr().err


def test_detected_only_for_actors(tmp_path: Path) -> None:
    raw = read_upload(_write(tmp_path, "s.csv", STRUCTURES_CSV), original_name="s.csv")
    assert pipeline.detected_format(raw, "actors") == "data-inclusion"
    assert pipeline.detected_format(raw, "places") == "plain"
    converted = pipeline.as_format(raw, "actors", "auto")
    assert list(converted.frame.columns) == [
        "id", "name", "type", "sector", "siret", "territory_code", datainclusion.SCHEMA_COLUMN,
    ]

"""Edits from the dashboard (carto.ingest.edits): each kind round-trips edit → read → undo → read.

The store holds the literal fixtures of conftest: communes C1 = [0,1]×[45,46] and C2 = [1,2]×[45,46]
(inside E1 and D1, both [0,2]×[45,46], so twice their area), actors A1 (0.5, 45.5) in C1, A2, A3,
place P1, relations R1 (A1→A2, scheme S1, from 2020-01-01) and R2 (A2→A3), scheme S1.
"""

from __future__ import annotations

import datetime as dt

import pytest
import shapely

from carto import auth
from carto.errors import EditConflict, InputError, PermissionDenied, ValidationError
from carto.ingest import edits
from carto.store import edits as stored

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

ANALYST = auth.User("ana", "analyst", "local")
VIEWER = auth.User("vic", "viewer", "anonymous")


def _read(conn, name, key):
    return stored.read_record(conn.cursor(), name, key)


def _wkt(row):
    return shapely.from_wkb(bytes.fromhex(row["geometry"])).wkt


def test_edit_fields_of_an_actor_round_trips(filled):
    result = edits.edit_record(filled, ANALYST, "actors", "A1", {"name": "CCAS Alpha Nord", "sector": "Health"},
                               expected_version=0)
    after = _read(filled, "actors", "A1")
    # "Health" is read with the import's vocabulary: the code "health".
    assert (after["name"], after["sector"], after["type"]) == ("CCAS Alpha Nord", "health", "ccas")
    assert result.version == 1
    history = stored.record_history(filled.cursor(), "actors", "A1")
    assert history["changes"][0] == {"name": ["CCAS Alpha", "CCAS Alpha Nord"], "sector": ["social", "health"]}
    assert history["username"].tolist() == ["ana"]
    edits.undo_edit(filled, ANALYST, result.edit_id)
    back = _read(filled, "actors", "A1")
    assert (back["name"], back["sector"]) == ("CCAS Alpha", "social")


def test_moving_an_actor_changes_its_geometry_and_territory(filled):
    assert _read(filled, "actors", "A1")["territory_code"] == "C1"
    # (1.5, 45.5) is inside C2 = [1,2]×[45,46] (area 1) and E1, D1 (area 2): the finest is C2.
    result = edits.edit_record(filled, ANALYST, "actors", "A1", {}, expected_version=0, lon=1.5, lat=45.5)
    moved = _read(filled, "actors", "A1")
    assert (_wkt(moved), moved["territory_code"]) == ("POINT (1.5 45.5)", "C2")
    changes = stored.record_history(filled.cursor(), "actors", "A1")["changes"][0]
    assert changes == {"territory_code": ["C1", "C2"], "geometry": ["POINT (0.5 45.5)", "POINT (1.5 45.5)"]}
    edits.undo_edit(filled, ANALYST, result.edit_id)
    back = _read(filled, "actors", "A1")
    assert (_wkt(back), back["territory_code"]) == ("POINT (0.5 45.5)", "C1")


def test_add_an_actor_then_undo_removes_it(filled):
    values = {"id": "A9", "name": "Mission locale", "type": "Mission_Locale"}
    result = edits.add_record(filled, ANALYST, "actors", values, lon=0.2, lat=45.2)
    added = _read(filled, "actors", "A9")
    assert (added["name"], added["type"], added["territory_code"], _wkt(added)) == (
        "Mission locale", "mission_locale", "C1", "POINT (0.2 45.2)")
    assert stored.record_history(filled.cursor(), "actors", "A9")["action"].tolist() == ["insert"]
    edits.undo_edit(filled, ANALYST, result.edit_id)
    assert _read(filled, "actors", "A9") is None


def test_an_added_record_is_validated_as_an_import(filled):
    with pytest.raises(ValidationError, match="'bakery' is not a known type"):
        edits.add_record(filled, ANALYST, "actors", {"id": "A9", "name": "Four", "type": "bakery"}, lon=0.2, lat=45.2)
    with pytest.raises(ValidationError, match="already in the database"):
        edits.add_record(filled, ANALYST, "actors", {"id": "A1", "name": "Again", "type": "ccas"}, lon=0.2, lat=45.2)
    with pytest.raises(ValidationError, match="already the id of one of the places"):
        edits.add_record(filled, ANALYST, "actors", {"id": "P1", "name": "Clash", "type": "ccas"}, lon=0.2, lat=45.2)
    assert filled.execute("SELECT count(*) FROM edits").fetchone() == (0,)


def test_retire_a_place_and_undo(filled):
    before = _read(filled, "places", "P1")
    result = edits.retire_record(filled, ANALYST, "places", "P1", expected_version=0)
    assert _read(filled, "places", "P1") is None
    edits.undo_edit(filled, ANALYST, result.edit_id)
    assert _read(filled, "places", "P1") == before


def test_retire_is_refused_while_a_relation_names_the_node(filled):
    with pytest.raises(InputError, match=r"cannot retire actors 'A3': 1 relation\(s\) name it \(R2\)"):
        edits.retire_record(filled, ANALYST, "actors", "A3", expected_version=0)
    edits.retire_record(filled, ANALYST, "relations", "R2", expected_version=0)
    edits.retire_record(filled, ANALYST, "actors", "A3", expected_version=0)
    assert _read(filled, "actors", "A3") is None
    with pytest.raises(InputError, match=r"cannot retire schemes 'S1': 1 relation\(s\) name it \(R1\)"):
        edits.retire_record(filled, ANALYST, "schemes", "S1", expected_version=0)


def test_add_a_relation_between_two_nodes_and_undo(filled):
    result = edits.add_relation(filled, ANALYST, "A1", "P1", "partnership", dimension="personal", formal=True,
                                scheme_id="S1", start=dt.date(2024, 1, 1), stage="contract", relation_id="R3")
    assert _read(filled, "relations", "R3") == {
        "id": "R3", "source": "A1", "target": "P1", "kind": "partnership", "dimension": "personal",
        "formal": True, "scheme_id": "S1", "weight": None, "directed": None, "start": "2024-01-01", "end": None,
        "stage": "contract",
    }
    # Undoing the addition removes the relation only: both nodes stay.
    edits.undo_edit(filled, ANALYST, result.edit_id)
    assert _read(filled, "relations", "R3") is None
    assert (_read(filled, "actors", "A1")["id"], _read(filled, "places", "P1")["id"]) == ("A1", "P1")


def test_a_relation_to_an_unknown_node_is_refused(filled):
    with pytest.raises(ValidationError, match="'ZZ' is neither an actor nor a place id"):
        edits.add_relation(filled, ANALYST, "A1", "ZZ", "partnership")
    with pytest.raises(ValidationError, match="'friendship' is not a known kind"):
        edits.add_relation(filled, ANALYST, "A1", "A2", "friendship")


def test_end_a_relation_at_a_date_and_undo(filled):
    result = edits.end_relation(filled, ANALYST, "R1", dt.date(2025, 3, 31), expected_version=0)
    ended = _read(filled, "relations", "R1")
    assert (ended["start"], ended["end"], ended["kind"], ended["formal"]) == ("2020-01-01", "2025-03-31",
                                                                              "partnership", True)
    edits.undo_edit(filled, ANALYST, result.edit_id)
    assert _read(filled, "relations", "R1")["end"] is None
    # R1 started on 2020-01-01: ending it the day before is refused.
    with pytest.raises(ValidationError, match="the end date is before the start date"):
        edits.end_relation(filled, ANALYST, "R1", dt.date(2019, 12, 31), expected_version=2)


def test_edit_a_scheme_and_undo(filled):
    result = edits.edit_record(filled, ANALYST, "schemes", "S1", {"name": "Contrat 2024", "end": "2030-12-31"},
                               expected_version=0)
    edited = _read(filled, "schemes", "S1")
    assert (edited["name"], edited["start"], edited["end"]) == ("Contrat 2024", "2019-01-01", "2030-12-31")
    edits.undo_edit(filled, ANALYST, result.edit_id)
    assert _read(filled, "schemes", "S1") == {"id": "S1", "name": "Contrat de ville", "kind": "contrat_de_ville",
                                             "territory_code": "C1", "start": "2019-01-01", "end": None, "lead": None}


def test_the_second_of_two_concurrent_edits_is_told(filled):
    # Both opened A2 at version 0.
    edits.edit_record(filled, ANALYST, "actors", "A2", {"name": "CAF first"}, expected_version=0)
    with pytest.raises(EditConflict, match="changed by someone else"):
        edits.edit_record(filled, ANALYST, "actors", "A2", {"name": "CAF second"}, expected_version=0)
    assert _read(filled, "actors", "A2")["name"] == "CAF first"


def test_undo_of_an_addition_is_refused_while_a_relation_names_it(filled):
    added = edits.add_record(filled, ANALYST, "actors", {"id": "A9", "name": "New", "type": "ccas"}, lon=0.2, lat=45.2)
    edits.add_relation(filled, ANALYST, "A9", "A1", "referral", relation_id="R9")
    with pytest.raises(InputError, match=r"cannot undo the addition of actors 'A9': 1 relation\(s\) name it \(R9\)"):
        edits.undo_edit(filled, ANALYST, added.edit_id)
    assert _read(filled, "actors", "A9")["name"] == "New"


def test_the_id_cannot_be_changed(filled):
    with pytest.raises(InputError, match="cannot change id"):
        edits.edit_record(filled, ANALYST, "actors", "A1", {"id": "A7"}, expected_version=0)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: edits.edit_record(c, VIEWER, "actors", "A1", {"name": "x"}, expected_version=0),
        lambda c: edits.add_record(c, VIEWER, "schemes", {"id": "S9", "name": "x"}),
        lambda c: edits.add_relation(c, VIEWER, "A1", "A3", "partnership"),
        lambda c: edits.end_relation(c, VIEWER, "R1", dt.date(2025, 1, 1), expected_version=0),
        lambda c: edits.retire_record(c, VIEWER, "places", "P1", expected_version=0),
        lambda c: edits.undo_edit(c, VIEWER, 1),
    ],
)
def test_a_viewer_is_refused_by_every_function(filled, call):
    with pytest.raises(PermissionDenied, match="vic has the viewer role"):
        call(filled)
    assert filled.execute("SELECT count(*) FROM edits").fetchone() == (0,)
    assert _read(filled, "actors", "A1")["name"] == "CCAS Alpha"


def test_an_edit_of_a_record_an_import_changed_since_it_was_opened_is_refused(filled):
    opened = _read(filled, "actors", "A2")
    # An import (upsert) changes A2 meanwhile: imports keep no record versions, so version 0 still holds.
    with filled.cursor() as cur:
        cur.execute("UPDATE actors SET name = 'CAF imported' WHERE id = 'A2'")
    with pytest.raises(EditConflict, match=r"was changed \(by an import\) since you opened it"):
        edits.edit_record(filled, ANALYST, "actors", "A2", {"name": "CAF typed"}, expected_version=0,
                          expected_row=opened)
    assert _read(filled, "actors", "A2")["name"] == "CAF imported"


def test_an_edit_that_changes_nothing_is_refused_and_not_logged(filled):
    # A1 is at (0.5, 45.5): typing the same coordinates and name again changes nothing.
    with pytest.raises(InputError, match="nothing to save"):
        edits.edit_record(filled, ANALYST, "actors", "A1", {"name": "CCAS Alpha"}, expected_version=0,
                          lon="0.5", lat="45,5")
    with pytest.raises(InputError, match="choose the date the relation ends"):
        edits.end_relation(filled, ANALYST, "R1", None, expected_version=0)  # type: ignore[arg-type]
    assert filled.execute("SELECT count(*) FROM edits").fetchone() == (0,)

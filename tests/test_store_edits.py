"""The change log of edits, the version per record and the undo of an edit (carto.store.edits)."""

from __future__ import annotations

import pytest

from carto import store
from carto.errors import EditConflict, StoreError
from carto.store import edits

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

# POINT (1 2) as little-endian hex WKB: byte order 01, type 1, x = 1.0, y = 2.0.
POINT_1_2 = "0101000000000000000000F03F0000000000000040"
POINT_3_4 = "010100000000000000000008400000000000001040"  # x = 3.0, y = 4.0

SCHEME = {"id": "S1", "name": "Contrat", "kind": "contrat_de_ville", "territory_code": None,
          "start": "2024-01-01", "end": None, "lead": None}


@pytest.fixture
def conn():
    return store.connect(":memory:")


def test_the_edits_migration_creates_the_log_and_the_versions(conn):
    # Numbered 4 on this branch; the merge may renumber it: found by its description.
    described = [d for _, d, _ in store.MIGRATIONS]
    assert described.count("edits log and record versions") == 1
    assert store.schema_version(conn) == store.SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM edits").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM record_versions").fetchone() == (0,)


def test_insert_update_undo_round_trip_with_exact_values(conn):
    with store.transaction(conn) as cur:
        first = edits.write_record(cur, "schemes", "S1", SCHEME, expected_version=0, username="ana")
    with store.transaction(conn) as cur:
        second = edits.write_record(
            cur, "schemes", "S1", {**SCHEME, "name": "Contrat 2", "end": "2025-06-30"}, expected_version=1,
            username="bob",
        )
    cur = conn.cursor()
    assert (first, second) == (1, 2)
    assert edits.read_record(cur, "schemes", "S1") == {**SCHEME, "name": "Contrat 2", "end": "2025-06-30"}
    assert edits.record_version(cur, "schemes", "S1") == 2
    history = edits.record_history(cur, "schemes", "S1")
    assert history["username"].tolist() == ["bob", "ana"]
    assert history["action"].tolist() == ["update", "insert"]
    assert history["changes"][0] == {"name": ["Contrat", "Contrat 2"], "end": [None, "2025-06-30"]}
    with store.transaction(conn) as cur:
        assert edits.undo_edit(cur, 2, "carl") == 3
    cur = conn.cursor()
    assert edits.read_record(cur, "schemes", "S1") == SCHEME
    assert edits.record_version(cur, "schemes", "S1") == 3
    assert edits.edit_state(cur, 2)["status"] == "undone"
    assert edits.edit_state(cur, 2)["undone_by"] == "carl"
    assert edits.edit_state(cur, 3)["action"] == "undo:update"
    # The insert's record has changed since (versions 2 and 3), so it is no longer undoable.
    assert edits.last_undoable_edit(cur) is None


def test_geometry_and_retire_round_trip(conn):
    actor = {"id": "A1", "name": "CCAS", "type": "ccas", "sector": None, "siret": None,
             "territory_code": None, "services": None, "geometry": POINT_1_2}
    with store.transaction(conn) as cur:
        edits.write_record(cur, "actors", "A1", actor, expected_version=0, username="ana")
        edits.write_record(cur, "actors", "A1", {**actor, "geometry": POINT_3_4}, expected_version=1, username="ana")
    cur = conn.cursor()
    assert edits.read_record(cur, "actors", "A1")["geometry"] == POINT_3_4
    assert edits.record_history(cur, "actors", "A1")["changes"][0] == {"geometry": ["POINT (1 2)", "POINT (3 4)"]}
    with store.transaction(conn) as cur:
        edits.write_record(cur, "actors", "A1", None, expected_version=2, username="ana")
    assert edits.read_record(conn.cursor(), "actors", "A1") is None
    with store.transaction(conn) as cur:
        edits.undo_edit(cur, 3, "ana")
    assert edits.read_record(conn.cursor(), "actors", "A1") == {**actor, "geometry": POINT_3_4}


def test_a_concurrent_edit_is_refused_and_nothing_is_saved(conn):
    with store.transaction(conn) as cur:
        edits.write_record(cur, "schemes", "S1", SCHEME, expected_version=0, username="ana")
    # Both opened the record at version 1; ana saves first.
    with store.transaction(conn) as cur:
        edits.write_record(cur, "schemes", "S1", {**SCHEME, "name": "Ana's"}, expected_version=1, username="ana")
    with pytest.raises(EditConflict, match="changed by someone else"), store.transaction(conn) as cur:
        edits.write_record(cur, "schemes", "S1", {**SCHEME, "name": "Bob's"}, expected_version=1, username="bob")
    cur = conn.cursor()
    assert edits.read_record(cur, "schemes", "S1")["name"] == "Ana's"
    assert cur.execute("SELECT count(*) FROM edits").fetchone() == (2,)


def test_undo_is_refused_when_the_record_changed_since(conn):
    with store.transaction(conn) as cur:
        edits.write_record(cur, "schemes", "S1", SCHEME, expected_version=0, username="ana")
        edits.write_record(cur, "schemes", "S1", {**SCHEME, "name": "B"}, expected_version=1, username="ana")
    with pytest.raises(EditConflict, match="changed again since"), store.transaction(conn) as cur:
        edits.undo_edit(cur, 1, "ana")
    with store.transaction(conn) as cur:
        edits.undo_edit(cur, 2, "ana")
    with pytest.raises(StoreError, match="already undone"), store.transaction(conn) as cur:
        edits.undo_edit(cur, 2, "ana")
    assert edits.read_record(conn.cursor(), "schemes", "S1")["name"] == "Contrat"


def test_undo_is_refused_when_an_import_changed_the_record_since(conn):
    with store.transaction(conn) as cur:
        edits.write_record(cur, "schemes", "S1", SCHEME, expected_version=0, username="ana")
    # An import's upsert writes the row without touching the record's version.
    with store.transaction(conn) as cur:
        cur.execute("UPDATE schemes SET name = 'Imported' WHERE id = 'S1'")
    with pytest.raises(EditConflict, match="an import changed it since"), store.transaction(conn) as cur:
        edits.undo_edit(cur, 1, "ana")
    assert edits.read_record(conn.cursor(), "schemes", "S1")["name"] == "Imported"


def test_the_last_undoable_edit_of_one_record(conn):
    other = {**SCHEME, "id": "S2", "name": "Autre"}
    with store.transaction(conn) as cur:
        edits.write_record(cur, "schemes", "S1", SCHEME, expected_version=0, username="ana")  # edit 1
        edits.write_record(cur, "schemes", "S2", other, expected_version=0, username="bob")  # edit 2
        edits.write_record(cur, "schemes", "S1", {**SCHEME, "name": "Contrat 2"}, expected_version=1,
                           username="ana")  # edit 3
    cur = conn.cursor()
    assert edits.last_undoable_edit(cur)["id"] == 3
    assert edits.last_undoable_edit(cur, name="schemes", key="S2")["id"] == 2
    assert edits.last_undoable_edit(cur, name="schemes", key="S1")["id"] == 3
    assert edits.last_undoable_edit(cur, "bob", name="schemes", key="S1") is None
    assert edits.last_undoable_edit(cur, name="actors", key="S1") is None
    with store.transaction(conn) as cur:
        edits.undo_edit(cur, 3, "ana")  # edit 4: S1 back to version 1's row, at version 3
    # Edit 1 left S1 at version 1; S1 is now at version 3, so nothing of S1 is undoable.
    assert edits.last_undoable_edit(conn.cursor(), name="schemes", key="S1") is None

from __future__ import annotations

import subprocess
import sys

import duckdb
import geopandas as gpd
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import MultiPolygon, Point, box

from carto import store
from carto.errors import StaleVersion, StoreError

pytestmark = pytest.mark.both_stores


@pytest.mark.duckdb_only
def test_connect_loads_spatial_without_network(conn):
    # Loaded from the wheel: the hardened connection may not even list the extension folder.
    assert conn.execute("SELECT ST_AsText(ST_Point(1, 2))").fetchone() == ("POINT (1 2)",)
    assert conn.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone() == (False,)
    assert conn.execute("SELECT current_setting('autoload_known_extensions')").fetchone() == (False,)


def test_new_database_has_every_table_and_latest_schema(conn):
    tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"territories", "places", "actors", "relations", "schemes", "imports", "schema_version"} <= tables
    assert store.schema_version(conn) == store.SCHEMA_VERSION


def test_territories_round_trip_keeps_rows_types_and_crs(conn, territories):
    with store.transaction(conn) as cur:
        store.insert_rows(cur, "territories", territories)
    back = store.read_dataset(conn.cursor(), "territories")
    expected = territories.sort_values("code").reset_index(drop=True)
    expected["population"] = expected["population"].astype("Int64")
    assert back.crs == "EPSG:4326"
    assert_geodataframe_equal(back, expected, check_dtype=False, check_like=False)


def test_multipolygon_and_accents_survive(conn):
    shape = MultiPolygon([box(0, 0, 1, 1), box(2, 2, 3, 3)])
    frame = gpd.GeoDataFrame(
        {"code": ["X"], "name": ["Saint-Étienne-de-Montluc"], "level": ["commune"]},
        geometry=[shape],
        crs="EPSG:4326",
    )
    with store.transaction(conn) as cur:
        store.insert_rows(cur, "territories", frame)
    back = store.read_dataset(conn.cursor(), "territories")
    assert back.loc[0, "name"] == "Saint-Étienne-de-Montluc"
    assert back.geometry[0].equals(shape)


def test_codes_with_leading_zeros_stay_text(conn):
    frame = gpd.GeoDataFrame(
        {"code": ["01001"], "name": ["L'Abergement-Clémenciat"], "level": ["commune"]},
        geometry=[box(0, 0, 1, 1)],
        crs="EPSG:4326",
    )
    with store.transaction(conn) as cur:
        store.insert_rows(cur, "territories", frame)
    assert store.read_dataset(conn.cursor(), "territories")["code"].tolist() == ["01001"]


def test_awkward_text_empty_and_missing_values_read_back_as_stored(conn):
    # Commas, quotes, a newline and a backslash in a name; an empty text is not a missing one.
    frame = gpd.GeoDataFrame(
        {
            "id": ["A1", "A2"],
            "name": ['Asso "Le Lien", Nord\nsecond line \\x', ""],
            "type": ["association", "other"],
            "sector": ["", None],
            "siret": [None, "00012345600011"],
        },
        geometry=[Point(0.5, 45.5), Point(1.5, 45.25)],
        crs="EPSG:4326",
    )
    with store.transaction(conn) as cur:
        store.insert_rows(cur, "actors", frame)
    back = store.read_dataset(conn.cursor(), "actors").set_index("id")
    assert back.loc["A1", "name"] == 'Asso "Le Lien", Nord\nsecond line \\x'
    assert back.loc["A2", "name"] == ""
    assert back.loc["A1", "sector"] == "" and pd.isna(back.loc["A2", "sector"])
    assert pd.isna(back.loc["A1", "siret"]) and back.loc["A2", "siret"] == "00012345600011"
    assert back.geometry["A1"].equals(Point(0.5, 45.5)) and back.geometry["A2"].equals(Point(1.5, 45.25))


def test_relations_round_trip_casts_text_values(conn):
    text = pd.DataFrame(
        {
            "id": ["R1"],
            "source": ["A1"],
            "target": ["P1"],
            "kind": ["referral"],
            "formal": ["false"],
            "weight": ["2.5"],
            "directed": ["true"],
            "start": ["2021-03-04"],
        }
    )
    with store.transaction(conn) as cur:
        store.insert_rows(cur, "relations", text)
    row = conn.execute('SELECT formal, weight, directed, start, "end" FROM relations').fetchone()
    assert row == (False, 2.5, True, pd.Timestamp("2021-03-04").date(), None)


def test_storing_another_crs_is_refused(conn, territories):
    with pytest.raises(StoreError, match="EPSG:4326"), store.transaction(conn) as cur:
        store.insert_rows(cur, "territories", territories.to_crs("EPSG:2154"))


def test_failed_transaction_stores_nothing_and_keeps_version(conn, territories):
    before = store.data_version(conn)
    with pytest.raises(RuntimeError), store.transaction(conn) as cur:
        store.insert_rows(cur, "territories", territories)
        raise RuntimeError("boom")
    assert store.counts(conn)["territories"] == 0
    assert store.data_version(conn) == before


def test_commit_bumps_data_version(conn, territories):
    before = store.data_version(conn)
    with store.transaction(conn) as cur:
        store.insert_rows(cur, "territories", territories)
    assert store.data_version(conn) == before + 1


def test_a_read_at_a_version_is_refused_once_a_commit_came_after(conn, territories):
    before = store.data_version(conn)
    reader = conn.cursor()
    assert len(store.read_dataset_at(reader, "territories", before)) == 0
    with store.transaction(conn) as cur:
        store.insert_rows(cur, "territories", territories)
    with pytest.raises(StaleVersion, match=f"data version {before + 1}, not {before}"):
        store.read_dataset_at(reader, "territories", before)
    assert len(store.read_dataset_at(reader, "territories", before + 1)) == len(territories)


def test_assign_territories_picks_smallest_containing_territory(filled):
    actors = store.read_dataset(filled.cursor(), "actors")
    places = store.read_dataset(filled.cursor(), "places")
    # A1, A2 lie in C1 = [0,1]x[45,46]; A3 and P1 in C2; the EPCI and département are larger.
    assert dict(zip(actors["id"], actors["territory_code"], strict=True)) == {"A1": "C1", "A2": "C1", "A3": "C2"}
    assert places["territory_code"].tolist() == ["C2"]


def test_actor_outside_every_territory_has_no_territory(filled):
    outside = gpd.GeoDataFrame(
        {"id": ["A9"], "name": ["Far"], "type": ["other"]}, geometry=[Point(10, 10)], crs="EPSG:4326"
    )
    with store.transaction(filled) as cur:
        store.insert_rows(cur, "actors", outside)
        store.assign_territories(cur)
    row = filled.execute("SELECT territory_code FROM actors WHERE id = 'A9'").fetchone()
    assert row == (None,)


def test_read_dataset_refuses_unknown_columns(filled):
    with pytest.raises(StoreError, match="nope"):
        store.read_dataset(filled.cursor(), "actors", columns=["id", "nope"])


def test_stored_keys_and_row_counts(filled):
    cur = filled.cursor()
    assert store.stored_keys(cur, "territories") == {"C1", "C2", "D1", "E1"}
    assert store.stored_keys(cur, "actors") == {"A1", "A2", "A3"}
    assert store.count_rows(cur, "actors") == 3
    assert store.count_stored_keys(cur, "actors", ["A1", "A3", "new"]) == 2
    assert store.count_stored_keys(cur, "actors", []) == 0


def test_delete_keys_removes_only_those_rows(filled):
    with store.transaction(filled) as cur:
        assert store.delete_keys(cur, "actors", ["A2", "absent"]) == 1
    assert store.read_dataset(filled.cursor(), "actors")["id"].tolist() == ["A1", "A3"]


def test_finest_territories_of_rows_not_stored_yet(filled):
    incoming = gpd.GeoDataFrame(
        {"id": ["n1", "n2", "n3"]},
        geometry=[Point(0.5, 45.5), box(1.2, 45.2, 1.4, 45.4), Point(10, 10)],
        index=[7, 8, 9],
        crs="EPSG:4326",
    )
    codes = store.finest_territories(filled.cursor(), "places", incoming)
    # The communes are the smallest containing territories; the last row lies outside every one.
    assert codes.to_dict() == {7: "C1", 8: "C2", 9: None}


def test_a_discarded_transaction_keeps_nothing(filled):
    before = store.data_version(filled)
    with store.discarded_transaction(filled) as cur:
        store.delete_all(cur, "relations")
        assert store.count_rows(cur, "relations") == 0
    assert store.count_rows(filled.cursor(), "relations") == 2
    assert store.data_version(filled) == before


@pytest.mark.parametrize("name", ["actors; DROP TABLE actors", 'x" OR 1=1 --', "Actors", "1actors", ""])
def test_identifiers_outside_our_names_are_refused(name):
    with pytest.raises(StoreError, match="not a table or column name"):
        store._ident(name)


def test_unknown_datasets_are_refused_before_any_sql(filled):
    with pytest.raises(KeyError, match="unknown dataset 'people'"):
        store.stored_keys(filled.cursor(), "people")
    with pytest.raises(KeyError, match="unknown dataset"):
        store.count_rows(filled.cursor(), "actors; DROP TABLE actors")


def test_read_datasets(filled):
    frames = store.read_datasets(filled.cursor(), ["schemes", "places"])
    assert list(frames) == ["schemes", "places"]
    assert frames["places"]["id"].tolist() == ["P1"]
    assert set(store.read_datasets(filled.cursor())) == {"territories", "places", "actors", "relations", "schemes"}


def test_counts_and_audit_row(filled):
    with store.transaction(filled) as cur:
        import_id = store.record_import(
            cur,
            username="ana",
            dataset_name="actors",
            file_name="acteurs.csv",
            sha256="ab" * 32,
            mode="append",
            rows_read=3,
            rows_inserted=3,
        )
    assert import_id == 1
    assert store.counts(filled) == {
        "territories": 4,
        "places": 1,
        "actors": 3,
        "relations": 2,
        "schemes": 1,
        "imports": 1,
    }
    audit = store.list_imports(filled.cursor())
    assert audit.loc[0, ["username", "file_name", "mode", "rows_inserted", "status"]].tolist() == [
        "ana",
        "acteurs.csv",
        "append",
        3,
        "committed",
    ]


def test_migrations_apply_only_what_is_missing(tmp_path):
    path = tmp_path / "old.duckdb"
    conn = store.connect(path)
    conn.close()
    applied: list[int] = []
    next_version = store.SCHEMA_VERSION + 1

    def add_notes(cur: store.Connection) -> None:
        applied.append(next_version)
        cur.execute("ALTER TABLE actors ADD COLUMN notes VARCHAR")

    newer = (*store.MIGRATIONS, (next_version, "notes on actors", add_notes))
    conn = duckdb.connect(str(path), config={"autoinstall_known_extensions": False})
    conn.execute(f"LOAD '{store.spatial_extension_path()}'")
    assert store.migrate(conn, migrations=newer) == next_version
    assert store.migrate(conn, migrations=newer) == next_version
    assert applied == [next_version]
    columns = [r[0] for r in conn.execute("DESCRIBE actors").fetchall()]
    assert "notes" in columns
    conn.close()


def test_failed_migration_leaves_schema_as_it_was(tmp_path):
    path = tmp_path / "db.duckdb"
    store.connect(path).close()

    def broken(cur: store.Connection) -> None:
        cur.execute("ALTER TABLE actors ADD COLUMN half VARCHAR")
        raise RuntimeError("migration bug")

    conn = duckdb.connect(str(path), config={"autoinstall_known_extensions": False})
    conn.execute(f"LOAD '{store.spatial_extension_path()}'")
    with pytest.raises(RuntimeError):
        store.migrate(conn, migrations=(*store.MIGRATIONS, (store.SCHEMA_VERSION + 1, "broken", broken)))
    assert store.schema_version(conn) == store.SCHEMA_VERSION
    assert "half" not in [r[0] for r in conn.execute("DESCRIBE actors").fetchall()]
    conn.close()


def test_database_newer_than_program_is_refused(tmp_path):
    path = tmp_path / "future.duckdb"
    conn = store.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (99, 'from the future', now()::TIMESTAMP)")
    conn.close()
    with pytest.raises(StoreError, match="update the program"):
        store.connect(path)


def test_env_variable_chooses_the_database(monkeypatch, tmp_path):
    monkeypatch.setenv("CARTO_DB", str(tmp_path / "env.duckdb"))
    assert store.default_db_path() == tmp_path / "env.duckdb"
    monkeypatch.delenv("CARTO_DB")
    assert store.default_db_path() == store.DEFAULT_DB


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        store.connect(tmp_path / "nowhere" / "x.duckdb")


def test_database_locked_by_another_process_is_a_clear_error(tmp_path):
    path = tmp_path / "locked.duckdb"
    store.connect(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "time.sleep(30)",
            str(path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"ready"
        with pytest.raises(StoreError, match="in use by another process"):
            store.connect(path)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_cursors_of_threads_see_committed_rows_only(conn, territories):
    reader = conn.cursor()
    writer_done = []
    with store.transaction(conn) as cur:
        store.insert_rows(cur, "territories", territories)
        # Not committed yet: another cursor must not see half a write.
        assert reader.execute("SELECT count(*) FROM territories").fetchone() == (0,)
        writer_done.append(True)
    assert reader.execute("SELECT count(*) FROM territories").fetchone() == (4,)



def test_migration_3_adds_services_to_actors_and_their_kept_snapshots(tmp_path):
    path = tmp_path / "v2.duckdb"
    conn = duckdb.connect(str(path), config={"autoinstall_known_extensions": False})
    conn.execute(f"LOAD '{store.spatial_extension_path()}'")
    store.migrate(conn, migrations=store.MIGRATIONS[:2])
    # A database of version 2 had no services column, nor had the undo snapshots of its imports.
    conn.execute("ALTER TABLE actors DROP COLUMN services")
    conn.execute("INSERT INTO actors (id, name, type) VALUES ('a1', 'CCAS', 'ccas')")
    conn.execute("CREATE TABLE _snapshot_1_actors AS SELECT * FROM actors")
    conn.execute("INSERT INTO import_snapshots VALUES (1, 'actors', '_snapshot_1_actors', 1)")
    assert store.migrate(conn) == store.SCHEMA_VERSION  # 3, then the schemes' lead (4) and the edits log (5)
    for table in ("actors", "_snapshot_1_actors"):
        assert [r[0] for r in conn.execute(f"DESCRIBE {table}").fetchall()][-2:] == ["geometry", "services"]
    assert conn.execute("SELECT id, services FROM _snapshot_1_actors").fetchall() == [("a1", None)]
    conn.close()

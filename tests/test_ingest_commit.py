"""Commit modes, all-or-nothing, audit rows and undo of the last import."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from carto import auth, store
from carto.errors import InputError
from carto.ingest.commit import ImportRefused, commit, undo_import
from carto.ingest.validate import validate
from carto.model import ACTORS, RELATIONS, TERRITORIES
from carto.store.imports import last_import, undoable_import

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS


def _square(x: float, y: float, size: float = 1.0) -> shapely.Polygon:
    return shapely.box(x, y, x + size, y + size)


def _territories() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["T1", "T2"],
            "name": ["Ouest", "Est"],
            "level": ["commune", "commune"],
            "parent_code": [None, None],
            "population": ["100", "200"],
            "_row": [1, 2],
        },
        geometry=[_square(2, 45), _square(3, 45)],
        crs="EPSG:4326",
    )


def _actors(ids: list[str], xs: list[float], names: list[str] | None = None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ids,
            "name": names or [f"Acteur {i}" for i in ids],
            "type": ["ccas"] * len(ids),
            "_row": list(range(1, len(ids) + 1)),
        },
        geometry=[shapely.Point(x, 45.5) for x in xs],
        crs="EPSG:4326",
    )


def _import(conn: store.Connection, ds, frame, mode="append", skip_invalid=False, user="ana"):
    user = auth.User(user, "analyst", "local")
    report = validate(frame, ds, conn_or_cursor=conn.cursor(), mode=mode)
    return commit(
        conn,
        ds,
        report.frame,
        mode=mode,
        user=user,
        file_name=f"{ds.name}.csv",
        sha256="ab" * 32,
        skip_invalid=skip_invalid,
        report=report,
    )


def _state(conn: store.Connection) -> dict[str, pd.DataFrame]:
    cur = conn.cursor()
    return {name: store.read_dataset(cur, name) for name in ("territories", "actors", "places", "relations")}


def _assert_same_state(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for name in a:
        if isinstance(a[name], gpd.GeoDataFrame):
            assert_geodataframe_equal(a[name], b[name], check_like=True)
        else:
            pd.testing.assert_frame_equal(a[name], b[name])


@pytest.fixture
def conn() -> store.Connection:
    c = store.connect(":memory:")
    _import(c, TERRITORIES, _territories())
    return c


def test_append_inserts_and_assigns_territories(conn: store.Connection) -> None:
    result = _import(conn, ACTORS, _actors(["a1", "a2", "a3"], [2.5, 3.5, 9.0]))
    assert (result.inserted, result.updated, result.deleted, result.skipped) == (3, 0, 0, 0)
    actors = store.read_dataset(conn.cursor(), "actors")
    assert actors["id"].tolist() == ["a1", "a2", "a3"]
    assert actors["territory_code"].fillna("-").tolist() == ["T1", "T2", "-"]


def test_append_refuses_stored_ids_and_stores_nothing(conn: store.Connection) -> None:
    _import(conn, ACTORS, _actors(["a1"], [2.5]))
    before = _state(conn)
    with pytest.raises(ImportRefused) as info:
        _import(conn, ACTORS, _actors(["a2", "a1"], [2.5, 3.5]))
    assert [(p.row, p.code) for p in info.value.report.problems] == [(2, "duplicate_id")]
    _assert_same_state(before, _state(conn))
    assert len(store.list_imports(conn.cursor())) == 2


def test_skip_invalid_stores_only_valid_rows(conn: store.Connection) -> None:
    frame = _actors(["a1", "a2", "a3"], [2.5, 3.5, 2.2])
    frame.loc[1, "type"] = "unknown-type"
    result = _import(conn, ACTORS, frame, skip_invalid=True)
    assert (result.inserted, result.skipped) == (2, 1)
    assert store.read_dataset(conn.cursor(), "actors")["id"].tolist() == ["a1", "a3"]
    audit = store.list_imports(conn.cursor()).iloc[0]
    assert (audit["rows_read"], audit["rows_inserted"], audit["rows_skipped"]) == (3, 2, 1)


def test_replace_deletes_everything_first(conn: store.Connection) -> None:
    _import(conn, ACTORS, _actors(["a1", "a2"], [2.5, 3.5]))
    result = _import(conn, ACTORS, _actors(["b1"], [3.2]), mode="replace")
    assert (result.inserted, result.deleted) == (1, 2)
    actors = store.read_dataset(conn.cursor(), "actors")
    assert actors[["id", "territory_code"]].values.tolist() == [["b1", "T2"]]


def test_upsert_updates_by_key_and_inserts_new(conn: store.Connection) -> None:
    _import(conn, ACTORS, _actors(["a1", "a2"], [2.5, 3.5]))
    result = _import(conn, ACTORS, _actors(["a2", "a3"], [2.5, 3.5], names=["Nouveau", "Trois"]), mode="upsert")
    assert (result.inserted, result.updated, result.deleted) == (1, 1, 0)
    actors = store.read_dataset(conn.cursor(), "actors")
    assert actors[["id", "name", "territory_code"]].values.tolist() == [
        ["a1", "Acteur a1", "T1"],
        ["a2", "Nouveau", "T1"],
        ["a3", "Trois", "T2"],
    ]


def test_audit_row_records_who_file_sha_mode_counts(conn: store.Connection) -> None:
    _import(conn, ACTORS, _actors(["a1", "a2"], [2.5, 3.5]), user="marie")
    audit = store.list_imports(conn.cursor()).iloc[0]
    assert audit["username"] == "marie"
    assert audit["dataset"] == "actors"
    assert audit["file_name"] == "actors.csv"
    assert audit["sha256"] == "ab" * 32
    assert audit["mode"] == "append"
    assert (audit["rows_read"], audit["rows_inserted"], audit["rows_updated"], audit["rows_deleted"]) == (
        2,
        2,
        0,
        0,
    )
    assert audit["status"] == "committed"
    assert pd.notna(audit["imported_at"])


def test_all_or_nothing_when_the_database_refuses(conn: store.Connection) -> None:
    _import(conn, ACTORS, _actors(["a1"], [2.5]))
    before = _state(conn)
    frame = _actors(["a2", "a1"], [2.5, 3.5])
    # Validated as replace (no clash with stored ids), committed as append: the store's key refuses.
    report = validate(frame, ACTORS, conn_or_cursor=conn.cursor(), mode="replace")
    with pytest.raises(InputError):
        commit(
            conn,
            ACTORS,
            report.frame,
            mode="append",
            user=auth.User("x", "analyst", "local"),
            file_name="f",
            sha256=None,
            skip_invalid=False,
            report=report,
        )
    _assert_same_state(before, _state(conn))
    assert store.list_imports(conn.cursor())["id"].tolist() == [2, 1]


def test_undo_restores_previous_state_exactly_including_territory_codes(conn: store.Connection) -> None:
    _import(conn, ACTORS, _actors(["a1", "a2"], [2.5, 3.5]))
    before = _state(conn)
    # A territories replace moves the actors to new territories: undo must put the old codes back.
    moved = _territories()
    moved["code"] = ["U1", "U2"]
    _import(conn, TERRITORIES, moved, mode="replace")
    assert store.read_dataset(conn.cursor(), "actors")["territory_code"].tolist() == ["U1", "U2"]
    undone = undo_import(conn, 3, auth.User("chef", "analyst", "local"))
    assert undone == 3
    _assert_same_state(before, _state(conn))
    audit = store.list_imports(conn.cursor()).set_index("id")
    assert audit.loc[3, "status"] == "undone"
    assert audit.loc[3, "undone_by"] == "chef"


def test_undo_goes_back_one_import_at_a_time(conn: store.Connection) -> None:
    empty = _state(conn)
    _import(conn, ACTORS, _actors(["a1"], [2.5]))
    one = _state(conn)
    _import(conn, ACTORS, _actors(["a1", "a9"], [3.5, 3.1], names=["X", "Y"]), mode="upsert")
    assert undo_import(conn, 3, auth.User("u", "analyst", "local")) == 3
    _assert_same_state(one, _state(conn))
    assert undo_import(conn, 2, auth.User("u", "analyst", "local")) == 2
    _assert_same_state(empty, _state(conn))


def test_undo_only_newest_and_refuses_without_snapshot() -> None:
    conn = store.connect(":memory:")
    assert last_import(conn.cursor()) is None
    with pytest.raises(InputError, match="there is no import #1"):
        undo_import(conn, 1, auth.User("u", "analyst", "local"))
    with store.transaction(conn) as cur:
        store.record_import(
            cur,
            username="s",
            dataset_name="all",
            file_name="sample",
            sha256=None,
            mode="replace",
            rows_read=0,
            rows_inserted=0,
        )
    assert undoable_import(conn.cursor()) is None
    with pytest.raises(InputError, match="cannot be undone"):
        undo_import(conn, 1, auth.User("u", "analyst", "local"))


def test_relations_import_checks_endpoints_against_store(conn: store.Connection) -> None:
    _import(conn, ACTORS, _actors(["a1", "a2"], [2.5, 3.5]))
    rel = pd.DataFrame(
        {
            "id": ["r1", "r2"],
            "source": ["a1", "a1"],
            "target": ["a2", "zz"],
            "kind": ["network", "referral"],
            "_row": [1, 2],
        }
    )
    result = _import(conn, RELATIONS, rel, skip_invalid=True)
    assert (result.inserted, result.skipped) == (1, 1)
    assert result.report.by_code == {"unknown_endpoint": 1}


def test_only_a_bounded_number_of_snapshots_is_kept(conn: store.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    from carto.ingest import commit as commit_module

    monkeypatch.setattr(commit_module, "SNAPSHOTS_KEPT", 2)
    _import(conn, ACTORS, _actors(["a1"], [2.5]))
    _import(conn, ACTORS, _actors(["a2"], [2.5]))
    tables = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_name LIKE '_snapshot_%'")
    assert sorted(r[0] for r in tables.fetchall()) == ["_snapshot_2_actors", "_snapshot_3_actors"]
    assert undo_import(conn, 3, auth.User("u", "analyst", "local")) == 3
    assert undo_import(conn, 2, auth.User("u", "analyst", "local")) == 2
    with pytest.raises(InputError, match=r"import #1 .* cannot be undone"):
        undo_import(conn, 1, auth.User("u", "analyst", "local"))
    assert store.read_dataset(conn.cursor(), "actors").empty


def test_roles_are_enforced_by_commit_and_undo(conn: store.Connection) -> None:
    from carto import auth
    from carto.errors import PermissionDenied

    viewer = auth.User(name="v", role="viewer", source="oidc")
    analyst = auth.User(name="ana", role="analyst", source="oidc")
    frame = _actors(["a1"], [2.5])
    report = validate(frame, ACTORS, conn_or_cursor=conn.cursor())
    with pytest.raises(PermissionDenied):
        commit(
            conn,
            ACTORS,
            report.frame,
            mode="append",
            user=viewer,
            file_name="f",
            sha256=None,
            skip_invalid=False,
            report=report,
        )
    assert store.read_dataset(conn.cursor(), "actors").empty
    commit(
        conn,
        ACTORS,
        report.frame,
        mode="append",
        user=analyst,
        file_name="f",
        sha256=None,
        skip_invalid=False,
        report=report,
    )
    assert store.list_imports(conn.cursor()).iloc[0]["username"] == "ana"
    with pytest.raises(PermissionDenied):
        undo_import(conn, 2, viewer)
    assert undo_import(conn, 2, analyst) == 2


def test_undo_of_an_import_that_is_no_longer_the_last_is_refused(conn: store.Connection) -> None:
    _import(conn, ACTORS, _actors(["a1"], [2.5]), user="ana")
    shown = undoable_import(conn.cursor())
    assert shown is not None and shown["id"] == 2  # what the data page asks ana to confirm
    _import(conn, ACTORS, _actors(["a2"], [3.5]), user="marc")  # marc's import lands meanwhile
    before = _state(conn)
    refused = r"^import #2 is no longer the last one: import #3 \(actors, actors.csv, by marc\)"
    with pytest.raises(InputError, match=refused):
        undo_import(conn, shown["id"], auth.User("ana", "analyst", "local"))
    _assert_same_state(before, _state(conn))
    audit = store.list_imports(conn.cursor())
    assert audit["status"].tolist() == ["committed", "committed", "committed"]
    assert undoable_import(conn.cursor())["id"] == 3  # marc's import can still be undone


def test_undo_of_an_import_already_undone_or_unknown_is_refused(conn: store.Connection) -> None:
    _import(conn, ACTORS, _actors(["a1"], [2.5]))
    _import(conn, ACTORS, _actors(["a2"], [3.5]))
    assert undo_import(conn, 3, auth.User("chef", "analyst", "local")) == 3
    after = _state(conn)
    with pytest.raises(InputError, match=r"^import #3 was already undone by chef; nothing was undone$"):
        undo_import(conn, 3, auth.User("u", "analyst", "local"))
    with pytest.raises(InputError, match=r"^there is no import #9; nothing was undone$"):
        undo_import(conn, 9, auth.User("u", "analyst", "local"))
    _assert_same_state(after, _state(conn))


def test_a_refused_undo_takes_no_snapshot(tmp_path) -> None:
    from carto.store import backup

    conn = store.connect(tmp_path / "carto.duckdb")
    _import(conn, TERRITORIES, _territories())
    _import(conn, ACTORS, _actors(["a1"], [2.5]))
    _import(conn, ACTORS, _actors(["b1"], [3.2]), mode="replace")
    made = backup.list_snapshots(tmp_path / "carto.duckdb")
    assert [p.name[23:] for p in made] == ["before-replace-of-actors.duckdb"]
    for refused in (2, 1, 9):
        with pytest.raises(InputError):
            undo_import(conn, refused, auth.User("u", "analyst", "local"))
    assert backup.list_snapshots(tmp_path / "carto.duckdb") == made
    assert undo_import(conn, 3, auth.User("u", "analyst", "local")) == 3
    kinds = [p.name[23:] for p in backup.list_snapshots(tmp_path / "carto.duckdb")]
    conn.close()
    assert kinds == ["before-undo.duckdb", "before-replace-of-actors.duckdb"]


def _relations(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(1, len(pairs) + 1)],
            "source": [s for s, _ in pairs],
            "target": [t for _, t in pairs],
            "kind": ["network"] * len(pairs),
            "_row": list(range(1, len(pairs) + 1)),
        }
    )


def test_replace_refuses_to_orphan_relations_unless_asked(conn: store.Connection) -> None:
    _import(conn, ACTORS, _actors(["a1", "a2", "a3", "a4"], [2.5, 3.5, 2.2, 3.2]))
    _import(conn, RELATIONS, _relations([("a1", "a2"), ("a2", "a3"), ("a1", "a3"), ("a1", "a4")]))
    before = _state(conn)
    incoming = _actors(["a1", "a4", "b1"], [2.5, 3.2, 3.4])
    # a2 and a3 leave: r1 (a2), r2 (a2, a3) and r3 (a3) would point to nothing; r4 (a1 → a4) stays.
    with pytest.raises(InputError) as info:
        _import(conn, ACTORS, incoming, mode="replace")
    assert str(info.value) == (
        "actors: replacing would remove 2 actors that 3 relations point to (first: a2, a3); nothing stored; "
        "keep them in the file, or choose to also remove those relations (--drop-relations)"
    )
    _assert_same_state(before, _state(conn))
    report = validate(incoming, ACTORS, conn_or_cursor=conn.cursor(), mode="replace")
    result = commit(
        conn, ACTORS, report.frame, mode="replace", user=auth.User("ana", "analyst", "local"),
        file_name="actors.csv", sha256=None, skip_invalid=False, report=report, drop_relations=True,
    )
    assert (result.inserted, result.deleted, result.relations_removed) == (3, 4, 3)
    assert "removed 3 relations to actors no longer in the file" in result.summary()
    assert store.read_dataset(conn.cursor(), "relations")["id"].tolist() == ["r4"]
    # The undo puts the relations back with the actors.
    undo_import(conn, result.import_id, auth.User("ana", "analyst", "local"))
    _assert_same_state(before, _state(conn))


def test_upsert_changes_only_the_mapped_columns(conn: store.Connection) -> None:
    first = _actors(["a1", "a2"], [2.5, 3.5]).assign(sector=["social", "health"], siret=["123", None])
    _import(conn, ACTORS, first)
    # The second file maps id, name and type only (and its points): sector and siret stay as stored.
    second = _actors(["a1", "a3"], [3.5, 2.5], names=["CCAS renamed", "New"])
    report = validate(second, ACTORS, conn_or_cursor=conn.cursor(), mode="upsert")
    result = commit(
        conn, ACTORS, report.frame, mode="upsert", user=auth.User("ana", "analyst", "local"),
        file_name="actors.csv", sha256=None, skip_invalid=False, report=report, columns=("id", "name", "type"),
    )
    assert (result.inserted, result.updated, result.deleted) == (1, 1, 0)
    actors = store.read_dataset(conn.cursor(), "actors")
    assert actors[["id", "name", "sector", "siret", "territory_code"]].astype(object).where(
        actors[["id", "name", "sector", "siret", "territory_code"]].notna(), None
    ).values.tolist() == [
        ["a1", "CCAS renamed", "social", "123", "T2"],  # moved from x 2.5 (T1) to 3.5 (T2)
        ["a2", "Acteur a2", "health", None, "T2"],
        ["a3", "New", None, None, "T1"],
    ]


def test_a_point_in_no_territory_is_a_warning_of_its_row(conn: store.Connection) -> None:
    # T1 covers x 2..3 and T2 x 3..4 (y 45..46): x 9.0 lies in neither.
    report = validate(_actors(["a1", "a2", "a3"], [2.5, 9.0, 3.5]), ACTORS, conn_or_cursor=conn.cursor())
    assert [(p.row, p.id, p.severity, p.code) for p in report.problems] == [(2, "a2", "warning", "no_territory")]
    assert report.ok


def test_territories_found_by_the_validation_are_found_again_when_they_changed(conn: store.Connection) -> None:
    report = validate(_actors(["a1", "a2"], [2.5, 9.5]), ACTORS, conn_or_cursor=conn.cursor())
    # The validation found T1 for a1 and nothing for a2 (x 9.5 is east of T2, which ends at x 4).
    assert report.frame["territory_code"].tolist() == ["T1", None]
    # A territory lands between the check and the commit: the codes found are stale.
    t3 = _territories().iloc[[0]].assign(code="T3", name="Loin")
    t3 = t3.set_geometry([_square(9, 45)], crs="EPSG:4326")
    _import(conn, TERRITORIES, t3)
    commit(
        conn, ACTORS, report.frame, mode="append", user=auth.User("ana", "analyst", "local"),
        file_name="actors.csv", sha256=None, skip_invalid=False, report=report,
    )
    actors = store.read_dataset(conn.cursor(), "actors")
    assert actors["territory_code"].tolist() == ["T1", "T3"]

"""The store's connection cannot reach files outside its own; a full disk is one clear sentence."""

from __future__ import annotations

import errno
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import geopandas as gpd
import pandas as pd
import pytest
import shapely

from carto import auth, store
from carto.errors import DiskFull, StoreError
from carto.ingest.commit import commit, undo_import
from carto.ingest.validate import validate
from carto.model import ACTORS, TERRITORIES, Dataset
from carto.store import backup

ANALYST = auth.User("ana", "analyst", "local")
ADMIN = auth.User("dsi", "admin", "oidc")


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of another program, with files the dashboard must never read or write."""
    folder = tmp_path_factory.mktemp("outside")
    (folder / "secret.csv").write_text("name,password\nroot,hunter2\n")
    (folder / "secret.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"password": "hunter2"},
                        "geometry": {"type": "Point", "coordinates": [1, 2]},
                    }
                ],
            }
        )
    )
    return folder


@pytest.fixture
def hardened(tmp_path: Path) -> Iterator[store.Connection]:
    data = tmp_path / "data"
    data.mkdir()
    conn = store.connect(data / "carto.duckdb")
    yield conn
    conn.close()


def _refusals(outside: Path, data: Path) -> list[str]:
    return [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        f"SELECT * FROM read_csv('{outside}/secret.csv')",
        f"SELECT * FROM read_json('{outside}/secret.geojson')",
        f"SELECT * FROM ST_Read('{outside}/secret.geojson')",
        f"SELECT * FROM ST_Read_Meta('{outside}/secret.geojson')",
        "SELECT * FROM glob('/etc/*')",
        # Through an allowed folder and back out.
        f"SELECT * FROM read_csv('{data}/snapshots/carto.duckdb/../../../../{outside.name}/secret.csv')",
        f"ATTACH '{outside}/stolen.duckdb' AS stolen",
        f"ATTACH '{data}/snapshots/carto.duckdb-other/x.duckdb' AS beside",
        f"COPY (SELECT 1 AS x) TO '{outside}/written.csv'",
        f"COPY (SELECT ST_Point(1, 2) AS g) TO '{outside}/written.geojson' (FORMAT GDAL, DRIVER 'GeoJSON')",
        f"EXPORT DATABASE '{outside}/dump'",
        f"INSTALL '{outside}/evil.duckdb_extension'",
        f"LOAD '{outside}/evil.duckdb_extension'",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "SET allowed_paths = ['/etc/passwd']",
        "SET lock_configuration = false",
        "RESET enable_external_access",
        "SET autoinstall_known_extensions = true",
        "SET allow_unsigned_extensions = true",
    ]


def test_the_connection_reaches_no_file_outside_its_own(hardened, outside, tmp_path):
    data = tmp_path / "data"
    for cursor in (hardened, hardened.cursor()):
        for sql in _refusals(outside, data):
            with pytest.raises(duckdb.Error) as info:
                rows = cursor.execute(sql).fetchall()
                pytest.fail(f"{sql} was allowed: {rows}")
            assert "hunter2" not in str(info.value), sql
    assert sorted(p.name for p in outside.iterdir()) == ["secret.csv", "secret.geojson"]
    settings = dict(
        hardened.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('enable_external_access', 'lock_configuration', 'allow_community_extensions')"
        ).fetchall()
    )
    assert settings == {
        "enable_external_access": "false",
        "lock_configuration": "true",
        "allow_community_extensions": "false",
    }


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled by configuration"),
        ("SET enable_external_access = true", "the configuration has been locked"),
        ("LOAD '/tmp/evil.duckdb_extension'", "Loading external extensions is disabled"),
    ],
)
def test_an_in_memory_connection_is_hardened_too(conn, sql, message):
    with pytest.raises(duckdb.Error, match=message):
        conn.execute(sql)


def test_the_command_line_may_also_write_one_chosen_folder(tmp_path, outside):
    db = tmp_path / "carto.duckdb"
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    conn = store.connect(db, also_allow=[chosen])
    try:
        assert backup.backup(conn, chosen / "copy.duckdb", ADMIN) == chosen / "copy.duckdb"
        with pytest.raises(StoreError, match=f"this connection may not write into {outside}"):
            backup.backup(conn, outside / "copy.duckdb", ADMIN)
        with pytest.raises(duckdb.PermissionException):
            conn.execute(f"SELECT * FROM read_csv('{outside}/secret.csv')")
    finally:
        conn.close()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.csv", "secret.geojson"]


# --- what the hardened connection must still do ----------------------------------------------


def _territories() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["T1", "T2"], "name": ["Ouest", "Est"], "level": ["commune", "commune"], "_row": [1, 2]},
        geometry=[shapely.box(2, 45, 3, 46), shapely.box(3, 45, 4, 46)],
        crs="EPSG:4326",
    )


def _actors(ids: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ids, "name": [f"Acteur {i}" for i in ids], "type": ["ccas"] * len(ids), "_row": range(1, len(ids) + 1)},
        geometry=[shapely.Point(2.5, 45.5)] * len(ids),
        crs="EPSG:4326",
    )


def _import(conn: Any, ds: Dataset, frame: pd.DataFrame, mode: str = "append") -> int | None:
    report = validate(frame, ds, conn_or_cursor=conn.cursor(), mode=mode)
    result = commit(
        conn,
        ds,
        report.frame,
        mode=mode,
        user=ANALYST,
        file_name="f.csv",
        sha256=None,
        skip_invalid=False,
        report=report,
    )
    return result.import_id


def _actor_ids(conn: Any) -> list[str]:
    return [r[0] for r in conn.cursor().execute("SELECT id FROM actors ORDER BY id").fetchall()]


def test_imports_snapshots_undo_backup_and_restore_work_on_the_hardened_connection(hardened, tmp_path):
    db = tmp_path / "data" / "carto.duckdb"
    _import(hardened, TERRITORIES, _territories())
    _import(hardened, ACTORS, _actors(["a1", "a2"]))
    assert _import(hardened, ACTORS, _actors(["b1"]), mode="replace") == 3
    assert undo_import(hardened, 3, ANALYST) == 3
    assert _actor_ids(hardened) == ["a1", "a2"]
    assert [p.name[23:] for p in backup.list_snapshots(db)] == ["before-undo.duckdb", "before-replace-of-actors.duckdb"]
    made = backup.backup(hardened, None, ADMIN)
    assert made is not None and backup.list_backups(db) == [made]
    hardened.close()
    safety = backup.restore(db, backup.list_snapshots(db)[-1], ADMIN)  # back to before the replace
    assert safety is not None
    again = store.connect(db)
    try:
        assert _actor_ids(again) == ["a1", "a2"]
        assert store.counts(again)["imports"] == 2
    finally:
        again.close()


# --- a full disk -------------------------------------------------------------------------------


class _Cursor:
    """A real cursor, except that one statement fails the way DuckDB fails when the disk is full."""

    def __init__(self, real: Any, owner: _FullDisk) -> None:
        self._real, self._owner = real, owner

    def execute(self, sql: str, *params: Any) -> _Cursor:
        attached = re.match(r"\s*ATTACH '([^']+)'", sql)
        if attached:
            self._owner.copy_file = Path(attached.group(1))
        if sql.lstrip().upper().startswith(self._owner.fail_on):
            self._owner.fail(self._real)
        self._real.execute(sql, *params)
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _FullDisk:
    """A connection whose ``fail_on`` statement (COPY of a snapshot, or COMMIT) meets a full disk."""

    def __init__(self, real: store.Connection, fail_on: str) -> None:
        self.real, self.fail_on = real, fail_on
        self.copy_file: Path | None = None

    def cursor(self) -> _Cursor:
        return _Cursor(self.real.cursor(), self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def fail(self, real_cursor: Any) -> None:
        if self.fail_on == "COPY":
            # Half a copy is written (with its write-ahead log) before the disk fills up.
            assert self.copy_file is not None
            real_cursor.execute("CREATE TABLE carto_copy.half AS SELECT range AS x FROM range(1000)")
            written = self.copy_file
        else:
            # DuckDB ends the transaction before it reports the failed commit.
            real_cursor.execute("ROLLBACK")
            row = self.real.execute(
                "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
            ).fetchone()
            written = Path(f"{row[0]}.wal")
        failure = duckdb.IOException if self.fail_on == "COPY" else duckdb.TransactionException
        raise failure(f'Could not write file "{written}": No space left on device')


def _state(conn: Any) -> tuple[Any, ...]:
    cur = conn.cursor()
    return (
        _actor_ids(conn),
        cur.execute("SELECT id, status FROM imports ORDER BY id").fetchall(),
        store.data_version(cur),
    )


def test_a_full_disk_at_the_snapshot_of_a_replace_leaves_no_partial_file(hardened, tmp_path):
    db = tmp_path / "data" / "carto.duckdb"
    _import(hardened, TERRITORIES, _territories())
    _import(hardened, ACTORS, _actors(["a1"]))
    before = _state(hardened)
    folder = backup.snapshot_dir(db)
    with pytest.raises(StoreError) as info:
        _import(_FullDisk(hardened, "COPY"), ACTORS, _actors(["b1"]), mode="replace")
    assert str(info.value) == f"the disk holding {folder} is full: free space and try again"
    assert sorted(p.name for p in folder.iterdir()) == []
    assert _state(hardened) == before
    # Nothing stays attached or half-open: the next replace snapshots and commits.
    assert _import(hardened, ACTORS, _actors(["b1"]), mode="replace") == 3
    assert [p.name[23:] for p in folder.iterdir()] == ["before-replace-of-actors.duckdb"]


def test_a_full_disk_at_the_commit_of_an_append_says_so(hardened, tmp_path):
    _import(hardened, TERRITORIES, _territories())
    before = _state(hardened)
    with pytest.raises(StoreError) as info:
        _import(_FullDisk(hardened, "COMMIT"), ACTORS, _actors(["a1", "a2"]))
    assert str(info.value) == (
        f"the disk holding {tmp_path / 'data'} is full: free space, then restart the dashboard and try again"
    )
    assert isinstance(info.value, DiskFull) and info.value.reopen
    assert _state(hardened) == before
    assert _import(hardened, ACTORS, _actors(["a1", "a2"])) == 2


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB file system of its own (tmpfs), when this machine lets the tests mount one."""
    point = tmp_path / "disk"
    point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(point)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_really_full_disk(small_disk):
    db = small_disk / "carto.duckdb"
    conn = store.connect(db)
    try:
        _import(conn, TERRITORIES, _territories())
        _import(conn, ACTORS, _actors(["a1"]))
        conn.execute("CHECKPOINT")
        before = _state(conn)
        filler = _fill(small_disk)
        full = re.escape(f"the disk holding {small_disk}") + r"\S* is full: free space"
        with pytest.raises(StoreError, match=full + " and try again$"):
            _import(conn, ACTORS, _actors(["b1"]), mode="replace")
        assert list(backup.snapshot_dir(db).iterdir()) == []
        with pytest.raises(StoreError, match=full + ", then restart the dashboard and try again$"):
            _import(conn, ACTORS, _actors([f"n{i}" for i in range(3000)]))
        assert _state(conn) == before
        filler.unlink()
    finally:
        conn.close()
    # Opened again, as the message says (DuckDB 1.5.5 fails the next geometry commit until then).
    conn = store.connect(db)
    try:
        assert _state(conn) == before
        assert _import(conn, ACTORS, _actors(["b1"])) == 3
        assert _actor_ids(conn) == ["a1", "b1"]
    finally:
        conn.close()
    assert [p.name for p in small_disk.rglob("*") if p.name.endswith((".partial", ".wal"))] == []


def test_a_database_whose_file_name_has_quotes_is_snapshotted(tmp_path):
    # The database's SQL name comes from its file name: quotes in it must not break (or extend) the COPY.
    path = tmp_path / 'ville "nord" l\'été.duckdb'
    conn = store.connect(path)
    try:
        made = backup.snapshot(conn, "before-replace")
    finally:
        conn.close()
    assert made is not None and made.exists()
    copy = duckdb.connect(str(made), read_only=True)
    try:
        tables = {row[0] for row in copy.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        copy.close()
    assert {"actors", "places", "relations", "territories", "schemes"} <= tables

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from carto import cli, store
from carto.ingest.sample import SAMPLE_DIR

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

PROJECT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command, as a user types it, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "carto", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_load_sample_then_stats_json(new_db):
    db = new_db
    loaded = run_cli("--db", db, "load-sample")
    assert loaded.returncode == 0, loaded.stderr
    stats = run_cli("--db", db, "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    assert list(figures) == ["territories", "places", "actors", "relations", "schemes", "imports"]
    assert figures["territories"] >= 100
    assert figures["actors"] >= 50
    assert figures["places"] >= 10
    assert figures["relations"] >= 100
    assert figures["imports"] == 1


def test_load_sample_twice_replaces_rather_than_duplicates(new_db, capsys):
    db = new_db
    assert cli.main(["--db", db, "load-sample"]) == 0
    first = store.counts(store.connect(db))
    assert cli.main(["--db", db, "load-sample"]) == 0
    second = store.counts(store.connect(db))
    assert {k: v for k, v in second.items() if k != "imports"} == {
        k: v for k, v in first.items() if k != "imports"
    }
    assert second["imports"] == 2


def test_init_creates_the_schema(tmp_path, capsys):
    db = tmp_path / "new.duckdb"
    assert cli.main(["--db", str(db), "init"]) == 0
    assert f"schema version {store.SCHEMA_VERSION}" in capsys.readouterr().out
    assert store.schema_version(store.connect(db)) == store.SCHEMA_VERSION


def test_carto_db_environment_variable_is_the_default(tmp_path):
    db = tmp_path / "env.duckdb"
    import os

    result = run_cli("init", env={**os.environ, "CARTO_DB": str(db)})
    assert result.returncode == 0, result.stderr
    assert db.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load-sample", "--dir", "/no/such/folder"], "error: /no/such/folder is not a folder"),
        (["--db", "/no/such/dir/x.duckdb", "stats"], "the folder /no/such/dir does not exist"),
    ],
)
def test_user_mistakes_give_one_line_and_exit_2(tmp_path, args, message):
    if "--db" not in args:
        args = ["--db", str(tmp_path / "x.duckdb"), *args]
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_folder_missing_a_file_is_named(tmp_path, capsys):
    folder = tmp_path / "partial"
    folder.mkdir()
    (folder / "territories.geojson").write_bytes((SAMPLE_DIR / "territories.geojson").read_bytes())
    (folder / "places.geojson").write_bytes((SAMPLE_DIR / "places.geojson").read_bytes())
    code = cli.main(["--db", str(tmp_path / "x.duckdb"), "load-sample", "--dir", str(folder)])
    assert code == 2
    assert f"{folder} has no actors.csv" in capsys.readouterr().err


def test_unknown_command_is_refused_by_argparse(tmp_path):
    result = run_cli("--db", str(tmp_path / "x.duckdb"), "explode")
    assert result.returncode == 2
    assert "invalid choice: 'explode'" in result.stderr


def test_sample_command_writes_a_tier_that_loads(tmp_path, new_db, capsys):
    out = tmp_path / "tier"
    assert cli.main(["sample", "--scale", "S", "--out", str(out), "--seed", "3"]) == 0
    db = new_db
    assert cli.main(["--db", db, "load-sample", "--dir", str(out)]) == 0
    figures = store.counts(store.connect(db))
    assert (figures["territories"], figures["places"], figures["actors"], figures["relations"]) == (
        300,
        150,
        1500,
        6000,
    )


def test_database_in_use_by_the_dashboard_is_reported(tmp_path):
    db = tmp_path / "busy.duckdb"
    store.connect(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb,sys,time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
         "time.sleep(30)", str(db)],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
        result = run_cli("--db", str(db), "stats", "--json")
        assert result.returncode == 2
        assert "in use by another process" in result.stderr
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def _two_actor_imports(db: Path) -> None:
    """Imports #2 and #3 (actors, appended) after an empty database's import #1 (territories)."""
    import geopandas as gpd
    import shapely

    from carto import auth
    from carto.ingest.commit import commit
    from carto.ingest.validate import validate
    from carto.model import ACTORS, TERRITORIES

    conn = store.connect(db)
    territories = gpd.GeoDataFrame(
        {"code": ["T1"], "name": ["Ouest"], "level": ["commune"], "_row": [1]},
        geometry=[shapely.box(2, 45, 3, 46)],
        crs="EPSG:4326",
    )
    batches = [(TERRITORIES, territories, "t.csv")]
    for i, name in enumerate(["a.csv", "b.csv"]):
        batches.append(
            (
                ACTORS,
                gpd.GeoDataFrame(
                    {"id": [f"a{i}"], "name": [f"Acteur {i}"], "type": ["ccas"], "_row": [1]},
                    geometry=[shapely.Point(2.5, 45.5)],
                    crs="EPSG:4326",
                ),
                name,
            )
        )
    for ds, frame, file_name in batches:
        report = validate(frame, ds, conn_or_cursor=conn.cursor(), mode="append")
        commit(
            conn,
            ds,
            report.frame,
            mode="append",
            user=auth.User("ana", "analyst", "local"),
            file_name=file_name,
            sha256=None,
            skip_invalid=False,
            report=report,
        )
    conn.close()


def test_undo_with_an_id_that_is_no_longer_the_last_is_refused(tmp_path, capsys):
    db = tmp_path / "x.duckdb"
    _two_actor_imports(db)
    assert cli.main(["--db", str(db), "undo", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: import #2 is no longer the last one: import #3 (actors, b.csv, by ana)")
    assert store.counts(store.connect(db))["actors"] == 2


def test_undo_without_an_id_says_which_import_it_undoes(tmp_path, capsys):
    db = tmp_path / "x.duckdb"
    _two_actor_imports(db)
    assert cli.main(["--db", str(db), "undo"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "undoing the last import, #3: actors from b.csv",
        "import #3 undone; the data are as before it",
    ]
    assert cli.main(["--db", str(db), "undo", "2"]) == 0
    assert store.counts(store.connect(db))["actors"] == 0


def test_backup_goes_to_the_backup_folder_or_to_any_file_when_no_process_holds_the_database(tmp_path, capsys):
    db = tmp_path / "x.duckdb"
    _two_actor_imports(db)
    assert cli.main(["--db", str(db), "backup"]) == 0
    written = Path(capsys.readouterr().out.removeprefix("backup written to ").strip())
    assert written.parent == tmp_path / "backups" / "x.duckdb"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert cli.main(["--db", str(db), "backup", "--out", str(elsewhere / "copy.duckdb")]) == 0
    for copy in (written, elsewhere / "copy.duckdb"):
        assert store.counts(store.connect(copy)) == store.counts(store.connect(db))


def test_backup_while_the_dashboard_holds_the_database_points_to_the_admin_page(tmp_path):
    db = tmp_path / "busy.duckdb"
    store.connect(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb,sys,time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
         "time.sleep(30)", str(db)],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
        result = run_cli("--db", str(db), "backup")
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: the database {db} is in use by another process (the dashboard): back it up from the dashboard's "
        "admin page (Back up now), or set CARTO_BACKUP_EVERY_H so that the dashboard takes backups itself; this "
        "command is for a database no process holds"
    ]

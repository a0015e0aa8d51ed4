from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from carto import cli, store
from carto.sample import SAMPLE_DIR

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


def test_load_sample_then_stats_json(tmp_path):
    db = str(tmp_path / "x.duckdb")
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


def test_load_sample_twice_replaces_rather_than_duplicates(tmp_path, capsys):
    db = str(tmp_path / "x.duckdb")
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


def test_sample_command_writes_a_tier_that_loads(tmp_path, capsys):
    out = tmp_path / "tier"
    assert cli.main(["sample", "--scale", "S", "--out", str(out), "--seed", "3"]) == 0
    db = str(tmp_path / "s.duckdb")
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

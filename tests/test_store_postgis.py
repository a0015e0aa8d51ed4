"""What only the PostgreSQL/PostGIS store does: dumps, restore while others run, writers of several
processes, the GiST index, the URL's password kept out of messages. Run by ./test.sh's PostGIS pass."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from carto import auth, store
from carto.errors import InputError, PermissionDenied, StoreError
from carto.ingest import sample
from carto.model import DATASETS
from carto.store import backup, postgis

pytestmark = pytest.mark.postgis_only

ADMIN = auth.User("d", "admin", "cli")
PROJECT = Path(__file__).resolve().parent.parent


def _counts(url: str) -> tuple[int, ...]:
    conn = store.connect(url)
    try:
        found = store.counts(conn)
        return tuple(found[d] for d in DATASETS)
    finally:
        conn.close()


def test_a_backup_is_a_dump_in_the_copies_folder_and_restores_everything(sample_db, tmp_path):
    conn = store.connect(sample_db)
    made = backup.backup(conn, None, ADMIN)
    version_at_backup = store.data_version(conn)
    with store.transaction(conn) as cur:  # the damage: the relations are gone
        cur.execute("DELETE FROM relations")
    damaged_version = store.data_version(conn)
    conn.close()
    name = sample_db.rsplit("/", 1)[1]
    assert made is not None and made.suffix == ".dump"
    assert made.parent.parent == tmp_path / "copies" / "backups"  # $CARTO_COPIES_DIR of conftest
    assert made.parent.name.endswith(f"-{name}")
    # The sample holds 225 territories, 66 places, 340 actors, 12 schemes, 1,170 relations (DATASETS order).
    assert _counts(sample_db)[:5] == (225, 66, 340, 12, 0)

    safety = backup.restore(sample_db, made, ADMIN)

    assert _counts(sample_db)[:5] == (225, 66, 340, 12, 1170)
    assert safety is not None and safety.name.endswith("-before-restore.dump")
    conn = store.connect(sample_db)
    try:
        # Past both the damaged and the restored version: no process's cache takes one for the other.
        assert store.data_version(conn) > max(damaged_version, version_at_backup)
    finally:
        conn.close()


def test_a_database_owner_who_is_not_a_superuser_backs_up_and_restores(pg_cluster, tmp_path):
    # As README's "For a département or a region" sets it up: the role owns the database, the
    # superuser created PostGIS in it (so PostGIS's spatial_ref_sys table is the superuser's).
    admin = pg_cluster.url()
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute("CREATE ROLE carto_owner LOGIN")
        c.execute('CREATE DATABASE carto_owned OWNER carto_owner TEMPLATE "carto_template"')
    url = f"postgresql://carto_owner@127.0.0.1:{pg_cluster.port}/carto_owned"
    conn = store.connect(url)
    sample.load_folder(conn, sample.SAMPLE_DIR)
    made = backup.backup(conn, tmp_path / "owned.dump", ADMIN)
    with store.transaction(conn) as cur:
        cur.execute("DELETE FROM relations")
    conn.close()
    assert made is not None and _counts(url)[:5] == (225, 66, 340, 12, 0)

    backup.restore(url, made, ADMIN)

    assert _counts(url)[:5] == (225, 66, 340, 12, 1170)  # the sample's 1,170 relations are back
    pg_cluster.drop_database("carto_owned")


def test_restore_refuses_a_file_that_is_not_a_dump(sample_db, tmp_path):
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"not a dump at all")
    with pytest.raises(InputError, match="is not a PostgreSQL dump"):
        backup.restore(sample_db, junk, ADMIN)
    assert _counts(sample_db)[:5] == (225, 66, 340, 12, 1170)


def test_restore_refuses_a_dump_of_another_database(pg_cluster, sample_db, tmp_path):
    other = pg_cluster.new_database("other")
    made = tmp_path / "other.dump"
    postgis.dump(other, made)  # PostGIS alone: none of our tables
    with pytest.raises(InputError, match=r"is not a backup of this dashboard \(missing: actors, imports"):
        backup.restore(sample_db, made, ADMIN)


def test_backups_are_for_admins_only(sample_db):
    conn = store.connect(sample_db)
    try:
        with pytest.raises(PermissionDenied):
            backup.backup(conn, None, auth.User("a", "analyst", "oidc"))
    finally:
        conn.close()


def test_the_cli_imports_while_another_process_holds_the_database(sample_db, tmp_path):
    """A DuckDB file refuses a second process; PostgreSQL takes a CLI import while the dashboard's
    process is connected, and that process sees the new data version at once."""
    dashboard = store.connect(sample_db)
    before = store.data_version(dashboard)
    actors = tmp_path / "acteurs.csv"
    actors.write_text("id;nom;type;latitude;longitude\nNEW1;Centre social neuf;centre_social;47,22;-1,55\n")
    done = subprocess.run(
        [sys.executable, "-m", "carto", "--db", sample_db, "import", "actors", str(actors)],
        cwd=PROJECT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    try:
        assert store.data_version(dashboard) == before + 1
        assert store.read_dataset(dashboard, "actors").set_index("id").loc["NEW1", "name"] == "Centre social neuf"
    finally:
        dashboard.close()


def test_writers_of_two_processes_follow_one_another(sample_db):
    """Two processes each commit 5 writes at once: every write lands, the version counts all 10."""
    conn = store.connect(sample_db)
    before = store.data_version(conn)
    script = (
        "import sys\nfrom carto import store\nc = store.connect(sys.argv[1])\n"
        "for i in range(5):\n"
        "    with store.transaction(c) as cur:\n"
        "        cur.execute('UPDATE schemes SET name = name WHERE id = (SELECT min(id) FROM schemes)')\n"
        "c.close()\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, sample_db], cwd=PROJECT) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    try:
        assert store.data_version(conn) == before + 10
    finally:
        conn.close()


def test_a_reader_sees_a_commit_of_another_process_within_two_seconds(sample_db):
    reader = store.connect(sample_db)
    before = store.data_version(reader)
    seen: list[float] = []

    def watch() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if store.data_version(reader) > before:
                seen.append(time.monotonic())
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    writer = store.connect(sample_db)
    with store.transaction(writer) as cur:
        cur.execute("UPDATE schemes SET name = name WHERE id = (SELECT min(id) FROM schemes)")
    committed = time.monotonic()
    writer.close()
    watcher.join()
    reader.close()
    assert seen and seen[0] - committed < 2.0


def test_the_spatial_assignment_goes_through_the_gist_index(sample_db):
    conn = store.connect(sample_db)
    try:
        listed = conn.execute("SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%gist%'").fetchall()
        indexes = {r[0] for r in listed}
        assert {"territories_geometry_gist", "actors_geometry_gist", "places_geometry_gist"} <= indexes
        conn.execute("SET enable_seqscan = off")  # what the planner picks on a large table
        plan = "\n".join(
            str(r[0])
            for r in conn.execute(
                "EXPLAIN SELECT t.code FROM territories t, actors a "
                "WHERE ST_Contains(t.geometry, ST_PointOnSurface(a.geometry))"
            ).fetchall()
        )
        assert "territories_geometry_gist" in plan
    finally:
        conn.close()


def test_a_password_in_the_url_never_reaches_a_message(pg_cluster):
    url = f"postgresql://carto:s3cret@127.0.0.1:{pg_cluster.port}/nowhere"
    with pytest.raises(StoreError) as caught:
        store.connect(url)
    assert "s3cret" not in str(caught.value)
    assert "postgresql://carto:***@127.0.0.1" in str(caught.value)
    assert store.describe(url) == f"postgresql://carto:***@127.0.0.1:{pg_cluster.port}/nowhere"


def test_the_database_url_can_come_from_the_secrets_file(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('CARTO_DB = "postgresql://carto:pw@db.example/carto"\n', encoding="utf-8")
    monkeypatch.delenv("CARTO_DB", raising=False)
    monkeypatch.setattr(store, "SECRETS_FILE", secrets)
    assert store.default_db() == "postgresql://carto:pw@db.example/carto"
    monkeypatch.setenv("CARTO_DB", "postgresql://other/db")  # the environment wins
    assert store.default_db() == "postgresql://other/db"
    secrets.write_text("CARTO_DB = [unclosed\n", encoding="utf-8")
    monkeypatch.delenv("CARTO_DB")
    with pytest.raises(StoreError, match=r"cannot read .*secrets\.toml"):
        store.default_db()

"""Nothing half-written: kills during imports and checkpoints, readers during commits, backups."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carto import auth, cli, store
from carto.errors import InputError, PermissionDenied
from carto.ingest import sample, synthetic
from carto.store import backup

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

PROJECT = Path(__file__).resolve().parent.parent
DATASETS = ("territories", "places", "actors", "relations", "schemes")

# The child replaces the sample by the tier and back, forever, with a checkpoint after each load,
# so a kill can land inside an insert, a commit or a checkpoint.
CHILD = """
import sys
from pathlib import Path
from carto import store
from carto.ingest import sample
conn = store.connect(sys.argv[1])
folders = [Path(sys.argv[2]), sample.SAMPLE_DIR]
print("ready", flush=True)
i = 0
while True:
    sample.load_folder(conn, folders[i % 2])
    conn.execute("CHECKPOINT")
    i += 1
    print(f"loaded {i}", flush=True)
"""


def _counts(db: Path) -> tuple[int, ...]:
    conn = store.connect(db)
    try:
        figures = store.counts(conn)
        # Every node of every relation must exist: a torn import would break this.
        dangling = conn.execute(
            "SELECT count(*) FROM relations r WHERE r.source NOT IN (SELECT id FROM actors UNION ALL "
            "SELECT id FROM places) OR r.target NOT IN (SELECT id FROM actors UNION ALL SELECT id FROM places)"
        ).fetchone()
        assert dangling == (0,)
        return tuple(figures[d] for d in DATASETS)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def tier_s(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tier-s")
    synthetic.write_tier(folder, "S", seed=5)
    return folder


def test_kill_at_ten_random_moments_never_leaves_a_partial_import(sample_db, tier_s, tmp_path):
    sample_state = _counts(sample_db)
    tier_state = tuple(synthetic.TIERS["S"].__dict__[d] for d in ("territories", "places", "actors", "relations"))
    rng = random.Random(20261123)
    seen = set()
    for attempt in range(10):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(sample_db), str(tier_s)],
            cwd=PROJECT,
            stdout=subprocess.PIPE,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        # Wait for the first (tier) or the second (sample) load to be done, then kill at a random
        # moment of the next one: the moments do not depend on how fast this machine loads.
        done = rng.choice([1, 2])
        for line in iter(child.stdout.readline, b""):
            if line.strip() == f"loaded {done}".encode():
                break
        else:
            pytest.fail(f"attempt {attempt}: the loading child stopped before load {done}")
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        state = _counts(sample_db)
        assert state == sample_state or state[:4] == tier_state, f"attempt {attempt}: torn state {state}"
        seen.add(state == sample_state)
    # Killed inside the second load: the tier stays; inside the third: the sample stays.
    assert seen == {True, False}


def test_readers_never_see_half_a_commit(sample_db, tier_s):
    conn = store.connect(sample_db)
    before = tuple(store.counts(conn)[d] for d in DATASETS)
    observed: set[tuple[int, ...]] = set()
    stop = threading.Event()
    errors: list[BaseException] = []

    def read_loop() -> None:
        cur = conn.cursor()
        try:
            while not stop.is_set():
                # One query, one snapshot: the five counts must belong to the same state.
                row = cur.execute(
                    "SELECT (SELECT count(*) FROM territories), (SELECT count(*) FROM places), "
                    "(SELECT count(*) FROM actors), (SELECT count(*) FROM relations), (SELECT count(*) FROM schemes)"
                ).fetchone()
                assert row is not None
                observed.add(tuple(row))
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    readers = [threading.Thread(target=read_loop) for _ in range(4)]
    for r in readers:
        r.start()
    sample.load_folder(conn, tier_s)
    after = tuple(store.counts(conn)[d] for d in DATASETS)
    time.sleep(0.2)
    stop.set()
    for r in readers:
        r.join()
    conn.close()
    assert errors == []
    assert observed <= {before, after}
    assert before in observed


@pytest.mark.duckdb_only  # a DuckDB file; PostGIS's dumps: tests/test_store_postgis.py
def test_backup_and_restore_round_trip(sample_db, tmp_path):
    admin = auth.User("d", "admin", "cli")
    conn = store.connect(sample_db)
    copy = backup.backup(conn, None, admin)
    conn.close()
    assert copy is not None and copy.parent == tmp_path / "backups" / "sample.duckdb"
    before = _counts(sample_db)
    # Damage the data, then restore.
    conn = store.connect(sample_db)
    with store.transaction(conn) as cur:
        cur.execute("DELETE FROM relations")
    conn.close()
    assert _counts(sample_db)[3] == 0
    safety = backup.restore(sample_db, copy, admin)
    assert _counts(sample_db) == before
    # The damaged state was kept as a snapshot before the restore.
    assert safety is not None and _counts(safety)[3] == 0


@pytest.mark.duckdb_only  # a DuckDB file; PostGIS's dumps: tests/test_store_postgis.py
def test_restore_refuses_while_the_database_is_in_use(sample_db, tmp_path):
    admin = auth.User("d", "admin", "cli")
    conn = store.connect(sample_db)
    copy = backup.backup(conn, None, admin)
    assert copy is not None
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb,sys,time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
         "time.sleep(30)", str(tmp_path / "busy.duckdb")],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
        from carto.errors import StoreError

        with pytest.raises(StoreError, match="in use by another process"):
            backup.restore(tmp_path / "busy.duckdb", copy, admin)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
        conn.close()


def test_backups_are_for_admins_only(conn, tmp_path):
    with pytest.raises(PermissionDenied):
        backup.backup(conn, tmp_path / "x.duckdb", auth.User("a", "analyst", "oidc"))
    with pytest.raises(PermissionDenied):
        backup.restore(tmp_path / "db.duckdb", tmp_path / "x.duckdb", auth.User("v", "viewer", "oidc"))


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path):
    admin = auth.User("d", "admin", "cli")
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database at all")
    with pytest.raises(InputError, match="is not a DuckDB database"):
        backup.restore(tmp_path / "db.duckdb", junk, admin)


@pytest.mark.duckdb_only  # a DuckDB file; PostGIS's dumps: tests/test_store_postgis.py
def test_snapshots_are_bounded(sample_db):
    conn = store.connect(sample_db)
    paths = [backup.snapshot(conn, "before undo", keep=3) for _ in range(5)]
    conn.close()
    kept = backup.list_snapshots(sample_db)
    assert kept == sorted(p for p in paths[-3:] if p is not None)[::-1]
    assert all(p.name.endswith("-before-undo.duckdb") for p in kept)
    shutil.rmtree(backup.snapshot_dir(sample_db))


# --- snapshots: one folder per database, strict names, the newest of each kind kept ----------


def test_two_databases_in_one_folder_never_rotate_each_others_snapshots(tmp_path):
    conn = store.connect(tmp_path / "carto.duckdb")
    copy = store.connect(tmp_path / "carto-copy.duckdb")
    of_copy = [backup.snapshot(copy, "before undo", keep=3) for _ in range(3)]
    of_carto = [backup.snapshot(conn, "before undo", keep=2) for _ in range(3)]
    conn.close()
    copy.close()
    assert backup.list_snapshots(tmp_path / "carto-copy.duckdb") == of_copy[::-1]
    assert backup.list_snapshots(tmp_path / "carto.duckdb") == of_carto[:0:-1]


def test_rotation_keeps_the_newest_snapshot_of_each_kind(tmp_path):
    conn = store.connect(tmp_path / "carto.duckdb")
    before_replace = backup.snapshot(conn, "before replace of actors", keep=3)
    undos = [backup.snapshot(conn, "before undo", keep=3) for _ in range(5)]
    conn.close()
    assert backup.list_snapshots(tmp_path / "carto.duckdb") == [undos[4], undos[3], undos[2], before_replace]


def test_expired_copies_spare_foreign_names_and_the_newest_of_each_kind():
    names = [
        "20260101T000000000000Z-before-undo.duckdb",
        "20260102T000000000000Z-before-undo.duckdb",
        "20260103T000000000000Z-before-undo.duckdb",
        "20251231T000000000000Z-before-restore.duckdb",
        "carto-20250101T000000000000Z-before-undo.duckdb",  # an old-style name: not ours to delete
        "20250101T000000000000Z-before-undo.duckdb.partial",
        "20250101T000000000000Z-before-undo.duckdb.wal",
        "20250101T000000000000Z-Before_Undo.duckdb",
        "20251399T000000000000Z-before-undo.duckdb",  # month 13: not a date
        "notes.duckdb",
    ]
    assert backup.expired_copies(names, keep=2) == ["20260101T000000000000Z-before-undo.duckdb"]


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("20260102T030405000006Z-before-undo.duckdb", (datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "before-undo")),
        ("20260102T030405000006Z-backup.duckdb", (datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "backup")),
        ("20260102T030405000006Z-before-undo.duckdb.partial", None),
        ("20260102T030405000006Z-.duckdb", None),
        ("20260102T030405000006Z--x.duckdb", None),
        ("x20260102T030405000006Z-backup.duckdb", None),
        ("20260102T0304050000Z-backup.duckdb", None),
        ("carto-20260102T030405000006Z-backup.duckdb", None),
    ],
)
def test_copy_names_are_parsed_strictly(name, parsed):
    meta = backup.parse_copy_name(name)
    assert (meta.taken_at, meta.kind) == parsed if parsed else meta is None


def test_refused_undos_take_no_snapshot_and_keep_the_one_before_the_sample_load(tmp_path, capsys):
    db = str(tmp_path / "carto.duckdb")
    assert cli.main(["--db", db, "load-sample"]) == 0
    made = backup.list_snapshots(tmp_path / "carto.duckdb")
    # The sample load is import #1 and kept no undo copy: every undo is refused.
    for _ in range(backup.KEEP_SNAPSHOTS + 1):
        assert cli.main(["--db", db, "undo"]) == 2
    assert "import #1 (all, " in capsys.readouterr().err
    assert backup.list_snapshots(tmp_path / "carto.duckdb") == made


# --- backups while the dashboard runs --------------------------------------------------------


@pytest.mark.duckdb_only  # a DuckDB file; PostGIS's dumps: tests/test_store_postgis.py
def test_backup_through_the_open_connection_of_the_dashboard(sample_db):
    dashboard = store.connect(sample_db)  # held open, as the dashboard's process holds it
    before = tuple(store.counts(dashboard)[d] for d in DATASETS)
    made = backup.backup(dashboard, None, auth.User("d", "admin", "oidc"))
    with store.transaction(dashboard) as cur:  # the dashboard goes on working after the copy
        cur.execute("DELETE FROM relations")
    dashboard.close()
    assert made is not None and made.parent == sample_db.parent / "backups" / "sample.duckdb"
    assert backup.list_backups(sample_db) == [made]
    assert _counts(made) == before
    copy = store.connect(made)
    try:
        with pytest.raises(PermissionDenied):
            backup.backup(copy, None, auth.User("a", "analyst", "oidc"))
    finally:
        copy.close()


def test_backups_keep_the_configured_number(sample_db, monkeypatch):
    monkeypatch.setenv("CARTO_BACKUP_KEEP", "2")
    conn = store.connect(sample_db)
    made = [backup.backup(conn, None, auth.SYSTEM) for _ in range(3)]
    conn.close()
    assert backup.list_backups(sample_db) == [made[2], made[1]]


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("newest", "due"),
    [
        (None, True),
        (NOW - timedelta(hours=23, minutes=59), False),
        (NOW - timedelta(hours=24), True),
        (NOW - timedelta(days=3), True),
        (NOW + timedelta(hours=1), False),  # a clock set back: wait rather than copy in a loop
    ],
)
def test_a_scheduled_backup_is_due_once_the_interval_has_passed(newest, due):
    assert backup.backup_due(newest, NOW, timedelta(hours=24)) is due


@pytest.mark.parametrize(
    ("value", "interval"),
    [("", None), ("24", timedelta(hours=24)), (" 0.5 ", timedelta(minutes=30))],
)
def test_backup_interval_from_the_environment(value, interval):
    assert backup.backup_interval({"CARTO_BACKUP_EVERY_H": value}) == interval


@pytest.mark.parametrize("value", ["0", "-2", "daily", "nan", "inf"])
def test_a_bad_backup_interval_is_a_clear_error(value):
    with pytest.raises(InputError, match="CARTO_BACKUP_EVERY_H must be a number of hours above 0"):
        backup.backup_interval({"CARTO_BACKUP_EVERY_H": value})


def test_scheduled_backup_is_taken_only_when_due(sample_db):
    conn = store.connect(sample_db)
    first = backup.scheduled_backup(conn, timedelta(hours=6))
    assert first is not None
    assert backup.scheduled_backup(conn, timedelta(hours=6)) is None
    taken = backup.parse_copy_name(first.name)
    assert taken is not None
    later = backup.scheduled_backup(conn, timedelta(hours=6), now=taken.taken_at + timedelta(hours=6))
    conn.close()
    assert later is not None and backup.list_backups(sample_db) == [later, first]


def test_the_scheduler_thread_starts_once_per_database(sample_db):
    conn = store.connect(sample_db)
    stop = threading.Event()
    errors: list[BaseException] = []
    try:
        thread = backup.start_scheduled_backups(
            conn, timedelta(hours=1), check_every_s=0.05, stop=stop, on_error=errors.append
        )
        assert thread is not None
        again = backup.start_scheduled_backups(conn, timedelta(hours=1), check_every_s=0.05, stop=stop)
        assert again is thread
        deadline = time.monotonic() + 30
        while not backup.list_backups(sample_db) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # several more checks: none is due
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=30)
        conn.close()
    assert errors == []
    assert len(backup.list_backups(sample_db)) == 1


@pytest.mark.duckdb_only  # a DuckDB file; PostGIS's dumps: tests/test_store_postgis.py
def test_no_scheduler_without_an_interval_or_a_file(conn, monkeypatch):
    monkeypatch.delenv("CARTO_BACKUP_EVERY_H", raising=False)
    assert backup.start_scheduled_backups(conn) is None
    assert backup.start_scheduled_backups(conn, timedelta(hours=1)) is None  # in memory: no file to copy


def test_a_wrong_interval_starts_no_scheduler(sample_db, monkeypatch):
    monkeypatch.setenv("CARTO_BACKUP_EVERY_H", "daily")
    conn = store.connect(sample_db)
    try:
        assert backup.start_scheduled_backups(conn) is None
    finally:
        conn.close()

"""Nothing half-written: kills during imports and checkpoints, readers during commits, backups."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from carto import auth, backup, sample, store, synthetic
from carto.errors import InputError, PermissionDenied

PROJECT = Path(__file__).resolve().parent.parent
DATASETS = ("territories", "places", "actors", "relations", "schemes")

# The child replaces the sample by the tier and back, forever, with a checkpoint after each load,
# so a kill can land inside an insert, a commit or a checkpoint.
CHILD = """
import sys
from pathlib import Path
from carto import sample, store
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


def test_backup_and_restore_round_trip(sample_db, tmp_path):
    admin = auth.User("d", "admin", "cli")
    conn = store.connect(sample_db)
    copy = backup.backup(conn, tmp_path / "copy.duckdb", admin)
    conn.close()
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


def test_restore_refuses_while_the_database_is_in_use(sample_db, tmp_path):
    admin = auth.User("d", "admin", "cli")
    conn = store.connect(sample_db)
    copy = backup.backup(conn, tmp_path / "copy.duckdb", admin)
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


def test_snapshots_are_bounded(sample_db):
    conn = store.connect(sample_db)
    paths = [backup.snapshot(conn, f"test {i}", keep=3) for i in range(5)]
    conn.close()
    kept = backup.list_snapshots(sample_db)
    assert kept == sorted(p for p in paths[-3:] if p is not None)[::-1]
    assert all(p.name.endswith(".duckdb") for p in kept)
    shutil.rmtree(backup.snapshot_dir(sample_db))

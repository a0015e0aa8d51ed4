"""A process killed (SIGKILL) in the middle of an import leaves the database as it was, and nothing behind.

Killed while committing: the transaction is rolled back. Killed while its reader child parses the
file: the child dies with it, the database opens at once, and the next import sweeps the work folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from geopandas.testing import assert_geodataframe_equal

from carto import auth, store
from carto.ingest.commit import commit
from carto.ingest.validate import Report

PROJECT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent

CHILD = textwrap.dedent(
    """
    import sys, time
    import geopandas as gpd, numpy as np, shapely
    from carto import store
    from carto.auth import User
    from carto.ingest.commit import commit
    from carto.ingest.validate import Report

    n = 150_000
    rng = np.random.default_rng(1)
    frame = gpd.GeoDataFrame(
        {"id": [f"big-{i}" for i in range(n)], "name": ["Acteur"] * n, "type": ["association"] * n,
         "_row": np.arange(1, n + 1)},
        geometry=shapely.points(rng.uniform(2, 4, n), rng.uniform(45, 46, n)),
        crs="EPSG:4326",
    )
    conn = store.connect(sys.argv[1])

    def progress(fraction, step):
        # Rows are written, the transaction is open: tell the parent, then wait to be killed.
        if step == "commit":
            print("INSIDE", flush=True)
            time.sleep(120)

    commit(conn, "actors", frame, mode="replace", user=User("victim", "analyst", "local"), file_name="big.csv",
           sha256=None,
           skip_invalid=False, report=Report(dataset="actors", frame=frame), progress=progress)
    print("COMMITTED", flush=True)
    """
)


def _seed(path: Path) -> None:
    conn = store.connect(path)
    territories = gpd.GeoDataFrame(
        {"code": ["T1", "T2"], "name": ["Ouest", "Est"], "level": ["commune", "commune"], "_row": [1, 2]},
        geometry=[shapely.box(2, 45, 3, 46), shapely.box(3, 45, 4, 46)],
        crs="EPSG:4326",
    )
    actors = gpd.GeoDataFrame(
        {"id": ["a1", "a2"], "name": ["CCAS", "CAF"], "type": ["ccas", "caf"], "_row": [1, 2]},
        geometry=[shapely.Point(2.5, 45.5), shapely.Point(3.5, 45.5)],
        crs="EPSG:4326",
    )
    for name, frame in (("territories", territories), ("actors", actors)):
        commit(
            conn,
            name,
            frame,
            mode="append",
            user=auth.User("seed", "analyst", "local"),
            file_name=f"{name}.geojson",
            sha256=None,
            skip_invalid=False,
            report=Report(dataset=name, frame=frame),
        )
    conn.close()


def _state(path: Path) -> dict[str, pd.DataFrame]:
    conn = store.connect(path)
    try:
        cur = conn.cursor()
        state = {name: store.read_dataset(cur, name) for name in ("territories", "actors", "places")}
        state["imports"] = store.list_imports(cur)
        state["snapshots"] = cur.execute("SELECT * FROM import_snapshots ORDER BY import_id, dataset").fetchdf()
        return state
    finally:
        conn.close()


def test_sigkill_during_commit_leaves_database_as_before(tmp_path: Path) -> None:
    db = tmp_path / "carto.duckdb"
    _seed(db)
    before = _state(db)
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=PROJECT,
    ) as child:
        try:
            assert child.stdout is not None and child.stderr is not None
            line = child.stdout.readline()
            assert line.strip() == "INSIDE", child.stderr.read()
            time.sleep(0.2)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    after = _state(db)
    for name in ("territories", "actors", "places"):
        assert_geodataframe_equal(before[name], after[name])
    pd.testing.assert_frame_equal(before["imports"], after["imports"])
    pd.testing.assert_frame_equal(before["snapshots"], after["snapshots"])
    assert len(after["actors"]) == 2


# --- killed while the reader child parses the file ----------------------------------------------

ACTORS = "id;nom;type;latitude;longitude\nA1;CCAS de Nantes;ccas;47,21;-1,55\n"

# `python -m carto import`, except that the reader's child runs `slow_read` (below) instead of
# parsing: it says it started, then sleeps until killed.
CLI_WITH_SLOW_READER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    import test_ingest_kill
    from carto.ingest import read
    read._child_read = test_ingest_kill.slow_read
    from carto.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)


def slow_read(job: dict[str, object]) -> dict[str, object]:
    started = Path(str(job["out"])).with_name("reader-started")
    started.write_text(str(os.getpid()))
    time.sleep(120)
    return {}


def _parent_of(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text.rsplit(")", 1)[1].split()[1])


def _descendants(root: int) -> set[int]:
    parents = {int(p.name): _parent_of(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    found: set[int] = set()
    grew = True
    while grew:
        new = {pid for pid, parent in parents.items() if parent == root or parent in found} - found
        found |= new
        grew = bool(new)
    return found


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a dead process its new parent has not reaped)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text.rsplit(")", 1)[1].split()[0] != "Z"


def _open_files(pid: int) -> set[str]:
    files = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            files.add(os.readlink(fd))
        except OSError:
            continue
    return files


def _wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_sigkill_while_reading_leaves_no_process_lock_or_folder_behind(tmp_path: Path) -> None:
    db = tmp_path / "carto.duckdb"
    store.connect(db).close()
    user_folder = tmp_path / "mes fichiers"
    user_folder.mkdir()
    (user_folder / "acteurs.csv").write_text(ACTORS, encoding="utf-8")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "TMPDIR": str(temp)}
    command = [sys.executable, "-c", CLI_WITH_SLOW_READER, str(TESTS), "--db", str(db)]
    cli = subprocess.Popen(
        [*command, "import", "actors", str(user_folder / "acteurs.csv")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    try:
        started = lambda: next(tmp_path.rglob("reader-started"), None) is not None  # noqa: E731
        assert _wait_for(started, 60), "the reader child never started"
        children = _descendants(cli.pid)
        assert children, "the reader runs in a child process"
        for child in children:
            assert str(db) not in _open_files(child), "a reader child holds the database file"
    finally:
        cli.kill()
        cli.wait(timeout=30)
    assert cli.returncode == -signal.SIGKILL
    assert _wait_for(lambda: not any(_running(pid) for pid in children), 5), "a reader process outlived its parent"
    store.connect(db).close()  # at once: no process left holds the database
    assert sorted(p.name for p in user_folder.iterdir()) == ["acteurs.csv"], "nothing is written beside the file"

    # The next import sweeps the folder the killed one left, once it is old enough.
    stale = sorted(temp.glob("carto-read-*"))
    assert [p.name.split("-")[2] for p in stale] == [str(cli.pid)]
    an_hour_ago = time.time() - 3600
    os.utime(stale[0], (an_hour_ago, an_hour_ago))
    done = subprocess.run(
        [sys.executable, "-m", "carto", "--db", str(db), "import", "actors", str(user_folder / "acteurs.csv")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert list(temp.glob("carto-read-*")) == []
    assert sorted(p.name for p in user_folder.iterdir()) == ["acteurs.csv"]

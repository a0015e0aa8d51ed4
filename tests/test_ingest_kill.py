"""A process killed (SIGKILL) in the middle of a commit leaves the database as it was."""

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

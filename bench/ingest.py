"""Import benchmark: ``python -m bench.ingest --scale M|L``.

In one run, on a synthetic tier written to a temporary folder:

1. territories.gpkg through :func:`carto.ingest.pipeline.run_import` (child-process read, mapping,
   validation, DuckDB commit with snapshot) against a bare ``pyogrio.read_dataframe`` of the file;
2. actors.csv the same way, against ``pyogrio.read_dataframe`` and ``pandas.read_csv`` (the faster
   of the two is the peer);
3. the assignment of stored actors to their finest territory (:func:`carto.store.assign_territories`:
   read from DuckDB, one bulk query of shapely's STRtree, written back in one UPDATE) against
   ``geopandas.sjoin`` + smallest-area pick on frames already in memory.

Targets: imports at most 2× their peer, the store's assignment no slower than geopandas.
The last line is one JSON object with the figures and ratios.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from carto import auth, store
from carto.ingest import pipeline, sandbox, synthetic


def _timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


class _Phases:
    """Wall-clock time spent in each step that :func:`pipeline.run_import` reports."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.step = "start"
        self.spent: dict[str, float] = {}

    def __call__(self, _fraction: float, step: str) -> None:
        now = time.perf_counter()
        self.spent[self.step] = self.spent.get(self.step, 0.0) + now - self.last
        self.last, self.step = now, step


BENCH_USER = auth.User("bench", "admin", "cli")


def _import(conn: store.Connection, path: Path, name: str) -> tuple[Any, dict[str, float]]:
    phases = _Phases()
    result = pipeline.run_import(
        conn, path, name, pipeline.ImportOptions(mode="replace"), user=BENCH_USER, progress=phases
    )
    phases(1.0, "end")
    return result, {k: round(v, 3) for k, v in phases.spent.items() if k != "start"}


def _sjoin_finest(actors: gpd.GeoDataFrame, territories: gpd.GeoDataFrame) -> pd.Series:
    """The peer of :func:`carto.store.assign_territories`: smallest containing territory per actor."""
    t = territories[["code", "geometry"]].copy()
    # Degrees², as DuckDB's ST_Area on EPSG:4326 coordinates: only the order of areas matters.
    t["area"] = shapely.area(t.geometry.to_numpy())
    joined = gpd.sjoin(actors[["id", "geometry"]], t, how="left", predicate="within")
    joined = joined.sort_values(["id", "area"], kind="stable")
    return joined.drop_duplicates("id").set_index("id")["code"]


def run(scale: str, *, seed: int = 0) -> dict[str, Any]:
    figures: dict[str, Any] = {"scale": scale}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        counts = synthetic.write_tier(folder / "tier", scale, seed=seed)
        figures["rows"] = {k: counts[k] for k in ("territories", "actors")}
        conn = store.connect(folder / "bench.duckdb")
        # The server keeps a reader child started ahead (sandbox.SpareReader): as on a server that
        # has been up a moment, each timed import finds one ready (the wait is outside the timings).
        sandbox.SPARE_READER.enable()
        warm = folder / "warm.csv"
        warm.write_text("id,name,type,lon,lat\nw1,Warm,other,2.0,47.0\n", encoding="utf-8")
        _import(conn, warm, "actors")

        territories_file = folder / "tier" / synthetic.FILES["territories"]
        figures["territories_pyogrio_s"], peer_t = _timed(lambda: pyogrio.read_dataframe(territories_file))
        sandbox.SPARE_READER.ready()
        figures["territories_import_s"], (result_t, figures["territories_phases_s"]) = _timed(
            lambda: _import(conn, territories_file, "territories")
        )
        assert result_t.inserted == len(peer_t), (result_t.summary(), len(peer_t))

        actors_file = folder / "tier" / synthetic.FILES["actors"]
        figures["actors_pyogrio_s"], _ = _timed(lambda: pyogrio.read_dataframe(actors_file))
        figures["actors_pandas_s"], peer_a = _timed(lambda: pd.read_csv(actors_file, dtype=str))
        sandbox.SPARE_READER.ready()
        figures["actors_import_s"], (result_a, figures["actors_phases_s"]) = _timed(
            lambda: _import(conn, actors_file, "actors")
        )
        assert result_a.inserted == len(peer_a), (result_a.summary(), len(peer_a))

        cur = conn.cursor()
        territories = store.read_dataset(cur, "territories")
        actors = store.read_dataset(cur, "actors", columns=["id"])

        def duckdb_assign() -> None:
            with store.discarded_transaction(conn) as trial:
                store.assign_territories(trial)

        figures["assign_duckdb_s"], _ = _timed(duckdb_assign, repeat=2)
        figures["assign_sjoin_s"], expected = _timed(lambda: _sjoin_finest(actors, territories), repeat=2)
        stored = store.read_dataset(cur, "actors", columns=["id", "territory_code"]).set_index("id")
        figures["assign_agree"] = bool(
            stored["territory_code"].fillna("").equals(expected.reindex(stored.index).fillna("").astype(str))
        )
        conn.close()

    peer_actors = min(figures["actors_pyogrio_s"], figures["actors_pandas_s"])
    figures["ratio_territories"] = figures["territories_import_s"] / figures["territories_pyogrio_s"]
    figures["ratio_actors"] = figures["actors_import_s"] / peer_actors
    figures["ratio_assign"] = figures["assign_duckdb_s"] / figures["assign_sjoin_s"]
    figures["targets_met"] = {
        "territories_le_2x": figures["ratio_territories"] <= 2.0,
        "actors_le_2x": figures["ratio_actors"] <= 2.0,
        "assign_no_slower": figures["ratio_assign"] <= 1.0,
    }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("S", "M", "L"), default="M")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    f = run(args.scale, seed=args.seed)
    rows = [
        (
            "territories import (run_import)",
            f["territories_import_s"],
            "pyogrio.read_dataframe",
            f["territories_pyogrio_s"],
            f["ratio_territories"],
            "≤ 2",
        ),
        (
            "actors import (run_import)",
            f["actors_import_s"],
            "min(pyogrio, pandas) read",
            min(f["actors_pyogrio_s"], f["actors_pandas_s"]),
            f["ratio_actors"],
            "≤ 2",
        ),
        (
            "assign actors (store)",
            f["assign_duckdb_s"],
            "geopandas.sjoin",
            f["assign_sjoin_s"],
            f["ratio_assign"],
            "≤ 1",
        ),
    ]
    print(f"tier {f['scale']}: {f['rows']['territories']} territories, {f['rows']['actors']} actors")
    print(f"{'measure':34} {'ours s':>8}  {'peer':28} {'peer s':>8} {'ratio':>6} target")
    for name, ours, peer, peer_s, ratio, target in rows:
        print(f"{name:34} {ours:8.2f}  {peer:28} {peer_s:8.2f} {ratio:6.2f} {target}")
    print(f"assignments agree with sjoin: {f['assign_agree']}")
    for name in ("territories", "actors"):
        phases = ", ".join(f"{k} {v:.2f}s" for k, v in f[f"{name}_phases_s"].items())
        print(f"{name} import phases: {phases}")
    print(json.dumps(f, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

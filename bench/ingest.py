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
``--store postgis`` runs steps 1–3 on DuckDB and on a throwaway PostGIS cluster (where the assignment
is one UPDATE through the territories' GiST index), side by side on the same files.
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

from bench import postgres
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


def _store_figures(db: str, tier: Path, peers: dict[str, Any]) -> dict[str, Any]:
    """The import and assignment figures of one store (``db``: a DuckDB file or a PostgreSQL URL)."""
    figures: dict[str, Any] = {}
    conn = store.connect(db)
    # The server keeps a reader child started ahead (sandbox.SpareReader): as on a server that
    # has been up a moment, each timed import finds one ready (the wait is outside the timings).
    sandbox.SPARE_READER.enable()
    warm = tier.parent / "warm.csv"
    warm.write_text("id,name,type,lon,lat\nw1,Warm,other,2.0,47.0\n", encoding="utf-8")
    _import(conn, warm, "actors")

    sandbox.SPARE_READER.ready()
    figures["territories_import_s"], (result_t, figures["territories_phases_s"]) = _timed(
        lambda: _import(conn, tier / synthetic.FILES["territories"], "territories")
    )
    # The COG folds the tier's few codes that are former communes into today's: fewer rows than the file.
    assert result_t.inserted == result_t.rows_read > 0.99 * peers["territories_rows"], result_t.summary()
    figures["territories_stored"] = result_t.inserted
    sandbox.SPARE_READER.ready()
    figures["actors_import_s"], (result_a, figures["actors_phases_s"]) = _timed(
        lambda: _import(conn, tier / synthetic.FILES["actors"], "actors")
    )
    assert result_a.inserted == peers["actors_rows"], result_a.summary()
    figures["actors_stored"] = result_a.inserted

    if "assigned" not in peers:  # the peer, once, on the frames the first store holds
        cur = conn.cursor()
        territories = store.read_dataset(cur, "territories")
        actors = store.read_dataset(cur, "actors", columns=["id"])
        peers["assign_sjoin_s"], peers["assigned"] = _timed(lambda: _sjoin_finest(actors, territories), repeat=2)

    def assign() -> None:
        with store.discarded_transaction(conn) as trial:
            store.assign_territories(trial)

    figures["assign_s"], _ = _timed(assign, repeat=2)
    stored = store.read_dataset(conn.cursor(), "actors", columns=["id", "territory_code"]).set_index("id")
    expected = peers["assigned"]
    figures["assign_agree"] = bool(
        stored["territory_code"].fillna("").equals(expected.reindex(stored.index).fillna("").astype(str))
    )
    conn.close()
    figures["ratio_territories"] = figures["territories_import_s"] / peers["territories_pyogrio_s"]
    figures["ratio_actors"] = figures["actors_import_s"] / peers["actors_read_s"]
    figures["ratio_assign"] = figures["assign_s"] / peers["assign_sjoin_s"]
    figures["targets_met"] = {
        "territories_le_2x": figures["ratio_territories"] <= 2.0,
        "actors_le_2x": figures["ratio_actors"] <= 2.0,
        "assign_no_slower": figures["ratio_assign"] <= 1.0,
    }
    return figures


def run(scale: str, *, seed: int = 0, stores: tuple[str, ...] = ("duckdb",)) -> dict[str, Any]:
    """The peers once, then each store's figures on the same files."""
    figures: dict[str, Any] = {"scale": scale}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        tier = folder / "tier"
        counts = synthetic.write_tier(tier, scale, seed=seed)
        figures["rows"] = {k: counts[k] for k in ("territories", "actors")}
        peers: dict[str, Any] = {}
        peers["territories_pyogrio_s"], territories = _timed(
            lambda: pyogrio.read_dataframe(tier / synthetic.FILES["territories"])
        )
        actors_file = tier / synthetic.FILES["actors"]
        pyogrio_s, _ = _timed(lambda: pyogrio.read_dataframe(actors_file))
        pandas_s, raw_actors = _timed(lambda: pd.read_csv(actors_file, dtype=str))
        peers["actors_read_s"] = min(pyogrio_s, pandas_s)  # the faster of the two is the peer
        peers["territories_rows"], peers["actors_rows"] = len(territories), len(raw_actors)
        for name in stores:
            with postgres.bench_database(name, folder) as db:
                figures[name] = _store_figures(db, tier, peers)
        figures.update({k: v for k, v in peers.items() if k != "assigned"})
    return figures


MEASURES = (
    ("territories import (run_import)", "territories_import_s", "pyogrio.read_dataframe", "territories_pyogrio_s",
     "ratio_territories", "≤ 2"),
    ("actors import (run_import)", "actors_import_s", "min(pyogrio, pandas) read", "actors_read_s",
     "ratio_actors", "≤ 2"),
    ("assign actors (store)", "assign_s", "geopandas.sjoin", "assign_sjoin_s", "ratio_assign", "≤ 1"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("S", "M", "L"), default="M")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", choices=postgres.STORES, default="duckdb",
                        help="postgis: DuckDB and PostGIS side by side, on the same files, in one run")
    args = parser.parse_args(argv)
    stores = postgres.STORES if args.store == "postgis" else ("duckdb",)
    f = run(args.scale, seed=args.seed, stores=stores)
    print(f"tier {f['scale']}: {f['rows']['territories']} territories, {f['rows']['actors']} actors")
    head = "".join(f" {s + ' s':>10} {'ratio':>6}" for s in stores)
    print(f"{'measure':34}{head}  {'peer':28} {'peer s':>8} target")
    for name, ours, peer, peer_key, ratio, target in MEASURES:
        cells = "".join(f" {f[s][ours]:10.2f} {f[s][ratio]:6.2f}" for s in stores)
        print(f"{name:34}{cells}  {peer:28} {f[peer_key]:8.2f} {target}")
    for s in stores:
        print(f"{s}: assignments agree with sjoin: {f[s]['assign_agree']}")
        for name in ("territories", "actors"):
            phases = ", ".join(f"{k} {v:.2f}s" for k, v in f[s][f"{name}_phases_s"].items())
            print(f"{s}: {name} import phases: {phases}")
    print(json.dumps(f, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Network metrics and territory indicators on a synthetic tier: ``python -m bench.analytics --scale M``.

Builds the tier with :func:`carto.ingest.synthetic.write_tier`, loads it with
:func:`carto.ingest.sample.load_folder` into a temporary database, then times (cold, in one process):
reading the datasets, :func:`carto.analysis.network.node_metrics` (igraph), :func:`carto.analysis.indicators.
territory_indicators` and :func:`carto.analysis.indicators.with_comparisons`. Targets: M <= 5 s, L <= 60 s.

Peer, measured in the same run on the same graph:

- sampled betweenness from the same ``--peer-sources`` source nodes in the largest component,
  igraph (``Graph.betweenness(sources=...)``) against networkx (``betweenness_centrality_subset``);
- at tier M (and below) only, the whole :func:`node_metrics` with ``engine="networkx"`` against
  igraph with the same sample size (networkx's full metrics at L take many minutes: not run).

``--store postgis`` loads the same tier into DuckDB and into a throwaway PostGIS cluster and prints
every stage for both, side by side (the stages after the read work on frames, whichever store).

There is no cache in ``carto`` (pages cache by data version), so no warm figure is reported.
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import igraph as ig
import networkx as nx
import numpy as np
import pandas as pd

from bench import postgres
from carto import store
from carto.analysis import indicators, network
from carto.ingest import sample, synthetic

TARGETS = {"S": 5.0, "M": 5.0, "L": 60.0}
PEER_SOURCES = {"S": 20, "M": 20, "L": 5}


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _largest_component_graphs(frames: dict[str, pd.DataFrame]) -> tuple[ig.Graph, nx.Graph]:
    """The largest connected component of the simple undirected graph, in both libraries."""
    ids = sorted(set(frames["actors"]["id"].astype(str)) | set(frames["places"]["id"].astype(str)))
    index = pd.Index(ids)
    rel = frames["relations"]
    s = index.get_indexer(pd.Index(rel["source"].astype(str)))
    t = index.get_indexer(pd.Index(rel["target"].astype(str)))
    keep = (s >= 0) & (t >= 0) & (s != t)
    pairs = np.unique(np.sort(np.column_stack([s[keep], t[keep]]), axis=1), axis=0)
    full = ig.Graph(n=len(ids), edges=pairs.tolist())
    giant = full.connected_components().giant()
    reference = nx.Graph()
    reference.add_nodes_from(range(giant.vcount()))
    reference.add_edges_from(giant.get_edgelist())
    return giant, reference


STAGES = ("read_s", "metrics_s", "indicators_s", "comparisons_s", "total_cold_s")


def _store_figures(db: str, folder: Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Load the tier into ``db`` (a DuckDB file or a PostgreSQL URL), then time every stage cold."""
    conn = store.connect(db)
    _, load_s = _timed(lambda: sample.load_folder(conn, folder))
    cur = conn.cursor()
    names = ("territories", "actors", "places", "relations", "schemes")
    frames, read_s = _timed(lambda: {n: store.read_dataset(cur, n) for n in names})
    conn.close()
    metrics, metrics_s = _timed(lambda: network.node_metrics(frames["actors"], frames["places"], frames["relations"]))
    table, indicators_s = _timed(
        lambda: indicators.territory_indicators(
            frames["territories"], frames["actors"], frames["places"], frames["relations"], frames["schemes"],
            metrics=metrics,
        )
    )
    _, comparisons_s = _timed(lambda: indicators.with_comparisons(table))
    total = read_s + metrics_s + indicators_s + comparisons_s
    figures = {
        "load_s": round(load_s, 3),
        "read_s": round(read_s, 3),
        "metrics_s": round(metrics_s, 3),
        "indicators_s": round(indicators_s, 3),
        "comparisons_s": round(comparisons_s, 3),
        "total_cold_s": round(total, 3),
        "nodes": len(metrics),
        "sampled_sources": metrics.attrs.get("sampled_sources", 0),
        "territories_rows": len(table),
    }
    return figures, frames


def run(scale: str, seed: int, peer_sources: int, stores: tuple[str, ...] = ("duckdb",)) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as tmp:
        folder = Path(tmp) / "tier"
        written, generate_s = _timed(lambda: synthetic.write_tier(folder, scale, seed=seed))
        per_store: dict[str, dict[str, Any]] = {}
        frames: dict[str, pd.DataFrame] = {}
        for name in stores:
            with postgres.bench_database(name, Path(tmp)) as db:
                per_store[name], read = _store_figures(db, folder)
            frames = frames or read  # the peers run once, on the first store's frames

        giant, reference = _largest_component_graphs(frames)
        sources = sorted(random.Random(seed).sample(range(giant.vcount()), min(peer_sources, giant.vcount())))
        fast, ig_betw_s = _timed(lambda: giant.betweenness(directed=False, sources=sources))
        slow, nx_betw_s = _timed(
            lambda: nx.betweenness_centrality_subset(reference, sources, list(reference), normalized=False)
        )
        agree = bool(np.allclose(fast, [slow[i] for i in range(giant.vcount())]))

        full_ratio = None
        ig_full_s = nx_full_s = None
        if scale != "L":
            args = (frames["actors"], frames["places"], frames["relations"])
            _, ig_full_s = _timed(lambda: network.node_metrics(*args, samples=peer_sources))
            _, nx_full_s = _timed(lambda: network.node_metrics(*args, samples=peer_sources, engine="networkx"))
            full_ratio = nx_full_s / ig_full_s

    first = per_store[stores[0]]
    return {
        "bench": "analytics",
        "scale": scale,
        "seed": seed,
        "rows": written,
        "stores": per_store,
        "nodes": first["nodes"],
        "giant_component": {"nodes": giant.vcount(), "edges": giant.ecount()},
        "sampled_sources": first["sampled_sources"],
        "generate_s": round(generate_s, 3),
        **{k: first[k] for k in ("load_s", *STAGES)},
        "target_s": TARGETS[scale],
        "within_target": {name: f["total_cold_s"] <= TARGETS[scale] for name, f in per_store.items()},
        "peer_sources": len(sources),
        "igraph_betweenness_s": round(ig_betw_s, 4),
        "networkx_betweenness_s": round(nx_betw_s, 4),
        "betweenness_ratio_nx_over_ig": round(nx_betw_s / ig_betw_s, 1) if ig_betw_s > 0 else None,
        "betweenness_agree": agree,
        "igraph_metrics_s": None if ig_full_s is None else round(ig_full_s, 3),
        "networkx_metrics_s": None if nx_full_s is None else round(nx_full_s, 3),
        "metrics_ratio_nx_over_ig": None if full_ratio is None else round(full_ratio, 1),
        "territories_rows": first["territories_rows"],
        "load_average_1min": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("S", "M", "L"), default="M")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peer-sources", type=int, default=None, help="sources of the betweenness peer")
    parser.add_argument("--store", choices=postgres.STORES, default="duckdb",
                        help="postgis: DuckDB and PostGIS side by side, on the same tier, in one run")
    args = parser.parse_args(argv)
    peer = args.peer_sources or PEER_SOURCES[args.scale]
    stores = postgres.STORES if args.store == "postgis" else ("duckdb",)
    result = run(args.scale, args.seed, peer, stores)

    print(f"tier {result['scale']}: {result['rows']} ({result['nodes']} nodes)")
    loads = ", ".join(f"load into {name} {f['load_s']:.2f} s" for name, f in result["stores"].items())
    print(f"  (not timed in the total) generate {result['generate_s']:.2f} s, {loads}")
    print(f"{'stage (seconds)':<40}" + "".join(f"{name:>10}" for name in stores))
    for stage in STAGES:
        print(f"{stage[:-2]:<40}" + "".join(f"{result['stores'][name][stage]:>10.3f}" for name in stores))
    if len(stores) > 1:
        print(f"  ({stores[0]} runs first: its metrics include the process's first igraph and pandas calls)")
    verdicts = ", ".join(f"{name} {'within' if ok else 'OVER'}" for name, ok in result["within_target"].items())
    print(f"target {result['target_s']} s: {verdicts}; betweenness sampled from {result['sampled_sources']} sources")
    print(f"machine: {result['cpus']} CPUs, load average {result['load_average_1min']} (other jobs slow the figures)")
    print(
        f"peer, betweenness from {result['peer_sources']} sources on the largest component "
        f"({result['giant_component']['nodes']} nodes, {result['giant_component']['edges']} edges): "
        f"igraph {result['igraph_betweenness_s']} s, networkx {result['networkx_betweenness_s']} s, "
        f"ratio {result['betweenness_ratio_nx_over_ig']}x, same values: {result['betweenness_agree']}"
    )
    if result["metrics_ratio_nx_over_ig"] is not None:
        print(
            f"peer, all node metrics ({result['peer_sources']} sampled sources): igraph "
            f"{result['igraph_metrics_s']} s, networkx {result['networkx_metrics_s']} s, "
            f"ratio {result['metrics_ratio_nx_over_ig']}x"
        )
    else:
        print("peer, all node metrics with networkx: not run at tier L (many minutes)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

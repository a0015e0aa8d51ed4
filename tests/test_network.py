"""Network metrics on small literal graphs whose answers are computed by hand in the comments,
and igraph checked against networkx (an independent reference) on seeded random graphs."""

from __future__ import annotations

import random
from datetime import date

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from carto.analysis import activity, network
from carto.errors import InputError


def _actors(*ids: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": list(ids),
            "name": [f"Actor {i}" for i in ids],
            "type": ["association"] * len(ids),
            "sector": ["social"] * len(ids),
            "territory_code": ["T1"] * len(ids),
        }
    )


NO_PLACES = pd.DataFrame({"id": pd.Series([], dtype=object), "name": [], "kind": [], "territory_code": []})


def _relations(rows: list[tuple]) -> pd.DataFrame:
    """rows: (id, source, target, weight, directed[, start, end])."""
    full = [(*r, None, None)[:7] for r in rows]
    frame = pd.DataFrame(full, columns=["id", "source", "target", "weight", "directed", "start", "end"])
    frame["kind"] = "network"
    frame["dimension"] = "professional"
    frame["formal"] = False
    frame["scheme_id"] = None
    return frame


def _path_and_isolate() -> tuple[pd.DataFrame, pd.DataFrame]:
    # a –(undirected, w=2)– b –(directed b→c, w=1)→ c, and d alone.
    return _actors("a", "b", "c", "d"), _relations([("r1", "a", "b", 2.0, False), ("r2", "b", "c", 1.0, True)])


@pytest.mark.parametrize("engine", network.ENGINES)
def test_path_with_isolate(engine: str) -> None:
    actors, relations = _path_and_isolate()
    m = network.node_metrics(actors, NO_PLACES, relations, engine=engine)
    assert list(m.index) == ["a", "b", "c", "d"]
    assert list(m.columns) == list(network.METRIC_COLUMNS)
    # degree counts relations: a 1, b 2, c 1, d 0 (the isolate is present)
    assert m["degree"].tolist() == [1, 2, 1, 0]
    # r1 is two-way: in and out at a and b; r2 is b→c only
    assert m["in_degree"].tolist() == [1, 1, 1, 0]
    assert m["out_degree"].tolist() == [1, 2, 0, 0]
    # weights: a 2, b 2+1, c 1, d 0
    assert m["weighted_degree"].tolist() == [2.0, 3.0, 1.0, 0.0]
    # b lies on the one shortest path a–c; n=4 so normalised by (3*2)/2 = 3 → 1/3
    assert m["betweenness"].tolist() == pytest.approx([0.0, 1 / 3, 0.0, 0.0])
    # closeness (r-1)/sum(d) * (r-1)/(n-1), r=3, n=4: a: 2/3 * 2/3 = 4/9; b: 2/2 * 2/3; d: 0
    assert m["closeness"].tolist() == pytest.approx([4 / 9, 2 / 3, 4 / 9, 0.0])
    # components: {a,b,c} is 0 (largest), {d} is 1
    assert m["component"].tolist() == [0, 0, 0, 1]
    assert m["isolate"].tolist() == [False, False, False, True]
    assert m["articulation"].tolist() == [False, True, False, False]
    assert m.attrs["sampled_sources"] == 0


@pytest.mark.parametrize("engine", network.ENGINES)
def test_star(engine: str) -> None:
    actors = _actors("h", "l1", "l2", "l3", "l4")
    relations = _relations([(f"r{i}", "h", f"l{i}", 1.0, False) for i in range(1, 5)])
    m = network.node_metrics(actors, NO_PLACES, relations, engine=engine)
    # the hub is on all C(4,2)=6 leaf pairs; normalised by (4*3)/2 = 6 → 1.0
    assert m["betweenness"].tolist() == pytest.approx([1.0, 0, 0, 0, 0])
    # closeness: hub 4/4 = 1; leaf: distances 1 + 2+2+2 = 7 → 4/7
    assert m["closeness"].tolist() == pytest.approx([1.0] + [4 / 7] * 4)
    # PageRank, d=0.85, n=5: x = 0.03 + 0.85*4*y, y = 0.03 + 0.85*x/4
    # → x = 0.132 / 0.2775 = 0.475676, y = (1-x)/4 = 0.131081
    assert m["pagerank"].tolist() == pytest.approx([0.475676] + [0.131081] * 4, abs=1e-5)
    assert m["articulation"].tolist() == [True, False, False, False, False]
    assert m["degree"].tolist() == [4, 1, 1, 1, 1]


@pytest.mark.parametrize("engine", network.ENGINES)
def test_two_triangles_joined(engine: str) -> None:
    actors = _actors("a", "b", "c", "d", "e", "f")
    pairs = [("a", "b"), ("b", "c"), ("a", "c"), ("d", "e"), ("e", "f"), ("d", "f"), ("c", "d")]
    relations = _relations([(f"r{i}", s, t, 1.0, False) for i, (s, t) in enumerate(pairs)])
    m = network.node_metrics(actors, NO_PLACES, relations, engine=engine)
    # two triangles: same size, so the one holding the smallest id ("a") is community 0
    assert m["community"].tolist() == [0, 0, 0, 1, 1, 1]
    # c is on the shortest paths of {a,b} x {d,e,f} = 6 pairs; normalised by (5*4)/2 = 10
    assert m["betweenness"].tolist() == pytest.approx([0, 0, 0.6, 0.6, 0, 0])
    assert m["articulation"].tolist() == [False, False, True, True, False, False]
    assert m["component"].tolist() == [0] * 6


def test_parallel_relations_count_in_degree_not_in_paths() -> None:
    actors = _actors("a", "b", "c")
    # a–b twice (w 1 and 3), b–c once
    relations = _relations([("r1", "a", "b", 1.0, False), ("r2", "a", "b", 3.0, False), ("r3", "b", "c", None, None)])
    m = network.node_metrics(actors, NO_PLACES, relations)
    assert m["degree"].tolist() == [2, 3, 1]
    # missing weight counts 1: b = 1 + 3 + 1
    assert m["weighted_degree"].tolist() == [4.0, 5.0, 1.0]
    # n=3, b on the single path a–c: 1 / ((2*1)/2) = 1.0, despite the doubled a–b
    assert m["betweenness"].tolist() == pytest.approx([0.0, 1.0, 0.0])


def test_on_date_keeps_active_relations() -> None:
    actors = _actors("a", "b", "c")
    relations = _relations(
        [
            ("r1", "a", "b", 1.0, False, date(2020, 1, 1), date(2021, 12, 31)),
            ("r2", "b", "c", 1.0, False, date(2022, 1, 1), None),
            ("r3", "a", "c", 1.0, False, None, None),
        ]
    )
    # 2021-06-01: r1 (ended later) and r3 (no dates); r2 not started
    assert set(activity.active_on(relations, date(2021, 6, 1))["id"]) == {"r1", "r3"}
    # 2023-01-01: r1 ended, r2 open-ended, r3
    assert set(activity.active_on(relations, date(2023, 1, 1))["id"]) == {"r2", "r3"}
    m = network.node_metrics(actors, NO_PLACES, relations, on_date=date(2023, 1, 1))
    assert m["degree"].tolist() == [1, 1, 2]
    graph = network.build_graph(actors, NO_PLACES, relations, on_date=date(2021, 6, 1))
    assert sorted(k for _, _, k in graph.edges(keys=True)) == ["r1", "r3"]


def test_build_graph_attributes() -> None:
    actors, relations = _path_and_isolate()
    places = pd.DataFrame({"id": ["p1"], "name": ["Market"], "kind": ["market"], "territory_code": ["T2"]})
    relations = pd.concat([relations, _relations([("r3", "p1", "zz", 1.0, False)])])  # zz is unknown
    graph = network.build_graph(actors, places, relations)
    assert sorted(graph.nodes) == ["a", "b", "c", "d", "p1"]
    assert graph.nodes["p1"] == {
        "node_type": "place",
        "name": "Market",
        "type": "market",
        "sector": None,
        "territory_code": "T2",
    }
    assert graph.nodes["a"]["node_type"] == "actor"
    assert graph.nodes["a"]["sector"] == "social"
    assert graph.number_of_edges() == 2
    assert graph.edges["b", "c", "r2"]["directed"] is True
    assert graph.edges["a", "b", "r1"]["weight"] == 2.0
    assert graph.edges["a", "b", "r1"]["kind"] == "network"


def _random_frames(n: int, m: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = random.Random(seed)
    ids = [f"n{i:03d}" for i in range(n)]
    rows = []
    for i in range(m):
        s, t = rng.sample(ids, 2)
        rows.append((f"r{i}", s, t, float(rng.randint(1, 3)), rng.random() < 0.3))
    return _actors(*ids), _relations(rows)


def test_igraph_agrees_with_networkx_on_a_random_graph() -> None:
    actors, relations = _random_frames(80, 120, seed=7)
    fast = network.node_metrics(actors, NO_PLACES, relations, engine="igraph")
    ref = network.node_metrics(actors, NO_PLACES, relations, engine="networkx")
    for c in ("degree", "in_degree", "out_degree", "component", "isolate", "articulation"):
        assert fast[c].tolist() == ref[c].tolist(), c
    for c in ("weighted_degree", "betweenness", "closeness"):
        np.testing.assert_allclose(fast[c], ref[c], atol=1e-12, err_msg=c)
    np.testing.assert_allclose(fast["pagerank"], ref["pagerank"], atol=1e-6)
    # two Louvain implementations: partitions may differ, their quality must not
    simple = nx.Graph()
    simple.add_nodes_from(fast.index)
    simple.add_edges_from(zip(relations["source"], relations["target"], strict=True))

    def quality(labels: pd.Series) -> float:
        groups = [set(g.index) for _, g in labels.groupby(labels)]
        return float(nx.community.modularity(simple, groups))

    assert abs(quality(fast["community"]) - quality(ref["community"])) < 0.03
    # labels are numbered by community size, largest first
    sizes = fast["community"].value_counts().sort_index()
    assert sizes.is_monotonic_decreasing


def test_community_is_stable_from_run_to_run() -> None:
    actors, relations = _random_frames(80, 120, seed=3)
    first = network.node_metrics(actors, NO_PLACES, relations)
    second = network.node_metrics(actors, NO_PLACES, relations)
    assert first["community"].tolist() == second["community"].tolist()


def test_sampled_centralities_agree_between_engines_and_with_exact() -> None:
    actors, relations = _random_frames(150, 400, seed=11)
    fast = network.node_metrics(actors, NO_PLACES, relations, samples=60)
    ref = network.node_metrics(actors, NO_PLACES, relations, samples=60, engine="networkx")
    assert fast.attrs["sampled_sources"] == 60
    # same seeded sources in both engines: the subset computations must match exactly
    np.testing.assert_allclose(fast["betweenness"], ref["betweenness"], atol=1e-12)
    np.testing.assert_allclose(fast["closeness"], ref["closeness"], atol=1e-12)
    exact = network.node_metrics(actors, NO_PLACES, relations, samples=0, engine="networkx")
    # an estimate: close to the exact values, and the top brokers mostly the same
    assert np.corrcoef(fast["betweenness"], exact["betweenness"])[0, 1] > 0.9
    assert np.abs(fast["closeness"] - exact["closeness"]).max() < 0.05
    top = set(exact["betweenness"].nlargest(10).index) & set(fast["betweenness"].nlargest(10).index)
    assert len(top) >= 6


def test_unknown_engine_is_refused() -> None:
    actors, relations = _path_and_isolate()
    with pytest.raises(InputError, match="unknown engine"):
        network.node_metrics(actors, NO_PLACES, relations, engine="graphtool")


def test_ego_network_matches_networkx_ego_graph() -> None:
    _, relations = _random_frames(60, 70, seed=5)
    undirected = nx.Graph()
    undirected.add_edges_from(zip(relations["source"], relations["target"], strict=True))
    for radius in (1, 2, 3):
        expected = set(nx.ego_graph(undirected, "n010", radius=radius).nodes)
        assert network.ego_nodes(relations, "n010", radius) == expected
    chain = _relations([("r1", "a", "b", 1, True), ("r2", "c", "b", 1, True), ("r3", "c", "d", 1, False)])
    # direction ignored: a → b ← c – d
    assert network.ego_nodes(chain, "a", 1) == {"a", "b"}
    assert network.ego_nodes(chain, "a", 2) == {"a", "b", "c"}
    assert network.ego_nodes(chain, "a", 3) == {"a", "b", "c", "d"}
    assert network.ego_relations(chain, {"a", "b", "c"})["id"].tolist() == ["r1", "r2"]
    with pytest.raises(InputError):
        network.ego_nodes(chain, "a", 4)


def test_territory_graph_lifts_nodes_to_a_level() -> None:
    territories = pd.DataFrame(
        {
            "code": ["E1", "E2", "C1", "C2", "C3"],
            "level": ["epci", "epci", "commune", "commune", "commune"],
            "parent_code": [None, None, "E1", "E1", "E2"],
        }
    )
    node_territory = pd.Series({"a": "C1", "b": "C2", "c": "C3"})
    relations = _relations([("r1", "a", "b", 1.0, False), ("r2", "a", "c", 2.0, False), ("r3", "c", "b", 1.0, False)])
    communes = network.territory_graph(relations, node_territory)
    assert communes[["source_code", "target_code", "relations"]].values.tolist() == [
        ["C1", "C2", 1],
        ["C1", "C3", 1],
        ["C2", "C3", 1],
    ]
    # at EPCI level: a–b inside E1, a–c and c–b both E1–E2 (undirected, in code order)
    epcis = network.territory_graph(relations, node_territory, territories=territories, level="epci")
    assert epcis[["source_code", "target_code", "relations", "weight"]].values.tolist() == [
        ["E1", "E1", 1, 1.0],
        ["E1", "E2", 2, 3.0],
    ]
    graph = network.territory_nx_graph(epcis)
    assert graph.edges["E1", "E2"]["relations"] == 2


def _ring_and_tail() -> pd.DataFrame:
    # a-b-c-d: a 4-clique (each linked to 3 others); e linked to a and b; f hangs on e; g alone.
    # Core numbers by hand: a, b, c, d = 3; e = 2; f = 1; g = 0. a-b twice and a self-loop count once / not.
    pairs = [("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d"), ("e", "a"), ("e", "b"),
             ("f", "e"), ("a", "b"), ("c", "c")]
    return pd.DataFrame({"source": [s for s, _ in pairs], "target": [t for _, t in pairs]})


@pytest.mark.parametrize(
    ("max_nodes", "expected"),
    [
        (7, ("abcdef", 1, 6)),  # 1-core: every node with a relation (6 fit in 7)
        (6, ("abcdef", 1, 6)),
        (5, ("abcde", 2, 5)),  # 2-core: f has one neighbour only
        (4, ("abcd", 3, 4)),  # 3-core: the clique
    ],
)
def test_network_core_is_the_smallest_k_core_that_fits(max_nodes, expected):
    rel = _ring_and_tail()
    core, k, size = network.network_core(rel, list("abcdefg"), max_nodes=max_nodes)
    assert (core, k, size) == (frozenset(expected[0]), expected[1], expected[2])
    # the same core by networkx (an independent reference)
    graph = nx.Graph(list(zip(rel["source"], rel["target"], strict=True)))
    graph.remove_edges_from(nx.selfloop_edges(graph))
    assert core == frozenset(nx.k_core(graph, k=k).nodes)


def test_a_core_too_large_is_cut_down_around_its_best_connected_node():
    # Innermost core: the 2-core ring a-b-c-d-e-f-a plus chord a-d (no 3-core: b, c, e, f have 2 neighbours).
    # a and d have 3 neighbours; a is the first by id. Walking from a: a, then b, d, f (its neighbours),
    # then c, e. Four nodes: a, b, d, f.
    ring = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("e", "f"), ("f", "a"), ("a", "d")]
    rel = pd.DataFrame({"source": [s for s, _ in ring], "target": [t for _, t in ring]})
    assert network.network_core(rel, list("abcdefz"), max_nodes=4) == (frozenset("abdf"), 2, 6)
    assert network.network_core(rel, list("abcdefz"), max_nodes=1) == (frozenset("a"), 2, 6)


def test_network_core_without_relations_is_empty():
    assert network.network_core(_ring_and_tail().iloc[0:0], ["a", "b"], max_nodes=1) == (frozenset(), 0, 0)


def test_network_core_reads_categorical_ends_with_ids_outside_the_nodes():
    # As the explorer's scenes hold them: categoricals over every id of the data, some not in this scene.
    rel = _ring_and_tail()
    ids = pd.Index(list("abcdefgxyz"))
    coded = rel.assign(
        source=pd.Categorical(rel["source"], categories=ids), target=pd.Categorical(rel["target"], categories=ids)
    )
    coded.loc[len(coded)] = ["x", "a"]  # an end outside the nodes: left out
    assert network.network_core(coded, list("abcdefg"), max_nodes=4) == (frozenset("abcd"), 3, 4)

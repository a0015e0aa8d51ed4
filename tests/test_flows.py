from __future__ import annotations

import pandas as pd

from carto.analysis import flows


def test_node_territories_merges_actors_and_places():
    actors = pd.DataFrame({"id": ["A1", "A2"], "territory_code": ["C1", None]})
    places = pd.DataFrame({"id": ["P1"], "territory_code": ["C2"]})
    got = flows.node_territories(actors, places)
    assert got.dropna().to_dict() == {"A1": "C1", "P1": "C2"}
    assert list(got.index) == ["A1", "A2", "P1"]


def _six_relations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["r1", "r2", "r3", "r4", "r5", "r6"],
            "source": ["a", "b", "a", "c", "a", "b"],
            "target": ["b", "a", "c", "a", "z", "c"],
            "kind": ["partnership", "network", "referral", "referral", "network", "tension"],
            "directed": [False, False, True, True, False, None],
            "weight": [2.0, None, 1.0, 1.0, 1.0, 0.5],
        }
    )


def test_aggregate_flows_counts_pairs_by_kind():
    where = pd.Series({"a": "T1", "b": "T2", "c": "T1"})
    got = flows.aggregate_flows(_six_relations(), where)
    # r1 (T1-T2) and r2 (T2-T1, undirected) share one pair; r6 (T2-T1, direction unknown) too.
    # r3, r4 stay inside T1. r5 has an end (z) outside every territory: left out.
    assert got.to_dict("records") == [
        {"source_code": "T1", "target_code": "T1", "relations": 2, "weight": 2.0,
         "partnership": 0, "network": 0, "referral": 2, "affinity": 0, "tension": 0},
        {"source_code": "T1", "target_code": "T2", "relations": 3, "weight": 3.5,
         "partnership": 1, "network": 1, "referral": 0, "affinity": 0, "tension": 1},
    ]


def test_categorical_ends_give_the_same_flows():
    # The explorer's relations carry categorical ends (with ids no relation uses, like "q").
    relations = _six_relations()
    ids = ["q", "c", "b", "a", "z"]
    coded = relations.assign(source=pd.Categorical(relations["source"], categories=ids),
                             target=pd.Categorical(relations["target"], categories=ids))
    where = pd.Series({"a": "T1", "b": "T2", "c": "T1", "q": "T3"})
    assert flows.aggregate_flows(coded, where).equals(flows.aggregate_flows(relations, where))
    assert len(flows.aggregate_flows(coded, where)) == 2


def test_directed_relations_keep_their_direction():
    relations = pd.DataFrame(
        {"id": ["r1"], "source": ["b"], "target": ["a"], "kind": ["referral"], "directed": [True], "weight": [1.0]}
    )
    got = flows.aggregate_flows(relations, pd.Series({"a": "T1", "b": "T2"}))
    assert got[["source_code", "target_code"]].values.tolist() == [["T2", "T1"]]


def test_no_relation_gives_an_empty_frame_with_columns():
    relations = pd.DataFrame(columns=["id", "source", "target", "kind", "directed", "weight"])
    got = flows.aggregate_flows(relations, pd.Series(dtype="object"))
    assert list(got.columns) == [
        "source_code", "target_code", "relations", "weight",
        "partnership", "network", "referral", "affinity", "tension",
    ]
    assert len(got) == 0

"""The territory hierarchy: one walk up the parents, read three ways (ancestors at a level,
containing territories, territories below)."""

from __future__ import annotations

import pandas as pd

from carto.analysis import hierarchy

# D > E1 > C1; C2's parent is not a territory; X1 <-> X2 is a cycle.
TANGLED = pd.DataFrame(
    {
        "code": ["D", "E1", "C1", "C2", "X1", "X2"],
        "level": ["departement", "epci", "commune", "commune", "custom", "custom"],
        "parent_code": [None, "D", "E1", "missing", "X2", "X1"],
    }
)


def test_ancestors_at_walks_parents_and_keeps_orphans():
    got = hierarchy.ancestors_at(TANGLED, "epci").to_dict()
    assert got == {"D": "D", "E1": "E1", "C1": "E1", "C2": "C2", "X1": "X1", "X2": "X2"}


def test_ancestry_pairs_each_code_with_itself_and_its_ancestors():
    pairs = hierarchy.ancestry(TANGLED)
    got = sorted(zip(pairs["code"], pairs["territory"], strict=True))
    assert got == sorted(
        [
            ("D", "D"),
            ("E1", "E1"), ("E1", "D"),
            ("C1", "C1"), ("C1", "E1"), ("C1", "D"),
            ("C2", "C2"),
            ("X1", "X1"), ("X1", "X2"),
            ("X2", "X2"), ("X2", "X1"),
        ]
    )


def test_descendants_walks_down_the_hierarchy(territories):
    assert hierarchy.descendants(territories, "D1") == {"D1", "E1", "C1", "C2"}
    assert hierarchy.descendants(territories, "C2") == {"C2"}
    assert hierarchy.descendants(TANGLED, "X1") == {"X1", "X2"}  # the cycle stops the walk

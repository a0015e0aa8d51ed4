"""Gathering one territory's summary from computed frames (carto.analysis.summary).

The indicators and metrics are literal frames holding the hand-computed figures of
``summary_data`` (see its docstring for the arithmetic).
"""

from __future__ import annotations

import datetime as dt

import pytest
import summary_data
from summary_data import c1_summary, literal_indicators, literal_metrics, literal_summary

from carto.analysis import summary
from carto.errors import InputError


def test_summary_gathers_partners_gaps_and_schemes() -> None:
    s = c1_summary()
    assert (s.name, s.level, s.parent_name, s.population) == (
        "Ville-Haute",
        "commune",
        "Département Test",
        5000,
    )
    # Highest betweenness first; a5 has no relation so it is not a partner but an isolated actor.
    assert [p.id for p in s.partners] == ["a2", "a3", "a1"]
    assert [p.id for p in s.isolated] == ["a5"]
    assert [(p.id, p.population) for p in s.uncovered] == [("p2", 300)]
    assert s.schemes == ("Contrat de ville de Ville-Haute",)
    assert sorted(s.actors["id"]) == ["a1", "a2", "a3", "a5"]
    assert sorted(s.places["id"]) == ["p1", "p2"]
    first = s.figures[0]
    assert (first.column, first.value, first.siblings_median) == ("actors_per_10k", 8.0, 5.0)


def test_relations_per_year_stop_at_today() -> None:
    s = literal_summary("C1", today=dt.date(2024, 6, 1))
    # C1's nodes touch r1 (partnership from 2022), r2 (network from 2023), r3 (referral from 2023),
    # r4 (partnership during 2024); open relations count up to 2024.
    assert list(s.relations_per_year.itertuples(index=False, name=None)) == [
        (2022, "partnership", 1),
        (2023, "network", 1),
        (2023, "partnership", 1),
        (2023, "referral", 1),
        (2024, "network", 1),
        (2024, "partnership", 2),
        (2024, "referral", 1),
    ]


def test_departement_summary_counts_its_communes_nodes() -> None:
    s = literal_summary("D1")
    assert sorted(s.actors["id"]) == ["a1", "a2", "a3", "a4", "a5", "a6"]
    assert s.parent_name is None
    # Alone at its level: no siblings' median to compare with, so no comparison is written.
    assert all(f.siblings_median is None for f in s.figures)
    assert [p.id for p in s.uncovered] == ["p2"]


def test_unknown_code_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="ZZ"):
        summary.territory_summary(
            "ZZ",
            literal_indicators(),
            summary_data.actors(),
            summary_data.places(),
            summary_data.relations(),
            summary_data.territories(),
            literal_metrics(),
        )


def test_choices_default_and_siblings() -> None:
    table = literal_indicators()
    assert summary.territory_choices(table) == ["D1", "C2", "C3", "C1"]  # département first, then by name
    assert summary.default_territory(table) == "D1"
    assert summary.default_territory(table.drop(index="D1")) == "C1"  # the most populous commune
    siblings = summary.siblings_table(table, "C1", ["actors_per_10k"])
    assert list(siblings["code"]) == ["C2", "C3", "C1"]
    assert list(siblings["actors_per_10k"]) == [5.0, 2.5, 8.0]


def test_children_and_choropleth_level() -> None:
    table = literal_indicators()
    children = summary.children_table(table, "D1", ["actors_per_10k", "openness"])
    assert list(children["code"]) == ["C2", "C3", "C1"]
    assert summary.choropleth_level(table, "C1") == "commune"
    assert summary.choropleth_level(table, "D1") == "commune"  # the only département: colour its communes


def test_partners_are_ranked_by_the_links_they_are_listed_with() -> None:
    # The list shows each partner's number of links, so it is sorted by it, not by betweenness:
    # a1 with 11 links before a2 with 9 (a2 links the most others), ties broken by betweenness.
    metrics = literal_metrics()
    metrics.loc["a1", "degree"], metrics.loc["a2", "degree"], metrics.loc["a3", "degree"] = 11, 9, 9
    s = summary.territory_summary(
        "C1", literal_indicators(), summary_data.actors(), summary_data.places(), summary_data.relations(),
        summary_data.territories(), metrics, headlines=summary_data.HEADLINES,
    )
    assert [(p.id, p.degree) for p in s.partners] == [("a1", 11), ("a2", 9), ("a3", 9)]


def test_the_yearly_chart_counts_the_territory_s_dated_links() -> None:
    # C2 (a4, p3) has 2 links: r4 a3–a4 (partnership, 2024-01-01 to 2024-12-31) and r5 a4–a6 (no
    # start date, so not on the chart). Both have one end outside C2.
    s = literal_summary("C2", today=dt.date(2025, 6, 1))
    assert list(s.relations_per_year.itertuples(index=False, name=None)) == [(2024, "partnership", 1)]
    assert (s.relations_inside, s.relations_outside) == (0, 2)

"""Filters: URL round trip, untrusted URLs, and what apply_filters keeps (expected by hand)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from carto.analysis.activity import active_mask
from carto.analysis.filters import Filters, apply_filters


@pytest.fixture
def located(actors, places):
    """The literal actors/places with the territory the store would assign (by hand)."""
    a = actors.copy()
    a["territory_code"] = ["C1", "C1", "C2"]  # (0.5,45.5), (0.6,45.4) in C1; (1.5,45.5) in C2
    p = places.copy()
    p["territory_code"] = ["C2"]  # (1.2,45.8)
    return a, p


@pytest.fixture
def rels(relations):
    """R1 A1–A2 (inside C1), R2 A2→A3 directed, R3 A1–P1 undirected, R4 A3–P1 ended in 2020."""
    extra = pd.DataFrame(
        {
            "id": ["R3", "R4"],
            "source": ["A1", "A3"],
            "target": ["P1", "P1"],
            "kind": ["network", "affinity"],
            "dimension": ["personal", None],
            "formal": [None, True],
            "scheme_id": [None, "S1"],
            "weight": [1.0, 3.0],
            "directed": [False, None],
            "start": [None, "2019-01-01"],
            "end": [None, "2020-12-31"],
            "stage": [None, None],
        }
    )
    return pd.concat([relations, extra], ignore_index=True)


def test_round_trip_through_query_params():
    f = Filters(
        territory="E1",
        level="epci",
        actor_types=("ccas", "caf"),
        sectors=("social",),
        kinds=("referral",),
        dimensions=("personal", "professional"),
        formal="no",
        schemes=("S1", "S-2"),
        on_date=dt.date(2022, 3, 4),
    )
    params = f.to_query_params()
    assert params == {
        "territory": "E1",
        "level": "epci",
        "types": "ccas,caf",
        "sectors": "social",
        "kinds": "referral",
        "dims": "personal,professional",
        "schemes": "S1,S-2",
        "formal": "no",
        "date": "2022-03-04",
    }
    assert Filters.from_query_params(params) == f


def test_default_filters_have_an_empty_url():
    assert Filters().to_query_params() == {}
    assert Filters.from_query_params({}) == Filters()


def test_invalid_url_values_are_ignored():
    params = {
        "territory": "<script>",
        "level": "planet",
        "types": "ccas,bogus,ccas",
        "kinds": "",
        "formal": "maybe",
        "schemes": "S1,a b,",
        "date": "2020-13-01",
        "unknown": "1",
    }
    assert Filters.from_query_params(params) == Filters(actor_types=("ccas",), schemes=("S1",))


def test_list_values_take_the_last():
    assert Filters.from_query_params({"kinds": ["network", "tension"]}).kinds == ("tension",)


def test_territory_keeps_relations_with_one_end_inside_and_flags_position(territories, located, rels):
    actors, places = located
    out = apply_filters(territories, places, actors, rels, Filters(territory="C1"))
    assert dict(zip(out.relations["id"], out.relations["position"], strict=True)) == {
        "R1": "inside",
        "R2": "leaving",
        "R3": "crossing",
    }
    assert dict(zip(out.actors["id"], out.actors["inside"], strict=True)) == {"A1": True, "A2": True, "A3": False}
    assert dict(zip(out.places["id"], out.places["inside"], strict=True)) == {"P1": False}
    assert list(out.territories["code"]) == ["C1"]

    other = apply_filters(territories, places, actors, rels, Filters(territory="C2"))
    assert dict(zip(other.relations["id"], other.relations["position"], strict=True)) == {
        "R2": "entering",
        "R3": "crossing",
        "R4": "inside",
    }


def test_territory_above_communes_holds_everything(territories, located, rels):
    actors, places = located
    out = apply_filters(territories, places, actors, rels, Filters(territory="E1"))
    assert set(out.relations["position"]) == {"inside"}
    assert len(out.relations) == 4
    assert sorted(out.territories["code"]) == ["C1", "C2", "E1"]


def test_unknown_territory_is_no_restriction(territories, located, rels):
    actors, places = located
    assert len(apply_filters(territories, places, actors, rels, Filters(territory="ZZ")).relations) == 4


def test_date_keeps_relations_active_that_day(rels):
    assert list(active_mask(rels, dt.date(2021, 1, 1))) == [True, False, True, False]
    assert list(active_mask(rels, dt.date(2020, 12, 31))) == [True, False, True, True]
    assert list(active_mask(rels, dt.date(2019, 6, 1))) == [False, False, True, True]


def test_actor_type_drops_relations_of_other_actors(territories, located, rels):
    actors, places = located
    out = apply_filters(territories, places, actors, rels, Filters(actor_types=("ccas", "caf")))
    assert list(out.actors["id"]) == ["A1", "A2"]
    assert list(out.relations["id"]) == ["R1", "R3"]  # R2, R4 touch A3 (an association)
    assert list(out.places["id"]) == ["P1"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(formal="yes"), ["R1", "R4"]),
        (Filters(formal="no"), ["R2", "R3"]),  # R3's missing flag counts as informal
        (Filters(kinds=("network", "referral")), ["R2", "R3"]),
        (Filters(dimensions=("personal",)), ["R3"]),
        (Filters(schemes=("S1",)), ["R1", "R4"]),
        (Filters(sectors=("youth",)), ["R4"]),  # only A3 is youth; R4 is A3–P1
        (Filters(on_date=dt.date(2021, 1, 1), kinds=("partnership",)), ["R1"]),
    ],
)
def test_relation_filters(territories, located, rels, filters, expected):
    actors, places = located
    assert list(apply_filters(territories, places, actors, rels, filters).relations["id"]) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2014", dt.date(2014, 1, 1)), ("2014-06", dt.date(2014, 6, 1)), ("2014-06-15", dt.date(2014, 6, 15)),
     ("2014-13", None), ("14", None), ("soon", None)],
)
def test_a_year_or_a_month_in_a_link_stands_for_its_first_day(raw, expected):
    assert Filters.from_query_params({"date": raw}).on_date == expected


def test_the_relations_date_span_and_what_the_picker_offers():
    from carto.analysis.activity import date_span
    from carto.analysis.scene import FilterChoices

    rel = pd.DataFrame({"start": ["2016-03-01", None, "2015-05-02"], "end": [None, "2030-01-31", "bad"]})
    assert date_span(rel) == (dt.date(2015, 5, 2), dt.date(2030, 1, 31))  # earliest start, latest end
    assert date_span(rel.assign(start=None, end=None)) is None
    choices = FilterChoices([], {}, {}, {}, dates=(dt.date(2015, 5, 2), dt.date(2030, 1, 31)))
    today = dt.date(2026, 12, 1)
    assert choices.date_bounds(None, today) == (dt.date(2015, 5, 2), dt.date(2030, 1, 31))
    assert choices.date_bounds(dt.date(1990, 1, 1), today) == (dt.date(1990, 1, 1), dt.date(2030, 1, 31))
    no_dates = FilterChoices([], {}, {}, {})
    assert no_dates.date_bounds(None, today) == (today, today)

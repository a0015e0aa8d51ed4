"""Social-space analyses on small literal cases, every expected value computed by hand."""

from __future__ import annotations

import datetime as dt
import math

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from carto.analysis import changes, footprint, partnerships, pathways, schemes

L93 = "EPSG:2154"


# --- footprints ------------------------------------------------------------------------------


def _square_polygon_area(r: float) -> float:
    """Shapely buffers a point with 16 segments per quarter: a regular 64-gon inscribed in the circle,
    of area (n / 2) r² sin(2π / n)."""
    return 64 / 2 * r**2 * math.sin(2 * math.pi / 64)


@pytest.fixture
def three_nodes() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """n1 and n2 1 km apart in territory A, n3 9 km further east in territory B (Lambert-93 metres)."""
    territories = gpd.GeoDataFrame(
        {"code": ["A", "B"], "name": ["Aval", "Bamont"], "level": ["commune", "commune"], "parent_code": [None, None]},
        geometry=[box(698_000, 6_590_000, 705_000, 6_610_000), box(705_000, 6_590_000, 715_000, 6_610_000)],
        crs=L93,
    ).to_crs("EPSG:4326")
    actors = gpd.GeoDataFrame(
        {
            "id": ["n1", "n2", "n3"],
            "name": ["Un", "Deux", "Trois"],
            "type": ["ccas", "association", "caf"],
            "territory_code": ["A", "A", "B"],
        },
        geometry=[Point(700_000, 6_600_000), Point(701_000, 6_600_000), Point(710_000, 6_600_000)],
        crs=L93,
    ).to_crs("EPSG:4326")
    places = actors.iloc[0:0].drop(columns="type")
    return territories, footprint.node_table(actors, places)


def test_a_footprint_of_two_parts_its_area_and_the_share_outside(three_nodes) -> None:
    territories, nodes = three_nodes
    groups = footprint.as_groups(["n1", "n2", "n3"], "g")
    found = footprint.group_footprints(groups, nodes, territories, level="commune", buffer_m=1_000)
    row = found.loc["g"]
    # n1 and n2 are 1 km apart: their 1 km discs overlap (1 km < 2 km), one part; n3 is 9 km away: a second.
    assert row["parts"] == 2
    assert row["shape"] == "scattered"
    # Exact circles: two discs of r = 1 km with centres d = 1 km apart cover 2πr² minus their lens,
    # lens = 2r²·acos(d/2r) − (d/2)·√(4r² − d²) = 2·acos(0.5) − 0.5·√3 = 2.0944 − 0.8660 = 1.2284 km²,
    # so 6.2832 − 1.2284 = 5.0548 km²; plus n3's disc π = 3.1416: 8.1964 km² in all. Shapely's discs
    # are 64-gons, 0.16 % smaller (3.1365 for π): within 0.3 %.
    lens = 2 * math.acos(0.5) - 0.5 * math.sqrt(3)
    assert row["area_km2"] == pytest.approx(2 * math.pi - lens + math.pi, rel=3e-3)
    # Two nodes in A, one in B: A is home; n3's disc (all of it east of x = 705 km) is outside A.
    assert row["home"] == "A"
    assert row["reached"] == ("B",)
    outside = _square_polygon_area(1) / row["area_km2"]  # ≈ 3.1365 / 8.18 ≈ 0.383
    assert row["share_outside"] == pytest.approx(outside, rel=1e-3)
    assert row["nodes"] == 3


def test_two_close_nodes_make_a_compact_space_inside_their_territory(three_nodes) -> None:
    territories, nodes = three_nodes
    found = footprint.group_footprints(footprint.as_groups(["n1", "n2"], "g"), nodes, territories,
                                       level="commune", buffer_m=1_000)
    row = found.loc["g"]
    assert (row["parts"], row["shape"], row["home"], row["reached"]) == (1, "compact", "A", ())
    assert row["share_outside"] == pytest.approx(0.0, abs=1e-9)  # both discs lie within x 699–702 km, inside A
    assert found.crs.to_string() == "EPSG:4326"  # drawn on the map as is


def test_a_group_of_one_node_has_no_footprint(three_nodes) -> None:
    territories, nodes = three_nodes
    found = footprint.group_footprints(footprint.as_groups(["n3"], "g"), nodes, territories, level="commune")
    assert found.empty


def test_territory_outreach_counts_the_groups_working_there(three_nodes) -> None:
    territories, nodes = three_nodes
    groups = pd.concat([footprint.as_groups(["n1", "n2", "n3"], "g1"), footprint.as_groups(["n1", "n2"], "g2")])
    prints = footprint.group_footprints(groups, nodes, territories, level="commune", buffer_m=1_000)
    out = footprint.territory_outreach(prints, territories, groups, nodes, level="commune")
    # A: g1 and g2 work there; outside A only n3's disc (g1's); B: only g1, whose two near discs are outside B.
    assert out.loc["A", "groups"] == 2
    assert out.loc["A", "outside_km2"] == pytest.approx(_square_polygon_area(1), rel=1e-3)
    assert out.loc["A", "reached"] == ("B",)
    assert out.loc["B", "groups"] == 1
    assert out.loc["B", "outside_km2"] == pytest.approx(prints.to_crs(L93).loc["g2"].geometry.area / 1e6, rel=1e-6)
    assert out.loc["B", "reached"] == ("A",)  # g1 has 2 nodes in A


def test_scheme_groups_are_the_ends_of_its_relations_and_its_lead() -> None:
    relations = pd.DataFrame({"source": ["a", "b"], "target": ["b", "c"], "scheme_id": ["s1", None]})
    scheme_rows = pd.DataFrame({"id": ["s1"], "lead": ["z"]})
    groups = footprint.scheme_groups(relations, scheme_rows)
    assert sorted(groups.index) == ["a", "b", "z"]
    assert set(groups) == {"s1"}


# --- referral pathways -------------------------------------------------------------------------


@pytest.fixture
def referral_graph():
    """f → a → b → c → d, b → e → b (a loop), and one partnership a – d that is not a referral."""
    relations = pd.DataFrame(
        {
            "source": ["f", "a", "b", "c", "b", "e", "a"],
            "target": ["a", "b", "c", "d", "e", "b", "d"],
            "kind": ["referral"] * 6 + ["partnership"],
        }
    )
    return pathways.referral_graph(pathways.referrals(relations))


def test_reach_within_one_two_three_referrals(referral_graph) -> None:
    # from a: 1 step {b}; 2 steps {b, c, e}; 3 steps {b, c, e, d}
    assert pathways.reach_by_steps(referral_graph, "a").to_list() == [1, 3, 4]
    assert pathways.reached_within(referral_graph, "a", 2) == {"b": 1, "c": 2, "e": 2}
    assert pathways.reach_by_steps(referral_graph, "nobody").to_list() == [0, 0, 0]


def test_dead_ends_loops_and_chains(referral_graph) -> None:
    assert pathways.dead_ends(referral_graph) == ["d"]  # receives from c, passes nothing on
    assert pathways.loops(referral_graph) == [["b", "e"]]
    assert pathways.chains(referral_graph, "a", 2) == [["a", "b", "c"], ["a", "b", "e"]]
    assert pathways.flows_of(referral_graph, "b") == (["c", "e"], ["a", "e"])


def test_reach_from_each_ccas_and_flows_between_types(referral_graph) -> None:
    nodes = pd.DataFrame({"type": ["ccas", "ccas", "caf", "pmi", "caf", "association"]},
                         index=pd.Index(["a", "f", "b", "c", "d", "e"]))
    table = pathways.reach_from_types(referral_graph, nodes)
    # f reaches a, then b, then c and e: 1, 2, 4 (d is 4 referrals away)
    assert table.loc["a"].to_list() == [1, 3, 4]
    assert table.loc["f"].to_list() == [1, 2, 4]
    relations = pd.DataFrame({"source": ["f", "a", "b", "c", "b", "e"], "target": ["a", "b", "c", "d", "e", "b"],
                              "kind": ["referral"] * 6})
    flows = pathways.type_flows(pathways.referrals(relations), nodes)
    # ccas→ccas (f→a), ccas→caf (a→b), caf→pmi (b→c), pmi→caf (c→d), caf→association (b→e), association→caf (e→b)
    assert flows["referrals"].to_list() == [1] * 6
    assert set(zip(flows["source_type"], flows["target_type"], strict=True)) == {
        ("ccas", "ccas"), ("ccas", "caf"), ("caf", "pmi"), ("pmi", "caf"), ("caf", "association"),
        ("association", "caf"),
    }


def test_pathway_edges_follow_the_steps(referral_graph) -> None:
    reached = pathways.reached_within(referral_graph, "a", 2)
    edges = pathways.pathway_edges(referral_graph, reached, "a")
    # a→b at step 1, b→c and b→e at step 2 (e→b goes back, c→d is beyond 2)
    assert edges.to_dict("records") == [
        {"source": "a", "target": "b", "step": 1},
        {"source": "b", "target": "c", "step": 2},
        {"source": "b", "target": "e", "step": 2},
    ]


# --- partnerships ------------------------------------------------------------------------------


@pytest.fixture
def partnership_rows() -> pd.DataFrame:
    """x, y in T1; z, w in T2. P1 x–y rests on two personal links (itself and N1): fragile.
    P2 x–z personal, but beside a professional network link N2: not fragile. P3 y–z institutional.
    P4 w–x without a dimension: not known to be fragile."""
    return pd.DataFrame(
        {
            "id": ["P1", "N1", "P2", "N2", "P3", "P4"],
            "source": ["x", "y", "x", "z", "y", "w"],
            "target": ["y", "x", "z", "x", "z", "x"],
            "kind": ["partnership", "network", "partnership", "network", "partnership", "partnership"],
            "dimension": ["personal", "personal", "personal", "professional", "institutional", None],
            "stage": ["negotiation", None, "delivery", None, "negotiation", None],
            "scheme_id": ["s1", None, "s1", None, None, None],
            "start": ["2024-01-01", "2020-01-01", "2023-01-01", None, "2023-12-01", None],
        }
    )


def test_a_partnership_held_by_personal_links_only_is_fragile(partnership_rows) -> None:
    links = partnerships.partnership_links(partnership_rows)
    assert list(links.index) == ["P1", "P2", "P3", "P4"]
    assert links["dimensions"].to_list() == [("personal",), ("personal", "professional"), ("institutional",), ()]
    assert links["fragile"].to_list() == [True, False, False, False]


def test_fragility_and_stages_per_territory(partnership_rows) -> None:
    links = partnerships.partnership_links(partnership_rows)
    where = pd.Series({"x": "T1", "y": "T1", "z": "T2", "w": "T2"})
    table = partnerships.fragility_by_territory(links, where)
    # T1 (x or y at an end): P1, P2, P3, P4 → 4, 1 fragile = 25 %; T2 (z or w): P2, P3, P4 → 3, none fragile.
    assert table.loc["T1"].to_list() == [4, 1, 0.25]
    assert table.loc["T2"].to_list() == [3, 0, 0.0]
    assert list(partnerships.fragile_in(links, where, "T1").index) == ["P1"]
    stages = partnerships.stages_by(links, "territory", where)
    assert stages.loc["T1"].to_list() == [2, 0, 1, 0, 1]  # negotiation P1 P3, delivery P2, none P4
    assert partnerships.stages_by(links, "scheme_id").loc["s1"].to_list() == [1, 0, 1, 0, 0]
    assert partnerships.stage_counts(links) == {"negotiation": 2, "contract": 0, "delivery": 1, "review": 0,
                                                "none": 1}


def test_stuck_in_negotiation_longest_first(partnership_rows) -> None:
    links = partnerships.partnership_links(partnership_rows)
    stuck = partnerships.stuck_in_negotiation(links, dt.date(2024, 3, 1))
    # P3 since 1 Dec 2023: 31 + 31 + 29 (2024 is a leap year) = 91 days; P1 since 1 Jan 2024: 31 + 29 = 60.
    assert list(stuck.index) == ["P3", "P1"]
    assert stuck["days"].to_list() == [91, 60]


def test_dimensions_of_each_actor(partnership_rows) -> None:
    table = partnerships.actor_dimensions(partnership_rows)
    # x: P1 personal, N1 personal, P2 personal, N2 professional (P4 has none) → 3, 1, 0; 3/4 personal
    assert table.loc["x"].to_list() == [3, 1, 0, 0.75]


# --- schemes -----------------------------------------------------------------------------------


@pytest.fixture
def three_in_a_row() -> gpd.GeoDataFrame:
    """Communes A | B | C side by side (0.1° squares), in département D."""
    return gpd.GeoDataFrame(
        {
            "code": ["D", "A", "B", "C"],
            "name": ["Dép", "Aval", "Bamont", "Cimes"],
            "level": ["departement", "commune", "commune", "commune"],
            "parent_code": [None, "D", "D", "D"],
        },
        geometry=[box(2.0, 46.0, 2.3, 46.1), box(2.0, 46.0, 2.1, 46.1), box(2.1, 46.0, 2.2, 46.1),
                  box(2.2, 46.0, 2.3, 46.1)],
        crs="EPSG:4326",
    )


def test_territories_without_a_kind_of_scheme_their_neighbours_have(three_in_a_row) -> None:
    scheme_rows = pd.DataFrame(
        {
            "id": ["s1", "s2", "s3"],
            "kind": ["cls", "pre", "ctg"],
            "territory_code": ["A", "C", "C"],
            "start": ["2020-01-01", "2020-01-01", "2020-01-01"],
            "end": [None, None, "2021-12-31"],
        }
    )
    assert schemes.neighbours(three_in_a_row, "commune") == {"A": ["B"], "B": ["A", "C"], "C": ["B"]}
    gaps = schemes.missing_schemes(scheme_rows, three_in_a_row, level="commune", on_date=dt.date(2025, 1, 1))
    # B has no scheme: A's cls and C's pre are missing there (C's ctg ended in 2021); A and C border only B.
    assert gaps.to_dict("records") == [
        {"code": "B", "kind": "cls", "neighbours": ("A",)},
        {"code": "B", "kind": "pre", "neighbours": ("C",)},
    ]
    # A scheme of the département covers its communes: then nobody lacks it.
    whole = pd.concat([scheme_rows, pd.DataFrame({"id": ["s4"], "kind": ["pre"], "territory_code": ["D"]})])
    gaps = schemes.missing_schemes(whole, three_in_a_row, level="commune", on_date=dt.date(2025, 1, 1))
    assert gaps.to_dict("records") == [{"code": "B", "kind": "cls", "neighbours": ("A",)}]


def test_scheme_table_names_partners_territories_and_lead() -> None:
    scheme_rows = pd.DataFrame({"id": ["s1", "s2"], "name": ["CLS", "PRE"], "kind": ["cls", "pre"],
                                "territory_code": ["A", "B"], "lead": ["a", None]})
    relations = pd.DataFrame({"source": ["a", "b", "c"], "target": ["b", "c", "a"], "scheme_id": ["s1", "s1", None]})
    nodes = pd.DataFrame({"name": ["Alpha", "Beta", "Gamma"]}, index=pd.Index(["a", "b", "c"]))
    where = pd.Series({"a": "A", "b": "A", "c": "B"})
    table = schemes.scheme_table(scheme_rows, relations, nodes, where)
    assert table.loc["s1", "partners"] == ("a", "b", "c")
    assert table.loc["s1", "territories"] == ("A", "B")
    assert (table.loc["s1", "lead"], table.loc["s1", "lead_name"], table.loc["s1", "relations"]) == ("a", "Alpha", 2)
    assert (table.loc["s2", "lead"], table.loc["s2", "lead_name"], table.loc["s2", "partners"]) == (None, None, ())


# --- changes between two dates -----------------------------------------------------------------


def test_links_that_appeared_ended_or_changed_between_two_dates() -> None:
    relations = pd.DataFrame(
        {
            "source": ["a", "a", "b", "c", "d"],
            "target": ["b", "c", "c", "d", "c"],
            "kind": ["network", "partnership", "referral", "network", "partnership"],
            "stage": [None, "contract", None, None, "negotiation"],
            "start": ["2020-01-01", "2024-06-01", "2023-01-01", "2023-01-01", "2024-06-01"],
            "end": [None, None, "2024-03-01", "2024-05-31", None],
        }
    )
    diff = changes.compare_dates(relations, dt.date(2024, 1, 1), dt.date(2025, 1, 1))
    # a–b runs on both dates (same); a–c starts in June 2024 (appeared); b–c ends in March 2024 (ended);
    # c–d was a network link, then (d→c) a partnership: linked on both dates with another kind (changed).
    found = {(a, b): change for a, b, change in zip(diff["a"], diff["b"], diff["change"], strict=True)}
    assert found == {("a", "b"): "same", ("a", "c"): "appeared", ("b", "c"): "ended", ("c", "d"): "changed"}
    assert changes.change_counts(diff) == {"appeared": 1, "ended": 1, "changed": 1, "same": 1}
    row = diff[diff["change"] == "changed"].iloc[0]
    assert (row["kinds_before"], row["kinds_after"], row["stages_after"]) == (("network",), ("partnership",),
                                                                                ("negotiation",))
    assert changes.node_changes(diff).to_dict() == {"a": "appeared", "b": "ended", "c": "appeared", "d": "changed"}
    # Running on 1 Jan 2024: a–b and c–d (network), b–c (referral); on 1 Jan 2025: a–b (network), a–c and d–c
    # (partnerships).
    kinds = changes.kinds_on_two_dates(relations, dt.date(2024, 1, 1), dt.date(2025, 1, 1))
    assert kinds.to_dict("index") == {"network": {"before": 2, "after": 1}, "partnership": {"before": 0, "after": 2},
                                      "referral": {"before": 1, "after": 0}}
    # The last day the data records something on, up to "today": in 2026, d–c's start (1 June 2024);
    # on 1 April 2024, b–c's end (1 March 2024); with no date at all, today.
    assert changes.latest_day(relations, dt.date(2026, 1, 1)) == dt.date(2024, 6, 1)
    assert changes.latest_day(relations, dt.date(2024, 4, 1)) == dt.date(2024, 3, 1)
    assert changes.latest_day(relations.drop(columns=["start", "end"]), dt.date(2024, 4, 1)) == dt.date(2024, 4, 1)


def test_the_network_year_by_year() -> None:
    relations = pd.DataFrame(
        {"source": ["a", "b"], "target": ["b", "c"], "start": ["2021-05-01", "2022-12-31"], "end": ["2022-06-30", None]}
    )
    assert changes.years_of(relations, dt.date(2023, 3, 1)) == [2021, 2022, 2023]
    running = changes.running_each_year(relations, [2021, 2022, 2023])
    # On 31 Dec 2021 only a–b; on 31 Dec 2022 a–b has ended (30 June) and b–c starts that very day.
    assert {y: list(zip(r["source"], r["target"], strict=True)) for y, r in running.items()} == {
        2021: [("a", "b")], 2022: [("b", "c")], 2023: [("b", "c")],
    }

"""Territory indicators on a literal hierarchy whose figures are computed by hand below.

Territories: EPCI E1 (pop 3000) = communes C1 (pop 1000) + C2 (pop 2000); EPCI E2 (pop 500) =
commune C3 (pop 500). Squares 0.05° wide at latitude 46° (1° of longitude = 111.32 km x
cos 46° = 77.33 km there; 1° of latitude = 111.2 km).

    actors  a1 C1 (2.010, 46.010)   a2 C1 (2.020, 46.010)   a3 C2 (2.060, 46.010)
            a4 C2 (2.070, 46.040) no relation               a5 C3 (2.110, 46.010)
    places  p1 C1 (2.012, 46.012) pop 300: 270 m from a1          → covered by distance
            p2 C1 (2.040, 46.045) pop 200: 4.19 km from a2 (nearest) → uncovered at 1 km
            p3 C2 (2.090, 46.020) pop 500: 1.9 km from a5, but r5 touches it → covered
            p4 C3 (2.140, 46.045) pop 100: 4.53 km from a5 (nearest) → uncovered at 1 km
    relations
            r1 a1–a2 partnership institutional formal   (inside C1)
            r2 a2–a3 network professional               (C1–C2)
            r3 a3→a5 referral professional directed, ends 2020-12-31  (C2–C3)
            r4 a1–a3 affinity personal formal unknown   (C1–C2)
            r5 a3–p3 tension, no dimension              (inside C2)
"""

from __future__ import annotations

import json
import math
from datetime import date

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from carto.analysis import indicators, network
from carto.analysis.filters import Filters, apply_filters

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

NAN = float("nan")


def _territories() -> gpd.GeoDataFrame:
    rows = [
        ("C1", "Commune 1", "commune", "E1", 1000, box(2.00, 46.00, 2.05, 46.05)),
        ("C2", "Commune 2", "commune", "E1", 2000, box(2.05, 46.00, 2.10, 46.05)),
        ("C3", "Commune 3", "commune", "E2", 500, box(2.10, 46.00, 2.15, 46.05)),
        ("E1", "EPCI 1", "epci", None, 3000, box(2.00, 46.00, 2.10, 46.05)),
        ("E2", "EPCI 2", "epci", None, 500, box(2.10, 46.00, 2.15, 46.05)),
    ]
    frame = pd.DataFrame(rows, columns=["code", "name", "level", "parent_code", "population", "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")


def _actors() -> gpd.GeoDataFrame:
    rows = [
        ("a1", "C1", 2.010, 46.010),
        ("a2", "C1", 2.020, 46.010),
        ("a3", "C2", 2.060, 46.010),
        ("a4", "C2", 2.070, 46.040),
        ("a5", "C3", 2.110, 46.010),
    ]
    return gpd.GeoDataFrame(
        {
            "id": [r[0] for r in rows],
            "name": [f"Actor {r[0]}" for r in rows],
            "type": "association",
            "sector": "social",
            "territory_code": [r[1] for r in rows],
        },
        geometry=[Point(r[2], r[3]) for r in rows],
        crs="EPSG:4326",
    )


def _places() -> gpd.GeoDataFrame:
    rows = [
        ("p1", "C1", 300, 2.012, 46.012),
        ("p2", "C1", 200, 2.040, 46.045),
        ("p3", "C2", 500, 2.090, 46.020),
        ("p4", "C3", 100, 2.140, 46.045),
    ]
    return gpd.GeoDataFrame(
        {
            "id": [r[0] for r in rows],
            "name": [f"Place {r[0]}" for r in rows],
            "kind": "neighbourhood",
            "population": [r[2] for r in rows],
            "territory_code": [r[1] for r in rows],
        },
        geometry=[Point(r[3], r[4]) for r in rows],
        crs="EPSG:4326",
    )


def _relations() -> pd.DataFrame:
    rows = [
        ("r1", "a1", "a2", "partnership", "institutional", True, False, None),
        ("r2", "a2", "a3", "network", "professional", False, False, None),
        ("r3", "a3", "a5", "referral", "professional", False, True, date(2020, 12, 31)),
        ("r4", "a1", "a3", "affinity", "personal", None, False, None),
        ("r5", "a3", "p3", "tension", None, False, False, None),
    ]
    frame = pd.DataFrame(rows, columns=["id", "source", "target", "kind", "dimension", "formal", "directed", "end"])
    frame["formal"] = frame["formal"].astype("boolean")
    frame["weight"] = 1.0
    frame["start"] = None
    frame["scheme_id"] = None
    return frame


def _schemes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["s1", "s2", "s3"],
            "name": ["Contrat de ville", "CLS", "PRE"],
            "kind": ["contrat_de_ville", "cls", "pre"],
            "territory_code": ["C2", "E1", "C3"],
        }
    )


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return indicators.territory_indicators(_territories(), _actors(), _places(), _relations(), _schemes())


def test_one_row_per_territory_at_every_level(table: pd.DataFrame) -> None:
    assert list(table.index) == ["C1", "C2", "C3", "E1", "E2"]
    assert [table.loc["C1", c] for c in ("name", "level", "parent_code")] == ["Commune 1", "commune", "E1"]
    assert table["population"].tolist() == [1000, 2000, 500, 3000, 500]


def test_actors_and_places_counted_in_ancestors(table: pd.DataFrame) -> None:
    # C1 {a1,a2}, C2 {a3,a4}, C3 {a5}; E1 = C1 + C2 = 4; E2 = C3
    assert table["actors"].tolist() == [2, 2, 1, 4, 1]
    assert table["places"].tolist() == [2, 1, 1, 3, 1]
    # per 10,000: C1 2/1000, C2 2/2000, C3 1/500, E1 4/3000, E2 1/500
    assert table["actors_per_10k"].tolist() == pytest.approx([20.0, 10.0, 20.0, 40_000 / 3000, 20.0])


def test_relations_inside_and_crossing(table: pd.DataFrame) -> None:
    # C1: r1 inside; r2, r4 cross.  C2: r5 inside; r2, r3, r4 cross.  C3: r3 crosses.
    # E1: r1, r2, r4, r5 inside; r3 crosses to E2.  E2: r3 crosses.
    assert table["relations_inside"].tolist() == [1, 1, 0, 4, 0]
    assert table["relations_crossing"].tolist() == [2, 3, 1, 1, 1]
    assert table["openness"].tolist() == pytest.approx([2 / 3, 3 / 4, 1.0, 1 / 5, 1.0])
    # density: C1 1 / (4 nodes: 4*3/2 = 6); C2 1 / (3*2/2 = 3); C3 0 / 1; E1 4 / (7*6/2 = 21)
    assert table["density"].tolist() == pytest.approx([1 / 6, 1 / 3, 0.0, 4 / 21, 0.0])


@pytest.mark.parametrize(
    ("code", "inside", "touching", "positions"),
    [
        # C2: r5 inside; r2 and r4 undirected with one end out cross; r3 a3→a5 leaves: 4 in all.
        ("C2", 1, 4, {"inside": 1, "crossing": 2, "leaving": 1}),
        # E2 = C3: r3 a3→a5 enters it, nothing else touches it.
        ("E2", 0, 1, {"entering": 1}),
        # E1 = C1 + C2: r1 r2 r4 r5 inside, r3 leaves to E2.
        ("E1", 4, 5, {"inside": 4, "leaving": 1}),
    ],
)
def test_explorer_and_indicators_count_a_territory_s_relations_alike(
    table: pd.DataFrame, code: str, inside: int, touching: int, positions: dict[str, int]
) -> None:
    # One rule (filters.relation_positions): the explorer's figures for a chosen territory and the
    # summary's indicators give the same numbers.
    shown = apply_filters(_territories(), _places(), _actors(), _relations(), Filters(territory=code))
    assert shown.relations["position"].value_counts().to_dict() == positions
    assert len(shown.relations) == table.loc[code, "relations_touching"] == touching
    assert table.loc[code, "relations_inside"] == inside


def test_shares_over_relations_touching(table: pd.DataFrame) -> None:
    c1, c2 = table.loc["C1"], table.loc["C2"]
    # C1 touches r1 partnership, r2 network, r4 affinity
    assert [c1[f"share_{k}"] for k in ("partnership", "network", "referral", "affinity", "tension")] == (
        pytest.approx([1 / 3, 1 / 3, 0, 1 / 3, 0])
    )
    assert [c1[f"share_{d}"] for d in ("personal", "professional", "institutional")] == pytest.approx([1 / 3] * 3)
    assert c1["formal_share"] == pytest.approx(1 / 3)  # r1 only; r4's unknown is not formal
    # C2 touches r2 network, r3 referral, r4 affinity, r5 tension (no dimension)
    assert [c2[f"share_{k}"] for k in ("partnership", "network", "referral", "affinity", "tension")] == (
        pytest.approx([0, 1 / 4, 1 / 4, 1 / 4, 1 / 4])
    )
    assert [c2[f"share_{d}"] for d in ("personal", "professional", "institutional")] == pytest.approx([1 / 4, 2 / 4, 0])
    assert c2["formal_share"] == 0.0


def test_schemes_of_territory_and_descendants(table: pd.DataFrame) -> None:
    assert table["schemes"].tolist() == [0, 1, 1, 2, 1]
    assert table["scheme_names"].tolist() == ["", "Contrat de ville", "PRE", "CLS; Contrat de ville", "PRE"]


def test_brokers_and_isolated_actors(table: pd.DataFrame) -> None:
    # Component {a1,a2,a3,a5,p3}: only a3 is between others ({a1,a2} x {a5,p3} and a5–p3 = 5
    # pairs), so C2 and E1 have a3; in C1, C3 and E2 nobody brokers.
    assert table["top_broker"].tolist() == ["", "a3", "", "a3", ""]
    assert table["top_brokers"].tolist() == ["", "a3", "", "a3", ""]
    assert table["isolated_actors"].tolist() == [0, 1, 0, 1, 0]  # a4


def test_top_brokers_from_given_metrics_ties_by_id() -> None:
    actors = _actors()
    metrics = network.node_metrics(actors, _places(), _relations())
    metrics["betweenness"] = pd.Series({"a1": 0.5, "a2": 0.5, "a3": 0.7, "a4": 0.0, "a5": 0.0})
    metrics["betweenness"] = metrics["betweenness"].fillna(0.0)
    table = indicators.territory_indicators(
        _territories(), actors, _places(), _relations(), _schemes(), metrics=metrics
    )
    assert table.loc["C1", "top_broker"] == "a1"  # a1 and a2 tie at 0.5: smallest id
    assert table.loc["E1", "top_brokers"] == "a3;a1;a2"


def test_uncovered_places_with_radius(table: pd.DataFrame) -> None:
    # at 1 km: p2 (C1, 200 of 500 inhabitants in C1's places) and p4 (C3, 100 of 100)
    assert table["uncovered_places"].tolist() == [1, 0, 1, 1, 1]
    assert table["uncovered_population"].tolist() == [200.0, 0.0, 100.0, 200.0, 100.0]
    # E1: 200 / (300 + 200 + 500)
    assert table["uncovered_population_share"].tolist() == pytest.approx([0.4, 0.0, 1.0, 0.2, 1.0])
    # at 5 km p2 (4.19 km from a2) and p4 (4.53 km from a5) are reached
    wide = indicators.territory_indicators(
        _territories(), _actors(), _places(), _relations(), _schemes(), radius_km=5.0
    )
    assert wide["uncovered_places"].tolist() == [0, 0, 0, 0, 0]
    # at 4.3 km only p2 is reached
    mid = indicators.territory_indicators(_territories(), _actors(), _places(), _relations(), _schemes(), radius_km=4.3)
    assert mid["uncovered_places"].tolist() == [0, 0, 1, 0, 1]


def test_on_date_drops_ended_relations() -> None:
    # on 2021-01-01 r3 (ended 2020-12-31) is gone: C3 has no relation, C2 crosses r2 and r4 only
    table = indicators.territory_indicators(
        _territories(), _actors(), _places(), _relations(), _schemes(), on_date=date(2021, 1, 1)
    )
    assert table["relations_crossing"].tolist() == [2, 2, 0, 0, 0]
    assert math.isnan(table["openness"]["C3"])
    assert math.isnan(table["share_referral"]["C3"])
    assert table.loc["C3", "isolated_actors"] == 1  # a5 lost its only relation


def test_without_any_relation() -> None:
    no_relations = _relations().iloc[0:0]
    table = indicators.territory_indicators(_territories(), _actors(), _places(), no_relations, _schemes().iloc[0:0])
    # every actor is isolated; p3 (1.9 km from a5) is now unreached too, beside p2 and p4
    assert table["isolated_actors"].tolist() == table["actors"].tolist() == [2, 2, 1, 4, 1]
    assert table["uncovered_places"].tolist() == [1, 1, 1, 2, 1]
    assert table["relations_touching"].tolist() == [0] * 5
    assert table["openness"].isna().all()
    assert table["top_broker"].tolist() == [""] * 5
    assert table["scheme_names"].tolist() == [""] * 5


def test_comparisons_with_parent_and_siblings(table: pd.DataFrame) -> None:
    compared = indicators.with_comparisons(table, ["actors_per_10k", "openness"])
    # parent values: C1, C2 → E1 (40000/3000); C3 → E2 (20); EPCIs have none
    parent = compared["actors_per_10k_parent"].tolist()
    assert parent[:3] == pytest.approx([40_000 / 3000, 40_000 / 3000, 20.0])
    assert all(math.isnan(v) for v in parent[3:])
    # siblings (same parent, same level, itself included): C1, C2 → median(20, 10) = 15;
    # C3 alone → 20; parentless EPCIs → median(13.33, 20) = 16.67
    assert compared["actors_per_10k_siblings_median"].tolist() == pytest.approx(
        [15.0, 15.0, 20.0, (40_000 / 3000 + 20) / 2, (40_000 / 3000 + 20) / 2]
    )
    # openness: C1, C2 → median(2/3, 3/4) = 17/24
    assert compared.loc["C1", "openness_siblings_median"] == pytest.approx(17 / 24)
    assert compared.loc["C1", "openness_parent"] == pytest.approx(1 / 5)


def test_headlines_are_columns(table: pd.DataFrame) -> None:
    assert len(indicators.HEADLINES) == 5
    assert set(indicators.HEADLINES) <= set(table.columns)


def test_relations_per_year() -> None:
    relations = pd.DataFrame(
        [
            ("r1", "a", "b", "partnership", "2019-03-01", "2020-06-30"),
            ("r2", "c", "a", "network", "2020-01-01", None),
            ("r3", "a", "d", "network", None, None),  # no date: left out
            ("r5", "a", "e", "referral", "2022-01-01", "2022-12-31"),
        ],
        columns=["id", "source", "target", "kind", "start", "end"],
    )
    table = indicators.relations_per_year(relations)
    # r1 2019–2020; r2 open, counted to 2022 (latest year among a's relations); r5 2022
    assert table.values.tolist() == [
        [2019, "partnership", 1],
        [2020, "network", 1],
        [2020, "partnership", 1],
        [2021, "network", 1],
        [2022, "network", 1],
        [2022, "referral", 1],
    ]
    assert indicators.relations_per_year(relations, until=2020)["year"].max() == 2020
    assert indicators.relations_per_year(relations.iloc[0:0]).empty


REQUIRED_KEYS = {
    "code",
    "name",
    "population",
    "actors",
    "actors_per_10k",
    "relations_inside",
    "relations_crossing",
    "isolated_actors",
    "uncovered_places",
    "top_broker",
}


def test_cli_indicators_json_on_the_sample(sample_db, capsys) -> None:
    from carto import cli, store

    assert cli.main(["--db", str(sample_db), "indicators", "--json"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text  # NaN is printed as null: strict JSON
    rows = json.loads(text)
    assert len(rows) >= 100
    assert all(set(row) >= REQUIRED_KEYS for row in rows)
    counts = store.counts(store.connect(sample_db))
    assert len(rows) == counts["territories"]
    # the département holds every actor placed in a territory, and the top broker is an actor id
    department = next(row for row in rows if row["level"] == "departement")
    assert 0 < department["actors"] <= counts["actors"]
    actor_ids = set(store.read_dataset(store.connect(sample_db), "actors", columns=["id"])["id"])
    assert department["top_broker"] in actor_ids

    commune = next(row for row in rows if row["level"] == "commune")
    assert cli.main(["--db", str(sample_db), "indicators", "--json", "--territory", commune["code"]]) == 0
    only = json.loads(capsys.readouterr().out)
    assert only == [commune]


def test_cli_indicators_unknown_territory(sample_db, capsys) -> None:
    from carto import cli

    assert cli.main(["--db", str(sample_db), "indicators", "--json", "--territory", "NOPE"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown territory code 'NOPE'" in err

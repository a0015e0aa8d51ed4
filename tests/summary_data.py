"""A tiny département for the summary tests, with figures computed by hand.

Three communes side by side (each 0.1° of longitude wide, 0.1° of latitude high, near 46° N):

- C1 "Ville-Haute" (5 000 inhabitants): actors a1, a2, a3, a5; places p1 (1 200), p2 (300);
- C2 "Bourg-Bas" (2 000): actor a4; place p3 (500), 0.2 km from a4;
- C3 "Val-Clair" (4 000): actor a6;
- D1 "Département Test" (11 000) is their parent.

Relations: r1 a1–a2, r2 a2–a3, r3 a2→p1, r4 a3–a4 (crosses C1/C2), r5 a4–a6 (crosses C2/C3).

Hand-computed figures (radius 1 km):

- actors per 10,000: C1 4/5000*1e4 = 8.0; C2 1/2000*1e4 = 5.0; C3 1/4000*1e4 = 2.5;
  D1 6/11000*1e4 = 5.4545… → shown "5,5"; siblings median of C1 = median(8, 5, 2.5) = 5.0.
- relations of the territory (at least one end in it): C1 r1 r2 r3 r4 = 4 (3 inside, 1 with the
  outside), C2 r4 r5 = 2 (0 inside), C3 r5 = 1 (0 inside), D1 5 (5 inside); siblings median of C1 =
  median(4, 2, 1) = 2.
- openness = crossing / touching: C1 1/4 = 25 %, C2 2/2, C3 1/1, D1 0/5; siblings median 100 %.
- isolated actors: C1 1 (a5), others 0; D1 1; siblings median 0.
- uncovered places: p2 only (no relation; nearest actor a5 is 5 km away). Uncovered population
  share: C1 300/1500 = 20 %, C2 0/500 = 0 %, C3 no place (NaN), D1 300/2000 = 15 %;
  siblings median of C1 = median(20 %, 0 %) = 10 %.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point, box

from carto.analysis.summary import Summary, territory_summary

CRS = "EPSG:4326"
NAN = math.nan
# The headline figures, as the literal indicators below hold them.
HEADLINES = (
    "actors_per_10k",
    "relations_touching",
    "openness",
    "isolated_actors",
    "uncovered_population_share",
)


def territories() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["D1", "C1", "C2", "C3"],
            "name": ["Département Test", "Ville-Haute", "Bourg-Bas", "Val-Clair"],
            "level": ["departement", "commune", "commune", "commune"],
            "parent_code": [None, "D1", "D1", "D1"],
            "population": [11000, 5000, 2000, 4000],
        },
        geometry=[
            box(2.0, 46.0, 2.3, 46.1),
            box(2.0, 46.0, 2.1, 46.1),
            box(2.1, 46.0, 2.2, 46.1),
            box(2.2, 46.0, 2.3, 46.1),
        ],
        crs=CRS,
    )


def actors() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["a1", "a2", "a3", "a4", "a5", "a6"],
            "name": [
                "CCAS de Ville-Haute",
                "Centre social Les Tilleuls",
                "Association Lien",
                "Mission locale du Bourg",
                "Club isolé",
                "CAF du Val",
            ],
            "type": ["ccas", "centre_social", "association", "mission_locale", "association", "caf"],
            "sector": ["social", "social", "youth", "employment", "sport", "social"],
            "territory_code": ["C1", "C1", "C1", "C2", "C1", "C3"],
        },
        geometry=[
            Point(2.02, 46.05),
            Point(2.05, 46.05),
            Point(2.08, 46.08),
            Point(2.15, 46.05),
            Point(2.03, 46.02),
            Point(2.25, 46.05),
        ],
        crs=CRS,
    )


def places() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["p1", "p2", "p3"],
            "name": ["Quartier Nord", "Hameau des Prés", "Cité des Lilas"],
            "kind": ["neighbourhood", "village", "estate"],
            "population": [1200, 300, 500],
            "territory_code": ["C1", "C1", "C2"],
        },
        geometry=[Point(2.05, 46.09), Point(2.095, 46.005), Point(2.15, 46.052)],
        crs=CRS,
    )


def relations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["r1", "r2", "r3", "r4", "r5"],
            "source": ["a1", "a2", "a2", "a3", "a4"],
            "target": ["a2", "a3", "p1", "a4", "a6"],
            "kind": ["partnership", "network", "referral", "partnership", "network"],
            "dimension": ["institutional", "professional", "professional", "institutional", "personal"],
            "formal": [True, False, False, True, False],
            "scheme_id": ["s1", None, None, None, None],
            "weight": [1.0, 1.0, 1.0, 2.0, 1.0],
            "directed": [False, False, True, False, False],
            "start": ["2022-01-01", "2023-03-01", "2023-06-01", "2024-01-01", None],
            "end": [None, None, None, "2024-12-31", None],
            "stage": ["delivery", None, None, "contract", None],
        }
    )


def schemes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["s1"],
            "name": ["Contrat de ville de Ville-Haute"],
            "kind": ["contrat_de_ville"],
            "territory_code": ["C1"],
            "start": ["2022-01-01"],
            "end": [None],
        }
    )


def write_folder(directory: Path) -> Path:
    """The fixture as the files :func:`carto.ingest.sample.load_folder` reads."""
    directory.mkdir(parents=True, exist_ok=True)
    territories().to_file(directory / "territories.geojson", driver="GeoJSON")
    places().drop(columns=["territory_code"]).to_file(directory / "places.geojson", driver="GeoJSON")
    a = actors()
    frame = pd.DataFrame(a.drop(columns=["geometry", "territory_code"]))
    frame["lon"] = a.geometry.x
    frame["lat"] = a.geometry.y
    frame.to_csv(directory / "actors.csv", index=False)
    schemes().to_csv(directory / "schemes.csv", index=False)
    relations().to_csv(directory / "relations.csv", index=False)
    return directory


def write_database(folder: Path) -> Path:
    """A database file in ``folder`` holding the tiny département above."""
    from carto import store
    from carto.ingest import sample

    db = folder / "tiny.duckdb"
    conn = store.connect(db)
    sample.load_folder(conn, write_folder(folder / "tiny"))
    conn.close()
    return db


# --- literal frames: the hand figures above as the indicators and metrics would hold them --------


def literal_indicators() -> pd.DataFrame:
    rows = {
        # code: name, level, parent, population, actors/10k, touching, openness, isolated, uncovered share
        "C1": ("Ville-Haute", "commune", "D1", 5000, 8.0, 4, 0.25, 1, 0.20),
        "C2": ("Bourg-Bas", "commune", "D1", 2000, 5.0, 2, 1.0, 0, 0.0),
        "C3": ("Val-Clair", "commune", "D1", 4000, 2.5, 1, 1.0, 0, NAN),
        "D1": ("Département Test", "departement", None, 11000, 6 / 11000 * 1e4, 5, 0.0, 1, 0.15),
    }
    frame = pd.DataFrame.from_dict(
        rows, orient="index", columns=["name", "level", "parent_code", "population", *HEADLINES]
    )
    frame.insert(0, "code", frame.index)
    frame.index.name = "code"  # as territory_indicators returns it
    frame["scheme_names"] = ["Contrat de ville de Ville-Haute", "", "", "Contrat de ville de Ville-Haute"]
    # Comparisons by hand: C1's siblings are C1, C2, C3; D1 has no parent and no sibling but itself.
    frame["actors_per_10k_parent"] = [6 / 11000 * 1e4] * 3 + [NAN]
    frame["actors_per_10k_siblings_median"] = [5.0, 5.0, 5.0, 6 / 11000 * 1e4]
    frame["relations_inside"] = [3, 0, 0, 5]
    frame["relations_crossing"] = [1, 2, 1, 0]
    frame["relations_touching_parent"] = [5, 5, 5, NAN]
    frame["relations_touching_siblings_median"] = [2.0, 2.0, 2.0, 5.0]
    frame["openness_parent"] = [0.0, 0.0, 0.0, NAN]
    frame["openness_siblings_median"] = [1.0, 1.0, 1.0, 0.0]
    frame["isolated_actors_parent"] = [1, 1, 1, NAN]
    frame["isolated_actors_siblings_median"] = [0.0, 0.0, 0.0, 1.0]
    frame["uncovered_population_share_parent"] = [0.15, 0.15, 0.15, NAN]
    frame["uncovered_population_share_siblings_median"] = [0.10, 0.10, 0.10, 0.15]
    return frame


def literal_metrics() -> pd.DataFrame:
    # Undirected betweenness of the path a1–a2–a3–a4–a6 with p1 hanging on a2 (pairs counted once).
    return pd.DataFrame(
        {
            "degree": [1, 3, 2, 2, 0, 1, 1, 0, 0],
            "betweenness": [0.0, 7.0, 6.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        },
        index=pd.Index(["a1", "a2", "a3", "a4", "a5", "a6", "p1", "p2", "p3"], name="id"),
    )


def literal_summary(code: str, **options: Any) -> Summary:
    """The summary of ``code`` on the literal fixtures (``options`` go to ``territory_summary``)."""
    return territory_summary(
        code,
        literal_indicators(),
        actors(),
        places(),
        relations(),
        territories(),
        literal_metrics(),
        headlines=HEADLINES,
        **options,
    )


def c1_summary(**changes: object) -> Summary:
    changed = actors()
    for column, value in changes.items():
        changed[column] = value
    return territory_summary(
        "C1",
        literal_indicators(),
        changed,
        places(),
        relations(),
        territories(),
        literal_metrics(),
        radius_km=1.0,
        headlines=HEADLINES,
    )

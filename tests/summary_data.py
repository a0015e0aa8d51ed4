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
- relations inside: C1 r1 r2 r3 = 3, C2 0, C3 0, D1 5; siblings median 0.
- openness = crossing / touching: C1 1/4 = 25 %, C2 2/2, C3 1/1, D1 0/5; siblings median 100 %.
- isolated actors: C1 1 (a5), others 0; D1 1; siblings median 0.
- uncovered places: p2 only (no relation; nearest actor a5 is 5 km away). Uncovered population
  share: C1 300/1500 = 20 %, C2 0/500 = 0 %, C3 no place (NaN), D1 300/2000 = 15 %;
  siblings median of C1 = median(20 %, 0 %) = 10 %.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point, box

CRS = "EPSG:4326"


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

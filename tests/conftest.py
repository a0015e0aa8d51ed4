"""Shared fixtures: tiny literal data, throwaway databases, and a served app for browser tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from bench.serve import start_streamlit, stop
from carto import store
from carto.ingest import sample, sandbox

PROJECT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = PROJECT / "tests" / "artifacts"


# --- tiny literal data -----------------------------------------------------------------------
# Two 1°×1° communes side by side in one EPCI, in one département:
#   C1 = [0,1]×[45,46] (pop 1000), C2 = [1,2]×[45,46] (pop 3000), E1 = both, D1 = E1.


@pytest.fixture
def territories() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["C1", "C2", "D1", "E1"],
            "name": ["Alpha", "Bêta", "Département", "Interco"],
            "level": ["commune", "commune", "departement", "epci"],
            "parent_code": ["E1", "E1", None, "D1"],
            "population": [1000, 3000, 4000, 4000],
        },
        geometry=[box(0, 45, 1, 46), box(1, 45, 2, 46), box(0, 45, 2, 46), box(0, 45, 2, 46)],
        crs="EPSG:4326",
    )


@pytest.fixture
def actors() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["A1", "A2", "A3"],
            "name": ["CCAS Alpha", "CAF", "Asso Bêta"],
            "type": ["ccas", "caf", "association"],
            "sector": ["social", "social", "youth"],
            "siret": [None, "12345678900011", None],
        },
        geometry=[Point(0.5, 45.5), Point(0.6, 45.4), Point(1.5, 45.5)],
        crs="EPSG:4326",
    )


@pytest.fixture
def places() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["P1"],
            "name": ["Quartier Nord"],
            "kind": ["neighbourhood"],
            "population": [800],
            "publics": ["familles"],
        },
        geometry=[Point(1.2, 45.8)],
        crs="EPSG:4326",
    )


@pytest.fixture
def relations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["R1", "R2"],
            "source": ["A1", "A2"],
            "target": ["A2", "A3"],
            "kind": ["partnership", "referral"],
            "dimension": ["institutional", "professional"],
            "formal": [True, False],
            "scheme_id": ["S1", None],
            "weight": [2.0, 1.0],
            "directed": [False, True],
            "start": ["2020-01-01", "2021-06-01"],
            "end": [None, None],
            "stage": ["delivery", None],
        }
    )


@pytest.fixture
def schemes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["S1"],
            "name": ["Contrat de ville"],
            "kind": ["contrat_de_ville"],
            "territory_code": ["C1"],
            "start": ["2019-01-01"],
            "end": [None],
        }
    )


@pytest.fixture
def conn() -> Iterator[store.Connection]:
    connection = store.connect(":memory:")
    yield connection
    connection.close()


@pytest.fixture
def filled(conn, territories, actors, places, relations, schemes) -> store.Connection:
    """The in-memory store holding the literal fixtures above, territories assigned."""
    with store.transaction(conn) as cur:
        store.insert_rows(cur, "territories", territories)
        store.insert_rows(cur, "schemes", schemes)
        store.insert_rows(cur, "places", places)
        store.insert_rows(cur, "actors", actors)
        store.insert_rows(cur, "relations", relations)
        store.assign_territories(cur)
    return conn


@pytest.fixture(scope="session", autouse=True)
def spare_reader() -> None:
    """Reads take a reader child started ahead, as on the server (carto.ingest.sandbox.SpareReader)."""
    sandbox.SPARE_READER.enable()


# --- databases on disk -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def sample_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file loaded once with the embedded sample; copy it before writing."""
    path = tmp_path_factory.mktemp("sample-db") / "sample.duckdb"
    connection = store.connect(path)
    sample.load_folder(connection, sample.SAMPLE_DIR)
    connection.close()
    return path


@pytest.fixture
def sample_db(sample_db_template: Path, tmp_path: Path) -> Path:
    """A private copy of the sample database for one test."""
    path = tmp_path / "sample.duckdb"
    shutil.copy(sample_db_template, path)
    return path


# --- a served app for browser tests ----------------------------------------------------------


@pytest.fixture(scope="session")
def served_app(sample_db_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the dashboard served on a copy of the sample database, tiles off."""
    db = tmp_path_factory.mktemp("served") / "app.duckdb"
    shutil.copy(sample_db_template, db)
    url, proc = start_streamlit(db)
    yield url
    stop(proc)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright; Playwright's own browser download is not used."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run ./test.sh, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS

"""Shared fixtures: tiny literal data, throwaway databases, and a served app for browser tests."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from bench import postgres
from bench.serve import start_streamlit, stop
from carto import store
from carto.ingest import sample, sandbox

PROJECT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = PROJECT / "tests" / "artifacts"
# Which store the tests run on: "duckdb" (default) or "postgis" (./test.sh runs the tests marked
# both_stores a second time with CARTO_TEST_STORE=postgis, on a throwaway cluster).
STORE = os.environ.get("CARTO_TEST_STORE", "duckdb")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, only the tests marked both_stores or postgis_only run; on DuckDB, all but postgis_only."""
    if STORE != "postgis":
        skip = pytest.mark.skip(reason="a PostGIS test (run with CARTO_TEST_STORE=postgis, as ./test.sh does)")
        for item in items:
            if "postgis_only" in item.keywords:
                item.add_marker(skip)
        return
    skip = pytest.mark.skip(reason="a DuckDB test (CARTO_TEST_STORE=postgis runs the both_stores tests)")
    for item in items:
        if "postgis_only" in item.keywords:
            continue
        if "both_stores" not in item.keywords or "duckdb_only" in item.keywords:
            item.add_marker(skip)


# --- the store under test --------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.Cluster | None]:
    """The throwaway PostgreSQL cluster of this run when testing on PostGIS, else None."""
    if STORE != "postgis":
        yield None
        return
    reason = postgres.available()
    if reason:
        pytest.fail(reason)
    with postgres.cluster() as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def copies_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostGIS, snapshots and backups go under the test's folder, not the project's data/."""
    if STORE == "postgis":
        monkeypatch.setenv("CARTO_COPIES_DIR", str(tmp_path / "copies"))


@pytest.fixture
def new_db(pg_cluster: postgres.Cluster | None, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the store under test: a DuckDB file path, or a PostgreSQL URL."""
    if pg_cluster is None:
        yield str(tmp_path / "carto.duckdb")
        return
    url = pg_cluster.new_database()
    yield url
    pg_cluster.drop_database(url.rsplit("/", 1)[1])


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
def conn(pg_cluster: postgres.Cluster | None) -> Iterator[store.Connection]:
    """An empty store: DuckDB in memory, or a new PostGIS database."""
    url = pg_cluster.new_database() if pg_cluster is not None else None
    connection = store.connect(url or ":memory:")
    yield connection
    connection.close()
    if pg_cluster is not None and url is not None:
        pg_cluster.drop_database(url.rsplit("/", 1)[1])


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


SAMPLE_TEMPLATE = "carto_sample"


@pytest.fixture(scope="session")
def sample_db_template(tmp_path_factory: pytest.TempPathFactory, pg_cluster: postgres.Cluster | None) -> Path:
    """A database loaded once with the embedded sample; copy it (:func:`copy_sample`) before writing.

    On PostGIS, the database ``carto_sample`` of the cluster (its path here is only a name).
    """
    if pg_cluster is not None:
        pg_cluster.copy_database(postgres.TEMPLATE, SAMPLE_TEMPLATE)
        connection = store.connect(pg_cluster.url(SAMPLE_TEMPLATE))
        sample.load_folder(connection, sample.SAMPLE_DIR)
        connection.close()
        return Path(SAMPLE_TEMPLATE)
    path = tmp_path_factory.mktemp("sample-db") / "sample.duckdb"
    connection = store.connect(path)
    sample.load_folder(connection, sample.SAMPLE_DIR)
    connection.close()
    return path


_COPIES = itertools.count(1)


def copy_sample(template: Path, folder: Path, cluster: postgres.Cluster | None, name: str) -> str:
    """A private copy of the sample database: a file in ``folder``, or a new database of the cluster."""
    if cluster is not None:
        return cluster.copy_database(str(template), f"{name}_{next(_COPIES)}")
    path = folder / f"{name}.duckdb"
    shutil.copy(template, path)
    return str(path)


@pytest.fixture
def sample_db(sample_db_template: Path, tmp_path: Path, pg_cluster: postgres.Cluster | None) -> Iterator[Path | str]:
    """A private copy of the sample database for one test (a DuckDB path, or a PostgreSQL URL)."""
    copied = copy_sample(sample_db_template, tmp_path, pg_cluster, "sample")
    if pg_cluster is None:
        yield Path(copied)
        return
    yield copied
    pg_cluster.drop_database(copied.rsplit("/", 1)[1])


# --- a served app for browser tests ----------------------------------------------------------


@pytest.fixture(scope="session")
def served_app(
    sample_db_template: Path, tmp_path_factory: pytest.TempPathFactory, pg_cluster: postgres.Cluster | None
) -> Iterator[str]:
    """URL of the dashboard served on a copy of the sample database, tiles off."""
    db = copy_sample(sample_db_template, tmp_path_factory.mktemp("served"), pg_cluster, "app")
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

"""Exports: formats, formula neutralisation, graphs read back by networkx, import round trips."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from carto import auth, store
from carto.errors import InputError
from carto.ingest import pipeline
from carto.render import export

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS


def _fill(conn: store.Connection) -> None:
    with store.transaction(conn) as cur:
        store.insert_rows(
            cur,
            "territories",
            gpd.GeoDataFrame(
                {
                    "code": ["44109", "44000"],
                    "name": ["Nantes", "Loire-Atlantique"],
                    "level": ["commune", "departement"],
                    "parent_code": ["44000", None],
                    "population": [320732, None],
                },
                geometry=[shapely.box(-1.6, 47.18, -1.5, 47.3), shapely.box(-2.5, 46.9, -1.0, 47.8)],
                crs="EPSG:4326",
            ),
        )
        store.insert_rows(
            cur,
            "actors",
            gpd.GeoDataFrame(
                {
                    "id": ["A1", "A2", "A3"],
                    "name": ["=cmd|' /C calc'!A0", "CAF de Nantes", "+Asso"],
                    "type": ["ccas", "caf", "association"],
                    "sector": ["social", None, "youth"],
                    "siret": [None, "12345678900011", None],
                },
                geometry=[shapely.Point(-1.55, 47.2), shapely.Point(-1.52, 47.25), shapely.Point(-2.0, 47.5)],
                crs="EPSG:4326",
            ),
        )
        store.insert_rows(
            cur,
            "places",
            gpd.GeoDataFrame(
                {
                    "id": ["P1"],
                    "name": ["Bellevue"],
                    "kind": ["neighbourhood"],
                    "population": [12000],
                    "publics": ["families"],
                },
                geometry=[shapely.box(-1.6, 47.2, -1.58, 47.22)],
                crs="EPSG:4326",
            ),
        )
        store.insert_rows(
            cur,
            "schemes",
            pd.DataFrame(
                {
                    "id": ["S1"],
                    "name": ["Contrat de ville"],
                    "kind": ["contrat_de_ville"],
                    "start": [dt.date(2024, 1, 1)],
                }
            ),
        )
        store.insert_rows(
            cur,
            "relations",
            pd.DataFrame(
                {
                    "id": ["R1", "R2", "R3", "R4"],
                    "source": ["A1", "A1", "A2", "P1"],
                    "target": ["A2", "A2", "P1", "A3"],
                    "kind": ["partnership", "referral", "network", "tension"],
                    "formal": [True, False, None, None],
                    "scheme_id": ["S1", None, None, None],
                    "weight": [2.0, None, 1.0, None],
                    "start": [dt.date(2024, 1, 1), None, None, None],
                    "end": [None, dt.date(2025, 6, 30), None, None],
                }
            ),
        )
        store.assign_territories(cur)


@pytest.fixture
def conn() -> store.Connection:
    c = store.connect(":memory:")
    _fill(c)
    return c


def _export(conn: store.Connection, name: str, fmt: str, out: Path) -> str:
    """What the CLI and the data page do: read the datasets the export needs, then export them."""
    frames = store.read_datasets(conn.cursor(), export.datasets_needed(name, fmt))
    return export.export(frames, name, fmt, out)


def test_csv_neutralises_formulas(conn: store.Connection, tmp_path: Path) -> None:
    out = tmp_path / "actors.csv"
    _export(conn, "actors", "csv", out)
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert table["name"].tolist() == ["'=cmd|' /C calc'!A0", "CAF de Nantes", "'+Asso"]
    assert table.columns.tolist() == [
        "id", "name", "type", "sector", "siret", "territory_code", "services", "lon", "lat",
    ]
    assert table[["lon", "lat"]].astype(float).values.tolist() == [
        [-1.55, 47.2],
        [-1.52, 47.25],
        [-2.0, 47.5],
    ]


def test_csv_polygons_as_wkt(conn: store.Connection, tmp_path: Path) -> None:
    out = tmp_path / "territories.csv"
    _export(conn, "territories", "csv", out)
    table = pd.read_csv(out, dtype=str)
    assert shapely.from_wkt(str(table.set_index("code").loc["44109", "wkt"])).equals(
        shapely.box(-1.6, 47.18, -1.5, 47.3)
    )


@pytest.mark.parametrize("fmt", ["geojson", "gpkg"])
def test_spatial_formats_keep_rows_and_geometries(conn: store.Connection, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"places.{fmt}"
    _export(conn, "places", fmt, out)
    back = gpd.read_file(out)
    stored = store.read_dataset(conn.cursor(), "places")
    assert back["id"].tolist() == ["P1"]
    assert back.geometry.iloc[0].equals(stored.geometry.iloc[0])
    assert int(back["population"].iloc[0]) == 12000


def test_non_spatial_dataset_in_geopackage(conn: store.Connection, tmp_path: Path) -> None:
    out = tmp_path / "relations.gpkg"
    _export(conn, "relations", "gpkg", out)
    back = gpd.read_file(out)
    assert back["id"].tolist() == ["R1", "R2", "R3", "R4"]
    assert back["start"].astype(str).tolist()[0].startswith("2024-01-01")


@pytest.mark.parametrize("fmt", ["gexf", "graphml"])
def test_network_graph_files_parse_back(conn: store.Connection, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"network.{fmt}"
    summary = _export(conn, "network", fmt, out)
    assert summary.startswith("network: 4 nodes and 4 edges")
    graph = nx.read_gexf(out) if fmt == "gexf" else nx.read_graphml(out)
    assert graph.number_of_nodes() == 4
    assert graph.number_of_edges() == 4
    assert graph.nodes["A2"]["node_kind"] == "actor"
    assert graph.nodes["P1"]["node_kind"] == "place"
    assert graph.nodes["A1"]["territory_code"] == "44109"
    kinds = sorted(d["kind"] for _, _, d in graph.edges(data=True))
    assert kinds == ["network", "partnership", "referral", "tension"]
    starts = [d.get("start_date") for _, _, d in graph.edges(data=True) if d["kind"] == "partnership"]
    assert starts == ["2024-01-01"]


@pytest.mark.parametrize(
    ("name", "fmt", "message"),
    [
        ("actors", "gexf", "GEXF and GraphML export the network"),
        ("network", "csv", "GEXF and GraphML export the network"),
        ("actors", "xls", "unknown format"),
        ("people", "csv", "unknown dataset 'people'"),
    ],
)
def test_export_refuses_wrong_combinations(tmp_path: Path, name: str, fmt: str, message: str) -> None:
    # Refused before any dataset is read: the callers ask which datasets to read first.
    with pytest.raises(InputError, match=message):
        export.datasets_needed(name, fmt)
    with pytest.raises(InputError, match=message):
        export.export({}, name, fmt, tmp_path / f"x.{fmt}")
    assert list(tmp_path.iterdir()) == []


def test_datasets_needed() -> None:
    assert export.datasets_needed("schemes", "csv") == ("schemes",)
    assert export.datasets_needed("network", "gexf") == ("actors", "places", "relations")


def test_export_takes_frames_not_the_store(tmp_path: Path) -> None:
    schemes = pd.DataFrame(
        {
            "id": ["S1"],
            "name": ["@SUM(1)"],
            "kind": ["contrat_de_ville"],
            "territory_code": ["44109"],
            "start": [dt.date(2024, 1, 1)],
            "end": [None],
            "lead": [None],
        }
    )
    out = tmp_path / "schemes.csv"
    assert export.export({"schemes": schemes}, "schemes", "csv", out) == f"schemes: 1 rows written to {out}"
    assert out.read_bytes() == (
        b"id,name,kind,territory_code,start,end,lead\r\nS1,'@SUM(1),contrat_de_ville,44109,2024-01-01,,\r\n"
    )


ROUND_TRIPS = [
    ("territories", "geojson"),
    ("territories", "gpkg"),
    ("actors", "gpkg"),
    ("actors", "csv"),
    ("places", "gpkg"),
    ("schemes", "csv"),
    ("relations", "csv"),
]


@pytest.mark.parametrize(("name", "fmt"), ROUND_TRIPS)
def test_round_trip_export_then_import(conn: store.Connection, tmp_path: Path, name: str, fmt: str) -> None:
    out = tmp_path / f"{name}.{fmt}"
    _export(conn, name, fmt, out)
    before = store.read_dataset(conn.cursor(), name)
    result = pipeline.run_import(
        conn,
        out,
        name,
        pipeline.ImportOptions(mode="replace", crs="EPSG:4326"),
        user=auth.User("test", "analyst", "local"),
    )
    assert (result.deleted, result.inserted, result.skipped) == (len(before), len(before), 0)
    after = store.read_dataset(conn.cursor(), name)
    if isinstance(before, gpd.GeoDataFrame):
        assert_geodataframe_equal(before, after, check_dtype=False, check_less_precise=True)
    else:
        pd.testing.assert_frame_equal(before, after, check_dtype=False)

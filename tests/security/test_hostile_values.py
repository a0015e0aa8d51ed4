"""Hostile values through the import and out of every export format, read back by other readers.

Names may hold markup, template syntax, spreadsheet formulas and control characters. The import
removes control characters (they are never part of a name and make XML unreadable); every export
then reads back, with the reader a user would use (pyogrio, the csv module, networkx), as the
text that was stored: only CSV cells that a spreadsheet would run get a leading ``'``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import hostile_data
import networkx as nx
import pandas as pd
import pyogrio
import pytest
import shapely

from carto import auth, store
from carto.ingest import pipeline
from carto.render import export

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

ANALYST = auth.User("test", "analyst", "local")

# What a spreadsheet would run: the CSV export writes them with a leading "'".
FORMULAS = ("+1", "-1", "@SUM(A1)", '=HYPERLINK("http://evil.example","clic")', "=1+1")

# Control characters as an uploaded file may hold them, and the name the import keeps.
CONTROLS = {
    "Centre\x01 social": "Centre social",
    "Maison\tdes\r\njeunes": "Maison des jeunes",
    "\x1b[31mRouge\x07\x7f": "[31mRouge",
    "Fin\x08\x1f": "Fin",
    "\tTab": "Tab",
    "\rCR": "CR",
}

FORMATS = ("geojson", "gpkg", "csv", "gexf", "graphml")


def _names(path: Path, fmt: str) -> dict[str, str]:
    """``{id: name}`` of the actors in an exported file, read by a reader the user would use."""
    if fmt in ("geojson", "gpkg"):
        frame = pyogrio.read_dataframe(path)
        return dict(zip(frame["id"], frame["name"], strict=True))
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as file:
            return {row["id"]: row["name"] for row in csv.DictReader(file)}
    graph = nx.read_gexf(path) if fmt == "gexf" else nx.read_graphml(path)
    # The label (what Gephi shows) is the name too.
    assert all(data["label"] == data["name"] for _, data in graph.nodes(data=True))
    return {str(node): data["name"] for node, data in graph.nodes(data=True)}


def _export(conn: store.Connection, fmt: str, folder: Path) -> Path:
    out = folder / f"export.{fmt}"
    name = "network" if fmt in export.GRAPH_FORMATS else "actors"
    export.export(store.read_datasets(conn.cursor(), export.datasets_needed(name, fmt)), name, fmt, out)
    return out


# --- through the import ----------------------------------------------------------------------


@pytest.fixture
def imported(tmp_path: Path) -> store.Connection:
    """Actors named by every payload, formula and control character, imported from a CSV file."""
    names = [*hostile_data.PAYLOADS, *FORMULAS, *CONTROLS]
    path = tmp_path / "acteurs.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "nom", "type", "latitude", "longitude"])
        writer.writerows([f"a{i}", name, "ccas", "47.2", "-1.55"] for i, name in enumerate(names))
    conn = store.connect(":memory:")
    result = pipeline.run_import(conn, path, "actors", pipeline.ImportOptions(), user=ANALYST)
    assert (result.inserted, result.report.errors) == (len(names), 0)
    assert result.report.by_code == {"control_characters": 4}
    return conn


def _imported_names() -> dict[str, str]:
    names = [*hostile_data.PAYLOADS, *FORMULAS, *CONTROLS.values()]
    return {f"a{i}": name for i, name in enumerate(names)}


@pytest.mark.parametrize("fmt", FORMATS)
def test_imported_hostile_names_read_back_from_every_export(
    imported: store.Connection, tmp_path: Path, fmt: str
) -> None:
    expected = _imported_names()
    if fmt == "csv":
        expected = {key: "'" + name if name in FORMULAS else name for key, name in expected.items()}
    assert _names(_export(imported, fmt, tmp_path), fmt) == expected


def test_csv_export_of_hostile_names_imports_back_unchanged(imported: store.Connection, tmp_path: Path) -> None:
    out = _export(imported, "csv", tmp_path)
    again = store.connect(":memory:")
    pipeline.run_import(again, out, "actors", pipeline.ImportOptions(), user=ANALYST)
    stored = store.read_dataset(again.cursor(), "actors")
    assert dict(zip(stored["id"], stored["name"], strict=True)) == _imported_names()


# --- a store that holds them already (an older database, a direct load) -----------------------

RAW = {
    "r1": "\tTab",
    "r2": "\rCR",
    "r3": "bell\x07 esc\x1b del\x7f",
    "r4": "ligne\r\nsuivante",
    "r5": "non-caractère \ufffe",
    "r6": "<img src=x onerror=alert(1)>",
    "r7": "-1",
}

# GEXF and GraphML cannot hold C0 controls (tab and line breaks aside) or U+FFFE; GraphML readers
# turn CR into LF, so both formats write LF.
IN_XML = {
    "r1": "\tTab",
    "r2": "\nCR",
    "r3": "bell esc del\x7f",
    "r4": "ligne\nsuivante",
    "r5": "non-caractère ",
    "r6": "<img src=x onerror=alert(1)>",
    "r7": "-1",
}

IN_CSV = {**RAW, "r1": "'\tTab", "r2": "'\rCR", "r7": "'-1"}


@pytest.fixture
def stored(tmp_path: Path) -> store.Connection:
    conn = store.connect(":memory:")
    with store.transaction(conn) as cur:
        store.insert_rows(
            cur,
            "actors",
            gpd.GeoDataFrame(
                {"id": list(RAW), "name": list(RAW.values()), "type": ["ccas"] * len(RAW)},
                geometry=[shapely.Point(-1.55, 47.2)] * len(RAW),
                crs="EPSG:4326",
            ),
        )
    return conn


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("geojson", RAW), ("gpkg", RAW), ("csv", IN_CSV), ("gexf", IN_XML), ("graphml", IN_XML)],
)
def test_stored_control_characters_never_break_an_export(
    stored: store.Connection, tmp_path: Path, fmt: str, expected: dict[str, str]
) -> None:
    assert _names(_export(stored, fmt, tmp_path), fmt) == expected


def test_control_characters_in_ids_never_break_a_graph_file(tmp_path: Path) -> None:
    conn = store.connect(":memory:")
    with store.transaction(conn) as cur:
        store.insert_rows(
            cur,
            "actors",
            gpd.GeoDataFrame(
                {"id": ["a\x01", "b"], "name": ["A", "B"], "type": ["ccas", "caf"]},
                geometry=[shapely.Point(-1.55, 47.2)] * 2,
                crs="EPSG:4326",
            ),
        )
        store.insert_rows(
            cur,
            "relations",
            pd.DataFrame({"id": ["r\x02"], "source": ["a\x01"], "target": ["b"], "kind": ["partnership"]}),
        )
    for fmt in export.GRAPH_FORMATS:
        out = _export(conn, fmt, tmp_path)
        graph = nx.read_gexf(out) if fmt == "gexf" else nx.read_graphml(out)
        assert sorted(graph.nodes) == ["a", "b"]
        assert [(u, v, d["id"]) for u, v, d in graph.edges(data=True)] == [("a", "b", "r")]

"""Write datasets as GeoJSON, GeoPackage or CSV, and the network as GEXF or GraphML.

Frames in, files out: the caller reads the datasets :func:`datasets_needed` names (from the store)
and passes them; nothing here reads the database.

CSV cells that a spreadsheet would run as a formula (starting with ``= + - @``, tab or CR) get a
leading ``'``. In CSV, points are written as ``lon``/``lat`` columns and other geometries as WKT in
a ``wkt`` column, so the file reads back through the import. Graph files carry no ``None`` and
dates as ISO text, which GEXF and GraphML readers (Gephi, networkx) accept, and no character that
XML forbids (:func:`xml_text`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import pandas as pd
import pyogrio
import shapely

from carto.errors import InputError
from carto.model import CRS, DATASETS, Dataset
from carto.text import neutralise_formulas, xml_text

TABLE_FORMATS = ("geojson", "gpkg", "csv")
GRAPH_FORMATS = ("gexf", "graphml")
FORMATS = TABLE_FORMATS + GRAPH_FORMATS
NETWORK = "network"
# The datasets the network is drawn from: its nodes, then its edges.
NETWORK_DATASETS = ("actors", "places", "relations")

MEDIA_TYPES = {
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "csv": "text/csv",
    "gexf": "application/gexf+xml",
    "graphml": "application/graphml+xml",
}

# networkx reads "start"/"end" on GEXF elements as a dynamic graph's time spans: rename them.
GRAPH_RENAMES = {"start": "start_date", "end": "end_date"}


def _plain(frame: pd.DataFrame, ds: Dataset) -> pd.DataFrame:
    """Attribute columns with dates as ISO text (every format writes them the same way)."""
    out = pd.DataFrame(index=frame.index)
    for col in ds.columns:
        values = frame[col.name]
        if col.sql_type == "DATE":
            dates = pd.to_datetime(values)
            values = dates.dt.strftime("%Y-%m-%d").astype("object").where(dates.notna(), None)
        values = values.astype("object")
        out[col.name] = values.where(pd.notna(values), None)
    return out


def write_table(frame: pd.DataFrame, name: str, fmt: str, out: Path) -> int:
    """Write ``frame``, the rows of dataset ``name``, to ``out`` in ``fmt``; return the number of rows."""
    ds = DATASETS.get(name)
    if ds is None:
        msg = f"unknown dataset {name!r}; expected one of: {', '.join(DATASETS)}"
        raise InputError(msg)
    if fmt not in TABLE_FORMATS:
        msg = f"a dataset exports as {', '.join(TABLE_FORMATS)}, not {fmt!r} (graphs: DATASET network)"
        raise InputError(msg)
    attributes = _plain(frame, ds)
    out = Path(out)
    if fmt == "csv":
        if ds.geometry is not None:
            geoms = frame.geometry.to_numpy()
            if ds.geometry == "point":
                attributes["lon"] = shapely.get_x(geoms)
                attributes["lat"] = shapely.get_y(geoms)
            else:
                attributes["wkt"] = shapely.to_wkt(geoms, rounding_precision=-1)
        # CRLF rows (RFC 4180): the writer then quotes every cell holding a CR or LF of its own.
        neutralise_formulas(attributes).to_csv(out, index=False, encoding="utf-8", lineterminator="\r\n")
        return len(frame)
    geometry = frame.geometry.to_numpy() if ds.geometry is not None else None
    driver = "GeoJSON" if fmt == "geojson" else "GPKG"
    if out.exists():
        out.unlink()
    if geometry is None:
        pyogrio.write_dataframe(attributes, out, driver=driver, layer=name)
    else:
        gdf = gpd.GeoDataFrame(attributes, geometry=geometry, crs=CRS)
        pyogrio.write_dataframe(gdf, out, driver=driver, layer=name, promote_to_multi=False)
    return len(frame)


def _attrs(record: Mapping[Any, Any]) -> dict[str, Any]:
    """Attributes without ``None``/NaN (GEXF and GraphML have no null), dates as text."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            continue
        if isinstance(value, dt.date | pd.Timestamp):
            value = value.isoformat()[:10]
        elif isinstance(value, str):
            value = xml_text(value)
        elif hasattr(value, "item"):  # numpy scalars
            value = value.item()
        out[GRAPH_RENAMES.get(str(key), str(key))] = value
    return out


def network_graph(actors: pd.DataFrame, places: pd.DataFrame, relations: pd.DataFrame) -> nx.MultiDiGraph:
    """Actors and places as nodes (with their attributes), relations as edges keyed by id."""
    graph = nx.MultiDiGraph()
    for name, node_kind, frame in (("actors", "actor", actors), ("places", "place", places)):
        points = shapely.point_on_surface(frame.geometry.to_numpy())
        attributes = _plain(frame, DATASETS[name])
        attributes["lon"] = shapely.get_x(points)
        attributes["lat"] = shapely.get_y(points)
        for record in attributes.to_dict("records"):
            node = xml_text(str(record.pop("id")))
            if "population" in record and record["population"] is not None:
                record["population"] = float(record["population"])
            label = xml_text(str(record.get("name") or node))
            graph.add_node(node, node_kind=node_kind, label=label, **_attrs(record))
    for record in _plain(relations, DATASETS["relations"]).to_dict("records"):
        source, target = xml_text(str(record.pop("source"))), xml_text(str(record.pop("target")))
        if record.get("weight") is not None:
            record["weight"] = float(record["weight"])
        graph.add_edge(source, target, key=xml_text(str(record["id"])), **_attrs(record))
    return graph


def write_graph(graph: nx.MultiDiGraph, fmt: str, out: Path) -> tuple[int, int]:
    """Write the network (:func:`network_graph`) as GEXF or GraphML; return (nodes, edges)."""
    if fmt == "gexf":
        nx.write_gexf(graph, out)
    elif fmt == "graphml":
        nx.write_graphml(graph, out, edge_id_from_attribute="id")
    else:
        msg = f"the network exports as {', '.join(GRAPH_FORMATS)}, not {fmt!r}"
        raise InputError(msg)
    return graph.number_of_nodes(), graph.number_of_edges()


def datasets_needed(name: str, fmt: str) -> tuple[str, ...]:
    """The datasets an export of ``name`` (a dataset, or ``network``) as ``fmt`` is made from.

    Raises :class:`InputError` for an unknown format or dataset, or a pair that does not go together.
    """
    if fmt not in FORMATS:
        msg = f"unknown format {fmt!r}; expected one of: {', '.join(FORMATS)}"
        raise InputError(msg)
    if name == NETWORK or fmt in GRAPH_FORMATS:
        if name != NETWORK or fmt not in GRAPH_FORMATS:
            msg = "GEXF and GraphML export the network: use DATASET network with --format gexf or graphml"
            raise InputError(msg)
        return NETWORK_DATASETS
    if name not in DATASETS:
        msg = f"unknown dataset {name!r}; expected one of: {', '.join(DATASETS)}"
        raise InputError(msg)
    return (name,)


def export(frames: Mapping[str, pd.DataFrame], name: str, fmt: str, out: Path) -> str:
    """Write ``name`` (a dataset, or ``network``) as ``fmt`` to ``out``; return a one-line summary.

    ``frames`` holds every row of the datasets :func:`datasets_needed` names, by dataset name.
    """
    needed = datasets_needed(name, fmt)
    missing = [n for n in needed if n not in frames]
    if missing:
        msg = f"exporting {name} needs the rows of {', '.join(missing)}"
        raise ValueError(msg)
    if name == NETWORK:
        graph = network_graph(frames["actors"], frames["places"], frames["relations"])
        nodes, edges = write_graph(graph, fmt, out)
        return f"network: {nodes} nodes and {edges} edges written to {out}"
    rows = write_table(frames[name], name, fmt, out)
    return f"{name}: {rows} rows written to {out}"


def export_bytes(frames: Mapping[str, pd.DataFrame], name: str, fmt: str, workdir: Path) -> bytes:
    """The exported file's bytes (for a download button), written through a temp file in ``workdir``."""
    suffix = {"gpkg": ".gpkg", "geojson": ".geojson", "csv": ".csv", "gexf": ".gexf", "graphml": ".graphml"}
    path = Path(workdir) / f"{name}{suffix[fmt]}"
    export(frames, name, fmt, path)
    try:
        return path.read_bytes()
    finally:
        path.unlink(missing_ok=True)

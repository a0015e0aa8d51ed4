"""One selection shared by the map and the network, and the pure transitions between states.

The page keeps a single :class:`Selection`; a click on the map and a click/box/lasso in the
network both go through a transition here, so both views always show the same thing.
Map clicks come back from streamlit-folium as a dict (``last_object_clicked``,
``last_object_clicked_tooltip``, ...): :func:`clicked_object` turns that dict into a node id
or a territory code without any streamlit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from carto.model import ID_PATTERN

RADIUS_MIN, RADIUS_MAX = 1, 3
_IDENT = re.compile(ID_PATTERN)
# Map tooltips name what they show with its id in brackets: "Centre social Les Tilleuls [A000123]",
# "Montluçon [03185]".
_TOOLTIP_ID = re.compile(r"\[([^\[\]]+)\]")
_MAX_NODES = 500


@dataclass(frozen=True)
class Selection:
    """Selected node ids (sorted), a selected territory, and the ego radius (1 to 3 steps).

    ``area``: the nodes are those inside a shape drawn on the map, and both views show the
    subgraph they induce rather than their ego network.
    """

    nodes: tuple[str, ...] = ()
    territory: str | None = None
    radius: int = 1
    area: bool = False

    @property
    def empty(self) -> bool:
        return not self.nodes and self.territory is None

    def to_query_params(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.nodes:
            out["sel"] = ",".join(self.nodes)
        if self.territory:
            out["tsel"] = self.territory
        if self.radius != RADIUS_MIN:
            out["radius"] = str(self.radius)
        if self.area and self.nodes:
            out["area"] = "1"
        return out

    @classmethod
    def from_query_params(cls, params: Mapping[str, object]) -> Selection:
        """Rebuild from a URL; invalid ids and radii are dropped."""

        def text(key: str) -> str:
            value = params.get(key)
            if isinstance(value, list):
                value = value[-1] if value else None
            return value if isinstance(value, str) else ""

        nodes = [n for n in text("sel").split(",") if _IDENT.match(n)][:_MAX_NODES]
        territory = text("tsel")
        try:
            radius = int(text("radius") or RADIUS_MIN)
        except ValueError:
            radius = RADIUS_MIN
        return cls(
            nodes=tuple(sorted(set(nodes))),
            territory=territory if _IDENT.match(territory) else None,
            radius=radius if RADIUS_MIN <= radius <= RADIUS_MAX else RADIUS_MIN,
            area=bool(nodes) and text("area") == "1",
        )


SELECTION_KEYS = ("sel", "tsel", "radius", "area")


@dataclass(frozen=True)
class Clicked:
    """What a map click hit: ``kind`` is ``"node"`` or ``"territory"``."""

    kind: str
    id: str


def select_from_map(state: Selection, clicked: Clicked | None) -> Selection:
    """A map click on a node selects that node alone; on a territory, selects the territory.

    Clicking the territory already selected unselects it; a click on nothing known changes nothing.
    """
    if clicked is None:
        return state
    if clicked.kind == "node":
        return replace(state, nodes=(clicked.id,), area=False)
    if clicked.kind == "territory":
        territory = None if state.territory == clicked.id else clicked.id
        return replace(state, territory=territory, nodes=(), area=False)
    return state


def select_from_network(state: Selection, point_ids: Iterable[str]) -> Selection:
    """Nodes picked in the network (click, box or lasso) become the selection."""
    ids = tuple(sorted({str(p) for p in point_ids if p is not None}))
    return replace(state, nodes=ids, area=False)


def drawn_area(drawings: object) -> shapely.Geometry | None:
    """The union of the polygons drawn on the map (streamlit-folium's ``all_drawings``), or None.

    Anything that is not a GeoJSON polygon feature (a line, a malformed entry) is ignored.
    """
    shapes = []
    for feature in drawings if isinstance(drawings, list) else []:
        geometry = feature.get("geometry") if isinstance(feature, Mapping) else None
        if not isinstance(geometry, Mapping) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        try:
            shape = shapely.geometry.shape(dict(geometry))
        except (ValueError, TypeError, AttributeError, IndexError, KeyError):
            continue
        if shape.is_valid and not shape.is_empty:
            shapes.append(shape)
    return shapely.union_all(shapes) if shapes else None


def nodes_in_area(area: shapely.Geometry, nodes: pd.DataFrame) -> list[str]:
    """Ids of the nodes (``lon``/``lat`` by id) inside ``area`` or on its border, sorted."""
    located = nodes[["lon", "lat"]].dropna()
    points = shapely.points(located["lon"].to_numpy(dtype=float), located["lat"].to_numpy(dtype=float))
    inside = np.asarray(shapely.covers(area, points), dtype=bool)
    return sorted(str(i) for i in located.index[inside])


def select_from_drawing(state: Selection, drawings: object, nodes: pd.DataFrame) -> Selection:
    """The nodes inside the shape drawn on the map become the selection (an area selection).

    No shape, or none with a node inside, changes nothing.
    """
    area = drawn_area(drawings)
    ids = nodes_in_area(area, nodes)[:_MAX_NODES] if area is not None else []
    if not ids:
        return state
    return replace(state, nodes=tuple(ids), area=True)


def with_radius(state: Selection, radius: int) -> Selection:
    return replace(state, radius=min(RADIUS_MAX, max(RADIUS_MIN, int(radius))))


def clear(state: Selection) -> Selection:
    """Nothing selected; the radius is a preference and stays."""
    return Selection(radius=state.radius)


def event_token(event: object) -> str:
    """A stable text form of a widget event, to tell a new click from one already handled."""
    return json.dumps(event, sort_keys=True, default=str)


def network_point_ids(event: Mapping[str, object] | None) -> list[str]:
    """Node ids of the points in a plotly selection event (``customdata`` holds the id)."""
    if not event:
        return []
    selection = event.get("selection") if isinstance(event, Mapping) else None
    points = selection.get("points", []) if isinstance(selection, Mapping) else []
    ids: list[str] = []
    for point in points if isinstance(points, list) else []:
        if not isinstance(point, Mapping):
            continue
        custom = point.get("customdata")
        if isinstance(custom, list | tuple):
            custom = custom[0] if custom else None
        if isinstance(custom, str):
            ids.append(custom)
    return ids


def clicked_object(
    returned: Mapping[str, object] | None,
    nodes: pd.DataFrame,
    territory_codes: Iterable[str] = (),
    *,
    tolerance: float = 1e-4,
) -> Clicked | None:
    """What the last map click hit, from streamlit-folium's returned dict.

    ``nodes`` has ``lon``/``lat`` columns indexed by node id. The tooltip is read first: node and
    territory tooltips hold ``[id]`` / ``[code]``. Without a usable tooltip, the click position
    is matched to the nearest node within ``tolerance`` degrees.
    """
    if not returned:
        return None
    tooltip = returned.get("last_object_clicked_tooltip")
    if isinstance(tooltip, str) and tooltip.strip():
        found = _TOOLTIP_ID.findall(tooltip)
        codes = set(territory_codes)
        for ident in found:
            if ident in nodes.index:
                return Clicked("node", ident)
        for ident in found:
            if ident in codes:
                return Clicked("territory", ident)
    point = returned.get("last_object_clicked")
    if isinstance(point, Mapping) and len(nodes):
        try:
            lat, lon = float(point["lat"]), float(point["lng"])
        except (KeyError, TypeError, ValueError):
            return None
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        distance = ((nodes["lon"] - lon).abs() + (nodes["lat"] - lat).abs()).to_numpy(dtype=float)
        best = int(distance.argmin())
        if distance[best] <= tolerance:
            return Clicked("node", str(nodes.index[best]))
    return None


def clicked_node(returned: Mapping[str, object] | None, nodes: pd.DataFrame) -> str | None:
    """The node id a map click hit, or None (territories ignored)."""
    hit = clicked_object(returned, nodes)
    return hit.id if hit is not None and hit.kind == "node" else None

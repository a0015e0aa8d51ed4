"""The summary's map as a PNG, drawn with Pillow: no base tiles, nothing fetched, made offline."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import geopandas as gpd
import pandas as pd
from PIL import Image, ImageDraw
from shapely.geometry.base import BaseGeometry

from carto.analysis.summary import Summary
from carto.render import palette, summary_text

_BACKGROUND = palette.rgb(palette.BACKGROUND)
_TERRITORY_FILL = palette.rgb(palette.TERRITORY_FILL)
_TERRITORY_LINE = palette.rgb(palette.TERRITORY_LINE)
# The legend's marks (carto.render.summary_text.map_legend).
ACTOR_COLOUR = palette.rgb(summary_text.ACTOR_MARK)
ISOLATED_COLOUR = palette.rgb(summary_text.ISOLATED_MARK)
PLACE_COLOUR = palette.rgb(summary_text.PLACE_MARK)
UNCOVERED_COLOUR = palette.rgb(summary_text.UNCOVERED_MARK)


def territory_map_png(
    territory_geom: BaseGeometry | None,
    actors: pd.DataFrame,
    places: pd.DataFrame,
    *,
    width_px: int = 800,
    height_px: int = 600,
    isolated_ids: Sequence[str] = (),
    uncovered_ids: Sequence[str] = (),
) -> bytes:
    """A static PNG of the territory's outline, its places (squares) and actors (dots).

    No base map: nothing is fetched. Longitudes are shrunk by cos(latitude) so shapes keep
    their proportions. Isolated actors and uncovered places are drawn in warning colours.
    """
    scale = 2  # drawn at twice the size then reduced: smooth edges without an antialiasing API
    w, h = width_px * scale, height_px * scale
    image = Image.new("RGB", (w, h), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    geoms = [g for g in (territory_geom,) if g is not None and not g.is_empty]
    for frame in (actors, places):
        if isinstance(frame, gpd.GeoDataFrame) and len(frame):
            geoms.extend(g for g in frame.geometry if g is not None and not g.is_empty)
    if not geoms:
        buffer = io.BytesIO()
        image.resize((width_px, height_px)).save(buffer, format="PNG")
        return buffer.getvalue()
    bounds = [g.bounds for g in geoms]
    minx, miny = min(b[0] for b in bounds), min(b[1] for b in bounds)
    maxx, maxy = max(b[2] for b in bounds), max(b[3] for b in bounds)
    shrink = math.cos(math.radians((miny + maxy) / 2))
    span_x = max((maxx - minx) * shrink, 1e-6)
    span_y = max(maxy - miny, 1e-6)
    margin = 0.05 * min(w, h)
    k = min((w - 2 * margin) / span_x, (h - 2 * margin) / span_y)
    off_x = (w - span_x * k) / 2
    off_y = (h - span_y * k) / 2

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return off_x + (lon - minx) * shrink * k, h - (off_y + (lat - miny) * k)

    def rings(geom: BaseGeometry) -> list[tuple[list[tuple[float, float]], bool]]:
        parts = getattr(geom, "geoms", [geom])
        out = []
        for part in parts:
            if part.geom_type == "Polygon":
                out.append(([xy(x, y) for x, y, *_ in part.exterior.coords], True))
                out.extend(([xy(x, y) for x, y, *_ in hole.coords], False) for hole in part.interiors)
        return out

    if territory_geom is not None and not territory_geom.is_empty:
        for ring, outer in rings(territory_geom):
            draw.polygon(ring, fill=_TERRITORY_FILL if outer else _BACKGROUND)
        for ring, _ in rings(territory_geom):
            draw.line([*ring, ring[0]], fill=_TERRITORY_LINE, width=2 * scale, joint="curve")

    r = max(3 * scale, min(w, h) // 90)
    uncovered = set(uncovered_ids)
    if isinstance(places, gpd.GeoDataFrame):
        for pid, geom in zip(places["id"], places.geometry, strict=True):
            if geom is None or geom.is_empty:
                continue
            colour = UNCOVERED_COLOUR if pid in uncovered else PLACE_COLOUR
            for ring, outer in rings(geom):
                if outer:
                    draw.line([*ring, ring[0]], fill=colour, width=scale)
            x, y = xy(*geom.representative_point().coords[0][:2])
            draw.rectangle((x - r, y - r, x + r, y + r), outline=colour, width=scale * 2)
    isolated = set(isolated_ids)
    if isinstance(actors, gpd.GeoDataFrame):
        for aid, geom in zip(actors["id"], actors.geometry, strict=True):
            if geom is None or geom.is_empty:
                continue
            x, y = xy(*geom.representative_point().coords[0][:2])
            colour = ISOLATED_COLOUR if aid in isolated else ACTOR_COLOUR
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=_BACKGROUND, width=scale)
    buffer = io.BytesIO()
    image.resize((width_px, height_px), Image.Resampling.LANCZOS).save(buffer, format="PNG")
    return buffer.getvalue()


def summary_map_png(summary: Summary, *, width_px: int = 800, height_px: int = 600) -> bytes:
    """The summary's map: outline, places (uncovered in red), actors (isolated in orange)."""
    return territory_map_png(
        summary.geometry,
        summary.actors,
        summary.places,
        width_px=width_px,
        height_px=height_px,
        isolated_ids=[p.id for p in summary.isolated],
        uncovered_ids=[p.id for p in summary.uncovered],
    )

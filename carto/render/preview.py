"""What the import page shows of a file before it is stored: its mapped rows as a map and a table,
the check report's figures and problems, field names in words.

The file is untrusted: its values and column names reach the map as text only
(:class:`carto.render.plain.StyledGeoJson`), never through a template or into HTML.
"""

from __future__ import annotations

import os
from typing import Protocol

import folium
import geopandas as gpd
import pandas as pd

from carto import i18n
from carto.render import offline
from carto.render.plain import STYLE_PROPERTY, StyledGeoJson

PREVIEW_FEATURES = 500
PREVIEW_ROWS = 200
# Leaflet path options of every previewed feature (points are drawn as circles of this radius).
PREVIEW_STYLE = {"color": "#1f4e9c", "weight": 2, "fillColor": "#1f4e9c", "fillOpacity": 0.5, "radius": 4}


def preview_table(frame: pd.DataFrame, *, rows: int = PREVIEW_ROWS) -> pd.DataFrame:
    """The first mapped rows, geometry as WKT text (what ``st.dataframe`` can show)."""
    head = frame.head(rows)
    out = pd.DataFrame(head.drop(columns=[c for c in ("geometry",) if c in head.columns]))
    if isinstance(head, gpd.GeoDataFrame):
        out[head.geometry.name] = head.geometry.to_wkt(rounding_precision=5)
    return out


def preview_map(frame: gpd.GeoDataFrame, *, tiles: str, features: int = PREVIEW_FEATURES) -> folium.Map:
    """A small offline map of the first ``features`` mapped geometries, zoomed on them."""
    shown = frame[frame.geometry.notna() & ~frame.geometry.is_empty].head(features)
    shown = shown[shown.geometry.is_valid]
    m = offline.make_map((46.6, 2.4), 5, tiles=tiles)
    if len(shown):
        x0, y0, x1, y1 = shown.total_bounds
        m.fit_bounds([[y0, x0], [y1, x1]])
        columns = [str(c) for c in shown.columns if c not in ("_row", shown.geometry.name)][:3]
        properties = pd.DataFrame(
            {
                f"f{i}": shown[c].astype("object").map(lambda v: "" if v is None or pd.isna(v) else str(v)).to_numpy()
                for i, c in enumerate(columns)
            }
        )
        properties[STYLE_PROPERTY] = 0
        StyledGeoJson(
            properties,
            shown.geometry.to_numpy(),
            [PREVIEW_STYLE],
            tooltip=[(f"f{i}", c) for i, c in enumerate(columns)],
            circle_points=True,
            name="preview",
        ).add_to(m)
    return m


def preview_tiles(chosen: object) -> str:
    """Base tiles of the preview: the map page's choice, else ``$CARTO_TILES``, else none (offline)."""
    for candidate in (chosen, os.environ.get("CARTO_TILES")):
        if isinstance(candidate, str) and candidate in offline.TILE_CHOICES:
            return candidate
    return "none"


class CheckCounts(Protocol):
    """What a check report counts (:class:`carto.ingest.validate.Report`)."""

    @property
    def rows(self) -> int: ...
    @property
    def valid_rows(self) -> int: ...
    @property
    def errors(self) -> int: ...
    @property
    def warnings(self) -> int: ...


def report_figures(report: CheckCounts) -> list[tuple[str, int]]:
    """The four counts the page shows above the problems."""
    return [
        ("rows", report.rows),
        ("valid", report.valid_rows),
        ("errors", report.errors),
        ("warnings", report.warnings),
    ]


def report_table(problems: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The problems (a report's ``to_frame()``) with translated headers and codes, for the page's table."""
    table = problems.copy()
    table["problem"] = table["code"].map(lambda c: i18n.t(f"import.code.{c}", lang))
    table = table[["row", "id", "field", "severity", "problem", "message"]]
    return table.rename(columns={c: i18n.t(f"import.col.{c}", lang) for c in table.columns})


def field_label(field: str, lang: str) -> str:
    """The field's translated name (``field.<name>`` in the catalogues), else the code name."""
    key = f"field.{field}"
    text = i18n.t(key, lang)
    return field if text == key else text

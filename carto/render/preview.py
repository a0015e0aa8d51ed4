"""What the import page shows of a file before it is stored: its mapped rows as a map and a table,
the check report's figures and problems, field names in words.

The file is untrusted: its values and column names reach the map as text only
(:class:`carto.render.plain.StyledGeoJson`), never through a template or into HTML.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

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


def preview_table(frame: pd.DataFrame, *, rows: int = PREVIEW_ROWS, lang: str | None = None) -> pd.DataFrame:
    """The first mapped rows, geometry as WKT text (what ``st.dataframe`` can show).

    With ``lang``, the columns are named in that language (the row number first, the internal
    ``_issue`` left out).
    """
    head = frame.head(rows)
    out = pd.DataFrame(head.drop(columns=[c for c in ("geometry",) if c in head.columns]))
    if isinstance(head, gpd.GeoDataFrame):
        out[head.geometry.name] = head.geometry.to_wkt(rounding_precision=5)
    if lang is None:
        return out
    out = out.drop(columns=[c for c in ("_issue",) if c in out.columns])
    if "_row" in out.columns:
        out = out[["_row", *(c for c in out.columns if c != "_row")]]
    names = {c: i18n.t("import.col.row", lang) if c == "_row" else field_label(str(c), lang) for c in out.columns}
    return out.rename(columns=names)


def preview_map(
    frame: gpd.GeoDataFrame, *, tiles: str, features: int = PREVIEW_FEATURES, lang: str | None = None
) -> folium.Map:
    """A small offline map of the first ``features`` mapped geometries, zoomed on them.

    With ``lang``, the tooltips name the fields in that language.
    """
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
            tooltip=[(f"f{i}", field_label(c, lang) if lang else c) for i, c in enumerate(columns)],
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


def report_table(problems: pd.DataFrame, lang: str, *, mapped: pd.DataFrame | None = None) -> pd.DataFrame:
    """The problems (a report's ``to_frame()``) in the user's language only, for the page's table.

    Field, severity and problem are translated; the English detail (written for the command line)
    gives way to what to do on the page (``import.fix.<code>``) and, from ``mapped`` (the rows as
    mapped, before the checks), the value the file holds.
    """
    table = problems.copy()
    # A code without words yet (added by a newer check) shows as itself, with no advice; never a key.
    table["problem"] = table["code"].map(lambda c: _said(f"import.code.{c}", lang, c))
    table["fix"] = table["code"].map(lambda c: _said(f"import.fix.{c}", lang, ""))
    table["field"] = table["field"].map(lambda f: field_label(str(f), lang))
    table["severity"] = table["severity"].map(lambda s: i18n.t(f"import.severity.{s}", lang))
    table["value"] = _problem_values(problems, mapped)
    table = table[["row", "id", "field", "value", "severity", "problem", "fix"]]
    return table.rename(columns={c: i18n.t(f"import.col.{c}", lang) for c in table.columns})


def _said(key: str, lang: str, missing: str) -> str:
    text = i18n.t(key, lang)
    return missing if text == key else text


def _problem_values(problems: pd.DataFrame, mapped: pd.DataFrame | None) -> list[str]:
    """The file's value of each problem's field on its row, as text ("" when there is none)."""
    if mapped is None or "_row" not in mapped.columns or problems.empty:
        return [""] * len(problems)
    by_row = pd.DataFrame(mapped.drop(columns=[c for c in ("geometry",) if c in mapped.columns])).set_index("_row")
    by_row = by_row[~by_row.index.duplicated()]
    out = []
    for row, field in zip(problems["row"], problems["field"], strict=True):
        value: Any = by_row.at[row, field] if field in by_row.columns and row in by_row.index else None
        out.append("" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value))
    return out


def field_label(field: str, lang: str) -> str:
    """The field's translated name (``field.<name>`` in the catalogues), else the code name."""
    key = f"field.{field}"
    text = i18n.t(key, lang)
    return field if text == key else text

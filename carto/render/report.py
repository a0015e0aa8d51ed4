"""Summary of one territory for elected officials: figures explained in plain words, and exports.

Pure renderers: indicator frames in, a :class:`Summary`, sentences, a PNG map, a one-page PDF, an
HTML page or a CSV out. Nothing here reads the database or imports streamlit.

The map is drawn with Pillow (already a dependency of fpdf2), without base tiles, so a report is
made offline. Text uses the DejaVu Sans fonts vendored in ``carto/fonts`` (licence beside them),
never a system font, so accents, « » and narrow no-break spaces print on any machine.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import branca.colormap
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos
from PIL import Image, ImageDraw
from shapely.geometry.base import BaseGeometry

from carto import i18n
from carto.analysis.flows import ancestors_at
from carto.analysis.indicators import (
    HEADLINES,
    relations_per_year,
    territory_indicators,
    with_comparisons,
)
from carto.analysis.coverage import METRIC_CRS
from carto.analysis.network import node_metrics
from carto.errors import InputError
from carto.ingest.sample import SAMPLE_DIR
from carto.model import METROPOLITAN_FRANCE, TERRITORY_LEVELS
from carto.render import layers, offline
from carto.render.plain import STYLE_PROPERTY, StyledGeoJson, style_table
from carto.text import neutralise_cell

FONTS_DIR = Path(__file__).resolve().parents[1] / "fonts"
NARROW_NBSP = "\u202f"
MISSING = "—"
SAMPLE_NAME = SAMPLE_DIR.name

# How each indicator reads as a number: a count, a rate with one decimal, or a share in percent.
COUNTS = {
    "population",
    "actors",
    "relations_inside",
    "relations_crossing",
    "isolated_actors",
    "places",
    "uncovered_places",
    "schemes",
}
SHARES_PREFIX = "share_"
SHARES = {"openness", "formal_share", "density", "uncovered_population_share"}

TOP_PARTNERS = 5
MAX_LISTED = 6


# --- numbers ---------------------------------------------------------------------------------


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def format_number(value: float | None, lang: str, *, decimals: int = 0) -> str:
    """``12345.6`` → ``12 345,6`` in French (narrow no-break space, decimal comma), ``12,345.6`` in English.

    ``-0`` after rounding prints as ``0``; ``None``/NaN print as a dash.
    """
    if _missing(value):
        return MISSING
    assert value is not None
    text = f"{float(value):,.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    if lang == "fr":
        text = text.replace(",", NARROW_NBSP).replace(".", ",")
    return text


def format_percent(share: float | None, lang: str, *, decimals: int = 0) -> str:
    """A share in [0, 1] as a percentage: ``0.375`` → ``38 %`` (fr, narrow space) or ``38%`` (en)."""
    if _missing(share):
        return MISSING
    assert share is not None
    number = format_number(float(share) * 100, lang, decimals=decimals)
    return f"{number}{NARROW_NBSP}%" if lang == "fr" else f"{number}%"


def format_indicator(column: str, value: float | None, lang: str) -> str:
    """An indicator's value the way the page and the PDF show it."""
    if column in COUNTS:
        return format_number(value, lang)
    if column in SHARES or column.startswith(SHARES_PREFIX):
        return format_percent(value, lang)
    return format_number(value, lang, decimals=1)


# --- the summary -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One headline figure of a territory, beside its parent's and its siblings' median."""

    column: str
    value: float | None
    parent: float | None
    siblings_median: float | None


@dataclass(frozen=True)
class Partner:
    """An actor as the summary lists it."""

    id: str
    name: str
    type: str
    degree: float
    betweenness: float


@dataclass(frozen=True)
class UncoveredPlace:
    """An inhabited place that no actor is near and no relation reaches (a *zone blanche*)."""

    id: str
    name: str
    population: float | None


@dataclass(frozen=True)
class Summary:
    """Everything the summary page and its exports show about one territory."""

    code: str
    name: str
    level: str
    parent_code: str | None
    parent_name: str | None
    population: float | None
    radius_km: float
    figures: tuple[Figure, ...]
    partners: tuple[Partner, ...]
    uncovered: tuple[UncoveredPlace, ...]
    uncovered_population_share: float | None
    isolated: tuple[Partner, ...]
    schemes: tuple[str, ...]
    relations_per_year: pd.DataFrame
    geometry: BaseGeometry | None
    actors: gpd.GeoDataFrame
    places: gpd.GeoDataFrame


def _optional_str(value: object) -> str | None:
    return None if _missing(value) else str(value)


def _optional_float(value: object) -> float | None:
    return None if _missing(value) else float(value)  # type: ignore[arg-type]


def nodes_in(code: str, territories: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``frame`` (actors or places) whose finest territory is ``code`` or lies inside it."""
    levels = territories.set_index("code")["level"]
    if code not in levels.index or "territory_code" not in frame.columns or frame.empty:
        return frame.iloc[0:0]
    at_level = ancestors_at(territories, str(levels[code]))
    owner = frame["territory_code"].map(at_level)
    return frame[(owner == code).fillna(False).astype(bool)]


def uncovered_place_ids(
    places: pd.DataFrame, actors: pd.DataFrame, relations: pd.DataFrame, *, radius_km: float
) -> list[str]:
    """Ids of ``places`` with no actor within ``radius_km`` and no relation touching them.

    The same rule as ``uncovered_places`` in :func:`carto.analysis.indicators.territory_indicators`
    (distances in :data:`carto.analysis.indicators.METRIC_CRS`), here to name the places, not count them.
    """
    if not isinstance(places, gpd.GeoDataFrame) or places.empty:
        return []
    touched = set(relations["source"]) | set(relations["target"]) if len(relations) else set()
    candidates = places[~places["id"].isin(touched) & places.geometry.notna()]
    if candidates.empty:
        return []
    near: set[int] = set()
    if isinstance(actors, gpd.GeoDataFrame) and len(actors):
        located = actors[actors.geometry.notna()].to_crs(METRIC_CRS)
        projected = candidates.to_crs(METRIC_CRS)
        hits = located.sindex.query(projected.geometry, predicate="dwithin", distance=radius_km * 1000)
        near = {int(i) for i in hits[0]}
    return [str(pid) for i, pid in enumerate(candidates["id"]) if i not in near]


def territory_summary(
    code: str,
    indicators: pd.DataFrame,
    actors: pd.DataFrame,
    places: pd.DataFrame,
    relations: pd.DataFrame,
    territories: pd.DataFrame,
    metrics: pd.DataFrame,
    *,
    radius_km: float = 1.0,
    headlines: Sequence[str] = HEADLINES,
    today: dt.date | None = None,
) -> Summary:
    """Gather what the summary of territory ``code`` shows.

    A territory alone at its level under its parent has no sibling: its figures get no
    siblings' median. Relations per year stop at ``today``'s year (default: today).

    ``indicators`` comes from :func:`carto.analysis.indicators.territory_indicators` (comparison columns
    are added when missing), ``metrics`` from :func:`carto.analysis.network.node_metrics`.
    """
    if code not in indicators.index:
        msg = f"no territory with code {code!r}; check the code (e.g. the INSEE code of a commune)"
        raise InputError(msg)
    wanted = [c for c in headlines if f"{c}_siblings_median" not in indicators.columns]
    if wanted:
        indicators = with_comparisons(indicators, wanted)
    row = indicators.loc[code]
    names = territories.set_index("code")["name"]
    parent_code = _optional_str(row.get("parent_code"))
    has_siblings = len(siblings_table(indicators, code, [])) > 1
    figures = tuple(
        Figure(
            column=c,
            value=_optional_float(row.get(c)),
            parent=_optional_float(row.get(f"{c}_parent")),
            siblings_median=_optional_float(row.get(f"{c}_siblings_median")) if has_siblings else None,
        )
        for c in headlines
    )

    inside_actors = nodes_in(code, territories, actors)
    inside_places = nodes_in(code, territories, places)
    known = metrics.reindex(inside_actors["id"])
    ranked = pd.DataFrame(
        {
            "id": inside_actors["id"].to_numpy(),
            "name": inside_actors["name"].to_numpy(),
            "type": inside_actors["type"].to_numpy(),
            "degree": pd.to_numeric(known["degree"], errors="coerce").fillna(0).to_numpy(),
            "betweenness": pd.to_numeric(known["betweenness"], errors="coerce").fillna(0).to_numpy(),
        }
    )

    def partners(frame: pd.DataFrame) -> tuple[Partner, ...]:
        return tuple(
            Partner(str(i), str(n), str(t), float(d), float(b))
            for i, n, t, d, b in zip(
                frame["id"], frame["name"], frame["type"], frame["degree"], frame["betweenness"], strict=True
            )
        )

    top = ranked[ranked["degree"] > 0].sort_values(["betweenness", "degree", "id"], ascending=[False, False, True])
    linked = set(relations["source"]) | set(relations["target"]) if len(relations) else set()
    isolated = ranked[~ranked["id"].isin(linked)].sort_values("name")

    uncovered_ids = uncovered_place_ids(inside_places, actors, relations, radius_km=radius_km)
    gaps = inside_places[inside_places["id"].isin(uncovered_ids)].copy()
    gaps["pop_value"] = pd.to_numeric(gaps["population"], errors="coerce")
    gaps = gaps.sort_values(["pop_value", "name"], ascending=[False, True], na_position="last")
    uncovered = tuple(
        UncoveredPlace(str(r.id), str(r.name), _optional_float(r.pop_value))
        for r in gaps[["id", "name", "pop_value"]].itertuples(index=False)
    )

    node_ids = list(inside_actors["id"]) + list(inside_places["id"])
    scheme_names = _optional_str(row.get("scheme_names"))
    geometry = None
    if "geometry" in territories.columns:
        match = territories.loc[territories["code"] == code, "geometry"]
        geometry = match.iloc[0] if len(match) else None
    return Summary(
        code=code,
        name=str(row.get("name", names.get(code, code))),
        level=str(row.get("level", "")),
        parent_code=parent_code,
        parent_name=_optional_str(names.get(parent_code)) if parent_code else None,
        population=_optional_float(row.get("population")),
        radius_km=radius_km,
        figures=figures,
        partners=partners(top.head(TOP_PARTNERS)),
        uncovered=uncovered,
        uncovered_population_share=_optional_float(row.get("uncovered_population_share")),
        isolated=partners(isolated),
        schemes=tuple(s for s in (scheme_names or "").split(";") if s),
        relations_per_year=relations_per_year(relations, node_ids, until=(today or dt.date.today()).year),
        geometry=geometry,
        actors=inside_actors,
        places=inside_places,
    )


def build_summary(
    code: str,
    territories: pd.DataFrame,
    actors: pd.DataFrame,
    places: pd.DataFrame,
    relations: pd.DataFrame,
    schemes: pd.DataFrame,
    *,
    radius_km: float = 1.0,
) -> Summary:
    """Metrics, indicators and the summary of ``code`` in one call (the CLI's path; pages cache
    the indicators and metrics themselves and call :func:`territory_summary`)."""
    if code not in set(territories["code"]):
        msg = f"no territory with code {code!r}; list the codes with `python -m carto indicators`"
        raise InputError(msg)
    metrics = node_metrics(actors, places, relations)
    table = territory_indicators(territories, actors, places, relations, schemes, radius_km=radius_km, metrics=metrics)
    return territory_summary(code, table, actors, places, relations, territories, metrics, radius_km=radius_km)


def sources_line(imports: pd.DataFrame, lang: str) -> str:
    """Where the figures come from: the imports recorded in the store, newest first."""
    done = imports[imports["status"] == "committed"] if "status" in imports else imports
    if done.empty:
        return i18n.t("summary.sources.none", lang)
    seen: dict[str, str] = {}
    for name, when in zip(done["file_name"], done["imported_at"], strict=True):
        label = str(name) if not _missing(name) else i18n.t("summary.sources.unnamed", lang)
        if label not in seen:
            stamp = pd.Timestamp(when)
            seen[label] = format_date(stamp.date(), lang) if not pd.isna(stamp) else ""
    parts = [f"{name} ({day})" if day else name for name, day in seen.items()]
    text = i18n.t("summary.sources.imports", lang, imports=", ".join(parts))
    if SAMPLE_NAME in seen:
        text += " " + i18n.t("summary.sources.sample", lang)
    return text


# --- sentences -------------------------------------------------------------------------------


def headline_sentences(summary: Summary, lang: str) -> list[tuple[str, str, str]]:
    """``(label, value, explanation)`` per headline figure, in words a newcomer understands."""
    out = []
    for fig in summary.figures:
        value = format_indicator(fig.column, fig.value, lang)
        whole = summary.radius_km == int(summary.radius_km)
        radius = format_number(summary.radius_km, lang, decimals=0 if whole else 1)
        key = f"summary.explain.{fig.column}"
        if fig.column in COUNTS and fig.value is not None:
            key = plural_key(key, fig.value, lang)
        explanation = i18n.t(key, lang, value=value, radius=radius)
        comparisons = []
        if fig.siblings_median is not None:
            comparisons.append(
                i18n.t(
                    "summary.compare.siblings",
                    lang,
                    value=format_indicator(fig.column, fig.siblings_median, lang),
                )
            )
        if fig.parent is not None and summary.parent_name:
            comparisons.append(
                i18n.t(
                    "summary.compare.parent",
                    lang,
                    parent=summary.parent_name,
                    value=format_indicator(fig.column, fig.parent, lang),
                )
            )
        if comparisons:
            explanation = f"{explanation} — {(NARROW_NBSP + '; ' if lang == 'fr' else '; ').join(comparisons)}"
        out.append((i18n.t(f"summary.label.{fig.column}", lang), value, explanation))
    return out


def delta_text(figure: Figure, lang: str) -> str | None:
    """The gap to the siblings' median, ``+2,9`` (shares in points: ``-15 pts``); None without one."""
    if figure.value is None or figure.siblings_median is None:
        return None
    diff = figure.value - figure.siblings_median
    if figure.column in SHARES or figure.column.startswith(SHARES_PREFIX):
        number = format_number(diff * 100, lang)
        text = i18n.t(plural_key("summary.points", round(diff * 100), lang), lang, n=number)
    else:
        whole = figure.column in COUNTS and diff == int(diff)
        text = format_number(diff, lang, decimals=0 if whole else 1)
    # "+" only when the rounded gap is not zero; negative numbers carry their own "-".
    sign = "+" if diff > 0 and any(ch in "123456789" for ch in text) else ""
    return i18n.t("summary.delta", lang, diff=f"{sign}{text}")


def plural_key(key: str, n: float, lang: str) -> str:
    """``key + ".one"`` when ``n`` takes the singular in ``lang`` (0 and 1 in French, 1 in English)
    and the catalogue has that key, else ``key``."""
    singular = abs(n) < 2 if lang == "fr" else n == 1
    one = f"{key}.one"
    return one if singular and one in i18n.catalog(lang) else key


def partner_line(partner: Partner, lang: str) -> str:
    """``Name (type) — 4 links`` for lists of partners."""
    links = i18n.t(plural_key("summary.links", partner.degree, lang), lang, n=format_number(partner.degree, lang))
    return f"{partner.name} ({i18n.label(partner.type, lang)}) — {links}"


def place_line(place: UncoveredPlace, lang: str) -> str:
    """``Name — 1 200 inhabitants`` for lists of uncovered places."""
    if place.population is None:
        return place.name
    people = i18n.t(
        plural_key("summary.inhabitants", place.population, lang),
        lang,
        n=format_number(place.population, lang),
    )
    return f"{place.name} — {people}"


def subtitle(summary: Summary, lang: str) -> str:
    """``Commune · dans Département · 5 000 habitants``."""
    parts = [i18n.label(summary.level, lang)]
    if summary.parent_name:
        parts.append(i18n.t("summary.in_parent", lang, parent=summary.parent_name))
    if summary.population is not None:
        parts.append(i18n.t("summary.inhabitants", lang, n=format_number(summary.population, lang)))
    return " · ".join(p for p in parts if p)


def gap_intro(summary: Summary, lang: str) -> str:
    """How many places are not reached and the share of inhabitants they hold."""
    return i18n.t(
        plural_key("summary.gaps.places_intro", len(summary.uncovered), lang),
        lang,
        n=format_number(len(summary.uncovered), lang),
        share=format_percent(summary.uncovered_population_share, lang),
    )


def isolated_intro(summary: Summary, lang: str) -> str:
    """How many actors have no relation at all."""
    n = len(summary.isolated)
    return i18n.t(plural_key("summary.gaps.isolated_intro", n, lang), lang, n=format_number(n, lang))


# --- map image -------------------------------------------------------------------------------

_BACKGROUND = (255, 255, 255)
_TERRITORY_FILL = (242, 239, 230)
_TERRITORY_LINE = (85, 85, 85)
ACTOR_COLOUR = (31, 78, 156)
ISOLATED_COLOUR = (224, 122, 31)
PLACE_COLOUR = (34, 34, 34)
UNCOVERED_COLOUR = (214, 40, 40)


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


def map_legend(lang: str) -> list[tuple[tuple[int, int, int], str]]:
    """Colours and words of the map's legend, shared by the PDF, the HTML and the page."""
    return [
        (ACTOR_COLOUR, i18n.t("summary.legend.actor", lang)),
        (ISOLATED_COLOUR, i18n.t("summary.legend.isolated", lang)),
        (PLACE_COLOUR, i18n.t("summary.legend.place", lang)),
        (UNCOVERED_COLOUR, i18n.t("summary.legend.uncovered", lang)),
    ]


# --- PDF -------------------------------------------------------------------------------------

_FONT = "DejaVu"


class _Page(FPDF):
    def fit(self, text: str, width: float) -> str:
        """``text`` cut with an ellipsis so that it fits ``width`` mm in the current font."""
        if self.get_string_width(text) <= width:
            return text
        while text and self.get_string_width(text + "…") > width:
            text = text[:-1]
        return text.rstrip() + "…"

    def lines(self, text: str, width: float, max_lines: int) -> list[str]:
        """``text`` wrapped to ``width`` mm, at most ``max_lines`` lines (the last one cut)."""
        wrapped = self.multi_cell(width, text=text, dry_run=True, output=MethodReturnValue.LINES, align="L")
        lines = [str(line) for line in wrapped]  # type: ignore[union-attr]
        if len(lines) > max_lines:
            lines = [*lines[: max_lines - 1], self.fit(" ".join(lines[max_lines - 1 :]), width)]
        return lines

    def heading(self, text: str, width: float) -> None:
        self.set_font(_FONT, "B", 11)
        self.set_text_color(31, 78, 156)
        self.cell(width, 6, self.fit(text, width), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)

    def bullets(self, items: Sequence[str], width: float, limit: int, more: str) -> None:
        self.set_font(_FONT, "", 8.5)
        shown = list(items[:limit])
        if len(items) > limit:
            shown[-1] = more.format(n=len(items) - limit + 1)
        x = self.get_x()
        for item in shown:
            self.set_x(x)
            self.cell(width, 4.4, self.fit(f"• {item}", width), new_x=XPos.LEFT, new_y=YPos.NEXT)


def summary_pdf(summary: Summary, lang: str, *, sources: str, on_date: dt.date | None = None) -> bytes:
    """One A4 page: title, map, headline figures explained, top partners, gaps, date, sources.

    Lists are cut and long texts shortened with "…" so the page never overflows.
    """
    day = on_date or dt.date.today()
    pdf = _Page(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font(_FONT, "", str(FONTS_DIR / "DejaVuSans.ttf"))
    pdf.add_font(_FONT, "B", str(FONTS_DIR / "DejaVuSans-Bold.ttf"))
    title = i18n.t("summary.pdf.title", lang, name=summary.name, code=summary.code)
    pdf.set_title(title)
    pdf.set_creator("carto")
    pdf.set_creation_date(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))
    pdf.set_margins(12, 12, 12)
    pdf.add_page()
    width = pdf.w - 24

    pdf.set_font(_FONT, "B", 17)
    pdf.cell(width, 9, pdf.fit(title, width), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, "", 9.5)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(width, 5, pdf.fit(subtitle(summary, lang), width), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)

    # Map on the left, legend and schemes beside it.
    top = pdf.get_y() + 2
    map_w, map_h = 100.0, 70.0
    png = summary_map_png(summary, width_px=1000, height_px=700)
    pdf.image(io.BytesIO(png), x=12, y=top, w=map_w, h=map_h)
    pdf.set_draw_color(200, 200, 200)
    pdf.rect(12, top, map_w, map_h)
    side_x, side_w = 12 + map_w + 6, width - map_w - 6
    pdf.set_xy(side_x, top)
    pdf.set_font(_FONT, "B", 9)
    pdf.cell(side_w, 5, i18n.t("summary.legend", lang), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(_FONT, "", 8.5)
    for colour, words in map_legend(lang):
        y = pdf.get_y()
        pdf.set_fill_color(*colour)
        pdf.rect(side_x, y + 1.2, 2.6, 2.6, style="F")
        pdf.set_x(side_x + 4)
        pdf.cell(side_w - 4, 5, pdf.fit(words, side_w - 4), new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_x(side_x)
    pdf.ln(3)
    pdf.set_x(side_x)
    pdf.set_font(_FONT, "B", 9)
    pdf.cell(side_w, 5, i18n.t("summary.schemes", lang), new_x=XPos.LEFT, new_y=YPos.NEXT)
    schemes = list(summary.schemes) or [i18n.t("summary.none", lang)]
    pdf.bullets(schemes, side_w, 7, i18n.t("summary.more", lang))

    # Headline figures: the value large, its label and one explanation beside.
    pdf.set_xy(12, top + map_h + 5)
    pdf.heading(i18n.t("summary.headlines", lang), width)
    value_w = 34.0
    text_w = width - value_w - 2
    for label, value, explanation in headline_sentences(summary, lang):
        y = pdf.get_y() + 0.8
        pdf.set_xy(12, y)
        pdf.set_font(_FONT, "B", 15)
        pdf.set_text_color(31, 78, 156)
        pdf.cell(value_w, 8, pdf.fit(value, value_w))
        pdf.set_text_color(0, 0, 0)
        pdf.set_xy(12 + value_w + 2, y)
        pdf.set_font(_FONT, "B", 9.5)
        pdf.cell(text_w, 4.8, pdf.fit(label, text_w), new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(_FONT, "", 8.5)
        for line in pdf.lines(explanation, text_w, 3):
            pdf.cell(text_w, 4.0, line, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_y(max(pdf.get_y(), y + 9))

    # Partners, then the gaps in two columns.
    pdf.set_xy(12, pdf.get_y() + 3)
    pdf.heading(i18n.t("summary.partners", lang), width)
    pdf.set_font(_FONT, "", 8.5)
    if summary.partners:
        pdf.bullets([partner_line(p, lang) for p in summary.partners], width, TOP_PARTNERS, "")
    else:
        pdf.bullets([i18n.t("summary.partners.none", lang)], width, 1, "")

    pdf.set_xy(12, pdf.get_y() + 3)
    pdf.heading(i18n.t("summary.gaps", lang), width)
    col_w = (width - 6) / 2
    y = pdf.get_y()
    pdf.set_font(_FONT, "B", 9)
    for line in pdf.lines(gap_intro(summary, lang), col_w, 2):
        pdf.cell(col_w, 4.6, line, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.bullets(
        [place_line(p, lang) for p in summary.uncovered] or [i18n.t("summary.none", lang)],
        col_w,
        MAX_LISTED,
        i18n.t("summary.more", lang),
    )
    bottom = pdf.get_y()
    pdf.set_xy(12 + col_w + 6, y)
    pdf.set_font(_FONT, "B", 9)
    intro = isolated_intro(summary, lang)
    pdf.cell(col_w, 5, pdf.fit(intro, col_w), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.bullets(
        [f"{p.name} ({i18n.label(p.type, lang)})" for p in summary.isolated] or [i18n.t("summary.none", lang)],
        col_w,
        MAX_LISTED,
        i18n.t("summary.more", lang),
    )
    if max(bottom, pdf.get_y()) > pdf.h - 25:
        msg = "the summary does not fit on one page; shorten the lists"
        raise AssertionError(msg)

    # Footer: date and data sources.
    pdf.set_draw_color(200, 200, 200)
    pdf.line(12, pdf.h - 23, pdf.w - 12, pdf.h - 23)
    pdf.set_xy(12, pdf.h - 22)
    pdf.set_font(_FONT, "", 7.5)
    pdf.set_text_color(90, 90, 90)
    dated = i18n.t("summary.date", lang, date=format_date(day, lang))
    pdf.cell(width, 4, dated, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for line in pdf.lines(i18n.t("summary.sources", lang, sources=sources), width, 3):
        pdf.cell(width, 3.6, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def format_date(day: dt.date, lang: str) -> str:
    """``23 novembre 2026`` or ``23 November 2026``, without depending on the system locale."""
    month = i18n.t(f"summary.month.{day.month}", lang)
    return f"{day.day} {month} {day.year}"


# --- HTML ------------------------------------------------------------------------------------

_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;max-width:60rem;margin:1.5rem auto;color:#111;padding:0 1rem}
h1{margin-bottom:.2rem}.sub{color:#555;margin-top:0}h2{color:#1f4e9c;font-size:1.1rem;margin-top:1.5rem}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:.8rem}
.fig{border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem}
.fig .v{font-size:2rem;font-weight:bold;color:#1f4e9c}.fig .l{font-weight:bold}
.fig p{margin:.2rem 0;font-size:.9rem}
.map{display:flex;gap:1.5rem;flex-wrap:wrap;align-items:flex-start}
.map img{border:1px solid #ccc;max-width:100%}
.sw{display:inline-block;width:.8rem;height:.8rem;margin-right:.4rem;vertical-align:middle}
.cols{display:flex;gap:2rem;flex-wrap:wrap}.cols>div{flex:1;min-width:16rem}
footer{margin-top:2rem;color:#555;font-size:.85rem;border-top:1px solid #ccc;padding-top:.5rem}
"""


def summary_html(summary: Summary, lang: str, *, sources: str = "", on_date: dt.date | None = None) -> str:
    """The PDF's content as one standalone HTML document: inline style, map as a data: URI."""
    day = on_date or dt.date.today()
    e = html.escape
    title = i18n.t("summary.pdf.title", lang, name=summary.name, code=summary.code)
    png = base64.b64encode(summary_map_png(summary, width_px=700, height_px=490)).decode("ascii")
    legend = "".join(
        f"<li><span class='sw' style='background:rgb{colour}'></span>{e(words)}</li>"
        for colour, words in map_legend(lang)
    )
    none = f"<li>{e(i18n.t('summary.none', lang))}</li>"

    def items(lines: Sequence[str]) -> str:
        return "".join(f"<li>{e(x)}</li>" for x in lines) or none

    schemes = items(summary.schemes)
    figures = "".join(
        f"<div class='fig'><div class='v'>{e(value)}</div><div class='l'>{e(label)}</div><p>{e(text)}</p></div>"
        for label, value, text in headline_sentences(summary, lang)
    )

    partners = items([partner_line(p, lang) for p in summary.partners])
    gaps = items([place_line(p, lang) for p in summary.uncovered])
    isolated = items([f"{p.name} ({i18n.label(p.type, lang)})" for p in summary.isolated])
    isolated_head = isolated_intro(summary, lang)
    footer_sources = i18n.t("summary.sources", lang, sources=sources) if sources else ""
    return f"""<!DOCTYPE html>
<html lang="{e(lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{e(title)}</h1><p class="sub">{e(subtitle(summary, lang))}</p>
<div class="map"><img alt="{e(i18n.t("summary.map_alt", lang, name=summary.name))}" width="700" height="490"
src="data:image/png;base64,{png}">
<div><strong>{e(i18n.t("summary.legend", lang))}</strong><ul style="list-style:none;padding:0">{legend}</ul>
<strong>{e(i18n.t("summary.schemes", lang))}</strong><ul>{schemes}</ul></div></div>
<h2>{e(i18n.t("summary.headlines", lang))}</h2><div class="figs">{figures}</div>
<h2>{e(i18n.t("summary.partners", lang))}</h2><ul>{partners}</ul>
<h2>{e(i18n.t("summary.gaps", lang))}</h2>
<div class="cols"><div><strong>{e(gap_intro(summary, lang))}</strong><ul>{gaps}</ul></div>
<div><strong>{e(isolated_head)}</strong><ul>{isolated}</ul></div></div>
<footer>{e(i18n.t("summary.date", lang, date=format_date(day, lang)))}<br>{e(footer_sources)}</footer>
</body></html>
"""


# --- CSV -------------------------------------------------------------------------------------

def indicators_csv(indicators: pd.DataFrame, *, lang: str = "fr") -> bytes:
    """All territories' indicators as CSV for a spreadsheet.

    UTF-8 with a BOM so Excel detects the encoding. French (default): ``;`` between cells and a
    decimal comma, what French Excel opens without an import wizard; English: ``,`` and ``.``.
    Text cells that start like a formula (``= + - @``, tab, CR) get a leading ``'``; numeric
    columns are left as numbers, so ``-3.5`` stays a negative number.
    """
    frame = indicators.reset_index(drop="code" in indicators.columns)
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            out[str(column)] = values
        else:
            out[str(column)] = values.map(lambda v: v if _missing(v) else neutralise_cell(str(v)))
    text = out.to_csv(
        index=False,
        sep=";" if lang == "fr" else ",",
        decimal="," if lang == "fr" else ".",
        lineterminator="\r\n",
    )
    return ("\ufeff" + text).encode("utf-8")


# --- helpers of the summary page -------------------------------------------------------------


def territory_choices(indicators: pd.DataFrame) -> list[str]:
    """Codes to pick from: broadest levels first, then by name, so the département leads."""
    order = {level: i for i, level in enumerate(TERRITORY_LEVELS)}
    flat = indicators.reset_index(drop=True)
    ranked = flat.assign(_rank=flat["level"].map(order).fillna(len(order)), _name=flat["name"].astype(str))
    return [str(c) for c in ranked.sort_values(["_rank", "_name", "code"])["code"]]


def default_territory(indicators: pd.DataFrame) -> str | None:
    """The département when there is one, else the most populous commune, else the first code."""
    if indicators.empty:
        return None
    flat = indicators.reset_index(drop=True)
    departements = flat[flat["level"] == "departement"].sort_values("code")
    if len(departements):
        return str(departements["code"].iloc[0])
    communes = flat[flat["level"] == "commune"]
    if len(communes):
        population = pd.to_numeric(communes["population"], errors="coerce").fillna(-1)
        ranked = communes.assign(_people=population).sort_values(["_people", "code"], ascending=[False, True])
        return str(ranked["code"].iloc[0])
    return territory_choices(indicators)[0]


def siblings_table(indicators: pd.DataFrame, code: str, columns: Sequence[str] = HEADLINES) -> pd.DataFrame:
    """The territory and its siblings (same parent, same level) with ``columns``, by name."""
    row = indicators.loc[code]
    parent = row["parent_code"]
    same_parent = indicators["parent_code"].isna() if _missing(parent) else indicators["parent_code"] == parent
    mask = same_parent.fillna(False).astype(bool) & (indicators["level"] == row["level"])
    return indicators.loc[mask, ["code", "name", *columns]].reset_index(drop=True).sort_values(["name", "code"])


CHOROPLETH_COLOURS = ("#f7fbff", "#6baed6", "#08306b")


def children_table(indicators: pd.DataFrame, code: str, columns: Sequence[str] = HEADLINES) -> pd.DataFrame:
    """The territories whose parent is ``code``, with ``columns``, by name."""
    mask = (indicators["parent_code"] == code).fillna(False).astype(bool)
    return indicators.loc[mask, ["code", "name", *columns]].reset_index(drop=True).sort_values(["name", "code"])


def formatted_table(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``table`` with indicator columns as text, the way the summary writes them."""
    out = table.copy()
    for column in out.columns:
        if column not in ("code", "name"):
            out[column] = [format_indicator(str(column), v, lang) for v in out[column]]
    return out


def choropleth_level(indicators: pd.DataFrame, code: str) -> str:
    """The level to colour: the territory's own when it has peers, else that of its children."""
    level = str(indicators.loc[code, "level"])
    if (indicators["level"] == level).sum() > 1:
        return level
    children = indicators.loc[(indicators["parent_code"] == code).fillna(False).astype(bool), "level"]
    return str(children.mode().iloc[0]) if len(children) else level


def choropleth_map(
    territories: gpd.GeoDataFrame,
    indicators: pd.DataFrame,
    column: str,
    lang: str,
    *,
    level: str,
    highlight: str | None = None,
    tiles: str = "none",
) -> folium.Map:
    """Territories of ``level`` coloured by ``column`` (grey without a value); assets served locally."""
    shapes = territories[territories["level"] == level][["code", "name", "geometry"]]
    values = pd.to_numeric(indicators[column], errors="coerce").astype(float)
    frame = shapes.assign(value=shapes["code"].map(values).to_numpy())
    frame["shown"] = [format_indicator(column, v, lang) for v in frame["value"]]
    known = frame["value"].dropna()
    low, high = (float(known.min()), float(known.max())) if len(known) else (0.0, 1.0)
    if high <= low:
        high = low + 1.0
    colours = branca.colormap.LinearColormap(
        list(CHOROPLETH_COLOURS), vmin=low, vmax=high, caption=i18n.t(f"summary.label.{column}", lang)
    )
    if len(frame):
        minx, miny, maxx, maxy = frame.total_bounds
    else:
        minx, miny, maxx, maxy = METROPOLITAN_FRANCE
    m = offline.make_map(((miny + maxy) / 2, (minx + maxx) / 2), 8, tiles=tiles)

    chosen = (frame["code"] == highlight).to_numpy() if highlight else np.zeros(len(frame), dtype=bool)
    fills = ["#cccccc" if pd.isna(v) else colours(v) for v in frame["value"]]
    styles, style_index = style_table(
        (("#d62828" if c else "#555555", 3 if c else 0.6, fill, 0.8) for c, fill in zip(chosen, fills, strict=True)),
        ["color", "weight", "fillColor", "fillOpacity"],
    )
    properties = pd.DataFrame(
        {"name": frame["name"].astype(str), "code": frame["code"].astype(str), "shown": frame["shown"]}
    ).assign(**{STYLE_PROPERTY: style_index})
    StyledGeoJson(
        properties,
        frame.geometry.to_numpy(),
        styles,
        tooltip=[
            ("name", i18n.t("field.name", lang)),
            ("code", i18n.t("field.code", lang)),
            ("shown", i18n.t(f"summary.label.{column}", lang)),
        ],
    ).add_to(m)
    caption = html.escape(i18n.t(f"summary.label.{column}", lang))
    legend = (
        f"<b>{caption}</b><br><div style='width:180px;height:10px;"
        f"background:linear-gradient(to right,{','.join(CHOROPLETH_COLOURS)})'></div>"
        f"<span>{html.escape(format_indicator(column, low, lang))}</span>"
        f"<span style='float:right'>{html.escape(format_indicator(column, high, lang))}</span>"
    )
    m.add_child(layers.Legend(legend))  # a branca colormap would pull d3 from a CDN
    if len(frame):
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return offline.localize_assets(m)

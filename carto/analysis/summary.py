"""What the summary of one territory shows, gathered from computed frames.

Frames in (the indicators of :func:`carto.analysis.indicators.territory_indicators`, the node
metrics of :func:`carto.analysis.network.node_metrics`, the datasets), a :class:`Summary` out: its
headline figures beside its parent's and its siblings', its main partners, the places no partner
reaches, its isolated actors. Also the choices the summary page offers (territories, comparison
tables, the level of its choropleth). The words, images and documents are carto.render's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from carto.analysis.coverage import uncovered_places
from carto.analysis.filters import territory_relations
from carto.analysis.hierarchy import descendants
from carto.analysis.indicators import HEADLINES, relations_per_year, with_comparisons
from carto.errors import InputError
from carto.model import TERRITORY_LEVELS

TOP_PARTNERS = 5


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


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
    relations_inside: float | None  # of the relations that belong to it (filters.relation_positions)
    relations_outside: float | None
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
    """Rows of ``frame`` (actors or places) whose territory is ``code`` or lies inside it."""
    if code not in set(territories["code"]) or "territory_code" not in frame.columns or frame.empty:
        return frame.iloc[0:0]
    inside = descendants(territories, code)
    return frame[frame["territory_code"].isin(inside).to_numpy()]


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

    # Listed with their number of links, so ranked by it (the one who links the most others breaks ties).
    top = ranked[ranked["degree"] > 0].sort_values(
        ["degree", "betweenness", "name", "id"], ascending=[False, False, True, True]
    )
    linked = set(relations["source"]) | set(relations["target"]) if len(relations) else set()
    isolated = ranked[~ranked["id"].isin(linked)].sort_values("name")

    unreached = uncovered_places(inside_places, actors, relations, radius_km=radius_km)
    gaps = inside_places[inside_places["id"].astype(str).isin(unreached.index[unreached])].copy()
    gaps["pop_value"] = pd.to_numeric(gaps["population"], errors="coerce")
    gaps = gaps.sort_values(["pop_value", "name"], ascending=[False, True], na_position="last")
    uncovered = tuple(
        UncoveredPlace(str(r.id), str(r.name), _optional_float(r.pop_value))
        for r in gaps[["id", "name", "pop_value"]].itertuples(index=False)
    )

    node_ids = {str(i) for i in inside_actors["id"]} | {str(i) for i in inside_places["id"]}
    own_relations = territory_relations(relations, node_ids) if len(relations) else relations
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
        relations_inside=_optional_float(row.get("relations_inside")),
        relations_outside=_optional_float(row.get("relations_crossing")),
        partners=partners(top.head(TOP_PARTNERS)),
        uncovered=uncovered,
        uncovered_population_share=_optional_float(row.get("uncovered_population_share")),
        isolated=partners(isolated),
        schemes=tuple(s for s in (scheme_names or "").split(";") if s),
        relations_per_year=relations_per_year(own_relations, until=(today or dt.date.today()).year),
        geometry=geometry,
        actors=inside_actors,
        places=inside_places,
    )


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


def children_table(indicators: pd.DataFrame, code: str, columns: Sequence[str] = HEADLINES) -> pd.DataFrame:
    """The territories whose parent is ``code``, with ``columns``, by name."""
    mask = (indicators["parent_code"] == code).fillna(False).astype(bool)
    return indicators.loc[mask, ["code", "name", *columns]].reset_index(drop=True).sort_values(["name", "code"])


def choropleth_level(indicators: pd.DataFrame, code: str) -> str:
    """The level to colour: the territory's own when it has peers, else that of its children."""
    level = str(indicators.loc[code, "level"])
    if (indicators["level"] == level).sum() > 1:
        return level
    children = indicators.loc[(indicators["parent_code"] == code).fillna(False).astype(bool), "level"]
    return str(children.mode().iloc[0]) if len(children) else level

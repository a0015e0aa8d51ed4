"""Per-territory figures for the elected officials' summary, at every level of the hierarchy.

A node (actor or place) belongs to a territory when its ``territory_code`` is that territory or
one of its descendants (through ``parent_code``): a département counts the actors of its
communes. Results are indexed by territory code, so they join on the map and the summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from carto.analysis import activity, flows, hierarchy, network
from carto.analysis.coverage import uncovered_places
from carto.analysis.filters import INSIDE, relation_positions
from carto.model import DIMENSIONS, RELATION_KINDS

# The five figures of the summary page, in display order.
HEADLINES: tuple[str, ...] = (
    "actors_per_10k",
    "relations_touching",
    "openness",
    "isolated_actors",
    "uncovered_population_share",
)

TOP_BROKERS = 5


def _within(frame: pd.DataFrame, code_column: str, ancestry: pd.DataFrame) -> pd.DataFrame:
    """``frame`` repeated once per territory containing its ``code_column`` (column ``territory``)."""
    codes = frame[code_column].astype("object").where(frame[code_column].notna(), None)
    keyed = frame.assign(_code=codes.to_numpy())
    return keyed.merge(ancestry, left_on="_code", right_on="code", how="inner", suffixes=("", "_anc")).drop(
        columns=["_code", "code_anc"], errors="ignore"
    )


def _relation_pairs(relations: pd.DataFrame, node_territory: pd.Series) -> pd.DataFrame:
    """Relations grouped by (source territory, target territory, directed) with the counts to sum up."""
    ends = flows.relation_ends(relations, node_territory)
    directed = ends["directed"] if "directed" in ends else pd.Series(False, index=ends.index)
    counts = pd.DataFrame(
        {
            "src": ends["source_territory"].astype("object").fillna("\0"),
            "tgt": ends["target_territory"].astype("object").fillna("\0"),
            "directed": directed.astype("boolean").fillna(False).astype(bool).to_numpy(),
            "relations": 1,
            "formal": ends["formal"].astype("boolean").fillna(False).astype("int64") if "formal" in ends else 0,
        }
    )
    for kind in RELATION_KINDS:
        counts[f"share_{kind}"] = (ends["kind"] == kind).fillna(False).astype("int64").to_numpy()
    for dim in DIMENSIONS:
        column = ends["dimension"] if "dimension" in ends else pd.Series(None, index=ends.index)
        counts[f"share_{dim}"] = (column == dim).fillna(False).astype("int64").to_numpy()
    return counts.groupby(["src", "tgt", "directed"], sort=False).sum().reset_index()


def _relation_figures(pairs: pd.DataFrame, ancestry: pd.DataFrame) -> pd.DataFrame:
    """Per territory: relations inside, touching, and the touching counts by kind/dimension.

    Which relations belong to a territory and which of them are inside is
    :func:`carto.analysis.filters.relation_positions`'s rule, applied to every territory at once.
    """
    pairs = pairs.reset_index(drop=True).rename_axis("pair").reset_index()
    sides = [
        pairs[["pair", side]].merge(ancestry, left_on=side, right_on="code")[["pair", "territory"]].assign(side=side)
        for side in ("src", "tgt")
    ]
    ends = pd.concat(sides, ignore_index=True)
    ends["src_in"] = ends["side"] == "src"
    ends["tgt_in"] = ends["side"] == "tgt"
    hits = ends.groupby(["pair", "territory"], sort=False)[["src_in", "tgt_in"]].any().reset_index()
    hits = hits.merge(pairs.drop(columns=["src", "tgt"]), on="pair")
    hits["inside"] = relation_positions(hits["src_in"], hits["tgt_in"], hits["directed"]) == INSIDE
    value_columns = [c for c in pairs.columns if c not in ("pair", "src", "tgt", "directed")]
    touching = hits.groupby("territory")[value_columns].sum()
    inside = hits[hits["inside"]].groupby("territory")["relations"].sum().rename("relations_inside")
    return touching.rename(columns={"relations": "relations_touching"}).join(inside, how="left")


def _text(values: pd.Series, index: pd.Index) -> pd.Series:
    """``values`` aligned on ``index`` as text, "" where missing."""
    aligned = values.astype(object).reindex(index)
    return aligned.where(aligned.notna(), "").astype(str)


def territory_indicators(
    territories: pd.DataFrame,
    actors: pd.DataFrame,
    places: pd.DataFrame,
    relations: pd.DataFrame,
    schemes: pd.DataFrame,
    *,
    radius_km: float = 1.0,
    metrics: pd.DataFrame | None = None,
    on_date: date | None = None,
) -> pd.DataFrame:
    """One row per territory (every level), indexed by code, sorted by code.

    Columns:

    - ``code``, ``name``, ``level``, ``parent_code``, ``population`` (the territory's own figure);
    - ``actors``; ``actors_per_10k`` = actors / population * 10,000 (NaN without population);
    - ``places``; ``nodes`` = actors + places;
    - ``relations_inside`` (both ends inside), ``relations_crossing`` (exactly one end inside; an
      end in no territory counts as outside), ``relations_touching`` (their sum);
      ``openness`` = crossing / touching (NaN when no relation touches it);
    - ``share_<kind>`` per relation kind and ``share_<dimension>`` per dimension, over the
      relations touching the territory; ``formal_share`` = relations with ``formal`` true over
      the touching ones (unknown counts as not formal); all NaN when none touch it;
    - ``density`` = relations inside / (nodes * (nodes-1) / 2), NaN with fewer than 2 nodes
      (parallel relations each count, so it can exceed 1 in theory);
    - ``schemes`` (count of schemes whose ``territory_code`` is the territory or a descendant),
      ``scheme_names`` ("; "-joined, sorted);
    - ``top_broker`` = actor id with the highest positive betweenness inside it, ties by id, ""
      when no actor has a positive betweenness; ``top_brokers`` = up to 5 such ids, ";"-joined;
    - ``isolated_actors`` = actors with no relation at all (degree 0);
    - ``uncovered_places``: places (every place is an inhabited place) with no actor within
      ``radius_km`` (distance from the place's geometry, in :data:`carto.analysis.coverage.METRIC_CRS`) and no relation
      touching them: the *zones blanches*; ``uncovered_population`` their population;
      ``uncovered_population_share`` = that / population of all places inside (NaN when 0).

    ``metrics`` (from :func:`carto.analysis.network.node_metrics`) is computed when not given; ``on_date``
    keeps the relations active that day (for the relation figures and the metrics computed here).
    """
    relations = activity.active_on(relations, on_date)
    if metrics is None:
        metrics = network.node_metrics(actors, places, relations)
    ancestry = hierarchy.ancestry(territories)
    index = pd.Index(territories["code"].astype(str), name="code", dtype="object")
    out = pd.DataFrame(
        {
            "code": index.to_numpy(),
            "name": territories["name"].to_numpy(),
            "level": territories["level"].to_numpy(),
            "parent_code": territories["parent_code"].astype("object").to_numpy(),
            "population": pd.to_numeric(territories["population"], errors="coerce").to_numpy()
            if "population" in territories
            else np.nan,
        },
        index=index,
    )
    out["population"] = out["population"].astype("Int64")

    def count(series: pd.Series) -> pd.Series:
        return series.reindex(index, fill_value=0).astype("int64")

    actor_frame = pd.DataFrame(
        {
            "id": actors["id"].astype(str).to_numpy(),
            "tc": actors["territory_code"].astype("object").to_numpy(),
        }
    )
    actor_frame = actor_frame.join(metrics[["degree", "betweenness"]], on="id")
    in_actor = _within(actor_frame, "tc", ancestry)
    place_frame = pd.DataFrame(
        {
            "id": places["id"].astype(str).to_numpy(),
            "tc": places["territory_code"].astype("object").to_numpy(),
            "population": pd.to_numeric(places["population"], errors="coerce").to_numpy()
            if "population" in places
            else 0.0,
        }
    )
    place_frame["population"] = place_frame["population"].fillna(0.0).astype(float)
    uncovered = uncovered_places(places, actors, relations, radius_km=radius_km)
    place_frame["uncovered"] = place_frame["id"].map(uncovered).fillna(True).astype(bool)
    in_place = _within(place_frame, "tc", ancestry)

    out["actors"] = count(in_actor.groupby("territory").size())
    population = out["population"].astype("Float64")
    out["actors_per_10k"] = (out["actors"] / population.where(population > 0) * 10_000).astype(float)
    out["places"] = count(in_place.groupby("territory").size())
    out["nodes"] = out["actors"] + out["places"]

    pairs = _relation_pairs(relations, flows.node_territories(actors, places))
    figures = _relation_figures(pairs, ancestry).reindex(index).fillna(0)
    out["relations_inside"] = figures["relations_inside"].astype("int64")
    touching = figures["relations_touching"].astype("int64")
    out["relations_crossing"] = touching - out["relations_inside"]
    out["relations_touching"] = touching
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = touching.where(touching > 0).astype(float)
        out["openness"] = out["relations_crossing"] / denominator
        for column in [f"share_{k}" for k in RELATION_KINDS] + [f"share_{d}" for d in DIMENSIONS]:
            out[column] = figures[column].astype(float) / denominator
        out["formal_share"] = figures["formal"].astype(float) / denominator
        possible = (out["nodes"] * (out["nodes"] - 1) / 2).astype(float)
        out["density"] = out["relations_inside"] / possible.where(possible > 0)

    scheme_frame = pd.DataFrame(
        {
            "name": schemes["name"].astype(str).to_numpy() if len(schemes) else [],
            "tc": schemes["territory_code"].astype("object").to_numpy() if len(schemes) else [],
        }
    )
    in_scheme = _within(scheme_frame, "tc", ancestry)
    out["schemes"] = count(in_scheme.groupby("territory").size())
    names = in_scheme.groupby("territory")["name"].agg(lambda s: "; ".join(sorted(s)))
    out["scheme_names"] = _text(names, index)

    brokers = in_actor[in_actor["betweenness"] > 0].sort_values(
        ["territory", "betweenness", "id"], ascending=[True, False, True]
    )
    top = brokers.groupby("territory").head(TOP_BROKERS).groupby("territory", sort=False)["id"]
    out["top_broker"] = _text(top.first(), index)
    out["top_brokers"] = _text(top.agg(";".join), index)
    out["isolated_actors"] = count(in_actor[in_actor["degree"] == 0].groupby("territory").size())

    gaps = in_place[in_place["uncovered"]].groupby("territory")
    out["uncovered_places"] = count(gaps.size())
    out["uncovered_population"] = gaps["population"].sum().reindex(index, fill_value=0.0).astype(float)
    total = in_place.groupby("territory")["population"].sum().reindex(index, fill_value=0.0)
    out["uncovered_population_share"] = out["uncovered_population"] / total.where(total > 0)
    return out.sort_index()


def with_comparisons(indicators: pd.DataFrame, columns: Sequence[str] = HEADLINES) -> pd.DataFrame:
    """``indicators`` plus, for each column, ``<col>_parent`` and ``<col>_siblings_median``.

    ``<col>_parent`` is the parent territory's value (NaN without a parent in the table).
    ``<col>_siblings_median`` is the median over the territories with the same ``parent_code``
    and the same ``level``, the territory itself included (territories without a parent are
    siblings of the other parentless territories of their level); NaN values are skipped.
    """
    out = indicators.copy()
    parent = out["parent_code"].astype("object")
    group_parent = parent.where(parent.notna(), "\0")
    for column in columns:
        values = pd.to_numeric(out[column], errors="coerce").astype(float)
        out[f"{column}_parent"] = values.reindex(parent.to_numpy()).to_numpy()
        out[f"{column}_siblings_median"] = values.groupby([group_parent, out["level"]]).transform("median")
    return out


def relations_per_year(relations: pd.DataFrame, *, until: int | None = None) -> pd.DataFrame:
    """How many of ``relations`` (a territory's, from :func:`carto.analysis.filters.territory_relations`)
    were active during each year, by kind.

    A relation with a ``start`` is active from its start year to its ``end`` year, or to
    ``until`` (default: the latest start or end year among them) when open. Relations without
    ``start`` are left out, so a year counts fewer relations than the territory has when some are
    undated, have ended or have not begun. Columns ``year`` (int), ``kind``, ``count``; one row per
    (year, kind) with a positive count, sorted by year then kind; empty when no date exists.
    """
    empty = pd.DataFrame(
        {
            "year": pd.Series([], dtype="int64"),
            "kind": pd.Series([], dtype="object"),
            "count": pd.Series([], dtype="int64"),
        }
    )
    if relations.empty or "start" not in relations:
        return empty
    start = pd.to_datetime(relations["start"], errors="coerce").dt.year
    end = pd.to_datetime(relations["end"], errors="coerce").dt.year if "end" in relations else start * np.nan
    dated = start.notna()
    if not dated.any():
        return empty
    last = until if until is not None else int(max(start.max(), end.max() if end.notna().any() else start.max()))
    first_year = start[dated].astype("int64").to_numpy()
    last_year = end[dated].fillna(last).astype("int64").to_numpy()
    last_year = np.minimum(last_year, last)
    spans = np.maximum(last_year - first_year + 1, 0)
    offsets = np.arange(spans.sum()) - np.repeat(np.cumsum(spans) - spans, spans)
    years = np.repeat(first_year, spans) + offsets
    kinds = np.repeat(relations.loc[dated.to_numpy(), "kind"].astype(str).to_numpy(), spans)
    table = pd.DataFrame({"year": years.astype("int64"), "kind": kinds})
    if table.empty:
        return empty
    counted = table.groupby(["year", "kind"]).size().rename("count").reset_index()
    return counted.astype({"year": "int64", "kind": "object", "count": "int64"})


def json_records(table: pd.DataFrame) -> list[dict[str, object]]:
    """Rows of an indicators table as plain JSON values: NaN/NA → None, numpy scalars → Python."""
    records: list[dict[str, object]] = []
    for row in table.to_dict("records"):
        clean: dict[str, object] = {}
        for key, value in row.items():
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                clean[str(key)] = None
            elif isinstance(value, np.generic):
                clean[str(key)] = value.item()
            else:
                clean[str(key)] = value
        records.append(clean)
    return records

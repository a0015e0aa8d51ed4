"""Per-territory figures for the elected officials' summary, at every level of the hierarchy.

A node (actor or place) belongs to a territory when its ``territory_code`` is that territory or
one of its descendants (through ``parent_code``): a département counts the actors of its
communes. Results are indexed by territory code, so they join on the map and the summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import pandas as pd

# The five figures of the summary page, in display order.
HEADLINES: tuple[str, ...] = (
    "actors_per_10k",
    "relations_inside",
    "openness",
    "isolated_actors",
    "uncovered_population_share",
)

# Metric CRS for distances (Lambert-93, metres): places to actors within ``radius_km``.
METRIC_CRS = "EPSG:2154"
TOP_BROKERS = 5


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
      ``radius_km`` (distance from the place's geometry, in :data:`METRIC_CRS`) and no relation
      touching them: the *zones blanches*; ``uncovered_population`` their population;
      ``uncovered_population_share`` = that / population of all places inside (NaN when 0).

    ``metrics`` (from :func:`carto.network.node_metrics`) is computed when not given; ``on_date``
    keeps the relations active that day (for the relation figures and the metrics computed here).
    """
    raise NotImplementedError


def with_comparisons(indicators: pd.DataFrame, columns: Sequence[str] = HEADLINES) -> pd.DataFrame:
    """``indicators`` plus, for each column, ``<col>_parent`` and ``<col>_siblings_median``.

    ``<col>_parent`` is the parent territory's value (NaN without a parent in the table).
    ``<col>_siblings_median`` is the median over the territories with the same ``parent_code``
    and the same ``level``, the territory itself included (territories without a parent are
    siblings of the other parentless territories of their level); NaN values are skipped.
    """
    raise NotImplementedError


def relations_per_year(
    relations: pd.DataFrame, node_ids: Iterable[str], *, until: int | None = None
) -> pd.DataFrame:
    """Relations touching ``node_ids`` active during each year, by kind.

    A relation with a ``start`` is active from its start year to its ``end`` year, or to
    ``until`` (default: the latest start or end year among the relations given) when open.
    Relations without ``start`` are left out. Columns ``year`` (int), ``kind``, ``count``; one row
    per (year, kind) with a positive count, sorted by year then kind; empty when no date exists.
    """
    raise NotImplementedError

"""The explorer's view model: from data, filters and selection to what the map and the network show.

Pure analyses; drawing is :mod:`carto.render.explorer`'s job and widgets are the page's:

- :func:`prepare` (once per data version): every node's position and finest territory, each
  territory's ancestor at every level.
- :func:`build_scene` (per set of filters): filtered frames, nodes, metrics, boundaries to draw.
- :func:`focus` (per selection): selected nodes and their ego network.
- :func:`network_subgraph`, :func:`selected_nodes`, :func:`selected_relations`,
  :func:`position_counts`, :func:`territory_indicator`: what the network, the details panel and
  the map's indicator show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd

from carto.analysis import flows
from carto.analysis.activity import date_span
from carto.analysis.filters import Filtered, Filters, apply_filters
from carto.analysis.network import ego_nodes, ego_relations, network_core, node_metrics
from carto.analysis.selection import Selection
from carto.model import AGGREGATION_LEVELS, DETAIL_LEVELS, TERRITORY_LEVELS, relation_weights

MetricsFn = Callable[[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame], pd.DataFrame]

INDICATORS = ("population", "actors", "places", "relations")
# With nothing selected, a network larger than this shows its core (see core_of).
CORE_NODES = 120


def graph_nodes(actors: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """Every node with ``name``, ``type`` (the actor type, or ``place``), ``lon`` and ``lat``."""
    parts = []
    for frame, is_place in ((actors, False), (places, True)):
        if not len(frame):
            continue
        points = frame.geometry.representative_point()
        parts.append(
            pd.DataFrame(
                {
                    "name": frame["name"].astype(str).to_numpy(),
                    "type": "place" if is_place else frame["type"].astype(str).to_numpy(),
                    "lon": points.x.to_numpy(),
                    "lat": points.y.to_numpy(),
                },
                index=pd.Index(frame["id"].astype(str).to_numpy(), name="id"),
            )
        )
    if not parts:
        return pd.DataFrame(
            {"name": [], "type": [], "lon": [], "lat": []}, index=pd.Index([], name="id", dtype="object")
        )
    return pd.concat(parts)


def degree_metrics(nodes: pd.DataFrame, relations: pd.DataFrame) -> pd.DataFrame:
    """Degree and weighted degree of each node from the relations: the fallback metrics."""
    ends = pd.concat([relations["source"], relations["target"]], ignore_index=True)
    weight = relation_weights(relations).to_numpy(dtype=float)
    # Integer positions, then counts: hashing a million ids once, not per aggregate.
    position, ids = pd.factorize(ends)
    degree = pd.Series(np.bincount(position, minlength=len(ids)), index=pd.Index(ids, dtype=object))
    weighted = pd.Series(np.bincount(position, weights=np.concatenate([weight, weight]), minlength=len(ids)),
                         index=degree.index)
    return pd.DataFrame(
        {
            "degree": degree.reindex(nodes.index, fill_value=0).astype("int64"),
            "weighted_degree": weighted.reindex(nodes.index, fill_value=0.0).astype(float),
        },
        index=nodes.index,
    )


@dataclass(frozen=True)
class Subgraph:
    """What the network view draws, and whether it had to leave nodes out."""

    nodes: pd.DataFrame
    edges: pd.DataFrame
    total_nodes: int
    total_edges: int
    core: int = 0  # k when the nodes are (the best-connected of) the network's k-core, else 0
    core_size: int = 0  # the nodes of that k-core

    @property
    def reduced(self) -> bool:
        return len(self.nodes) < self.total_nodes or len(self.edges) < self.total_edges


def reduce_graph(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    metrics: pd.DataFrame,
    *,
    highlight: set[str] = frozenset(),  # type: ignore[assignment]
    max_nodes: int = 500,
    max_edges: int = 2500,
    rank_by: str = "degree",
) -> Subgraph:
    """Cap what the browser receives: highlighted nodes first, then the best ranked by ``rank_by``.

    Edges are those between kept nodes, heaviest first, at most ``max_edges``.
    """
    total_nodes, total_edges = len(nodes), len(edges)
    if total_nodes > max_nodes:
        score = metrics[rank_by] if rank_by in metrics else pd.Series(0, index=nodes.index)
        score = score.reindex(nodes.index).fillna(0).astype(float)
        order = pd.DataFrame({"hl": nodes.index.isin(list(highlight)), "score": score.to_numpy()}, index=nodes.index)
        order = order.sort_values(["hl", "score"], ascending=[False, False], kind="stable")
        nodes = nodes.loc[order.index[:max_nodes]]
    kept = set(nodes.index)
    edges = edges[edges["source"].isin(kept) & edges["target"].isin(kept)]
    if len(edges) > max_edges:
        weight = relation_weights(edges)
        edges = edges.loc[weight.sort_values(ascending=False, kind="stable").index[:max_edges]]
    return Subgraph(nodes=nodes, edges=edges, total_nodes=total_nodes, total_edges=total_edges)


@dataclass(frozen=True)
class Base:
    """The data once per data version: text columns as plain objects (fast hashing), every
    node's position and finest territory, and each territory's ancestor at every level."""

    territories: gpd.GeoDataFrame
    places: gpd.GeoDataFrame
    actors: gpd.GeoDataFrame
    relations: pd.DataFrame
    nodes: pd.DataFrame  # graph_nodes: name, type, lon, lat by node id
    node_territory: pd.Series
    ancestors: dict[str, pd.Series]
    node_at_level: dict[str, pd.Series]


def _plain_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if column != "geometry" and pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def _coded_ends(relations: pd.DataFrame, node_ids: pd.Index) -> pd.DataFrame:
    """Relations whose ``source`` and ``target`` are categoricals over one set of ids.

    Filtering, degrees and flows then work on integer codes: at a million relations, hashing
    every id string again on each filter change costs seconds.
    """
    ids = node_ids.append(pd.Index(relations["source"])).append(pd.Index(relations["target"])).unique()
    out = relations.copy()
    for end in ("source", "target"):
        out[end] = pd.Categorical(out[end], categories=ids)
    return out


def prepare(
    territories: gpd.GeoDataFrame, places: gpd.GeoDataFrame, actors: gpd.GeoDataFrame, relations: pd.DataFrame
) -> Base:
    """Everything that does not depend on the filters, computed once per data version."""
    plain_territories, plain_places, plain_actors = (_plain_text(f) for f in (territories, places, actors))
    levels = [lv for lv in AGGREGATION_LEVELS if lv in set(plain_territories["level"])]
    nodes = graph_nodes(plain_actors, plain_places)
    node_territory = flows.node_territories(plain_actors, plain_places)
    ancestors = {level: flows.ancestors_at(plain_territories, level) for level in levels}
    return Base(
        territories=plain_territories,
        places=plain_places,
        actors=plain_actors,
        relations=_coded_ends(_plain_text(relations), nodes.index),
        nodes=nodes,
        node_territory=node_territory,
        ancestors=ancestors,
        # Plain objects: pandas' Arrow strings are slow to look up by the hundred thousand.
        node_at_level={level: node_territory.map(up).astype(object) for level, up in ancestors.items()},
    )


@dataclass(frozen=True)
class Scene:
    """Everything both views show for one set of filters, before any selection."""

    filters: Filters
    filtered: Filtered
    nodes: pd.DataFrame  # graph_nodes: name, type, lon, lat by node id
    metrics: pd.DataFrame  # by node id
    drawn: gpd.GeoDataFrame  # the boundaries the map draws (see shown_territories)
    base: Base  # the data version the scene was built from


@dataclass(frozen=True)
class FilterChoices:
    """What the filters offer for one data version: levels present, territories by level (sorted
    by name), territory and scheme names."""

    levels: list[str]
    codes_at: dict[str, list[str]]
    territory_names: dict[str, str]
    scheme_names: dict[str, str]
    dates: tuple[dt.date, dt.date] | None = None  # the first and last dates the relations name

    def date_bounds(self, chosen: dt.date | None, today: dt.date) -> tuple[dt.date, dt.date]:
        """What the date picker offers: the relations' dates and today, and ``chosen`` (a date from a
        link may lie outside them: the picker must still show it)."""
        days = [today, *(self.dates or ()), *([chosen] if chosen else [])]
        return min(days), max(days)

    def territories_at(self, level: str) -> list[str]:
        return self.codes_at.get(level, [])


def filter_choices(
    territories: pd.DataFrame, schemes: pd.DataFrame, relations: pd.DataFrame | None = None
) -> FilterChoices:
    """The sidebar's choices: at least ``commune`` among the levels, even with no territory; the
    relations' dates when given."""
    names = dict(zip(territories["code"], territories["name"], strict=True))
    codes_at = {
        str(level): sorted(group["code"], key=lambda c: names[c]) for level, group in territories.groupby("level")
    }
    return FilterChoices(
        levels=[lv for lv in TERRITORY_LEVELS if lv in codes_at] or ["commune"],
        codes_at=codes_at,
        territory_names=names,
        scheme_names=dict(zip(schemes["id"], schemes["name"], strict=True)),
        dates=date_span(relations) if relations is not None else None,
    )


def why_no_relation(scene: Scene, dates: tuple[dt.date, dt.date] | None) -> str | None:
    """Why the scene shows no relation, when it shows none: ``"date_outside"`` (the chosen date
    lies outside the relations' ``dates``), ``"date_filters"`` (a date within them, but the other
    filters leave nothing that day), ``"filters"`` (no date: the filters leave nothing), ``"no_data"``
    (there is no relation at all). None when there are relations to show."""
    if len(scene.filtered.relations):
        return None
    if scene.base.relations.empty:
        return "no_data"
    day = scene.filters.on_date
    if day is None:
        return "filters"
    if dates is not None and not dates[0] <= day <= dates[1]:
        return "date_outside"
    return "date_filters"


def scene_counts(scene: Scene) -> dict[str, int]:
    """How many territories (drawn), actors, places and relations the scene shows."""
    part = scene.filtered
    return {"territories": len(scene.drawn), "actors": len(part.actors), "places": len(part.places),
            "relations": len(part.relations)}


def default_level(territories: pd.DataFrame, *, max_polygons: int = 1000) -> str:
    """The finest level with at most ``max_polygons`` territories (else the coarsest present).

    What the map opens on: communes for a département, EPCIs for a region.
    """
    counts = territories["level"].value_counts()
    present = [lv for lv in AGGREGATION_LEVELS if lv in counts.index]
    for level in present:
        if counts[level] <= max_polygons:
            return level
    return present[-1] if present else "commune"


def filters_for_data(filters: Filters, territories: pd.DataFrame, scheme_ids: set[str]) -> Filters:
    """Filters read from a URL, fitted to the data: what the sidebar opens on.

    A territory or scheme unknown to the data is dropped; the level follows the territory,
    else the URL, else :func:`default_level`.
    """
    level_of = dict(zip(territories["code"], territories["level"], strict=True))
    territory = filters.territory if filters.territory in level_of else None
    level = level_of[territory] if territory else filters.level
    if level not in set(level_of.values()):
        level = default_level(territories)
    schemes = tuple(s for s in filters.schemes if s in scheme_ids)
    return replace(filters, territory=territory, level=level, schemes=schemes)


def effective_filters(filters: Filters, selection: Selection) -> Filters:
    """A territory picked on the map restricts both views like the territory filter."""
    return filters.with_territory(selection.territory) if selection.territory else filters


def is_overview(filters: Filters) -> bool:
    """No territory and nothing filtered out: the view the explorer opens on (any level)."""
    return filters == Filters(level=filters.level)


def relation_levels(filters: Filters) -> tuple[str, ...]:
    """Levels at which the map may group relations into flows: the chosen level and those above."""
    levels: tuple[str, ...] = AGGREGATION_LEVELS
    return levels[levels.index(filters.level) :] if filters.level in levels else levels


def build_scene(base: Base, filters: Filters, *, metrics_fn: MetricsFn | None = None) -> Scene:
    """Filter, place the nodes, compute metrics (degrees unless ``metrics_fn``), choose the boundaries."""
    filtered = apply_filters(base.territories, base.places, base.actors, base.relations, filters)
    ids = pd.Index(filtered.actors["id"]).append(pd.Index(filtered.places["id"]))
    nodes = base.nodes.loc[ids]
    if metrics_fn is not None:
        metrics = metrics_fn(filtered.actors, filtered.places, filtered.relations).reindex(nodes.index)
    else:
        metrics = degree_metrics(nodes, filtered.relations)
    drawn = _drawn_territories(filtered.territories, filters)
    return Scene(filters, filtered, nodes, metrics, drawn, base)


def network_metrics(scene: Scene) -> pd.DataFrame:
    """Centralities and communities of the scene's nodes (:func:`carto.analysis.network.node_metrics`).

    Slower than the scene's degrees: for when the network is sized or coloured by them.
    """
    part = scene.filtered
    return node_metrics(part.actors, part.places, part.relations).reindex(scene.nodes.index)


def shown_territories(scene: Scene) -> gpd.GeoDataFrame:
    """Boundaries to draw: the finest level below the chosen territory, else the chosen level."""
    return scene.drawn


def shown_level(scene: Scene) -> str:
    """The level of the boundaries drawn when they are all of one level, else ``commune``.

    Where the map counts points and the indicator counts nodes and relations.
    """
    levels = set(scene.drawn["level"])
    return str(next(iter(levels))) if len(levels) == 1 else "commune"


def node_territory_at(scene: Scene, level: str) -> pd.Series:
    """Each node's territory at ``level`` (by node id)."""
    where = scene.base.node_at_level.get(level)
    if where is not None:
        return where
    return scene.base.node_territory.map(flows.ancestors_at(scene.base.territories, level))


def _drawn_territories(frame: gpd.GeoDataFrame, filters: Filters) -> gpd.GeoDataFrame:
    if frame.empty:
        return frame
    if filters.territory:
        levels = [lv for lv in DETAIL_LEVELS if lv in set(frame["level"])]
        return frame[frame["level"] == levels[0]] if levels else frame
    level = filters.level or "commune"
    chosen = frame[frame["level"] == level]
    return chosen if len(chosen) else frame


@dataclass(frozen=True)
class Focus:
    """The selection seen in one scene: selected nodes, the ego network around them.

    For an area drawn on the map (``area``), ``highlight`` is the selected nodes and
    ``relations`` those among them (and those leaving the area, when asked).
    """

    selected: frozenset[str]
    highlight: frozenset[str]
    relations: pd.DataFrame
    area: bool = False


def focus(scene: Scene, selection: Selection, *, leaving: bool = False) -> Focus:
    """Selected nodes present in the scene and their ego network of ``selection.radius`` steps.

    An area selection keeps the subgraph the selected nodes induce instead; ``leaving`` adds the
    relations with one end in the area.
    """
    selected = frozenset(n for n in selection.nodes if n in scene.nodes.index)
    if not selected:
        return Focus(frozenset(), frozenset(), scene.filtered.relations.iloc[0:0])
    rel = scene.filtered.relations
    if selection.area:
        source_in, target_in = rel["source"].isin(list(selected)), rel["target"].isin(list(selected))
        kept = source_in | target_in if leaving else source_in & target_in
        return Focus(selected, selected, rel[kept], area=True)
    highlight = frozenset(ego_nodes(rel, selected, selection.radius))
    return Focus(selected, highlight, ego_relations(rel, set(highlight)))


def core_of(scene: Scene, *, max_nodes: int = CORE_NODES) -> tuple[frozenset[str], int, int]:
    """The scene's core in at most ``max_nodes`` nodes, its ``k`` and the k-core's size
    (:func:`carto.analysis.network.network_core`)."""
    return network_core(scene.filtered.relations, scene.nodes.index, max_nodes=max_nodes)


def network_subgraph(
    scene: Scene,
    focused: Focus,
    *,
    core: tuple[frozenset[str], int, int] | None = None,
    max_nodes: int = 500,
    max_edges: int = 2500,
) -> Subgraph:
    """The part of the network sent to the browser (highlighted nodes always kept).

    For an area selection: only the subgraph of :attr:`Focus.relations`, its nodes and their ends.
    With nothing selected and more than :data:`CORE_NODES` nodes, only the ``core`` (from
    :func:`core_of`) is drawn, when there is one: a few hundred nodes are a hairball.
    """
    if focused.area:
        rel = focused.relations
        ends = set(focused.selected) | set(rel["source"].astype(str)) | set(rel["target"].astype(str))
        area_nodes = scene.nodes.loc[[n for n in scene.nodes.index if n in ends]]
        return reduce_graph(
            area_nodes, rel, scene.metrics, highlight=set(focused.selected), max_nodes=max_nodes, max_edges=max_edges
        )
    nodes, k, size = scene.nodes, 0, 0
    if core is not None and core[1] > 0 and not focused.highlight and len(nodes) > CORE_NODES:
        nodes, k, size = nodes[nodes.index.isin(list(core[0]))], core[1], core[2]
    sub = reduce_graph(
        nodes,
        scene.filtered.relations,
        scene.metrics,
        highlight=set(focused.highlight),
        max_nodes=max_nodes,
        max_edges=max_edges,
    )
    return replace(sub, total_nodes=len(scene.nodes), total_edges=len(scene.filtered.relations), core=k,
                   core_size=size)


def selected_nodes(scene: Scene, focused: Focus) -> pd.DataFrame:
    """The selected nodes by id: ``name``, ``type`` (actor type or ``place``) and ``degree`` when known."""
    nodes = scene.nodes.loc[sorted(focused.selected), ["name", "type"]].copy()
    if "degree" in scene.metrics:
        nodes["degree"] = scene.metrics["degree"].reindex(nodes.index).fillna(0).astype(int)
    return nodes


def selected_relations(scene: Scene, focused: Focus, *, limit: int = 200) -> pd.DataFrame:
    """The first ``limit`` relations touching a selected node, their ends by name (else id)."""
    chosen = sorted(focused.selected)
    rel = scene.filtered.relations
    touching = rel[rel["source"].isin(chosen) | rel["target"].isin(chosen)].head(limit)
    names = scene.nodes["name"]
    return pd.DataFrame(
        {
            "source": touching["source"].map(names).fillna(touching["source"]).to_numpy(),
            "target": touching["target"].map(names).fillna(touching["target"]).to_numpy(),
            "kind": touching["kind"].to_numpy(),
            "dimension": [d if isinstance(d, str) else None for d in touching["dimension"]],
            "position": touching["position"].to_numpy(),
        }
    )


def position_counts(scene: Scene) -> dict[str, int]:
    """Relations of the scene by position relative to the chosen territory."""
    counts = scene.filtered.relations["position"].value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def territory_indicator(scene: Scene, name: str) -> pd.Series:
    """One figure per shown territory (indexed by code): population, or nodes/relations counted in it.

    Relations count once in each territory they touch (both ends' territories, once if the same).
    """
    shown = shown_territories(scene)
    if name == "population":
        return pd.to_numeric(shown.set_index("code")["population"], errors="coerce").astype(float)
    level = shown_level(scene)
    ancestors = scene.base.ancestors
    up = ancestors[level] if level in ancestors else flows.ancestors_at(scene.base.territories, level)
    where = flows.node_territories(scene.filtered.actors, scene.filtered.places).map(up)
    if name in ("actors", "places"):
        ids = getattr(scene.filtered, name)["id"]
        counts = where.reindex(ids).value_counts()
    elif name == "relations":
        rel = scene.filtered.relations
        ends = pd.DataFrame({"a": rel["source"].map(where).to_numpy(), "b": rel["target"].map(where).to_numpy()})
        first = ends["a"].value_counts()
        second = ends.loc[ends["a"] != ends["b"], "b"].value_counts()
        counts = first.add(second, fill_value=0)
    else:
        msg = f"unknown indicator {name!r}; expected one of {', '.join(INDICATORS)}"
        raise ValueError(msg)
    return counts.reindex(shown["code"]).fillna(0).astype(float)

"""Social-space footprints: the area a group of nodes practises, against the administrative territory.

A group (a community of the network, a scheme's partners, the actors working with a place, a
selection) practises the places and actors it is made of. Its *footprint* is the union of a buffer
around each of them, computed in Lambert-93 (metres). One continuous part is a **compact** social
space; several parts are **scattered** areas, held together by the group's relations (a network).
The footprint is compared with the territory it is attached to (the one holding most of its nodes
at a chosen level): the share of its area outside it, and the other territories its nodes are in.

Frames in, frames out, indexed by group (footprints) or territory code (outreach).
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from carto.analysis.hierarchy import ancestors_at
from carto.model import CRS

LAMBERT_93 = "EPSG:2154"
BUFFER_M = 1_000.0  # how far around a place or an actor a group's practice reaches
MIN_GROUP_NODES = 2  # a footprint of one node says nothing about a group's space
SHAPES = ("compact", "scattered")
FOOTPRINT_COLUMNS = ("nodes", "parts", "area_km2", "convexity", "shape", "home", "share_outside", "reached")


def node_table(actors: pd.DataFrame, places: pd.DataFrame) -> gpd.GeoDataFrame:
    """Every node (actor or place) by id: ``name``, ``type`` (actor type or ``place``),
    ``territory_code`` and its geometry (EPSG:4326)."""
    parts = []
    for frame, is_place in ((actors, False), (places, True)):
        if not len(frame):
            continue
        codes = frame["territory_code"] if "territory_code" in frame else pd.Series(None, index=frame.index)
        parts.append(
            gpd.GeoDataFrame(
                {
                    "name": frame["name"].astype(str).to_numpy(),
                    "type": "place" if is_place else frame["type"].astype(str).to_numpy(),
                    "territory_code": codes.astype(object).to_numpy(),
                },
                geometry=gpd.GeoSeries(frame.geometry.to_numpy(), crs=CRS).to_numpy(),
                index=pd.Index(frame["id"].astype(str).to_numpy(), name="id"),
                crs=CRS,
            )
        )
    if not parts:
        empty: dict[str, list[object]] = {"name": [], "type": [], "territory_code": []}
        return gpd.GeoDataFrame(empty, geometry=[], index=pd.Index([], name="id", dtype="object"), crs=CRS)
    return gpd.GeoDataFrame(pd.concat(parts), crs=CRS)


def node_territories_at(nodes: pd.DataFrame, territories: pd.DataFrame, level: str) -> pd.Series:
    """Each node's territory at ``level`` (by node id); missing when the node has no territory."""
    up = ancestors_at(territories, level)
    return nodes["territory_code"].map(up).astype(object)


# --- groups ------------------------------------------------------------------------------------


def community_groups(metrics: pd.DataFrame) -> pd.Series:
    """Node id → community label (``metrics`` of :func:`carto.analysis.network.node_metrics`)."""
    return metrics["community"].astype(int).rename("group")


def scheme_groups(relations: pd.DataFrame, schemes: pd.DataFrame | None = None) -> pd.Series:
    """Node id → scheme id: the ends of the relations attached to each scheme, and its lead.

    A node in several schemes appears once per scheme (the index repeats).
    """
    attached = relations[relations["scheme_id"].notna()]
    pairs = [
        pd.DataFrame({"id": attached[end].astype(str), "group": attached["scheme_id"].astype(str)})
        for end in ("source", "target")
    ]
    if schemes is not None and "lead" in schemes:
        led = schemes[schemes["lead"].notna()]
        pairs.append(pd.DataFrame({"id": led["lead"].astype(str), "group": led["id"].astype(str)}))
    both = pd.concat(pairs).drop_duplicates()
    return pd.Series(both["group"].to_numpy(), index=pd.Index(both["id"].to_numpy(), name="id"), name="group")


def place_group(relations: pd.DataFrame, place_id: str) -> list[str]:
    """The place and every node it has a relation with: the actors and groups working with it."""
    ends = relations[(relations["source"] == place_id) | (relations["target"] == place_id)]
    return sorted({place_id, *ends["source"].astype(str), *ends["target"].astype(str)})


def as_groups(members: Iterable[str], label: str) -> pd.Series:
    """One group (``label``) of the given node ids: a selection or a place's group."""
    ids = sorted({str(m) for m in members})
    return pd.Series(label, index=pd.Index(ids, name="id"), name="group", dtype=object)


# --- footprints --------------------------------------------------------------------------------


def footprint_shape(parts: int) -> str:
    """``compact`` for one continuous area, ``scattered`` for several areas (linked by the network)."""
    return "compact" if parts <= 1 else "scattered"


def _parts(geometry: BaseGeometry) -> int:
    if geometry.is_empty:
        return 0
    return len(geometry.geoms) if hasattr(geometry, "geoms") else 1


def group_footprints(
    groups: pd.Series,
    nodes: gpd.GeoDataFrame,
    territories: gpd.GeoDataFrame,
    *,
    level: str,
    buffer_m: float = BUFFER_M,
    min_nodes: int = MIN_GROUP_NODES,
) -> gpd.GeoDataFrame:
    """One row per group of at least ``min_nodes`` located nodes, indexed by group.

    ``groups``: node id → group label (an id may repeat for several groups). ``nodes``: from
    :func:`node_table`. Columns: ``nodes`` (count), ``parts`` (separate areas), ``area_km2``,
    ``convexity`` (area over the area of its convex hull: 1 for a disc, small for a thin or
    scattered shape), ``shape`` (:func:`footprint_shape`), ``home`` (the territory at ``level``
    holding most of its nodes; ties to the smallest code), ``share_outside`` (of the area, outside
    ``home``), ``reached`` (the other territories at ``level`` holding some of its nodes, most nodes
    first), and the footprint's geometry in EPSG:4326.
    """
    where = node_territories_at(nodes, territories, level)
    at_level = territories[territories["level"] == level]
    shapes_l93 = dict(zip(at_level["code"].astype(str), at_level.to_crs(LAMBERT_93).geometry, strict=True))
    points_l93 = nodes.geometry.to_crs(LAMBERT_93)
    members = pd.DataFrame({"id": groups.index.astype(str), "group": groups.to_numpy()})
    members = members[members["id"].isin(nodes.index) & members["id"].map(points_l93).notna()]
    rows, geometries, labels = [], [], []
    for label, ids in members.groupby("group", sort=True)["id"]:
        unique = sorted(set(ids))
        if len(unique) < min_nodes:
            continue
        area = shapely.union_all(points_l93.loc[unique].buffer(buffer_m).to_numpy())
        counts = where.loc[unique].dropna().value_counts()
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        home = str(ranked[0][0]) if ranked else None
        home_shape = shapes_l93.get(home) if home is not None else None
        outside = area.difference(home_shape).area if home_shape is not None else area.area
        hull = area.convex_hull.area
        parts = _parts(area)
        rows.append(
            {
                "nodes": len(unique),
                "parts": parts,
                "area_km2": area.area / 1e6,
                "convexity": area.area / hull if hull > 0 else 1.0,
                "shape": footprint_shape(parts),
                "home": home,
                "share_outside": outside / area.area if area.area > 0 else 0.0,
                "reached": tuple(str(code) for code, _ in ranked[1:]),
            }
        )
        geometries.append(area)
        labels.append(label)
    frame = pd.DataFrame(rows, columns=list(FOOTPRINT_COLUMNS), index=pd.Index(labels, name="group"))
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometries, crs=LAMBERT_93).to_numpy(),
                            crs=LAMBERT_93).to_crs(CRS)


def selection_footprint(
    ids: Iterable[str],
    actors: pd.DataFrame,
    places: pd.DataFrame,
    territories: gpd.GeoDataFrame,
    *,
    level: str,
    buffer_m: float = BUFFER_M,
) -> gpd.GeoDataFrame:
    """The footprint of one selection of node ids (the explorer's selection and its ego network), as
    :func:`group_footprints` computes it, indexed ``selection``; empty under two located nodes.

    Only the chosen actors and places are tabled, so a selection costs its own size, not the data's.
    """
    wanted = {str(i) for i in ids}
    nodes = node_table(actors[actors["id"].astype(str).isin(wanted)], places[places["id"].astype(str).isin(wanted)])
    return group_footprints(as_groups(wanted, "selection"), nodes, territories, level=level, buffer_m=buffer_m)


def territory_outreach(
    footprints: gpd.GeoDataFrame,
    territories: gpd.GeoDataFrame,
    groups: pd.Series,
    nodes: pd.DataFrame,
    *,
    level: str,
    codes: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Per territory at ``level`` (by code): how much of the social space of the groups working there
    lies outside it, and which other territories those groups reach.

    A group works in a territory when one of its nodes is there. Columns: ``groups`` (count),
    ``area_km2`` (sum of their footprints' areas), ``outside_km2`` (the part of each outside the
    territory, summed), ``share_outside`` and ``reached`` (the other territories holding nodes of
    those groups, most nodes first). ``codes``: only these territories (default: every one at ``level``).
    """
    where = node_territories_at(nodes, territories, level)
    at = where.reindex(groups.index.astype(str)).to_numpy()
    member_at = pd.DataFrame({"group": groups.to_numpy(), "territory": at})
    member_at = member_at[member_at["group"].isin(footprints.index) & member_at["territory"].notna()]
    at_level = territories[territories["level"] == level]
    if codes is not None:
        at_level = at_level[at_level["code"].astype(str).isin({str(c) for c in codes})]
    at_level = at_level.to_crs(LAMBERT_93).set_index("code")
    prints = footprints.to_crs(LAMBERT_93).geometry
    rows = {}
    for code, shape in zip(at_level.index.astype(str), at_level.geometry, strict=True):
        working = sorted(set(member_at.loc[member_at["territory"] == code, "group"]), key=str)
        area = sum(prints.loc[g].area for g in working) / 1e6
        outside = sum(prints.loc[g].difference(shape).area for g in working) / 1e6
        elsewhere = member_at[member_at["group"].isin(working) & (member_at["territory"] != code)]
        counts = elsewhere["territory"].value_counts()
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        rows[code] = {
            "groups": len(working),
            "area_km2": area,
            "outside_km2": outside,
            "share_outside": outside / area if area > 0 else None,
            "reached": tuple(str(c) for c, _ in ranked),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index",
                                   columns=["groups", "area_km2", "outside_km2", "share_outside", "reached"])
    frame.index.name = "code"
    return frame

"""Filters shared by the map and the network: one frozen value, a URL form, and a pure apply.

The same :class:`Filters` value drives both views, so what the map shows and what the network
shows are always the same slice of the social space. ``from_query_params`` never trusts the URL:
unknown keys and invalid values are dropped, never raised.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import pandas as pd

from carto.analysis.activity import active_mask
from carto.analysis.hierarchy import descendants
from carto.model import ACTOR_TYPES, DIMENSIONS, ID_PATTERN, RELATION_KINDS, SECTORS, TERRITORY_LEVELS

FORMAL_CHOICES = ("all", "yes", "no")

# Relation position relative to a chosen territory.
INSIDE, ENTERING, LEAVING, CROSSING = "inside", "entering", "leaving", "crossing"
POSITIONS = (INSIDE, ENTERING, LEAVING, CROSSING)

# Identifiers that may come from a URL: codes and ids as the datasets use them, nothing else.
_IDENT = re.compile(ID_PATTERN)
_MAX_LIST = 200


@dataclass(frozen=True)
class Filters:
    """What both views show. Empty tuples mean "no restriction"."""

    territory: str | None = None
    level: str | None = None
    actor_types: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()
    formal: str = "all"
    schemes: tuple[str, ...] = ()
    on_date: dt.date | None = None

    def to_query_params(self) -> dict[str, str]:
        """URL form: only the fields that differ from the default, lists comma-separated."""
        out: dict[str, str] = {}
        for key, value in (("territory", self.territory), ("level", self.level)):
            if value:
                out[key] = value
        for key, values in (
            ("types", self.actor_types),
            ("sectors", self.sectors),
            ("kinds", self.kinds),
            ("dims", self.dimensions),
            ("schemes", self.schemes),
        ):
            if values:
                out[key] = ",".join(values)
        if self.formal != "all":
            out["formal"] = self.formal
        if self.on_date is not None:
            out["date"] = self.on_date.isoformat()
        return out

    @classmethod
    def from_query_params(cls, params: Mapping[str, object]) -> Filters:
        """Rebuild filters from a URL; anything unknown or invalid is ignored."""

        def text(key: str) -> str | None:
            value = params.get(key)
            if isinstance(value, list):
                value = value[-1] if value else None
            return value if isinstance(value, str) else None

        def choices(key: str, allowed: tuple[str, ...] | None) -> tuple[str, ...]:
            raw = text(key)
            if not raw:
                return ()
            seen: dict[str, None] = {}
            for part in raw.split(",")[:_MAX_LIST]:
                part = part.strip()
                ok = part in allowed if allowed is not None else bool(_IDENT.match(part))
                if ok:
                    seen[part] = None
            return tuple(seen)

        territory = text("territory")
        level = text("level")
        formal = text("formal")
        on_date: dt.date | None = None
        raw_date = text("date")
        if raw_date:
            # A year (2014) or a month (2014-06) stands for its first day.
            full = raw_date + {4: "-01-01", 7: "-01"}.get(len(raw_date), "")
            try:
                on_date = dt.date.fromisoformat(full)
            except ValueError:
                on_date = None
        return cls(
            territory=territory if territory and _IDENT.match(territory) else None,
            level=level if level in TERRITORY_LEVELS else None,
            actor_types=choices("types", ACTOR_TYPES),
            sectors=choices("sectors", SECTORS),
            kinds=choices("kinds", RELATION_KINDS),
            dimensions=choices("dims", DIMENSIONS),
            formal=formal if formal in FORMAL_CHOICES else "all",
            schemes=choices("schemes", None),
            on_date=on_date,
        )

    def with_territory(self, code: str | None) -> Filters:
        """The same filters restricted to another territory (or to none)."""
        return replace(self, territory=code)


QUERY_KEYS = ("territory", "level", "types", "sectors", "kinds", "dims", "formal", "schemes", "date")


@dataclass(frozen=True)
class Filtered:
    """The slice of the data both views draw.

    ``relations`` has a ``position`` column (inside / entering / leaving / crossing) when a
    territory is chosen, else all ``inside``. ``actors`` and ``places`` hold the nodes inside
    the territory plus the outside ends of kept relations, flagged by an ``inside`` column.
    ``territories`` are the boundaries to draw: the chosen territory and everything under it.
    """

    territories: pd.DataFrame
    places: pd.DataFrame
    actors: pd.DataFrame
    relations: pd.DataFrame
    inside_codes: frozenset[str] | None = field(default=None)


def _relation_mask(relations: pd.DataFrame, filters: Filters) -> pd.Series:
    keep = pd.Series(True, index=relations.index)
    if filters.kinds:
        keep &= relations["kind"].isin(filters.kinds)
    if filters.dimensions:
        keep &= relations["dimension"].isin(filters.dimensions)
    if filters.formal != "all":
        formal = relations["formal"].astype("boolean").fillna(False).astype(bool)
        keep &= formal if filters.formal == "yes" else ~formal
    if filters.schemes:
        keep &= relations["scheme_id"].isin(filters.schemes)
    if filters.on_date is not None:
        keep &= active_mask(relations, filters.on_date)
    return keep


def relation_positions(source_in: pd.Series, target_in: pd.Series, directed: pd.Series) -> pd.Series:
    """Where each relation stands relative to a territory: the one rule for every count of relations.

    A relation *belongs to* a territory when at least one of its ends (actor or place) lies in it
    (its ``territory_code`` is the territory or a descendant). Then it is ``inside`` when both
    ends lie in it, else ``entering`` / ``leaving`` when directed, ``crossing`` when not. The
    explorer's figures, the indicators' ``relations_inside`` / ``relations_crossing`` /
    ``relations_touching``, the summary and its PDF and yearly chart all count with this rule.
    Rows where neither end is inside get ``crossing`` too: callers keep only relations that belong.
    """
    position = pd.Series(CROSSING, index=source_in.index, dtype="object")
    position[source_in & target_in] = INSIDE
    position[directed & ~source_in & target_in] = ENTERING
    position[directed & source_in & ~target_in] = LEAVING
    return position


def territory_relations(relations: pd.DataFrame, inside_nodes: set[str]) -> pd.DataFrame:
    """The relations that belong to a territory whose nodes are ``inside_nodes``, with their
    ``position`` (:func:`relation_positions`)."""
    source_in = relations["source"].isin(inside_nodes)
    target_in = relations["target"].isin(inside_nodes)
    kept = (source_in | target_in).to_numpy()
    rel = relations[kept].copy()
    directed = (
        rel["directed"].astype("boolean").fillna(False).astype(bool)
        if "directed" in rel
        else pd.Series(False, index=rel.index)
    )
    rel["position"] = relation_positions(source_in[kept], target_in[kept], directed)
    return rel


def apply_filters(
    territories: pd.DataFrame,
    places: pd.DataFrame,
    actors: pd.DataFrame,
    relations: pd.DataFrame,
    filters: Filters,
) -> Filtered:
    """Restrict every frame to what ``filters`` keep.

    Actor type and sector keep the matching actors and the relations whose actor ends match
    (places are not typed, so they stay). A territory keeps the relations with at least one end
    inside it, flagged by position; ``directed`` relations enter or leave, the others cross.
    The date keeps relations active that day.
    """
    kept_actors = actors
    if filters.actor_types:
        kept_actors = kept_actors[kept_actors["type"].isin(filters.actor_types)]
    if filters.sectors:
        kept_actors = kept_actors[kept_actors["sector"].isin(filters.sectors)]
    node_ids = pd.Index(kept_actors["id"]).append(pd.Index(places["id"]))

    rel = relations[_relation_mask(relations, filters)]
    rel = rel[rel["source"].isin(node_ids) & rel["target"].isin(node_ids)].copy()

    inside_codes: frozenset[str] | None = None
    shown_territories = territories
    if filters.territory and filters.territory in set(territories["code"]):
        inside_codes = frozenset(descendants(territories, filters.territory))
        shown_territories = territories[territories["code"].isin(inside_codes)]
        node_code = pd.concat([kept_actors.set_index("id")["territory_code"], places.set_index("id")["territory_code"]])
        inside_nodes = set(node_code.index[node_code.isin(inside_codes)])
        rel = territory_relations(rel, inside_nodes)
        ends = set(rel["source"]) | set(rel["target"])
        kept_places = places[places["id"].isin(inside_nodes | ends)].copy()
        kept_actors = kept_actors[kept_actors["id"].isin(inside_nodes | ends)].copy()
        kept_places["inside"] = kept_places["id"].isin(inside_nodes)
        kept_actors["inside"] = kept_actors["id"].isin(inside_nodes)
    else:
        rel["position"] = INSIDE
        kept_places = places.copy()
        kept_actors = kept_actors.copy()
        kept_places["inside"] = True
        kept_actors["inside"] = True
    return Filtered(
        territories=shown_territories,
        places=kept_places,
        actors=kept_actors,
        relations=rel,
        inside_codes=inside_codes,
    )

"""Vocabulary of the project: datasets, their columns and the allowed values.

Code names are English; the UI translates them through :mod:`carto.i18n` (keys ``enum.<value>``).
Every other module reads column lists from here, so a column is added in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

CRS = "EPSG:4326"

TERRITORY_LEVELS = ("region", "departement", "epci", "commune", "qpv", "custom")
# Levels that nest, finest first: where relations are counted between territories at scale.
AGGREGATION_LEVELS = ("commune", "epci", "departement", "region")
# Levels a map draws inside a chosen territory, finest first (communes before neighbourhoods).
DETAIL_LEVELS = ("commune", "qpv", "epci", "departement", "region")

# Metropolitan France and Corsica, with a margin (lon_min, lat_min, lon_max, lat_max): where the
# maps open when there is nothing to fit, and where a point whose lon/lat look swapped should fall.
METROPOLITAN_FRANCE = (-5.8, 41.2, 10.0, 51.3)

# Ids and codes as they may appear in a URL (explorer filters and selection).
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"

ACTOR_TYPES = (
    "ccas",
    "caf",
    "mission_locale",
    "centre_social",
    "pmi",
    "association",
    "school",
    "health_centre",
    "france_travail",
    "housing",
    "local_authority",
    "company",
    "other",
)

SECTORS = (
    "social",
    "employment",
    "health",
    "education",
    "housing",
    "youth",
    "culture",
    "sport",
    "mobility",
    "justice",
    "other",
)

PLACE_KINDS = (
    "neighbourhood",
    "village",
    "estate",
    "market",
    "community_centre",
    "park",
    "station",
    "other",
)

RELATION_KINDS = ("partnership", "network", "referral", "affinity", "tension")
DIMENSIONS = ("personal", "professional", "institutional")
STAGES = ("negotiation", "contract", "delivery", "review")
SCHEME_KINDS = ("contrat_de_ville", "pre", "cls", "clspd", "ctg", "pat", "other")

IMPORT_MODES = ("append", "replace", "upsert")


@dataclass(frozen=True)
class Column:
    """One stored column: its SQL type, whether a row needs it, and its allowed values."""

    name: str
    sql_type: str
    required: bool = False
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Dataset:
    """A table of the store. ``key`` is its stable external identifier."""

    name: str
    key: str
    columns: tuple[Column, ...]
    geometry: str | None  # "point", "polygon", "any" or None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        msg = f"dataset {self.name!r} has no column {name!r}"
        raise KeyError(msg)


TERRITORIES = Dataset(
    name="territories",
    key="code",
    columns=(
        Column("code", "VARCHAR", required=True),
        Column("name", "VARCHAR", required=True),
        Column("level", "VARCHAR", required=True, choices=TERRITORY_LEVELS),
        Column("parent_code", "VARCHAR"),
        Column("population", "BIGINT"),
    ),
    geometry="polygon",
)

PLACES = Dataset(
    name="places",
    key="id",
    columns=(
        Column("id", "VARCHAR", required=True),
        Column("name", "VARCHAR", required=True),
        Column("kind", "VARCHAR", choices=PLACE_KINDS),
        Column("population", "BIGINT"),
        Column("publics", "VARCHAR"),
        Column("territory_code", "VARCHAR"),
    ),
    geometry="any",
)

ACTORS = Dataset(
    name="actors",
    key="id",
    columns=(
        Column("id", "VARCHAR", required=True),
        Column("name", "VARCHAR", required=True),
        Column("type", "VARCHAR", required=True, choices=ACTOR_TYPES),
        Column("sector", "VARCHAR", choices=SECTORS),
        Column("siret", "VARCHAR"),
        Column("territory_code", "VARCHAR"),
        # what the actor offers, as a JSON list of {"nom", "thematiques"} (data·inclusion's services)
        Column("services", "VARCHAR"),
    ),
    geometry="point",
)

SCHEMES = Dataset(
    name="schemes",
    key="id",
    columns=(
        Column("id", "VARCHAR", required=True),
        Column("name", "VARCHAR", required=True),
        Column("kind", "VARCHAR", choices=SCHEME_KINDS),
        Column("territory_code", "VARCHAR"),
        Column("start", "DATE"),
        Column("end", "DATE"),
    ),
    geometry=None,
)

RELATIONS = Dataset(
    name="relations",
    key="id",
    columns=(
        Column("id", "VARCHAR", required=True),
        Column("source", "VARCHAR", required=True),
        Column("target", "VARCHAR", required=True),
        Column("kind", "VARCHAR", required=True, choices=RELATION_KINDS),
        Column("dimension", "VARCHAR", choices=DIMENSIONS),
        Column("formal", "BOOLEAN"),
        Column("scheme_id", "VARCHAR"),
        Column("weight", "DOUBLE"),
        Column("directed", "BOOLEAN"),
        Column("start", "DATE"),
        Column("end", "DATE"),
        Column("stage", "VARCHAR", choices=STAGES),
    ),
    geometry=None,
)

DATASETS: dict[str, Dataset] = {
    d.name: d for d in (TERRITORIES, PLACES, ACTORS, SCHEMES, RELATIONS)
}

# Load order: what a row refers to is loaded before the row.
LOAD_ORDER = ("territories", "schemes", "places", "actors", "relations")


def dataset(name: str) -> Dataset:
    """Return the dataset called ``name`` or raise a clear ``KeyError``."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(DATASETS)
        msg = f"unknown dataset {name!r}; expected one of: {known}"
        raise KeyError(msg) from None


def shared_node_ids(actor_ids: Iterable[object], place_ids: Iterable[object]) -> list[str]:
    """Ids used by both an actor and a place, sorted.

    Actors and places are both nodes of the network, keyed by id: an id must name one of them.
    The import refuses a clash; a database that holds one anyway (an older import) is read
    without the clashing places, and the pages say which ids to fix.
    """
    return sorted({str(i) for i in actor_ids} & {str(i) for i in place_ids})


def places_beside_actors(places: pd.DataFrame, actors: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``places`` without those whose id an actor also uses, and those ids (see :func:`shared_node_ids`).

    What every analysis reads, so that each node id names one node; exports keep every row, for
    the analyst to fix.
    """
    clashes = shared_node_ids(actors["id"], places["id"])
    if not clashes:
        return places, []
    return places[~places["id"].astype(str).isin(clashes)].reset_index(drop=True), clashes


def relation_weights(relations: pd.DataFrame) -> pd.Series:
    """Each relation's weight as a float: missing or unreadable weights count 1 (one plain link)."""
    if "weight" not in relations:
        return pd.Series(1.0, index=relations.index)
    return pd.to_numeric(relations["weight"], errors="coerce").fillna(1.0).astype(float)

"""Deterministic synthetic datasets at the scale tiers S, M and L (DESIGN.md §5).

The territory is a jittered grid of quadrilateral communes over a France-like box. Rectangular
blocks of cells (in grid index space) form the EPCIs, and blocks of EPCIs form the départements, so
every level tiles the level above it exactly: a block's outline is walked along the same jittered
vertices as the communes inside it. Two cells of a row are sometimes merged into one commune to hit
the tier's exact territory count (and to vary commune sizes).

Actors and places are drawn inside communes, more of them where more people live. Relations are
mostly local (same or neighbouring EPCI) with a share of long-range links; a few actors are left
isolated and a few places unreached on purpose. Everything is vectorised with numpy, and the
same ``(scale, seed)`` gives byte-identical files (GeoPackages are stamped with a fixed date).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from carto.errors import InputError
from carto.model import (
    ACTOR_TYPES,
    ACTORS,
    CRS,
    DIMENSIONS,
    PLACE_KINDS,
    PLACES,
    RELATION_KINDS,
    RELATIONS,
    SCHEME_KINDS,
    SCHEMES,
    SECTORS,
    STAGES,
    TERRITORIES,
)

__all__ = ["FILES", "TIERS", "TierSize", "generate_tier", "write_tier"]


@dataclass(frozen=True)
class TierSize:
    """Row counts of one tier; the number of schemes follows from the territories."""

    territories: int
    places: int
    actors: int
    relations: int

    @property
    def schemes(self) -> int:
        return max(5, round(self.territories / 50))


TIERS: dict[str, TierSize] = {
    "S": TierSize(territories=300, places=150, actors=1_500, relations=6_000),
    "M": TierSize(territories=4_000, places=2_000, actors=20_000, relations=100_000),
    "L": TierSize(territories=35_000, places=20_000, actors=100_000, relations=1_000_000),
}

# File written for each dataset; the loader is written against these names and layers.
FILES: dict[str, str] = {
    "territories": "territories.gpkg",
    "places": "places.gpkg",
    "actors": "actors.csv",
    "relations": "relations.csv",
    "schemes": "schemes.csv",
}

# Columns as written: the model's columns minus the ones the loader derives (territory_code of
# places and actors comes from a spatial join), plus the actors' coordinates.
_TERRITORY_COLUMNS = list(TERRITORIES.column_names)
_PLACE_COLUMNS = [c for c in PLACES.column_names if c != "territory_code"]
_ACTOR_COLUMNS = [c for c in ACTORS.column_names if c not in ("territory_code", "services")] + ["lon", "lat"]
_RELATION_COLUMNS = list(RELATIONS.column_names)
_SCHEME_COLUMNS = list(SCHEMES.column_names)

# France-like box used whole by the largest grid; smaller tiers take a centred part of it so that a
# commune keeps a realistic size (about 3-5 km across) whatever the tier.
_LON_MIN, _LON_MAX = -1.5, 6.5
_LAT_MIN, _LAT_MAX = 43.0, 49.5
_MID_LAT = (_LAT_MIN + _LAT_MAX) / 2
# Width / height of the box in kilometres, so grid cells come out roughly square on the ground.
_ASPECT = (_LON_MAX - _LON_MIN) * math.cos(math.radians(_MID_LAT)) / (_LAT_MAX - _LAT_MIN)
_JITTER = 0.25  # of a cell; below 0.5 keeps every quadrilateral convex, hence valid
_COMMUNES_PER_EPCI = 28  # France: ~35,000 communes in ~1,250 EPCIs
_EPCIS_PER_DEPARTEMENT = 13  # France: ~1,250 EPCIs in ~96 départements
_FIRST_EPCI_SIREN = 200_000_001  # EPCI SIREN numbers start with 2

_DATE_MIN = np.datetime64("2010-01-01", "D")
_DATE_LAST_START = np.datetime64("2025-12-31", "D")
_DATE_MAX = np.datetime64("2026-12-31", "D")
_GPKG_DATE = "2000-01-01T00:00:00Z"  # pinned so GeoPackage metadata does not embed "now"

_ISOLATED_SHARE = 0.02
_UNREACHED_SHARE = 0.1
_LOCAL_SHARE = 0.85
_NEIGHBOUR_SHARE = 0.35  # of local links, those that cross to an adjacent EPCI

_NAME_PREFIXES = ("", "", "", "", "", "Saint-", "Sainte-", "Le ", "La ", "Les ")
_NAME_STEMS = (
    "Ber", "Mar", "Vil", "Cha", "Mon", "Roc", "Bel", "Font", "Lan", "Sau",
    "Pra", "Gré", "Ros", "Val", "Cour", "Mor", "Tal", "Bri", "Nan", "Sal",
    "Aub", "Cor", "Dam", "Ham", "Lor", "Pey", "Ser", "Vau",
)  # fmt: skip
_NAME_ENDINGS = (
    "ville", "court", "mont", "ac", "ieu", "ange", "ais", "ay",
    "ières", "eux", "ignac", "ouse", "and", "y", "ot", "onne",
)  # fmt: skip
_NAME_SUFFIXES = (
    "", "", "", "", "", "", "-sur-Loire", "-le-Haut", "-les-Bains", "-en-Vallée", "-la-Forêt",
)  # fmt: skip

_PUBLICS = ("families", "youth", "seniors", "jobseekers", "students", "migrants", "residents")
_PLACE_LOCAL_NAMES = (
    "des Tilleuls", "du Moulin", "de la Gare", "des Lilas", "du Centre", "Bellevue",
    "des Peupliers", "du Château", "de l'Église", "des Vignes", "du Stade", "des Près",
)  # fmt: skip
_PLACE_LABELS = {
    "neighbourhood": "Quartier",
    "village": "Hameau",
    "estate": "Résidence",
    "market": "Marché",
    "community_centre": "Maison de quartier",
    "park": "Parc",
    "station": "Gare",
    "other": "Lieu-dit",
}
_ACTOR_LABELS = {
    "ccas": "CCAS",
    "caf": "CAF",
    "mission_locale": "Mission locale",
    "centre_social": "Centre social",
    "pmi": "PMI",
    "association": "Association",
    "school": "École",
    "health_centre": "Maison de santé",
    "france_travail": "France Travail",
    "housing": "Office HLM",
    "local_authority": "Mairie",
    "company": "Entreprise",
    "other": "Service",
}
_SCHEME_LABELS = {
    "contrat_de_ville": "Contrat de ville",
    "pre": "Programme de réussite éducative",
    "cls": "Contrat local de santé",
    "clspd": "CLSPD",
    "ctg": "Convention territoriale globale",
    "pat": "Projet alimentaire territorial",
    "other": "Dispositif local",
}
# Each actor type has a usual sector; some (associations, companies, other) are often elsewhere.
# Per actor type: share of actors, usual sector, probability of being in another sector.
_ACTOR_PROFILE = {
    "ccas": (0.08, "social", 0.05),
    "caf": (0.01, "social", 0.0),
    "mission_locale": (0.02, "youth", 0.1),
    "centre_social": (0.06, "social", 0.2),
    "pmi": (0.03, "health", 0.0),
    "association": (0.35, "social", 0.6),
    "school": (0.15, "education", 0.05),
    "health_centre": (0.08, "health", 0.0),
    "france_travail": (0.02, "employment", 0.0),
    "housing": (0.04, "housing", 0.05),
    "local_authority": (0.05, "other", 0.5),
    "company": (0.08, "employment", 0.5),
    "other": (0.03, "other", 0.6),
}
_SIRET_SHARE = {"association": 0.7}  # other types nearly always have one
_SIRET_SHARE_DEFAULT = 0.95

_KIND_SHARE = {
    "partnership": 0.2,
    "network": 0.35,
    "referral": 0.3,
    "affinity": 0.08,
    "tension": 0.07,
}
_DIMENSION_SHARE = {  # kind: shares over DIMENSIONS (personal, professional, institutional)
    "partnership": (0.05, 0.25, 0.70),
    "network": (0.45, 0.50, 0.05),
    "referral": (0.05, 0.80, 0.15),
    "affinity": (0.60, 0.30, 0.10),
    "tension": (0.40, 0.30, 0.30),
}
_FORMAL_SHARE = {
    "partnership": 0.95,
    "network": 0.1,
    "referral": 0.3,
    "affinity": 0.0,
    "tension": 0.0,
}
_SCHEME_SHARE = {
    "partnership": 0.7,
    "network": 0.3,
    "referral": 0.3,
    "affinity": 0.0,
    "tension": 0.0,
}
# Affinity and tension are rapports sociaux between groups: mostly between inhabited places.
_SOCIAL_KINDS = ("affinity", "tension")
_PLACE_SOURCE_SHARE = {"affinity": 0.7, "tension": 0.7}
_PLACE_TARGET_SHARE_SOCIAL = 0.6
_PLACE_TARGET_SHARE_OTHER = 0.05
_STAGE_SHARE = (0.15, 0.25, 0.4, 0.2)
_ENDED_SHARE = 0.4

_SCHEME_KIND_SHARE = {
    "contrat_de_ville": 0.2,
    "pre": 0.15,
    "cls": 0.15,
    "clspd": 0.15,
    "ctg": 0.15,
    "pat": 0.1,
    "other": 0.1,
}


# --------------------------------------------------------------------------------------------
# public API


def generate_tier(scale: str | TierSize, *, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Build every dataset of a tier in memory.

    Parameters
    ----------
    scale
        ``"S"``, ``"M"`` or ``"L"`` (see :data:`TIERS`), or an explicit :class:`TierSize`.
    seed
        Seed of the random generator; the same seed gives the same data.

    Returns
    -------
    dict
        ``territories`` and ``places`` as GeoDataFrames (EPSG:4326); ``actors``, ``relations``
        and ``schemes`` as DataFrames, with the columns written to file.
    """
    size = _resolve_size(scale)
    rng_territories, rng_schemes, rng_places, rng_actors, rng_relations = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)
    )
    grid = _make_grid(size.territories, rng_territories)
    schemes = _make_schemes(grid, size.schemes, rng_schemes)
    places = _make_places(grid, size.places, rng_places)
    actors = _make_actors(grid, size.actors, rng_actors)
    relations = _make_relations(grid, actors, places, schemes, size.relations, rng_relations)
    return {
        "territories": grid.territories,
        "places": places.frame,
        "actors": actors.frame,
        "relations": relations,
        "schemes": schemes.frame,
    }


def write_tier(out_dir: Path, scale: str | TierSize, *, seed: int = 0) -> dict[str, int]:
    """Write the tier's files into ``out_dir`` (created if needed); return row counts per dataset.

    Files are named as in :data:`FILES`; existing files of those names are replaced.
    """
    frames = generate_tier(scale, seed=seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _pinned_gpkg_date():
        for name in ("territories", "places"):
            _write_gpkg(frames[name], out_dir / FILES[name], layer=name)
    for name in ("actors", "relations", "schemes"):
        _write_csv(frames[name], out_dir / FILES[name])
    return {name: len(frame) for name, frame in frames.items()}


# --------------------------------------------------------------------------------------------
# sizes


def _resolve_size(scale: str | TierSize) -> TierSize:
    if isinstance(scale, TierSize):
        size = scale
    else:
        key = str(scale).strip().upper()
        if key not in TIERS:
            msg = f"unknown scale {scale!r}; expected one of: {', '.join(TIERS)}"
            raise InputError(msg)
        size = TIERS[key]
    if size.territories < 3 or size.places < 2 or size.actors < 2 or size.relations < 0:
        msg = (
            f"tier size {size} is too small: it needs at least 3 territories (a département, "
            "an EPCI and a commune), 2 places, 2 actors and no negative count"
        )
        raise InputError(msg)
    return size


def _block_counts(n_territories: int) -> tuple[int, int, int, int]:
    """EPCI blocks (ex, ey) and département blocks (dx, dy) for a territory count."""
    epcis = max(1, round(n_territories / (_COMMUNES_PER_EPCI + 1)))
    ex = max(1, round(math.sqrt(epcis * _ASPECT)))
    ey = max(1, round(epcis / ex))
    departements = max(1, round(ex * ey / _EPCIS_PER_DEPARTEMENT))
    dx = min(ex, max(1, round(math.sqrt(departements * _ASPECT))))
    dy = min(ey, max(1, round(departements / dx)))
    # Tiny custom sizes: shrink until every EPCI can get at least one commune.
    while ex * ey > 1 and n_territories - dx * dy - ex * ey < ex * ey:
        ex, ey = (ex - 1, ey) if ex >= ey else (ex, ey - 1)
        dx, dy = min(dx, ex), min(dy, ey)
    return ex, ey, dx, dy


def _split(n: int, parts: int) -> np.ndarray:
    """Bounds of ``parts`` consecutive, non-empty, near-equal segments of ``range(n)``."""
    return (np.arange(parts + 1, dtype=np.int64) * n) // parts


def _pair_starts(bounds: np.ndarray) -> np.ndarray:
    """Cell columns ``i`` that may merge with ``i + 1`` without crossing a block boundary."""
    starts = [np.arange(a, b - 1, 2) for a, b in itertools.pairwise(bounds)]
    return np.concatenate(starts) if starts else np.empty(0, dtype=np.int64)


def _grid_shape(n_communes: int, ex: int, ey: int) -> tuple[int, int]:
    """A grid (nx, ny) with at least ``n_communes`` cells that merges can reduce to exactly it."""
    ideal = max(ex, round(math.sqrt(n_communes * _ASPECT)))
    # Prefer the grid closest to the ideal width; widen the search for awkward tiny sizes.
    for nx in sorted(range(ex, max(ideal * 2, ex + 2) + 1), key=lambda v: (abs(v - ideal), v)):
        ny = max(ey, -(-n_communes // nx))
        excess = nx * ny - n_communes
        if excess >= 0 and excess <= len(_pair_starts(_split(nx, ex))) * ny:
            return nx, ny
    msg = f"cannot lay out {n_communes} communes in {ex}x{ey} EPCIs"  # unreachable for valid sizes
    raise InputError(msg)


# --------------------------------------------------------------------------------------------
# territories


@dataclass(frozen=True)
class _Grid:
    """The territories and what later steps need to place points and find neighbours."""

    territories: gpd.GeoDataFrame
    vertices: np.ndarray  # (nx + 1, ny + 1, 2) lon/lat of the jittered grid
    commune_cell: np.ndarray  # (n_communes, 2) lower-left cell (i, j) of each commune
    commune_width: np.ndarray  # 1 or 2 cells
    commune_epci: np.ndarray  # EPCI index of each commune
    commune_population: np.ndarray
    commune_names: np.ndarray
    commune_codes: np.ndarray
    epci_codes: np.ndarray
    epci_names: np.ndarray
    epci_population: np.ndarray
    epci_departement: np.ndarray
    epci_neighbours: np.ndarray  # (n_epci, 8) neighbour index or own index off the grid edge
    departement_codes: np.ndarray
    departement_names: np.ndarray


def _make_grid(n_territories: int, rng: np.random.Generator) -> _Grid:
    ex, ey, dx, dy = _block_counts(n_territories)
    n_dep, n_epci = dx * dy, ex * ey
    n_com = n_territories - n_dep - n_epci
    nx, ny = _grid_shape(n_com, ex, ey)

    # Block bounds in cell units; département bounds are a subset of EPCI bounds.
    epci_cols, epci_rows = _split(nx, ex), _split(ny, ey)
    dep_cols, dep_rows = epci_cols[_split(ex, dx)], epci_rows[_split(ey, dy)]

    vertices = _jittered_vertices(nx, ny, n_com, rng)

    # Communes: one cell each, except some pairs merged along a row inside one EPCI.
    pair_i = _pair_starts(epci_cols)
    n_merge = nx * ny - n_com
    merged = np.zeros((nx, ny), dtype=bool)  # cell is the left half of a merged pair
    if n_merge:
        chosen = rng.choice(len(pair_i) * ny, size=n_merge, replace=False)
        merged[pair_i[chosen % len(pair_i)], chosen // len(pair_i)] = True
    covered = np.zeros((nx, ny), dtype=bool)  # cell is the right half, not a commune of its own
    covered[1:] = merged[:-1]
    ci, cj = np.nonzero(~covered)
    width = np.where(merged[ci, cj], 2, 1)

    cell_ecol = np.searchsorted(epci_cols, ci, side="right") - 1
    cell_erow = np.searchsorted(epci_rows, cj, side="right") - 1
    epci_dcol = np.searchsorted(dep_cols, epci_cols[:-1], side="right") - 1
    epci_drow = np.searchsorted(dep_rows, epci_rows[:-1], side="right") - 1

    # Number départements, EPCIs and communes from the north-west, level by level.
    dep_grid = np.arange(n_dep).reshape(dy, dx)[::-1]  # row 0 is the southernmost
    epci_dep_grid = dep_grid[epci_drow[:, None], epci_dcol[None, :]]  # (ey, ex)
    block_row, block_col = np.divmod(np.arange(n_epci), ex)  # of the (ey, ex) block grid
    epci_order = np.lexsort((block_col, -block_row, epci_dep_grid.ravel()))
    epci_index = np.empty(n_epci, dtype=np.int64)
    epci_index[epci_order] = np.arange(n_epci)
    epci_grid = epci_index.reshape(ey, ex)  # EPCI index at block (row, col)
    epci_departement = epci_dep_grid.ravel()[epci_order]

    commune_epci_raw = epci_grid[cell_erow, cell_ecol]
    order = np.lexsort((ci, -cj, commune_epci_raw))
    ci, cj, width, commune_epci = ci[order], cj[order], width[order], commune_epci_raw[order]
    commune_dep = epci_departement[commune_epci]

    population = _commune_population(ci, cj, width, nx, ny, rng)
    epci_population = np.bincount(commune_epci, weights=population, minlength=n_epci)
    epci_population = epci_population.astype(np.int64)
    dep_population = np.bincount(epci_departement, weights=epci_population, minlength=n_dep)
    dep_population = dep_population.astype(np.int64)

    dep_codes = _departement_codes(n_dep)
    within_dep = np.arange(n_com) - np.searchsorted(commune_dep, commune_dep, side="left")
    num_width = max(3, len(str(int(within_dep.max()) + 1)))
    commune_codes = np.array(
        [f"{dep_codes[d]}{k + 1:0{num_width}d}" for d, k in zip(commune_dep, within_dep, strict=True)]
    )
    epci_codes = np.array([str(_FIRST_EPCI_SIREN + k) for k in range(n_epci)])

    commune_names = _place_names(n_com, rng)
    # An EPCI is named after its most populous commune, a département after an invented river.
    biggest = _argmax_by_group(commune_epci, population, n_epci)
    epci_names = np.array(
        [_epci_name(commune_names[c], p) for c, p in zip(biggest, epci_population, strict=True)]
    )
    rivers = _place_names(n_dep, rng, plain=True)
    dep_names = np.array([f"Val-de-{r}" if k % 3 == 0 else f"Haute-{r}" for k, r in enumerate(rivers)])

    # Geometries: communes from their cells, blocks by walking their outline on the same vertices.
    commune_geoms = _commune_polygons(vertices, ci, cj, width)
    epci_geoms = np.empty(n_epci, dtype=object)
    for row in range(ey):
        for col in range(ex):
            epci_geoms[epci_grid[row, col]] = _block_polygon(
                vertices, epci_cols[col], epci_cols[col + 1], epci_rows[row], epci_rows[row + 1]
            )
    dep_geoms = np.empty(n_dep, dtype=object)
    for row in range(dy):
        for col in range(dx):
            dep_geoms[dep_grid[row, col]] = _block_polygon(
                vertices, dep_cols[col], dep_cols[col + 1], dep_rows[row], dep_rows[row + 1]
            )

    territories = gpd.GeoDataFrame(
        {
            "code": np.concatenate([dep_codes, epci_codes, commune_codes]),
            "name": np.concatenate([dep_names, epci_names, commune_names]),
            "level": np.repeat(["departement", "epci", "commune"], [n_dep, n_epci, n_com]),
            "parent_code": np.concatenate(
                [
                    np.full(n_dep, None, dtype=object),
                    dep_codes[epci_departement],
                    epci_codes[commune_epci],
                ]
            ),
            "population": np.concatenate([dep_population, epci_population, population]),
        },
        geometry=np.concatenate([dep_geoms, epci_geoms, commune_geoms]),
        crs=CRS,
    )[[*_TERRITORY_COLUMNS, "geometry"]]

    return _Grid(
        territories=territories,
        vertices=vertices,
        commune_cell=np.column_stack([ci, cj]),
        commune_width=width,
        commune_epci=commune_epci,
        commune_population=population,
        commune_names=commune_names,
        commune_codes=commune_codes,
        epci_codes=epci_codes,
        epci_names=epci_names,
        epci_population=epci_population,
        epci_departement=epci_departement,
        epci_neighbours=_epci_neighbours(epci_grid),
        departement_codes=dep_codes,
        departement_names=dep_names,
    )


def _jittered_vertices(nx: int, ny: int, n_communes: int, rng: np.random.Generator) -> np.ndarray:
    # The largest tier's communes fill the whole box; smaller tiers keep the same cell size.
    reference = _reference_communes()
    scale = min(1.0, math.sqrt(n_communes / reference))
    width = (_LON_MAX - _LON_MIN) * scale
    height = (_LAT_MAX - _LAT_MIN) * scale
    lon0 = (_LON_MIN + _LON_MAX) / 2 - width / 2
    lat0 = (_LAT_MIN + _LAT_MAX) / 2 - height / 2
    gi, gj = np.meshgrid(np.arange(nx + 1), np.arange(ny + 1), indexing="ij")
    jitter = rng.uniform(-_JITTER, _JITTER, size=(nx + 1, ny + 1, 2))
    lon = lon0 + (gi + jitter[..., 0]) * (width / nx)
    lat = lat0 + (gj + jitter[..., 1]) * (height / ny)
    # Rounded to ~1 cm so files are compact; shared vertices stay shared exactly.
    return np.round(np.stack([lon, lat], axis=-1), 7)


def _reference_communes() -> int:
    """Communes of tier L: the tier whose grid fills the whole France-like box."""
    n = TIERS["L"].territories
    ex, ey, dx, dy = _block_counts(n)
    return n - ex * ey - dx * dy


def _commune_population(
    ci: np.ndarray, cj: np.ndarray, width: np.ndarray, nx: int, ny: int, rng: np.random.Generator
) -> np.ndarray:
    """Skewed populations, higher around a few towns so dense areas cluster as they do."""
    base = rng.lognormal(mean=6.1, sigma=1.3, size=len(ci)) * width
    n_towns = max(1, len(ci) // 250)
    towns = rng.uniform([0, 0], [nx, ny], size=(n_towns, 2))
    town_size = rng.lognormal(mean=2.0, sigma=0.8, size=n_towns)
    x, y = ci + width / 2, cj + 0.5
    # Chunked so the (communes x towns) distance matrix stays small on tier L.
    boost = np.zeros(len(ci))
    for start in range(0, n_towns, 64):
        t = towns[start : start + 64]
        d2 = (x[:, None] - t[None, :, 0]) ** 2 + (y[:, None] - t[None, :, 1]) ** 2
        boost += (town_size[start : start + 64] * np.exp(-d2 / (2 * 1.5**2))).sum(axis=1)
    return np.maximum(1, np.round(base * (1 + boost))).astype(np.int64)


def _departement_codes(n: int) -> np.ndarray:
    width = max(2, len(str(n)))
    return np.array([f"{k + 1:0{width}d}" for k in range(n)])


def _place_names(n: int, rng: np.random.Generator, *, plain: bool = False) -> np.ndarray:
    """Invented French-sounding names (``plain``: without prefix and suffix)."""
    stem = rng.integers(len(_NAME_STEMS), size=n)
    ending = rng.integers(len(_NAME_ENDINGS), size=n)
    if plain:
        return np.array([_NAME_STEMS[s] + _NAME_ENDINGS[e] for s, e in zip(stem, ending, strict=True)])
    prefix = rng.integers(len(_NAME_PREFIXES), size=n)
    suffix = rng.integers(len(_NAME_SUFFIXES), size=n)
    return np.array(
        [
            _NAME_PREFIXES[p] + _NAME_STEMS[s] + _NAME_ENDINGS[e] + _NAME_SUFFIXES[x]
            for p, s, e, x in zip(prefix, stem, ending, suffix, strict=True)
        ]
    )


def _epci_name(town: str, population: int) -> str:
    if population >= 50_000:
        return f"Communauté d'agglomération de {town}"
    return f"Communauté de communes du pays de {town}"


def _argmax_by_group(group: np.ndarray, value: np.ndarray, n_groups: int) -> np.ndarray:
    """Row index of the largest ``value`` in each group (every group is non-empty)."""
    order = np.lexsort((-value, group))
    first = np.searchsorted(group[order], np.arange(n_groups), side="left")
    return order[first]


def _commune_polygons(vertices: np.ndarray, ci: np.ndarray, cj: np.ndarray, width: np.ndarray) -> np.ndarray:
    geoms = np.empty(len(ci), dtype=object)
    for w in (1, 2):
        sel = np.nonzero(width == w)[0]
        i, j = ci[sel], cj[sel]
        # Bottom edge west to east, then top edge east to west, closed.
        ring = [vertices[i + k, j] for k in range(w + 1)]
        ring += [vertices[i + k, j + 1] for k in range(w, -1, -1)]
        ring.append(vertices[i, j])
        geoms[sel] = shapely.polygons(np.stack(ring, axis=1))
    return geoms


def _block_polygon(vertices: np.ndarray, i0: int, i1: int, j0: int, j1: int) -> shapely.Polygon:
    """Outline of cells ``[i0, i1) x [j0, j1)`` through every grid vertex on it."""
    ring = np.concatenate(
        [
            vertices[i0:i1, j0],  # south, west to east
            vertices[i1, j0:j1],  # east, south to north
            vertices[i1:i0:-1, j1],  # north, east to west
            vertices[i0, j1:j0:-1],  # west, north to south
            vertices[i0 : i0 + 1, j0],
        ]
    )
    return shapely.Polygon(ring)


def _epci_neighbours(epci_grid: np.ndarray) -> np.ndarray:
    ey, ex = epci_grid.shape
    rows, cols = np.meshgrid(np.arange(ey), np.arange(ex), indexing="ij")
    offsets = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
    out = np.empty((epci_grid.size, len(offsets)), dtype=np.int64)
    own = epci_grid.ravel()
    for k, (dr, dc) in enumerate(offsets):
        r, c = rows + dr, cols + dc
        inside = (r >= 0) & (r < ey) & (c >= 0) & (c < ex)
        neighbour = epci_grid[np.clip(r, 0, ey - 1), np.clip(c, 0, ex - 1)]
        out[own, k] = np.where(inside, neighbour, epci_grid).ravel()
    return out


def _points_in_communes(
    grid: _Grid, commune: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One random point inside each given commune (bilinear inside a convex cell)."""
    width = grid.commune_width[commune]
    u = rng.uniform(0.05, 0.95, size=len(commune)) * width
    v = rng.uniform(0.05, 0.95, size=len(commune))
    cell = np.minimum(np.floor(u).astype(np.int64), width - 1)
    u = u - cell
    i = grid.commune_cell[commune, 0] + cell
    j = grid.commune_cell[commune, 1]
    vx = grid.vertices
    p = (
        vx[i, j] * ((1 - u) * (1 - v))[:, None]
        + vx[i + 1, j] * (u * (1 - v))[:, None]
        + vx[i + 1, j + 1] * (u * v)[:, None]
        + vx[i, j + 1] * ((1 - u) * v)[:, None]
    )
    return np.round(p[:, 0], 6), np.round(p[:, 1], 6)


# --------------------------------------------------------------------------------------------
# schemes, places, actors


@dataclass(frozen=True)
class _Schemes:
    frame: pd.DataFrame
    epci: np.ndarray  # EPCI whose relations may be attached to the scheme
    start: np.ndarray  # datetime64[D]


def _make_schemes(grid: _Grid, n: int, rng: np.random.Generator) -> _Schemes:
    n_epci = len(grid.epci_codes)
    weight = grid.epci_population / grid.epci_population.sum()
    epci = rng.choice(n_epci, size=n, p=weight)
    kind = _choice(rng, SCHEME_KINDS, _SCHEME_KIND_SHARE, n)
    # Most schemes cover an EPCI; some its main commune, some the whole département.
    level = rng.choice(3, size=n, p=[0.65, 0.25, 0.10])
    main_commune = _argmax_by_group(grid.commune_epci, grid.commune_population, n_epci)[epci]
    dep = grid.epci_departement[epci]
    territory = np.select(
        [level == 0, level == 1],
        [grid.epci_codes[epci], grid.commune_codes[main_commune]],
        grid.departement_codes[dep],
    )
    place_name = np.select(
        [level == 0, level == 1],
        [grid.commune_names[main_commune], grid.commune_names[main_commune]],
        grid.departement_names[dep],
    )
    start = _DATE_MIN + rng.integers(0, 365 * 13, size=n).astype("timedelta64[D]")
    end = np.minimum(start + rng.integers(3 * 365, 6 * 365, size=n).astype("timedelta64[D]"), _DATE_MAX)
    ongoing = rng.random(n) < 0.3
    frame = pd.DataFrame(
        {
            "id": _ids("S", n, 4),
            "name": [f"{_SCHEME_LABELS[SCHEME_KINDS[k]]} {p}" for k, p in zip(kind, place_name, strict=True)],
            "kind": np.array(SCHEME_KINDS)[kind],
            "territory_code": territory,
            "start": _iso(start),
            "end": _blank_where(ongoing, _iso(end)),
        }
    )[_SCHEME_COLUMNS]
    return _Schemes(frame=frame, epci=epci, start=start)


@dataclass(frozen=True)
class _Nodes:
    frame: pd.DataFrame
    epci: np.ndarray


def _make_places(grid: _Grid, n: int, rng: np.random.Generator) -> _Nodes:
    pop = grid.commune_population
    commune = rng.choice(len(pop), size=n, p=pop / pop.sum())
    # Villages in small communes; estates, markets, stations and the like in towns.
    rural = pop[commune] < 2_000
    rural_share = {"village": 0.55, "neighbourhood": 0.05, "market": 0.15, "community_centre": 0.1,
                   "park": 0.05, "other": 0.1, "estate": 0.0, "station": 0.0}  # fmt: skip
    urban_share = {"neighbourhood": 0.35, "estate": 0.2, "market": 0.1, "community_centre": 0.12,
                   "park": 0.08, "station": 0.08, "village": 0.02, "other": 0.05}  # fmt: skip
    kind = np.where(
        rural, _choice(rng, PLACE_KINDS, rural_share, n), _choice(rng, PLACE_KINDS, urban_share, n)
    )
    kind_name = np.array(PLACE_KINDS)[kind]
    population = np.minimum(pop[commune], np.round(rng.lognormal(5.5, 1.0, size=n))).astype(np.int64)
    population = np.maximum(population, 1)
    # Each place serves one to a few publics: a bitmask over _PUBLICS, looked up as text.
    mask = (rng.random((n, len(_PUBLICS))) < 0.3) @ (1 << np.arange(len(_PUBLICS)))
    mask = np.where(mask == 0, 1 << rng.integers(len(_PUBLICS), size=n), mask)
    publics_text = np.array(
        [";".join(p for b, p in enumerate(_PUBLICS) if m >> b & 1) for m in range(1 << len(_PUBLICS))]
    )
    local = rng.integers(len(_PLACE_LOCAL_NAMES), size=n)
    names = [
        f"{_PLACE_LABELS[k]} {_PLACE_LOCAL_NAMES[loc]} ({grid.commune_names[c]})"
        for k, loc, c in zip(kind_name, local, commune, strict=True)
    ]
    lon, lat = _points_in_communes(grid, commune, rng)
    frame = gpd.GeoDataFrame(
        {
            "id": _ids("P", n, 6),
            "name": names,
            "kind": kind_name,
            "population": population,
            "publics": publics_text[mask],
        },
        geometry=shapely.points(lon, lat),
        crs=CRS,
    )[[*_PLACE_COLUMNS, "geometry"]]
    return _Nodes(frame=frame, epci=grid.commune_epci[commune])


def _make_actors(grid: _Grid, n: int, rng: np.random.Generator) -> _Nodes:
    # Services concentrate where people live, a little less than proportionally.
    weight = grid.commune_population.astype(np.float64) ** 0.9
    commune = rng.choice(len(weight), size=n, p=weight / weight.sum())
    profile = [_ACTOR_PROFILE[t] for t in ACTOR_TYPES]
    type_idx = _choice(rng, ACTOR_TYPES, {t: p[0] for t, p in zip(ACTOR_TYPES, profile, strict=True)}, n)
    type_name = np.array(ACTOR_TYPES)[type_idx]
    usual = np.array([SECTORS.index(p[1]) for p in profile])[type_idx]
    other_p = np.array([p[2] for p in profile])[type_idx]
    sector = np.where(rng.random(n) < other_p, rng.integers(len(SECTORS), size=n), usual)
    siret_p = np.array([_SIRET_SHARE.get(t, _SIRET_SHARE_DEFAULT) for t in ACTOR_TYPES])[type_idx]
    siret = _blank_where(rng.random(n) >= siret_p, _sirets(n, rng))
    names = [f"{_ACTOR_LABELS[t]} {grid.commune_names[c]}" for t, c in zip(type_name, commune, strict=True)]
    lon, lat = _points_in_communes(grid, commune, rng)
    frame = pd.DataFrame(
        {
            "id": _ids("A", n, 6),
            "name": names,
            "type": type_name,
            "sector": np.array(SECTORS)[sector],
            "siret": siret,
            "lon": lon,
            "lat": lat,
        }
    )[_ACTOR_COLUMNS]
    return _Nodes(frame=frame, epci=grid.commune_epci[commune])


def _sirets(n: int, rng: np.random.Generator) -> np.ndarray:
    """Random 14-digit SIRET numbers with a valid Luhn check digit."""
    digits = rng.integers(0, 10, size=(n, 13))
    digits[:, 0] = rng.integers(1, 10, size=n)  # a SIREN does not start with 0
    # Luhn from the right: the check digit is not doubled, so prefix positions 0, 2, ... are.
    doubled = digits.copy()
    doubled[:, 0::2] *= 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    check = (10 - doubled.sum(axis=1) % 10) % 10
    full = np.column_stack([digits, check])
    as_int = full @ (10 ** np.arange(13, -1, -1, dtype=np.int64))
    return np.strings.zfill(as_int.astype(str), 14)


# --------------------------------------------------------------------------------------------
# relations


@dataclass(frozen=True)
class _Pool:
    """Nodes grouped by EPCI so a random member of any EPCI is one vectorised lookup."""

    members: np.ndarray  # node index, sorted by EPCI
    start: np.ndarray  # first position of each EPCI in ``members``
    count: np.ndarray

    @classmethod
    def build(cls, nodes: np.ndarray, epci: np.ndarray, n_epci: int) -> _Pool:
        order = np.argsort(epci[nodes], kind="stable")
        members = nodes[order]
        count = np.bincount(epci[members], minlength=n_epci)
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        return cls(members=members, start=start, count=count)

    def pick_in(self, epci: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A uniform member of each given EPCI, or of the whole pool where the EPCI has none."""
        count = self.count[epci]
        anywhere = count == 0
        size = np.where(anywhere, len(self.members), count)
        offset = np.where(anywhere, 0, self.start[epci])
        return self.members[offset + (rng.random(len(epci)) * size).astype(np.int64)]

    def pick_any(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.members[rng.integers(len(self.members), size=n)]


def _make_relations(
    grid: _Grid,
    actors: _Nodes,
    places: _Nodes,
    schemes: _Schemes,
    n: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    n_actors, n_places = len(actors.frame), len(places.frame)
    n_epci = len(grid.epci_codes)
    # Nodes are numbered actors first, then places.
    node_ids = np.concatenate([actors.frame["id"].to_numpy(str), places.frame["id"].to_numpy(str)])
    node_epci = np.concatenate([actors.epci, places.epci])

    # Some actors and places take part in no relation: isolated partners and zones blanches.
    isolated = rng.choice(n_actors, size=round(n_actors * _ISOLATED_SHARE), replace=False)
    unreached = rng.choice(n_places, size=round(n_places * _UNREACHED_SHARE), replace=False)
    actor_pool = _Pool.build(np.setdiff1d(np.arange(n_actors), isolated), node_epci, n_epci)
    place_pool = _Pool.build(n_actors + np.setdiff1d(np.arange(n_places), unreached), node_epci, n_epci)

    kind = _choice(rng, RELATION_KINDS, _KIND_SHARE, n)
    dim_cum = np.cumsum([_DIMENSION_SHARE[k] for k in RELATION_KINDS], axis=1)
    dimension = (rng.random(n)[:, None] > dim_cum[kind]).sum(axis=1)
    dimension = np.minimum(dimension, len(DIMENSIONS) - 1)
    # Rows i = 0..14 take kind i % 5 and dimension i % 3: every pair occurs, whatever the seed.
    head = min(n, len(RELATION_KINDS) * len(DIMENSIONS))
    kind[:head] = np.arange(head) % len(RELATION_KINDS)
    dimension[:head] = np.arange(head) % len(DIMENSIONS)
    kind_name = np.array(RELATION_KINDS)[kind]

    # Sources: a few very active actors become hubs and brokers; places weigh by population.
    social = np.isin(kind_name, _SOCIAL_KINDS)
    from_place = social & (
        rng.random(n) < np.array([_PLACE_SOURCE_SHARE.get(k, 0.0) for k in RELATION_KINDS])[kind]
    )
    activity = rng.lognormal(0.0, 1.0, size=len(actor_pool.members))
    src_actor = actor_pool.members[rng.choice(len(activity), size=n, p=activity / activity.sum())]
    place_pop = places.frame["population"].to_numpy(np.float64)[place_pool.members - n_actors] ** 0.5
    src_place = place_pool.members[rng.choice(len(place_pop), size=n, p=place_pop / place_pop.sum())]
    source = np.where(from_place, src_place, src_actor)

    # Targets: mostly in the source's EPCI or an adjacent one, otherwise anywhere.
    local = rng.random(n) < _LOCAL_SHARE
    cross = rng.random(n) < _NEIGHBOUR_SHARE
    src_epci = node_epci[source]
    neighbour = grid.epci_neighbours[src_epci, rng.integers(grid.epci_neighbours.shape[1], size=n)]
    target_epci = np.where(cross, neighbour, src_epci)
    to_place = rng.random(n) < np.where(social, _PLACE_TARGET_SHARE_SOCIAL, _PLACE_TARGET_SHARE_OTHER)
    target = np.where(
        to_place,
        np.where(local, place_pool.pick_in(target_epci, rng), place_pool.pick_any(n, rng)),
        np.where(local, actor_pool.pick_in(target_epci, rng), actor_pool.pick_any(n, rng)),
    )
    target = _avoid_self_loops(source, target, actor_pool, place_pool, n_actors)

    formal = rng.random(n) < np.array([_FORMAL_SHARE[k] for k in RELATION_KINDS])[kind]
    scheme_p = np.array([_SCHEME_SHARE[k] for k in RELATION_KINDS])[kind]
    scheme_pool = _Pool.build(np.arange(len(schemes.epci)), schemes.epci, n_epci)
    with_scheme = formal & (rng.random(n) < scheme_p) & (scheme_pool.count[src_epci] > 0)
    scheme = np.where(with_scheme, scheme_pool.pick_in(src_epci, rng), -1)

    start = _DATE_MIN + rng.integers(0, (_DATE_LAST_START - _DATE_MIN).astype(int) + 1, size=n)
    # A relation under a scheme cannot start before the scheme does.
    start = np.where(with_scheme, np.maximum(start, schemes.start[np.maximum(scheme, 0)]), start)
    ended = rng.random(n) < _ENDED_SHARE
    end = np.minimum(start + rng.integers(60, 2_500, size=n).astype("timedelta64[D]"), _DATE_MAX)

    partnership = kind_name == "partnership"
    stage = np.array(STAGES, dtype=object)[
        _choice(rng, STAGES, dict(zip(STAGES, _STAGE_SHARE, strict=True)), n)
    ]
    stage = np.where(ended, "review", stage)  # a finished partnership is being reviewed
    weight = np.round(np.clip(rng.lognormal(0.0, 0.5, size=n), 0.1, 10.0), 2)

    return pd.DataFrame(
        {
            "id": _ids("R", n, 7),
            "source": node_ids[source],
            "target": node_ids[target],
            "kind": kind_name,
            "dimension": np.array(DIMENSIONS)[dimension],
            "formal": formal,
            "scheme_id": _blank_where(
                ~with_scheme, schemes.frame["id"].to_numpy(object)[np.maximum(scheme, 0)]
            ),
            "weight": weight,
            "directed": kind_name == "referral",
            "start": _iso(start),
            "end": _blank_where(~ended, _iso(end)),
            "stage": _blank_where(~partnership, stage),
        }
    )[_RELATION_COLUMNS]


def _avoid_self_loops(
    source: np.ndarray, target: np.ndarray, actor_pool: _Pool, place_pool: _Pool, n_actors: int
) -> np.ndarray:
    """Replace a target equal to its source by the next node of the same pool."""
    loop = np.nonzero(source == target)[0]
    if len(loop) == 0:
        return target
    target = target.copy()
    for pool, sel in (
        (actor_pool, loop[target[loop] < n_actors]),
        (place_pool, loop[target[loop] >= n_actors]),
    ):
        if len(sel) == 0:
            continue
        by_node = np.argsort(pool.members)
        rank = by_node[np.searchsorted(pool.members, target[sel], sorter=by_node)]
        target[sel] = pool.members[(rank + 1) % len(pool.members)]
    return target


# --------------------------------------------------------------------------------------------
# helpers and writers


def _choice(rng: np.random.Generator, values: tuple[str, ...], share: dict[str, float], n: int) -> np.ndarray:
    """Indices into ``values`` drawn with the given shares (normalised; missing values get 0)."""
    p = np.array([share.get(v, 0.0) for v in values], dtype=np.float64)
    return rng.choice(len(values), size=n, p=p / p.sum())


def _blank_where(missing: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` as objects, with None (an empty CSV cell, a NULL) where ``missing``."""
    out = np.asarray(values, dtype=object).copy()
    out[missing] = None
    return out


def _ids(prefix: str, n: int, digits: int) -> np.ndarray:
    return np.strings.add(prefix, np.strings.zfill(np.arange(1, n + 1).astype(str), digits))


def _iso(days: np.ndarray) -> np.ndarray:
    """ISO dates as text, formatted once per distinct day (formatting each of 1M is slow)."""
    days = np.asarray(days, dtype="datetime64[D]")
    if days.size == 0:
        return days.astype(str)
    first = days.min()
    table = np.arange(first, days.max() + 1).astype(str)
    return table[(days - first).astype(np.int64)]


@contextmanager
def _pinned_gpkg_date() -> Iterator[None]:
    """Make GDAL stamp GeoPackage metadata with a fixed date, then restore the previous setting."""
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _GPKG_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def _write_gpkg(frame: gpd.GeoDataFrame, path: Path, *, layer: str) -> None:
    # A fresh file: updating an existing GeoPackage in place would not give identical bytes.
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG")


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == bool:
            out[column] = np.where(out[column].to_numpy(), "true", "false")
    tmp = path.with_name(path.name + ".tmp")
    out.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    os.replace(tmp, path)

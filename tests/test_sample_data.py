"""The committed sample in data/sample/ keeps its contract, and its builder is deterministic.

The first half reads the committed files (no network, no npm). The second half runs the pure core
of scripts/build_sample.py on a tiny literal input.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, box, shape

from carto.model import (
    ACTOR_TYPES,
    DIMENSIONS,
    PLACE_KINDS,
    RELATION_KINDS,
    SCHEME_KINDS,
    SECTORS,
    STAGES,
)
from scripts.build_sample import (
    Boundary,
    Commune,
    Departement,
    Epci,
    GeoNamesPlace,
    Node,
    SampleSize,
    build_sample,
    check_nodes_in_communes,
    commune_shapes,
    former_codes,
    locate_communes,
    normalise_name,
    of,
    quartiers_on_folder,
    write_files,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
SOURCE = Path(__file__).resolve().parents[1] / "data" / "sources" / "ign-admin-express" / "communes-44.geojson"
# Metropolitan France, generously.
FRANCE_BOUNDS = (-5.5, 41.0, 10.0, 51.5)


@cache
def _features(name: str) -> tuple[dict[str, Any], ...]:
    collection = json.loads((SAMPLE / name).read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    return tuple(collection["features"])


@cache
def _rows(name: str) -> tuple[dict[str, str], ...]:
    with (SAMPLE / name).open(encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


def _header(name: str) -> list[str]:
    return (SAMPLE / name).read_text(encoding="utf-8").splitlines()[0].split(",")


# --------------------------------------------------------------------------------------------
# Committed files


def test_files_have_the_contract_columns() -> None:
    assert _header("actors.csv") == ["id", "name", "type", "sector", "siret", "lon", "lat"]
    assert _header("schemes.csv") == ["id", "name", "kind", "territory_code", "start", "end", "lead"]
    assert _header("relations.csv") == [
        "id", "source", "target", "kind", "dimension", "formal", "scheme_id", "weight",
        "directed", "start", "end", "stage",
    ]  # fmt: skip
    territory_keys = {tuple(f["properties"]) for f in _features("territories.geojson")}
    assert territory_keys == {("code", "name", "level", "parent_code", "population")}
    place_keys = {tuple(f["properties"]) for f in _features("places.geojson")}
    assert place_keys == {("id", "name", "kind", "population", "publics")}


def test_csv_files_use_unix_line_endings() -> None:
    for name in ("actors.csv", "schemes.csv", "relations.csv"):
        assert b"\r" not in (SAMPLE / name).read_bytes(), name


def test_territories_form_one_departement_with_epcis_and_communes() -> None:
    props = [f["properties"] for f in _features("territories.geojson")]
    levels = Counter(p["level"] for p in props)
    assert len(props) >= 100
    assert levels["departement"] == 1
    assert set(levels) == {"departement", "epci", "commune"}
    codes = [p["code"] for p in props]
    assert len(codes) == len(set(codes))

    departement = next(p for p in props if p["level"] == "departement")
    epci_codes = {p["code"] for p in props if p["level"] == "epci"}
    communes = [p for p in props if p["level"] == "commune"]
    assert all(p["parent_code"] in epci_codes for p in communes)
    assert all(p["parent_code"] == departement["code"] for p in props if p["level"] == "epci")
    # Every EPCI has at least one commune, and populations add up level by level.
    for code in epci_codes:
        members = [p["population"] for p in communes if p["parent_code"] == code]
        epci = next(p for p in props if p["code"] == code)
        assert members and epci["population"] == sum(members)
    assert departement["population"] == sum(p["population"] for p in communes)


def test_geometries_are_valid_and_in_france() -> None:
    for name, allowed in (
        ("territories.geojson", {"Polygon", "MultiPolygon"}),
        ("places.geojson", {"Point", "Polygon", "MultiPolygon"}),
    ):
        for feature in _features(name):
            geometry = shape(feature["geometry"])
            assert geometry.geom_type in allowed, feature["properties"]
            assert geometry.is_valid and not geometry.is_empty, feature["properties"]
            min_x, min_y, max_x, max_y = geometry.bounds
            assert FRANCE_BOUNDS[0] <= min_x and max_x <= FRANCE_BOUNDS[2], feature["properties"]
            assert FRANCE_BOUNDS[1] <= min_y and max_y <= FRANCE_BOUNDS[3], feature["properties"]


def test_places_and_actors_lie_inside_the_departement() -> None:
    departement = next(
        shape(f["geometry"])
        for f in _features("territories.geojson")
        if f["properties"]["level"] == "departement"
    )
    points = [shape(f["geometry"]) for f in _features("places.geojson")]
    points += [shapely.Point(float(a["lon"]), float(a["lat"])) for a in _rows("actors.csv")]
    outside = [p for p in points if not departement.buffer(1e-4).covers(p)]
    assert outside == []


def test_every_place_and_actor_lies_inside_one_commune() -> None:
    communes = [shape(f["geometry"]) for f in _features("territories.geojson") if f["properties"]["level"] == "commune"]
    points = [shape(f["geometry"]) for f in _features("places.geojson")]
    points += [shapely.Point(float(a["lon"]), float(a["lat"])) for a in _rows("actors.csv")]
    tree = shapely.STRtree(communes)
    hits = Counter(int(point) for point in tree.query(points, predicate="within")[0])
    assert [i for i in range(len(points)) if hits[i] != 1] == []


def test_communes_are_the_real_boundaries() -> None:
    source = {f["properties"]["code"]: shape(f["geometry"]) for f in json.loads(SOURCE.read_text("utf-8"))["features"]}
    sample = {
        f["properties"]["code"]: shape(f["geometry"])
        for f in _features("territories.geojson")
        if f["properties"]["level"] == "commune"
    }
    assert len(source) == 208 and len(sample) == 207
    # Nantes as IGN draws it, up to the 1 m snapping of the build (1e-5° is about 1 m).
    assert sample["44109"].hausdorff_distance(source["44109"]) < 3e-5
    # Saint-Géréon (44160) merged into Ancenis (44003) in 2019: today's commune is their union.
    assert "44160" not in sample
    merged = shapely.union_all([source["44003"], source["44160"]])
    assert sample["44003"].hausdorff_distance(merged) < 3e-5


def test_counts_and_unique_ids() -> None:
    places = [f["properties"] for f in _features("places.geojson")]
    actors, schemes, relations = _rows("actors.csv"), _rows("schemes.csv"), _rows("relations.csv")
    assert len(actors) >= 50
    assert len(places) >= 10
    assert len(relations) >= 100
    assert len(schemes) >= 1
    for rows in (places, actors, schemes, relations):
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids))


def test_enum_values_are_allowed() -> None:
    places = [f["properties"] for f in _features("places.geojson")]
    actors, schemes, relations = _rows("actors.csv"), _rows("schemes.csv"), _rows("relations.csv")
    assert {p["kind"] for p in places} <= set(PLACE_KINDS)
    assert {a["type"] for a in actors} <= set(ACTOR_TYPES)
    assert {a["sector"] for a in actors} <= set(SECTORS)
    assert {s["kind"] for s in schemes} <= set(SCHEME_KINDS)
    assert {r["kind"] for r in relations} <= set(RELATION_KINDS)
    assert {r["dimension"] for r in relations} <= set(DIMENSIONS)
    assert {r["stage"] for r in relations} <= {*STAGES, ""}
    assert {r["formal"] for r in relations} | {r["directed"] for r in relations} <= {"true", "false"}


def test_every_relation_kind_and_dimension_is_present() -> None:
    relations = _rows("relations.csv")
    assert {r["kind"] for r in relations} == set(RELATION_KINDS)
    assert {r["dimension"] for r in relations} == set(DIMENSIONS)


def test_relation_endpoints_and_schemes_exist() -> None:
    nodes = {a["id"] for a in _rows("actors.csv")}
    nodes |= {f["properties"]["id"] for f in _features("places.geojson")}
    schemes = {s["id"] for s in _rows("schemes.csv")}
    for r in _rows("relations.csv"):
        assert r["source"] in nodes and r["target"] in nodes, r["id"]
        assert r["source"] != r["target"], r["id"]
        assert r["scheme_id"] == "" or r["scheme_id"] in schemes, r["id"]


def test_relation_attributes_follow_their_kind() -> None:
    for r in _rows("relations.csv"):
        assert 1 <= float(r["weight"]) <= 5, r["id"]
        assert (r["directed"] == "true") == (r["kind"] == "referral"), r["id"]
        assert (r["stage"] != "") == (r["kind"] == "partnership"), r["id"]
        assert "2015-01-01" <= r["start"] <= "2025-12-31", r["id"]
        assert r["end"] == "" or r["end"] > r["start"], r["id"]


def test_some_nodes_are_left_out_of_the_network() -> None:
    relations = _rows("relations.csv")
    linked = {r["source"] for r in relations} | {r["target"] for r in relations}
    actors = {a["id"] for a in _rows("actors.csv")}
    places = {f["properties"]["id"] for f in _features("places.geojson")}
    assert 0 < len(actors - linked) < len(actors) // 10
    assert 0 < len(places - linked) < len(places) // 4


def test_schemes_point_at_communes_or_epcis() -> None:
    props = [f["properties"] for f in _features("territories.geojson")]
    local = {p["code"] for p in props if p["level"] in ("commune", "epci")}
    for s in _rows("schemes.csv"):
        assert s["territory_code"] in local, s["id"]
        assert s["end"] == "" or s["end"] > s["start"], s["id"]


def test_the_committed_sample_gives_itself_back_through_its_quartier_step() -> None:
    # The quartiers are drawn last, from their own seed (build_sample --quartiers-only): run again on
    # the committed files, the step drops them and draws the same rows, byte for byte.
    files = quartiers_on_folder(SAMPLE)
    assert sorted(files) == ["actors.csv", "places.geojson", "relations.csv", "schemes.csv"]
    assert files == {name: (SAMPLE / name).read_bytes() for name in files}


def test_sample_folder_is_small() -> None:
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total < 5 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# The builder's pure core, on a tiny literal input

DEPARTEMENT = Departement("99", "Val-de-Test", "00")
COMMUNES = [
    Commune("99001", "Saint-Éloi-des-Bois", "99", 12_000),
    Commune("99002", "Les Aulnes", "99", 3_000),
    Commune("99003", "Bréhat-sur-Mer", "99", 1_500),
    Commune("99004", "La Noë", "99", 2_200),
    Commune("99005", "Orvillé", "99", 900),
    Commune("99006", "Sans-Point", "99", 500),  # its GeoNames point is outside it: an inner point
    Commune("99007", "Hors-EPCI", "99", 800),  # no EPCI: left out
    Commune("99009", "Sans-Limite", "99", 300),  # no boundary: left out
    Commune("98001", "Ailleurs", "98", 4_000),  # another département
]
EPCIS = [
    Epci("200000001", "CC du Bocage", ("99001", "99002", "99003", "99006", "99009")),
    Epci("200000002", "CA de la Côte", ("99004", "99005", "98001")),
]
ADMIN2 = "Departement du Val-de-Test"
GEONAMES = [
    GeoNamesPlace("St-Eloi-des-Bois", 47.30, -1.60, ADMIN2),
    GeoNamesPlace("Les Aulnes", 47.36, -1.52, ADMIN2),
    GeoNamesPlace("Brehat-sur-Mer", 47.24, -1.70, ADMIN2),
    GeoNamesPlace("La Noe", 47.20, -1.48, ADMIN2),
    GeoNamesPlace("Orville", 47.28, -1.40, ADMIN2),
    GeoNamesPlace("Hors-EPCI", 47.40, -1.40, ADMIN2),
    GeoNamesPlace("Sans-Point", 47.40, -1.70, ADMIN2),  # in nobody's square
    GeoNamesPlace("Les Aulnes", 45.00, 3.00, "Departement du Cantal"),  # homonym elsewhere
]
# 0.1° squares (0.2° tall for three of them) that tile lon -1.75..-1.35, lat 47.15..47.35 (+ one row
# above); 99012 is a former commune merged into 99002, so today's 99002 is the 0.1 × 0.2 union.
BOUNDARIES = [
    Boundary("99003", box(-1.75, 47.15, -1.65, 47.35)),
    Boundary("99001", box(-1.65, 47.25, -1.55, 47.35)),
    Boundary("99006", box(-1.65, 47.15, -1.55, 47.25)),
    Boundary("99002", box(-1.55, 47.35, -1.45, 47.45)),
    Boundary("99012", box(-1.55, 47.25, -1.45, 47.35)),
    Boundary("99004", box(-1.55, 47.15, -1.45, 47.25)),
    Boundary("99005", box(-1.45, 47.15, -1.35, 47.35)),
    Boundary("99007", box(-1.45, 47.35, -1.35, 47.45)),
]
FORMER = {"99012": "99002"}
TINY = SampleSize(places=6, actors=24, relations=40, schemes=3, isolated_actors=1, unreached_places=1)


def test_normalise_name_folds_accents_case_hyphens_and_saint() -> None:
    assert normalise_name("Saint-Éloi-des-Bois") == "st eloi des bois"
    assert normalise_name("St Eloi des bois") == "st eloi des bois"
    assert normalise_name("Sainte-Luce-sur-Loire") == normalise_name("Ste-Luce sur Loire")
    assert normalise_name("Paimbœuf") == "paimboeuf"


def test_of_elides_and_contracts() -> None:
    assert of("Orvault") == "d'Orvault"
    assert of("Le Pellerin") == "du Pellerin"
    assert of("Les Touches") == "des Touches"
    assert of("Nantes") == "de Nantes"
    assert of("La Baule") == "de La Baule"


def test_locate_communes_centres_each_commune_inside_its_boundary() -> None:
    shapes = commune_shapes(BOUNDARIES, FORMER)
    located, unmatched, without_epci, without_boundary = locate_communes(
        COMMUNES, EPCIS, DEPARTEMENT, GEONAMES, shapes
    )
    assert [lc.commune.code for lc in located] == ["99001", "99002", "99003", "99004", "99005", "99006"]
    assert [c.code for c in unmatched] == ["99006"]
    assert without_epci == 1
    assert [c.code for c in without_boundary] == ["99009"]
    assert {lc.commune.code: lc.epci.siren for lc in located}["99004"] == "200000002"
    # Lambert-93 puts western France around x = 300-400 km, y = 6.68-6.72 Mm at these latitudes.
    assert all(250_000 < lc.x < 450_000 and 6_650_000 < lc.y < 6_750_000 for lc in located)
    assert all(shapes[lc.commune.code].contains(Point(lc.x, lc.y)) for lc in located)


def test_former_codes_follow_delegated_communes_and_old_codes() -> None:
    rows = [
        {"code": "99002", "type": "commune-actuelle", "anciensCodes": ["99012"]},
        {"code": "99013", "type": "commune-deleguee", "chefLieu": "99002"},
        {"code": "99002", "type": "commune-deleguee", "chefLieu": "99002"},  # the chef-lieu itself
        {"code": "99001", "type": "commune-actuelle"},
        {"code": "99014", "type": "commune-associee", "chefLieu": "99001"},
        {"code": "99015", "type": "commune-deleguee", "chefLieu": "99001"},
        {"code": "99003", "type": "commune-actuelle", "anciensCodes": ["99015"]},  # split: left out
    ]
    assert former_codes(rows) == {"99012": "99002", "99013": "99002", "99014": "99001"}


def test_nodes_outside_their_commune_are_refused() -> None:
    territory = ({"code": "99001", "level": "commune"}, box(-1.6, 47.3, -1.5, 47.4))
    inside = Node("A-1", "ccas", False, 0.0, 0.0, "99001", "200000001")
    outside = Node("A-2", "ccas", False, 0.0, 0.0, "99001", "200000001")
    actors = [{"lon": "-1.55", "lat": "47.35"}, {"lon": "-1.45", "lat": "47.35"}]
    with pytest.raises(RuntimeError, match="1 places/actors fall outside their commune: A-2"):
        check_nodes_in_communes([territory], [], [], actors, [inside, outside])
    check_nodes_in_communes([territory], [], [], actors[:1], [inside])


def test_build_sample_gives_identical_bytes_for_the_same_seed() -> None:
    first = build_sample(COMMUNES, EPCIS, DEPARTEMENT, GEONAMES, BOUNDARIES, former=FORMER, seed=7, size=TINY)
    second = build_sample(COMMUNES, EPCIS, DEPARTEMENT, GEONAMES, BOUNDARIES, former=FORMER, seed=7, size=TINY)
    other_seed = build_sample(COMMUNES, EPCIS, DEPARTEMENT, GEONAMES, BOUNDARIES, former=FORMER, seed=8, size=TINY)
    assert first.files == second.files
    assert first.files["relations.csv"] != other_seed.files["relations.csv"]
    # Geometry does not depend on the seed, only the fictional layers do.
    assert first.files["territories.geojson"] == other_seed.files["territories.geojson"]


def test_build_sample_on_tiny_input_keeps_the_contract() -> None:
    build = build_sample(COMMUNES, EPCIS, DEPARTEMENT, GEONAMES, BOUNDARIES, former=FORMER, seed=7, size=TINY)
    assert (build.communes_total, build.communes_located) == (8, 6)
    assert build.unmatched_names == ["Sans-Point"]
    assert build.communes_without_boundary == ["Sans-Limite"]
    territories = json.loads(build.files["territories.geojson"])["features"]
    levels = Counter(f["properties"]["level"] for f in territories)
    assert levels == {"departement": 1, "epci": 2, "commune": 6}
    epci = next(f["properties"] for f in territories if f["properties"]["code"] == "200000002")
    assert epci["population"] == 2_200 + 900  # members within the département only
    communes = {
        f["properties"]["code"]: shape(f["geometry"]) for f in territories if f["properties"]["level"] == "commune"
    }
    departement = shape(territories[0]["geometry"])
    assert all(commune.is_valid for commune in communes.values())
    # The communes are the squares (up to the 1 m snapping, ~1e-5°), 99002 with its former commune.
    assert communes["99002"].hausdorff_distance(box(-1.55, 47.25, -1.45, 47.45)) < 2e-5
    assert communes["99006"].hausdorff_distance(box(-1.65, 47.15, -1.55, 47.25)) < 2e-5
    # They tile the département: 0.02 + 0.01 + 0.01 + 0.02 + 0.01 + 0.02 = 0.09 square degrees.
    assert departement.area == pytest.approx(0.09, rel=1e-3)
    # (the snapping to 1 m and then to 1e-5° moves edges by under a metre: 1e-4 of the area at most)
    assert sum(c.area for c in communes.values()) == pytest.approx(departement.area, rel=1e-4)
    # 24 actors and 6 places, then one quartier (10 actors, 3 places) in the only town of 10,000+
    assert build.counts["actors"] == 24 + 10 and build.counts["places"] == 6 + 3


def test_the_tiny_town_gets_a_quartier_of_close_and_densely_linked_neighbours(tmp_path: Path) -> None:
    build = build_sample(COMMUNES, EPCIS, DEPARTEMENT, GEONAMES, BOUNDARIES, former=FORMER, seed=7, size=TINY)
    actors = list(csv.DictReader(build.files["actors.csv"].decode().splitlines()))
    places = json.loads(build.files["places.geojson"])["features"]
    relations = list(csv.DictReader(build.files["relations.csv"].decode().splitlines()))
    # Numbered after the 24 actors and 6 places of the main draw.
    quartier = {a["id"]: (float(a["lon"]), float(a["lat"])) for a in actors[24:]}
    quartier |= {f["properties"]["id"]: tuple(f["geometry"]["coordinates"]) for f in places[6:]}
    assert sorted(quartier) == [*(f"A-{n:04d}" for n in range(25, 35)), "P-007", "P-008", "P-009"]
    assert actors[24]["name"] == "Centre social du Bois-Rignoux"  # its hub
    assert {f["properties"]["name"] for f in places[6:]} == {
        "Quartier du Bois-Rignoux – Saint-Éloi-des-Bois",
        "Résidence Les Peupliers – Saint-Éloi-des-Bois",
        "Maison de quartier du Bois-Rignoux – Saint-Éloi-des-Bois",
    }
    # All within 2 x 600 m of one another (Lambert-93 metres): one part at a 1 km buffer.
    to_lambert = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    points = [Point(to_lambert.transform(*lonlat)) for lonlat in quartier.values()]
    assert max(a.distance(b) for a in points for b in points) <= 1_200
    inside = [r for r in relations if r["source"] in quartier and r["target"] in quartier]
    hub_links = {r["source"] for r in inside if r["target"] == "A-0025"} | {
        r["target"] for r in inside if r["source"] == "A-0025"
    }
    assert len(hub_links) == 12  # the hub is linked to each of the 12 others
    # Two light links out: the CCAS antenna to the town's CCAS (A-0001), the hub with the CAF
    # (A-0002); no France Travail in its EPCI (17,000 inhabitants, under 25,000) for the régie.
    leaving = [r for r in relations if (r["source"] in quartier) != (r["target"] in quartier)]
    assert [(r["source"], r["target"], r["kind"], r["weight"], r["formal"]) for r in leaving] == [
        ("A-0026", "A-0001", "referral", "1", "false"),
        ("A-0025", "A-0002", "network", "1", "false"),
    ]
    # The step on the written files gives the same rows as the build does.
    write_files(build.files, tmp_path)
    again = quartiers_on_folder(tmp_path, seed=7, size=TINY)
    assert again == {name: build.files[name] for name in again}
    # and a build without quartiers is the main draw alone
    plain_size = dataclasses.replace(TINY, quartiers=0)
    plain = build_sample(COMMUNES, EPCIS, DEPARTEMENT, GEONAMES, BOUNDARIES, former=FORMER, seed=7, size=plain_size)
    assert plain.files["actors.csv"].decode().splitlines() == build.files["actors.csv"].decode().splitlines()[:25]

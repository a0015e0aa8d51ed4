"""The synthetic tier generator: exact sizes, byte-identical reruns, consistent references."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from carto.errors import InputError
from carto.ingest.synthetic import FILES, TIERS, TierSize, generate_tier, write_tier
from carto.model import (
    ACTOR_TYPES,
    DIMENSIONS,
    PLACE_KINDS,
    RELATION_KINDS,
    SCHEME_KINDS,
    SECTORS,
    STAGES,
    TERRITORY_LEVELS,
)

S_COUNTS = {"territories": 300, "places": 150, "actors": 1_500, "relations": 6_000, "schemes": 6}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_csv(path: Path) -> pd.DataFrame:
    # Everything as text, empty cells as "": what a loader sees before it converts anything.
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def tier_s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tier_s")
    assert write_tier(out, "S", seed=0) == S_COUNTS
    return out


@pytest.fixture(scope="module")
def frames(tier_s: Path) -> dict[str, Any]:
    return {
        "territories": gpd.read_file(tier_s / FILES["territories"], layer="territories"),
        "places": gpd.read_file(tier_s / FILES["places"], layer="places"),
        "actors": _read_csv(tier_s / FILES["actors"]),
        "relations": _read_csv(tier_s / FILES["relations"]),
        "schemes": _read_csv(tier_s / FILES["schemes"]),
    }


def test_tier_sizes_match_the_design() -> None:
    expected = {
        "S": TierSize(300, 150, 1_500, 6_000),
        "M": TierSize(4_000, 2_000, 20_000, 100_000),
        "L": TierSize(35_000, 20_000, 100_000, 1_000_000),
    }
    assert expected == TIERS
    assert [TIERS[k].schemes for k in "SML"] == [6, 80, 700]


def test_tier_s_files_have_exact_row_counts(tier_s: Path, frames: dict[str, Any]) -> None:
    assert sorted(p.name for p in tier_s.iterdir()) == sorted(FILES.values())
    assert {name: len(frame) for name, frame in frames.items()} == S_COUNTS


def test_columns_are_the_contract(frames: dict[str, Any]) -> None:
    assert list(frames["territories"].columns) == [
        "code", "name", "level", "parent_code", "population", "geometry",
    ]  # fmt: skip
    assert list(frames["places"].columns) == ["id", "name", "kind", "population", "publics", "geometry"]
    assert list(frames["actors"].columns) == ["id", "name", "type", "sector", "siret", "lon", "lat"]
    assert list(frames["relations"].columns) == [
        "id", "source", "target", "kind", "dimension", "formal", "scheme_id",
        "weight", "directed", "start", "end", "stage",
    ]  # fmt: skip
    assert list(frames["schemes"].columns) == ["id", "name", "kind", "territory_code", "start", "end"]


def test_csv_is_utf8_with_unix_line_endings(tier_s: Path) -> None:
    for name in ("actors", "relations", "schemes"):
        raw = (tier_s / FILES[name]).read_bytes()
        assert b"\r" not in raw
        raw.decode("utf-8")
        assert raw.endswith(b"\n")
    # Names carry accents (Vallée, École...): they must survive as UTF-8.
    assert re.search("[éèêô]", (tier_s / FILES["actors"]).read_text(encoding="utf-8"))


def test_same_seed_gives_identical_bytes(tier_s: Path, tmp_path: Path) -> None:
    write_tier(tmp_path, "S", seed=0)
    for filename in FILES.values():
        assert _sha256(tmp_path / filename) == _sha256(tier_s / filename), filename


def test_rewriting_into_the_same_directory_gives_identical_bytes(tmp_path: Path) -> None:
    write_tier(tmp_path, "S", seed=3)
    first = {f: _sha256(tmp_path / f) for f in FILES.values()}
    write_tier(tmp_path, "S", seed=3)
    assert {f: _sha256(tmp_path / f) for f in FILES.values()} == first


def test_different_seed_gives_different_relations(tier_s: Path, tmp_path: Path) -> None:
    write_tier(tmp_path, "S", seed=1)
    assert _sha256(tmp_path / FILES["relations"]) != _sha256(tier_s / FILES["relations"])
    ours = _read_csv(tier_s / FILES["relations"])
    theirs = _read_csv(tmp_path / FILES["relations"])
    assert (ours["source"] != theirs["source"]).mean() > 0.9


def test_gdal_date_option_is_restored(tmp_path: Path) -> None:
    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    write_tier(tmp_path, TierSize(3, 2, 2, 1))
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") == before


def test_ids_are_unique_and_prefixed(frames: dict[str, Any]) -> None:
    patterns = {"actors": r"A\d{6}", "places": r"P\d{6}", "relations": r"R\d{7}", "schemes": r"S\d{4}"}
    for name, pattern in patterns.items():
        ids = frames[name]["id"]
        assert ids.is_unique, name
        assert ids.str.fullmatch(pattern).all(), name
    assert frames["actors"]["id"].iloc[0] == "A000001"
    assert frames["relations"]["id"].iloc[-1] == "R0006000"


def test_every_relation_endpoint_exists(frames: dict[str, Any]) -> None:
    nodes = set(frames["actors"]["id"]) | set(frames["places"]["id"])
    relations = frames["relations"]
    assert relations["source"].isin(nodes).all()
    assert relations["target"].isin(nodes).all()
    assert not (relations["source"] == relations["target"]).any()
    # Some endpoints are places: the network reaches inhabited places too.
    assert relations["target"].str.startswith("P").any()
    assert relations["source"].str.startswith("P").any()


def test_scheme_references_exist(frames: dict[str, Any]) -> None:
    relations, schemes = frames["relations"], frames["schemes"]
    used = relations.loc[relations["scheme_id"] != "", "scheme_id"]
    assert len(used) > 0
    assert used.isin(set(schemes["id"])).all()
    assert (relations.loc[relations["scheme_id"] != "", "formal"] == "true").all()
    assert schemes["territory_code"].isin(set(frames["territories"]["code"])).all()


def test_enum_values_are_the_models(frames: dict[str, Any]) -> None:
    relations = frames["relations"]
    assert set(relations["kind"]) == set(RELATION_KINDS)
    assert set(relations["dimension"]) == set(DIMENSIONS)
    assert set(relations["stage"]) - {""} <= set(STAGES)
    assert set(frames["actors"]["type"]) <= set(ACTOR_TYPES)
    assert set(frames["actors"]["sector"]) <= set(SECTORS)
    assert set(frames["places"]["kind"]) <= set(PLACE_KINDS)
    assert set(frames["schemes"]["kind"]) <= set(SCHEME_KINDS)
    assert set(frames["territories"]["level"]) == {"departement", "epci", "commune"}
    assert set(frames["territories"]["level"]) <= set(TERRITORY_LEVELS)


def test_relation_flags_follow_their_kind(frames: dict[str, Any]) -> None:
    relations = frames["relations"]
    assert set(relations["formal"]) == {"true", "false"}
    assert (relations["directed"] == np.where(relations["kind"] == "referral", "true", "false")).all()
    partnership = relations["kind"] == "partnership"
    assert (relations.loc[~partnership, "stage"] == "").all()
    assert (relations.loc[partnership, "stage"] != "").all()
    weight = relations["weight"].astype(float)
    assert weight.between(0.1, 10.0).all()


def test_dates_are_iso_and_ordered(frames: dict[str, Any]) -> None:
    for name in ("relations", "schemes"):
        frame = frames[name]
        assert frame["start"].str.fullmatch(ISO_DATE).all(), name
        ended = frame["end"] != ""
        assert ended.any() and not ended.all(), name
        assert frame.loc[ended, "end"].str.fullmatch(ISO_DATE).all(), name
        assert (frame.loc[ended, "end"] >= frame.loc[ended, "start"]).all(), name
        assert frame["start"].min() >= "2010-01-01", name
        assert frame.loc[ended, "end"].max() <= "2026-12-31", name


def test_territory_hierarchy(frames: dict[str, Any]) -> None:
    territories = frames["territories"]
    assert territories["code"].is_unique
    level = territories.set_index("code")["level"]
    parents = territories.dropna(subset=["parent_code"])
    assert parents["parent_code"].isin(set(territories["code"])).all()
    expected_parent_level = {"epci": "departement", "commune": "epci"}
    assert (level.loc[parents["parent_code"]].to_numpy() == parents["level"].map(expected_parent_level)).all()
    assert territories.loc[territories["level"] == "departement", "parent_code"].isna().all()
    counts = territories["level"].value_counts()
    assert counts["departement"] == 1 and counts["epci"] > 1 and counts["commune"] > counts["epci"]


def test_territory_geometries_are_valid_and_tile(frames: dict[str, Any]) -> None:
    territories = frames["territories"]
    assert territories.crs == "EPSG:4326"
    assert territories.is_valid.all()
    assert (territories.geom_type == "Polygon").all()
    metric = territories.to_crs(2154).set_index("code")
    for child in ("commune", "epci"):
        children = metric[metric["level"] == child]
        unions = children.dissolve("parent_code").geometry
        expected = metric.geometry.loc[unions.index]
        # Children cover their parent exactly and do not overlap each other.
        assert unions.symmetric_difference(expected).area.max() < 1.0  # m²
        summed = children.geometry.area.groupby(children["parent_code"]).sum()
        np.testing.assert_allclose(summed.loc[unions.index], expected.area, rtol=1e-9)


def test_commune_sizes_are_realistic(frames: dict[str, Any]) -> None:
    communes = frames["territories"].query("level == 'commune'").to_crs(2154)
    area_km2 = communes.area / 1e6
    assert 5 < area_km2.median() < 40


def test_populations_are_integers_and_add_up(frames: dict[str, Any]) -> None:
    territories = frames["territories"]
    assert territories["population"].dtype.kind == "i"
    assert (territories["population"] >= 1).all()
    communes = territories[territories["level"] == "commune"]
    epcis = territories[territories["level"] == "epci"].set_index("code")["population"]
    summed = communes.groupby("parent_code")["population"].sum()
    assert (summed.loc[epcis.index] == epcis).all()
    # Skewed: the largest commune is many times the median one.
    assert communes["population"].max() > 10 * communes["population"].median()


def test_actors_and_places_lie_in_communes(frames: dict[str, Any]) -> None:
    communes = frames["territories"].query("level == 'commune'")[["code", "geometry"]]
    actors = frames["actors"]
    points = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(actors["lon"].astype(float), actors["lat"].astype(float)),
        crs="EPSG:4326",
    )
    for layer in (points, frames["places"][["id", "geometry"]]):
        joined = gpd.sjoin(layer, communes, predicate="within", how="left")
        assert len(joined) == len(layer)
        assert joined["code"].notna().all()


def test_some_actors_and_places_have_no_relation(frames: dict[str, Any]) -> None:
    relations = frames["relations"]
    touched = set(relations["source"]) | set(relations["target"])
    assert (~frames["actors"]["id"].isin(touched)).sum() >= round(0.02 * 1_500)
    assert (~frames["places"]["id"].isin(touched)).sum() >= round(0.1 * 150)


def test_relations_are_mostly_local(frames: dict[str, Any]) -> None:
    actors = frames["actors"].set_index("id")[["lon", "lat"]].astype(float)
    relations = frames["relations"]
    between_actors = relations[
        relations["source"].str.startswith("A") & relations["target"].str.startswith("A")
    ]
    related = np.hypot(
        *(actors.loc[between_actors["source"]].to_numpy() - actors.loc[between_actors["target"]].to_numpy()).T
    )
    rng = np.random.default_rng(0)
    a, b = rng.integers(len(actors), size=(2, len(between_actors)))
    unrelated = np.hypot(*(actors.to_numpy()[a] - actors.to_numpy()[b]).T)
    assert np.median(related) < 0.6 * np.median(unrelated)
    # ...yet some links are long-range.
    assert (related > np.median(unrelated)).any()


def test_sirets_have_a_valid_luhn_key(frames: dict[str, Any]) -> None:
    sirets = frames["actors"]["siret"]
    present = sirets[sirets != ""]
    assert 0 < len(present) < len(sirets)

    def luhn_ok(number: str) -> bool:
        total = 0
        for position, char in enumerate(reversed(number)):
            digit = int(char) * (2 if position % 2 else 1)
            total += digit - 9 if digit > 9 else digit
        return total % 10 == 0

    assert present.str.fullmatch(r"\d{14}").all()
    assert all(luhn_ok(s) for s in present)


@pytest.mark.parametrize("size", [TierSize(3, 2, 2, 1), TierSize(10, 3, 5, 20), TierSize(61, 7, 40, 100)])
def test_tiny_custom_sizes_are_exact(size: TierSize) -> None:
    frames = generate_tier(size, seed=5)
    assert len(frames["territories"]) == size.territories
    assert len(frames["places"]) == size.places
    assert len(frames["actors"]) == size.actors
    assert len(frames["relations"]) == size.relations
    assert len(frames["schemes"]) == 5
    assert frames["territories"].is_valid.all()
    assert set(frames["territories"]["level"]) == {"departement", "epci", "commune"}


def test_scale_name_is_case_insensitive() -> None:
    assert len(generate_tier("s")["actors"]) == 1_500


@pytest.mark.parametrize("scale", ["XL", "", "small"])
def test_unknown_scale_raises_input_error(scale: str) -> None:
    with pytest.raises(InputError, match="expected one of: S, M, L"):
        generate_tier(scale)


def test_too_small_size_raises_input_error() -> None:
    with pytest.raises(InputError, match="at least 3 territories"):
        generate_tier(TierSize(2, 2, 2, 1))

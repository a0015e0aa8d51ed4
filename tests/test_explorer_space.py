"""The social space of the explorer's selection: the switch under the map, its sentence and its layer,
on the tiny département of ``summary_data`` (figures by hand).

The selection a3 with its ego network of radius 1 is a2, a3, a4 (r2 a2–a3, r4 a3–a4). Around each, a
1 km buffer (a 64-sided polygon in Lambert-93: 64/2 · sin(2π/64) = 3.1365 km² each):

- a2 (2.05, 46.05) – a3 (2.08, 46.08): 0.03° east, 0.03° north ≈ 2.3 km and 3.3 km, 4.1 km apart;
  a3 – a4 (2.15, 46.05): 0.07° east ≈ 5.4 km. All more than 2 km apart: 3 separate areas, scattered,
  3 × 3.1365 = 9.41 km² → "9,4".
- home: C1 holds a2 and a3 (two nodes), C2 holds a4: home Ville-Haute, reached Bourg-Bas.
- outside C1: a4's disc, whose centre is 0.05° (3.9 km) east of C1's edge at 2.1°, so all of it; a3's
  disc stays inside (C1's east edge 0.02° ≈ 1.5 km away, north edge 0.02° ≈ 2.2 km): 1/3 → 33 %.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
import summary_data
from shown import as_shown
from streamlit.testing.v1 import AppTest

from carto.analysis import footprint
from carto.analysis import scene as view
from carto.analysis.filters import Filters
from carto.analysis.selection import Selection
from carto.render import explorer, plain
from carto.ui.state import ExplorerState as keys

PROJECT = Path(__file__).resolve().parent.parent
SCATTERED = ("Espace social éclaté : 3 zones séparées (9,4 km² en tout) autour de ses 3 lieux et acteurs, "
             "reliées par le réseau ; 33 % se trouve hors de Ville-Haute.")  # 33 % with a narrow space, shown plain
REACHED = "Ses lieux et acteurs se trouvent aussi dans Bourg-Bas."


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return summary_data.write_database(tmp_path_factory.mktemp("db"))


def explorer_page(db: Path, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("CARTO_DB", str(db))
    monkeypatch.setenv("CARTO_TILES", "none")
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sentences(at: AppTest) -> list[str]:
    return [as_shown(m.value) for m in at.container(keys.SPACE_SENTENCE).markdown]


def test_the_switch_says_the_social_space_of_a_network_selection(tiny_db, monkeypatch) -> None:
    at = explorer_page(tiny_db, monkeypatch, sel="a3", level="commune")
    with pytest.raises(KeyError):  # off: no sentence
        at.container(keys.SPACE_SENTENCE)
    at.toggle(key=keys.SPACE).set_value(True).run()
    assert not at.exception
    assert [s.replace("\u202f", " ") for s in sentences(at)] == [SCATTERED.replace("\u202f", " "), REACHED]


def test_an_area_drawn_on_the_map_has_the_same_space(tiny_db, monkeypatch) -> None:
    # the three nodes as a rectangle drawn on the map selects them: no ego network, the same three
    at = explorer_page(tiny_db, monkeypatch, sel="a2,a3,a4", area="1", level="commune")
    at.toggle(key=keys.SPACE).set_value(True).run()
    assert [s.replace("\u202f", " ") for s in sentences(at)] == [SCATTERED.replace("\u202f", " "), REACHED]
    # one node alone (a5 has no relation: its ego network is itself) has no space to draw
    at.session_state[keys.SELECTION] = Selection(nodes=("a5",))
    at.run()
    assert sentences(at) == ["La sélection compte moins de deux lieux ou acteurs localisés : pas d'espace social à "
                             "dessiner."]


def test_the_footprint_layer_is_drawn_plain_over_the_boundaries() -> None:
    t, a, p, r = summary_data.territories(), summary_data.actors(), summary_data.places(), summary_data.relations()
    base = view.prepare(t, p, a, r)
    scene = view.build_scene(base, Filters(level="commune"))
    focused = view.focus(scene, Selection(nodes=("a3",), radius=1))
    assert focused.highlight == {"a2", "a3", "a4"}
    space = footprint.selection_footprint(focused.highlight, base.actors, base.places, base.territories,
                                          level=view.shown_level(scene))
    fmap = explorer.explorer_map(explorer.plan_map(scene, explorer.prepare_map(base)), focused, "en", footprint=space)
    layers = [c for c in fmap._children.values() if isinstance(c, plain.StyledGeoJson)]
    named = {c.layer_name: c for c in layers}
    assert "Social space practised" in named
    # over the boundaries (the first data layer), under the relations and the points
    assert [c.layer_name for c in layers].index("Social space practised") == 1
    (feature,) = json.loads(named["Social space practised"].geojson_text)["features"]
    assert feature["geometry"]["type"] == "MultiPolygon" and len(feature["geometry"]["coordinates"]) == 3
    assert {k: feature["properties"][k] for k in ("shape", "parts", "area", "outside")} == {
        "shape": "scattered", "parts": "3", "area": "9.4", "outside": "33%"}
    without = explorer.explorer_map(explorer.plan_map(scene, explorer.prepare_map(base)), focused, "en")
    assert "Social space practised" not in {c.layer_name for c in without._children.values()
                                            if isinstance(c, plain.StyledGeoJson)}

"""The explorer's view model (carto.analysis.scene) and its drawing (carto.render.explorer) on the
literal fixtures: scene, focus, details, and a map whose scripts are valid JavaScript (checked with
node when it is installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest

from carto.analysis import scene as view
from carto.analysis.filters import Filters
from carto.analysis.selection import Selection
from carto.render import explorer
from carto.ui.state import ExplorerState as keys


@pytest.fixture
def base(territories, actors, places, relations):
    a = actors.assign(territory_code=["C1", "C1", "C2"])
    p = places.assign(territory_code=["C2"])
    extra = relations.iloc[:1].assign(id="R3", source="A3", target="P1", kind="network", directed=False)
    return view.prepare(territories, p, a, pd.concat([relations, extra], ignore_index=True))


def test_default_level_is_the_finest_with_few_polygons(territories):
    assert view.default_level(territories) == "commune"
    assert view.default_level(territories, max_polygons=1) == "epci"


def test_scene_and_focus(base):
    scene = view.build_scene(base, Filters(territory="C1"))
    assert list(scene.nodes.index) == ["A1", "A2", "A3"]  # A3 as the outside end of R2
    assert view.position_counts(scene) == {"inside": 1, "leaving": 1}
    mapped = explorer.plan_map(scene, explorer.prepare_map(base)).relations
    # R1 A1–A2 inside C1: a line; R2 A2→A3 leaves C1 for C2: one flow C1 → C2 across the border
    assert (mapped.mode, list(mapped.lines["id"]), mapped.level, mapped.drawn) == ("mixed", ["R1"], "commune", 2)
    assert mapped.flows is not None
    assert list(zip(mapped.flows["source_code"], mapped.flows["target_code"], mapped.flows["relations"],
                    strict=True)) == [("C1", "C2", 1)]
    assert explorer.map_notes(explorer.plan_map(scene, explorer.prepare_map(base)), "en")[0] == (
        "Map: 1 relations inside the territory drawn one by one; 1 relations with the outside grouped into 1 "
        "flows towards the territories where they end (level: Commune)."
    )
    focused = view.focus(scene, Selection(nodes=("A1", "ZZ"), radius=2))
    assert focused.selected == {"A1"}
    assert focused.highlight == {"A1", "A2", "A3"}
    assert list(focused.relations["id"]) == ["R1", "R2"]


def test_above_threshold_the_scene_aggregates(base):
    scene = view.build_scene(base, Filters())
    mapped = explorer.plan_map(scene, explorer.prepare_map(base), threshold=1).relations
    # R1 A1–A2 inside C1, R2 A2→A3 C1→C2, R3 A3–P1 inside C2: one flow at commune level
    assert (mapped.mode, mapped.level, len(mapped.lines), mapped.internal) == ("aggregated", "commune", 1, 2)


def test_notes_under_the_map_say_what_is_drawn_and_what_is_grouped(base):
    map_base = explorer.prepare_map(base)
    plan = explorer.plan_map(view.build_scene(base, Filters()), map_base)
    assert explorer.map_notes(plan, "en") == ["Map: 3 relations drawn one by one."]
    commune = view.build_scene(base, Filters(level="commune"))
    grouped = explorer.plan_map(commune, map_base, threshold=1, point_threshold=3)
    assert grouped.points.counts is not None
    # A1, A2 in C1; A3 and P1 in C2: 4 points, two circles at commune level
    assert grouped.points.counts[["code", "actors", "places"]].to_dict("records") == [
        {"code": "C1", "actors": 2, "places": 0},
        {"code": "C2", "actors": 1, "places": 1},
    ]
    assert explorer.map_notes(grouped, "en") == [
        "Map: 3 relations are more than 1: shown as 1 flows between territories (level: Commune); 2 relations "
        "inside a single territory are not drawn. Filter or pick a territory to see them one by one.",
        "Map: 4 actors and inhabited places are more than 3: counted per territory (Commune, 2 circles). "
        "Click a circle, pick a territory or filter to see them one by one.",
    ]


def test_details_list_the_selection_and_its_relations(base):
    scene = view.build_scene(base, Filters())
    nodes, table = explorer.details(scene, view.focus(scene, Selection(nodes=("A2",))), "en")
    assert nodes.to_dict("index") == {"A2": {"Name": "CAF", "Type": "CAF – family allowances", "Relations (degree)": 2}}
    assert nodes.index.name == "Id"
    # no territory chosen: every relation is "inside", so no position column
    assert list(table.columns) == ["From", "To", "Kind", "Dimension"]
    assert list(table["To"]) == ["CAF", "Asso Bêta"]
    assert list(table["Kind"]) == ["Partnership", "Referral"]
    nodes, table = explorer.details(scene, view.focus(scene, Selection(nodes=("A2",))), "fr")
    assert (nodes.index.name, list(nodes.columns)) == ("Identifiant", ["Nom", "Type", "Relations (degré)"])
    assert list(table.columns) == ["De", "Vers", "Nature", "Dimension"]


def test_territory_indicator_counts(base):
    scene = view.build_scene(base, Filters())
    assert view.territory_indicator(scene, "actors").to_dict() == {"C1": 2.0, "C2": 1.0}
    # R1 in C1; R2 touches C1 and C2; R3 in C2
    assert view.territory_indicator(scene, "relations").to_dict() == {"C1": 2.0, "C2": 2.0}


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize(("threshold", "point_threshold"), [(1, 1), (3000, 30_000)])
def test_map_scripts_are_valid_javascript(base, tmp_path, threshold, point_threshold):
    scene = view.build_scene(base, Filters())
    plan = explorer.plan_map(scene, explorer.prepare_map(base), threshold=threshold, point_threshold=point_threshold)
    focused = view.focus(scene, Selection(nodes=("A2",)))
    html = explorer.explorer_map(plan, focused, "fr", tiles="none").get_root().render()
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    path = tmp_path / "map.js"
    path.write_text("\n;\n".join(scripts), encoding="utf-8")
    check = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr


def test_widget_values_from_a_url(territories):
    import datetime as dt

    url = Filters(
        territory="E1", level="commune", kinds=("tension",), schemes=("S1", "S9"), on_date=dt.date(2024, 5, 1)
    )
    values = keys.widget_values(view.filters_for_data(url, territories, {"S1"}), Selection(radius=3))
    assert values == {
        keys.LEVEL: "epci",  # the territory's own level wins
        keys.TERRITORY: "E1",
        keys.TYPES: [],
        keys.SECTORS: [],
        keys.KINDS: ["tension"],
        keys.DIMS: [],
        keys.FORMAL: "all",
        keys.SCHEMES: ["S1"],
        keys.DATE: dt.date(2024, 5, 1),
        keys.RADIUS: 3,
    }
    unknown = view.filters_for_data(Filters(territory="ZZ", level="region"), territories, set())
    assert (unknown.territory, unknown.level) == (None, "commune")


def test_the_url_opens_the_session_once(territories):
    session: dict[str, object] = {}
    state = keys(session)
    state.open({"kinds": "tension", "sel": "A1", "level": "epci"}, territories, set())
    assert (session[keys.KINDS], session[keys.LEVEL]) == (["tension"], "epci")
    assert state.filters() == Filters(level="epci", kinds=("tension",))
    assert state.selection() == Selection(nodes=("A1",))
    state.open({"kinds": "referral"}, territories, set())  # later runs: the widgets win
    assert session[keys.KINDS] == ["tension"]


def test_the_url_holds_how_the_view_is_drawn(territories):
    session: dict[str, object] = {}
    state = keys(session)
    url = {"layout": "geo", "colour": "community", "size": "pagerank", "indicator": "population", "kinds": "tension"}
    state.open({**url, "size": "<script>"}, territories, set())  # an unknown value keeps the widget's default
    assert (session[keys.LAYOUT], session[keys.COLOUR], session[keys.INDICATOR]) == ("geo", "community", "population")
    assert keys.SIZE not in session
    session[keys.SIZE] = "pagerank"
    assert state.query_params(state.filters(), state.selection()) == {"level": "commune", **url}
    # defaults (force layout, colour by type, size by degree, no indicator) stay out of the URL
    session.update({keys.LAYOUT: "force", keys.COLOUR: "type", keys.SIZE: "degree", keys.INDICATOR: None})
    assert state.query_params(state.filters(), state.selection()) == {"level": "commune", "kinds": "tension"}


def test_an_empty_view_says_why(base):
    import datetime as dt

    dates = (dt.date(2020, 1, 1), dt.date(2021, 6, 1))  # R1 starts 2020-01-01, R2 2021-06-01; no end
    cases = {
        Filters(): None,
        Filters(on_date=dt.date(2019, 12, 31)): "date_outside",
        Filters(on_date=dt.date(2020, 6, 1), kinds=("tension",)): "date_filters",
        Filters(kinds=("tension",)): "filters",
    }
    for filters, reason in cases.items():
        assert view.why_no_relation(view.build_scene(base, filters), dates) == reason, filters
    note = explorer.empty_note("date_outside", dt.date(2019, 12, 31), dates, "en")
    assert note == (
        "No relation was active on 31 December 2019: the data's relations run from 1 January 2020 to 1 June 2021. "
        "Pick a date in that span."
    )


def test_an_area_shows_the_subgraph_its_nodes_induce(base):
    scene = view.build_scene(base, Filters())
    chosen = Selection(nodes=("A1", "A2"), area=True)
    # R1 A1–A2 has both ends in the area; R2 A2→A3 leaves it; R3 A3–P1 is outside
    focused = view.focus(scene, chosen)
    assert (focused.area, focused.highlight, list(focused.relations["id"])) == (True, {"A1", "A2"}, ["R1"])
    sub = view.network_subgraph(scene, focused)
    assert (sorted(sub.nodes.index), list(sub.edges["id"])) == (["A1", "A2"], ["R1"])
    leaving = view.focus(scene, chosen, leaving=True)
    assert (leaving.highlight, list(leaving.relations["id"])) == ({"A1", "A2"}, ["R1", "R2"])
    sub = view.network_subgraph(scene, leaving)
    assert (sorted(sub.nodes.index), list(sub.edges["id"])) == (["A1", "A2", "A3"], ["R1", "R2"])


def test_the_opening_view_groups_relations_sooner_than_a_filtered_one(base):
    map_base = explorer.prepare_map(base)
    assert view.is_overview(Filters(level="epci"))
    assert not view.is_overview(Filters(kinds=("referral",)))
    assert not view.is_overview(Filters(territory="C1"))
    opening = explorer.plan_map(view.build_scene(base, Filters()), map_base).relations
    filtered = explorer.plan_map(view.build_scene(base, Filters(kinds=("partnership",))), map_base).relations
    assert (opening.threshold, filtered.threshold) == (explorer.LINE_BUDGET, 3000)


def test_the_selection_is_drawn_apart_from_the_clusters_and_above_them(base):
    scene = view.build_scene(base, Filters())
    plan = explorer.plan_map(scene, explorer.prepare_map(base))
    html = explorer.explorer_map(plan, view.focus(scene, Selection(nodes=("A2",))), "en").get_root().render()
    # A2's ego network is A1, A2, A3: only P1 stays in a cluster (the places'); no actor is left to cluster
    clusters = re.findall(r"var data = (\[.*?\]);", html)
    assert [[row[2] for row in json.loads(c)] for c in clusters] == [["P1"]]
    assert "createPane(\"cartoSelection\").style.zIndex = 640" in html
    assert html.count('"pane":"cartoSelection"') == 2  # the selected and the ego ring styles

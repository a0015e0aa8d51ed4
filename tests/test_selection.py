"""Selection: transitions, URL round trip, ego networks (networkx as reference), map-click parsing."""

from __future__ import annotations

import random

import networkx as nx
import pandas as pd
import pytest

from carto.analysis.network import ego_nodes, ego_relations
from carto.analysis.selection import (
    Clicked,
    Selection,
    clear,
    clicked_node,
    clicked_object,
    drawn_area,
    event_token,
    network_point_ids,
    nodes_in_area,
    select_from_drawing,
    select_from_map,
    select_from_network,
    with_radius,
)
from carto.ui.state import ExplorerState

NODES = pd.DataFrame(
    {"lon": [0.5, 0.6, 1.5, 1.2], "lat": [45.5, 45.4, 45.5, 45.8]},
    index=pd.Index(["A1", "A2", "A3", "P1"], name="id"),
)
CODES = {"C1", "C2", "E1", "D1"}


def test_map_click_on_a_node_selects_it_alone():
    state = Selection(nodes=("A2", "A3"), territory="C1", radius=2)
    assert select_from_map(state, Clicked("node", "A1")) == Selection(nodes=("A1",), territory="C1", radius=2)


def test_map_click_on_a_territory_toggles_it_and_drops_nodes():
    state = Selection(nodes=("A1",), radius=3)
    chosen = select_from_map(state, Clicked("territory", "C2"))
    assert chosen == Selection(territory="C2", radius=3)
    assert select_from_map(chosen, Clicked("territory", "C2")) == Selection(radius=3)


def test_map_click_on_nothing_changes_nothing():
    state = Selection(nodes=("A1",))
    assert select_from_map(state, None) is state


def test_network_selection_is_sorted_and_unique():
    state = Selection(territory="C1")
    assert select_from_network(state, ["P1", "A1", "P1"]) == Selection(nodes=("A1", "P1"), territory="C1")


def test_clear_keeps_the_radius():
    assert clear(Selection(nodes=("A1",), territory="C1", radius=3)) == Selection(radius=3)


def test_radius_is_clamped():
    assert with_radius(Selection(), 7).radius == 3
    assert with_radius(Selection(), 0).radius == 1


def test_query_params_round_trip():
    state = Selection(nodes=("A1", "P1"), territory="C2", radius=2)
    assert state.to_query_params() == {"sel": "A1,P1", "tsel": "C2", "radius": "2"}
    assert Selection.from_query_params(state.to_query_params()) == state
    assert Selection().to_query_params() == {}


def test_invalid_query_params_are_dropped():
    params = {"sel": "P1,<b>,A1,A1", "tsel": "a b", "radius": "9"}
    assert Selection.from_query_params(params) == Selection(nodes=("A1", "P1"))
    assert Selection.from_query_params({"radius": "two"}) == Selection()


def _chain() -> pd.DataFrame:
    # A–B–C–D plus E→F; directions must not matter.
    return pd.DataFrame({"source": ["A", "C", "C", "F"], "target": ["B", "B", "D", "E"]})


def test_ego_nodes_by_hand():
    rel = _chain()
    assert ego_nodes(rel, ["B"], 1) == {"A", "B", "C"}
    assert ego_nodes(rel, ["B"], 2) == {"A", "B", "C", "D"}
    assert ego_nodes(rel, ["A", "E"], 1) == {"A", "B", "E", "F"}
    assert ego_nodes(rel, ["Z"], 3) == {"Z"}
    assert list(ego_relations(rel, {"A", "B", "C"}).index) == [0, 1]


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_ego_nodes_match_networkx(radius):
    rng = random.Random(4)
    nodes = [f"N{i}" for i in range(40)]
    edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(55)]
    rel = pd.DataFrame(edges, columns=["source", "target"])
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    for centre in ("N0", "N7", "N21"):
        assert ego_nodes(rel, [centre], radius) == set(nx.ego_graph(graph, centre, radius=radius).nodes)


def test_click_parsed_from_node_tooltip():
    returned = {"last_object_clicked": {"lat": 45.0, "lng": 0.0}, "last_object_clicked_tooltip": "CAF [A2]"}
    assert clicked_object(returned, NODES, CODES) == Clicked("node", "A2")
    assert clicked_node(returned, NODES) == "A2"


def test_click_parsed_from_territory_tooltip():
    returned = {
        "last_object_clicked": {"lat": 45.5, "lng": 1.9},
        "last_object_clicked_tooltip": "Nom\tBêta [C2]\nNiveau\tcommune\nPopulation\t3000",
    }
    assert clicked_object(returned, NODES, CODES) == Clicked("territory", "C2")


def test_click_on_a_territory_circle_selects_the_territory():
    # The map counts actors per territory above carto.render.layers.POINT_THRESHOLD; its tooltip names the code.
    returned = {"last_object_clicked_tooltip": "Interco [E1] · acteurs : 1 200, lieux habités : 31 — cliquez",
                "last_object_clicked": {"lat": 45.0, "lng": 1.0}}
    assert clicked_object(returned, NODES, CODES) == Clicked("territory", "E1")
    assert clicked_node(returned, NODES) is None


def test_click_without_tooltip_matches_the_nearest_node_within_tolerance():
    near = {"last_object_clicked": {"lat": 45.50003, "lng": 1.49998}, "last_object_clicked_tooltip": None}
    far = {"last_object_clicked": {"lat": 45.6, "lng": 1.5}, "last_object_clicked_tooltip": None}
    assert clicked_node(near, NODES) == "A3"
    assert clicked_node(far, NODES) is None


@pytest.mark.parametrize(
    "returned",
    [
        None,
        {},
        {"last_object_clicked": None, "last_object_clicked_tooltip": None},
        {"last_object_clicked": {"lat": "x", "lng": 1}, "last_object_clicked_tooltip": "Partenariat 2.0"},
        {"last_object_clicked": {"lat": 0, "lng": 0}, "last_object_clicked_tooltip": "Inconnu [A9]"},
    ],
)
def test_unusable_clicks_select_nothing(returned):
    assert clicked_object(returned, NODES, CODES) is None


def test_network_point_ids_read_customdata():
    event = {
        "selection": {
            "points": [
                {"curve_number": 5, "customdata": ["A1"]},
                {"curve_number": 5, "customdata": "P1"},
                {"curve_number": 0, "x": 1.0},
            ],
            "box": [],
            "lasso": [],
        }
    }
    assert network_point_ids(event) == ["A1", "P1"]
    assert network_point_ids(None) == []
    assert network_point_ids({"selection": {"points": []}}) == []


def test_event_token_tells_events_apart():
    assert event_token({"a": 1, "b": [2]}) == event_token({"b": [2], "a": 1})
    assert event_token({"a": 1}) != event_token({"a": 2})


def _rectangle(west: float, south: float, east: float, north: float) -> dict:
    """A rectangle as Leaflet.draw sends it back through streamlit-folium (``all_drawings``)."""
    ring = [[west, south], [west, north], [east, north], [east, south], [west, south]]
    return {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_a_rectangle_drawn_on_the_map_selects_the_nodes_inside_it():
    # A1 (0.5, 45.5) and A2 (0.6, 45.4) inside [0.4, 0.7] × [45.3, 45.6]; A3 (1.5, 45.5), P1 (1.2, 45.8) out
    chosen = select_from_drawing(Selection(radius=2), [_rectangle(0.4, 45.3, 0.7, 45.6)], NODES)
    assert chosen == Selection(nodes=("A1", "A2"), radius=2, area=True)
    # A node on the border counts: A3 sits on the west side x = 1.5
    assert nodes_in_area(drawn_area([_rectangle(1.5, 45.0, 2.0, 46.0)]), NODES) == ["A3"]


def test_drawings_with_no_polygon_or_no_node_inside_change_nothing():
    before = Selection(nodes=("P1",))
    line = {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 45], [1, 46]]}}
    broken = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": "x"}}
    assert drawn_area([line, broken, "junk"]) is None
    assert select_from_drawing(before, [line], NODES) == before
    assert select_from_drawing(before, [_rectangle(3.0, 3.0, 4.0, 4.0)], NODES) == before
    assert select_from_drawing(before, None, NODES) == before


def test_an_area_selection_is_shared_by_url_and_ends_with_a_click():
    chosen = Selection(nodes=("A1", "A2"), area=True)
    assert chosen.to_query_params() == {"sel": "A1,A2", "area": "1"}
    assert Selection.from_query_params({"sel": "A1,A2", "area": "1"}) == chosen
    assert Selection.from_query_params({"area": "1"}) == Selection()  # no nodes, no area
    assert select_from_map(chosen, Clicked("node", "A3")) == Selection(nodes=("A3",))
    assert select_from_network(chosen, ["P1"]) == Selection(nodes=("P1",))


def test_a_new_drawing_selects_once_and_leaves_the_last_click_alone():
    state = ExplorerState(session={ExplorerState.SELECTION: Selection()})
    clicked = {"last_object_clicked": {"lat": 45.8, "lng": 1.2}, "last_object_clicked_tooltip": "Quartier [P1]"}
    assert state.apply_events(clicked, None, NODES, CODES)
    assert state.session[ExplorerState.SELECTION] == Selection(nodes=("P1",))
    # The same click comes back with a drawing: the drawing wins, the old click is not applied again
    drawn = {**clicked, "all_drawings": [_rectangle(0.4, 45.3, 0.7, 45.6)]}
    assert state.apply_events(drawn, None, NODES, CODES)
    assert state.session[ExplorerState.SELECTION] == Selection(nodes=("A1", "A2"), area=True)
    assert not state.apply_events(drawn, None, NODES, CODES)  # the next rerun sends it again

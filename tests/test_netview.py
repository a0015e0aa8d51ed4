"""Network figure: traces per kind, node ids in customdata, highlight, caps, layouts."""

from __future__ import annotations

import pandas as pd
import pytest

from carto.analysis import scene
from carto.render import netview


@pytest.fixture
def nodes(actors, places) -> pd.DataFrame:
    return scene.graph_nodes(actors, places)


def test_graph_nodes(nodes):
    assert list(nodes.index) == ["A1", "A2", "A3", "P1"]
    assert list(nodes["type"]) == ["ccas", "caf", "association", "place"]
    assert list(nodes["lon"]) == [0.5, 0.6, 1.5, 1.2]


def test_degree_metrics_by_hand(nodes, relations):
    metrics = scene.degree_metrics(nodes, relations)  # R1 A1–A2 weight 2, R2 A2→A3 weight 1
    assert metrics["degree"].to_dict() == {"A1": 1, "A2": 2, "A3": 1, "P1": 0}
    assert metrics["weighted_degree"].to_dict() == {"A1": 2.0, "A2": 3.0, "A3": 1.0, "P1": 0.0}


def _metrics() -> pd.DataFrame:
    return pd.DataFrame(
        {"degree": [1, 2, 1, 0], "community": [0, 0, 1, 2]}, index=pd.Index(["A1", "A2", "A3", "P1"], name="id")
    )


def _role(fig, role: str):
    (trace,) = [t for t in fig.data if t.meta["role"] == role]
    return trace


def _key(fig, group: str) -> list[tuple[str, str, float]]:
    return [(t.name, t.marker.color, t.marker.size) for t in fig.data if t.meta.get("group") == group]


def test_figure_traces_one_per_kind_then_nodes(nodes, relations):
    fig = netview.network_figure(nodes, relations, _metrics(), layout="geo", lang="en")
    roles = [(t.meta["role"], t.meta.get("kind")) for t in fig.data]
    assert roles[:3] == [("edges", "partnership"), ("edges", "referral"), ("nodes", None)]
    assert {r for r, _ in roles[3:]} == {"key"}
    node_trace = fig.data[2]
    assert list(node_trace.customdata) == ["A1", "A2", "A3", "P1"]
    assert list(node_trace.x) == [0.5, 0.6, 1.5, 1.2]  # geographic layout = longitude
    assert fig.data[0].line.color == "#1f4e9c"
    assert fig.data[1].line.dash == "dot"
    # one segment A1→A2 then a gap
    assert list(fig.data[0].x[:2]) == [0.5, 0.6]
    assert list(node_trace.text) == ["CCAS Alpha [A1]", "CAF [A2]", "Asso Bêta [A3]", "Quartier Nord [P1]"]


def test_highlighted_nodes_are_drawn_last_and_larger(nodes, relations):
    fig = netview.network_figure(nodes, relations, _metrics(), layout="geo", highlight={"A2", "P1"})
    drawn = [t for t in fig.data if t.meta["role"] != "key"]
    node_trace, lit = drawn[-2], drawn[-1]
    assert lit.meta["role"] == "highlight"
    assert list(lit.customdata) == ["A2", "P1"]
    assert list(node_trace.customdata) == ["A1", "A3"]
    assert node_trace.marker.opacity == 0.35
    assert lit.marker.line.color == netview.HIGHLIGHT_COLOUR
    # sizes: 6 + 18·sqrt(degree / max degree), +4 when highlighted
    assert list(lit.marker.size) == [6 + 18 + 4, 6 + 4]
    assert list(node_trace.marker.size) == pytest.approx([6 + 18 * (0.5**0.5)] * 2)


def test_colour_by_community(nodes, relations):
    fig = netview.network_figure(nodes, relations, _metrics(), layout="geo", colour_by="community", lang="en")
    pal = netview.COMMUNITY_PALETTE
    assert list(_role(fig, "nodes").marker.color) == [pal[0], pal[0], pal[1], pal[2]]
    # communities numbered from 1 for the reader, same colours as the nodes
    assert [(n, c) for n, c, _ in _key(fig, "colours")] == [
        ("Community 1", pal[0]), ("Community 2", pal[1]), ("Community 3", pal[2])
    ]


def test_only_the_largest_communities_get_a_colour_of_their_own(nodes, relations):
    metrics = _metrics().assign(community=[0, 12, 13, None])  # 12 colours: communities 0..11
    fig = netview.network_figure(nodes, relations, metrics, layout="geo", colour_by="community", lang="fr")
    grey = netview.NO_COMMUNITY
    assert list(_role(fig, "nodes").marker.color) == [netview.COMMUNITY_PALETTE[0], grey, grey, grey]
    assert [(n, c) for n, c, _ in _key(fig, "colours")] == [
        ("Communauté 1", netview.COMMUNITY_PALETTE[0]), ("Communautés plus petites", grey)
    ]


def test_the_legend_keys_types_and_sizes_with_the_map_colours(nodes, relations):
    fig = netview.network_figure(nodes, relations, _metrics(), layout="geo", lang="en")
    # types present, in the model's order (ccas, caf, ..., association), then places: white rings as on the map
    assert [(n, c) for n, c, _ in _key(fig, "colours")] == [
        ("CCAS – municipal social services", "#e41a1c"),
        ("CAF – family allowances", "#377eb8"),
        ("Association", "#a65628"),
        ("Inhabited place", "#ffffff"),
    ]
    node_trace = _role(fig, "nodes")
    assert list(node_trace.marker.color) == ["#e41a1c", "#377eb8", "#a65628", "#ffffff"]
    assert list(node_trace.marker.line.color) == ["#ffffff", "#ffffff", "#ffffff", "#222222"]
    # degrees 1, 2, 1, 0: min 0, middle 1, max 2; sizes 6 + 18·sqrt(d / 2)
    sizes = _key(fig, "sizes")
    assert [n for n, _, _ in sizes] == ["Degree 0", "Degree 1", "Degree 2"]
    # drawn at 16/24 scale (plotly's largest legend item is 16 px)
    assert [s for _, _, s in sizes] == pytest.approx([6 * 16 / 24, (6 + 18 * 0.5**0.5) * 16 / 24, 16])
    assert all(list(t.x) == [None] for t in fig.data if t.meta["role"] == "key")  # legend only, nothing drawn


def test_reduce_graph_keeps_highlight_then_degree(nodes, relations):
    sub = scene.reduce_graph(nodes, relations, _metrics(), max_nodes=2)
    assert list(sub.nodes.index) == ["A2", "A1"]  # degree 2, then the first of the ties
    assert list(sub.edges["id"]) == ["R1"]
    assert (sub.total_nodes, sub.total_edges, sub.reduced) == (4, 2, True)
    lit = scene.reduce_graph(nodes, relations, _metrics(), highlight={"P1"}, max_nodes=2)
    assert list(lit.nodes.index) == ["P1", "A2"]
    capped = scene.reduce_graph(nodes, relations, _metrics(), max_edges=1)
    assert list(capped.edges["id"]) == ["R1"]  # heavier (2.0) first
    whole = scene.reduce_graph(nodes, relations, _metrics())
    assert not whole.reduced


def test_force_layout_is_deterministic(nodes, relations):
    first = netview.layout_positions(nodes, relations, layout="force", seed=3)
    again = netview.layout_positions(nodes, relations, layout="force", seed=3)
    assert list(first.index) == ["A1", "A2", "A3", "P1"]
    pd.testing.assert_frame_equal(first, again)
    with pytest.raises(ValueError, match="unknown layout"):
        netview.layout_positions(nodes, relations, layout="circle")

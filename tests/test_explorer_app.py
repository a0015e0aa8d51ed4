"""AppTest of the explorer page: filters, URL state and the shared selection.

AppTest cannot click inside folium or plotly, so selections are set the way those clicks end up:
through the URL or the session's selection. Expected figures come from the sample CSV files read
with pandas (and networkx for ego networks), not from the code under test.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from carto import formatting, store
from carto.analysis.selection import Selection
from carto.ui.state import LANGUAGE
from carto.ui.state import ExplorerState as keys

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

PROJECT = Path(__file__).resolve().parent.parent
SAMPLE = PROJECT / "data" / "sample"
HUB = "A-0155"  # an actor with the most relations in the sample (16, as many as A-0083 and P-023)


@pytest.fixture
def app_env(monkeypatch, sample_db):
    monkeypatch.setenv("CARTO_DB", str(sample_db))
    monkeypatch.setenv("CARTO_TILES", "none")
    return sample_db


@pytest.fixture(scope="module")
def csv_relations() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "relations.csv", dtype=str)


def _app(**params: str) -> AppTest:
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.container(keys.FIGURES).metric}


def _count(n: int) -> str:
    return formatting.format_number(n, "fr")


def _captions(at: AppTest, key: str) -> list[str]:
    return [c.value for c in at.container(key).caption]


def _details(at: AppTest) -> str:
    """The details panel's sentences (territory, selection) or its hint when nothing is selected."""
    panel = at.container(keys.DETAILS)
    return "\n".join([m.value for m in panel.markdown] + [i.value for i in panel.info])


def test_kind_filter_changes_both_views_and_the_url(app_env, csv_relations):
    at = _app()
    at.multiselect(key=keys.KINDS).set_value(["partnership", "tension"]).run()
    assert not at.exception
    expected = int(csv_relations["kind"].isin(["partnership", "tension"]).sum())  # 301 + 101
    assert _metrics(at)["Relations"] == _count(expected)
    # Filtered: every relation one by one (the opening view groups the 1,170 into flows)
    assert _captions(at, keys.MAP_NOTES) == [
        f"Carte : {expected} relations tracées une à une.",
        "Tracez un rectangle ou un polygone (boutons en haut à gauche de la carte) : les nœuds à l'intérieur "
        "deviennent la sélection.",
    ]
    (network_note,) = _captions(at, keys.NETWORK_NOTE)
    assert f"relations (sur {expected})" in network_note
    assert at.query_params["kinds"] == "partnership,tension"


def test_formal_and_date_filters(app_env, csv_relations):
    at = _app()
    at.radio(key=keys.FORMAL).set_value("no").run()
    informal = csv_relations[csv_relations["formal"] != "true"]
    assert _metrics(at)["Relations"] == _count(len(informal))
    at.date_input(key=keys.DATE).set_value(pd.Timestamp("2022-01-01").date()).run()
    start = pd.to_datetime(informal["start"])
    end = pd.to_datetime(informal["end"])
    day = pd.Timestamp("2022-01-01")
    active = (start.isna() | (start <= day)) & (end.isna() | (end >= day))
    assert _metrics(at)["Relations"] == _count(int(active.sum()))
    assert at.query_params["date"] == "2022-01-01"


def test_the_date_picker_spans_the_data_and_an_empty_date_says_why(app_env, csv_relations):
    import datetime as dt

    # The first start and the last end of the sample's relations, read with pandas.
    dates = pd.concat([pd.to_datetime(csv_relations[c]) for c in ("start", "end")]).dropna()
    first, last = dates.min().date(), dates.max().date()
    assert first.year > 2014  # a link to 2014 is before every relation
    at = _app()
    picker = at.date_input(key=keys.DATE)
    assert (picker.min, picker.max) == (first, max(last, dt.date.today()))
    day_fr = (formatting.format_date(first, "fr"), formatting.format_date(last, "fr"))
    assert picker.help == f"Les relations actives ce jour-là. Celles des données vont du {day_fr[0]} au {day_fr[1]}."
    with pytest.raises(KeyError):  # relations to show: no warning
        at.container(keys.EMPTY)
    # a link's year stands for its first day, before any relation: the view says so instead of showing 0
    at = _app(date="2014")
    assert not at.exception
    assert at.date_input(key=keys.DATE).value == dt.date(2014, 1, 1)
    assert at.date_input(key=keys.DATE).min == dt.date(2014, 1, 1)  # the picker still shows the link's date
    assert _metrics(at)["Relations"] == "0"
    (warning,) = at.container(keys.EMPTY).warning
    assert warning.value == (
        f"Aucune relation active le 1 janvier 2014 : les relations des données vont du {day_fr[0]} au "
        f"{day_fr[1]}. Choisissez une date dans cet intervalle."
    )
    # the first day, with a kind that no relation running that day has: the filters leave nothing that day
    start, end = pd.to_datetime(csv_relations["start"]), pd.to_datetime(csv_relations["end"])
    day = pd.Timestamp(first)
    running = csv_relations[(start.isna() | (start <= day)) & (end.isna() | (end >= day))]
    kinds = ("partnership", "network", "referral", "affinity", "tension")
    other = next(k for k in kinds if k not in set(running["kind"]))
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120)
    at.query_params.update({"date": first.isoformat(), "kinds": other})
    at.session_state[LANGUAGE] = "en"
    at.run()
    (warning,) = at.container(keys.EMPTY).warning
    assert warning.value == (
        f"No relation active on {formatting.format_date(first, 'en')} matches the chosen filters: "
        "widen them or pick another date."
    )


def test_a_link_opens_the_same_view(app_env, csv_relations):
    at = _app(kinds="referral", sel=HUB)
    assert not at.exception
    assert at.multiselect(key=keys.KINDS).value == ["referral"]
    touching = csv_relations[
        (csv_relations["kind"] == "referral") & ((csv_relations["source"] == HUB) | (csv_relations["target"] == HUB))
    ]
    assert "1 sélectionné(s)" in _details(at)
    (relations,) = at.container(keys.DETAILS_RELATIONS).dataframe
    assert len(relations.value) == len(touching)
    assert at.query_params["sel"] == HUB


def test_selection_shows_the_ego_network_at_the_chosen_radius(app_env, csv_relations):
    at = _app()
    at.session_state[keys.SELECTION] = Selection(nodes=(HUB,))
    at.select_slider(key=keys.RADIUS).set_value(2).run()
    assert not at.exception
    graph = nx.Graph()
    graph.add_edges_from(zip(csv_relations["source"], csv_relations["target"], strict=True))
    ego = nx.ego_graph(graph, HUB, radius=2).number_of_nodes()
    assert _details(at) == f"1 sélectionné(s), {ego} dans le réseau égocentré (2 pas)."
    assert at.query_params["radius"] == "2"
    at.button(key=keys.CLEAR).click().run()
    assert "sel" not in at.query_params
    assert _details(at).startswith("Rien de sélectionné")


def test_a_territory_picked_on_the_map_restricts_both_views(app_env, csv_relations):
    cur = store.connect(app_env, read_only=True).cursor()
    nodes = pd.concat(
        [store.read_dataset(cur, name, columns=["id", "territory_code"]) for name in ("actors", "places")]
    ).set_index("id")["territory_code"]
    code = nodes.value_counts().index[0]  # the busiest commune
    cur.close()
    src_in = csv_relations["source"].map(nodes).eq(code)
    tgt_in = csv_relations["target"].map(nodes).eq(code)
    directed = csv_relations["directed"].eq("true")
    expected = {
        "inside": int((src_in & tgt_in).sum()),
        "entering": int((directed & ~src_in & tgt_in).sum()),
        "leaving": int((directed & src_in & ~tgt_in).sum()),
        "crossing": int((~directed & (src_in ^ tgt_in)).sum()),
    }
    at = _app(tsel=code)
    assert not at.exception
    text = _details(at)
    assert f"({code}) : relations internes {expected['inside']}, entrantes {expected['entering']}, " in text
    assert f"sortantes {expected['leaving']}, traversantes {expected['crossing']}." in text
    assert _metrics(at)["Relations"] == _count(sum(expected.values()))
    # and the territory's summary is one click away, opened on that territory
    (link,) = at.container(keys.DETAILS).get("page_link")
    assert (link.proto.label, link.proto.page, link.proto.query_string) == (
        "Ouvrir la synthèse de ce territoire", "summary", f"territory={code}"
    )
    # with a node of it selected, its relations say where they run, headed and explained in French
    touching = set(csv_relations["source"]) | set(csv_relations["target"])
    member = next(n for n in nodes.index[nodes == code] if n in touching)
    at = _app(tsel=code, sel=member)
    (relations,) = at.container(keys.DETAILS_RELATIONS).dataframe
    assert list(relations.value.columns) == ["De", "Vers", "Nature", "Dimension", "Par rapport au territoire"]
    assert set(relations.value["Par rapport au territoire"]) <= {"interne", "entrante", "sortante", "traversante"}
    captions = [c.value for c in at.container(keys.DETAILS).caption]
    assert any(c.startswith("Par rapport au territoire : interne = ses deux bouts y sont") for c in captions)


def test_territory_filter_by_level(app_env):
    cur = store.connect(app_env, read_only=True).cursor()
    territories = store.read_dataset(cur, "territories", columns=["code", "level", "parent_code"])
    cur.close()
    epci = territories.loc[territories["level"] == "epci", "code"].iloc[0]
    communes = int(((territories["level"] == "commune") & (territories["parent_code"] == epci)).sum())
    at = _app()
    at.selectbox(key=keys.LEVEL).set_value("epci").run()
    at.selectbox(key=keys.TERRITORY).set_value(epci).run()
    assert not at.exception
    assert _metrics(at)["Territoires"] == _count(communes)
    assert at.query_params["territory"] == epci
    assert at.query_params["level"] == "epci"


def _network_node_ids(at: AppTest) -> list[str]:
    import json

    spec = json.loads(at.get_by_key(keys.NETWORK).proto.spec)
    return [i for t in spec["data"] if t.get("meta", {}).get("role") in ("nodes", "highlight") for i in t["customdata"]]


def _sample_node_count() -> int:
    import geopandas as gpd

    return len(pd.read_csv(SAMPLE / "actors.csv", dtype=str)) + len(gpd.read_file(SAMPLE / "places.geojson"))


def test_with_nothing_selected_the_network_shows_its_core_and_says_so(app_env, csv_relations):
    at = _app().run()  # the network's run
    # The core by networkx: the smallest k whose k-core has at most 120 nodes, else the innermost one.
    graph = nx.Graph(list(zip(csv_relations["source"], csv_relations["target"], strict=True)))
    graph.remove_edges_from(nx.selfloop_edges(graph))
    numbers = nx.core_number(graph)
    top = max(numbers.values())
    k = next((k for k in range(1, top + 1) if sum(c >= k for c in numbers.values()) <= 120), top)
    core = nx.k_core(graph, k=k)
    assert k > 1 and _sample_node_count() > 120  # the sample is large enough to need a core
    shown = set(_network_node_ids(at))
    (note,) = _captions(at, keys.NETWORK_NOTE)
    total = _sample_node_count()
    if core.number_of_nodes() <= 120:
        assert shown == set(core.nodes)
        inside = csv_relations["source"].isin(shown) & csv_relations["target"].isin(shown)
        assert note.startswith(
            f"Réseau : son cœur, {len(shown)} nœuds sur {total}, chacun lié à au moins {k} autres nœuds du "
            f"cœur, et leurs {int(inside.sum())} relations (sur {len(csv_relations)})."
        )
    else:  # too many for one screen: the 120 nodes nearest the core's best-connected node, its neighbours first
        hub = min(core.nodes, key=lambda n: (-core.degree(n), n))
        assert len(shown) == 120 and shown <= set(core.nodes)
        assert {hub, *core.neighbors(hub)} <= shown
        assert note.startswith(
            f"Réseau : son cœur, où chaque nœud est lié à au moins {k} autres nœuds du cœur "
            f"({core.number_of_nodes()} nœuds), réduit aux 120 nœuds les plus proches de son nœud le mieux relié "
            f"(sur {total}) et à leurs "
        )
        assert f"(sur {len(csv_relations)})" in note
    # A selection shows its ego network instead of the core.
    at.session_state[keys.SELECTION] = Selection(nodes=(HUB,))
    at.run()
    assert HUB in _network_node_ids(at)
    (note,) = _captions(at, keys.NETWORK_NOTE)
    assert not note.startswith("Réseau : son cœur")


def test_invalid_url_is_ignored(app_env):
    at = _app(kinds="bogus", sel="<x>", radius="12", territory="nowhere", date="soon")
    assert not at.exception
    assert at.multiselect(key=keys.KINDS).value == []
    assert _details(at).startswith("Rien de sélectionné")


def _node_sizes(at: AppTest) -> list[float]:
    import json

    spec = json.loads(at.get_by_key(keys.NETWORK).proto.spec)
    (nodes,) = [t for t in spec["data"] if t.get("meta", {}).get("role") == "nodes"]
    size = nodes["marker"]["size"]
    if isinstance(size, dict):  # plotly's binary array encoding
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(size["bdata"]), dtype=size["dtype"]).tolist()
    return list(size)


def test_the_network_comes_on_the_run_after_the_map(app_env):
    # The first run draws the map and schedules one rerun (a browser's timer; AppTest runs it by hand).
    at = _app()
    with pytest.raises(KeyError):
        at.get_by_key(keys.NETWORK)
    (note,) = _captions(at, keys.NETWORK_NOTE)
    assert note.startswith("Réseau : affiché dans un instant")
    at.run()
    assert at.get_by_key(keys.NETWORK).type == "plotly_chart"
    (note,) = _captions(at, keys.NETWORK_NOTE)
    assert not note.startswith("Réseau : affiché dans un instant")


def test_network_sized_by_betweenness_uses_the_analytics_metrics(app_env):
    at = _app().run()  # the network's run
    by_degree = _node_sizes(at)
    at.selectbox(key=keys.SIZE).set_value("betweenness").run()
    at.selectbox(key=keys.COLOUR).set_value("community").run()
    assert not at.exception
    assert _node_sizes(at) != by_degree


def test_an_area_from_the_url_shows_its_subgraph_and_the_switch_adds_what_leaves_it(app_env, csv_relations):
    touching = csv_relations[(csv_relations["source"] == HUB) | (csv_relations["target"] == HUB)]
    partner = sorted(set(touching["source"]) | set(touching["target"]) - {HUB})[0]
    area = {HUB, partner}
    ends = csv_relations[["source", "target"]]
    among = int((ends["source"].isin(area) & ends["target"].isin(area)).sum())
    leaving = csv_relations[ends["source"].isin(area) | ends["target"].isin(area)]
    reached = (set(leaving["source"]) | set(leaving["target"])) - area
    at = _app(sel=f"{HUB},{partner}", area="1")
    at.run()  # the network comes on the second run
    assert _captions(at, keys.MAP_NOTES)[-1] == (
        "Aire tracée sur la carte : 2 nœud(s) sélectionné(s) ; le réseau montre les relations entre eux."
    )
    (note,) = _captions(at, keys.NETWORK_NOTE)
    assert note.startswith(f"Réseau : les 2 nœuds et {among} relations.")
    at.toggle(key=keys.LEAVING).set_value(True).run()
    (note,) = _captions(at, keys.NETWORK_NOTE)
    assert note.startswith(f"Réseau : les {2 + len(reached)} nœuds et {len(leaving)} relations.")
    assert at.query_params["area"] == "1"

"""AppTest: an analyst edits from the explorer's details panel, with the data page's forms, and
the explorer shows the change; a viewer finds no form.

Selections are set through the URL (``sel=``), as a click on the map or the network ends up.
Expected values come from data/sample/*.csv.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from shown import as_shown
from signin import signed_in
from streamlit.testing.v1 import AppTest

from carto.analysis.selection import Selection
from carto.store import edits as stored
from carto.ui.state import EditState as keys
from carto.ui.state import ExplorerState

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

PROJECT = Path(__file__).resolve().parent.parent
# data/sample/actors.csv: A-0155,Centre social Les Quatre Vents (Nantes),centre_social,social,...,-1.52169,47.22626
HUB = "A-0155"
# data/sample/relations.csv has 1,170 relations (1,171 lines with the header)
RELATIONS = 1170


@pytest.fixture
def sample_env(monkeypatch, sample_db):
    monkeypatch.setenv("CARTO_DB", str(sample_db))
    monkeypatch.setenv("CARTO_TILES", "none")
    st.cache_resource.clear()
    yield str(sample_db)
    st.cache_resource.clear()


def _stored(name: str, key: str) -> dict | None:
    from carto import ui  # the app's own connection (DuckDB takes one per file and process)

    return stored.read_record(ui.cursor(), name, key)


def _explorer(sel: str) -> AppTest:
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120)
    at.query_params["sel"] = sel
    at.run()
    assert not at.exception, at.exception
    return at


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def _click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    return _run(at)


def _node_types(at: AppTest) -> list[str]:
    return at.container(ExplorerState.DETAILS_NODES).dataframe[0].value["Type"].tolist()


def _relations_metric(at: AppTest) -> str:
    return {m.label: m.value for m in at.container(ExplorerState.FIGURES).metric}["Relations"]


def test_change_a_node_type_in_the_explorer_see_the_history_and_undo(sample_env):
    at = _explorer(HUB)
    assert _node_types(at) == ["Centre social"]
    form_type = keys.field("actors", HUB, "type")
    assert at.selectbox(key=form_type).value == "centre_social"
    assert at.text_input(key=keys.field("actors", HUB, "lon")).value == "-1.52169"
    assert at.container(keys.EXPLORER_HISTORY).caption[0].value == (
        "Cet enregistrement n'a pas été modifié depuis le tableau de bord.")
    at.selectbox(key=form_type).set_value("association")
    _click(at, keys.save("actors", "change"))
    assert [s.value for s in at.success] == ["Enregistré (modification n°1)."]
    assert _stored("actors", HUB)["type"] == "association"
    # The explorer's scene was read again (the data version moved): the details table says so.
    assert _node_types(at) == ["Association"]
    history = at.container(keys.EXPLORER_HISTORY).dataframe[0].value
    assert history["changes"].tolist() == ["type: centre_social → association"]
    assert history["username"].tolist() == ["local"]
    _click(at, keys.EXPLORER_UNDO)
    assert [s.value for s in at.success] == ["Modification annulée (modification n°2)."]
    assert _stored("actors", HUB)["type"] == "centre_social"
    assert _node_types(at) == ["Centre social"]
    assert at.selectbox(key=form_type).value == "centre_social"
    history = at.container(keys.EXPLORER_HISTORY).dataframe[0].value
    assert history["action"].tolist() == ["undo:update", "update"]
    # Nothing of this node is left to undo: the undo's own edit is not offered.
    assert [b.key for b in at.button if b.key == keys.EXPLORER_UNDO] == []


def test_add_a_referral_between_the_two_selected_nodes(sample_env):
    at = _explorer(f"{HUB},A-0002")
    assert _relations_metric(at) == "1\u202f170"
    # sorted: A-0002 before A-0155
    assert at.text_input(key=keys.field("relations", None, "source")).value == "A-0002"
    assert at.text_input(key=keys.field("relations", None, "target")).value == HUB
    at.text_input(key=keys.field("relations", None, "id")).input("R-NEW")
    at.selectbox(key=keys.field("relations", None, "kind")).set_value("referral")
    at.selectbox(key=keys.field("relations", None, "dimension")).set_value("professional")
    at.selectbox(key=keys.field("relations", None, "formal")).set_value("true")
    at.text_input(key=keys.field("relations", None, "scheme_id")).input("S-04")
    at.text_input(key=keys.field("relations", None, "start")).input("2026-01-15")
    at.selectbox(key=keys.field("relations", None, "stage")).set_value("delivery")
    _click(at, keys.save("relations", "add"))
    assert [s.value for s in at.success] == ["Ajouté (modification n°1)."]
    row = _stored("relations", "R-NEW")
    assert {k: row[k] for k in ("source", "target", "kind", "dimension", "formal", "scheme_id", "start", "end",
                                "stage")} == {
        "source": "A-0002", "target": HUB, "kind": "referral", "dimension": "professional", "formal": True,
        "scheme_id": "S-04", "start": "2026-01-15", "end": None, "stage": "delivery"}
    # The scene counts it: 1,170 + 1; the form is empty again, the pair prefilled again.
    assert _relations_metric(at) == "1\u202f171"
    assert at.text_input(key=keys.field("relations", None, "id")).value == ""
    assert at.text_input(key=keys.field("relations", None, "source")).value == "A-0002"
    # The new relation is now one between them, offered to end.
    assert at.selectbox(key=keys.EXPLORER_RELATION).options == ["R-NEW · Passage de relais · A-0002 → A-0155 · "
                                                                  "2026-01-15"]
    # Another run with the same pair (the map sends its view after each run) keeps the outcome beside
    # the forms; a run with another node selected has none.
    _run(at)
    assert [s.value for s in at.success] == ["Ajouté (modification n°1)."]
    at.session_state[ExplorerState.SELECTION] = Selection(nodes=(HUB,))  # as a click would
    _run(at)
    assert [s.value for s in at.success] == []


def test_a_new_pair_of_nodes_prefills_its_own_ends(sample_env):
    at = _explorer(f"{HUB},A-0002")
    at.text_input(key=keys.field("relations", None, "source")).input(HUB)
    at.text_input(key=keys.field("relations", None, "target")).input("A-0002")
    _click(at, keys.save("relations", "add"))  # refused: no kind
    assert len(at.error) == 1
    assert _relations_metric(at) == "1\u202f170"  # nothing stored: the sample's 1,170 relations
    # Swapped by hand, kept while the same pair is selected ...
    assert at.text_input(key=keys.field("relations", None, "source")).value == HUB
    assert at.text_input(key=keys.field("relations", None, "target")).value == "A-0002"
    at.session_state[ExplorerState.SELECTION] = Selection(nodes=(HUB, "A-0292"))  # as a click would
    _run(at)
    # ... and replaced by the new pair's ends when the selection changes.
    assert at.text_input(key=keys.field("relations", None, "source")).value == HUB
    assert at.text_input(key=keys.field("relations", None, "target")).value == "A-0292"


def test_end_a_relation_between_the_two_selected_nodes_at_a_date(sample_env):
    # data/sample/relations.csv: R-0053,A-0292,A-0155,partnership,institutional,true,S-04,4,false,
    # 2021-10-30,,negotiation
    at = _explorer(f"{HUB},A-0292")
    assert at.selectbox(key=keys.EXPLORER_RELATION).value == "R-0053"
    assert at.selectbox(key=keys.EXPLORER_RELATION).options == [
        "R-0053 · Partenariat · A-0292 → A-0155 · 2021-10-30"]
    at.date_input(key=keys.END_DATE).set_value("2026-06-30")
    _click(at, keys.save("relations", "end"))
    assert [s.value for s in at.success] == ["Relation terminée (modification n°1)."]
    row = _stored("relations", "R-0053")
    assert (row["start"], row["end"], row["kind"]) == ("2021-10-30", "2026-06-30", "partnership")
    assert at.selectbox(key=keys.EXPLORER_RELATION).options == [
        "R-0053 · Partenariat · A-0292 → A-0155 · 2021-10-30 – 2026-06-30"]


def test_a_refused_change_in_the_explorer_says_why_and_saves_nothing(sample_env):
    at = _explorer(HUB)
    at.text_input(key=keys.field("actors", HUB, "lat")).input("north")
    _click(at, keys.save("actors", "change"))
    assert [as_shown(e.value) for e in at.error] == [
        "Rien n'a été enregistré : the latitude 'north' is not a number (decimal degrees, e.g. -1.55)"]
    assert _stored("actors", HUB)["geometry"] is not None
    assert _stored("actors", HUB)["type"] == "centre_social"


def _as_viewer(sel: str) -> AppTest:
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120)
    signed_in(at, "citoyen@ville.fr", {"default": "viewer"})
    at.query_params["sel"] = sel
    return _run(at)


@pytest.mark.parametrize("sel", [HUB, f"{HUB},A-0292"])
def test_a_viewer_finds_no_form_in_the_explorer(sample_env, sel):
    at = _as_viewer(sel)
    # The nodes are selected (the panel says so), yet nothing offers to change them.
    assert any("sélectionné(s)" in m.value for m in at.container(ExplorerState.DETAILS).markdown)
    assert at.expander == []
    assert [b.key for b in at.button if str(b.key).startswith((keys.SAVE, keys.EXPLORER_UNDO))] == []
    assert [w.key for w in at.text_input if str(w.key).startswith("edit_field_")] == []

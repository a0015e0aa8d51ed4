"""Hostile names typed into the edit forms stay literal text: in the store, the history and the page."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from hostile_data import EVALUATED, PAYLOADS
from shown import as_shown
from streamlit.testing.v1 import AppTest

from carto import auth, store
from carto.ingest import edits
from carto.store import edits as stored
from carto.ui.state import EditState as keys

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

ANALYST = auth.User("<b>ana</b> {{ 7*7 }}", "analyst", "local")
DATA_PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "data.py")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_hostile_name_round_trips_literally_through_an_edit_and_its_undo(filled, payload):
    result = edits.edit_record(filled, ANALYST, "schemes", "S1", {"name": payload}, expected_version=0)
    cur = filled.cursor()
    assert stored.read_record(cur, "schemes", "S1")["name"] == payload
    history = stored.record_history(cur, "schemes", "S1")
    assert history["changes"][0] == {"name": ["Contrat de ville", payload]}
    assert history["username"][0] == "<b>ana</b> {{ 7*7 }}"
    assert edits.changes_text(history["changes"][0]) == f"name: Contrat de ville → {payload}"
    edits.undo_edit(filled, ANALYST, result.edit_id)
    assert stored.read_record(filled.cursor(), "schemes", "S1")["name"] == "Contrat de ville"


def test_a_hostile_id_and_name_added_from_the_page_are_shown_as_text(new_db, monkeypatch, schemes):
    path = new_db
    conn = store.connect(path)
    conn.close()
    monkeypatch.setenv("CARTO_DB", str(path))
    st.cache_resource.clear()
    at = AppTest.from_file(DATA_PAGE, default_timeout=60).run()
    at.selectbox(key=keys.DATASET).set_value("schemes").run()
    at.radio(key=f"{keys.ACTION}_schemes").set_value("add").run()
    at.text_input(key=keys.field("schemes", None, "id")).input("S{{ 7*7 }}")
    at.text_input(key=keys.field("schemes", None, "name")).input(PAYLOADS[0] + " " + PAYLOADS[4])
    at.button(key=keys.save("schemes", "add")).click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Ajouté (modification n°1)."]
    log = at.container(key=keys.AUDIT).dataframe[0].value
    assert log["record_id"].tolist() == ["S{{ 7*7 }}"]
    assert log["changes"][0].startswith(f"id: ∅ → S{{{{ 7*7 }}}}; name: ∅ → {PAYLOADS[0]} {PAYLOADS[4]}")
    # The undo offer names the record through the escaped translation: shown literally, never evaluated.
    offer = [as_shown(m.value) for m in at.markdown]
    assert len(offer) == 1
    assert offer[0].startswith("La dernière modification est la n°1 : Dispositifs S{{ 7*7 }}, par local le ")
    assert EVALUATED not in offer[0].split(" le ")[0]
    # Every markdown character of the id is escaped, so nothing in it is read as markup.
    assert "S\\{\\{ 7\\*7 \\}\\}" in at.markdown[0].value
    st.cache_resource.clear()

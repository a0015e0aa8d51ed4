"""AppTest: the data page's edit forms, the record's history, undo of the last edit, and viewers refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from shown import as_shown
from signin import signed_in
from streamlit.testing.v1 import AppTest

from carto import store
from carto.store import edits as stored
from carto.ui.state import EditState as keys

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

PROJECT = Path(__file__).resolve().parent.parent
DATA_PAGE = str(PROJECT / "app_pages" / "data.py")


@pytest.fixture
def db(new_db, monkeypatch, territories, actors, places, relations, schemes) -> Iterator[str]:
    path = new_db
    conn = store.connect(path)
    with store.transaction(conn) as cur:
        store.insert_rows(cur, "territories", territories)
        store.insert_rows(cur, "schemes", schemes)
        store.insert_rows(cur, "places", places)
        store.insert_rows(cur, "actors", actors)
        store.insert_rows(cur, "relations", relations)
        store.assign_territories(cur)
    conn.close()
    monkeypatch.setenv("CARTO_DB", str(path))
    monkeypatch.setenv("CARTO_TILES", "none")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield path
    st.cache_resource.clear()


def _stored(name: str, key: str) -> dict | None:
    from carto import ui

    return stored.read_record(ui.cursor(), name, key)


def _page() -> AppTest:
    at = AppTest.from_file(DATA_PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def test_change_an_actor_see_its_history_and_undo(db):
    at = _page()
    at.selectbox(key=keys.DATASET).set_value("actors").run()
    at.selectbox(key=f"{keys.RECORD}_actors").set_value("A1").run()
    assert at.text_input(key=keys.field("actors", "A1", "name")).value == "CCAS Alpha"
    at.text_input(key=keys.field("actors", "A1", "name")).input("<img src=x onerror=alert(1)> {{ 7*7 }}")
    at.selectbox(key=keys.field("actors", "A1", "sector")).set_value("health")
    at.button(key=keys.save("actors", "change")).click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Enregistré (modification n°1)."]
    assert _stored("actors", "A1")["name"] == "<img src=x onerror=alert(1)> {{ 7*7 }}"
    history = at.container(key=keys.HISTORY).dataframe[0].value
    # The hostile name is kept literally in the history, as text in a table cell.
    assert history["changes"].tolist() == [
        "name: CCAS Alpha → <img src=x onerror=alert(1)> {{ 7*7 }}; sector: social → health"
    ]
    at.button(key=keys.UNDO_BUTTON).click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Modification annulée (modification n°2)."]
    assert (_stored("actors", "A1")["name"], _stored("actors", "A1")["sector"]) == ("CCAS Alpha", "social")
    # The form shows the stored values again.
    assert at.text_input(key=keys.field("actors", "A1", "name")).value == "CCAS Alpha"


def test_a_refused_edit_says_why_and_saves_nothing(db):
    at = _page()
    at.selectbox(key=f"{keys.RECORD}_actors").set_value("A1").run()
    at.text_input(key=keys.field("actors", "A1", "lon")).input("east")
    at.button(key=keys.save("actors", "change")).click().run()
    assert not at.exception, at.exception
    assert [as_shown(e.value) for e in at.error] == [
        "Rien n'a été enregistré : the longitude 'east' is not a number (decimal degrees, e.g. -1.55)"
    ]
    assert _stored("actors", "A1")["name"] == "CCAS Alpha"


def test_end_a_relation_from_the_page(db):
    at = _page()
    at.selectbox(key=keys.DATASET).set_value("relations").run()
    at.radio(key=f"{keys.ACTION}_relations").set_value("end").run()
    at.selectbox(key=f"{keys.RECORD}_relations").set_value("R1").run()
    at.date_input(key=keys.END_DATE).set_value("2025-03-31")
    at.button(key=keys.save("relations", "end")).click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Relation terminée (modification n°1)."]
    assert _stored("relations", "R1")["end"] == "2025-03-31"


def test_viewer_is_refused_the_data_page(db):
    at = AppTest.from_file(DATA_PAGE, default_timeout=60)
    signed_in(at, "citoyen@ville.fr", {"default": "viewer"})
    at.run()
    assert not at.exception, at.exception
    assert len(at.error) == 1
    assert not at.selectbox  # no form, no record
    assert not at.button


def test_viewer_has_no_data_page_registered_by_url(db):
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120)
    signed_in(at, "citoyen@ville.fr", {"default": "viewer"})
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/data.py")


def test_the_second_of_two_editors_of_one_record_is_told(db):
    first, second = _page(), _page()
    for at in (first, second):
        at.selectbox(key=f"{keys.RECORD}_actors").set_value("A2").run()
    first.text_input(key=keys.field("actors", "A2", "name")).input("CAF Nord")
    first.button(key=keys.save("actors", "change")).click().run()
    assert [s.value for s in first.success] == ["Enregistré (modification n°1)."]
    second.text_input(key=keys.field("actors", "A2", "name")).input("CAF Sud")
    second.button(key=keys.save("actors", "change")).click().run()
    assert not second.exception, second.exception
    (error,) = [as_shown(e.value) for e in second.error]
    assert error.startswith("Rien n'a été enregistré : actors 'A2' was changed by someone else since you opened it")
    assert _stored("actors", "A2")["name"] == "CAF Nord"

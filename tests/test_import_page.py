"""AppTest of the import and data pages.

AppTest cannot drive ``st.file_uploader``: the tests save the file with ``save_upload`` and seed the
page's upload record (``flow.upload_record`` under ``flow.UPLOAD_KEY``), which is what the page does
itself with the uploader's bytes. Everything after the upload (mapping editor, CRS confirmation,
report, commit, undo) runs as in the browser. streamlit-folium's preview map is a custom component
that AppTest does not render; ``flow.preview_map`` is tested directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import streamlit as st
from shown import as_shown
from streamlit.testing.v1 import AppTest

from carto import store
from carto.ingest import flow
from carto.ingest.read import save_upload

PROJECT = Path(__file__).resolve().parent.parent
IMPORT_PAGE = str(PROJECT / "app_pages" / "import.py")
DATA_PAGE = str(PROJECT / "app_pages" / "data.py")

TERRITORIES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": "44109", "nom": "Nantes", "niveau": "commune"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[-1.6, 47.1], [-1.5, 47.1], [-1.5, 47.3], [-1.6, 47.3], [-1.6, 47.1]]],
            },
        }
    ],
}


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "carto.duckdb"
    monkeypatch.setenv("CARTO_DB", str(path))
    monkeypatch.setenv("CARTO_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("CARTO_TILES", "none")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield path
    st.cache_resource.clear()


def _page(db: Path, name: str, data: bytes) -> AppTest:
    saved = save_upload(data, name, db.parent / "uploads")
    at = AppTest.from_file(IMPORT_PAGE, default_timeout=60)
    at.session_state[flow.UPLOAD_KEY] = flow.upload_record(saved, name)
    return at


def _stored(db: Path, name: str) -> int:
    # The page's cached connection holds the file: read through it.
    from carto import ui

    return store.counts(ui.connection().cursor())[name]


def test_page_without_upload_waits(db: Path) -> None:
    at = AppTest.from_file(IMPORT_PAGE, default_timeout=60).run()
    assert not at.exception
    assert [i.value for i in at.info] == ["Choisissez un fichier pour commencer."]


def test_upload_report_commit_flow(db: Path) -> None:
    at = _page(db, "communes.geojson", json.dumps(TERRITORIES).encode()).run()
    assert not at.exception, at.exception
    # The mapping editor is prefilled from the column names.
    assert at.selectbox(key="map_territories_code").value == "code"
    assert at.selectbox(key="map_territories_name").value == "nom"
    assert at.selectbox(key="map_territories_level").value == "niveau"
    assert [m.value for m in at.metric] == ["1", "1", "0", "0"]
    at.button(key="import_commit").click().run()
    assert not at.exception, at.exception
    assert at.success[-1].value == "Import n°1 terminé : 1 ajoutées, 0 mises à jour, 0 supprimées, 0 ignorées."
    assert _stored(db, "territories") == 1


def test_errors_refuse_unless_skip_invalid(db: Path) -> None:
    csv = b"id;nom;type;lat;lon\nA1;CCAS;ccas;47.2;-1.55\nA2;;ovni;47.2;-1.55\n"
    at = _page(db, "acteurs.csv", csv).run()
    at.selectbox(key="import_dataset").set_value("actors").run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric] == ["2", "1", "2", "0"]
    problems = at.dataframe[1].value  # [0] is the preview
    assert problems["Ligne"].tolist() == [3, 3]
    assert problems["Problème"].tolist() == ["Champ obligatoire vide", "Valeur inconnue"]
    at.button(key="import_commit").click().run()
    # the message quotes the file's values, so it reaches Streamlit as escaped markdown
    assert as_shown(at.error[-1].value).startswith("Rien n'a été enregistré : actors: 2 errors in 1 rows")
    assert _stored(db, "actors") == 0
    at.checkbox(key="import_skip_invalid").check().run()
    at.button(key="import_commit").click().run()
    assert at.success[-1].value.startswith("Import n°1 terminé : 1 ajoutées")
    assert _stored(db, "actors") == 1


def test_crs_must_be_confirmed(db: Path) -> None:
    at = _page(db, "l93.csv", b"id,nom,type,x,y\nB1,Mission locale,mission_locale,355000,6690000\n").run()
    at.selectbox(key="import_dataset").set_value("actors").run()
    assert not at.exception, at.exception
    assert "EPSG:2154" in as_shown(at.warning[0].value)
    assert at.text_input(key="import_crs_text").value == "EPSG:2154"
    assert not at.metric  # nothing checked before the CRS is confirmed
    at.button(key="import_crs_confirm").click().run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric] == ["1", "1", "0", "0"]


def test_data_page_lists_imports_and_undoes_the_last(db: Path) -> None:
    at = _page(db, "communes.geojson", json.dumps(TERRITORIES).encode()).run()
    at.button(key="import_commit").click().run()
    assert _stored(db, "territories") == 1
    data = AppTest.from_file(DATA_PAGE, default_timeout=60).run()
    assert not data.exception, data.exception
    assert data.dataframe[0].value["file_name"].tolist() == ["communes.geojson"]
    assert data.button(key="undo_button").disabled
    data.checkbox(key="undo_confirm").check().run()
    data.button(key="undo_button").click().run()
    assert not data.exception, data.exception
    assert data.success[0].value == "Import n°1 annulé."
    assert _stored(db, "territories") == 0
    assert data.dataframe[0].value["status"].tolist() == ["undone"]


def test_preview_map_zooms_on_the_rows() -> None:
    frame = gpd.GeoDataFrame(
        {"id": ["a", "b"], "name": ["A", "B"], "_row": [2, 3]},
        geometry=[shapely.Point(-1.55, 47.2), shapely.Point(-1.5, 47.3)],
        crs="EPSG:4326",
    )
    m = flow.preview_map(frame, tiles="none")
    html = m.get_root().render()
    assert "[[47.2, -1.55], [47.3, -1.5]]" in html
    assert "https://cdn" not in html

"""AppTest of the import and data pages.

AppTest cannot drive ``st.file_uploader``: the tests save the file with ``save_upload`` and seed the
page's upload record (``ImportState.upload_record`` under ``ImportState.UPLOAD``), which is what the
page does itself with the uploader's bytes. Everything after the upload (mapping editor, CRS
confirmation, report, commit, undo) runs as in the browser. streamlit-folium's preview map is a
custom component that AppTest does not render; ``preview.preview_map`` is tested directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import streamlit as st
from shown import as_shown
from streamlit.testing.v1 import AppTest

from carto import store
from carto.ingest.read import save_upload
from carto.render import preview
from carto.ui.state import ImportState as keys

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
    at.session_state[keys.UPLOAD] = keys.upload_record(saved, name)
    return at


def _figures(at: AppTest) -> list[str]:
    """The report's counts: rows, valid, errors, warnings."""
    return [m.value for m in at.container(keys.FIGURES).metric]


def _outcome(at: AppTest, kind: str) -> str:
    """What the commit said (``kind``: success or error)."""
    (said,) = getattr(at.container(keys.OUTCOME), kind)
    return said.value


def _imports(data: AppTest) -> pd.DataFrame:
    """The data page's list of imports: its table with a ``file_name`` column."""
    (table,) = [d.value for d in data.dataframe if "file_name" in d.value.columns]
    return table


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
    assert at.selectbox(key=keys.mapping_key("territories", "code")).value == "code"
    assert at.selectbox(key=keys.mapping_key("territories", "name")).value == "nom"
    assert at.selectbox(key=keys.mapping_key("territories", "level")).value == "niveau"
    assert _figures(at) == ["1", "1", "0", "0"]
    at.button(key=keys.COMMIT).click().run()
    assert not at.exception, at.exception
    assert _outcome(at, "success") == "Import n°1 terminé : 1 ajoutées, 0 mises à jour, 0 supprimées, 0 ignorées."
    assert _stored(db, "territories") == 1


def test_errors_refuse_unless_skip_invalid(db: Path) -> None:
    csv = b"id;nom;type;lat;lon\nA1;CCAS;ccas;47.2;-1.55\nA2;;ovni;47.2;-1.55\n"
    at = _page(db, "acteurs.csv", csv).run()
    at.selectbox(key=keys.DATASET).set_value("actors").run()
    assert not at.exception, at.exception
    assert _figures(at) == ["2", "1", "2", "0"]
    (problems,) = [d.value for d in at.container(keys.PROBLEMS).dataframe]
    assert problems["Ligne"].tolist() == [3, 3]
    assert problems["Problème"].tolist() == ["Champ obligatoire vide", "Valeur inconnue"]
    at.button(key=keys.COMMIT).click().run()
    # the message quotes the file's values, so it reaches Streamlit as escaped markdown
    assert as_shown(_outcome(at, "error")).startswith("Rien n'a été enregistré : actors: 2 errors in 1 rows")
    assert _stored(db, "actors") == 0
    at.checkbox(key=keys.SKIP_INVALID).check().run()
    at.button(key=keys.COMMIT).click().run()
    assert _outcome(at, "success").startswith("Import n°1 terminé : 1 ajoutées")
    assert _stored(db, "actors") == 1


def test_data_inclusion_structures_offered_and_imported_as_actors(db: Path) -> None:
    structures = [
        {"source": "dora", "id": "dora--1", "nom": "CCAS de Nantes", "date_maj": "2025-02-14",
         "code_insee": "44109", "longitude": -1.55, "latitude": 47.21, "reseaux_porteurs": ["ccas-cias"]},
        {"source": "dora", "id": "dora--2", "nom": "Mission locale", "date_maj": "2025-02-14",
         "longitude": -1.55, "latitude": 47.2, "reseaux_porteurs": ["mission-locale"]},
    ]
    at = _page(db, "structures.json", json.dumps(structures).encode()).run()
    at.selectbox(key=keys.DATASET).set_value("actors").run()
    assert not at.exception, at.exception
    # Detected from the columns: offered, and on by default.
    assert at.checkbox(key=keys.DATAINCLUSION).value is True
    assert at.selectbox(key=keys.mapping_key("actors", "type")).value == "type"
    (table,) = [d.value for d in at.container(keys.PREVIEW).dataframe]
    assert table["type"].tolist() == ["ccas", "mission_locale"]
    assert _figures(at) == ["2", "2", "0", "0"]
    at.button(key=keys.COMMIT).click().run()
    assert _outcome(at, "success").startswith("Import n°1 terminé : 2 ajoutées")
    assert _stored(db, "actors") == 2


def test_replace_of_actors_named_by_relations_asks_before_removing_them(db: Path) -> None:
    from carto import auth, ui
    from carto.ingest.commit import commit
    from carto.ingest.validate import validate
    from carto.model import RELATIONS

    first = _page(db, "acteurs.csv", b"id;nom;type;lat;lon\nA1;CCAS;ccas;47.2;-1.55\nA2;CAF;caf;47.2;-1.55\n").run()
    first.selectbox(key=keys.DATASET).set_value("actors").run()
    first.button(key=keys.COMMIT).click().run()
    relations = pd.DataFrame({"id": ["r1"], "source": ["A1"], "target": ["A2"], "kind": ["network"], "_row": [1]})
    conn = ui.connection()
    report = validate(relations, RELATIONS, conn_or_cursor=conn.cursor())
    commit(conn, RELATIONS, report.frame, mode="append", user=auth.User("ana", "analyst", "local"),
           file_name="r.csv", sha256=None, skip_invalid=False, report=report)
    # The new file keeps A1 only: r1 would point to nothing.
    at = _page(db, "acteurs2.csv", b"id;nom;type;lat;lon\nA1;CCAS;ccas;47.2;-1.55\n").run()
    at.selectbox(key=keys.DATASET).set_value("actors").run()
    at.selectbox(key=keys.MODE).set_value("replace").run()
    at.button(key=keys.COMMIT).click().run()
    assert as_shown(_outcome(at, "error")).startswith(
        "Rien n'a été enregistré : actors: replacing would remove 1 actors that 1 relations point to (first: A2)"
    )
    assert _stored(db, "relations") == 1
    at.checkbox(key=keys.DROP_RELATIONS).check().run()
    at.button(key=keys.COMMIT).click().run()
    assert _outcome(at, "success").startswith("Import n°3 terminé : 1 ajoutées, 0 mises à jour, 2 supprimées")
    (said,) = at.container(keys.OUTCOME).info
    assert said.value == "Relations retirées avec les nœuds absents du fichier : 1."
    assert (_stored(db, "actors"), _stored(db, "relations")) == (1, 0)


def test_crs_must_be_confirmed(db: Path) -> None:
    at = _page(db, "l93.csv", b"id,nom,type,x,y\nB1,Mission locale,mission_locale,355000,6690000\n").run()
    at.selectbox(key=keys.DATASET).set_value("actors").run()
    assert not at.exception, at.exception
    assert any("EPSG:2154" in as_shown(w.value) for w in at.warning)
    assert at.text_input(key=keys.CRS_TEXT).value == "EPSG:2154"
    assert not at.metric  # nothing checked before the CRS is confirmed
    at.button(key=keys.CRS_CONFIRM).click().run()
    assert not at.exception, at.exception
    assert _figures(at) == ["1", "1", "0", "0"]


def test_data_page_lists_imports_and_undoes_the_last(db: Path) -> None:
    at = _page(db, "communes.geojson", json.dumps(TERRITORIES).encode()).run()
    at.button(key=keys.COMMIT).click().run()
    assert _stored(db, "territories") == 1
    data = AppTest.from_file(DATA_PAGE, default_timeout=60).run()
    assert not data.exception, data.exception
    assert _imports(data)["file_name"].tolist() == ["communes.geojson"]
    assert data.button(key="undo_button").disabled
    data.checkbox(key="undo_confirm").check().run()
    data.button(key="undo_button").click().run()
    assert not data.exception, data.exception
    assert [s.value for s in data.success] == ["Import n°1 annulé."]
    assert _stored(db, "territories") == 0
    assert _imports(data)["status"].tolist() == ["undone"]


def test_preview_map_zooms_on_the_rows() -> None:
    frame = gpd.GeoDataFrame(
        {"id": ["a", "b"], "name": ["A", "B"], "_row": [2, 3]},
        geometry=[shapely.Point(-1.55, 47.2), shapely.Point(-1.5, 47.3)],
        crs="EPSG:4326",
    )
    m = preview.preview_map(frame, tiles="none")
    html = m.get_root().render()
    assert "[[47.2, -1.55], [47.3, -1.5]]" in html
    assert "https://cdn" not in html

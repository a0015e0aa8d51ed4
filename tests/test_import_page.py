"""AppTest of the import and data pages.

AppTest cannot drive ``st.file_uploader``: the tests save the file with ``save_upload`` and seed the
page's upload record (``ImportState.upload_record`` under ``ImportState.UPLOAD``), which is what the
page does itself with the uploader's bytes. Everything after the upload (mapping editor, CRS
confirmation, report, commit, undo) runs as in the browser. streamlit-folium's preview map is a
custom component that AppTest does not render; ``preview.preview_map`` is tested directly.
"""

from __future__ import annotations

import json
import os
import re
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
from carto.ui import imports
from carto.ui.state import ImportState as keys

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

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
def db(tmp_path: Path, new_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    path = new_db
    monkeypatch.setenv("CARTO_DB", str(path))
    monkeypatch.setenv("CARTO_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("CARTO_TILES", "none")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield path
    st.cache_resource.clear()


def _page(db: Path, name: str, data: bytes) -> AppTest:
    saved = save_upload(data, name, Path(os.environ["CARTO_UPLOAD_DIR"]))
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
    # Nantes' EPCI (from the COG) is neither in the file nor in the database: one warning.
    assert _figures(at) == ["1", "1", "0", "1"]
    at.button(key=keys.COMMIT).click().run()
    assert not at.exception, at.exception
    assert _outcome(at, "success") == "Import n°1 terminé : 1 ajoutées, 0 mises à jour, 0 supprimées, 0 ignorées."
    assert _stored(db, "territories") == 1


def _square(x: float, y: float) -> dict[str, object]:
    ring = [[x, y], [x + 0.05, y], [x + 0.05, y + 0.05], [x, y + 0.05], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


# Two communes of Corse-du-Sud with only `code` and `nom`, both in the CA du Pays Ajaccien (242010056).
CORSICA = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "properties": {"code": "2A004", "nom": "Ajaccio"}, "geometry": _square(8.70, 41.90)},
        {"type": "Feature", "properties": {"code": "2A006", "nom": "Alata"}, "geometry": _square(8.75, 41.90)},
    ],
}


def test_french_codes_complete_a_commune_file_and_offer_its_parents(db: Path) -> None:
    at = _page(db, "communes-2a.geojson", json.dumps(CORSICA).encode()).run()
    assert not at.exception, at.exception
    notes = [as_shown(w.value) for w in at.container(keys.COG_NOTES).warning]
    assert notes == [
        "Niveau vide pour 2 codes connus du Code officiel géographique : niveau repris du COG (2A004, 2A006).",
        "Territoire parent repris du COG pour 2 codes (EPCI d'une commune, département d'un EPCI) : 2A004, 2A006",
        "Population municipale reprise du COG pour 2 codes : 2A004, 2A006",
    ]
    # Their EPCI is missing: one unknown_parent warning per commune, until the user accepts to create it.
    assert _figures(at) == ["2", "2", "0", "2"]
    at.checkbox(key=keys.CREATE_PARENTS).check().run()
    assert not at.exception, at.exception
    # + the EPCI 242010056 and the département 2A; the one warning left is 2A's parent, the region 94,
    # which is not loaded (regions are not created).
    assert _figures(at) == ["4", "4", "0", "1"]
    assert [as_shown(i.value) for i in at.container(keys.COG_NOTES).info] == [
        "2 EPCI et départements seront ajoutés après les lignes du fichier, leurs contours fusionnés à partir de "
        "ses communes."
    ]
    at.button(key=keys.COMMIT).click().run()
    assert _outcome(at, "success").startswith("Import n°1 terminé : 4 ajoutées")
    assert _stored(db, "territories") == 4


def test_a_hostile_code_in_a_cog_note_is_text(db: Path) -> None:
    hostile = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": "<img src=x onerror=alert(1)>", "nom": "Zone"},
             "geometry": _square(-1.6, 47.2)},
        ],
    }
    at = _page(db, "zones.geojson", json.dumps(hostile).encode()).run()
    assert not at.exception, at.exception
    (note,) = [w.value for w in at.container(keys.COG_NOTES).warning]
    assert r"\<img src\=x onerror\=alert\(1\)\>" in note
    assert as_shown(note).endswith("niveau « périmètre de projet » (<img src=x onerror=alert(1)>).")


def test_errors_refuse_unless_skip_invalid(db: Path) -> None:
    csv = b"id;nom;type;lat;lon\nA1;CCAS;ccas;47.2;-1.55\nA2;;ovni;47.2;-1.55\n"
    at = _page(db, "acteurs.csv", csv).run()
    at.selectbox(key=keys.DATASET).set_value("actors").run()
    assert not at.exception, at.exception
    assert _figures(at) == ["2", "1", "2", "0"]
    (problems,) = [d.value for d in at.container(keys.PROBLEMS).dataframe]
    assert problems["Ligne"].tolist() == [3, 3]
    assert problems["Problème"].tolist() == ["Champ obligatoire vide", "Valeur inconnue"]
    # In the user's language only: field labels, severities, the value read, what to do on the page.
    assert problems["Champ"].tolist() == ["Nom", "Type"]
    assert problems["Gravité"].tolist() == ["Erreur", "Erreur"]
    assert problems["Valeur dans le fichier"].tolist() == ["", "ovni"]
    assert problems["Que faire"].tolist()[0] == (
        "Choisissez la colonne qui le contient, ou donnez la même valeur à toutes les lignes."
    )
    assert "Détail" not in problems.columns
    at.button(key=keys.COMMIT).click().run()
    assert as_shown(_outcome(at, "error")) == (
        "Rien n'a été enregistré : le fichier a 2 erreurs. "
        "Corrigez-les, ou cochez « N'importer que les lignes valides »."
    )
    assert _stored(db, "actors") == 0
    at.checkbox(key=keys.SKIP_INVALID).check().run()
    assert [as_shown(e.value) for e in at.error] == [
        "2 erreurs : le fichier sera refusé, sauf si vous n'importez que les lignes valides."
    ]
    at.button(key=keys.COMMIT).click().run()
    assert _outcome(at, "success").startswith("Import n°1 terminé : 1 ajoutées")
    assert _stored(db, "actors") == 1
    # Once imported, no red "will be refused" banner stays above the outcome.
    assert not at.error


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
    assert table["Type"].tolist() == ["ccas", "mission_locale"]
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
    # The page names the fields in the user's language (the tooltip, the table's headers).
    assert 'labels = ["Identifiant","Nom"]' in preview.preview_map(frame, tiles="none", lang="fr").get_root().render()
    frame["territory_code"] = ["44109", "44143"]
    table = preview.preview_table(frame, lang="fr")
    assert table.columns.tolist() == ["Ligne", "Identifiant", "Nom", "Commune (code INSEE)", "Géométrie"]
    assert table["Géométrie"].tolist() == ["POINT (-1.55 47.2)", "POINT (-1.5 47.3)"]


# --- real files: value recoding, the same value for every row, a saved mapping reused -----------

PARTNERS = PROJECT / "tests" / "fixtures" / "partenaires-departement.csv"
# The file's types (one with a typographic apostrophe) and what the page suggests for each.
PARTNER_TYPES = {
    "Centre communal d'action sociale": "ccas",
    "Centre communal d’action sociale": "ccas",
    "Caisse d'allocations familiales": "caf",
    "Protection maternelle et infantile": "pmi",
    "Conseil départemental": "local_authority",
}


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """What the page's download buttons hold, by file name (AppTest keeps them in a storage it drops)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import app_test

    held: dict[str, bytes] = {}

    class Keeping(MemoryMediaFileStorage):
        def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):  # type: ignore[no-untyped-def]
            if filename is not None and isinstance(path_or_data, bytes):
                held[filename] = path_or_data
            return super().load_and_get_id(path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Keeping)
    return held


def _assert_no_command_line(at: AppTest) -> None:
    """The page speaks to a user, not to a shell: no ``--flag`` in what it says."""
    said = [e.value for kind in ("error", "warning", "info", "success", "caption") for e in getattr(at, kind)]
    said += [str(v) for d in at.dataframe for v in d.value.to_numpy().ravel()]
    assert not [text for text in said if re.search(r"(^|\s)--[a-z]", str(text))]


def _actors_stored() -> list[tuple[str, str, str]]:
    from carto import ui

    actors = store.read_dataset(ui.connection().cursor(), "actors")
    return sorted(zip(actors["name"], actors["type"], actors["sector"], strict=True))


def test_partners_list_imports_once_the_suggested_values_are_confirmed_and_again_with_the_saved_mapping(
    db: Path, downloads: dict[str, bytes]
) -> None:
    at = _page(db, PARTNERS.name, PARTNERS.read_bytes()).run()
    at.selectbox(key=keys.DATASET).set_value("actors").run()
    assert not at.exception, at.exception
    assert [at.selectbox(key=keys.mapping_key("actors", f)).value for f in ("name", "type", "lat", "lon")] == [
        "Nom de la structure",
        "Type",
        "Latitude",
        "Longitude",
    ]
    # The encoding was guessed: said in the user's words, with the place to change it.
    assert [as_shown(i.value) for i in at.container(keys.NOTES).info] == [
        "Le fichier n'est pas en UTF-8 : il a été lu en Windows-1252 (l'encodage habituel d'Excel). "
        "Si les accents s'affichent mal, choisissez son encodage ci-dessus."
    ]
    assert at.selectbox(key=keys.ENCODING).value == ""
    _assert_no_command_line(at)
    suggested = {raw: at.selectbox(key=keys.value_key("actors", "type", raw)).value for raw in PARTNER_TYPES}
    assert suggested == PARTNER_TYPES
    # Suggested is not applied: the five rows stay refused until the user confirms.
    assert _figures(at) == ["5", "0", "5", "0"]
    at.checkbox(key=keys.values_confirmed_key("actors", "type")).check().run()
    assert _figures(at) == ["5", "5", "0", "0"]
    # Every row is in the social sector: the same value for every row.
    at.selectbox(key=keys.mapping_key("actors", "sector")).set_value(imports.SAME).run()
    at.selectbox(key=keys.constant_key("actors", "sector")).set_value("social").run()
    assert not at.exception, at.exception
    assert _figures(at) == ["5", "5", "0", "0"]
    saved = downloads["mapping-actors.json"]
    assert json.loads(saved) == {
        "mapping": {"lat": "Latitude", "lon": "Longitude", "name": "Nom de la structure", "type": "Type"},
        "constants": {"sector": "social"},
        "values": {"type": dict(sorted(PARTNER_TYPES.items()))},
    }

    # A new session: the saved mapping alone fills the editor, and the file imports.
    again = _page(db, PARTNERS.name, PARTNERS.read_bytes()).run()
    again.selectbox(key=keys.DATASET).set_value("actors").run()
    assert _figures(again) == ["5", "0", "5", "0"]
    again.file_uploader(key=keys.MAPPING_FILE).upload("mapping-actors.json", saved).run()
    assert not again.exception, again.exception
    assert [as_shown(s.value) for s in again.container(keys.MAPPING_NOTE).success] == [
        "Correspondance enregistrée mapping-actors.json appliquée : 4 colonnes, "
        "1 valeurs pour toutes les lignes, 5 valeurs recodées."
    ]
    assert again.selectbox(key=keys.mapping_key("actors", "sector")).value == imports.SAME
    assert _figures(again) == ["5", "5", "0", "0"]
    again.button(key=keys.COMMIT).click().run()
    assert _outcome(again, "success").startswith("Import n°1 terminé : 5 ajoutées")
    assert _actors_stored() == [
        ("CAF de Loire-Atlantique", "caf", "social"),
        ("CCAS de Nantes", "ccas", "social"),
        ("CCAS de Rezé", "ccas", "social"),
        ("Centre de PMI Bellevue", "pmi", "social"),
        ("Département de Loire-Atlantique", "local_authority", "social"),
    ]


def test_a_saved_mapping_sets_columns_the_page_did_not_suggest(db: Path, downloads: dict[str, bytes]) -> None:
    csv = "Intitulé du partenaire;Genre;lat;lon\nCCAS;ccas;47.2;-1.55\n".encode()
    at = _page(db, "partenaires.csv", csv).run()
    at.selectbox(key=keys.DATASET).set_value("actors").run()
    assert at.selectbox(key=keys.mapping_key("actors", "name")).value == ""
    at.selectbox(key=keys.mapping_key("actors", "name")).set_value("Intitulé du partenaire").run()
    at.selectbox(key=keys.mapping_key("actors", "type")).set_value("Genre").run()
    assert _figures(at) == ["1", "1", "0", "0"]
    saved = downloads["mapping-actors.json"]
    assert json.loads(saved) == {"lat": "lat", "lon": "lon", "name": "Intitulé du partenaire", "type": "Genre"}

    again = _page(db, "partenaires.csv", csv).run()
    again.selectbox(key=keys.DATASET).set_value("actors").run()
    assert _figures(again) == ["1", "0", "2", "0"]  # name and type missing
    again.file_uploader(key=keys.MAPPING_FILE).upload("mapping-actors.json", saved).run()
    assert again.selectbox(key=keys.mapping_key("actors", "name")).value == "Intitulé du partenaire"
    assert again.selectbox(key=keys.mapping_key("actors", "type")).value == "Genre"
    assert _figures(again) == ["1", "1", "0", "0"]
    # A mapping naming columns this file lacks says so.
    again.file_uploader(key=keys.MAPPING_FILE).clear().upload("autre.json", b'{"name": "Nom", "siret": "SIRET"}').run()
    assert [as_shown(w.value) for w in again.container(keys.MAPPING_NOTE).warning] == [
        "La correspondance enregistrée nomme des colonnes absentes de ce fichier : Nom, SIRET. "
        "Choisissez leurs champs ci-dessous."
    ]


def test_places_without_type_import_with_the_same_value_for_every_row(db: Path) -> None:
    csv = "nom;latitude;longitude\nMarché de Talensac;47.2204;-1.5592\nPlace du Commerce;47.2131;-1.5585\n"
    at = _page(db, "lieux.csv", csv.encode()).run()
    at.selectbox(key=keys.DATASET).set_value("actors").run()
    assert _figures(at) == ["2", "0", "2", "0"]  # type is required
    _assert_no_command_line(at)
    at.selectbox(key=keys.mapping_key("actors", "type")).set_value(imports.SAME).run()
    # The allowed values are the choices, in the user's language.
    constant = at.selectbox(key=keys.constant_key("actors", "type"))
    assert constant.options[:3] == ["— choisir —", "CCAS", "CAF"]
    constant.set_value("association").run()
    assert _figures(at) == ["2", "2", "0", "0"]
    at.button(key=keys.COMMIT).click().run()
    assert _outcome(at, "success").startswith("Import n°1 terminé : 2 ajoutées")
    assert [(n, t) for n, t, _ in _actors_stored()] == [
        ("Marché de Talensac", "association"),
        ("Place du Commerce", "association"),
    ]


def test_rows_that_cannot_be_placed_are_explained_in_words(db: Path) -> None:
    at = _page(db, "acteurs.csv", b"nom;type;latitude\nCCAS;ccas;47.2\n").run()
    at.selectbox(key=keys.DATASET).set_value("actors").run()
    assert not at.exception, at.exception
    assert [as_shown(w.value) for w in at.warning] == [
        "Choisissez aussi la colonne « Longitude » : les coordonnées vont par paires."
    ]
    at.selectbox(key=keys.mapping_key("actors", "lat")).set_value("").run()
    assert [as_shown(w.value) for w in at.warning] == [
        "Les lignes ne peuvent pas être placées sur la carte : choisissez les colonnes de longitude et de latitude, "
        "de X et de Y, ou du code commune."
    ]
    assert not at.metric  # nothing checked until the rows can be placed


def test_boundaries_with_only_code_and_name_get_the_level_the_user_gives(db: Path) -> None:
    # Neighbourhoods: codes the COG does not know, so their level would only be guessed ("custom").
    boundaries = json.loads(json.dumps(TERRITORIES))
    boundaries["features"][0]["properties"] = {"code": "N1", "nom": "Bellevue"}
    at = _page(db, "quartiers.geojson", json.dumps(boundaries).encode()).run()
    assert _figures(at) == ["1", "1", "0", "0"]
    assert len(at.container(keys.COG_NOTES).warning) == 1  # the level is a guess
    at.selectbox(key=keys.mapping_key("territories", "level")).set_value(imports.SAME).run()
    level = at.selectbox(key=keys.constant_key("territories", "level"))
    assert level.options == [
        "— choisir —", "Région", "Département", "Intercommunalité (EPCI)", "Commune", "Quartier prioritaire (QPV)",
        "Périmètre de projet",
    ]
    level.set_value("qpv").run()
    assert _figures(at) == ["1", "1", "0", "0"]
    assert not at.warning  # given, not guessed
    at.button(key=keys.COMMIT).click().run()
    assert _outcome(at, "success").startswith("Import n°1 terminé : 1 ajoutées")
    from carto import ui

    stored = store.read_dataset(ui.connection().cursor(), "territories")
    assert stored[["code", "level"]].values.tolist() == [["N1", "qpv"]]


def test_a_wrong_encoding_is_said_in_words(db: Path) -> None:
    at = _page(db, PARTNERS.name, PARTNERS.read_bytes()).run()
    at.selectbox(key=keys.ENCODING).set_value("utf-8").run()
    assert not at.exception, at.exception
    assert [as_shown(e.value) for e in at.error] == [
        "Le fichier ne peut pas être lu en UTF-8 : choisissez un autre encodage, ou Automatique."
    ]
    at.selectbox(key=keys.ENCODING).set_value("cp1252").run()
    assert not at.error
    assert not at.container(keys.NOTES).info  # chosen, not guessed: nothing to say
    assert at.selectbox(key=keys.mapping_key("territories", "name")).value == "Nom de la structure"


def test_report_table_speaks_the_users_language() -> None:
    problems = pd.DataFrame(
        {
            "row": [2, 3],
            "id": ["A1", "A2"],
            "field": ["territory_code", "geometry"],
            "severity": ["warning", "error"],
            "code": ["a_code_without_advice_yet", "invalid_geometry"],
            "message": ["English, for the CLI", "invalid geometry: ...; import with --repair"],
        }
    )
    mapped = pd.DataFrame({"_row": [2, 3], "territory_code": ["44109", None]})
    table = preview.report_table(problems, "en", mapped=mapped)
    assert table.to_dict("list") == {
        "Row": [2, 3],
        "Identifier": ["A1", "A2"],
        "Field": ["Commune (INSEE code)", "Geometry"],
        "Value in the file": ["44109", ""],
        "Severity": ["Warning", "Error"],
        "Problem": ["a_code_without_advice_yet", "Invalid geometry"],
        "What to do": ["", "Tick “Repair invalid geometries”, or fix the shape in the file."],
    }

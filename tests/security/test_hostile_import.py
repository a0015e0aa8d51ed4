"""The import page's value recoding and saved-mapping notes on hostile values (AppTest).

The file's values become labels of the recoding widgets, and a saved mapping's column names and
file name reach the page's notes: labels and alerts render markdown, so each must arrive escaped
and read as the characters the file holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from hostile_data import PAYLOADS
from shown import as_shown
from streamlit.testing.v1 import AppTest
from test_hostile_pages import LIVE, shown, unescaped

from carto.ingest.read import save_upload
from carto.ui.state import ImportState as keys

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("CARTO_DB", str(tmp_path / "carto.duckdb"))
    monkeypatch.setenv("CARTO_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("CARTO_TILES", "none")
    st.cache_resource.clear()
    st.cache_data.clear()
    rows = pd.DataFrame({"nom": [f"A{i}" for i in range(len(PAYLOADS))], "type": list(PAYLOADS),
                         "latitude": 47.2, "longitude": -1.55})
    saved = save_upload(rows.to_csv(sep=";", index=False).encode(), "acteurs.csv", tmp_path / "uploads")
    at = AppTest.from_file(str(PROJECT / "app_pages" / "import.py"), default_timeout=60)
    at.session_state[keys.UPLOAD] = keys.upload_record(saved, "acteurs.csv")
    yield at
    st.cache_resource.clear()


def test_hostile_values_and_mapping_names_reach_the_import_page_as_text(page: AppTest) -> None:
    at = page.run()
    at.selectbox(key=keys.DATASET).set_value("actors").run()
    assert not at.exception, at.exception
    mapping = {"name": PAYLOADS[4], "siret": PAYLOADS[7]}
    at.file_uploader(key=keys.MAPPING_FILE).upload(f"{PAYLOADS[0]}.json", json.dumps(mapping).encode()).run()
    assert not at.exception, at.exception
    texts = shown(at)
    live = [(kind, text) for kind, plain, text in texts if not plain and any(p in unescaped(text) for p in LIVE)]
    assert live == []
    # Each value of the file has its recoding widget, labelled with the value as written.
    labels = [s.label for s in at.selectbox if s.key and s.key.startswith("map__value_actors_type_")]
    assert sorted(as_shown(label) for label in labels) == sorted(f"« {p} » (lignes : 1)" for p in PAYLOADS)
    # The saved mapping's file name and missing columns, in the page's notes, read as written.
    (applied,) = at.container(keys.MAPPING_NOTE).success
    assert as_shown(applied.value).startswith(f"Correspondance enregistrée {PAYLOADS[0]}.json appliquée")
    (missing,) = at.container(keys.MAPPING_NOTE).warning
    assert f"{PAYLOADS[4]}, {PAYLOADS[7]}" in as_shown(missing.value)

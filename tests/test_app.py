"""AppTest: every page runs without exception; the map page shows what the store holds."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PROJECT = Path(__file__).resolve().parent.parent


def registered_pages() -> list[str]:
    """Page files named in app.py's st.Page(...) calls, read from the source."""
    tree = ast.parse((PROJECT / "app.py").read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append(first.value)
    return found


def test_every_page_file_is_registered():
    on_disk = sorted(f"pages/{p.name}" for p in (PROJECT / "pages").glob("*.py") if not p.name.startswith("_"))
    assert sorted(registered_pages()) == on_disk


@pytest.fixture
def app_env(monkeypatch, sample_db):
    monkeypatch.setenv("CARTO_DB", str(sample_db))
    monkeypatch.setenv("CARTO_TILES", "none")
    return sample_db


@pytest.mark.parametrize("page", registered_pages())
def test_page_runs_without_exception(app_env, page):
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120).run()
    at.switch_page(page).run()
    assert not at.exception


def test_map_page_counts_match_the_store(app_env):
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    # 166 located communes of Loire-Atlantique, 320 actors, 60 places, 1,109 relations (data/README.md).
    assert metrics == {"Territoires": "166", "Acteurs": "320", "Lieux habités": "60", "Relations": "1\u202f109"}


def test_language_switch_turns_the_page_english(app_env):
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120).run()
    at.sidebar.selectbox(key="lang").select("en").run()
    assert not at.exception
    assert at.title[0].value == "Territories, inhabited places and partners"
    assert [m.label for m in at.metric] == ["Territories", "Actors", "Inhabited places", "Relations"]


def test_empty_database_is_filled_on_first_run(monkeypatch, tmp_path):
    monkeypatch.setenv("CARTO_DB", str(tmp_path / "fresh.duckdb"))
    monkeypatch.setenv("CARTO_TILES", "none")
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Acteurs"] == "320"

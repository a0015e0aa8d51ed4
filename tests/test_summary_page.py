"""AppTest of the summary page on the tiny département of ``summary_data`` (hand-computed figures)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
import summary_data
from shown import as_shown
from streamlit.testing.v1 import AppTest

from carto.ui.state import SummaryState as keys

PROJECT = Path(__file__).resolve().parent.parent
NNBSP = "\u202f"


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """ui.connection() is cached per process, not per CARTO_DB: drop it around each test so the
    tiny database never leaks into other tests (nor theirs into ours)."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture(scope="module")
def tiny_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return summary_data.write_database(tmp_path_factory.mktemp("db"))


@pytest.fixture
def summary_page(tiny_db_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    db = tmp_path / "tiny.duckdb"
    db.write_bytes(tiny_db_template.read_bytes())
    monkeypatch.setenv("CARTO_DB", str(db))
    monkeypatch.setenv("CARTO_TILES", "none")
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120).run()
    at.switch_page("app_pages/summary.py").run()
    assert not at.exception
    return at


def metrics(at: AppTest) -> dict[str, tuple[str, str | None]]:
    return {m.label: (m.value, m.proto.delta or None) for m in at.container(keys.FIGURES).metric}


def heading(at: AppTest) -> str:
    """The territory's name and code, as the page shows it."""
    (header,) = at.container(keys.HEADER).header
    return as_shown(header.value)


def texts(at: AppTest, key: str, kind: str) -> list[str]:
    """The ``kind`` elements (caption, markdown...) of the container ``key``, as shown."""
    return [as_shown(e.value) for e in getattr(at.container(key), kind)]


def test_default_is_the_departement(summary_page: AppTest) -> None:
    at = summary_page
    assert at.selectbox(key=keys.TERRITORY).value == "D1"
    assert heading(at) == "Département Test (D1)"  # a name: escaped markdown
    shown = metrics(at)
    # D1: 6 actors for 11,000 inhabitants = 5.45…; 5 links, all inside; 0 of 5 cross; 1 isolated;
    # 300 of 2,000 inhabitants of places uncovered = 15 %. D1 has no sibling: no delta.
    assert shown == {
        "Partenaires pour 10 000 habitants": ("5,5", None),
        "Liens du territoire": ("5", None),
        "Ouverture vers l'extérieur": (f"0{NNBSP}%", None),
        "Partenaires isolés": ("1", None),
        "Habitants en zone blanche": (f"15{NNBSP}%", None),
    }
    # Alone at its level, D1 is compared with its communes instead.
    (note,) = texts(at, keys.SIBLINGS, "caption")
    assert note.startswith("Département Test est le seul territoire de son niveau")
    (peers,) = at.container(keys.SIBLINGS).dataframe
    assert list(peers.value.iloc[:, 0]) == ["C2", "C3", "C1"]


def test_pick_a_commune(summary_page: AppTest) -> None:
    at = summary_page.selectbox(key=keys.TERRITORY).select("C1").run()
    assert not at.exception
    assert heading(at) == "Ville-Haute (C1)"
    shown = metrics(at)
    # C1 (see summary_data): 8.0 per 10,000 vs siblings' median 5.0; 4 links vs median(4, 2, 1) = 2;
    # 25 % vs 100 %; 1 isolated vs a median of 0 (no gap shown); 20 % uncovered vs
    # median(20 %, 0 %) = 10 %.
    assert shown == {
        "Partenaires pour 10 000 habitants": ("8,0", "+3,0 vs médiane"),
        "Liens du territoire": ("4", "+2 vs médiane"),
        "Ouverture vers l'extérieur": (f"25{NNBSP}%", "-75 pts vs médiane"),
        "Partenaires isolés": ("1", None),
        "Habitants en zone blanche": (f"20{NNBSP}%", "+10 pts vs médiane"),
    }
    captions = texts(at, keys.FIGURES, "caption")
    explanation = "8,0 partenaires (services, associations, écoles…) pour 10 000 habitants"
    assert any(c.startswith(explanation) for c in captions)
    markdown = "\n".join(texts(at, keys.PARTNERS, "markdown") + texts(at, keys.GAPS, "markdown"))
    assert "Centre social Les Tilleuls (Centre social) — 3 liens" in markdown
    assert "Hameau des Prés — 300 habitants" in markdown
    assert "Club isolé (Association)" in markdown
    # The counting note: the same count as the explorer's, and why a year shows fewer.
    (note,) = [e for e in at.expander if e.label == "Comment ces chiffres sont comptés"]
    counted = "\n".join(as_shown(m.value) for m in note.markdown)
    assert "(internes + entrantes + sortantes + traversantes)" in counted
    assert "les liens sans date de début n'y figurent pas" in counted


def test_summary_in_english(tiny_db_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "tiny.duckdb"
    db.write_bytes(tiny_db_template.read_bytes())
    monkeypatch.setenv("CARTO_DB", str(db))
    monkeypatch.setenv("CARTO_TILES", "none")
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120)
    at.session_state["lang"] = "en"  # what the sidebar's language switch stores
    at.switch_page("app_pages/summary.py").run()
    at.selectbox(key=keys.TERRITORY).select("C2").run()
    assert not at.exception
    shown = metrics(at)
    assert shown["Partners per 10,000 inhabitants"][0] == "5.0"
    assert shown["Openness to the outside"][0] == "100%"


def test_a_link_opens_that_territorys_summary_and_the_url_follows_the_choice(
    tiny_db_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "tiny.duckdb"
    db.write_bytes(tiny_db_template.read_bytes())
    monkeypatch.setenv("CARTO_DB", str(db))
    monkeypatch.setenv("CARTO_TILES", "none")
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120).run()
    at.query_params["territory"] = "C2"  # /summary?territory=C2, opened from a link
    at.switch_page("app_pages/summary.py").run()
    assert not at.exception
    assert heading(at) == "Bourg-Bas (C2)"
    at.selectbox(key=keys.TERRITORY).select("C3").run()
    assert at.query_params["territory"] == "C3"


def test_downloads_are_named_in_the_readers_language() -> None:
    from carto.render.summary_text import download_names

    assert download_names("44109", "fr") == {
        "pdf": "synthese-44109.pdf", "html": "synthese-44109.html", "csv": "indicateurs.csv"
    }
    assert download_names("44109", "en") == {
        "pdf": "summary-44109.pdf", "html": "summary-44109.html", "csv": "indicators.csv"
    }

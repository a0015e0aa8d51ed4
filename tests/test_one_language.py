"""One language per screen: every page, run in French and in English, shows no word of the other language.

AppTest sees what our code sends (titles, sentences, labels, options, help, placeholders, table
headers, the network's legend); what Streamlit's own widgets draw in the browser is checked, with its
listed exceptions, in ``tests/test_language_browser.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from shown import as_shown
from streamlit.testing.v1 import AppTest

from carto.ui.state import LANGUAGE

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

PROJECT = Path(__file__).resolve().parent.parent

# Proto fields that carry what a reader sees (not ids, keys or encoded data).
SHOWN_FIELDS = {"body", "label", "value", "help", "placeholder", "options", "default_text", "caption", "text"}


def _strings(message: object) -> Iterator[str]:
    from google.protobuf.json_format import MessageToDict

    def walk(value: object, field: str | None) -> Iterator[str]:
        if isinstance(value, dict):
            for k, v in value.items():
                yield from walk(v, k)
        elif isinstance(value, list):
            for v in value:
                yield from walk(v, field)
        elif isinstance(value, str) and field in SHOWN_FIELDS:
            yield value

    yield from walk(MessageToDict(message, preserving_proto_field_name=True), None)


def _figure_strings(spec: str) -> Iterator[str]:
    figure = json.loads(spec)
    for trace in figure["data"]:
        yield str(trace.get("name", ""))
        yield str(trace.get("legendgrouptitle", {}).get("text", ""))


def _frame_strings(frame: pd.DataFrame) -> Iterator[str]:
    yield from (str(c) for c in frame.columns)
    yield str(frame.index.name or "")


def shown_text(at: AppTest) -> list[str]:
    """Every string the run's elements show (labels, sentences, options, headers, legend entries)."""
    out: list[str] = []

    def visit(node: object) -> None:
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if kind == "plotly_chart":
            out.extend(_figure_strings(proto.spec))
        elif kind in ("arrow_data_frame", "dataframe"):
            out.extend(_frame_strings(node.value))
        elif proto is not None and kind not in ("arrow_data_frame",):
            out.extend(_strings(proto))
        for child in getattr(node, "children", {}).values():
            visit(child)

    for root in (at.main, at.sidebar):
        visit(root)
    return out


# Typical words of each language that the other's screens must not show (whole words, case-sensitive).
FRENCH = (
    "Aucun", "Aucune", "Sélection", "sélectionné", "Réseau", "Filtres", "Territoire", "Territoires", "internes",
    "Télécharger", "Données", "Synthèse", "Partenariat", "Passage de relais", "vous", "Lieu habité",
    "Lieux habités", "habitants", "Intercommunalité", "Département", "Nœuds", "Couleur", "Taille", "Tous",
    "Identifiant", "Nom", "Rien", "Cliquez", "Degré", "Communauté", "Quartier prioritaire",
    "et", "les", "des", "du", "sur", "pour", "avec",
)
ENGLISH = (
    "Select", "selected", "No results", "Upload", "Download", "Network", "Territory", "Territories", "Summary",
    "step", "steps", "Partnership", "Referral", "inhabitants", "Inhabited", "None", "Nothing", "Colour", "Size",
    "Filters", "you", "Clear", "Click", "Open", "the", "and", "of", "with", "from", "Degree", "Community", "Name",
)
OTHER = {"fr": ENGLISH, "en": FRENCH}
# Our own text that names both languages on purpose: the language switch.
BOTH = {"Langue / Language", "Français", "English"}


def data_names() -> list[str]:
    """Names from the sample data (the test database's): French in both languages, not the screen's words."""
    import geopandas as gpd

    sample = PROJECT / "data" / "sample"
    frames = [pd.read_csv(sample / f"{n}.csv", dtype=str) for n in ("actors", "schemes")]
    frames += [gpd.read_file(sample / f"{n}.geojson") for n in ("territories", "places")]
    names = {str(v) for frame in frames for v in frame["name"].dropna()}
    return sorted(names, key=len, reverse=True)


def foreign_words(texts: list[str], lang: str, names: list[str]) -> dict[str, list[str]]:
    """``{text: [words of the other language in it]}`` once data names are taken out."""
    found: dict[str, list[str]] = {}
    for text in set(texts) - BOTH:
        ours = re.sub(r"\S*/\S*", " ", as_shown(text))  # file paths are not words
        for name in names:
            if name in ours:
                ours = ours.replace(name, " ")
        hits = [w for w in OTHER[lang] if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", ours)]
        if hits:
            found[text] = hits
    return found


OIDC = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-only",
    "client_id": "carto",
    "client_secret": "test-only",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


def _run(page: str, lang: str, *, role: str = "admin", **params: str) -> AppTest:
    """``page`` in ``lang`` for a signed-in user of ``role``, after the run that draws the network."""
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120)
    at.secrets["auth"] = OIDC
    at.secrets["roles"] = {"default": role}
    at.user = {"email": "someone@ville.fr", "email_verified": True, "is_logged_in": True}
    at.session_state[LANGUAGE] = lang
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page != "app_pages/explorer.py":
        at.switch_page(page)
    at.run()
    assert not at.exception
    return at


@pytest.fixture
def app_env(monkeypatch, sample_db):
    monkeypatch.setenv("CARTO_DB", str(sample_db))
    monkeypatch.setenv("CARTO_TILES", "none")
    return sample_db


SCREENS = {
    "explorer": ("app_pages/explorer.py", {}),
    "explorer, a node and a territory chosen": ("app_pages/explorer.py", {"sel": "A-0141", "tsel": "44109"}),
    "explorer, communities sized by betweenness": (
        "app_pages/explorer.py", {"colour": "community", "size": "betweenness", "layout": "geo"}
    ),
    "explorer, a date before the data": ("app_pages/explorer.py", {"date": "2014"}),
    "summary": ("app_pages/summary.py", {}),
    "social space": ("app_pages/social_space.py", {}),
    "import": ("app_pages/import.py", {}),
    "data": ("app_pages/data.py", {}),
    "admin": ("app_pages/admin.py", {}),
}


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_a_screen_shows_one_language(app_env, screen, lang):
    page, params = SCREENS[screen]
    at = _run(page, lang, **params)
    texts = shown_text(at)
    assert len(texts) > 10  # the page really ran and showed its words
    assert foreign_words(texts, lang, data_names()) == {}


def test_the_scan_catches_a_word_of_the_other_language():
    names = ["Quartier des Dervallières"]
    # "(1 steps)" on an English page is fine; "vous êtes" or "Département" is not; a data name is not ours.
    texts = ["Local mode: vous êtes analyst", "Level: Département", "Quartier des Dervallières (44109)", "1 step"]
    assert foreign_words(texts, "en", names) == {
        "Local mode: vous êtes analyst": ["vous"], "Level: Département": ["Département"]
    }
    assert foreign_words(["Réseau : 3 nœuds (1 steps)", "Langue / Language"], "fr", []) == {
        "Réseau : 3 nœuds (1 steps)": ["steps"]
    }

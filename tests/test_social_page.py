"""AppTest of the social-space page (and the summary's social section) on the tiny département of
``summary_data``, whose figures are computed by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
import summary_data
from shown import as_shown
from streamlit.testing.v1 import AppTest

from carto.ui.state import SocialState as keys

PROJECT = Path(__file__).resolve().parent.parent
# Markdown shows a figure's narrow no-break space as a plain space (carto.text.markdown_text).


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture(scope="module")
def tiny_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return summary_data.write_database(tmp_path_factory.mktemp("db"))


def open_page(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> AppTest:
    db = tmp_path / "tiny.duckdb"
    db.write_bytes(template.read_bytes())
    monkeypatch.setenv("CARTO_DB", str(db))
    monkeypatch.setenv("CARTO_TILES", "none")
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120).run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def social_page(tiny_db_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return open_page(tiny_db_template, tmp_path, monkeypatch, "social_space")


def texts(at: AppTest, key: str) -> list[str]:
    """The markdown of container ``key`` as a reader sees it (escapes and bold marks gone)."""
    return [as_shown(e.value).removeprefix("**").removesuffix("**") for e in at.container(key).markdown]


def test_a_schemes_space_against_the_borders(social_page: AppTest) -> None:
    at = social_page
    at.radio(key=keys.GROUP_KIND).set_value("scheme").run()
    at.selectbox(key=keys.LEVEL).set_value("commune").run()
    assert at.selectbox(key=keys.GROUP).value == "s1"
    # s1's partners a1 (2.02° E) and a2 (2.05° E), both at 46.05° N in C1: 0.03° of longitude there is
    # 111.3 km × cos 46.05° × 0.03 ≈ 2.32 km, more than twice the 1 km reach: two discs, two parts, each
    # ≈ π km² (6.3 in all), both inside Ville-Haute (1.5 km or more from its borders): 0 % outside.
    sentence, reached = texts(at, keys.SPACE_SENTENCE)
    assert sentence == (
        "Espace social éclaté : 2 zones séparées (6,3 km² en tout) autour de ses 2 lieux et acteurs, "
        "reliées par le réseau ; 0 % se trouve hors de Ville-Haute."
    )
    assert reached == "Tous ses lieux et acteurs sont dans ce territoire."
    # A 1.5 km reach makes the discs overlap (2.32 < 3 km): one continuous area.
    at.slider(key=keys.BUFFER).set_value(1.5).run()
    sentence, _ = texts(at, keys.SPACE_SENTENCE)
    assert sentence.startswith("Espace social compact : une seule zone continue de ")


def test_referrals_from_the_only_referring_actor(social_page: AppTest) -> None:
    at = social_page
    # r3 (a2 → p1) is the only referral: a2 sends one case, nobody sends to it; p1 passes nothing on.
    assert at.selectbox(key=keys.REFERRAL_FROM).value == "a2"
    shown = texts(at, keys.REFERRALS)
    assert "Services vers lesquels Centre social Les Tilleuls oriente directement : 1 ; " \
           "services qui lui adressent des situations : 0." in shown
    assert "En 1, 2 et 3 passages de relais, une personne peut atteindre 1, 1 et 1 services." in shown
    assert "1 service reçoit des situations et n'en oriente aucune (impasse)." in shown


def test_partnerships_schemes_and_changes_of_a_commune(social_page: AppTest) -> None:
    at = social_page
    assert at.selectbox(key=keys.TERRITORY).value == "D1"  # the broadest territory first
    at.selectbox(key=keys.TERRITORY).set_value("C2").run()
    # C2 holds a4: partnership r4 (a3–a4, contract, institutional) touches it; none is fragile.
    assert texts(at, keys.PARTNERSHIPS)[:2] == [
        "1 partenariat : 0 en négociation, 1 contractualisé, 0 en réalisation, 0 en bilan.",
        "0 partenariat (0 %) ne repose que sur des liens personnels : il partirait avec une personne.",
    ]
    # Neighbours C1 (contrat de ville s1) and C3 (none): C2 lacks a contrat de ville.
    (missing,) = texts(at, keys.SCHEMES)
    assert missing == "Ses voisins ont, et lui non : Contrat de ville."
    # From 1 Jan 2023 to 31 Dec 2024 (the data's last date, r4's end): around a4, r4 (a3–a4, from
    # 2024) appeared; r5 (a4–a6, no dates) runs on both days.
    at.date_input(key=keys.BEFORE).set_value(dt.date(2023, 1, 1)).run()
    (changed,) = texts(at, keys.CHANGES)
    assert changed == (
        "Du 1 janvier 2023 au 31 décembre 2024 : 1 liens apparus, 0 terminés, 0 ont changé de nature ou d'étape."
    )
    # Running around a4 on each date (kinds in code order): r5 (network) on both, r4 (partnership) on the second.
    kinds, pairs = at.container(keys.CHANGES).dataframe
    assert kinds.value.to_dict("list") == {
        "Nature": ["Réseau", "Partenariat"], "Au 1 janvier 2023": [1, 0], "Au 31 décembre 2024": [1, 1]
    }
    assert pairs.value.iloc[:, 0].tolist() == ["apparu"]


def test_the_page_in_english(social_page: AppTest) -> None:
    at = social_page
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception
    assert at.title[0].value == "Social space: inhabited places and relations"
    assert "Within 1, 2 and 3 referrals, a person can reach 1, 1 and 1 services." in texts(at, keys.REFERRALS)


def test_the_summary_says_the_social_space_in_plain_words(
    tiny_db_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(tiny_db_template, tmp_path, monkeypatch, "summary")
    at.selectbox(key="summary_territory").set_value("C1").run()
    shown = texts(at, keys.SUMMARY)
    # C1 holds a1, a2, a3, a5: r1 (a1–a2, delivery) and r4 (a3–a4, contract) touch it.
    assert "- 2 partenariats : 0 en négociation, 1 contractualisés, 1 en réalisation, 0 en bilan.\n" \
           "- 0 partenariat (0 %) ne repose que sur des liens personnels : il partirait avec une personne.\n" \
           "- Aucun partenariat en négociation." in shown
    # The CCAS a1 refers nobody: 0 services within 1, 2 and 3 referrals; p1 receives r3 and passes nothing on.
    assert "- Entrée par le CCAS du territoire, une personne peut atteindre 0, 0 et 0 services en 1, 2 et 3 " \
           "passages de relais.\n- 1 service reçoit des situations et n'en oriente aucune (impasse)." in shown

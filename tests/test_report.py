"""Summary renderers: numbers in words, a one-page PDF, standalone HTML, a safe CSV.

The indicators and metrics are literal frames holding the hand-computed figures of
``summary_data`` (see its docstring for the arithmetic), so these tests check the rendering only.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re

import pandas as pd
import pytest
import summary_data
from PIL import Image
from pypdf import PdfReader

from carto.analysis import indicators
from carto.errors import InputError
from carto.render import offline, report
from carto.render.plain import StyledGeoJson
from carto.text import neutralise_cell

NNBSP = "\u202f"
DAY = dt.date(2026, 11, 23)
HEADLINES = (
    "actors_per_10k",
    "relations_inside",
    "openness",
    "isolated_actors",
    "uncovered_population_share",
)
NAN = math.nan


def literal_indicators() -> pd.DataFrame:
    rows = {
        # code: name, level, parent, population, actors/10k, inside, openness, isolated, uncovered share
        "C1": ("Ville-Haute", "commune", "D1", 5000, 8.0, 3, 0.25, 1, 0.20),
        "C2": ("Bourg-Bas", "commune", "D1", 2000, 5.0, 0, 1.0, 0, 0.0),
        "C3": ("Val-Clair", "commune", "D1", 4000, 2.5, 0, 1.0, 0, NAN),
        "D1": ("Département Test", "departement", None, 11000, 6 / 11000 * 1e4, 5, 0.0, 1, 0.15),
    }
    frame = pd.DataFrame.from_dict(
        rows, orient="index", columns=["name", "level", "parent_code", "population", *HEADLINES]
    )
    frame.insert(0, "code", frame.index)
    frame.index.name = "code"  # as territory_indicators returns it
    frame["scheme_names"] = ["Contrat de ville de Ville-Haute", "", "", "Contrat de ville de Ville-Haute"]
    # Comparisons by hand: C1's siblings are C1, C2, C3; D1 has no parent and no sibling but itself.
    frame["actors_per_10k_parent"] = [6 / 11000 * 1e4] * 3 + [NAN]
    frame["actors_per_10k_siblings_median"] = [5.0, 5.0, 5.0, 6 / 11000 * 1e4]
    frame["relations_inside_parent"] = [5, 5, 5, NAN]
    frame["relations_inside_siblings_median"] = [0.0, 0.0, 0.0, 5.0]
    frame["openness_parent"] = [0.0, 0.0, 0.0, NAN]
    frame["openness_siblings_median"] = [1.0, 1.0, 1.0, 0.0]
    frame["isolated_actors_parent"] = [1, 1, 1, NAN]
    frame["isolated_actors_siblings_median"] = [0.0, 0.0, 0.0, 1.0]
    frame["uncovered_population_share_parent"] = [0.15, 0.15, 0.15, NAN]
    frame["uncovered_population_share_siblings_median"] = [0.10, 0.10, 0.10, 0.15]
    return frame


def literal_metrics() -> pd.DataFrame:
    # Undirected betweenness of the path a1–a2–a3–a4–a6 with p1 hanging on a2 (pairs counted once).
    return pd.DataFrame(
        {
            "degree": [1, 3, 2, 2, 0, 1, 1, 0, 0],
            "betweenness": [0.0, 7.0, 6.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        },
        index=pd.Index(["a1", "a2", "a3", "a4", "a5", "a6", "p1", "p2", "p3"], name="id"),
    )


def c1_summary(**changes: object) -> report.Summary:
    actors = summary_data.actors()
    for column, value in changes.items():
        actors[column] = value
    return report.territory_summary(
        "C1",
        literal_indicators(),
        actors,
        summary_data.places(),
        summary_data.relations(),
        summary_data.territories(),
        literal_metrics(),
        radius_km=1.0,
        headlines=HEADLINES,
    )


def pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "decimals", "fr", "en"),
    [
        (12.44, 1, "12,4", "12.4"),
        (1234567, 0, f"1{NNBSP}234{NNBSP}567", "1,234,567"),
        (-1234.56, 2, f"-1{NNBSP}234,56", "-1,234.56"),
        (0.0, 1, "0,0", "0.0"),
        (-0.04, 1, "0,0", "0.0"),
        (None, 0, "—", "—"),
        (NAN, 1, "—", "—"),
    ],
)
def test_format_number(value: float | None, decimals: int, fr: str, en: str) -> None:
    assert report.format_number(value, "fr", decimals=decimals) == fr
    assert report.format_number(value, "en", decimals=decimals) == en


def test_format_percent_and_indicators() -> None:
    assert report.format_percent(0.375, "fr") == f"38{NNBSP}%"
    assert report.format_percent(0.375, "en") == "38%"
    assert report.format_percent(0.1234, "fr", decimals=1) == f"12,3{NNBSP}%"
    assert report.format_indicator("actors", 12000, "fr") == f"12{NNBSP}000"
    assert report.format_indicator("actors_per_10k", 12.44, "fr") == "12,4"
    assert report.format_indicator("share_partnership", 0.5, "en") == "50%"
    assert report.format_date(DAY, "fr") == "23 novembre 2026"
    assert report.format_date(DAY, "en") == "23 November 2026"


# --- summary and sentences -------------------------------------------------------------------


def test_summary_gathers_partners_gaps_and_schemes() -> None:
    s = c1_summary()
    assert (s.name, s.level, s.parent_name, s.population) == (
        "Ville-Haute",
        "commune",
        "Département Test",
        5000,
    )
    # Highest betweenness first; a5 has no relation so it is not a partner but an isolated actor.
    assert [p.id for p in s.partners] == ["a2", "a3", "a1"]
    assert [p.id for p in s.isolated] == ["a5"]
    assert [(p.id, p.population) for p in s.uncovered] == [("p2", 300)]
    assert s.schemes == ("Contrat de ville de Ville-Haute",)
    assert sorted(s.actors["id"]) == ["a1", "a2", "a3", "a5"]
    assert sorted(s.places["id"]) == ["p1", "p2"]
    first = s.figures[0]
    assert (first.column, first.value, first.siblings_median) == ("actors_per_10k", 8.0, 5.0)


def test_relations_per_year_stop_at_today() -> None:
    s = report.territory_summary(
        "C1",
        literal_indicators(),
        summary_data.actors(),
        summary_data.places(),
        summary_data.relations(),
        summary_data.territories(),
        literal_metrics(),
        headlines=HEADLINES,
        today=dt.date(2024, 6, 1),
    )
    # C1's nodes touch r1 (partnership from 2022), r2 (network from 2023), r3 (referral from 2023),
    # r4 (partnership during 2024); open relations count up to 2024.
    assert list(s.relations_per_year.itertuples(index=False, name=None)) == [
        (2022, "partnership", 1),
        (2023, "network", 1),
        (2023, "partnership", 1),
        (2023, "referral", 1),
        (2024, "network", 1),
        (2024, "partnership", 2),
        (2024, "referral", 1),
    ]


def test_departement_summary_counts_its_communes_nodes() -> None:
    s = report.territory_summary(
        "D1",
        literal_indicators(),
        summary_data.actors(),
        summary_data.places(),
        summary_data.relations(),
        summary_data.territories(),
        literal_metrics(),
        headlines=HEADLINES,
    )
    assert sorted(s.actors["id"]) == ["a1", "a2", "a3", "a4", "a5", "a6"]
    assert s.parent_name is None
    # Alone at its level: no siblings' median to compare with, so no comparison is written.
    assert all(f.siblings_median is None for f in s.figures)
    assert report.headline_sentences(s, "fr")[0][2] == (
        "5,5 partenaires (services, associations, écoles…) pour 10 000 habitants"
    )
    assert report.delta_text(s.figures[0], "fr") is None
    assert [p.id for p in s.uncovered] == ["p2"]


def test_unknown_code_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="ZZ"):
        report.territory_summary(
            "ZZ",
            literal_indicators(),
            summary_data.actors(),
            summary_data.places(),
            summary_data.relations(),
            summary_data.territories(),
            literal_metrics(),
        )


def test_uncovered_place_ids_by_radius() -> None:
    places, actors, relations = summary_data.places(), summary_data.actors(), summary_data.relations()
    # p3 is 0.2 km from a4 (0.002° of latitude ≈ 222 m); p2 is about 5 km from a5.
    assert report.uncovered_place_ids(places, actors, relations, radius_km=1.0) == ["p2"]
    assert report.uncovered_place_ids(places, actors, relations, radius_km=0.1) == ["p2", "p3"]
    assert report.uncovered_place_ids(places, actors, relations, radius_km=6.0) == []


def test_headline_sentences_french() -> None:
    sentences = report.headline_sentences(c1_summary(), "fr")
    assert [value for _, value, _ in sentences] == ["8,0", "3", f"25{NNBSP}%", "1", f"20{NNBSP}%"]
    label, _, text = sentences[0]
    assert label == "Partenaires pour 10 000 habitants"
    assert text == (
        "8,0 partenaires (services, associations, écoles…) pour 10 000 habitants — "
        "médiane des territoires voisins\u00a0: 5,0\u202f; Département Test\u00a0: 5,5"
    )
    assert sentences[4][2].startswith(
        f"20{NNBSP}% des habitants des lieux recensés vivent sans partenaire à moins de 1 km"
    )


def test_headline_sentences_english() -> None:
    sentences = report.headline_sentences(c1_summary(), "en")
    assert [value for _, value, _ in sentences] == ["8.0", "3", "25%", "1", "20%"]
    assert sentences[2][2] == (
        "25% of the territory's links connect it to the outside; the rest stay between neighbours — "
        "median of neighbouring territories: 100%; Département Test: 0%"
    )


# --- map, PDF, HTML ---------------------------------------------------------------------------


def test_map_png_draws_the_territory_and_its_nodes() -> None:
    s = c1_summary()
    png = report.summary_map_png(s, width_px=200, height_px=150)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (200, 150)
    colours: set[tuple[int, int, int]] = {image.getpixel((x, y)) for x in range(200) for y in range(150)}  # type: ignore[misc]
    # The territory's fill, an actor's blue and the isolated actor's orange are all drawn.
    assert (242, 239, 230) in colours
    assert any(abs(r - 31) < 12 and abs(g - 78) < 12 and abs(b - 156) < 12 for r, g, b in colours)
    assert any(abs(r - 224) < 12 and abs(g - 122) < 12 and abs(b - 31) < 12 for r, g, b in colours)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_pdf_is_one_page_with_name_and_figures(lang: str) -> None:
    s = c1_summary()
    data = report.summary_pdf(s, lang, sources="Échantillon « test »", on_date=DAY)
    pages, text = pdf_text(data)
    assert pages == 1
    flat = re.sub(r"[ \n]+", " ", text)  # line breaks out, narrow no-break spaces kept
    assert "Ville-Haute (C1)" in flat
    # The five figures as the page shows them, each at the start of a line (the large value).
    values = ["8,0", "3", f"25{NNBSP}%", "1", f"20{NNBSP}%"] if lang == "fr" else ["8.0", "3", "25%", "1", "20%"]
    lines = text.splitlines()
    for value in values:
        assert any(line.startswith(value) for line in lines), value
    expected = (
        [
            "8,0",
            f"25{NNBSP}%",
            "Centre social Les Tilleuls",
            "Hameau des Prés",
            "Club isolé",
            "23 novembre 2026",
            "Échantillon « test »",
        ]
        if lang == "fr"
        else ["8.0", "25%", "23 November 2026"]
    )
    for piece in expected:
        assert piece in flat, piece


def test_pdf_stays_one_page_with_long_names_and_many_items() -> None:
    long = "Association intercommunale pour l'accompagnement social et professionnel " * 4
    actors = summary_data.actors()
    actors["name"] = [f"{long} {i}" for i in range(len(actors))]
    extra = summary_data.actors().iloc[[4] * 30].copy()
    extra["id"] = [f"x{i}" for i in range(30)]
    extra["name"] = [f"{long} isolé {i}" for i in range(30)]
    actors = pd.concat([actors, extra], ignore_index=True)
    # 30 more unreached hamlets at p2's spot, a long parent name (three-line explanations), long sources.
    places = summary_data.places()
    hamlets = places.iloc[[1] * 30].copy()
    hamlets["id"] = [f"h{i}" for i in range(30)]
    hamlets["name"] = [f"Hameau {long} {i}" for i in range(30)]
    places = pd.concat([places, hamlets], ignore_index=True)
    territories = summary_data.territories()
    territories.loc[territories["code"] == "D1", "name"] = "Département " + "de la Très Longue Appellation " * 6
    indicators = literal_indicators()
    indicators.loc["C1", "name"] = "Saint-" + "Très-Longue-Commune-" * 10
    indicators.loc["C1", "scheme_names"] = ";".join(f"Dispositif {long} {i}" for i in range(20))
    s = report.territory_summary(
        "C1", indicators, actors, places, summary_data.relations(), territories, literal_metrics(), headlines=HEADLINES
    )
    assert (len(s.isolated), len(s.uncovered)) == (31, 31)
    for lang in ("fr", "en"):
        pages, text = pdf_text(report.summary_pdf(s, lang, sources=long * 3, on_date=DAY))
        assert pages == 1
    # 31 isolated actors: 5 listed, the sixth line says how many more (in English, the last rendered).
    assert "and 26 more" in text


def test_html_is_standalone() -> None:
    page = report.summary_html(c1_summary(), "fr", sources="Échantillon", on_date=DAY)
    assert page.startswith("<!DOCTYPE html>")
    assert re.search(r"https?://", page) is None
    assert "data:image/png;base64," in page
    assert "Ville-Haute (C1)" in page
    assert f"25{NNBSP}%" in page
    assert "<script" not in page


def test_html_escapes_names() -> None:
    s = c1_summary(name=["<b>x</b>", "a2", "a3", "a4", "a5", "a6"])
    page = report.summary_html(s, "en", on_date=DAY)
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


# --- CSV -------------------------------------------------------------------------------------


def test_csv_neutralises_formulas_but_keeps_numbers() -> None:
    frame = pd.DataFrame(
        {
            "code": ["X1", "X2", "X3"],
            "name": ['=HYPERLINK("http://x","y")', "-abc", "Saint-Étienne"],
            "delta": [-3.5, 2.0, 0.0],
            "actors": [4, 5, 6],
        }
    ).set_index("code", drop=False)
    text = report.indicators_csv(frame, lang="fr").decode("utf-8")
    assert text.startswith("\ufeff")
    lines = text[1:].split("\r\n")
    assert lines[0] == "code;name;delta;actors"
    # The cell holds quotes, so the CSV quotes it (doubling inner quotes); its text starts with '.
    assert lines[1] == 'X1;"\'=HYPERLINK(""http://x"",""y"")";-3,5;4'
    assert lines[2] == "X2;'-abc;2,0;5"
    assert lines[3] == "X3;Saint-Étienne;0,0;6"
    english = report.indicators_csv(frame, lang="en").decode("utf-8")[1:].split("\r\n")
    assert english[1] == 'X1,"\'=HYPERLINK(""http://x"",""y"")",-3.5,4'


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_neutralise_every_formula_start(start: str) -> None:
    assert neutralise_cell(f"{start}1+1") == f"'{start}1+1"
    assert neutralise_cell(f"a{start}") == f"a{start}"


# --- page helpers ----------------------------------------------------------------------------


def test_choices_default_and_siblings() -> None:
    table = literal_indicators()
    assert report.territory_choices(table) == ["D1", "C2", "C3", "C1"]  # département first, then by name
    assert report.default_territory(table) == "D1"
    assert report.default_territory(table.drop(index="D1")) == "C1"  # the most populous commune
    siblings = report.siblings_table(table, "C1", ["actors_per_10k"])
    assert list(siblings["code"]) == ["C2", "C3", "C1"]
    assert list(siblings["actors_per_10k"]) == [5.0, 2.5, 8.0]


def test_children_formatted_and_choropleth_level() -> None:
    table = literal_indicators()
    children = report.children_table(table, "D1", ["actors_per_10k", "openness"])
    assert list(children["code"]) == ["C2", "C3", "C1"]
    shown = report.formatted_table(children, "fr")
    assert list(shown["actors_per_10k"]) == ["5,0", "2,5", "8,0"]
    assert list(shown["openness"]) == [f"100{NNBSP}%", f"100{NNBSP}%", f"25{NNBSP}%"]
    assert report.choropleth_level(table, "C1") == "commune"
    assert report.choropleth_level(table, "D1") == "commune"  # the only département: colour its communes


def test_delta_text() -> None:
    figures = {f.column: f for f in c1_summary().figures}
    assert report.delta_text(figures["actors_per_10k"], "fr") == "+3,0 vs médiane des voisins"
    assert report.delta_text(figures["openness"], "en") == "-75 points vs neighbours' median"
    assert report.delta_text(report.Figure("isolated_actors", 0.0, None, 0.0), "fr") == ("0 vs médiane des voisins")
    assert report.delta_text(report.Figure("isolated_actors", 2.0, None, None), "fr") is None


def test_choropleth_is_offline() -> None:
    m = report.choropleth_map(
        summary_data.territories(), literal_indicators(), "actors_per_10k", "fr", level="commune", highlight="C1"
    )
    page = m.get_root().render()
    assert "Ville-Haute" in page and "Val-Clair" in page and "Département Test" not in page
    assert offline.external_urls(page) == []
    (layer,) = [c for c in m._children.values() if isinstance(c, StyledGeoJson)]
    outlines = {f["properties"]["code"]: layer.style_of(f)["color"] for f in json.loads(layer.geojson_text)["features"]}
    assert outlines["C1"] == "#d62828" and {v for k, v in outlines.items() if k != "C1"} == {"#555555"}


def test_named_gaps_agree_with_the_indicators() -> None:
    # The summary names the places and actors that carto.analysis.indicators counts: same rule, same answer.
    t, a, p, r, s = (
        summary_data.territories(),
        summary_data.actors(),
        summary_data.places(),
        summary_data.relations(),
        summary_data.schemes(),
    )
    table = indicators.territory_indicators(t, a, p, r, s, radius_km=1.0)
    for code in table.index:
        inside = report.nodes_in(code, t, p)
        named = report.uncovered_place_ids(inside, a, r, radius_km=1.0)
        assert len(named) == table.loc[code, "uncovered_places"], code
        assert len(report.nodes_in(code, t, a)) == table.loc[code, "actors"], code

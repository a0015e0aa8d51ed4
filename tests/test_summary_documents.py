"""The summary's documents: the static map, the one-page PDF, the standalone HTML and the CSV.

The summary is gathered from literal frames (``summary_data``), so these tests check the rendering only.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pandas as pd
import pytest
import summary_data
from PIL import Image
from pypdf import PdfReader
from summary_data import HEADLINES, c1_summary, literal_indicators, literal_metrics

from carto.analysis.summary import territory_summary
from carto.render.indicators_csv import indicators_csv
from carto.render.pdf import summary_pdf
from carto.render.static_map import summary_map_png
from carto.render.summary_html import summary_html
from carto.text import neutralise_cell

NNBSP = "\u202f"
DAY = dt.date(2026, 11, 23)


def pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_map_png_draws_the_territory_and_its_nodes() -> None:
    s = c1_summary()
    png = summary_map_png(s, width_px=200, height_px=150)
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
    data = summary_pdf(s, lang, sources="Échantillon « test »", on_date=DAY)
    pages, text = pdf_text(data)
    assert pages == 1
    flat = re.sub(r"[ \n]+", " ", text)  # line breaks out, narrow no-break spaces kept
    assert "Ville-Haute (C1)" in flat
    # The five figures as the page shows them, each at the start of a line (the large value).
    values = ["8,0", "4", f"25{NNBSP}%", "1", f"20{NNBSP}%"] if lang == "fr" else ["8.0", "4", "25%", "1", "20%"]
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
    s = territory_summary(
        "C1", indicators, actors, places, summary_data.relations(), territories, literal_metrics(), headlines=HEADLINES
    )
    assert (len(s.isolated), len(s.uncovered)) == (31, 31)
    for lang in ("fr", "en"):
        pages, text = pdf_text(summary_pdf(s, lang, sources=long * 3, on_date=DAY))
        assert pages == 1
    # 31 isolated actors: the counting note under the lists takes the room of the others, so 2 are
    # listed and the third line says 31 - 2 = 29 more (in English, the last rendered).
    assert "and 29 more" in text
    assert "How these figures are counted" in text
    # 20 schemes with names longer than three lines: beside the map, below the legend, 7 lines of
    # 4.4 mm are left: two names on three lines each, then 20 - 2 = 18 more.
    assert "and 18 more" in text


def test_html_is_standalone() -> None:
    page = summary_html(c1_summary(), "fr", sources="Échantillon", on_date=DAY)
    assert page.startswith("<!DOCTYPE html>")
    assert re.search(r"https?://", page) is None
    assert "data:image/png;base64," in page
    assert "Ville-Haute (C1)" in page
    assert f"25{NNBSP}%" in page
    assert "Comment ces chiffres sont comptés" in page
    assert "<script" not in page


def test_html_escapes_names() -> None:
    s = c1_summary(name=["<b>x</b>", "a2", "a3", "a4", "a5", "a6"])
    page = summary_html(s, "en", on_date=DAY)
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
    text = indicators_csv(frame, lang="fr").decode("utf-8")
    assert text.startswith("\ufeff")
    lines = text[1:].split("\r\n")
    assert lines[0] == "code;name;delta;actors"
    # The cell holds quotes, so the CSV quotes it (doubling inner quotes); its text starts with '.
    assert lines[1] == 'X1;"\'=HYPERLINK(""http://x"",""y"")";-3,5;4'
    assert lines[2] == "X2;'-abc;2,0;5"
    assert lines[3] == "X3;Saint-Étienne;0,0;6"
    english = indicators_csv(frame, lang="en").decode("utf-8")[1:].split("\r\n")
    assert english[1] == 'X1,"\'=HYPERLINK(""http://x"",""y"")",-3.5,4'


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_neutralise_every_formula_start(start: str) -> None:
    assert neutralise_cell(f"{start}1+1") == f"'{start}1+1"
    assert neutralise_cell(f"a{start}") == f"a{start}"


def test_pdf_prints_a_scheme_s_whole_name() -> None:
    # A name of about 90 characters used to be cut on one line beside the map; now it wraps.
    indicators = literal_indicators()
    name = "Contrat local de santé de la communauté de communes du Pays de la Haute Vallée (2024-2028)"
    indicators.loc["C1", "scheme_names"] = name
    s = territory_summary(
        "C1", indicators, summary_data.actors(), summary_data.places(), summary_data.relations(),
        summary_data.territories(), literal_metrics(), headlines=HEADLINES,
    )
    _, text = pdf_text(summary_pdf(s, "fr", sources="test", on_date=DAY))
    assert name in re.sub(r"\s*\n\s*", " ", text)
    assert "Comment ces chiffres sont comptés" in text

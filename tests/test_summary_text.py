"""The summary in words (carto.render.summary_text) and indicators as text (indicator_text)."""

from __future__ import annotations

import math

import pandas as pd
from summary_data import c1_summary, literal_indicators, literal_summary

from carto.analysis.summary import Figure, children_table
from carto.formatting import format_number, format_percent
from carto.render import summary_text
from carto.render.indicator_text import comparison_table, format_indicator, formatted_table

NNBSP = "\u202f"
NAN = math.nan


def test_figures_as_the_summary_writes_them() -> None:
    assert format_number(1234567, "fr") == f"1{NNBSP}234{NNBSP}567"
    assert format_number(-1234.56, "fr", decimals=2) == f"-1{NNBSP}234,56"
    assert format_number(-1234.56, "en", decimals=2) == "-1,234.56"
    assert format_percent(0.1234, "fr", decimals=1) == f"12,3{NNBSP}%"
    assert format_indicator("actors", 12000, "fr") == f"12{NNBSP}000"
    assert format_indicator("actors_per_10k", 12.44, "fr") == "12,4"
    assert format_indicator("share_partnership", 0.5, "en") == "50%"
    assert format_indicator("openness", NAN, "fr") == "—"
    # A figure of no named indicator: whole numbers whole, others with one decimal.
    assert format_indicator(None, 12000.0, "fr") == f"12{NNBSP}000"
    assert format_indicator(None, 1.45, "en") == "1.4"


def test_formatted_table() -> None:
    children = children_table(literal_indicators(), "D1", ["actors_per_10k", "openness"])
    shown = formatted_table(children, "fr")
    assert list(shown["code"]) == ["C2", "C3", "C1"]
    assert list(shown["actors_per_10k"]) == ["5,0", "2,5", "8,0"]
    assert list(shown["openness"]) == [f"100{NNBSP}%", f"100{NNBSP}%", f"25{NNBSP}%"]


def test_departement_sentences_have_no_comparison() -> None:
    s = literal_summary("D1")
    assert summary_text.headline_sentences(s, "fr")[0][2] == (
        "5,5 partenaires (services, associations, écoles…) pour 10 000 habitants"
    )
    assert summary_text.delta_text(s.figures[0], "fr") is None


def test_headline_sentences_french() -> None:
    sentences = summary_text.headline_sentences(c1_summary(), "fr")
    assert [value for _, value, _ in sentences] == ["8,0", "4", f"25{NNBSP}%", "1", f"20{NNBSP}%"]
    label, _, text = sentences[0]
    assert label == "Partenaires pour 10 000 habitants"
    assert text == (
        "8,0 partenaires (services, associations, écoles…) pour 10 000 habitants — "
        "médiane des territoires de même niveau\u00a0: 5,0\u202f; Département Test\u00a0: 5,5"
    )
    # C1's links: r1 r2 r3 have both ends in it, r4 goes to C2 (summary_data's arithmetic).
    assert sentences[1][2] == (
        "4 liens (partenariats, réseaux, orientations de personnes…) ont au moins un bout dans le "
        "territoire\u00a0: 3 entre deux de ses partenaires ou lieux, 1 avec l'extérieur — "
        "médiane des territoires de même niveau\u00a0: 2\u202f; Département Test\u00a0: 5"
    )
    assert sentences[4][2].startswith(
        f"20{NNBSP}% des habitants des lieux recensés vivent sans partenaire à moins de 1 km"
    )


def test_headline_sentences_english() -> None:
    sentences = summary_text.headline_sentences(c1_summary(), "en")
    assert [value for _, value, _ in sentences] == ["8.0", "4", "25%", "1", "20%"]
    assert sentences[2][2] == (
        "25% of the territory's links have one end outside it; the others join two partners or places "
        "of the territory — median of territories at the same level: 100%; Département Test: 0%"
    )


def test_delta_text() -> None:
    figures = {f.column: f for f in c1_summary().figures}
    assert summary_text.delta_text(figures["actors_per_10k"], "fr") == "+3,0 vs médiane"
    assert summary_text.delta_text(figures["relations_touching"], "en") == "+2 vs median"  # 4 - 2
    assert summary_text.delta_text(figures["openness"], "en") == "-75 pts vs median"
    assert summary_text.delta_text(Figure("isolated_actors", 2.0, None, None), "fr") is None


def test_no_gap_to_a_median_of_zero() -> None:
    # "+64 vs median" when the median is 0 only repeats the figure: no chip for counts and rates.
    assert summary_text.delta_text(Figure("relations_touching", 64.0, None, 0.0), "fr") is None
    assert summary_text.delta_text(Figure("actors_per_10k", 3.5, None, 0.0), "en") is None
    assert summary_text.delta_text(Figure("isolated_actors", 0.0, None, 0.0), "fr") is None
    # A share against 0 % is a gap in points: 15 % - 0 % = +15 points.
    share = Figure("uncovered_population_share", 0.15, None, 0.0)
    assert summary_text.delta_text(share, "en") == "+15 pts vs median"
    # Equal to the median once rounded: no "0" chip (Streamlit would still draw an arrow).
    assert summary_text.delta_text(Figure("uncovered_population_share", 0.0, None, 0.0), "fr") is None
    assert summary_text.delta_text(Figure("openness", 0.5, None, 0.502), "en") is None  # -0.2 points → "0"


def test_the_note_says_how_links_are_counted_in_both_languages() -> None:
    s = c1_summary()
    fr, en = summary_text.method_lines(s, "fr"), summary_text.method_lines(s, "en")
    assert len(fr) == len(en) == 5
    assert "internes + entrantes + sortantes + traversantes" in fr[0]
    assert "inside + entering + leaving + crossing" in en[0]
    assert "sans date de début" in fr[1]
    assert en[4].endswith("no partner within 1 km and no link touching it.")


def test_lines_and_intros() -> None:
    s = c1_summary()
    assert summary_text.partner_line(s.partners[0], "fr") == "Centre social Les Tilleuls (Centre social) — 3 liens"
    assert summary_text.partner_line(s.partners[2], "en").endswith("— 1 link")
    assert summary_text.place_line(s.uncovered[0], "fr") == "Hameau des Prés — 300 habitants"
    assert summary_text.subtitle(s, "fr") == f"Commune · dans Département Test · 5{NNBSP}000 habitants"
    assert summary_text.isolated_intro(s, "fr") == "1 partenaire isolé"


def test_sources_line_names_imports_and_the_sample() -> None:
    imports = pd.DataFrame(
        {
            "file_name": ["tiny.csv", "sample", "tiny.csv"],
            "imported_at": pd.to_datetime(["2026-12-01 10:00", "2026-11-23 09:00", "2026-10-01 08:00"]),
            "status": ["committed", "committed", "committed"],
        }
    )
    line = summary_text.sources_line(imports, "en", sample_name="sample")
    assert "tiny.csv (1 December 2026), sample (23 November 2026)" in line
    assert line != summary_text.sources_line(imports, "en")  # the sample's note only when told its name
    assert "tiny.csv" not in summary_text.sources_line(imports.iloc[0:0], "fr")



def test_the_pickers_labels_and_the_table_of_neighbours_read_in_each_language():
    table = pd.DataFrame(
        {"code": ["C1", "C2"], "name": ["Ville-Haute", "Bourg-Bas"], "actors_per_10k": [8.0, 5.0],
         "openness": [0.25, 1.0]},
        index=["C1", "C2"],
    )
    assert summary_text.territory_labels(table) == {"C1": "Ville-Haute (C1)", "C2": "Bourg-Bas (C2)"}
    shown = comparison_table(table, "en")
    assert list(shown.columns) == ["Code", "Name", "Partners per 10,000 inhabitants", "Openness to the outside"]
    assert shown.values.tolist() == [["C1", "Ville-Haute", "8.0", "25%"], ["C2", "Bourg-Bas", "5.0", "100%"]]


def test_the_yearly_chart_names_each_kind_in_the_language_and_colours_it_as_the_map():
    per_year = pd.DataFrame(
        {"year": [2023, 2023, 2024], "kind": ["tension", "partnership", "referral"], "count": [4, 2, 1]}
    )
    chart, colours = summary_text.per_year_chart(per_year, "fr")
    # one column per kind, in the model's order (partnership, ..., referral, ..., tension); 0 where none
    assert chart.columns.tolist() == ["year", "Partenariat", "Passage de relais", "Tension"]
    assert chart.values.tolist() == [[2023, 2, 0, 4], [2024, 0, 1, 0]]
    # the map's colours: partnership = accent blue, referral = warning orange, tension = alert red
    assert colours == ["#1f4e9c", "#e07a1f", "#d62828"]

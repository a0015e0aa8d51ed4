"""The summary's PDF, HTML and CSV on hostile names: text in, the same text out, nothing live."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
import sys
from pathlib import Path

import hostile_data
import pandas as pd
import pytest
from pypdf import PdfReader

from carto.analysis import indicators, network
from carto.analysis.summary import territory_summary
from carto.model import places_beside_actors
from carto.render.indicators_csv import indicators_csv
from carto.render.pdf import summary_pdf
from carto.render.summary_html import summary_html

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def summary_and_table():
    d = hostile_data.frames()
    metrics = network.node_metrics(d["actors"], d["places"], d["relations"])
    table = indicators.territory_indicators(
        d["territories"], d["actors"], d["places"], d["relations"], d["schemes"], radius_km=1.0, metrics=metrics
    )
    summary = territory_summary(
        "C1", table, d["actors"], d["places"], d["relations"], d["territories"], metrics, radius_km=1.0
    )
    return summary, table


def test_html_report_escapes_every_name(summary_and_table):
    summary, _ = summary_and_table
    page = summary_html(summary, "fr", sources="<b>source</b> {{ 7*7 }}", on_date=dt.date(2026, 12, 1))
    for live in ("<img src=x", "<svg onload", "<iframe", "</script><script>", "<b>source</b>"):
        assert live not in page
    assert "&lt;img src=x onerror=alert(parent.document.title)&gt; Ville-Haute" in page
    assert "{{ 7*7 }}" in page  # the text itself, never its value
    # the only script-capable tags are none at all: a report is a static document
    assert re.findall(r"<(script|iframe|object|embed)\b", page) == []


def test_pdf_report_prints_names_as_written(summary_and_table):
    summary, _ = summary_and_table
    pdf = summary_pdf(summary, "en", sources="{% if", on_date=dt.date(2026, 12, 1))
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    shown = " ".join(text.split())
    # long names are shortened with "…" to fit the page; what is printed is the name as written
    assert "<img src=x onerror=alert(parent.document.title)> V…" in shown
    assert "[lien](javascript:alert(3)) :red[rouge] $x^2$ **gras** Cl…" in shown
    assert "Sources: {% if" in shown
    assert b"/JavaScript" not in pdf and b"/JS" not in pdf and b"/Launch" not in pdf


def test_indicators_csv_neutralises_names_that_start_like_formulas(summary_and_table):
    _, table = summary_and_table
    table = table.copy()
    table.loc[table.index[0], "name"] = '=HYPERLINK("http://evil.example","clic")'
    rows = list(csv.reader(io.StringIO(indicators_csv(table, lang="en").decode("utf-8-sig"))))
    names = [row[rows[0].index(next(h for h in rows[0] if h.lower() in ("name", "nom")))] for row in rows[1:]]
    assert "'=HYPERLINK(\"http://evil.example\",\"clic\")" in names
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)


def test_the_command_line_reports_on_a_database_where_an_actor_and_a_place_share_an_id(tmp_path):
    db = hostile_data.write_database(tmp_path)
    out = tmp_path / "synthese.pdf"
    done = subprocess.run(
        [sys.executable, "-m", "carto", "--db", str(db), "report", "C1", "--out", str(out)],
        capture_output=True, text=True, cwd=PROJECT, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "warning: 1 id(s) name both an actor and a place (p3): those places are left out; give them another id\n"
    )
    assert out.read_bytes().startswith(b"%PDF")


def test_places_beside_actors_leaves_out_the_places_whose_id_an_actor_uses():
    actors = pd.DataFrame({"id": ["a1", "p2"]})
    places = pd.DataFrame({"id": ["p1", "p2", "p3"], "name": ["Nord", "Sud", "Est"]})
    kept, clashes = places_beside_actors(places, actors)
    assert (kept["id"].tolist(), clashes) == (["p1", "p3"], ["p2"])
    assert places_beside_actors(places, actors.iloc[:1])[0] is places  # nothing to leave out: the same frame

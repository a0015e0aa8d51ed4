"""``python -m carto report``: a one-page PDF (or HTML) of a territory from the store."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import summary_data
from pypdf import PdfReader

from carto import cli

NNBSP = "\u202f"


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return summary_data.write_database(tmp_path_factory.mktemp("db"))


def test_report_pdf_from_the_store(fixture_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c1.pdf"
    assert cli.main(["--db", str(fixture_db), "report", "C1", "--out", str(out)]) == 0
    assert "Ville-Haute (C1)" in capsys.readouterr().out
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    assert len(reader.pages) == 2  # the summary, then its social space
    text = re.sub(r"[ \n]+", " ", reader.pages[0].extract_text())  # keeps the narrow no-break spaces
    social = re.sub(r"[ \n]+", " ", reader.pages[1].extract_text())
    # C1's partnerships: r1 (a1–a2, delivery) and r4 (a3–a4, contract); its CCAS a1 refers nobody.
    assert "2 partenariats : 0 en négociation, 1 contractualisés, 1 en réalisation, 0 en bilan." in social
    assert "une personne peut atteindre 0, 0 et 0 services" in social
    assert "Ville-Haute (C1)" in text
    # The store assigns territories and the indicators are computed: the hand figures of summary_data.
    for figure in ("8,0", f"25{NNBSP}%", f"20{NNBSP}%", "Hameau des Prés — 300 habitants", "Club isolé"):
        assert figure in text, figure
    assert "tiny" in text  # the sources line names the import


def test_report_html_in_english(fixture_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "d1.html"
    assert cli.main(["--db", str(fixture_db), "report", "D1", "--out", str(out), "--lang", "en"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Département Test (D1)" in page
    assert re.search(r"https?://", page) is None
    assert "5.5" in page  # 6 actors for 11,000 inhabitants = 5.45… per 10,000


def test_report_unknown_code_exits_2(fixture_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "none.pdf"
    assert cli.main(["--db", str(fixture_db), "report", "ZZ999", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "ZZ999" in err and err.count("\n") == 1
    assert not out.exists()


def test_report_rejects_other_extensions(fixture_db: Path, tmp_path: Path) -> None:
    assert cli.main(["--db", str(fixture_db), "report", "C1", "--out", str(tmp_path / "x.docx")]) == 2

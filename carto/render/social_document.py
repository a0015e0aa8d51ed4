"""The summary's social-space section in its documents: a second PDF page and an HTML section.

The words are :func:`carto.render.social_text.summary_sections`'; every text from the data is
escaped where it enters the HTML, and cut to fit in the PDF.
"""

from __future__ import annotations

import html

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from carto import i18n
from carto.analysis.social import SocialFacts
from carto.render import palette
from carto.render.social_text import summary_sections

MAX_ITEMS = 8
_FONT = "DejaVu"  # registered by carto.render.pdf


def _fit(pdf: FPDF, text: str, width: float) -> str:
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def add_social_page(pdf: FPDF, facts: SocialFacts, name: str, lang: str) -> None:
    """A page after the summary: each section's heading, its sentences, its first listed items."""
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font(_FONT, "B", 15)
    pdf.set_text_color(0, 0, 0)
    title = f"{i18n.t('social.summary.heading', lang)} — {name}"
    pdf.cell(width, 9, _fit(pdf, title, width), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for heading, sentences, items in summary_sections(facts, name, lang):
        if pdf.get_y() > pdf.h - 40:
            break
        pdf.ln(2)
        pdf.set_font(_FONT, "B", 11)
        pdf.set_text_color(*palette.rgb(palette.ACCENT))
        pdf.cell(width, 6, _fit(pdf, heading, width), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(_FONT, "", 9)
        for sentence in sentences:
            pdf.multi_cell(width, 4.6, sentence, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(_FONT, "", 8.5)
        shown = items[:MAX_ITEMS]
        if len(items) > MAX_ITEMS:
            shown[-1] = i18n.t("summary.more", lang, n=len(items) - MAX_ITEMS + 1)
        for item in shown:
            pdf.cell(width, 4.4, _fit(pdf, f"• {item}", width), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def social_html(facts: SocialFacts, name: str, lang: str) -> str:
    """The same section as HTML, every text escaped."""
    e = html.escape
    parts = [f"<h2>{e(i18n.t('social.summary.heading', lang))}</h2>"]
    for heading, sentences, items in summary_sections(facts, name, lang):
        parts.append(f"<h3>{e(heading)}</h3>")
        parts.extend(f"<p>{e(s)}</p>" for s in sentences)
        if items:
            parts.append("<ul>" + "".join(f"<li>{e(item)}</li>" for item in items) + "</ul>")
    return "\n".join(parts)

"""The summary as a one-page A4 PDF (fpdf2).

Text uses the DejaVu Sans fonts vendored in ``carto/fonts`` (licence beside them), never a system
font, so accents, « » and narrow no-break spaces print on any machine. Lists are cut and long
texts shortened with "…" so the page never overflows.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos

from carto import i18n
from carto.analysis.social import SocialFacts
from carto.analysis.summary import TOP_PARTNERS, Summary
from carto.formatting import format_date
from carto.render import palette
from carto.render.social_document import add_social_page
from carto.render.static_map import summary_map_png
from carto.render.summary_text import (
    gap_intro,
    headline_sentences,
    isolated_intro,
    isolated_line,
    map_legend,
    method_lines,
    partner_line,
    place_line,
    subtitle,
)

FONTS_DIR = Path(__file__).resolve().parents[1] / "fonts"
MAX_LISTED = 6
_BLACK = palette.rgb(palette.TEXT)
_ACCENT = palette.rgb(palette.ACCENT)
_MUTED = palette.rgb(palette.MUTED_TEXT)
_RULE = palette.rgb(palette.RULE_LINE)

_FONT = "DejaVu"


class _Page(FPDF):
    def fit(self, text: str, width: float) -> str:
        """``text`` cut with an ellipsis so that it fits ``width`` mm in the current font."""
        if self.get_string_width(text) <= width:
            return text
        while text and self.get_string_width(text + "…") > width:
            text = text[:-1]
        return text.rstrip() + "…"

    def lines(self, text: str, width: float, max_lines: int) -> list[str]:
        """``text`` wrapped to ``width`` mm, at most ``max_lines`` lines (the last one cut)."""
        wrapped = self.multi_cell(width, text=text, dry_run=True, output=MethodReturnValue.LINES, align="L")
        lines = [str(line) for line in wrapped]  # type: ignore[union-attr]
        if len(lines) > max_lines:
            lines = [*lines[: max_lines - 1], self.fit(" ".join(lines[max_lines - 1 :]), width)]
        return lines

    def heading(self, text: str, width: float) -> None:
        self.set_font(_FONT, "B", 11)
        self.set_text_color(*_ACCENT)
        self.cell(width, 6, self.fit(text, width), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*_BLACK)

    def bullets(self, items: Sequence[str], width: float, limit: int, more: str) -> None:
        self.set_font(_FONT, "", 8.5)
        shown = list(items[:limit])
        if len(items) > limit:
            shown[-1] = more.format(n=len(items) - limit + 1)
        x = self.get_x()
        for item in shown:
            self.set_x(x)
            self.cell(width, 4.4, self.fit(f"• {item}", width), new_x=XPos.LEFT, new_y=YPos.NEXT)

    def wrapped_bullets(self, items: Sequence[str], width: float, max_lines: int, more: str) -> None:
        """Each item in full on as many lines as it needs, while ``max_lines`` allow; then how many
        more (a scheme's name is never cut in the middle)."""
        self.set_font(_FONT, "", 8.5)
        x = self.get_x()
        used = 0
        for i, item in enumerate(items):
            left = len(items) - i
            room = max_lines - used - (1 if left > 1 else 0)  # keep a line for "… and n more"
            # Three lines hold a long scheme's name; the first item is shown even when cut.
            lines = self.lines(f"• {item}", width, max(1, min(3, room)) if i == 0 else 3)
            if i > 0 and len(lines) > room:
                self.set_x(x)
                self.cell(width, 4.4, self.fit(more.format(n=left), width), new_x=XPos.LEFT, new_y=YPos.NEXT)
                return
            for line in lines:
                self.set_x(x)
                self.cell(width, 4.4, line, new_x=XPos.LEFT, new_y=YPos.NEXT)
            used += len(lines)


def summary_pdf(
    summary: Summary, lang: str, *, sources: str, on_date: dt.date | None = None, social: SocialFacts | None = None
) -> bytes:
    """One A4 page: title, map, headline figures explained, top partners, gaps, date, sources.

    Lists are cut and long texts shortened with "…" so the page never overflows.
    """
    day = on_date or dt.date.today()
    pdf = _Page(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font(_FONT, "", str(FONTS_DIR / "DejaVuSans.ttf"))
    pdf.add_font(_FONT, "B", str(FONTS_DIR / "DejaVuSans-Bold.ttf"))
    title = i18n.t("summary.pdf.title", lang, name=summary.name, code=summary.code)
    pdf.set_title(title)
    pdf.set_creator("carto")
    pdf.set_creation_date(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))
    pdf.set_margins(12, 12, 12)
    pdf.add_page()
    width = pdf.w - 24

    pdf.set_font(_FONT, "B", 17)
    pdf.cell(width, 9, pdf.fit(title, width), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, "", 9.5)
    pdf.set_text_color(*_MUTED)
    pdf.cell(width, 5, pdf.fit(subtitle(summary, lang), width), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*_BLACK)

    # Map on the left, legend and schemes beside it.
    top = pdf.get_y() + 2
    map_w, map_h = 100.0, 70.0
    png = summary_map_png(summary, width_px=1000, height_px=700)
    pdf.image(io.BytesIO(png), x=12, y=top, w=map_w, h=map_h)
    pdf.set_draw_color(*_RULE)
    pdf.rect(12, top, map_w, map_h)
    side_x, side_w = 12 + map_w + 6, width - map_w - 6
    pdf.set_xy(side_x, top)
    pdf.set_font(_FONT, "B", 9)
    pdf.cell(side_w, 5, i18n.t("summary.legend", lang), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(_FONT, "", 8.5)
    for colour, words in map_legend(lang):
        y = pdf.get_y()
        pdf.set_fill_color(*palette.rgb(colour))
        pdf.rect(side_x, y + 1.2, 2.6, 2.6, style="F")
        pdf.set_x(side_x + 4)
        pdf.cell(side_w - 4, 5, pdf.fit(words, side_w - 4), new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_x(side_x)
    pdf.ln(3)
    pdf.set_x(side_x)
    pdf.set_font(_FONT, "B", 9)
    pdf.cell(side_w, 5, i18n.t("summary.schemes", lang), new_x=XPos.LEFT, new_y=YPos.NEXT)
    schemes = list(summary.schemes) or [i18n.t("summary.none", lang)]
    room = int((top + map_h - pdf.get_y()) // 4.4)  # lines left beside the map
    pdf.wrapped_bullets(schemes, side_w, room, i18n.t("summary.more", lang))

    # Headline figures: the value large, its label and one explanation beside.
    pdf.set_xy(12, top + map_h + 5)
    pdf.heading(i18n.t("summary.headlines", lang), width)
    value_w = 34.0
    text_w = width - value_w - 2
    for label, value, explanation in headline_sentences(summary, lang):
        y = pdf.get_y() + 0.8
        pdf.set_xy(12, y)
        pdf.set_font(_FONT, "B", 15)
        pdf.set_text_color(*_ACCENT)
        pdf.cell(value_w, 8, pdf.fit(value, value_w))
        pdf.set_text_color(*_BLACK)
        pdf.set_xy(12 + value_w + 2, y)
        pdf.set_font(_FONT, "B", 9.5)
        pdf.cell(text_w, 4.8, pdf.fit(label, text_w), new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(_FONT, "", 8.5)
        for line in pdf.lines(explanation, text_w, 3):
            pdf.cell(text_w, 4.0, line, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_y(max(pdf.get_y(), y + 9))

    # Partners, then the gaps in two columns.
    pdf.set_xy(12, pdf.get_y() + 3)
    pdf.heading(i18n.t("summary.partners", lang), width)
    pdf.set_font(_FONT, "", 8.5)
    if summary.partners:
        pdf.bullets([partner_line(p, lang) for p in summary.partners], width, TOP_PARTNERS, "")
    else:
        pdf.bullets([i18n.t("summary.partners.none", lang)], width, 1, "")

    pdf.set_xy(12, pdf.get_y() + 3)
    pdf.heading(i18n.t("summary.gaps", lang), width)
    col_w = (width - 6) / 2
    y = pdf.get_y()
    # The counting note goes under the lists in full: the lists give up lines for it when needed.
    pdf.set_font(_FONT, "", 7)
    method = method_lines(summary, lang)
    note = pdf.lines(" ".join((method[0], method[2])), width, 6)
    note_h = 2 + 3.6 + 3.2 * len(note)
    pdf.set_font(_FONT, "B", 9)
    intro = pdf.lines(gap_intro(summary, lang), col_w, 2)
    listed = min(MAX_LISTED, int((pdf.h - 25 - note_h - y - 4.6 * len(intro)) // 4.4))
    for line in intro:
        pdf.cell(col_w, 4.6, line, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.bullets(
        [place_line(p, lang) for p in summary.uncovered] or [i18n.t("summary.none", lang)],
        col_w,
        listed,
        i18n.t("summary.more", lang),
    )
    bottom = pdf.get_y()
    pdf.set_xy(12 + col_w + 6, y)
    pdf.set_font(_FONT, "B", 9)
    pdf.cell(col_w, 5, pdf.fit(isolated_intro(summary, lang), col_w), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.bullets(
        [isolated_line(p, lang) for p in summary.isolated] or [i18n.t("summary.none", lang)],
        col_w,
        listed,
        i18n.t("summary.more", lang),
    )
    # How the figures are counted: the links (the explorer's count) and the partners' links.
    pdf.set_xy(12, max(bottom, pdf.get_y()) + 2)
    pdf.set_font(_FONT, "B", 7.5)
    pdf.cell(width, 3.6, i18n.t("summary.method", lang), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, "", 7)
    for line in note:
        pdf.cell(width, 3.2, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if pdf.get_y() > pdf.h - 25:
        msg = "the summary does not fit on one page; shorten the lists"
        raise AssertionError(msg)

    # Footer: date and data sources.
    pdf.set_draw_color(*_RULE)
    pdf.line(12, pdf.h - 23, pdf.w - 12, pdf.h - 23)
    pdf.set_xy(12, pdf.h - 22)
    pdf.set_font(_FONT, "", 7.5)
    pdf.set_text_color(*_MUTED)
    dated = i18n.t("summary.date", lang, date=format_date(day, lang))
    pdf.cell(width, 4, dated, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for line in pdf.lines(i18n.t("summary.sources", lang, sources=sources), width, 3):
        pdf.cell(width, 3.6, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if social is not None:  # the social space on a second page
        add_social_page(pdf, social, summary.name, lang)
    return bytes(pdf.output())

"""The summary as one standalone HTML document: inline style, the map as a data: URI, every
text escaped where it enters the page."""

from __future__ import annotations

import base64
import datetime as dt
import html
import string
from collections.abc import Sequence

from carto import i18n
from carto.analysis.social import SocialFacts
from carto.analysis.summary import Summary
from carto.formatting import format_date
from carto.render import palette
from carto.render.social_document import social_html
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

_CSS = string.Template(
    """
body{font-family:"DejaVu Sans",Arial,sans-serif;max-width:60rem;margin:1.5rem auto;color:#111;padding:0 1rem}
h1{margin-bottom:.2rem}.sub{color:#555;margin-top:0}h2{color:$accent;font-size:1.1rem;margin-top:1.5rem}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:.8rem}
.fig{border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem}
.fig .v{font-size:2rem;font-weight:bold;color:$accent}.fig .l{font-weight:bold}
.fig p{margin:.2rem 0;font-size:.9rem}
.map{display:flex;gap:1.5rem;flex-wrap:wrap;align-items:flex-start}
.map img{border:1px solid #ccc;max-width:100%}
.sw{display:inline-block;width:.8rem;height:.8rem;margin-right:.4rem;vertical-align:middle}
.cols{display:flex;gap:2rem;flex-wrap:wrap}.cols>div{flex:1;min-width:16rem}
footer{margin-top:2rem;color:#555;font-size:.85rem;border-top:1px solid #ccc;padding-top:.5rem}
"""
).substitute(accent=palette.ACCENT)


def summary_html(
    summary: Summary, lang: str, *, sources: str = "", on_date: dt.date | None = None, social: SocialFacts | None = None
) -> str:
    """The PDF's content as one standalone HTML document: inline style, map as a data: URI."""
    day = on_date or dt.date.today()
    e = html.escape
    title = i18n.t("summary.pdf.title", lang, name=summary.name, code=summary.code)
    png = base64.b64encode(summary_map_png(summary, width_px=700, height_px=490)).decode("ascii")
    legend = "".join(
        f"<li><span class='sw' style='background:{colour}'></span>{e(words)}</li>"
        for colour, words in map_legend(lang)
    )
    none = f"<li>{e(i18n.t('summary.none', lang))}</li>"

    def items(lines: Sequence[str]) -> str:
        return "".join(f"<li>{e(x)}</li>" for x in lines) or none

    schemes = items(summary.schemes)
    figures = "".join(
        f"<div class='fig'><div class='v'>{e(value)}</div><div class='l'>{e(label)}</div><p>{e(text)}</p></div>"
        for label, value, text in headline_sentences(summary, lang)
    )

    partners = items([partner_line(p, lang) for p in summary.partners])
    gaps = items([place_line(p, lang) for p in summary.uncovered])
    isolated = items([isolated_line(p, lang) for p in summary.isolated])
    isolated_head = isolated_intro(summary, lang)
    method = "".join(f"<li>{e(line)}</li>" for line in method_lines(summary, lang))
    footer_sources = i18n.t("summary.sources", lang, sources=sources) if sources else ""
    return f"""<!DOCTYPE html>
<html lang="{e(lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{e(title)}</h1><p class="sub">{e(subtitle(summary, lang))}</p>
<div class="map"><img alt="{e(i18n.t("summary.map_alt", lang, name=summary.name))}" width="700" height="490"
src="data:image/png;base64,{png}">
<div><strong>{e(i18n.t("summary.legend", lang))}</strong><ul style="list-style:none;padding:0">{legend}</ul>
<strong>{e(i18n.t("summary.schemes", lang))}</strong><ul>{schemes}</ul></div></div>
<h2>{e(i18n.t("summary.headlines", lang))}</h2><div class="figs">{figures}</div>
<h2>{e(i18n.t("summary.partners", lang))}</h2><ul>{partners}</ul>
<h2>{e(i18n.t("summary.gaps", lang))}</h2>
<div class="cols"><div><strong>{e(gap_intro(summary, lang))}</strong><ul>{gaps}</ul></div>
<div><strong>{e(isolated_head)}</strong><ul>{isolated}</ul></div></div>
{social_html(social, summary.name, lang) if social is not None else ""}
<h2>{e(i18n.t("summary.method", lang))}</h2><ul class="method">{method}</ul>
<footer>{e(i18n.t("summary.date", lang, date=format_date(day, lang)))}<br>{e(footer_sources)}</footer>
</body></html>
"""

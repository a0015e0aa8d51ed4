"""The summary in words: headline sentences, gaps to the siblings, partner and place lines, the
subtitle, the sources line and the static map's legend, shared by the page, the PDF and the HTML.

Numbers, percents, dates and plural forms come from :mod:`carto.formatting`; which indicator is a
count, a rate or a share from :func:`carto.render.indicator_text.format_indicator`.
"""

from __future__ import annotations

import pandas as pd

from carto import i18n
from carto.analysis.summary import Figure, Partner, Summary, UncoveredPlace
from carto.formatting import NARROW_NBSP, format_date, format_number, format_percent, plural_form
from carto.model import RELATION_KINDS
from carto.render import palette
from carto.render.indicator_text import COUNTS, format_indicator, is_share

# The static map's marks (carto.render.static_map), in the legend's order.
ACTOR_MARK = palette.ACCENT
ISOLATED_MARK = palette.WARNING
PLACE_MARK = palette.PLACE_COLOUR
UNCOVERED_MARK = palette.ALERT


def plural_key(key: str, count: float, lang: str) -> str:
    """``key + ".one"`` when ``count`` takes the singular in ``lang`` (CLDR: 0 and 1 in French, 1 in
    English) and the catalogue has that key, else ``key`` (the plural)."""
    one = f"{key}.one"
    return one if plural_form(round(count), lang) == "one" and one in i18n.catalog(lang) else key


def _radius_text(summary: Summary, lang: str) -> str:
    whole = summary.radius_km == int(summary.radius_km)
    return format_number(summary.radius_km, lang, decimals=0 if whole else 1)


def headline_sentences(summary: Summary, lang: str) -> list[tuple[str, str, str]]:
    """``(label, value, explanation)`` per headline figure, in words a newcomer understands."""
    out = []
    radius = _radius_text(summary, lang)
    separator = f"{NARROW_NBSP}; " if lang == "fr" else "; "
    inside = format_indicator("relations_inside", summary.relations_inside, lang)
    outside = format_indicator("relations_crossing", summary.relations_outside, lang)
    for fig in summary.figures:
        value = format_indicator(fig.column, fig.value, lang)
        key = f"summary.explain.{fig.column}"
        if fig.column in COUNTS and fig.value is not None:
            key = plural_key(key, fig.value, lang)
        explanation = i18n.t(key, lang, value=value, radius=radius, inside=inside, outside=outside)
        comparisons = []
        if fig.siblings_median is not None:
            shown = format_indicator(fig.column, fig.siblings_median, lang)
            comparisons.append(i18n.t("summary.compare.siblings", lang, value=shown))
        if fig.parent is not None and summary.parent_name:
            shown = format_indicator(fig.column, fig.parent, lang)
            comparisons.append(i18n.t("summary.compare.parent", lang, parent=summary.parent_name, value=shown))
        if comparisons:
            explanation = f"{explanation} — {separator.join(comparisons)}"
        out.append((i18n.t(f"summary.label.{fig.column}", lang), value, explanation))
    return out


def delta_text(figure: Figure, lang: str) -> str | None:
    """The gap to the siblings' median, ``+2,9`` (shares in points: ``-15 pts``); None without one.

    None too when a count or a rate is compared with a median of 0 ("+64 vs median" would read
    as a change when it only repeats the figure) and when the rounded gap is 0; the sentence
    still gives the median.
    """
    if figure.value is None or figure.siblings_median is None:
        return None
    if figure.siblings_median == 0 and not is_share(figure.column):
        return None
    diff = figure.value - figure.siblings_median
    if is_share(figure.column):
        number = format_number(diff * 100, lang)
        text = i18n.t("summary.points", lang, n=number)  # short: the chip is one line
    else:
        whole = figure.column in COUNTS and diff == int(diff)
        text = format_number(diff, lang, decimals=0 if whole else 1)
    if not any(ch in "123456789" for ch in text):
        return None  # equal to the median once rounded: a "0" chip would still get an arrow
    sign = "+" if diff > 0 else ""  # negative numbers carry their own "-"
    return i18n.t("summary.delta", lang, diff=f"{sign}{text}")


def partner_line(partner: Partner, lang: str) -> str:
    """``Name (type) — 4 links`` for lists of partners."""
    links = i18n.t(plural_key("summary.links", partner.degree, lang), lang, n=format_number(partner.degree, lang))
    return f"{partner.name} ({i18n.label(partner.type, lang)}) — {links}"


def method_lines(summary: Summary, lang: str) -> list[str]:
    """The "how is this counted" note: what a link of the territory is (the explorer's count), why a
    year counts fewer, what a partner's links are, which median, what isolated and blank spots are."""
    radius = _radius_text(summary, lang)
    parts = ("relations", "per_year", "partners", "compare", "gaps")
    return [i18n.t(f"summary.method.{part}", lang, radius=radius) for part in parts]


def isolated_line(partner: Partner, lang: str) -> str:
    """``Name (type)`` for the list of isolated actors."""
    return f"{partner.name} ({i18n.label(partner.type, lang)})"


def download_names(code: str, lang: str) -> dict[str, str]:
    """The summary's downloads named in the reader's language, by format: ``synthese-44109.pdf`` or
    ``summary-44109.pdf``, the same ``.html``, and ``indicateurs.csv`` or ``indicators.csv``."""
    summary, indicators = i18n.t("summary.file.summary", lang), i18n.t("summary.file.indicators", lang)
    return {"pdf": f"{summary}-{code}.pdf", "html": f"{summary}-{code}.html", "csv": f"{indicators}.csv"}


def territory_labels(table: pd.DataFrame) -> dict[str, str]:
    """``{code: "Name (code)"}`` for every territory of the indicators ``table`` (the picker's labels)."""
    return {str(code): f"{name} ({code})" for code, name in zip(table.index, table["name"].astype(str), strict=True)}


def per_year_chart(per_year: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, list[str]]:
    """Relations active per year: ``year`` then one column per kind present (labelled in ``lang``, in
    :data:`carto.model.RELATION_KINDS` order), and each kind's colour from the one palette."""
    kinds = [k for k in RELATION_KINDS if k in set(per_year["kind"])]
    wide = per_year.pivot_table(index="year", columns="kind", values="count", aggfunc="sum", fill_value=0)
    wide = wide.reindex(columns=kinds).astype("int64")
    wide.columns = [i18n.label(k, lang) for k in kinds]
    return wide.reset_index(), palette.relation_colours(kinds)


def place_line(place: UncoveredPlace, lang: str) -> str:
    """``Name — 1 200 inhabitants`` for lists of uncovered places."""
    if place.population is None:
        return place.name
    people = i18n.t(
        plural_key("summary.inhabitants", place.population, lang),
        lang,
        n=format_number(place.population, lang),
    )
    return f"{place.name} — {people}"


def subtitle(summary: Summary, lang: str) -> str:
    """``Commune · dans Département · 5 000 habitants``."""
    parts = [i18n.label(summary.level, lang)]
    if summary.parent_name:
        parts.append(i18n.t("summary.in_parent", lang, parent=summary.parent_name))
    if summary.population is not None:
        parts.append(i18n.t("summary.inhabitants", lang, n=format_number(summary.population, lang)))
    return " · ".join(p for p in parts if p)


def gap_intro(summary: Summary, lang: str) -> str:
    """How many places are not reached and the share of inhabitants they hold."""
    return i18n.t(
        plural_key("summary.gaps.places_intro", len(summary.uncovered), lang),
        lang,
        n=format_number(len(summary.uncovered), lang),
        share=format_percent(summary.uncovered_population_share, lang),
    )


def isolated_intro(summary: Summary, lang: str) -> str:
    """How many actors have no relation at all."""
    n = len(summary.isolated)
    return i18n.t(plural_key("summary.gaps.isolated_intro", n, lang), lang, n=format_number(n, lang))


def sources_line(imports: pd.DataFrame, lang: str, *, sample_name: str | None = None) -> str:
    """Where the figures come from: the imports recorded in the store, newest first.

    ``sample_name`` is the file name the embedded sample is imported under: when it is among the
    sources, the line says that the figures are a sample's.
    """
    done = imports[imports["status"] == "committed"] if "status" in imports else imports
    if done.empty:
        return i18n.t("summary.sources.none", lang)
    seen: dict[str, str] = {}
    for name, when in zip(done["file_name"], done["imported_at"], strict=True):
        label = i18n.t("summary.sources.unnamed", lang) if name is None or pd.isna(name) else str(name)
        if label not in seen:
            stamp = pd.Timestamp(when)
            seen[label] = format_date(stamp.date(), lang) if not pd.isna(stamp) else ""
    parts = [f"{name} ({day})" if day else name for name, day in seen.items()]
    text = i18n.t("summary.sources.imports", lang, imports=", ".join(parts))
    if sample_name is not None and sample_name in seen:
        text += " " + i18n.t("summary.sources.sample", lang)
    return text


def map_legend(lang: str) -> list[tuple[str, str]]:
    """Colours and words of the static map's legend, shared by the PDF, the HTML and the page."""
    return [
        (ACTOR_MARK, i18n.t("summary.legend.actor", lang)),
        (ISOLATED_MARK, i18n.t("summary.legend.isolated", lang)),
        (PLACE_MARK, i18n.t("summary.legend.place", lang)),
        (UNCOVERED_MARK, i18n.t("summary.legend.uncovered", lang)),
    ]

"""Numbers, percents, dates and plurals as people read them, in French and English (Babel).

The one place where a figure becomes text: pages, map tooltips, the network, the PDF, the HTML
report and the CSV all call these, so a figure reads the same everywhere. French uses a narrow
no-break space between thousands and before ``%`` and a decimal comma (``12 345,6``, ``38 %``);
English a comma and a point (``12,345.6``, ``38%``). Missing values (``None``, NaN) print as a dash.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import cache

from babel import Locale, dates, numbers

MISSING = "—"
NARROW_NBSP = "\u202f"

# Our two languages as Babel locales (British English writes "1 December 2026").
LOCALES = {"fr": "fr_FR", "en": "en_GB"}


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(LOCALES.get(lang, LOCALES["en"]))


def _number(value: object) -> float | None:
    """``value`` as a finite float, or None when it is missing (None, NaN, pandas' NA, not a number)."""
    if value is None or isinstance(value, bool | str):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


@cache
def _symbols(lang: str) -> tuple[str, str]:
    """The locale's group and decimal symbols, from Babel's CLDR data (``\u202f`` and ``,`` in French)."""
    locale = _locale(lang)
    return numbers.get_group_symbol(locale), numbers.get_decimal_symbol(locale)


def number_symbols(lang: str) -> tuple[str, str]:
    """The group and decimal symbols of ``lang`` (for charts that format their own axis numbers)."""
    return _symbols(lang)


def format_number(value: object, lang: str, *, decimals: int = 0) -> str:
    """``12345.6`` → ``12 345,6`` (fr) or ``12,345.6`` (en), with ``decimals`` decimals; ``-0`` prints ``0``.

    Grouping by thousands, with the locale's own symbols (maps label tens of thousands of figures,
    so the digits are laid out by Python and the symbols come from Babel once per language).
    """
    number = _number(value)
    if number is None:
        return MISSING
    number = round(number, decimals) or 0.0  # a rounded -0.0 is 0
    group, decimal = _symbols(lang)
    return f"{number:,.{decimals}f}".translate({ord(","): group, ord("."): decimal})


def format_percent(share: object, lang: str, *, decimals: int = 0) -> str:
    """A share in [0, 1] as a percentage: ``0.375`` → ``38 %`` (fr) or ``38%`` (en)."""
    number = _number(share)
    if number is None:
        return MISSING
    text = format_number(round(number * 100, decimals), lang, decimals=decimals)
    return f"{text}{NARROW_NBSP}%" if lang == "fr" else f"{text}%"


def format_date(day: dt.date, lang: str) -> str:
    """``1 décembre 2026`` or ``1 December 2026``, whatever the system's locale."""
    return dates.format_date(day, format="long", locale=_locale(lang))


def plural_form(count: int, lang: str) -> str:
    """CLDR plural category of ``count`` in ``lang``: ``"one"`` or ``"other"`` (French: 0 and 1 are one)."""
    return str(_locale(lang).plural_form(abs(count)))

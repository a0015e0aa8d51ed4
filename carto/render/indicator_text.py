"""How an indicator reads: a count, a rate with one decimal, or a share in percent.

The one place that knows which indicator is which; the text itself comes from
:mod:`carto.formatting`, so a figure reads the same in the summary, its PDF, the tables and the maps.
"""

from __future__ import annotations

import numbers

import pandas as pd

from carto import i18n
from carto.formatting import format_number, format_percent

COUNTS = frozenset(
    {
        "population",
        "actors",
        "relations_inside",
        "relations_crossing",
        "relations_touching",
        "isolated_actors",
        "places",
        "uncovered_places",
        "schemes",
    }
)
SHARES_PREFIX = "share_"
SHARES = frozenset({"openness", "formal_share", "density", "uncovered_population_share"})


def is_share(column: str) -> bool:
    """Whether ``column`` is a share in [0, 1], shown in percent."""
    return column in SHARES or column.startswith(SHARES_PREFIX)


def format_indicator(column: str | None, value: object, lang: str) -> str:
    """``value`` of indicator ``column`` the way every output shows it.

    Counts are whole numbers, shares percentages, other indicators rates with one decimal. A figure
    of no named indicator (``column`` None, e.g. the explorer's counts and their class limits) is
    whole when it is a whole number, else has one decimal.
    """
    if column is None:
        whole = isinstance(value, numbers.Real) and float(value).is_integer()
        return format_number(value, lang, decimals=0 if whole else 1)
    if column in COUNTS:
        return format_number(value, lang)
    if is_share(column):
        return format_percent(value, lang)
    return format_number(value, lang, decimals=1)


def formatted_table(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``table`` with indicator columns as text (``code`` and ``name`` kept as they are)."""
    out = table.copy()
    for column in out.columns:
        if column not in ("code", "name"):
            out[column] = [format_indicator(str(column), v, lang) for v in out[column]]
    return out


def comparison_table(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """:func:`formatted_table` with headers in ``lang``: the summary's table of neighbours."""
    headers = {"code": i18n.t("field.code", lang), "name": i18n.t("field.name", lang)}
    headers |= {str(c): i18n.t(f"summary.label.{c}", lang) for c in table.columns if c not in ("code", "name")}
    return formatted_table(table, lang).rename(columns=headers)

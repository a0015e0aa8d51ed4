"""Figures as text in both languages: the exact strings, written out by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from carto.formatting import format_date, format_number, format_percent, plural_form

NNBSP = "\u202f"


@pytest.mark.parametrize(
    ("value", "lang", "decimals", "expected"),
    [
        (12345.6, "fr", 1, f"12{NNBSP}345,6"),
        (12345.6, "en", 1, "12,345.6"),
        (1109, "fr", 0, f"1{NNBSP}109"),
        (1109, "en", 0, "1,109"),
        (-0.04, "fr", 1, "0,0"),  # a rounded negative zero prints as zero
        (2.25, "en", 1, "2.2"),  # half to even, as Python rounds
        (None, "fr", 0, "—"),
        (float("nan"), "en", 0, "—"),
        (pd.NA, "fr", 0, "—"),
    ],
)
def test_format_number(value, lang, decimals, expected):
    assert format_number(value, lang, decimals=decimals) == expected


@pytest.mark.parametrize(
    ("share", "lang", "decimals", "expected"),
    [
        (0.375, "fr", 0, f"38{NNBSP}%"),
        (0.375, "en", 0, "38%"),
        (0.2, "fr", 1, f"20,0{NNBSP}%"),
        (12.5, "fr", 0, f"1{NNBSP}250{NNBSP}%"),
        (None, "en", 0, "—"),
    ],
)
def test_format_percent(share, lang, decimals, expected):
    assert format_percent(share, lang, decimals=decimals) == expected


def test_format_date_in_each_language():
    assert format_date(dt.date(2026, 12, 1), "fr") == "1 décembre 2026"
    assert format_date(dt.date(2026, 12, 1), "en") == "1 December 2026"


@pytest.mark.parametrize(("count", "lang", "form"), [(0, "fr", "one"), (1, "fr", "one"), (2, "fr", "other"),
                                                     (0, "en", "other"), (1, "en", "one"), (2, "en", "other")])
def test_plural_form_follows_each_language(count, lang, form):
    assert plural_form(count, lang) == form

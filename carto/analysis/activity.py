"""When a relation runs: the one rule for "active on a date", used by the filters, the network and
the indicators."""

from __future__ import annotations

import datetime as dt

import pandas as pd


def active_mask(relations: pd.DataFrame, day: dt.date) -> pd.Series:
    """True for relations running on ``day``: ``start`` <= day (a missing start counts as always
    started) and ``end`` missing or >= day. A frame without ``start``/``end`` columns is all running."""
    stamp = pd.Timestamp(day)
    keep = pd.Series(True, index=relations.index)
    if "start" in relations:
        start = pd.to_datetime(relations["start"], errors="coerce")
        keep &= start.isna() | (start <= stamp)
    if "end" in relations:
        end = pd.to_datetime(relations["end"], errors="coerce")
        keep &= end.isna() | (end >= stamp)
    return keep


def active_on(relations: pd.DataFrame, day: dt.date | None) -> pd.DataFrame:
    """The rows of ``relations`` running on ``day`` (:func:`active_mask`); ``None``: all of them."""
    if day is None or relations.empty:
        return relations
    return relations[active_mask(relations, day).to_numpy()]


def date_span(relations: pd.DataFrame) -> tuple[dt.date, dt.date] | None:
    """The first and last dates the relations name (their starts and ends); None when they name none."""
    days = [
        pd.to_datetime(relations[column], errors="coerce").dropna()
        for column in ("start", "end")
        if column in relations
    ]
    known = pd.concat(days) if days else pd.Series([], dtype="datetime64[ns]")
    if known.empty:
        return None
    return pd.Timestamp(known.min()).date(), pd.Timestamp(known.max()).date()

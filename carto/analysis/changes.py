"""What changed between two dates: relations that appeared, ended, or changed kind or stage.

Compared pair by pair: the relations running on each date (:func:`carto.analysis.activity.active_on`)
between the same two nodes (either direction). A pair linked on the later date only *appeared*, on
the earlier only *ended*; linked on both with another set of kinds or of partnership stages it
*changed*.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from carto.analysis.activity import active_on

CHANGES = ("appeared", "ended", "changed", "same")


def _pairs_on(relations: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    running = active_on(relations, day)
    ends = running[["source", "target"]].astype(str)
    frame = pd.DataFrame(
        {
            "a": ends.min(axis=1),
            "b": ends.max(axis=1),
            "kind": running["kind"].astype(str),
            "stage": running["stage"].where(running["stage"].notna(), ""),
        }
    )
    return frame.groupby(["a", "b"]).agg(
        kinds=("kind", lambda k: tuple(sorted(set(k)))), stages=("stage", lambda s: tuple(sorted(set(s) - {""})))
    )


def compare_dates(relations: pd.DataFrame, before: dt.date, after: dt.date) -> pd.DataFrame:
    """One row per pair of nodes linked on either date: ``a``, ``b`` (ids, ``a`` < ``b``), the
    ``kinds`` and ``stages`` on each date (``kinds_before`` …, empty tuples when not linked) and
    ``change`` (one of :data:`CHANGES`)."""
    old, new = _pairs_on(relations, before), _pairs_on(relations, after)
    both = old.add_suffix("_before").join(new.add_suffix("_after"), how="outer")
    for column in both.columns:
        both[column] = [v if isinstance(v, tuple) else () for v in both[column]]
    linked_before = both["kinds_before"].map(bool)
    linked_after = both["kinds_after"].map(bool)
    differs = (both["kinds_before"] != both["kinds_after"]) | (both["stages_before"] != both["stages_after"])
    change = pd.Series("same", index=both.index)
    change[linked_before & linked_after & differs] = "changed"
    change[~linked_before] = "appeared"
    change[~linked_after] = "ended"
    both["change"] = change
    return both.reset_index().sort_values(["change", "a", "b"], ignore_index=True)


def latest_day(relations: pd.DataFrame, today: dt.date) -> dt.date:
    """The last day, up to ``today``, on which the data records a start or an end (``today`` without any).

    Comparing "a year ago" with a day after the data's last record would show no change at all.
    """
    stamps = [pd.to_datetime(relations[c], errors="coerce") for c in ("start", "end") if c in relations]
    known = pd.concat(stamps).dropna() if stamps else pd.Series(dtype="datetime64[ns]")
    known = known[known <= pd.Timestamp(today)]
    return today if known.empty else known.max().date()


def change_counts(diff: pd.DataFrame) -> dict[str, int]:
    """How many pairs of each change (every key of :data:`CHANGES`, zero when none)."""
    counts = diff["change"].value_counts()
    return {c: int(counts.get(c, 0)) for c in CHANGES}


def node_changes(diff: pd.DataFrame) -> pd.Series:
    """Each node's most telling change (appeared, then ended, then changed, then same): for colouring."""
    order = {c: i for i, c in enumerate(CHANGES)}
    ends = pd.concat([diff[[end, "change"]].rename(columns={end: "id"}) for end in ("a", "b")])
    ends["rank"] = ends["change"].map(order)
    best = ends.sort_values(["id", "rank"]).drop_duplicates("id")
    return pd.Series(best["change"].to_numpy(), index=pd.Index(best["id"].to_numpy(), name="id"), name="change")


def kinds_on_two_dates(relations: pd.DataFrame, before: dt.date, after: dt.date) -> pd.DataFrame:
    """Relations running on each date, by kind (rows, sorted) and date (columns ``before``, ``after``)."""
    counts = {
        label: active_on(relations, day)["kind"].astype(str).value_counts()
        for label, day in (("before", before), ("after", after))
    }
    table = pd.DataFrame(counts).fillna(0).astype("int64").sort_index()
    table.index.name = "kind"
    return table.reindex(columns=["before", "after"], fill_value=0)


def years_of(relations: pd.DataFrame, last: dt.date) -> list[int]:
    """The years from the first relation's start to ``last`` (empty without any start)."""
    starts = pd.to_datetime(relations["start"], errors="coerce").dropna() if "start" in relations else pd.Series()
    if starts.empty:
        return []
    return list(range(int(starts.min().year), last.year + 1))


def running_each_year(relations: pd.DataFrame, years: list[int]) -> dict[int, pd.DataFrame]:
    """The relations running on 31 December of each year, for playing the network year by year."""
    return {year: active_on(relations, dt.date(year, 12, 31)) for year in years}

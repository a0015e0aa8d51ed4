"""Text decoded with the wrong encoding, repaired when every affected value repairs cleanly.

UTF-8 read as Latin-1 gives ``Ã©`` for ``é``; Windows-1252 read as ISO-8859-1 leaves control
characters where ``’``, ``œ`` and ``€`` were. :func:`plan_text_repair` decides, for a set of values,
whether re-decoding repairs all of them (then with a warning) or whether the file must be read
again with an explicit encoding (a message naming ``--encoding``); :func:`repair_mojibake`
applies it to a frame. Runs in the reader's child and on frames alike.
"""

from __future__ import annotations

import re

import pandas as pd

from carto.errors import InputError


def _redecode(value: str) -> str | None:
    for legacy in ("latin-1", "cp1252"):
        try:
            return value.encode(legacy).decode("utf-8")
        except UnicodeError:
            continue
    return None


# Windows-1252 read as ISO-8859-1 leaves C1 control characters (U+0080-U+009F) where ’ œ € were.
def _from_c1(value: str) -> str | None:
    if not _C1.search(value):
        return value
    try:
        return value.encode("latin-1").decode("cp1252")
    except UnicodeError:
        return None


NON_ASCII = re.compile(r"[^\x00-\x7f]")
_C1 = re.compile("[\u0080-\u009f]")
# A UTF-8 lead byte read as Latin-1/Windows-1252 followed by a continuation byte read the same way:
# every string that re-decodes (see _redecode) contains this, so it is an exact pre-filter.
MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
    "|[\u0080-\u009f]"
)


def _excerpt(value: str, size: int = 60) -> str:
    """A value quoted in a message: a file's text may be megabytes long."""
    return value if len(value) <= size else value[: size - 1] + "…"


def plan_text_repair(
    values: set[str], *, shown: str, explicit_encoding: str | None
) -> tuple[dict[str, str], str | None]:
    """Replacements for wrongly decoded text among ``values`` (the non-ASCII strings of a file).

    Returns ``({wrong: right}, warning)``, ``({}, None)`` when the text looks right, or raises
    :class:`InputError` naming ``--encoding`` when only part of the text would repair cleanly.
    """
    for repair, how in ((_redecode, "UTF-8"), (_from_c1, "Windows-1252")):
        results = {v: repair(v) for v in values}
        changed = {v: r for v, r in results.items() if r is not None and r != v}
        if not changed:
            continue
        bad, good = (_excerpt(v) for v in min(changed.items()))
        if explicit_encoding is not None:
            msg = (
                f"{shown}: reading with --encoding {explicit_encoding} gives mis-decoded text "
                f"(e.g. {bad!r} should read {good!r}); try --encoding {how.lower()}"
            )
            raise InputError(msg)
        unfixable = sorted(v for v, r in results.items() if r is None)
        if unfixable:
            msg = (
                f"{shown}: some text looks decoded with the wrong encoding (e.g. {bad!r} for {good!r}) "
                f"while other text (e.g. {_excerpt(unfixable[0])!r}) does not, so it cannot be repaired safely; "
                "re-import naming the file's encoding with --encoding "
                "(e.g. --encoding utf-8 or --encoding cp1252)"
            )
            raise InputError(msg)
        warning = f"had been decoded with the wrong encoding (e.g. {bad!r}); repaired as {how} (e.g. {good!r})"
        return changed, warning
    return {}, None


def _non_ascii_values(frame: pd.DataFrame, columns: list[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for column in columns:
        series = frame[column]
        strings = series[series.map(lambda v: isinstance(v, str) and NON_ASCII.search(v) is not None)]
        if len(strings):
            found[column] = set(pd.unique(strings))
    return found


def repair_mojibake(
    frame: pd.DataFrame, *, shown: str, explicit_encoding: str | None
) -> tuple[pd.DataFrame, list[str]]:
    """Repair text decoded with the wrong encoding (values and column names), or refuse.

    UTF-8 read as Latin-1 (``Ã©`` for ``é``) and Windows-1252 read as ISO-8859-1 (control
    characters for ``’``, ``œ``, ``€``) are repaired when every affected value repairs cleanly.
    """
    text_columns = [
        str(c)
        for c in frame.columns
        if c != "geometry" and (pd.api.types.is_string_dtype(frame[c]) or frame[c].dtype == object)
    ]
    found = _non_ascii_values(frame, text_columns)
    names = {str(c) for c in frame.columns if NON_ASCII.search(str(c))}
    everything = set().union(names, *found.values())
    changed, warning = plan_text_repair(everything, shown=shown, explicit_encoding=explicit_encoding)
    if not changed:
        return frame, []
    columns = [c for c, vs in found.items() if vs & changed.keys()]
    frame = frame.copy()
    for column in columns:
        frame[column] = frame[column].map(lambda v: changed.get(v, v) if isinstance(v, str) else v)
    frame = frame.rename(columns=lambda c: changed.get(c, c) if isinstance(c, str) else c)
    where = ", ".join(changed.get(c, c) for c in columns) if columns else "column names"
    return frame, [f"text in {where} {warning}"]

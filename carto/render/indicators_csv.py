"""The indicators table as CSV for a spreadsheet."""

from __future__ import annotations

import pandas as pd

from carto.text import neutralise_cell


def _neutralised(value: object) -> object:
    """A text cell as a spreadsheet shows it, never run; a missing value stays missing."""
    missing = pd.api.types.is_scalar(value) and bool(pd.isna(value))  # type: ignore[call-overload]
    return value if missing else neutralise_cell(str(value))


def indicators_csv(indicators: pd.DataFrame, *, lang: str = "fr") -> bytes:
    """All territories' indicators as CSV for a spreadsheet.

    UTF-8 with a BOM so Excel detects the encoding. French (default): ``;`` between cells and a
    decimal comma, what French Excel opens without an import wizard; English: ``,`` and ``.``.
    Text cells that start like a formula (``= + - @``, tab, CR) get a leading ``'``; numeric
    columns are left as numbers, so ``-3.5`` stays a negative number.
    """
    frame = indicators.reset_index(drop="code" in indicators.columns)
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            out[str(column)] = values
        else:
            out[str(column)] = values.map(_neutralised)
    text = out.to_csv(
        index=False,
        sep=";" if lang == "fr" else ",",
        decimal="," if lang == "fr" else ".",
        lineterminator="\r\n",
    )
    return ("\ufeff" + text).encode("utf-8")

"""Data is text: the one home of every rule for putting a value from the data into another format.

Names, codes and file contents are untrusted. Where they go into markdown (Streamlit elements),
a spreadsheet (CSV), or XML (GEXF, GraphML), these functions make them inert text there. HTML and
JavaScript have their own rule where they are written (:mod:`carto.render.plain`: JSON escaped for
``<script>``, ``textContent`` in the browser; :func:`html.escape` in the HTML report).
"""

from __future__ import annotations

import re

import pandas as pd

# Every ASCII punctuation character: each may start markdown (links, images, emphasis, HTML,
# Streamlit's ``:red[...]`` and ``:material/...:`` directives, ``$`` maths), and each can be
# backslash-escaped in CommonMark, which then shows it as itself.
_MARKDOWN_ACTIVE = re.compile(r"([!-/:-@\[-`{-~])")


def markdown_text(value: object) -> str:
    """``value`` written so that markdown shows it literally, on one line.

    For any text from data (a name, a code, a file's column) that goes into a Streamlit element
    which renders markdown (``st.markdown``, captions, headers, alerts, labels): a name such as
    ``![x](http://...)`` is then shown as those characters and never fetches anything.
    """
    return _MARKDOWN_ACTIVE.sub(r"\\\1", " ".join(str(value).split()))


# --- spreadsheets ----------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """A leading ``'`` makes spreadsheets show a cell that would start a formula as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` where every text cell that a spreadsheet would run is neutralised."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            text = col.astype("object")
            risky = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
            if risky.any():
                out[name] = text.where(~risky, "'" + text.where(risky, "").astype(str))
    return out


# --- XML -------------------------------------------------------------------------------------

# What XML 1.0 cannot carry at all.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """``value`` as GEXF and GraphML can carry it: without the characters XML forbids, lines ended by LF.

    The import already removes control characters; this keeps a graph file readable whatever the
    store holds. A CR would come back from GraphML as LF (XML normalises line ends in text), so
    both formats write LF and read back the same text.
    """
    return _XML_INVALID.sub("", value).replace("\r\n", "\n").replace("\r", "\n")

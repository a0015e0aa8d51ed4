"""What a person reads from a markdown element's source: escaped punctuation shown as itself."""

from __future__ import annotations

import re


def as_shown(markdown: str) -> str:
    r"""``Ville\-Haute \(C1\)`` → ``Ville-Haute (C1)``: how Streamlit displays escaped text."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)

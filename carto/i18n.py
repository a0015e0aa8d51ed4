"""French and English labels.

Catalogues live in ``carto/locales/<lang>/*.json``, one file per part of the product, merged at
load time so that parts can add keys without touching each other's files. Keys are dotted
(``map.title``); enum values are translated under ``enum.<value>``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LOCALES_DIR = Path(__file__).parent / "locales"


@cache
def catalog(lang: str) -> dict[str, str]:
    """Every key of one language; a key defined twice is an error, not a silent override."""
    if lang not in LANGUAGES:
        msg = f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}"
        raise ValueError(msg)
    merged: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        twice = sorted(set(entries) & set(merged))
        if twice:
            msg = f"{path} redefines keys already defined: {', '.join(twice)}"
            raise ValueError(msg)
        merged.update(entries)
    return merged


def t(key: str, lang: str, /, **values: object) -> str:
    """The label of ``key`` in ``lang``, with ``{name}`` fields filled from ``values``.

    A missing key shows the key itself, so a gap is visible on screen rather than crashing.
    """
    text = catalog(lang).get(key)
    if text is None:
        text = catalog("en").get(key, key)
    return text.format(**values) if values else text


def label(value: str | None, lang: str) -> str:
    """Translate an enum value (``partnership`` → ``partenariat``); unknown values pass through."""
    if value is None:
        return ""
    return catalog(lang).get(f"enum.{value}", value)


def language_from_locale(locale: str | None) -> str:
    """Pick our language from a browser locale such as ``fr-FR`` or ``en-GB``."""
    if not locale:
        return DEFAULT_LANGUAGE
    prefix = locale.replace("_", "-").split("-")[0].lower()
    return prefix if prefix in LANGUAGES else "en"

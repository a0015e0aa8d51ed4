"""The social space in words: footprints, referral pathways, partnerships, schemes and changes.

Sentences are built from the ``social.*`` catalogue keys with values formatted by
:mod:`carto.formatting`; names from the data are values, never part of a template. The page, the
summary, its PDF and HTML, and the command line all read these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from carto import i18n
from carto.analysis.social import NamedPair, SocialFacts
from carto.formatting import format_date, format_number, format_percent
from carto.render.summary_text import plural_key

MAX_NAMES = 5


def names_list(names: Sequence[str], lang: str, *, limit: int = MAX_NAMES) -> str:
    """``A, B, C`` or ``A, B, C and 4 more``."""
    shown = ", ".join(names[:limit])
    if len(names) <= limit:
        return shown
    rest = len(names) - limit
    return i18n.t(plural_key("social.names.more", rest, lang), lang, names=shown, n=format_number(rest, lang))


def _km2(value: float, lang: str) -> str:
    return format_number(value, lang, decimals=1 if value < 10 else 0)


def footprint_sentence(row: pd.Series, home_name: str, lang: str) -> str:
    """Whether a group's social space is compact or scattered, its area and how much lies outside home."""
    values = {
        "area": _km2(float(row["area_km2"]), lang),
        "parts": format_number(row["parts"], lang),
        "share": format_percent(row["share_outside"], lang),
        "home": home_name,
        "nodes": format_number(row["nodes"], lang),
    }
    return i18n.t(f"social.footprint.{row['shape']}", lang, **values)


def reached_sentence(names: Sequence[str], lang: str) -> str:
    """The other territories a group's places and actors are in."""
    if not names:
        return i18n.t("social.footprint.reached.none", lang)
    return i18n.t("social.footprint.reached", lang, names=names_list(names, lang))


def outreach_sentence(facts: SocialFacts, name: str, lang: str) -> str:
    """How much of the social space of the communities working in a territory lies outside it."""
    if facts.groups == 0:
        return i18n.t("social.outreach.none", lang, name=name)
    key = plural_key("social.outreach", facts.groups, lang)
    text = i18n.t(key, lang, n=format_number(facts.groups, lang), name=name,
                  share=format_percent(facts.share_outside, lang))
    if not facts.reached:
        return text
    key = plural_key("social.outreach.reached", facts.groups, lang)
    return f"{text} {i18n.t(key, lang, names=names_list(facts.reached, lang))}"


def reach_sentence(reach: Sequence[float], lang: str, *, ccas: int | None = None) -> str:
    """How many services a person can reach within 1, 2, 3 referrals (an average over ``ccas`` CCAS)."""
    values = {f"r{k}": format_number(v, lang, decimals=0 if float(v).is_integer() else 1)
              for k, v in enumerate(reach, start=1)}
    if ccas is None:
        return i18n.t("social.referral.reach", lang, **values)
    if ccas == 0:
        return i18n.t("social.referral.no_ccas", lang)
    return i18n.t(plural_key("social.referral.reach_ccas", ccas, lang), lang, n=format_number(ccas, lang), **values)


def flows_sentence(name: str, going: int, coming: int, lang: str) -> str:
    """Where cases go from one actor and where they come from."""
    return i18n.t("social.referral.flows", lang, name=name, out=format_number(going, lang),
                  **{"in": format_number(coming, lang)})


def dead_ends_sentence(n: int, lang: str) -> str:
    return i18n.t(plural_key("social.referral.dead_ends", n, lang), lang, n=format_number(n, lang))


def loops_sentence(n: int, lang: str) -> str:
    return i18n.t(plural_key("social.referral.loops", n, lang), lang, n=format_number(n, lang))


def stages_sentence(stages: dict[str, int], lang: str) -> str:
    """``12 partnerships: 2 in negotiation, 3 contracted, 5 in delivery, 2 in review.``"""
    total = sum(stages.values())
    values = {stage: format_number(count, lang) for stage, count in stages.items()}
    return i18n.t(plural_key("social.partnerships.stages", total, lang), lang, n=format_number(total, lang), **values)


def fragile_sentence(fragile: int, total: int, lang: str) -> str:
    """How many partnerships rest on personal links only, and their share."""
    if total == 0:
        return i18n.t("social.partnerships.none", lang)
    share = format_percent(fragile / total, lang)
    return i18n.t(plural_key("social.partnerships.fragile", fragile, lang), lang,
                  n=format_number(fragile, lang), share=share)


def pair_line(pair: NamedPair, lang: str) -> str:
    """``A – B`` (with the days for one stuck in negotiation)."""
    if pair.days is None:
        return i18n.t("social.pair", lang, first=pair.first, second=pair.second)
    return i18n.t("social.pair.days", lang, first=pair.first, second=pair.second, days=format_number(pair.days, lang))


def stuck_sentence(pair: NamedPair | None, lang: str) -> str:
    if pair is None:
        return i18n.t("social.partnerships.stuck.none", lang)
    return i18n.t("social.partnerships.stuck", lang, pair=pair_line(pair, lang))


def scheme_line(name: str, lead: str | None, partners: int, lang: str) -> str:
    """``Scheme — led by X, 4 partners here``."""
    n = format_number(partners, lang)
    if lead is None:
        return i18n.t(plural_key("social.scheme.no_lead", partners, lang), lang, name=name, n=n)
    return i18n.t(plural_key("social.scheme.led", partners, lang), lang, name=name, lead=lead, n=n)


def missing_sentence(kinds: Sequence[str], lang: str) -> str:
    if not kinds:
        return i18n.t("social.schemes.missing.none", lang)
    return i18n.t("social.schemes.missing", lang, kinds=", ".join(i18n.label(k, lang) for k in kinds))


def changes_sentence(counts: dict[str, int], before: dt.date, after: dt.date, lang: str) -> str:
    """``From 1 December 2024 to 1 December 2025: 16 links appeared, 4 ended, 2 changed kind or stage.``"""
    values = {k: format_number(v, lang) for k, v in counts.items()}
    return i18n.t("social.changes", lang, before=format_date(before, lang), after=format_date(after, lang), **values)


def summary_sections(facts: SocialFacts, name: str, lang: str) -> list[tuple[str, list[str], list[str]]]:
    """The summary's social-space part: ``(heading, sentences, listed items)`` per section, shared by
    the page, the PDF and the HTML."""
    fragile = [pair_line(p, lang) for p in facts.fragile]
    scheme_items = [scheme_line(s.name, s.lead, s.partners, lang) for s in facts.schemes]
    return [
        (i18n.t("social.section.space", lang), [outreach_sentence(facts, name, lang)], []),
        (
            i18n.t("social.section.referrals", lang),
            [reach_sentence(facts.ccas_reach, lang, ccas=facts.ccas), dead_ends_sentence(facts.dead_ends, lang)],
            [],
        ),
        (
            i18n.t("social.section.partnerships", lang),
            [
                stages_sentence(facts.stages, lang),
                fragile_sentence(len(facts.fragile), facts.partnerships, lang),
                stuck_sentence(facts.stuck, lang),
            ],
            fragile,
        ),
        (i18n.t("social.section.schemes", lang), [missing_sentence(facts.missing_kinds, lang)], scheme_items),
        (i18n.t("social.section.changes", lang), [changes_sentence(facts.changes, facts.since, facts.until, lang)], []),
    ]

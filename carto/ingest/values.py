"""Values of the file in the model's vocabulary: suggestions, constants and the user's recoding.

A file writes an actor's type as "Centre communal d'action sociale", "CCAS de Rezé" or "ccas"; the
model stores ``ccas``. :func:`suggest_value` recognises the codes, their French and English labels
and the usual names and acronyms of French social action, accents, case and punctuation ignored.
Nothing is recoded silently: the page lists the file's distinct values with their suggestion
(:func:`value_choices`), the user confirms or changes each, and only the confirmed recoding
(``{field: {value in the file: vocabulary value}}``, saved with the mapping) is applied by
:func:`apply_values`. A *constant* gives a field the same value on every row (``level=commune``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from carto import i18n
from carto.errors import InputError
from carto.model import Dataset
from carto.model import dataset as get_dataset

# Usual French (and a few English) names of each vocabulary value, beyond its code and labels.
# Written as a user would; compared after :func:`value_key` (no accents, case or punctuation).
# The actor types cover the structures French analysts list: the model has no separate type for
# medico-social establishments, so an EHPAD or a home-care service (SAAD) is suggested as the
# closest one and the user confirms.
_ACTOR_TYPES: dict[str, tuple[str, ...]] = {
    "ccas": (
        "CCAS",
        "CIAS",
        "centre communal d'action sociale",
        "centre intercommunal d'action sociale",
        "action sociale municipale",
        "municipal social services",
    ),
    "caf": ("CAF", "caisse d'allocations familiales", "caisse des allocations familiales", "MSA", "family allowances"),
    "mission_locale": ("mission locale", "missions locales", "mission locale jeunes", "PAIO"),
    "centre_social": (
        "centre social",
        "centres sociaux",
        "centre socio-culturel",
        "centre socioculturel",
        "espace de vie sociale",
        "EVS",
        "maison de quartier",
    ),
    "pmi": (
        "PMI",
        "protection maternelle et infantile",
        "centre de PMI",
        "centre de protection maternelle et infantile",
        "mother and child health",
    ),
    "association": ("association", "asso", "association loi 1901", "SAAD", "service d'aide à domicile",
                    "service d'aide et d'accompagnement à domicile", "non-profit", "NGO"),
    "school": ("école", "ecole", "collège", "college", "lycée", "lycee", "établissement scolaire", "groupe scolaire",
               "education nationale", "éducation nationale"),
    "health_centre": (
        "centre de santé",
        "maison de santé",
        "maison de santé pluriprofessionnelle",
        "MSP",
        "CMP",
        "centre médico-psychologique",
        "hôpital",
        "centre hospitalier",
        "EHPAD",
        "établissement d'hébergement pour personnes âgées dépendantes",
        "maison de retraite",
        "health center",
        "hospital",
    ),
    "france_travail": ("France Travail", "Pôle emploi", "pole emploi", "ANPE", "job centre", "agence France Travail"),
    "housing": (
        "bailleur social",
        "bailleur",
        "bailleurs sociaux",
        "office public de l'habitat",
        "OPH",
        "HLM",
        "ESH",
        "entreprise sociale pour l'habitat",
        "logement social",
        "social landlord",
    ),
    "local_authority": (
        "collectivité",
        "collectivité territoriale",
        "mairie",
        "commune",
        "ville",
        "hôtel de ville",
        "conseil départemental",
        "département",
        "conseil général",
        "MDS",
        "maison départementale des solidarités",
        "maison départementale de la solidarité",
        "CDAS",
        "centre départemental d'action sociale",
        "conseil régional",
        "région",
        "communauté de communes",
        "communauté d'agglomération",
        "métropole",
        "EPCI",
        "intercommunalité",
        "town hall",
        "council",
    ),
    "company": ("entreprise", "société", "SARL", "SAS", "EURL", "business", "firm"),
    "other": ("autre", "autres", "divers"),
}

_SECTORS: dict[str, tuple[str, ...]] = {
    "social": ("social", "action sociale", "solidarité", "solidarités", "médico-social", "medico-social"),
    "employment": ("emploi", "insertion", "insertion professionnelle", "formation", "travail", "jobs"),
    "health": ("santé", "soins", "sanitaire", "médical"),
    "education": ("éducation", "enseignement", "scolaire", "scolarité"),
    "housing": ("logement", "habitat", "hébergement"),
    "youth": ("jeunesse", "jeunes", "enfance", "petite enfance", "enfance jeunesse"),
    "culture": ("culture", "culturel", "loisirs"),
    "sport": ("sport", "sports", "sportif"),
    "mobility": ("mobilité", "transport", "transports"),
    "justice": ("justice", "prévention", "prévention de la délinquance", "accès au droit"),
    "other": ("autre", "autres", "divers"),
}

_LEVELS: dict[str, tuple[str, ...]] = {
    "region": ("région", "reg"),
    "departement": ("département", "dep", "dept"),
    "epci": ("EPCI", "intercommunalité", "communauté de communes", "communauté d'agglomération",
             "communauté urbaine", "métropole", "CC", "CA", "CU"),
    "commune": ("commune", "com", "communes", "municipalité", "ville"),
    "qpv": ("QPV", "quartier prioritaire", "quartier prioritaire de la politique de la ville", "quartier"),
    "custom": ("périmètre", "périmètre de projet", "perimeter"),
}

_PLACE_KINDS: dict[str, tuple[str, ...]] = {
    "neighbourhood": ("quartier", "neighborhood", "secteur"),
    "village": ("village", "bourg", "hameau", "lieu-dit"),
    "estate": ("cité", "résidence", "grand ensemble", "ensemble d'habitat", "housing estate"),
    "market": ("marché", "halle", "halles"),
    "community_centre": ("lieu de rencontre", "maison de quartier", "salle", "salle municipale", "salle des fêtes",
                         "maison des associations", "tiers-lieu", "community centre"),
    "park": ("parc", "jardin", "square", "espace vert", "place", "espace public"),
    "station": ("gare", "arrêt", "pôle d'échanges", "pôle d'échange", "gare routière"),
    "other": ("autre", "autres", "divers"),
}

_RELATION_KINDS: dict[str, tuple[str, ...]] = {
    "partnership": ("partenariat", "partenaire", "convention", "partnership"),
    "network": ("réseau", "lien", "informel"),
    "referral": ("passage de relais", "orientation", "relais", "orienté vers"),
    "affinity": ("affinité", "affinités"),
    "tension": ("tension", "tensions", "conflit"),
}

_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "personal": ("personnel", "personnelle"),
    "professional": ("professionnel", "professionnelle"),
    "institutional": ("institutionnel", "institutionnelle"),
}

_STAGES: dict[str, tuple[str, ...]] = {
    "negotiation": ("négociation", "en négociation"),
    "contract": ("contrat", "contractualisation", "signé", "signature"),
    "delivery": ("mise en œuvre", "mise en oeuvre", "réalisation", "en cours", "action"),
    "review": ("évaluation", "bilan", "revue"),
}

_SCHEME_KINDS: dict[str, tuple[str, ...]] = {
    "contrat_de_ville": ("contrat de ville", "politique de la ville", "engagements quartiers 2030"),
    "pre": ("PRE", "programme de réussite éducative", "réussite éducative"),
    "cls": ("CLS", "contrat local de santé"),
    "clspd": ("CLSPD", "CISPD", "conseil local de sécurité et de prévention de la délinquance"),
    "ctg": ("CTG", "convention territoriale globale"),
    "pat": ("PAT", "projet alimentaire territorial"),
    "other": ("autre", "autres", "divers"),
}

# (dataset, field) → names; ``None`` for a field whose name means the same in every dataset.
_NAMES: dict[tuple[str | None, str], dict[str, tuple[str, ...]]] = {
    (None, "type"): _ACTOR_TYPES,
    (None, "sector"): _SECTORS,
    (None, "level"): _LEVELS,
    (None, "dimension"): _DIMENSIONS,
    (None, "stage"): _STAGES,
    ("places", "kind"): _PLACE_KINDS,
    ("relations", "kind"): _RELATION_KINDS,
    ("schemes", "kind"): _SCHEME_KINDS,
}

# A field with allowed values whose name alone does not say which dataset it belongs to.
_DATASET_OF_FIELD = {"type": "actors", "sector": "actors", "level": "territories", "dimension": "relations",
                     "stage": "relations"}

# Words a longer name carries around the one that says what it is ("le CCAS de Rezé").
_FILLER = frozenset({"de", "du", "des", "d", "la", "le", "les", "l", "et", "the", "of", "a"})

# The most distinct values of one field the page lists for recoding.
MAX_LISTED_VALUES = 60


def value_key(text: object) -> str:
    """``text`` compared without accents, case or punctuation: ``"Caisse d'Allocations"`` → ``caisse d allocations``."""
    from carto.ingest.mapping import normalise_name

    return normalise_name(str(text)).replace("_", " ")


def _choices(dataset: str, field: str) -> tuple[str, ...]:
    try:
        choices = get_dataset(dataset).column(field).choices
    except KeyError:
        choices = None
    if choices is None:
        msg = f"{dataset} has no field {field!r} with allowed values"
        raise InputError(msg)
    return choices


def value_fields(dataset: Dataset | str) -> tuple[str, ...]:
    """The fields of ``dataset`` with allowed values (type, sector, level, kind...)."""
    ds = get_dataset(dataset) if isinstance(dataset, str) else dataset
    return tuple(c.name for c in ds.columns if c.choices is not None)


def _without_filler(key: str) -> str:
    return " ".join(w for w in key.split() if w not in _FILLER)


@functools.cache
def _names(dataset: str, field: str) -> dict[str, str]:
    """Every known spelling of the field's values, as :func:`value_key`, → its vocabulary value."""
    choices = _choices(dataset, field)
    extra = _NAMES.get((dataset, field)) or _NAMES.get((None, field)) or {}
    names: dict[str, str] = {}
    for code in choices:
        spellings = [code, code.replace("_", " ")]
        for lang in i18n.LANGUAGES:
            label = i18n.label(code, lang)
            # "CCAS (municipal social services)": the label, and each part on its own.
            spellings += [label, *re.split(r"\s*[()]\s*", label)]
        spellings += list(extra.get(code, ()))
        for spelling in spellings:
            key = value_key(spelling)
            if key:
                names.setdefault(key, code)
                names.setdefault(_without_filler(key), code)
    names.pop("", None)
    return names


def suggest_value(field: str, raw: object, *, dataset: str | None = None) -> str | None:
    """The vocabulary value that ``raw`` most likely means for ``field``, or None when nothing fits.

    ``field`` is a field with allowed values (``type``, ``sector``, ``level``, ``kind``...);
    ``dataset`` is needed for ``kind`` (a place's, a relation's or a scheme's). The whole text is
    compared first ("Caisse d'allocations familiales" → ``caf``), then the known names found as whole
    words inside it ("CCAS de Rezé" → ``ccas``). Never ``other`` unless the text says so.
    """
    dataset = dataset or _DATASET_OF_FIELD.get(field)
    if dataset is None:
        msg = f"say which dataset {field!r} belongs to (places, relations or schemes)"
        raise InputError(msg)
    if raw is None or (not isinstance(raw, str) and pd.isna(raw)):  # type: ignore[call-overload]
        return None
    names = _names(dataset, field)
    key = value_key(raw)
    if not key:
        return None
    for candidate in (key, _without_filler(key)):
        if candidate in names:
            return names[candidate]
    padded = f" {key} "
    # The name met first in the text wins ("CCAS de la commune" is a CCAS), the longest one
    # when several start there ("centre de pmi" over "centre"); a tie that disagrees is ambiguous.
    found = [(padded.find(f" {name} "), -len(name), names[name]) for name in names if f" {name} " in padded]
    if not found:
        return None
    found.sort()
    best = [code for start, length, code in found if (start, length) == found[0][:2]]
    return best[0] if len(set(best)) == 1 else None


@dataclass(frozen=True)
class ValueChoice:
    """One distinct value of a file's column: how many rows hold it and the suggested vocabulary value."""

    raw: str
    rows: int
    suggested: str | None
    # True when the value is already a code or a label the checks accept as it is.
    accepted: bool


def value_choices(column: pd.Series, field: str, *, dataset: str) -> list[ValueChoice]:
    """The distinct values of ``column`` (stripped, most frequent first, at most :data:`MAX_LISTED_VALUES`)."""
    choices = _choices(dataset, field)
    accepted = {value_key(c) for c in choices} | {
        i18n.label(c, lang).strip().lower() for c in choices for lang in i18n.LANGUAGES
    }
    text = column.dropna().astype(str).str.strip()
    counts = text[text != ""].value_counts(sort=False)
    ordered = sorted(((str(v), int(n)) for v, n in counts.items()), key=lambda item: (-item[1], item[0]))
    ordered = ordered[:MAX_LISTED_VALUES]
    return [
        ValueChoice(
            raw=raw,
            rows=rows,
            suggested=suggest_value(field, raw, dataset=dataset),
            accepted=raw.lower() in accepted or raw.lower() in choices,
        )
        for raw, rows in ordered
    ]


def pending_values(
    frame: pd.DataFrame,
    dataset: str,
    columns: Mapping[str, str],
    *,
    constants: Mapping[str, str] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, list[ValueChoice]]:
    """The values of the file (``frame``, its own columns) that the checks would refuse, by field:
    not allowed as they are, not recoded by ``values``, in a column ``columns`` maps to the field."""
    constants, values = constants or {}, values or {}
    pending: dict[str, list[ValueChoice]] = {}
    for field in value_fields(dataset):
        column = columns.get(field)
        if not column or field in constants or column not in frame.columns:
            continue
        recoded = {raw.strip() for raw in values.get(field, {})}
        listed = value_choices(frame[column], field, dataset=dataset)
        found = [c for c in listed if not c.accepted and c.raw not in recoded]
        if found:
            pending[field] = found
    return pending


def check_constants(constants: Mapping[str, str], dataset: str) -> dict[str, str]:
    """The constants for ``dataset``: its fields only; a field with allowed values takes one of them
    (a code, or a label or name :func:`suggest_value` recognises, stored as the code)."""
    ds = get_dataset(dataset)
    out: dict[str, str] = {}
    for field, value in constants.items():
        if field not in ds.column_names:
            msg = f"{dataset} has no field {field!r}; fields: {', '.join(ds.column_names)}"
            raise InputError(msg)
        value = str(value).strip()
        if not value:
            msg = f"the value for {field} is empty"
            raise InputError(msg)
        choices = ds.column(field).choices
        if choices is not None and value not in choices:
            code = suggest_value(field, value, dataset=dataset)
            if code is None:
                msg = f"{value!r} is not a known {field}; expected one of: {', '.join(choices)}"
                raise InputError(msg)
            value = code
        out[field] = value
    return out


def check_values(values: Mapping[str, Mapping[str, str]], dataset: str) -> dict[str, dict[str, str]]:
    """A recoding for ``dataset``: fields with allowed values only, each target one of them."""
    fields = value_fields(dataset)
    out: dict[str, dict[str, str]] = {}
    for field, recoding in values.items():
        if field not in fields:
            msg = f"{dataset} has no field {field!r} with allowed values; those fields: {', '.join(fields)}"
            raise InputError(msg)
        choices = _choices(dataset, field)
        wrong = [target for target in recoding.values() if target not in choices]
        if wrong:
            msg = f"{wrong[0]!r} is not a known {field}; expected one of: {', '.join(choices)}"
            raise InputError(msg)
        out[field] = {str(raw).strip(): target for raw, target in recoding.items()}
    return out


def parse_set_args(args: list[str], dataset: str) -> dict[str, str]:
    """``["FIELD=VALUE", ...]`` from the CLI's ``--set`` options as constants for ``dataset``."""
    constants: dict[str, str] = {}
    for arg in args:
        field, sep, value = arg.partition("=")
        if not sep or not field.strip() or not value.strip():
            msg = f"--set {arg!r}: expected FIELD=VALUE, e.g. --set level=commune"
            raise InputError(msg)
        constants[field.strip()] = value
    try:
        return check_constants(constants, dataset)
    except InputError as exc:
        msg = f"--set: {exc}"
        raise InputError(msg) from None


def parse_value_args(args: list[str], dataset: str) -> dict[str, dict[str, str]]:
    """``["FIELD:FROM=TO", ...]`` from the CLI's ``--value`` options as a recoding for ``dataset``.

    ``FROM`` is the value as written in the file; it may hold ``=`` and ``:`` (the last ``=`` splits).
    """
    values: dict[str, dict[str, str]] = {}
    for arg in args:
        field, colon, rest = arg.partition(":")
        raw, equal, target = rest.rpartition("=")
        if not colon or not equal or not field.strip() or not raw.strip() or not target.strip():
            msg = f"--value {arg!r}: expected FIELD:FROM=TO, e.g. --value \"type:Mairie=local_authority\""
            raise InputError(msg)
        values.setdefault(field.strip(), {})[raw.strip()] = target.strip()
    try:
        return check_values(values, dataset)
    except InputError as exc:
        msg = f"--value: {exc}"
        raise InputError(msg) from None


def apply_values(
    frame: pd.DataFrame,
    dataset: str,
    *,
    constants: Mapping[str, str] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """``frame`` (from :func:`carto.ingest.mapping.apply_mapping`) with the constants and the recoding.

    A constant fills its field on every row (it wins over a mapped column). A recoded value is
    found by its stripped text; values the recoding does not name are left for the checks.
    """
    constants = check_constants(constants or {}, dataset)
    values = check_values(values or {}, dataset)
    if not constants and not values:
        return frame
    out = frame.copy()
    for field, recoding in values.items():
        if field not in out.columns or not recoding:
            continue
        original = out[field].astype("object").tolist()
        recoded = [recoding.get(v.strip(), v) if isinstance(v, str) else v for v in original]
        out[field] = pd.Series(recoded, index=out.index, dtype="object")
    for field, value in constants.items():
        out[field] = pd.Series(value, index=out.index, dtype="object")
    out.attrs = dict(frame.attrs)
    return out

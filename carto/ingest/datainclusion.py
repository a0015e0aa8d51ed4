"""data·inclusion's structures (and services) as actors.

data·inclusion is the national repository of social-inclusion structures and services, published by
the GIP Plateforme de l'inclusion under the Licence Ouverte 2.0; its schema (v1) is the PyPI package
``data-inclusion-schema``, with pydantic models (``Structure``, ``Service``). This module

- recognises a file of structures or services from its columns (:func:`schema_of`);
- checks each row against the schema's own models, in the reader's child process where the
  upload is parsed (:func:`check_rows`, called by :mod:`carto.ingest.read`);
- turns structures into the actors' columns (:func:`structures_as_actors`): ``reseaux_porteurs``
  gives the type and sector (:data:`NETWORK_TYPES`), ``nom`` the name, ``code_insee`` the territory,
  ``longitude``/``latitude`` the point, and the services of each structure become its ``services``
  attribute (a JSON list of ``{"nom", "thematiques"}``).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from carto.errors import InputError
from carto.model import ACTOR_TYPES

STRUCTURES = "structures"
SERVICES = "services"
FORMAT = "data-inclusion"

# The column the reader's child adds to a data·inclusion table: what the schema's model refused in
# each row (None when the row is valid). The child drops a column of that name from the file first.
SCHEMA_COLUMN = "__carto_schema_errors__"

# Columns every row of the schema carries (the models' required fields), and one more that only
# that kind of file has: enough to tell a data·inclusion file from any other table.
_REQUIRED = {STRUCTURES: {"id", "nom", "source", "date_maj"}, SERVICES: {"id", "nom", "source", "date_maj"}}
_SIGNATURE = {
    STRUCTURES: {"reseaux_porteurs", "siret", "code_insee", "lien_source", "accessibilite_lieu"},
    SERVICES: {"structure_id"},
}

# reseaux_porteurs (schema v1) → (our actor type, sector). Written out for every network of the
# schema, so that a new one in a later version falls back visibly to ("other", None) and the test
# that compares this table with the installed schema fails.
NETWORK_TYPES: dict[str, tuple[str, str | None]] = {
    "60000-rebonds": ("association", "employment"),
    "action-logement": ("housing", "housing"),
    "adie": ("association", "employment"),
    "afpa": ("school", "education"),
    "agefiph": ("other", "employment"),
    "ai": ("association", "employment"),
    "aidants-connect": ("other", "social"),
    "alliance-villes-emploi": ("local_authority", "employment"),
    "anlci": ("other", "education"),
    "apprentis-dauteuil": ("association", "youth"),
    "ase": ("local_authority", "social"),
    "banques-alimentaires": ("association", "social"),
    "caarud": ("health_centre", "health"),
    "cada": ("housing", "housing"),
    "caf": ("caf", "social"),
    "campus-connecte": ("school", "education"),
    "cap-emploi-reseau-cheops": ("other", "employment"),
    "cava": ("association", "employment"),
    "ccas-cias": ("ccas", "social"),
    "chambres-consulaires": ("other", "employment"),
    "chantier-ecole": ("association", "employment"),
    "chrs": ("housing", "housing"),
    "chu": ("housing", "housing"),
    "cidff": ("association", "justice"),
    "cmp": ("health_centre", "health"),
    "cms": ("health_centre", "social"),
    "cnam": ("school", "education"),
    "collectif-emploi": ("association", "employment"),
    "communes": ("local_authority", "social"),
    "coorace": ("association", "employment"),
    "conseillers-numeriques": ("other", "social"),
    "cpam": ("other", "health"),
    "cph": ("housing", "housing"),
    "creches-avip": ("other", "employment"),
    "crepi": ("association", "employment"),
    "cresus": ("association", "social"),
    "croix-rouge": ("association", "social"),
    "csapa": ("health_centre", "health"),
    "delegataire-conseil-departemental": ("association", "social"),
    "departements": ("local_authority", "social"),
    "duo-for-a-job": ("association", "employment"),
    "ecoles-de-la-deuxieme-chance": ("school", "education"),
    "ea": ("company", "employment"),
    "eatt": ("company", "employment"),
    "egee": ("association", "employment"),
    "emmaus": ("association", "social"),
    "epide": ("school", "youth"),
    "esat": ("other", "employment"),
    "espaces-publics-numeriques": ("other", "social"),
    "etcld": ("company", "employment"),
    "fabrique-de-territoire": ("other", "social"),
    "face": ("association", "employment"),
    "fcsf": ("centre_social", "social"),
    "federation-professionnelle-femmes": ("association", "employment"),
    "federation-des-acteurs-de-la-solidarite": ("association", "social"),
    "france-active": ("association", "employment"),
    "france-service": ("local_authority", "social"),
    "france-travail": ("france_travail", "employment"),
    "french-tech": ("other", "employment"),
    "geiq": ("company", "employment"),
    "grandes-ecoles-du-numerique": ("school", "education"),
    "huda": ("housing", "housing"),
    "hup": ("association", "employment"),
    "inae": ("association", "employment"),
    "initiative-france": ("association", "employment"),
    "konexio": ("association", "education"),
    "la-cravate-solidaire": ("association", "employment"),
    "la-poste": ("company", "other"),
    "les-premieres": ("association", "employment"),
    "maisons-de-l-emploi": ("other", "employment"),
    "maison-departementale-de-lautonomie": ("local_authority", "social"),
    "maisons-des-solidarites": ("local_authority", "social"),
    "mdph": ("local_authority", "social"),
    "mission-locale": ("mission_locale", "youth"),
    "mjc": ("association", "youth"),
    "mobin": ("association", "mobility"),
    "msap": ("local_authority", "social"),
    "mutualite-sociale-agricole": ("other", "social"),
    "nqt": ("association", "employment"),
    "pimms-mediation": ("association", "social"),
    "pjj": ("other", "justice"),
    "plie": ("other", "employment"),
    "points-conseil-budget": ("association", "social"),
    "points-justice": ("other", "justice"),
    "positive-planet": ("association", "employment"),
    "regions": ("local_authority", "other"),
    "reseau-app": ("other", "education"),
    "reseau-bge": ("association", "employment"),
    "reseau-entreprendre": ("association", "employment"),
    "reseau-information-jeunesse": ("other", "youth"),
    "residences-fjt": ("housing", "housing"),
    "ressourceries": ("association", "social"),
    "restos-du-coeur": ("association", "social"),
    "secours-populaire": ("association", "social"),
    "ei": ("company", "employment"),
    "aci": ("association", "employment"),
    "etti": ("company", "employment"),
    "eiti": ("company", "employment"),
    "siao": ("other", "housing"),
    "simplon": ("school", "education"),
    "singa": ("association", "social"),
    "snc": ("association", "employment"),
    "spip": ("other", "justice"),
    "tous-tes-possibles": ("association", "employment"),
    "unaf": ("association", "social"),
    "unea": ("association", "employment"),
    "unis-cite": ("association", "youth"),
    "wimoov": ("association", "mobility"),
}

# A structure carried by several networks takes the most specific type: public services named in
# our vocabulary first, "association" and "other" last.
TYPE_PRIORITY = (
    "ccas",
    "caf",
    "mission_locale",
    "france_travail",
    "pmi",
    "centre_social",
    "health_centre",
    "school",
    "housing",
    "local_authority",
    "company",
    "association",
    "other",
)
assert set(TYPE_PRIORITY) == set(ACTOR_TYPES)


# --- recognising and checking rows (also run in the reader's child) ------------------------------


def schema_of(columns: Iterable[str]) -> str | None:
    """:data:`STRUCTURES` or :data:`SERVICES` when ``columns`` are those of a data·inclusion file, else None."""
    names = set(columns)
    for kind in (SERVICES, STRUCTURES):
        if _REQUIRED[kind] <= names and names & _SIGNATURE[kind]:
            return kind
    return None


def _model(kind: str) -> Any:
    # Imported when needed: pydantic and the schema load only where rows are checked.
    from data_inclusion.schema.v1 import Service, Structure

    return Structure if kind == STRUCTURES else Service


def _is_list_field(annotation: Any) -> bool:
    """True for ``set[X] | None`` and ``list[X] | None``: fields a CSV cell holds as a list."""
    kinds = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, _union_type()) else ()
    return any(typing.get_origin(k) in (set, list, frozenset) for k in (*kinds, annotation))


def _union_type() -> Any:
    import types

    return types.UnionType


def list_fields(kind: str) -> frozenset[str]:
    """The fields of the schema's model for ``kind`` that hold lists (``reseaux_porteurs``, ``thematiques``...)."""
    return frozenset(name for name, info in _model(kind).model_fields.items() if _is_list_field(info.annotation))


def parse_list(value: Any) -> list[str] | None:
    """A list cell as written in a JSON file (a list), a CSV export (``["a", "b"]``) or by hand (``a, b``)."""
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value).strip()
    if not text:
        return None
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return [str(v) for v in parsed]
        # {a,b} and ['a', 'b'] (PostgreSQL and Python spellings) read as plain separated values.
    items = text.strip("[]{}").replace("|", ",").replace(";", ",").split(",")
    return [i.strip().strip("'\"") for i in items if i.strip().strip("'\"")]


def _error_text(exc: Any) -> str:
    """The schema's refusal in one line: ``field: message; field: message``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ())) or "row"
        if error.get("type") == "enum":
            # pydantic lists every allowed value: the schema's documentation has them.
            parts.append(f"{where}: {error.get('input')!r} is not one of the schema's values")
        else:
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def check_rows(rows: Sequence[dict[str, Any]], kind: str) -> list[str | None]:
    """Each row checked by the schema's model for ``kind``: None when valid, else what is wrong.

    Blank cells count as absent and list cells are read with :func:`parse_list`; the model then
    coerces text (``"47.2"``, ``"2025-02-14"``) as it does for CSV files.
    """
    import pydantic

    model = _model(kind)
    lists = list_fields(kind)
    fields = set(model.model_fields)
    found: list[str | None] = []
    for row in rows:
        record: dict[str, Any] = {}
        for name, value in row.items():
            if name not in fields or value is None or (isinstance(value, str) and not value.strip()):
                continue
            record[name] = parse_list(value) if name in lists else value
        try:
            model.model_validate(record)
        except pydantic.ValidationError as exc:
            found.append(_error_text(exc))
        else:
            found.append(None)
    return found


# --- structures as actors ----------------------------------------------------------------------


def actor_type(networks: list[str] | None) -> tuple[str, str | None]:
    """Type and sector of a structure carried by ``networks`` (``reseaux_porteurs``): see :data:`NETWORK_TYPES`."""
    known = [NETWORK_TYPES[n] for n in networks or () if n in NETWORK_TYPES]
    if not known:
        return "other", None
    return min(known, key=lambda pair: TYPE_PRIORITY.index(pair[0]))


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(None, index=frame.index, dtype="object")
    return frame[column].astype("object").where(frame[column].notna(), None)


def services_by_structure(services: pd.DataFrame) -> tuple[dict[str, str], list[str]]:
    """Each structure's services as a JSON list of ``{"nom", "thematiques"}``, and notes for the user.

    Services the schema refused (:data:`SCHEMA_COLUMN`) are left out and counted in a note.
    """
    notes: list[str] = []
    rows = services
    if SCHEMA_COLUMN in services.columns:
        refused = services[SCHEMA_COLUMN].notna()
        if refused.any():
            notes.append(f"{int(refused.sum())} services left out: the data·inclusion schema refused them")
        rows = services[~refused]
    grouped: dict[str, list[dict[str, Any]]] = {}
    themes = _text(rows, "thematiques")
    for structure, name, theme in zip(_text(rows, "structure_id"), _text(rows, "nom"), themes, strict=True):
        if structure is None:
            continue
        grouped.setdefault(str(structure), []).append({"nom": name, "thematiques": sorted(parse_list(theme) or [])})
    return {k: json.dumps(v, ensure_ascii=False) for k, v in grouped.items()}, notes


def structures_as_actors(frame: pd.DataFrame, services: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The actors' columns (``id, name, type, sector, siret, territory_code, lon, lat, services``) of a
    frame of data·inclusion structures, and notes for the user. Indexed like ``frame``.

    ``services``: a frame of the schema's services, attached to their structure by ``structure_id``;
    without it a ``services`` column of the structures file, if any, is kept as it is.
    """
    missing = _REQUIRED[STRUCTURES] - set(frame.columns)
    if missing:
        msg = f"not a data·inclusion structures file: it lacks the columns {', '.join(sorted(missing))}"
        raise InputError(msg)
    notes: list[str] = []
    typed = [actor_type(parse_list(v)) for v in _text(frame, "reseaux_porteurs")]
    out = pd.DataFrame(
        {
            "id": _text(frame, "id"),
            "name": _text(frame, "nom"),
            "type": pd.Series([t for t, _ in typed], index=frame.index, dtype="object"),
            "sector": pd.Series([s for _, s in typed], index=frame.index, dtype="object"),
            "siret": _text(frame, "siret"),
            "territory_code": _text(frame, "code_insee"),
            "lon": _text(frame, "longitude"),
            "lat": _text(frame, "latitude"),
        },
        index=frame.index,
    )
    if "services" in frame.columns:
        out["services"] = _text(frame, "services")
    if out["lon"].isna().all() and out["lat"].isna().all():
        # No coordinates at all: the commune code places every structure.
        out = out.drop(columns=["lon", "lat"])
    if services is not None:
        attached, service_notes = services_by_structure(services)
        notes += service_notes
        ids = set(out["id"].dropna().astype(str))
        orphans = sum(1 for k in attached if k not in ids)
        if orphans:
            notes.append(f"services of {orphans} structures not in this file were left out")
        out["services"] = [attached.get(str(i)) if i is not None else None for i in out["id"]]
    if SCHEMA_COLUMN in frame.columns:
        out[SCHEMA_COLUMN] = _text(frame, SCHEMA_COLUMN)
    return out, notes

"""Values in the model's vocabulary: suggestions, constants, the user's recoding, saved with the mapping."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from carto.errors import InputError, ValidationError
from carto.ingest.mapping import SavedMapping, load_saved_mapping, parse_saved_mapping, save_mapping, suggest_mapping
from carto.ingest.values import (
    ValueChoice,
    apply_values,
    check_constants,
    parse_set_args,
    parse_value_args,
    suggest_value,
    value_choices,
    value_fields,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # The structures French analysts list, as they write them.
        ("CCAS", "ccas"),
        ("CIAS du Pays de Retz", "ccas"),
        ("Centre communal d'action sociale", "ccas"),
        ("Centre Communal d’Action Sociale", "ccas"),  # typographic apostrophe, capitals
        ("CENTRE INTERCOMMUNAL D'ACTION SOCIALE", "ccas"),
        ("Caisse d'allocations familiales", "caf"),
        ("CAF de Loire-Atlantique", "caf"),
        ("Protection maternelle et infantile", "pmi"),
        ("Centre de PMI du département", "pmi"),  # the name met first wins
        ("Maison départementale des solidarités", "local_authority"),
        ("MDS Nantes Est", "local_authority"),
        ("Mission locale", "mission_locale"),
        ("mission-locale", "mission_locale"),
        ("France Travail", "france_travail"),
        ("Pôle emploi", "france_travail"),
        ("Centre social", "centre_social"),
        ("Centre socio-culturel", "centre_social"),
        ("EHPAD Les Tilleuls", "health_centre"),
        ("SAAD", "association"),
        ("Bailleur social", "housing"),
        ("Conseil départemental", "local_authority"),
        ("conseil departemental", "local_authority"),
        ("Mairie", "local_authority"),
        ("CCAS de la commune de Rezé", "ccas"),
        # Codes and the labels of both languages.
        ("mission_locale", "mission_locale"),
        ("Community centre", "centre_social"),
        ("Social housing", "housing"),
        ("Établissement scolaire", "school"),
        # Nothing fits: no suggestion, and never "other" unless the text says so.
        ("Ovni", None),
        ("", None),
        ("Autre", "other"),
    ],
)
def test_suggest_value_actor_types(raw: str, expected: str | None) -> None:
    assert suggest_value("type", raw) == expected


@pytest.mark.parametrize(
    ("field", "dataset", "raw", "expected"),
    [
        ("level", None, "Commune", "commune"),
        ("level", None, "Communauté de communes", "epci"),
        ("level", None, "Département", "departement"),
        ("level", None, "Quartier prioritaire", "qpv"),
        ("sector", None, "Santé", "health"),
        ("sector", None, "Insertion professionnelle", "employment"),
        ("dimension", None, "Professionnelle", "professional"),
        ("stage", None, "Mise en œuvre", "delivery"),
        ("kind", "places", "Gare routière", "station"),
        ("kind", "places", "Quartier", "neighbourhood"),
        ("kind", "relations", "Passage de relais", "referral"),
        ("kind", "relations", "Orientation", "referral"),
        ("kind", "schemes", "Contrat local de santé", "cls"),
        ("kind", "schemes", "Programme de réussite éducative", "pre"),
    ],
)
def test_suggest_value_other_fields(field: str, dataset: str | None, raw: str, expected: str) -> None:
    assert suggest_value(field, raw, dataset=dataset) == expected


def test_suggest_value_needs_the_dataset_of_a_kind() -> None:
    with pytest.raises(InputError, match="say which dataset 'kind' belongs to"):
        suggest_value("kind", "Quartier")
    with pytest.raises(InputError, match="actors has no field 'name' with allowed values"):
        suggest_value("name", "x", dataset="actors")


def test_value_fields() -> None:
    assert value_fields("actors") == ("type", "sector")
    assert value_fields("relations") == ("kind", "dimension", "stage")
    assert value_fields("territories") == ("level",)


def test_value_choices_lists_distinct_values_most_frequent_first() -> None:
    column = pd.Series(["CAF", " Mairie ", "Mairie", None, "", "ccas", "Ovni", "Mairie"])
    assert value_choices(column, "type", dataset="actors") == [
        # "Mairie" 3 rows (one with spaces), then the others once each, alphabetically.
        ValueChoice("Mairie", 3, "local_authority", accepted=False),
        ValueChoice("CAF", 1, "caf", accepted=True),
        ValueChoice("Ovni", 1, None, accepted=False),
        ValueChoice("ccas", 1, "ccas", accepted=True),
    ]


def test_apply_values_recodes_confirmed_values_and_fills_constants() -> None:
    frame = pd.DataFrame(
        {
            "name": ["A", "B", "C"],
            "type": ["Centre communal d'action sociale ", "Ovni", None],
            "sector": ["x", None, "y"],
            "_row": [2, 3, 4],
        }
    )
    out = apply_values(
        frame,
        "actors",
        constants={"sector": "Action sociale"},  # a label: stored as its code
        values={"type": {"Centre communal d'action sociale": "ccas"}},
    )
    assert out["type"].tolist()[:2] == ["ccas", "Ovni"]  # the rest is left for the checks
    assert pd.isna(out["type"][2])
    assert out["sector"].tolist() == ["social", "social", "social"]
    assert out["name"].tolist() == ["A", "B", "C"]
    assert frame["type"].tolist()[0] == "Centre communal d'action sociale "  # the input is not changed


def test_constants_and_values_are_checked_against_the_vocabulary() -> None:
    with pytest.raises(InputError, match=r"'ovni' is not a known type; expected one of: ccas, caf"):
        check_constants({"type": "ovni"}, "actors")
    with pytest.raises(InputError, match="actors has no field 'level'"):
        check_constants({"level": "commune"}, "actors")
    with pytest.raises(InputError, match="the value for name is empty"):
        check_constants({"name": "  "}, "actors")
    assert check_constants({"name": " Sans nom ", "type": "Mairie"}, "actors") == {
        "name": "Sans nom",
        "type": "local_authority",
    }


def test_parse_set_and_value_args() -> None:
    assert parse_set_args(["level=commune"], "territories") == {"level": "commune"}
    # FROM may hold "=" and ":" (the last "=" splits).
    assert parse_value_args(["type:Ville: CCAS=ccas", "type:A=B=caf", "sector:Santé=health"], "actors") == {
        "type": {"Ville: CCAS": "ccas", "A=B": "caf"},
        "sector": {"Santé": "health"},
    }
    with pytest.raises(InputError, match=r"--value 'type=ccas': expected FIELD:FROM=TO"):
        parse_value_args(["type=ccas"], "actors")
    with pytest.raises(InputError, match=r"--value: 'CCAS' is not a known type"):
        parse_value_args(["type:x=CCAS"], "actors")


def test_saved_mapping_round_trip_with_constants_and_values(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    save_mapping(
        {"name": "Nom de la structure", "type": "Type"},
        path,
        constants={"sector": "social"},
        values={"type": {"Caisse d'allocations familiales": "caf"}},
    )
    assert path.read_text(encoding="utf-8") == (
        "{\n"
        '  "mapping": {\n    "name": "Nom de la structure",\n    "type": "Type"\n  },\n'
        '  "constants": {\n    "sector": "social"\n  },\n'
        '  "values": {\n    "type": {\n      "Caisse d\'allocations familiales": "caf"\n    }\n  }\n'
        "}\n"
    )
    assert load_saved_mapping(path) == SavedMapping(
        {"name": "Nom de la structure", "type": "Type"},
        {"sector": "social"},
        {"type": {"Caisse d'allocations familiales": "caf"}},
    )
    # Without constants or values a mapping stays the flat object older versions wrote.
    save_mapping({"name": "Nom"}, path)
    assert path.read_text(encoding="utf-8") == '{\n  "name": "Nom"\n}\n'
    assert load_saved_mapping(path) == SavedMapping({"name": "Nom"})


def test_parse_saved_mapping_refuses_wrong_constants_and_values() -> None:
    data = b'{"mapping": {"name": "Nom"}, "constants": {"colour": "red", "level": 3}, "values": {"type": ["x"]}}'
    with pytest.raises(ValidationError) as info:
        parse_saved_mapping(data, name="m.json")
    assert info.value.problems[0].startswith("'constants': unknown fields 'colour' (the fields are: code, name")
    assert info.value.problems[1:] == [
        "'constants': a value is a text, but 'level' is a number",
        "'values' of 'type' is a list, not an object",
    ]


def test_suggest_mapping_reads_the_headers_of_french_files() -> None:
    partners = ["Nom de la structure", "Type", "Adresse", "Code postal", "Commune", "Latitude", "Longitude"]
    # "Code postal" is a postal code, not a commune's INSEE code: it is left unmapped.
    assert suggest_mapping(partners, "actors") == {
        "name": "Nom de la structure",
        "type": "Type",
        "lat": "Latitude",
        "lon": "Longitude",
    }
    assert suggest_mapping(["Raison sociale", "Type de structure", "CP", "Code INSEE", "X", "Y"], "actors") == {
        "name": "Raison sociale",
        "type": "Type de structure",
        "territory_code": "Code INSEE",
        "x": "X",
        "y": "Y",
    }
    assert suggest_mapping(["Libellé", "Catégorie", "Code commune", "X Lambert 93", "Y Lambert 93"], "places") == {
        "name": "Libellé",
        "kind": "Catégorie",
        "territory_code": "Code commune",
        "x": "X Lambert 93",
        "y": "Y Lambert 93",
    }
    assert suggest_mapping(["Code de la commune", "Nom de la commune"], "territories") == {
        "code": "Code de la commune",
        "name": "Nom de la commune",
    }

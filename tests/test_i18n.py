from __future__ import annotations

import json

import pytest

from carto import i18n, model


def test_french_and_english_catalogues_have_the_same_keys():
    assert set(i18n.catalog("fr")) == set(i18n.catalog("en"))


def test_each_catalogue_file_exists_in_both_languages():
    fr = sorted(p.name for p in (i18n.LOCALES_DIR / "fr").glob("*.json"))
    en = sorted(p.name for p in (i18n.LOCALES_DIR / "en").glob("*.json"))
    assert fr == en


def test_no_label_is_empty():
    for lang in i18n.LANGUAGES:
        assert [k for k, v in i18n.catalog(lang).items() if not v.strip()] == []


def test_every_enum_value_of_the_model_has_a_label():
    values = (
        model.TERRITORY_LEVELS
        + model.ACTOR_TYPES
        + model.SECTORS
        + model.PLACE_KINDS
        + model.RELATION_KINDS
        + model.DIMENSIONS
        + model.STAGES
        + model.SCHEME_KINDS
    )
    for lang in i18n.LANGUAGES:
        missing = [v for v in values if f"enum.{v}" not in i18n.catalog(lang)]
        assert missing == [], lang


def test_placeholders_match_between_languages():
    import string

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    fr, en = i18n.catalog("fr"), i18n.catalog("en")
    assert [k for k in fr if fields(fr[k]) != fields(en[k])] == []


def test_translation_fills_values_and_labels_enums():
    assert i18n.t("first_run.step", "fr", step="acteurs") == "Chargement : acteurs"
    assert i18n.t("first_run.step", "en", step="actors") == "Loading: actors"
    assert i18n.label("referral", "fr") == "Passage de relais"
    assert i18n.label("referral", "en") == "Referral"
    assert i18n.label("not-a-value", "fr") == "not-a-value"
    assert i18n.label(None, "fr") == ""


def test_missing_key_shows_the_key():
    assert i18n.t("no.such.key", "fr") == "no.such.key"


@pytest.mark.parametrize(
    ("locale", "lang"),
    [("fr-FR", "fr"), ("fr_CA", "fr"), ("en-GB", "en"), ("EN", "en"), ("de-DE", "en"), (None, "fr"), ("", "fr")],
)
def test_language_follows_browser_locale(locale, lang):
    assert i18n.language_from_locale(locale) == lang


def test_a_key_defined_in_two_files_is_refused(tmp_path, monkeypatch):
    for lang in ("fr", "en"):
        (tmp_path / lang).mkdir()
        (tmp_path / lang / "a.json").write_text(json.dumps({"x": "1"}))
        (tmp_path / lang / "b.json").write_text(json.dumps({"x": "2"}))
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n.catalog.cache_clear()
    try:
        with pytest.raises(ValueError, match="redefines keys already defined: x"):
            i18n.catalog("fr")
    finally:
        monkeypatch.undo()
        i18n.catalog.cache_clear()

"""Every page, in both languages, on a database whose every name is hostile (AppTest).

What a page hands to Streamlit is checked field by field: text that Streamlit renders as
markdown (bodies, headers, captions, alerts, labels, help, radio options) must carry no live
markdown or HTML from the data, and the pages must not fail on a database where an actor and a
place share an id. Maps and the network are checked where they are rendered (test_hostile_maps)
and in a real browser (test_hostile_browser).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import hostile_data
import pytest
from google.protobuf.message import Message
from signin import signed_in
from streamlit.testing.v1 import AppTest

PROJECT = Path(__file__).resolve().parents[2]
PAGES = ("explorer", "summary", "social_space", "import", "data", "admin")

# Widgets whose options and values Streamlit shows as plain text (not markdown).
PLAIN_FIELDS = {"options", "default", "value", "raw_value", "placeholder", "id", "url", "form_id", "data", "tag"}

# Elements that show their content as plain text or draw it (checked apart: DRAWN below).
PLAIN_KINDS = {"component_instance", "plotly_chart", "selectbox", "multiselect", "text_input", "text_area", "dataframe"}

# Pieces of the payloads that would be live if they reached markdown unescaped.
LIVE = ("![x](", "](javascript:", ":red[rouge]", "$x^2$", "**gras**", "<img ", "<svg ", "<iframe", "</script>", "{% if")
# Elements that draw the data in the browser (folium map, plotly figure), and live tags there.
DRAWN = {"component_instance", "plotly_chart"}
TAGS = ("<img src=x", "<svg onload", "<iframe src", "</script><script>alert")


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_data.write_database(tmp_path_factory.mktemp("hostile"))


def strings_of(message: Message, *, plain: bool = False) -> list[tuple[bool, str]]:
    """Every string of a protobuf message: ``(is plain text, value)``."""
    found: list[tuple[bool, str]] = []
    for field, value in message.ListFields():
        is_plain = plain or field.name in PLAIN_FIELDS
        values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        for item in values:
            if isinstance(item, Message):
                found += strings_of(item, plain=is_plain)
            elif isinstance(item, str):
                found.append((is_plain, item))
    return found


def shown(at: AppTest) -> list[tuple[str, bool, str]]:
    """``(element type, plain, text)`` for every string of every element on the page."""
    out: list[tuple[str, bool, str]] = []

    def walk(node: object) -> None:
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message):
            kind = str(getattr(node, "type", ""))
            plain_kind = kind in PLAIN_KINDS
            for plain, text in strings_of(proto):
                out.append((kind, plain or (plain_kind and not _is_label(proto, text)), text))
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)

    walk(at._tree)
    return out


def _is_label(proto: Message, text: str) -> bool:
    return any(getattr(proto, name, None) == text for name in ("label", "help", "placeholder"))


def unescaped(markdown: str) -> str:
    """``markdown`` with every backslash-escaped character blanked: what could still be live."""
    return re.sub(r"\\[!-/:-@\[-`{-~]", "·", markdown)


def run_page(db: Path, page: str, lang: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CARTO_DB", str(db))
    monkeypatch.setenv("CARTO_TILES", "none")
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120)
    signed_in(at, "dsi@ville.example", {"default": "viewer", "emails": {"dsi@ville.example": "admin"}})
    at.run()  # in French: AppTest formats widget values outside a run, where the language is French
    at.session_state["lang"] = lang
    at.switch_page(f"app_pages/{page}.py").run()
    return at


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("page", PAGES)
def test_hostile_names_reach_every_page_as_text(hostile_db, page, lang, monkeypatch):
    at = run_page(hostile_db, page, lang, monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    texts = shown(at)
    live = [(kind, text) for kind, plain, text in texts if not plain and any(p in unescaped(text) for p in LIVE)]
    assert live == []
    # the map's script and the network's figure carry names as data, never as tags
    tagged = [kind for kind, _, text in texts if kind in DRAWN and any(tag in text for tag in TAGS)]
    assert tagged == []


def test_the_summary_names_the_hostile_territory_and_partners_literally(hostile_db, monkeypatch):
    at = run_page(hostile_db, "summary", "fr", monkeypatch)
    texts = [text for _, _, text in shown(at)]
    # the territory picker (plain text) shows the name exactly as stored
    assert any(t.startswith("<img src=x onerror=alert(parent.document.title)> Département Test (D1)") for t in texts)
    # headers render markdown: there it is escaped, and so shows the same characters
    (header,) = [t for kind, plain, t in shown(at) if kind == "header" and not plain]
    assert header.startswith(r"\<img src\=x onerror\=alert\(parent\.document\.title\)\> D")


def test_an_actor_and_a_place_sharing_an_id_are_said_not_fatal(hostile_db, monkeypatch):
    for page in ("explorer", "summary"):
        at = run_page(hostile_db, page, "en", monkeypatch)
        assert not at.exception
        (warning,) = [w.value for w in at.warning if "name both an actor and a place" in w.value]
        assert warning.startswith("1 id(s) name both an actor and a place (p3)")


@pytest.mark.parametrize("record", ["a1", "a2", "a3"])
def test_the_edit_form_of_a_hostile_actor_shows_its_name_as_text(hostile_db, record, monkeypatch):
    at = run_page(hostile_db, "data", "fr", monkeypatch)
    at.selectbox(key="edit_dataset").set_value("actors").run()
    at.selectbox(key="edit_record_actors").set_value(record).run()
    assert not at.exception, [e.value for e in at.exception]
    name = at.text_input(key=f"edit_field_actors_{record}_name").value
    assert name == hostile_data.frames()["actors"].set_index("id").at[record, "name"]
    live = [(kind, text) for kind, plain, text in shown(at) if not plain and any(p in unescaped(text) for p in LIVE)]
    assert live == []

"""Every widget key and session key of the dashboard, and the typed state of each page.

Pages hold no state of their own: a page asks its state object for keys (``key=state.LEVEL``)
and for what its session holds (the explorer's selection and filters, the import page's upload).
The URL ↔ widgets translation lives here too. Tests find elements by these keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import streamlit as st

from carto.analysis import scene, selection
from carto.analysis.filters import Filters
from carto.analysis.selection import Selection
from carto.ingest.safety import Limits
from carto.ingest.uploads import store_upload
from carto.render import netview, preview

LANGUAGE = "lang"  # the sidebar's language switch
FOLLOWED_VERSION = "followed_data_version"  # the data version the page on screen was drawn from
# What the explorer's map sends back (streamlit-folium's ``returned_objects``): clicks, and the
# shape drawn (``all_drawings``).
MAP_CLICKS = ("last_object_clicked", "last_object_clicked_tooltip")
MAP_RETURNS = (*MAP_CLICKS, "all_drawings")


def _session() -> MutableMapping[str, Any]:
    return st.session_state  # type: ignore[return-value]


def after_first_run_keys(name: str) -> tuple[str, str]:
    """Session keys of :func:`carto.ui.after_first_run`: shown once, rerun armed."""
    return f"after_first_run_{name}", f"after_first_run_{name}_armed"


@dataclass
class ExplorerState:
    """The explorer's session: filter and network widgets, the shared selection, the URL."""

    session: MutableMapping[str, Any] = field(default_factory=_session)

    # sidebar filters
    LEVEL = "f_level"
    TERRITORY = "f_territory"
    TYPES = "f_types"
    SECTORS = "f_sectors"
    KINDS = "f_kinds"
    DIMS = "f_dims"
    FORMAL = "f_formal"
    SCHEMES = "f_schemes"
    DATE = "f_date"
    TILES = "tiles"  # also the import preview's base tiles
    # map and network
    INDICATOR = "m_indicator"
    MAP = "explorer_map"
    MAP_NOTES = "explorer_map_notes"
    FIGURES = "explorer_figures"
    EMPTY = "explorer_empty"  # why no relation is shown, when none is
    LAYOUT = "n_layout"
    COLOUR = "n_colour"
    SIZE = "n_size"
    RADIUS = "n_radius"
    LEAVING = "m_leaving"  # an area drawn on the map: also the relations leaving it
    SPACE = "m_space"  # the selection's social space over the boundaries
    SPACE_SENTENCE = "explorer_space_sentence"
    NETWORK = "explorer_network"
    NETWORK_NOTE = "explorer_network_note"
    # details
    DETAILS = "explorer_details"
    DETAILS_NODES = "explorer_details_nodes"
    DETAILS_RELATIONS = "explorer_details_relations"
    CLEAR = "explorer_clear"
    # session
    SELECTION = "explorer_selection"
    SEEN = "explorer_seen"  # the last map and network events applied
    # How the view is drawn, in the URL too: parameter → (widget key, choices; the first is the default).
    VIEW_PARAMS: ClassVar[dict[str, tuple[str, tuple[str | None, ...]]]] = {
        "layout": (LAYOUT, netview.LAYOUTS),
        "colour": (COLOUR, netview.COLOUR_BY),
        "size": (SIZE, netview.SIZE_BY),
        "indicator": (INDICATOR, (None, *scene.INDICATORS)),
    }

    @classmethod
    def widget_values(cls, filters: Filters, chosen: Selection) -> dict[str, object]:
        """Sidebar and network widget values (by key) for filters and a selection."""
        return {
            cls.LEVEL: filters.level,
            cls.TERRITORY: filters.territory,
            cls.TYPES: list(filters.actor_types),
            cls.SECTORS: list(filters.sectors),
            cls.KINDS: list(filters.kinds),
            cls.DIMS: list(filters.dimensions),
            cls.FORMAL: filters.formal,
            cls.SCHEMES: list(filters.schemes),
            cls.DATE: filters.on_date,
            cls.RADIUS: chosen.radius,
        }

    def open(self, url: Mapping[str, object], territories: pd.DataFrame, scheme_ids: set[str]) -> None:
        """On the session's first run the URL wins: its selection, its filters fitted to the data."""
        if self.SELECTION in self.session:
            return
        chosen = Selection.from_query_params(url)
        filters = scene.filters_for_data(Filters.from_query_params(url), territories, scheme_ids)
        self.session[self.SELECTION] = chosen
        self.session.update(self.widget_values(filters, chosen))
        for param, (key, choices) in self.VIEW_PARAMS.items():
            asked = url.get(param)
            if isinstance(asked, str) and asked in choices:
                self.session[key] = asked

    def keep_territory_among(self, codes: list[str]) -> None:
        """Forget a chosen territory that the chosen level does not offer (before its widget is drawn)."""
        if self.session.get(self.TERRITORY) not in [None, *codes]:
            self.session[self.TERRITORY] = None

    def filters(self) -> Filters:
        """The filters the sidebar's widgets hold."""
        get = self.session.get
        return Filters(
            territory=get(self.TERRITORY),
            level=get(self.LEVEL),
            actor_types=tuple(get(self.TYPES) or ()),
            sectors=tuple(get(self.SECTORS) or ()),
            kinds=tuple(get(self.KINDS) or ()),
            dimensions=tuple(get(self.DIMS) or ()),
            formal=get(self.FORMAL) or "all",
            schemes=tuple(get(self.SCHEMES) or ()),
            on_date=get(self.DATE),
        )

    def selection(self) -> Selection:
        """The selection shared by the map and the network, at the network widget's radius."""
        chosen = selection.with_radius(self.session[self.SELECTION], self.session.get(self.RADIUS, 1))
        self.session[self.SELECTION] = chosen
        return chosen

    def select(self, chosen: Selection) -> bool:
        """Keep ``chosen`` as the selection; True when it changed (the page then reruns)."""
        changed = chosen != self.session[self.SELECTION]
        self.session[self.SELECTION] = chosen
        return changed

    def handle(self, kind: str, event: object, transition: Callable[[Selection], Selection]) -> bool:
        """Apply a map or network event once (the same event comes back on every rerun); True on a change."""
        seen, token = self.session.setdefault(self.SEEN, {}), selection.event_token(event)
        if seen.get(kind) == token:
            return False
        seen[kind] = token
        return self.select(transition(self.session[self.SELECTION]))

    def apply_events(
        self, returned: Mapping[str, object] | None, event: object, nodes: pd.DataFrame, territory_codes: Iterable[str]
    ) -> bool:
        """Apply the map's drawing, else its click, else the network's selection, each once; True when the
        selection changed.

        ``returned`` is what the map sent back, ``event`` the network chart's selection event.
        """
        returned = returned or {}
        clicks = {key: returned.get(key) for key in MAP_CLICKS}
        drawings = returned.get("all_drawings")

        def from_map(current: Selection) -> Selection:
            return selection.select_from_map(current, selection.clicked_object(clicks, nodes, territory_codes))

        def from_drawing(current: Selection) -> Selection:
            return selection.select_from_drawing(current, drawings, nodes)

        # A new drawing leaves the last click as it was: each is told apart by its own token.
        if drawings and self.handle("draw", drawings, from_drawing):
            return True
        if self.handle("map", clicks, from_map):
            return True
        picked = selection.network_point_ids(event)  # type: ignore[arg-type]
        # An empty selection comes back when the figure changes: not a user action.
        return bool(picked) and self.handle("network", picked, lambda s: selection.select_from_network(s, picked))

    def query_params(self, filters: Filters, chosen: Selection) -> dict[str, str]:
        """The URL of this view: filters, selection, and how the view is drawn when not the default."""
        drawn = {}
        for param, (key, choices) in self.VIEW_PARAMS.items():
            value = self.session.get(key)
            if value in choices[1:]:
                drawn[param] = str(value)
        return {**filters.to_query_params(), **chosen.to_query_params(), **drawn}


@dataclass
class ImportState:
    """The import page's session: its widgets and the current upload.

    The current upload is one record under :attr:`UPLOAD` (``{"path", "name", "file_id"}``),
    written by :meth:`remember_upload` from the uploader's bytes. Tests (AppTest cannot drive
    ``st.file_uploader``) seed the same record with :meth:`upload_record` after saving a file;
    every step after the upload then runs exactly as for a real one.
    """

    session: MutableMapping[str, Any] = field(default_factory=_session)

    DATASET = "import_dataset"
    FILE = "import_file"
    LAYER = "import_layer"
    ENCODING = "import_encoding"
    NOTES = "import_notes"  # what the reader noticed
    MAPPING_FILE = "import_mapping_file"
    MAPPING_DOWNLOAD = "import_mapping_download"
    MAPPING_NOTE = "import_mapping_note"  # what reusing a saved mapping did
    MODE = "import_mode"
    REPAIR = "import_repair"
    SKIP_INVALID = "import_skip_invalid"
    CREATE_PARENTS = "import_create_parents"  # territories: add the missing EPCIs/départements (COG)
    COG_NOTES = "import_cog_notes"
    DATAINCLUSION = "import_datainclusion"  # read a data·inclusion structures file as actors
    DROP_RELATIONS = "import_drop_relations"  # a replace also removes relations to nodes it removes
    CRS = "import_crs"  # the confirmed CRS
    CRS_TEXT = "import_crs_text"
    CRS_CONFIRM = "import_crs_confirm"
    MAP = "import_map"
    PREVIEW = "import_preview"
    FIGURES = "import_figures"
    PROBLEMS = "import_problems"
    REPORT_DOWNLOAD = "import_report_download"
    COMMIT = "import_commit"
    OUTCOME = "import_outcome"  # what the commit stored, or why nothing was
    UPLOAD = "import_upload"
    # The saved mapping last applied to this file: its uploader's file id and what it set.
    MAPPING_APPLIED = "map__applied"
    # Keys that belong to one file: mapping selectboxes, constants, values, layer, confirmed CRS.
    FILE_CHOICES = ("map_", LAYER, CRS, ENCODING)

    @staticmethod
    def mapping_key(dataset: str, field_name: str) -> str:
        """The mapping editor's selectbox of ``field_name`` for ``dataset``."""
        return f"map_{dataset}_{field_name}"

    @staticmethod
    def constant_key(dataset: str, field_name: str) -> str:
        """The value of ``field_name`` when the user chose "same value for every row"."""
        return f"map__same_{dataset}_{field_name}"

    @staticmethod
    def value_key(dataset: str, field_name: str, raw: str) -> str:
        """The vocabulary value chosen for the file's value ``raw`` of ``field_name`` (hashed: data never
        becomes a key's text)."""
        digest = hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return f"map__value_{dataset}_{field_name}_{digest}"

    @staticmethod
    def values_confirmed_key(dataset: str, field_name: str) -> str:
        """The checkbox that applies the value recoding of ``field_name``."""
        return f"map__values_ok_{dataset}_{field_name}"

    @staticmethod
    def upload_record(path: Path, original_name: str, file_id: str | None = None) -> dict[str, str]:
        """What the session keeps about the current upload."""
        return {"path": str(path), "name": original_name, "file_id": file_id or str(path)}

    def remember_upload(
        self, data: bytes, original_name: str, *, file_id: str, limits: Limits, folder: Path | None = None
    ) -> dict[str, str]:
        """Save a new upload's bytes under a server-made name, once per uploaded file.

        A new file forgets the previous file's choices (mapping, layer, confirmed CRS).
        """
        current = self.session.get(self.UPLOAD)
        if isinstance(current, dict) and current.get("file_id") == file_id:
            return current
        for key in [k for k in list(self.session.keys()) if str(k).startswith(self.FILE_CHOICES)]:
            del self.session[key]
        path = store_upload(data, original_name, limits=limits, folder=folder)
        self.session[self.UPLOAD] = self.upload_record(path, original_name, file_id)
        return self.session[self.UPLOAD]

    def current_upload(self) -> dict[str, str] | None:
        """The current upload's record if its file is still there."""
        record = self.session.get(self.UPLOAD)
        if isinstance(record, dict) and Path(record.get("path", "")).is_file():
            return record
        return None

    @property
    def layer(self) -> str | None:
        return self.session.get(self.LAYER)

    @property
    def crs(self) -> str | None:
        return self.session.get(self.CRS)

    def confirm_crs(self, text: str) -> None:
        self.session[self.CRS] = text.strip()

    def preview_tiles(self) -> str:
        """The explorer's base tiles when chosen there, else the configured ones (:func:`preview.preview_tiles`)."""
        return preview.preview_tiles(self.session.get(ExplorerState.TILES))


class SummaryState:
    """The summary page's widget and container keys (it keeps nothing else in the session)."""

    RADIUS = "summary_radius"
    TERRITORY = "summary_territory"
    HEADER = "summary_header"
    DOWNLOAD_PDF = "dl_pdf"
    DOWNLOAD_HTML = "dl_html"
    DOWNLOAD_CSV = "dl_csv"
    FIGURES = "summary_figures"
    MAP = "summary_map"
    PARTNERS = "summary_partners"
    GAPS = "summary_gaps"
    PER_YEAR = "summary_per_year"
    SIBLINGS = "summary_siblings"
    CHOROPLETH = "summary_choropleth"
    CHOROPLETH_MAP = "summary_choropleth_map"
    LINK = "territory"  # /summary?territory=CODE opens that territory; the URL follows the choice

    @classmethod
    def open_from_url(cls, query: Mapping[str, object], choices: list[str]) -> None:
        """On a session's first look at the page, a known ``?territory=`` code becomes the choice."""
        session = _session()
        asked = query.get(cls.LINK)
        if cls.TERRITORY not in session and isinstance(asked, str) and asked in choices:
            session[cls.TERRITORY] = asked

    @classmethod
    def link(cls, code: str) -> dict[str, str]:
        """The query parameters of the summary of ``code``: what the URL shows and a link opens."""
        return {cls.LINK: code}


class DataState:
    """The data page's keys. The undo confirmation is for the import it was shown with."""

    UNDO_SHOWN = "undo_shown_id"  # the import the confirmation box refers to
    UNDO_CONFIRM = "undo_confirm"
    UNDO_BUTTON = "undo_button"
    UNDO_DONE = "undo_done"  # set by the button's callback: the import undone, or why it was refused
    UNDO_REFUSED = "undo_refused"
    DOWNLOAD_DATASET = "download_dataset"
    DOWNLOAD_FORMAT = "download_format"
    DOWNLOAD_BUTTON = "download_button"

    @classmethod
    def confirm_for(cls, import_id: object) -> None:
        """Untick the confirmation when the import offered for undo is not the one it was ticked for."""
        session = _session()
        if session.get(cls.UNDO_SHOWN) != import_id:
            session[cls.UNDO_SHOWN] = import_id
            session[cls.UNDO_CONFIRM] = False

    @classmethod
    def outcome(cls) -> tuple[object | None, str | None]:
        """The last undo's result, once: ``(import id undone, None)`` or ``(None, why it was refused)``."""
        session = _session()
        return session.pop(cls.UNDO_DONE, None), session.pop(cls.UNDO_REFUSED, None)


class EditState:
    """The data page's edit forms. Field widgets are keyed by dataset and record, so that another
    record's form starts from its own stored values. An outcome stays beside the forms it came from while
    they are shown: a rerun from another widget (the map sends its view after every run) must not lose it."""

    DATASET = "edit_dataset"
    ACTION = "edit_action"
    RECORD = "edit_record"
    SAVE = "edit_save"
    RETIRE_CONFIRM = "edit_retire_confirm"
    END_DATE = "edit_end_date"
    UNDO_BUTTON = "edit_undo_button"
    HISTORY = "edit_history"
    AUDIT = "edit_audit"
    # the same forms in the explorer's details panel (expanders, the undo, the history, the pair prefilled)
    EXPLORER_CHANGE = "explorer_edit_change"
    EXPLORER_HISTORY_BOX = "explorer_edit_history_box"
    EXPLORER_HISTORY = "explorer_edit_history"
    EXPLORER_UNDO = "explorer_edit_undo"
    EXPLORER_RELATE = "explorer_edit_relate"
    EXPLORER_PAIR = "explorer_edit_pair"
    EXPLORER_END = "explorer_edit_end"
    EXPLORER_RELATION = "explorer_edit_relation"
    OUTCOME = "edit_outcome"  # set by the callbacks: (scope, (message key, edit id) or None, refusal or None)
    SCOPE = "edit_scope"  # the forms shown by the last run: what the selection or the chosen record was

    @staticmethod
    def field(dataset: str, record: str | None, name: str) -> str:
        """The widget key of field ``name`` in the form of ``record`` (None: a new record)."""
        return f"edit_field_{dataset}_{record or '_new'}_{name}"

    @classmethod
    def save(cls, dataset: str, action: str) -> str:
        """The submit button's key of the form of ``action`` on ``dataset``."""
        return f"{cls.SAVE}_{dataset}_{action}"

    @staticmethod
    def move_map(dataset: str, record: str | None) -> str:
        """The key of the move map of ``record``'s form (None: a new record)."""
        return f"edit_move_{dataset}_{record or '_new'}"

    @classmethod
    def record_outcome(cls, done: tuple[str, int] | None, refused: str | None) -> None:
        """Keep an edit's result for the forms whose button made it (the scope of the run that showed them)."""
        session = _session()
        session[cls.OUTCOME] = (session.get(cls.SCOPE), done, refused)

    @classmethod
    def outcome(cls, scope: object) -> tuple[tuple[str, int] | None, str | None]:
        """The last edit's result while the forms of ``scope`` are shown: ``((message key, edit id), None)``
        or ``(None, why it was refused)``; forgotten once the user has moved to other forms."""
        session = _session()
        session[cls.SCOPE] = scope
        kept = session.get(cls.OUTCOME)
        if kept is None or kept[0] != scope:
            session.pop(cls.OUTCOME, None)
            return None, None
        return kept[1], kept[2]


class AdminState:
    """The administration page's keys; the session remembers the backup it took, to offer it."""

    BACKUP_NOW = "snapshot_now"
    BACKUP_DOWNLOAD = "backup_download"
    LAST_BACKUP = "admin_last_backup"

    @classmethod
    def last_backup(cls) -> Path | None:
        """The backup this session took, while its file still exists."""
        taken = _session().get(cls.LAST_BACKUP)
        path = Path(str(taken)) if taken else None
        return path if path is not None and path.is_file() else None


class SocialState:
    """The social-space page's widget and container keys (it keeps nothing else in the session)."""

    TERRITORY = "social_territory"
    BUFFER = "social_buffer"
    GROUP_KIND = "social_group_kind"
    GROUP = "social_group"
    LEVEL = "social_level"
    SPACE = "social_space"
    SPACE_SENTENCE = "social_space_sentence"
    SPACE_MAP = "social_space_map"
    REFERRAL_FROM = "social_referral_from"
    STEPS = "social_steps"
    REFERRALS = "social_referrals"
    PATH_MAP = "social_path_map"
    SANKEY = "social_sankey"
    PARTNERSHIPS = "social_partnerships"
    SCHEMES = "social_schemes"
    BEFORE = "social_before"
    AFTER = "social_after"
    CHANGES = "social_changes"
    CHANGE_MAP = "social_change_map"
    CHANGE_NETWORK = "social_change_network"
    YEARS = "social_years"
    SUMMARY = "summary_social"  # the summary page's social-space section

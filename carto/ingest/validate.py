"""Check a mapped frame row by row before anything is stored.

:func:`validate` takes the frame that :func:`carto.ingest.mapping.apply_mapping` produced (the
dataset's model columns, a geometry in EPSG:4326 for spatial datasets, and ``_row``, the 1-based row
number in the file) and returns a :class:`Report`: every problem as a record with a stable ``code``
(the UI translates codes, the English ``message`` is for the CLI and the CSV), the counts, a mask of
the rows without errors, and the cleaned frame (typed values, generated ids, repaired geometries
when asked) that :func:`carto.ingest.commit.commit` stores.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from carto import i18n, store
from carto.model import CRS, METROPOLITAN_FRANCE, Dataset
from carto.text import FORMULA_STARTS, neutralise_formulas

ERROR = "error"
WARNING = "warning"

# Prefix of generated ids: readable in exports, never confused between datasets.
ID_PREFIXES = {
    "territories": "ter",
    "places": "pla",
    "actors": "act",
    "schemes": "sch",
    "relations": "rel",
}

TRUE_WORDS = frozenset({"true", "oui", "1", "vrai", "yes", "1.0"})
FALSE_WORDS = frozenset({"false", "non", "0", "faux", "no", "0.0"})

# France incl. overseas (lon_min, lat_min, lon_max, lat_max), with a small margin: outside all of
# them a point is probably misplaced (swapped or wrong CRS), so it is a warning, not an error.
FRANCE_EXTENTS: tuple[tuple[float, float, float, float], ...] = (
    METROPOLITAN_FRANCE,
    (-62.0, 15.7, -60.8, 16.7),  # Guadeloupe
    (-61.4, 14.3, -60.7, 15.0),  # Martinique
    (-54.8, 2.0, -51.4, 6.0),  # Guyane
    (55.1, -21.5, 56.0, -20.7),  # La Réunion
    (44.9, -13.1, 45.4, -12.5),  # Mayotte
    (-56.6, 46.7, -56.0, 47.2),  # Saint-Pierre-et-Miquelon
    (-63.3, 17.8, -62.7, 18.2),  # Saint-Martin, Saint-Barthélemy
    (-178.3, -14.5, -176.0, -13.1),  # Wallis-et-Futuna
    (-155.0, -28.0, -134.0, -7.5),  # Polynésie française
    (163.0, -23.0, 168.5, -19.0),  # Nouvelle-Calédonie
    (39.0, -50.5, 78.0, -10.0),  # TAAF (Kerguelen, Crozet, Saint-Paul, Éparses)
)

# Actors and places are both nodes of the network, keyed by id: an id names one node only.
NODE_DATASETS = {"actors": "places", "places": "actors"}

GEOMETRY_TYPE_IDS = {"Point": 0, "Polygon": 3, "MultiPolygon": 6}  # shapely.GeometryType

EXPECTED_GEOMETRY = {
    "point": ("Point",),
    "polygon": ("Polygon", "MultiPolygon"),
}


@dataclass(frozen=True)
class Problem:
    """One finding: ``row`` is the 1-based row of the file, ``code`` a stable identifier."""

    row: int
    id: str | None
    field: str
    severity: str
    code: str
    message: str


@dataclass
class Report:
    """What :func:`validate` found, and the cleaned frame to store."""

    dataset: str
    frame: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    generated_ids: int = 0
    # Data version at which the valid rows' territory_code was found from the stored territories
    # (None: not found). The commit keeps those codes when the version has not moved since.
    territories_version: int | None = None

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def valid_mask(self) -> pd.Series:
        """True for the rows without any error, indexed like :attr:`frame`."""
        bad = {p.row for p in self.problems if p.severity == ERROR}
        return ~self.frame["_row"].isin(bad)

    @property
    def valid_rows(self) -> int:
        return int(self.valid_mask.sum())

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.severity == WARNING)

    @property
    def ok(self) -> bool:
        return self.errors == 0

    @property
    def by_code(self) -> dict[str, int]:
        return dict(sorted(Counter(p.code for p in self.problems).items()))

    def counts(self) -> dict[str, Any]:
        """Figures for a summary line or a JSON log."""
        return {
            "rows": self.rows,
            "valid_rows": self.valid_rows,
            "errors": self.errors,
            "warnings": self.warnings,
            "generated_ids": self.generated_ids,
            "by_code": self.by_code,
        }

    def to_frame(self) -> pd.DataFrame:
        """One line per problem, in file order, errors before warnings on the same row."""
        columns = ["row", "id", "field", "severity", "code", "message"]
        if not self.problems:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
        out = pd.DataFrame([p.__dict__ for p in self.problems], columns=columns)
        out["_order"] = (out["severity"] != ERROR).astype(int)
        return out.sort_values(["row", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True)

    def to_csv(self) -> str:
        """The problems as CSV text, spreadsheet formulas neutralised."""
        buffer = io.StringIO()
        neutralise_formulas(self.to_frame()).to_csv(buffer, index=False)
        return buffer.getvalue()

    def summary(self, *, limit: int = 20) -> str:
        """Counts, then the first ``limit`` problems: what the CLI prints on refusal."""
        lines = [
            f"{self.dataset}: {self.rows} rows read, {self.valid_rows} valid, "
            f"{self.errors} errors, {self.warnings} warnings"
        ]
        if self.by_code:
            lines.append("by code: " + ", ".join(f"{k}={v}" for k, v in self.by_code.items()))
        for p in self.to_frame().head(limit).itertuples(index=False):
            ident = f" [{p.id}]" if isinstance(p.id, str) and p.id else ""
            lines.append(f"row {p.row}{ident} {p.field}: {p.severity} {p.code}: {p.message}")
        if len(self.problems) > limit:
            lines.append(f"... and {len(self.problems) - limit} more problems")
        return "\n".join(lines)


# --- value parsing ---------------------------------------------------------------------------


# The ``'`` our exports put before a formula-like cell (``\\xNN`` reads the same in re and Arrow's RE2).
_NEUTRALISED = "^'(?=[" + "".join(f"\\x{ord(c):02x}" for c in FORMULA_STARTS) + "])"

# Never part of a name, a code or an id, and they make XML (GEXF, GraphML) unreadable: C0 controls,
# DEL and the non-characters U+FFFE/U+FFFF. The pattern reads the same in Python's re and Arrow's RE2.
CONTROL_CHARACTERS = "[\\x00-\\x1f\\x7f\ufffe\uffff]"
# Tabs and line breaks inside a value separated words: they become one space, the rest is removed.
_SPACING_CONTROLS = "[\\t\\n\\r]+"
# Lone surrogates are not UTF-8: Arrow strings cannot hold them.
_SURROGATES = re.compile("[\ud800-\udfff]")
_LISTED_CHARACTERS = 8


def _as_text(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Arrow strings, and the lone surrogates removed from each value to make it UTF-8 (``""`` if none)."""
    try:
        return series.astype("str"), pd.Series("", index=series.index, dtype="object")
    except UnicodeEncodeError:
        values = series.astype("object").tolist()
        surrogates = _objects(
            ["".join(_SURROGATES.findall(v)) if isinstance(v, str) else "" for v in values], series.index
        )
        text = _objects([_SURROGATES.sub("", v) if isinstance(v, str) else v for v in values], series.index)
        return text.astype("str"), surrogates


def _code_points(chars: Iterable[str]) -> str:
    points = [f"U+{ord(c):04X}" for c in sorted(set(chars))]
    more = f" and {len(points) - _LISTED_CHARACTERS} more" if len(points) > _LISTED_CHARACTERS else ""
    return ", ".join(points[:_LISTED_CHARACTERS]) + more


def _without_controls(text: pd.Series, surrogates: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``text`` without :data:`CONTROL_CHARACTERS`, and a note of what each changed value lost.

    The note lists the characters removed (with the ``surrogates`` already removed), e.g.
    ``"U+0000, U+001B"``, and says when tabs or line breaks became spaces; ``None`` if unchanged.
    """
    notes = pd.Series(None, index=text.index, dtype="object")
    controls = text.str.contains(CONTROL_CHARACTERS, regex=True).fillna(False).to_numpy(dtype=bool)
    flagged = controls | (surrogates != "").to_numpy(dtype=bool)
    if not flagged.any():
        return text, notes
    for idx in text.index[flagged]:
        value = str(text[idx])
        removed = _code_points(re.findall(CONTROL_CHARACTERS, value) + list(surrogates[idx]))
        spaced = ": tabs and line breaks became spaces" if re.search(_SPACING_CONTROLS, value) else ""
        notes[idx] = f"control characters removed ({removed}){spaced}"
    text = text.copy()
    text[flagged] = (
        text[flagged].str.replace(_SPACING_CONTROLS, " ", regex=True).str.replace(CONTROL_CHARACTERS, "", regex=True)
    )
    return text, notes


def _text(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Stripped text with NA for missing or blank cells (object dtype, ``None`` for NA), and notes.

    The ``'`` that our exports put before a formula-like cell is removed, so a CSV export imports
    back to the same text; then control characters, noted in the second Series (see
    :func:`_without_controls`). Vectorised on Arrow strings: this runs on every column.
    """
    text, surrogates = _as_text(series)
    text = text.str.strip()
    quoted = text.str.startswith("'").fillna(False).to_numpy(dtype=bool)
    if quoted.any():
        text[quoted] = text[quoted].str.replace(_NEUTRALISED, "", regex=True)
    text, notes = _without_controls(text, surrogates)
    text = text.str.strip()
    blank = text.isna() | (text == "").fillna(True)
    out = text.astype("object")
    out[blank.to_numpy(dtype=bool)] = None
    return out, notes


def _enum_lookup(choices: Iterable[str]) -> dict[str, str]:
    """Accepted spellings of each enum value: the code, and its French and English labels."""
    lookup: dict[str, str] = {}
    for code in choices:
        lookup[code.lower()] = code
        lookup[code.replace("_", " ").lower()] = code
        for lang in i18n.LANGUAGES:
            lookup.setdefault(i18n.label(code, lang).strip().lower(), code)
    return lookup


def _parse_numbers(text: pd.Series) -> pd.Series:
    """French and English spellings: ``1 234,5`` and ``1234.5``; NaN when not a number."""
    cleaned = text.astype("str").str.replace(r"[\s\u00a0\u202f]", "", regex=True).str.replace(",", ".")
    return pd.to_numeric(cleaned, errors="coerce").astype("float64")


def _parse_dates(series: pd.Series, text: pd.Series) -> pd.Series:
    """ISO dates (``2024-03-01``) or French ones (``01/03/2024``); NaT when neither."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return pd.to_datetime(series)
    iso = pd.to_datetime(text, format="ISO8601", errors="coerce")
    french = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
    return iso.fillna(french)


def _to_dates(parsed: pd.Series) -> pd.Series:
    return _objects([v.date() if pd.notna(v) else None for v in parsed], parsed.index)


def _objects(values: list[Any], index: pd.Index) -> pd.Series:
    """An object Series that keeps ``None`` (pandas would turn it into NaN in a typed Series)."""
    out = pd.Series([None] * len(values), index=index, dtype="object")
    out[:] = np.array(values, dtype=object) if values else []
    return out


# --- ids -------------------------------------------------------------------------------------


def generate_ids(frame: pd.DataFrame, ds: Dataset, missing: pd.Series) -> pd.Series:
    """Stable ids for the rows flagged in ``missing``: ``<prefix>-<sha1 of the row>[:10]``.

    The hash covers the row's values (not its position), so the same file gives the same ids on
    every import; identical rows get ``-2``, ``-3``... in file order.
    """
    prefix = ID_PREFIXES.get(ds.name, ds.name[:3])
    # Services came later and are what an actor offers, not what it is: the ids a file gave before stay.
    content_cols = [c for c in ds.column_names if c not in (ds.key, "territory_code", "services")]
    geoms = None
    if ds.geometry is not None and isinstance(frame, gpd.GeoDataFrame):
        geoms = frame.geometry
    seen: Counter[str] = Counter()
    out: dict[Any, str] = {}
    for idx in frame.index[missing.to_numpy()]:
        parts = [str(frame.at[idx, c]) if c in frame.columns else "" for c in content_cols]
        if geoms is not None:
            g = geoms.at[idx]
            parts.append(g.wkt if g is not None else "")
        digest = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:10]
        base = f"{prefix}-{digest}"
        seen[base] += 1
        out[idx] = base if seen[base] == 1 else f"{base}-{seen[base]}"
    return pd.Series(out, dtype="object")


# --- the checks ------------------------------------------------------------------------------


class _Collector:
    def __init__(self, frame: pd.DataFrame, key: str) -> None:
        self.rows = frame["_row"].to_numpy()
        self.keys = frame[key].to_numpy() if key in frame.columns else np.full(len(frame), None)
        self.index = frame.index
        self.problems: list[Problem] = []

    @functools.cached_property
    def positions(self) -> dict[Any, int]:
        """Position of each index label (built on first use: only messages that need it)."""
        return {idx: i for i, idx in enumerate(self.index)}

    def add(self, mask: pd.Series | np.ndarray, field_name: str, severity: str, code: str, message: Any) -> None:
        """Record a problem for every row where ``mask`` holds; ``message`` may be a callable of the index."""
        flags = np.asarray(mask, dtype=bool)
        for pos in np.flatnonzero(flags):
            idx = self.index[int(pos)]
            text = message(idx) if callable(message) else message
            key = self.keys[pos]
            self.problems.append(
                Problem(
                    row=int(self.rows[pos]),
                    id=None if key is None or (isinstance(key, float) and np.isnan(key)) else str(key),
                    field=field_name,
                    severity=severity,
                    code=code,
                    message=str(text),
                )
            )


def _inside_france(bounds: np.ndarray) -> np.ndarray:
    inside = np.zeros(len(bounds), dtype=bool)
    for x0, y0, x1, y1 in FRANCE_EXTENTS:
        inside |= (bounds[:, 0] >= x0) & (bounds[:, 1] >= y0) & (bounds[:, 2] <= x1) & (bounds[:, 3] <= y1)
    return inside


def _check_territory(frame: gpd.GeoDataFrame, ds: Dataset, found: _Collector, cur: store.Connection) -> int | None:
    """Set the territory of each row without errors; warn for those in no stored territory.

    Returns the data version the territories were read at (read first: a commit in between makes
    it stale, never wrongly current), or None when no territory is stored (nothing to warn about).
    """
    version = store.data_version(cur)
    if store.count_rows(cur, "territories") == 0:
        return None
    refused = {p.row for p in found.problems if p.severity == ERROR}
    geoms = frame.geometry.to_numpy()
    usable = ~frame["_row"].isin(refused).to_numpy() & ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    codes = store.finest_territories(cur, ds.name, frame[usable])
    territory = frame["territory_code"].astype(object).to_numpy(copy=True)
    territory[usable] = codes.to_numpy()
    frame["territory_code"] = _objects(list(territory), frame.index)
    nowhere = np.zeros(len(frame), dtype=bool)
    nowhere[np.flatnonzero(usable)] = codes.isna().to_numpy()
    found.add(
        nowhere,
        "geometry",
        WARNING,
        "no_territory",
        "the point is in no stored territory, so it is counted in none; check its coordinates, "
        "or import the territory that holds it",
    )
    return version


def _check_geometry(frame: gpd.GeoDataFrame, ds: Dataset, found: _Collector, *, repair: bool) -> None:
    geoms = frame.geometry.to_numpy().copy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    issues = frame["_issue"] if "_issue" in frame.columns else pd.Series(pd.NA, index=frame.index)
    found.add(
        empty,
        "geometry",
        ERROR,
        "empty_geometry",
        lambda idx: "the row has no geometry" + (f": {issues[idx]}" if pd.notna(issues[idx]) else ""),
    )
    present = ~empty
    valid = shapely.is_valid(geoms)
    invalid = present & ~valid
    if invalid.any():
        reasons = {found.index[int(p)]: shapely.is_valid_reason(geoms[p]) for p in np.flatnonzero(invalid)}
        if repair:
            for p in np.flatnonzero(invalid):
                geoms[p] = shapely.make_valid(geoms[p], method="structure", keep_collapsed=False)
            frame[frame.geometry.name] = gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs)
            # A repair can drop everything (a NaN vertex, a collapsed ring): what is left is checked
            # like any geometry, so an empty or still invalid one is refused, never stored.
            emptied = invalid & (shapely.is_missing(geoms) | shapely.is_empty(geoms))
            still_invalid = invalid & ~emptied & ~shapely.is_valid(geoms)
            found.add(
                invalid & ~emptied & ~still_invalid,
                "geometry",
                WARNING,
                "repaired",
                lambda idx: f"invalid geometry repaired ({reasons[idx]})",
            )
            found.add(
                emptied,
                "geometry",
                ERROR,
                "empty_geometry",
                lambda idx: f"geometry is empty after repair: {reasons[idx]}; fix it in the source",
            )
            found.add(
                still_invalid,
                "geometry",
                ERROR,
                "invalid_geometry",
                lambda idx: (
                    f"geometry is still invalid after repair: {shapely.is_valid_reason(geoms[found.positions[idx]])}"
                    f" (was: {reasons[idx]}); fix it in the source"
                ),
            )
            present &= ~emptied
        else:
            found.add(
                invalid,
                "geometry",
                ERROR,
                "invalid_geometry",
                lambda idx: f"invalid geometry: {reasons[idx]}; fix it in the source or import with --repair",
            )
    expected = EXPECTED_GEOMETRY.get(ds.geometry or "")
    if expected is not None:
        type_ids = shapely.get_type_id(geoms)
        wrong = present & ~np.isin(type_ids, [GEOMETRY_TYPE_IDS[name] for name in expected])
        found.add(
            wrong,
            "geometry",
            ERROR,
            "wrong_geometry_type",
            lambda idx: f"expected {' or '.join(expected)}, got {geoms[found.positions[idx]].geom_type}",
        )
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        outside_world = present & (
            (bounds[:, 0] < -180) | (bounds[:, 2] > 180) | (bounds[:, 1] < -90) | (bounds[:, 3] > 90)
        )
    found.add(
        outside_world,
        "geometry",
        ERROR,
        "out_of_range",
        lambda idx: (
            "coordinates outside -180..180 / -90..90 (bounds "
            + ", ".join(f"{v:.6g}" for v in bounds[found.positions[idx]])
            + "): wrong CRS? give the file's CRS with --crs"
        ),
    )
    far = present & ~outside_world & ~_inside_france(np.nan_to_num(bounds, nan=1e9))
    found.add(
        far,
        "geometry",
        WARNING,
        "outside_france",
        lambda idx: (
            "outside France (incl. overseas), bounds "
            + ", ".join(f"{v:.6g}" for v in bounds[found.positions[idx]])
            + ": latitude and longitude swapped?"
        ),
    )


def validate(
    frame: pd.DataFrame,
    dataset: Dataset,
    *,
    conn_or_cursor: store.Connection,
    repair: bool = False,
    mode: str = "append",
) -> Report:
    """Check every row of ``frame`` against ``dataset``'s rules; never raises for bad data.

    ``conn_or_cursor`` reads the stored ids (duplicates in append mode, relation ends, parents).
    ``mode`` is the import mode: stored rows that ``replace`` deletes do not count as existing.
    """
    ds = dataset
    if "_row" not in frame.columns:
        frame = frame.assign(_row=np.arange(1, len(frame) + 1))
    out = frame.copy()
    found = _Collector(out, ds.key)
    cleaned: dict[str, pd.Series] = {}
    texts: dict[str, pd.Series] = {}

    for col in ds.columns:
        raw = out[col.name] if col.name in out.columns else pd.Series([None] * len(out), index=out.index)
        text, notes = _text(raw)
        texts[col.name] = text
        present = text.notna()
        found.add(
            notes.notna(),
            col.name,
            WARNING,
            "control_characters",
            lambda idx, n=notes: n[idx],
        )
        if col.choices is not None:
            lookup = _enum_lookup(col.choices)
            # Few distinct values: look each up once.
            codes, uniques = pd.factorize(text.to_numpy(dtype=object), use_na_sentinel=True)
            found_codes = np.array([lookup.get(str(u).lower()) for u in uniques] + [None], dtype=object)
            mapped = _objects(list(found_codes[codes]), out.index)
            unknown = present & mapped.isna()
            found.add(
                unknown,
                col.name,
                ERROR,
                "unknown_value",
                lambda idx, t=text, c=col: (
                    f"{t[idx]!r} is not a known {c.name}; expected one of: " + ", ".join(c.choices or ())
                ),
            )
            cleaned[col.name] = mapped
        elif col.sql_type in ("BIGINT", "DOUBLE"):
            numbers = _parse_numbers(text)
            bad = present & numbers.isna()
            if col.sql_type == "BIGINT":
                fractional = present & numbers.notna() & (numbers != np.floor(numbers))
                bad |= fractional
            found.add(
                bad,
                col.name,
                ERROR,
                "bad_number",
                lambda idx, t=text, c=col: (
                    f"{t[idx]!r} is not " + ("a whole number" if c.sql_type == "BIGINT" else "a number")
                ),
            )
            negative = present & ~bad & (numbers < 0)
            if col.name == "population":
                found.add(negative, col.name, ERROR, "bad_number", "a population cannot be negative")
                bad |= negative
            values = numbers.where(~bad)
            cast = int if col.sql_type == "BIGINT" else float
            numeric = values.to_numpy(dtype=float)
            cleaned[col.name] = _objects([None if math.isnan(v) else cast(v) for v in numeric.tolist()], out.index)
        elif col.sql_type == "BOOLEAN":
            lowered = text.map(lambda v: v.lower() if isinstance(v, str) else v)
            truth = _objects(
                [True if v in TRUE_WORDS else (False if v in FALSE_WORDS else None) for v in lowered],
                out.index,
            )
            bad = present & truth.isna()
            found.add(
                bad,
                col.name,
                ERROR,
                "bad_boolean",
                lambda idx, t=text: f"{t[idx]!r} is not a yes/no value; use true/false, oui/non, 1/0",
            )
            cleaned[col.name] = truth
        elif col.sql_type == "DATE":
            parsed = _parse_dates(raw, text)
            bad = present & parsed.isna()
            found.add(
                bad,
                col.name,
                ERROR,
                "bad_date",
                lambda idx, t=text: f"{t[idx]!r} is not a date; use YYYY-MM-DD or DD/MM/YYYY",
            )
            cleaned[col.name] = _to_dates(parsed.where(~bad))
        else:
            cleaned[col.name] = text

    for name, values in cleaned.items():
        out[name] = values

    territories_version: int | None = None
    # Ids: generated for rows without one, before any check that reports ids.
    key_missing = out[ds.key].isna()
    generated = 0
    if key_missing.any():
        new_ids = generate_ids(out, ds, key_missing)
        out.loc[new_ids.index, ds.key] = new_ids
        generated = len(new_ids)
    found.keys = out[ds.key].to_numpy()

    for col in ds.columns:
        if col.required and col.name != ds.key:
            # A present but unparsable value is already reported; only truly empty cells here.
            missing = texts[col.name].isna()
            found.add(missing, col.name, ERROR, "missing_required", f"{col.name} is required but empty")

    keys = out[ds.key].astype(object)
    dup = keys.duplicated(keep="first")
    # Only the ids used twice need the row of their first use.
    repeated = keys.isin(set(keys[dup])) & ~dup
    first_row = dict(zip(keys[repeated], out["_row"][repeated], strict=True))
    found.add(
        dup,
        ds.key,
        ERROR,
        "duplicate_id",
        lambda idx: f"{ds.key} {keys[idx]!r} already used on row {first_row[keys[idx]]} of this file",
    )
    if mode == "append":
        stored = store.stored_keys(conn_or_cursor, ds.name)
        clash = ~dup & keys.isin(stored)
        found.add(
            clash,
            ds.key,
            ERROR,
            "duplicate_id",
            lambda idx: f"{ds.key} {keys[idx]!r} is already in the database; use mode upsert or replace",
        )

    other = NODE_DATASETS.get(ds.name)
    if other is not None:
        other_ids = store.stored_keys(conn_or_cursor, other)
        shared = ~dup & keys.isin(other_ids)
        found.add(
            shared,
            ds.key,
            ERROR,
            "duplicate_id",
            lambda idx: (
                f"{ds.key} {keys[idx]!r} is already the id of one of the {other} in the database; ids are shared "
                "by actors and places, which are both nodes of the network: give this row another id"
            ),
        )

    if ds.name == "relations":
        nodes = store.stored_keys(conn_or_cursor, "actors") | store.stored_keys(conn_or_cursor, "places")
        for end in ("source", "target"):
            values = out[end]
            unknown = values.notna() & ~values.astype(object).isin(nodes)
            found.add(
                unknown,
                end,
                ERROR,
                "unknown_endpoint",
                lambda idx, v=values: (
                    f"{v[idx]!r} is neither an actor nor a place id in the database; import actors and places first"
                ),
            )
        loops = out["source"].notna() & (out["source"] == out["target"])
        found.add(loops, "target", WARNING, "self_loop", "source and target are the same node")
        schemes = store.stored_keys(conn_or_cursor, "schemes")
        unknown_scheme = out["scheme_id"].notna() & ~out["scheme_id"].astype(object).isin(schemes)
        found.add(
            unknown_scheme,
            "scheme_id",
            ERROR,
            "unknown_scheme",
            lambda idx: f"{out.at[idx, 'scheme_id']!r} is not a scheme id in the database",
        )

    if ds.name == "territories":
        known = set(keys)
        if mode != "replace":
            known |= store.stored_keys(conn_or_cursor, "territories")
        parents = out["parent_code"]
        unknown = parents.notna() & ~parents.astype(object).isin(known)
        found.add(
            unknown,
            "parent_code",
            WARNING,
            "unknown_parent",
            lambda idx: (
                f"parent {parents[idx]!r} is neither in this file nor in the database "
                "(kept; import the parent level to link them)"
            ),
        )

    if "start" in ds.column_names and "end" in ds.column_names:
        both = out["start"].notna() & out["end"].notna()
        reversed_dates = both & (out["end"].where(both, dt.date.min) < out["start"].where(both, dt.date.min))
        found.add(reversed_dates, "end", ERROR, "bad_date", "the end date is before the start date")

    if ds.geometry is not None:
        if not isinstance(out, gpd.GeoDataFrame):
            found.add(np.ones(len(out), dtype=bool), "geometry", ERROR, "empty_geometry", "the row has no geometry")
        else:
            if out.crs is None:
                out = out.set_crs(CRS)
            _check_geometry(out, ds, found, repair=repair)
            if ds.name in NODE_DATASETS:
                territories_version = _check_territory(out, ds, found, conn_or_cursor)

    # Problems found before the ids were cleaned or generated get the row's final id.
    final_ids = dict(zip(out["_row"].tolist(), out[ds.key].tolist(), strict=True))
    found.problems = [
        Problem(p.row, final_ids.get(p.row), p.field, p.severity, p.code, p.message) for p in found.problems
    ]
    order = {c: i for i, c in enumerate(ds.column_names)}
    found.problems.sort(key=lambda p: (p.row, order.get(p.field, len(order))))
    return Report(
        dataset=ds.name,
        frame=out,
        problems=found.problems,
        generated_ids=generated,
        territories_version=territories_version,
    )

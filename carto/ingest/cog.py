"""French administrative codes on import: the embedded Code officiel géographique (COG).

``data/cog/cog.json.gz`` (built by ``scripts/build_cog.py`` from ``@etalab/decoupage-administratif``,
Licence Ouverte 2.0) lists every commune of today with its name, EPCI, département and population,
every EPCI and département, and the former codes of merged communes.

:func:`complete_territories` runs on a mapped territories frame, before validation: it maps former
commune codes to today's commune, infers a missing ``level`` from the code (known code first, then
its shape), and fills a missing ``parent_code``, ``population`` or ``name`` of known codes. It never
overwrites a value of the file, and says what it did in :class:`CogNote` records (one per kind of
change and file). :func:`parent_territories` builds the EPCIs and départements that the file's
communes point to but that neither the file nor the database hold, dissolved from those communes.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from carto import store
from carto.model import CRS

COG_PATH = store.PROJECT_DIR / "data" / "cog" / "cog.json.gz"

# The shapes of French codes, tried in this order when a code is not a known one.
CODE_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("commune", re.compile(r"^(?:\d{5}|2[AB]\d{3})$", re.IGNORECASE)),  # INSEE commune, Corsica 2A/2B
    ("departement", re.compile(r"^(?:\d{2}|2[AB]|97\d)$", re.IGNORECASE)),
    ("epci", re.compile(r"^\d{9}$")),  # SIREN
    ("qpv", re.compile(r"^Q[PN][0-9A-Z]{3,9}$", re.IGNORECASE)),  # QP044001, QN04401M
)
FALLBACK_LEVEL = "custom"
# How many codes a note lists before "and N more".
LISTED = 5


@dataclass(frozen=True)
class Cog:
    """The embedded COG: ``communes[code] = (name, epci, departement, population)``..."""

    source: str
    communes: dict[str, tuple[str, str, str, int | None]]
    epcis: dict[str, tuple[str, tuple[str, ...], int | None]]
    departements: dict[str, tuple[str, str]]
    former: dict[str, str]

    def level_of(self, code: str) -> str | None:
        """The level of a known code of today, else None."""
        if code in self.communes:
            return "commune"
        if code in self.epcis:
            return "epci"
        if code in self.departements:
            return "departement"
        return None

    def parent_of(self, code: str, level: str) -> str | None:
        """A commune's EPCI, an EPCI's main département, a département's region."""
        if level == "commune" and code in self.communes:
            return self.communes[code][1] or None
        if level == "epci" and code in self.epcis:
            departements = self.epcis[code][1]
            return departements[0] if departements else None
        if level == "departement" and code in self.departements:
            return self.departements[code][1]
        return None

    def name_of(self, code: str, level: str) -> str | None:
        if level == "commune" and code in self.communes:
            return self.communes[code][0]
        if level == "epci" and code in self.epcis:
            return self.epcis[code][0]
        if level == "departement" and code in self.departements:
            return self.departements[code][0]
        return None

    def population_of(self, code: str, level: str) -> int | None:
        if level == "commune" and code in self.communes:
            return self.communes[code][3]
        if level == "epci" and code in self.epcis:
            return self.epcis[code][2]
        if level == "departement" and code in self.departements:
            values = [c[3] or 0 for c in self.communes.values() if c[2] == code]
            return sum(values) if values else None
        return None


@functools.cache
def load_cog(path: Path = COG_PATH) -> Cog:
    """Read the embedded COG once per process."""
    data = json.loads(gzip.decompress(Path(path).read_bytes()).decode("utf-8"))
    return Cog(
        source=data["source"],
        communes={k: (v[0], v[1], v[2], v[3]) for k, v in data["communes"].items()},
        epcis={k: (v[0], tuple(v[1]), v[2]) for k, v in data["epcis"].items()},
        departements={k: (v[0], v[1]) for k, v in data["departements"].items()},
        former=dict(data["former"]),
    )


def level_from_shape(code: str) -> str | None:
    """The level a code's shape suggests (``"44109"`` → commune, ``"2A"`` → département), else None."""
    for level, pattern in CODE_SHAPES:
        if pattern.match(code):
            return level
    return None


@dataclass(frozen=True)
class CogNote:
    """One thing the COG changed in a file: ``code`` names it for the UI, ``message`` for the CLI."""

    code: str
    count: int
    examples: str
    message: str


@dataclass
class Completion:
    """The completed frame and what changed."""

    frame: pd.DataFrame
    notes: list[CogNote] = field(default_factory=list)


def _listed(values: Iterable[str]) -> str:
    items = list(values)
    more = f" and {len(items) - LISTED} more" if len(items) > LISTED else ""
    return ", ".join(items[:LISTED]) + more


def _cell(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _note(notes: list[CogNote], code: str, items: list[str], message: str) -> None:
    if items:
        examples = _listed(items)
        notes.append(CogNote(code, len(items), examples, message.format(count=len(items), examples=examples)))


def _merge_former(frame: pd.DataFrame, cog: Cog) -> tuple[pd.DataFrame, list[str]]:
    """Rename former commune codes to today's; rows that become the same commune are dissolved."""
    codes = {label: _cell(value) for label, value in frame["code"].items()}
    present = {c for c in codes.values() if c is not None}
    groups: dict[str, list[Any]] = {}
    changed: list[str] = []
    for label, code in codes.items():
        if code is None or code in cog.communes or code not in cog.former:
            continue
        today = cog.former[code]
        if today in present:  # the file already has today's commune: leave the old row alone
            continue
        groups.setdefault(today, []).append(label)
        changed.append(f"{code} → {today}")
    if not groups:
        return frame, []
    out = frame.copy()
    geometry = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    dropped: list[Any] = []
    for today, labels in groups.items():
        # The row is today's commune now: its name, and its population from the COG further on.
        out.loc[labels, "code"] = today
        out.loc[labels, "name"] = cog.communes[today][0]
        out.loc[labels, "population"] = None
        if len(labels) > 1:
            if geometry is not None:
                out.at[labels[0], geometry] = _dissolve(list(out.loc[labels, geometry]))
            dropped += labels[1:]
    return out.drop(index=dropped), changed


def complete_territories(frame: pd.DataFrame, *, cog: Cog | None = None) -> Completion:
    """Fill what the COG knows into a mapped territories frame (see the module's docstring)."""
    cog = cog or load_cog()
    notes: list[CogNote] = []
    frame, merged = _merge_former(frame, cog)
    _note(
        notes,
        "former_codes",
        merged,
        "{count} former commune codes were replaced by today's commune (merged since; its name, and its "
        "population from the COG): {examples}",
    )
    out = frame.copy()
    codes = [_cell(c) for c in out["code"]]
    levels = [_cell(v) for v in out["level"]]
    known: list[str] = []
    by_shape: dict[str, list[str]] = {}
    for pos, code in enumerate(codes):
        if levels[pos] is not None or code is None:
            continue
        level = cog.level_of(code)
        if level is not None:
            known.append(code)
        else:
            level = level_from_shape(code) or FALLBACK_LEVEL
            by_shape.setdefault(level, []).append(code)
        levels[pos] = level
    if known or by_shape:
        out["level"] = pd.Series(levels, index=out.index, dtype="object")
    _note(notes, "level_known", known, "level was empty for {count} codes of the COG; taken from it: {examples}")
    for level in sorted(by_shape):
        items = by_shape[level]
        if level == FALLBACK_LEVEL:
            _note(
                notes,
                "level_custom",
                items,
                "level was empty and {count} codes are neither in the COG nor shaped like a French code: "
                "level custom: {examples}",
            )
        else:
            _note(
                notes,
                f"level_shape_{level}",
                items,
                f"level was empty for {{count}} codes not in the COG, shaped like a {level} code: "
                f"level {level}: {{examples}}",
            )
    filled: dict[str, list[str]] = {"parent_code": [], "population": [], "name": []}
    for column in filled:
        values = list(out[column])
        for pos, code in enumerate(codes):
            level = levels[pos]
            if code is None or level is None or _cell(values[pos]) is not None:
                continue
            if column == "parent_code":
                value: Any = cog.parent_of(code, level)
            elif column == "population":
                value = cog.population_of(code, level)
            else:
                value = cog.name_of(code, level)
            if value is not None:
                values[pos] = str(value)
                filled[column].append(code)
        if filled[column]:
            out[column] = pd.Series(values, index=out.index, dtype="object")
    _note(notes, "parent_filled", filled["parent_code"], "parent filled from the COG for {count} codes: {examples}")
    _note(
        notes, "population_filled", filled["population"], "population filled from the COG for {count} codes: {examples}"
    )
    _note(notes, "name_filled", filled["name"], "name filled from the COG for {count} codes: {examples}")
    out.attrs = dict(frame.attrs)
    return Completion(out.reset_index(drop=True), notes)


def _dissolve(geometries: list[Any]) -> Any:
    return shapely.union_all([g for g in geometries if g is not None and not shapely.is_empty(g)])


def parent_territories(
    frame: gpd.GeoDataFrame, *, known_codes: Iterable[str], cog: Cog | None = None
) -> gpd.GeoDataFrame:
    """The EPCIs and départements the frame's communes need and nobody holds, dissolved from them.

    ``known_codes`` are the codes already stored (those that stay after the import). A created EPCI
    covers the file's communes of that EPCI only; its name, parent and population are the COG's.
    """
    cog = cog or load_cog()
    have = {c for c in (_cell(v) for v in frame["code"]) if c is not None} | set(known_codes)
    communes: dict[str, Any] = {}
    for code, level, geometry in zip(frame["code"], frame["level"], frame.geometry, strict=True):
        code = _cell(code)
        if code in cog.communes and _cell(level) == "commune" and geometry is not None:
            communes[code] = geometry
    rows: list[dict[str, Any]] = []
    epci_members: dict[str, list[str]] = {}
    for code in communes:
        epci = cog.communes[code][1]
        if epci and epci in cog.epcis:
            epci_members.setdefault(epci, []).append(code)
    wanted_departements: set[str] = set()
    for epci, members in sorted(epci_members.items()):
        parent = cog.parent_of(epci, "epci")
        if epci not in have:
            rows.append(_parent_row(cog, epci, "epci", parent, [communes[c] for c in members]))
        if parent is not None:
            wanted_departements.add(parent)
    for code in communes:
        if not cog.communes[code][1]:  # a commune outside any EPCI (islands) hangs on its département
            wanted_departements.add(cog.communes[code][2])
    for departement in sorted(wanted_departements - have):
        members = [g for c, g in communes.items() if cog.communes[c][2] == departement]
        if members:
            region = cog.parent_of(departement, "departement")
            rows.append(_parent_row(cog, departement, "departement", region, members))
    columns = [*frame.columns.drop(frame.geometry.name)]
    if not rows:
        return gpd.GeoDataFrame(columns=[*columns, "geometry"], geometry="geometry", crs=frame.crs or CRS)
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=frame.crs or CRS)
    for column in columns:
        if column not in out.columns:
            out[column] = None
    return out[[*columns, "geometry"]]


def _parent_row(cog: Cog, code: str, level: str, parent: str | None, members: list[Any]) -> dict[str, Any]:
    population = cog.population_of(code, level)
    return {
        "code": code,
        "name": cog.name_of(code, level),
        "level": level,
        "parent_code": parent,
        "population": None if population is None else str(population),
        "geometry": _dissolve(members),
    }

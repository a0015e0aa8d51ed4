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
import numpy as np
import pandas as pd
import shapely

from carto import store
from carto.ingest.validate import _enum_lookup
from carto.model import CRS, TERRITORY_LEVELS

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
    departement_populations: dict[str, int] = field(default_factory=dict)

    @functools.cached_property
    def table(self) -> pd.DataFrame:
        """Every code of today, indexed by code: level, name, parent_code, population (text)."""
        rows = [
            (code, level, self.name_of(code, level), self.parent_of(code, level), self.population_of(code, level))
            for level, codes in (
                ("commune", self.communes),
                ("epci", self.epcis),
                ("departement", self.departements),
            )
            for code in codes
        ]
        table = pd.DataFrame(rows, columns=["code", "level", "name", "parent_code", "population"], dtype="object")
        table["population"] = [None if p is None else str(p) for p in table["population"]]
        return table.set_index("code")

    def lookup(self, codes: pd.Series) -> pd.DataFrame:
        """The :attr:`table`'s columns for each of ``codes`` (``None`` where unknown), indexed like it."""
        positions = self.table.index.get_indexer(pd.Index(codes.to_numpy(dtype=object)))
        known = positions >= 0
        columns = {}
        for column in self.table.columns:
            values = np.full(len(codes), None, dtype=object)
            values[known] = self.table[column].to_numpy(dtype=object)[positions[known]]
            columns[column] = values
        return pd.DataFrame(columns, index=codes.index, dtype="object")

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
        """A commune's EPCI (its département if it has none), an EPCI's main département, a département's
        region."""
        if level == "commune" and code in self.communes:
            return self.communes[code][1] or self.communes[code][2]
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
            return self.departement_populations.get(code)
        return None


@functools.cache
def load_cog(path: Path = COG_PATH) -> Cog:
    """Read the embedded COG once per process."""
    data = json.loads(gzip.decompress(Path(path).read_bytes()).decode("utf-8"))
    departement_populations: dict[str, int] = {}
    for _name, _epci, departement, population in data["communes"].values():
        departement_populations[departement] = departement_populations.get(departement, 0) + (population or 0)
    return Cog(
        source=data["source"],
        communes={k: (v[0], v[1], v[2], v[3]) for k, v in data["communes"].items()},
        epcis={k: (v[0], tuple(v[1]), v[2]) for k, v in data["epcis"].items()},
        departements={k: (v[0], v[1]) for k, v in data["departements"].items()},
        former=dict(data["former"]),
        departement_populations=departement_populations,
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
    texts = _texts(frame["code"])
    if not texts.isin(cog.former.keys()).any():
        return frame, []
    codes = texts.to_dict()
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


def _texts(series: pd.Series) -> pd.Series:
    """Stripped text, ``None`` for a missing or blank cell (object dtype), vectorised."""
    text = series.astype("string").str.strip()
    text = text.mask(text == "")
    return text.astype("object").where(text.notna(), None)


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
    codes = _texts(out["code"])
    levels = _texts(out["level"])
    found = cog.lookup(codes)
    cog_level = found["level"]
    empty = levels.isna() & codes.notna()
    known = empty & cog_level.notna()
    unknown = empty & cog_level.isna()
    shaped = codes[unknown].map(lambda c: level_from_shape(c) or FALLBACK_LEVEL)
    if empty.any():
        levels = levels.where(~known, cog_level)
        levels[unknown] = shaped
        out["level"] = levels
    _note(
        notes,
        "level_known",
        codes[known].tolist(),
        "level was empty for {count} codes of the COG; taken from it: {examples}",
    )
    for level in sorted(set(shaped)):
        items = codes[unknown][shaped == level].tolist()
        if level == FALLBACK_LEVEL:
            message = (
                "level was empty and {count} codes are neither in the COG nor shaped like a French code: "
                "level custom: {examples}"
            )
            _note(notes, "level_custom", items, message)
        else:
            message = (
                f"level was empty for {{count}} codes not in the COG, shaped like a {level} code: "
                f"level {level}: {{examples}}"
            )
            _note(notes, f"level_shape_{level}", items, message)
    # A code of the COG at the COG's level: what the file leaves empty is filled in.
    # The file's level as validation will read it ("Commune", "Intercommunalité (EPCI)" are levels too).
    lookup = _enum_lookup(TERRITORY_LEVELS)
    level_codes = levels.map(lambda v: lookup.get(v.lower(), v) if isinstance(v, str) else v)
    same = codes.notna() & (level_codes == cog_level)
    filled: dict[str, list[str]] = {}
    for column in ("parent_code", "population", "name"):
        values = found[column]
        fill = same & _texts(out[column]).isna() & values.notna()
        filled[column] = codes[fill].tolist()
        if fill.any():
            out[column] = out[column].astype("object").where(~fill, values)
    _note(notes, "parent_filled", filled["parent_code"], "parent filled from the COG for {count} codes: {examples}")
    _note(
        notes, "population_filled", filled["population"], "population filled from the COG for {count} codes: {examples}"
    )
    _note(notes, "name_filled", filled["name"], "name filled from the COG for {count} codes: {examples}")
    out.attrs = dict(frame.attrs)
    return Completion(out.reset_index(drop=True), notes)


def _dissolve(geometries: list[Any]) -> Any:
    return shapely.union_all([g for g in geometries if g is not None and not shapely.is_empty(g)])


@dataclass(frozen=True)
class Parent:
    """A missing EPCI or département, and the file's communes (their codes) it is dissolved from."""

    code: str
    level: str
    parent_code: str | None
    members: tuple[str, ...]


def missing_parents(frame: pd.DataFrame, *, known_codes: Iterable[str], cog: Cog | None = None) -> list[Parent]:
    """The EPCIs and départements that the frame's communes hang on in the COG and nobody holds.

    Only communes whose ``parent_code`` is their EPCI in the COG (filled from it, or given alike)
    count: a file that gives its communes other parents keeps its own hierarchy. ``known_codes`` are
    the codes already stored (those that stay after the import).
    """
    cog = cog or load_cog()
    codes = _texts(frame["code"])
    have = set(codes.dropna()) | set(known_codes)
    communes = codes.notna() & (_texts(frame["level"]) == "commune") & codes.isin(cog.communes.keys())
    parents = _texts(frame["parent_code"])[communes]
    ours = codes[communes]
    cog_parent = cog.lookup(ours)["parent_code"]
    hanging = ours[(parents == cog_parent) & cog_parent.notna()]
    by_epci: dict[str, list[str]] = {}
    by_departement: dict[str, list[str]] = {}
    for code in hanging:
        epci = cog.communes[code][1]
        if epci:
            by_epci.setdefault(epci, []).append(code)
        else:  # no EPCI (a few islands): its département
            by_departement.setdefault(cog.communes[code][2], []).append(code)
    plans: list[Parent] = []
    for epci, members in sorted(by_epci.items()):
        departement = cog.parent_of(epci, "epci")
        if epci not in have:
            plans.append(Parent(epci, "epci", departement, tuple(members)))
        if departement is not None:
            by_departement.setdefault(departement, [])
            # The département is dissolved from its own communes among the members.
            by_departement[departement] += [c for c in members if cog.communes[c][2] == departement]
    for departement, members in sorted(by_departement.items()):
        if departement not in have and members:
            plans.append(Parent(departement, "departement", cog.parent_of(departement, "departement"), tuple(members)))
    return plans


def parent_territories(
    frame: gpd.GeoDataFrame, parents: Iterable[Parent], *, cog: Cog | None = None
) -> gpd.GeoDataFrame:
    """Rows for ``parents`` in the frame's columns: the COG's name and population, the union of the
    members' geometries as their outline."""
    cog = cog or load_cog()
    geometry_of = dict(zip((_cell(c) for c in frame["code"]), frame.geometry, strict=True))
    rows = []
    for parent in parents:
        population = cog.population_of(parent.code, parent.level)
        rows.append(
            {
                "code": parent.code,
                "name": cog.name_of(parent.code, parent.level),
                "level": parent.level,
                "parent_code": parent.parent_code,
                "population": None if population is None else str(population),
                "geometry": _dissolve([geometry_of[c] for c in parent.members]),
            }
        )
    columns = [c for c in frame.columns if c != frame.geometry.name]
    out = gpd.GeoDataFrame(rows, columns=[*columns, "geometry"], geometry="geometry", crs=frame.crs or CRS)
    return out

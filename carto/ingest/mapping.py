"""Column mapping and geometry building: from a file's own columns to a dataset's model columns.

A *mapping* is a plain ``{field: column}`` dict: ``field`` is a column of the dataset (see
:mod:`carto.model`) or one of the coordinate fields ``lon``, ``lat`` (WGS84) and ``x``, ``y``
(projected, in a CRS the user confirms); ``column`` is the file's column. It is saved as JSON.

:func:`apply_mapping` returns the dataset's columns with values as found (validation comes later),
plus

- ``_row``: the row number a user sees (spreadsheets: header is row 1, so data starts at 2;
  geodata files: feature number from 1);
- ``_issue``: a message for the rows whose geometry could not be built (else missing);
- ``geometry`` in EPSG:4326 for spatial datasets.

Frame-level notes (CRS used, codes repaired) are in ``frame.attrs["warnings"]``.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from carto.errors import InputError, ValidationError
from carto.ingest.read import RawTable
from carto.ingest.safety import check_crs_text
from carto.model import CRS, METROPOLITAN_FRANCE, Dataset
from carto.model import dataset as get_dataset

COORDINATE_FIELDS = ("lon", "lat", "x", "y")

# Synonyms, normalised (lower case, no accents, "_" between words), most specific first.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "identifiant", "ident", "uid", "ref", "reference", "num", "numero"),
    "code": (
        "code",
        "code_insee",
        "insee",
        "codgeo",
        "code_commune",
        "insee_com",
        "code_geo",
        "depcom",
        "com",
        "code_territoire",
        "code_com",
    ),
    "name": (
        "name",
        "nom",
        "libelle",
        "lib",
        "raison_sociale",
        "denomination",
        "nom_commune",
        "libgeo",
        "denomination_unite_legale",
        "nom_raison_sociale",
        "enseigne",
        "nom_com",
        "intitule",
        "label",
        "title",
        "titre",
        "nom_structure",
        "nom_de_la_structure",
        "nom_etablissement",
        "nom_organisme",
        "nom_partenaire",
        "nom_acteur",
        "nom_lieu",
        "structure",
        "organisme",
        "etablissement",
        "partenaire",
    ),
    "level": ("level", "niveau", "echelon", "type_territoire", "niveau_territorial", "maille"),
    "parent_code": (
        "parent_code",
        "code_parent",
        "parent",
        "code_epci",
        "siren_epci",
        "epci",
        "code_dep",
        "insee_dep",
        "dep",
    ),
    "population": ("population", "pop", "ptot", "pmun", "nb_habitants", "habitants", "pop_totale"),
    "type": (
        "type",
        "categorie",
        "category",
        "type_acteur",
        "type_structure",
        "type_partenaire",
        "type_etablissement",
        "type_organisme",
        "categorie_structure",
        "nature_structure",
        "famille",
    ),
    "sector": ("sector", "secteur", "domaine", "champ", "secteur_activite", "domaine_intervention", "thematique"),
    "siret": ("siret", "siren", "num_siret", "numero_siret"),
    "territory_code": (
        "territory_code",
        "code_insee",
        "insee",
        "codgeo",
        "code_commune",
        "commune_code",
        "insee_com",
        "depcom",
        "code_territoire",
        "code_com",
        "code_commune_etablissement",
        "com_insee",
        "insee_commune",
        "code_insee_commune",
        "cog",
    ),
    "kind": ("kind", "genre", "nature", "type", "categorie", "type_lieu", "type_relation", "type_lien"),
    "publics": ("publics", "public", "public_cible", "publics_cibles", "groupes", "groups"),
    "source": ("source", "origine", "from", "de", "source_id", "id_source"),
    "target": ("target", "cible", "destination", "to", "vers", "target_id", "id_cible"),
    "dimension": ("dimension",),
    "formal": ("formal", "formel", "formalise", "contractuel", "contractualise"),
    "scheme_id": ("scheme_id", "dispositif", "scheme", "id_dispositif", "dispositif_id", "code_dispositif"),
    "weight": ("weight", "poids", "intensite", "intensity", "force"),
    "directed": ("directed", "oriente", "dirige"),
    "start": ("start", "debut", "date_debut", "start_date", "date_start", "du"),
    "end": ("end", "fin", "date_fin", "end_date", "date_end", "au"),
    "stage": ("stage", "etape", "phase"),
    "lat": ("lat", "latitude", "y_wgs84", "lat_wgs84", "wgs84_lat"),
    "lon": ("lon", "lng", "long", "longitude", "x_wgs84", "lon_wgs84", "wgs84_lon"),
    "x": ("x", "coord_x", "x_l93", "x_lambert93", "x_lambert_93", "xl93", "x_lambert", "lambert_x", "lambert93_x",
          "coordonnee_x", "coordonnees_x", "easting"),
    "y": ("y", "coord_y", "y_l93", "y_lambert93", "y_lambert_93", "yl93", "y_lambert", "lambert_y", "lambert93_y",
          "coordonnee_y", "coordonnees_y", "northing"),
}


_ID_SYNONYMS = {
    "actors": ("id_actor", "actor_id", "id_acteur", "id_partenaire", "id_structure"),
    "places": ("id_place", "place_id", "id_lieu"),
    "relations": ("id_relation", "relation_id", "id_lien"),
    "schemes": ("id_scheme", "scheme_id", "id_dispositif", "code_dispositif"),
}


def normalise_name(name: str, *, split_camel: bool = False) -> str:
    """Lower case, accents removed, runs of other characters as one ``_``: ``Libellé`` → ``libelle``.

    With ``split_camel``, ``codeCommuneEtablissement`` (SIRENE's style) gives
    ``code_commune_etablissement``.
    """
    text = unicodedata.normalize("NFKD", str(name))
    if split_camel:
        text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


# Words a French header carries around the one that names it: "Nom de la structure", "Code de la commune".
_HEADER_FILLER = frozenset({"de", "du", "des", "d", "la", "le", "les", "l"})


def _without_filler(name: str) -> str:
    return "_".join(w for w in name.split("_") if w not in _HEADER_FILLER)


def mapping_fields(dataset: str) -> tuple[str, ...]:
    """Fields a mapping for ``dataset`` may set: its columns, then coordinates for point datasets."""
    ds = get_dataset(dataset)
    extra = COORDINATE_FIELDS if ds.geometry in ("point", "any") else ()
    return ds.column_names + extra


def suggest_mapping(columns: list[str], dataset: str, *, has_geometry: bool = False) -> dict[str, str]:
    """Recognise common French and English column names; ``{field: column}`` for those found.

    With ``has_geometry`` (the file has its own geometries) coordinate columns are not suggested:
    mapped lon/lat or x/y columns take precedence over the file's geometry in :func:`apply_mapping`.
    """
    fields = mapping_fields(dataset)
    if has_geometry:
        fields = tuple(f for f in fields if f not in COORDINATE_FIELDS)
    by_name: dict[str, str] = {}
    for column in columns:
        by_name.setdefault(normalise_name(column), column)
    for column in columns:
        by_name.setdefault(normalise_name(column, split_camel=True), column)
    for column in columns:
        by_name.setdefault(_without_filler(normalise_name(column)), column)
    used: set[str] = set()
    mapping: dict[str, str] = {}
    # Exact field names first, so a column called "type" is not taken as a place's "kind"
    # when the file also has "kind"; then synonyms in order of preference.
    for field in fields:
        if field in by_name:
            mapping[field] = by_name[field]
            used.add(by_name[field])
    for field in fields:
        if field in mapping:
            continue
        synonyms = _SYNONYMS.get(field, ())
        if field == "id":
            synonyms = (*synonyms, *_ID_SYNONYMS.get(dataset, ()))
        for synonym in synonyms:
            found = by_name.get(synonym)
            if found is not None and found not in used:
                mapping[field] = found
                used.add(found)
                break
    return mapping


@dataclass(frozen=True)
class SavedMapping:
    """What a saved mapping holds: the columns, the constants and the value recoding.

    ``columns`` is ``{field: column}``; ``constants`` is ``{field: value}`` (the same value on every
    row); ``values`` is ``{field: {value in the file: vocabulary value}}`` (see :mod:`carto.ingest.values`).
    """

    columns: dict[str, str] = dc_field(default_factory=dict)
    constants: dict[str, str] = dc_field(default_factory=dict)
    values: dict[str, dict[str, str]] = dc_field(default_factory=dict)

    def document(self) -> dict[str, object]:
        """The JSON object written to a file: a flat ``{field: column}`` when there is nothing else."""
        if not self.constants and not self.values:
            return dict(sorted(self.columns.items()))
        return {
            "mapping": dict(sorted(self.columns.items())),
            "constants": dict(sorted(self.constants.items())),
            "values": {f: dict(sorted(v.items())) for f, v in sorted(self.values.items())},
        }

    def to_json(self) -> str:
        return json.dumps(self.document(), ensure_ascii=False, indent=2) + "\n"


def save_mapping(
    mapping: dict[str, str],
    path: Path,
    *,
    constants: dict[str, str] | None = None,
    values: dict[str, dict[str, str]] | None = None,
) -> None:
    """Write a mapping as JSON (with its constants and value recoding, if any), for :func:`load_saved_mapping`."""
    saved = SavedMapping(dict(mapping), dict(constants or {}), {f: dict(v) for f, v in (values or {}).items()})
    path.write_text(saved.to_json(), encoding="utf-8")


# A saved mapping is a few dozen short names: anything much bigger or deeper is not one.
MAPPING_MAX_BYTES = 256 * 1024
# A flat object; or the same object under a "mapping" key, with "constants" and "values"
# (``{"values": {"type": {"CCAS de Rezé": "ccas"}}}``: three levels).
_MAPPING_MAX_DEPTH = 3
_MAPPING_EXAMPLE = '{"name": "nom_structure", "lat": "Latitude"}'
_SECTIONS = ("mapping", "constants", "values")
_LISTED = 5


def all_mapping_fields() -> tuple[str, ...]:
    """Every field a mapping may name, whatever the dataset, in model order."""
    from carto.model import DATASETS

    return tuple(dict.fromkeys(f for name in DATASETS for f in mapping_fields(name)))


def _value_fields() -> tuple[str, ...]:
    """Every field with allowed values, whatever the dataset."""
    from carto.model import DATASETS

    return tuple(dict.fromkeys(c.name for ds in DATASETS.values() for c in ds.columns if c.choices is not None))


def _nests_deeper(text: str, limit: int) -> bool:
    """True when arrays and objects in the JSON ``text`` nest more than ``limit`` deep.

    A plain scan (brackets inside strings do not count), so a hostile file never reaches the
    parser's recursion.
    """
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _json_kind(value: object) -> str:
    kinds = {dict: "an object", list: "a list", str: "a text", bool: "true/false", type(None): "null"}
    return kinds.get(type(value), "a number")


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return ", ".join(repr(n[:80]) for n in names[:_LISTED]) + more


def _mapping_problems(value: object, *, fields: tuple[str, ...] | None = None, what: str = "a column") -> list[str]:
    """What keeps ``value`` (parsed JSON) from being a ``{"field": "text"}`` object."""
    if not isinstance(value, dict):
        return [f"the file holds {_json_kind(value)}, not an object"]
    fields = fields or all_mapping_fields()
    unknown = [key for key in value if key not in fields]
    not_text = [key for key, column in value.items() if not isinstance(column, str)]
    problems = []
    if unknown:
        problems.append(f"unknown fields {_listed(unknown)} (the fields are: {', '.join(fields)})")
    if not_text:
        shown = ", ".join(f"{key[:80]!r} is {_json_kind(value[key])}" for key in not_text[:_LISTED])
        more = f" and {len(not_text) - _LISTED} more" if len(not_text) > _LISTED else ""
        problems.append(f"{what} is a text, but {shown}{more}")
    return problems


def _values_problems(value: object) -> list[str]:
    """What keeps ``value`` from being ``{"field": {"value in the file": "vocabulary value"}}``."""
    if not isinstance(value, dict):
        return [f"'values' holds {_json_kind(value)}, not an object"]
    fields = _value_fields()
    problems = []
    unknown = [key for key in value if key not in fields]
    if unknown:
        problems.append(f"'values' names unknown fields {_listed(unknown)} (the fields are: {', '.join(fields)})")
    for key, recoding in value.items():
        if not isinstance(recoding, dict):
            problems.append(f"'values' of {key[:80]!r} is {_json_kind(recoding)}, not an object")
        elif not all(isinstance(v, str) for v in recoding.values()):
            problems.append(f"'values' of {key[:80]!r}: a vocabulary value is a text")
    return problems


def _too_big(name: str, size: int) -> InputError:
    return InputError(
        f"{name} is {size:,} bytes: a mapping file is at most {MAPPING_MAX_BYTES // 1024} KB; "
        "give a mapping saved by --save-mapping or by the import page"
    )


def parse_saved_mapping(data: bytes, *, name: str = "the uploaded file") -> SavedMapping:
    """The mapping in ``data`` (JSON): a flat ``{"field": "column"}`` object, or one under a
    ``"mapping"`` key with ``"constants"`` and ``"values"`` beside it; anything else refused with one
    message.

    The size and the nesting are checked before parsing, so a hostile file cannot exhaust memory
    or the parser's recursion. Constants and values are checked against a dataset when applied.
    """
    if len(data) > MAPPING_MAX_BYTES:
        raise _too_big(name, len(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{name} is not a mapping: it is not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise InputError(msg) from None
    if _nests_deeper(text, _MAPPING_MAX_DEPTH):
        msg = (
            f"{name} is not a mapping: its JSON nests more than {_MAPPING_MAX_DEPTH} levels deep; "
            f"expected a flat JSON object of field names to column names, e.g. {_MAPPING_EXAMPLE}"
        )
        raise InputError(msg)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{name} is not a mapping: it is not valid JSON ({exc})"
        raise InputError(msg) from None
    constants: object = {}
    values: object = {}
    if isinstance(value, dict) and "mapping" in value and set(value) <= set(_SECTIONS):
        constants, values = value.get("constants", {}), value.get("values", {})
        value = value["mapping"]
    problems = _mapping_problems(value)
    dataset_fields = tuple(f for f in all_mapping_fields() if f not in COORDINATE_FIELDS)
    if constants:
        problems += [
            f"'constants': {p}" for p in _mapping_problems(constants, fields=dataset_fields, what="a value")
        ]
    if values:
        problems += _values_problems(values)
    if problems:
        msg = (
            f"{name} is not a mapping: {'; '.join(problems)}; "
            f"expected a flat JSON object of field names to column names, e.g. {_MAPPING_EXAMPLE}"
        )
        raise ValidationError(msg, problems)
    assert isinstance(value, dict) and isinstance(constants, dict) and isinstance(values, dict)
    return SavedMapping(dict(value), dict(constants), {f: dict(v) for f, v in values.items()})


def parse_mapping(data: bytes, *, name: str = "the uploaded file") -> dict[str, str]:
    """The ``{"field": "column"}`` part of the mapping in ``data`` (see :func:`parse_saved_mapping`)."""
    return parse_saved_mapping(data, name=name).columns


def load_saved_mapping(path: Path) -> SavedMapping:
    """Read a mapping written by :func:`save_mapping` or the page (see :func:`parse_saved_mapping`)."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAPPING_MAX_BYTES + 1)
            size = os.fstat(file.fileno()).st_size
    except OSError as exc:
        msg = f"cannot read the mapping file {path.name}: {exc.strerror or exc}"
        raise InputError(msg) from None
    if len(data) > MAPPING_MAX_BYTES:
        raise _too_big(path.name, max(size, len(data)))
    return parse_saved_mapping(data, name=path.name)


def load_mapping(path: Path) -> dict[str, str]:
    """The columns of a mapping written by :func:`save_mapping` (see :func:`load_saved_mapping`)."""
    return load_saved_mapping(path).columns


def parse_map_args(args: list[str], dataset: str) -> dict[str, str]:
    """``["FIELD=COLUMN", ...]`` from the CLI's ``--map`` options as a mapping for ``dataset``."""
    fields = mapping_fields(dataset)
    mapping: dict[str, str] = {}
    for arg in args:
        field, sep, column = arg.partition("=")
        field = field.strip()
        if not sep or not field or not column:
            msg = f"--map {arg!r}: expected FIELD=COLUMN, e.g. --map name=nom_structure"
            raise InputError(msg)
        if field not in fields:
            msg = f"--map {arg!r}: {dataset} has no field {field!r}; fields: {', '.join(fields)}"
            raise InputError(msg)
        mapping[field] = column
    return mapping


# --- CRS --------------------------------------------------------------------------------------


# Candidates in order of preference when several fit: the official Lambert-93 first.
_CANDIDATE_CRS = (
    "EPSG:4326",
    "EPSG:2154",
    *(f"EPSG:{code}" for code in range(3942, 3951)),
    "EPSG:27572",
    "EPSG:3857",
)


def _sample(values: np.ndarray, size: int = 2000) -> np.ndarray:
    if len(values) <= size:
        return values
    return values[np.linspace(0, len(values) - 1, size).astype(int)]


def guess_crs(xs: object, ys: object) -> list[str]:
    """Candidate CRS whose coordinates put every point in metropolitan France, best first.

    Never applied silently: the caller shows the candidates and the user confirms one.
    """
    x = pd.to_numeric(pd.Series(xs), errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(pd.Series(ys), errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = _sample(x[keep]), _sample(y[keep])
    if len(x) == 0:
        return []
    west, south, east, north = METROPOLITAN_FRANCE
    found = []
    for code in _CANDIDATE_CRS:
        if code == "EPSG:4326":
            lon, lat = x, y
        else:
            transformer = pyproj.Transformer.from_crs(code, CRS, always_xy=True)
            lon, lat = transformer.transform(x, y)
        lon, lat = np.asarray(lon), np.asarray(lat)
        inside = np.isfinite(lon) & np.isfinite(lat) & (lon >= west) & (lon <= east)
        inside &= (lat >= south) & (lat <= north)
        if inside.all():
            found.append(code)
    return found


def detect_swapped_lonlat(lon: object, lat: object) -> bool:
    """True when most "longitudes" look like French latitudes and "latitudes" like longitudes."""
    x = pd.to_numeric(pd.Series(lon), errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(pd.Series(lat), errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if not keep.any():
        return False
    x, y = x[keep], y[keep]
    west, south, east, north = METROPOLITAN_FRANCE
    swapped = (x >= south) & (x <= north) & (y >= west) & (y <= east)
    normal = (x >= west) & (x <= east) & (y >= south) & (y <= north)
    return bool(swapped.mean() >= 0.9 and normal.mean() < 0.5)


def _crs_error(shown: str, xs: object, ys: object, what: str) -> InputError:
    candidates = guess_crs(xs, ys)
    if candidates:
        listed = ", ".join(candidates)
        hint = f"its coordinates fit {listed}; confirm one with --crs {candidates[0]} (or choose it on the page)"
    else:
        hint = "its coordinates fit no usual French CRS; give the right one with --crs EPSG:N"
    return InputError(f"{shown}: {what} has no CRS; {hint}")


def _check_crs(code: str) -> pyproj.CRS:
    # The same rule as for a CRS read from a file: nothing that makes PROJ open a grid or a file.
    text = check_crs_text(code, whose="the coordinate system", fix="give it as EPSG:N, e.g. EPSG:2154 for Lambert-93")
    try:
        return pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.ProjError:  # CRSError included
        msg = f"unknown CRS {code!r}; give it as EPSG:N, e.g. EPSG:2154 for Lambert-93"
        raise InputError(msg) from None


# --- applying a mapping -----------------------------------------------------------------------


def _numbers(series: pd.Series) -> pd.Series:
    """Coordinates as floats; decimal commas accepted; anything else becomes NaN."""
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    text = series.astype("str").str.strip().str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce")


def _points(x: pd.Series, y: pd.Series) -> np.ndarray:
    xs, ys = _numbers(x).to_numpy(dtype=float), _numbers(y).to_numpy(dtype=float)
    missing = ~(np.isfinite(xs) & np.isfinite(ys))
    points = np.asarray(shapely.points(np.where(missing, 0.0, xs), np.where(missing, 0.0, ys)), dtype=object)
    points[missing] = None
    return points


def _attach_to_territories(
    codes: pd.Series, territories: gpd.GeoDataFrame, warnings: list[str]
) -> tuple[pd.Series, np.ndarray, pd.Series]:
    """(code used, point on surface of that territory, issue) for each row's commune code."""
    known = territories.set_index(territories["code"].astype(str))
    surface = known.geometry.to_crs(CRS) if known.crs is not None else known.geometry
    anchors = dict(zip(known.index, shapely.point_on_surface(surface.values), strict=True))
    text = codes.astype("str").str.strip().where(codes.notna())
    padded = text.where(~(text.str.fullmatch(r"\d{4}").fillna(False)), "0" + text)
    fixed = text.where(text.isin(anchors.keys()) | ~padded.isin(anchors.keys()), padded)
    repaired = int((text.notna() & (fixed != text)).sum())
    if repaired:
        warnings.append(f"{repaired} commune codes had lost their leading zero (e.g. 1001 → 01001) and were completed")
    geometry = np.array([anchors.get(code) for code in fixed], dtype=object)
    issue = pd.Series(pd.NA, index=codes.index, dtype="str")
    issue[fixed.isna()] = "no coordinates and no commune code"
    unknown = fixed.notna() & ~fixed.isin(anchors.keys())
    issue[unknown] = "commune code " + fixed[unknown].map(repr) + " is not a known territory"
    return fixed, geometry, issue


def geometry_gap(raw: RawTable, dataset: str, mapping: dict[str, str]) -> tuple[str, str] | None:
    """Why :func:`apply_mapping` cannot place the rows, as ``(code, field)``; None when it can.

    For a page that says it in words before trying: ``("no_geometry", "")`` (no coordinates, no
    commune code, no geometry in the file), ``("missing_pair", "lat")`` (one of a coordinate pair
    is mapped), ``("swapped", "lon")`` (the longitudes look like latitudes and the other way round).
    """
    ds = get_dataset(dataset)
    mapped = {f: c for f, c in mapping.items() if c}
    if ds.geometry is None:
        return None
    for pair in (("lon", "lat"), ("x", "y")):
        given = [f for f in pair if f in mapped]
        if len(given) == 1:
            return ("missing_pair", next(f for f in pair if f not in mapped))
    frame = raw.frame
    if "lon" in mapped and "lat" in mapped:
        lon, lat = frame.get(mapped["lon"]), frame.get(mapped["lat"])
        if lon is not None and lat is not None and detect_swapped_lonlat(_numbers(lon), _numbers(lat)):
            return ("swapped", "lon")
        return None
    if "x" in mapped or (isinstance(frame, gpd.GeoDataFrame) and not frame.geometry.isna().all()):
        return None
    if ds.name in ("actors", "places") and "territory_code" in mapped:
        return None
    return ("no_geometry", "")


def apply_mapping(
    raw: RawTable,
    dataset: str,
    mapping: dict[str, str],
    *,
    crs: str | None,
    territories: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """The dataset's columns from ``raw`` through ``mapping``; a geometry in EPSG:4326 if spatial.

    ``crs`` is the CRS the user confirmed, for x/y columns or a file without one (it overrides the
    file's). ``territories`` (code + geometry) attaches rows without coordinates by commune code.
    """
    ds: Dataset = get_dataset(dataset)
    frame = raw.frame
    shown = raw.original_name
    fields = mapping_fields(dataset)
    unknown_fields = [f for f in mapping if f not in fields]
    if unknown_fields:
        msg = f"{dataset} has no field {unknown_fields[0]!r}; fields: {', '.join(fields)}"
        raise InputError(msg)
    missing = [c for c in mapping.values() if c not in frame.columns]
    if missing:
        msg = f"{shown} has no column {missing[0]!r}; its columns: {', '.join(map(str, frame.columns))}"
        raise InputError(msg)
    out = pd.DataFrame(index=frame.index)
    for column in ds.column_names:
        source = mapping.get(column)
        out[column] = frame[source] if source is not None else pd.Series(pd.NA, index=frame.index, dtype="str")
    out["_row"] = np.arange(len(frame), dtype="int64") + raw.first_row
    if raw.format in ("csv", "xlsx") and pd.api.types.is_integer_dtype(frame.index):
        out["_row"] = frame.index.to_numpy(dtype="int64") + raw.first_row
    out["_issue"] = pd.Series(pd.NA, index=frame.index, dtype="str")
    warnings: list[str] = list(raw.warnings)
    out.attrs["warnings"] = warnings
    if ds.geometry is None:
        return out.reset_index(drop=True)

    has_lonlat = "lon" in mapping or "lat" in mapping
    has_xy = "x" in mapping or "y" in mapping
    file_geometry = isinstance(frame, gpd.GeoDataFrame) and not frame.geometry.isna().all()
    if has_lonlat or has_xy:
        pair = ("lon", "lat") if has_lonlat else ("x", "y")
        absent = [f for f in pair if f not in mapping]
        if absent:
            msg = f"map both {pair[0]} and {pair[1]}: {absent[0]} is missing (--map {absent[0]}=COLUMN)"
            raise InputError(msg)
        xs, ys = frame[mapping[pair[0]]], frame[mapping[pair[1]]]
        if has_lonlat:
            if detect_swapped_lonlat(_numbers(xs), _numbers(ys)):
                msg = (
                    f"{shown}: column {mapping['lon']!r} holds latitudes and {mapping['lat']!r} longitudes; "
                    f"swap them: --map lon={mapping['lat']} --map lat={mapping['lon']}"
                )
                raise InputError(msg)
            source_crs = CRS
        else:
            if crs is None:
                raise _crs_error(shown, _numbers(xs), _numbers(ys), f"columns {mapping['x']!r}/{mapping['y']!r}")
            source_crs = crs
        geometry = gpd.GeoSeries(_points(xs, ys), index=frame.index, crs=_check_crs(source_crs))
        issue = pd.Series(pd.NA, index=frame.index, dtype="str")
        issue[geometry.isna()] = f"no coordinates in {mapping[pair[0]]!r}/{mapping[pair[1]]!r}"
        out["_issue"] = issue
    elif file_geometry:
        assert isinstance(frame, gpd.GeoDataFrame)
        geometry = frame.geometry
        source = crs or raw.crs
        if source is None:
            bounds = geometry.bounds
            raise _crs_error(shown, bounds["minx"], bounds["miny"], "the file")
        if crs is not None and raw.crs is not None and crs != raw.crs:
            warnings.append(f"the file says its CRS is {raw.crs}; {crs} was used as you asked")
        geometry = geometry.set_crs(_check_crs(source), allow_override=True)
    elif ds.name in ("actors", "places") and "territory_code" in mapping:
        if territories is None or territories.empty:
            msg = f"{shown} has no coordinates: attaching rows by commune code needs territories loaded first"
            raise InputError(msg)
        code, points, issue = _attach_to_territories(out["territory_code"], territories, warnings)
        out["territory_code"] = code
        out["_issue"] = issue
        geometry = gpd.GeoSeries(points, index=frame.index, crs=CRS)
    else:
        need = "lon/lat or x/y columns" + (", or a commune code" if ds.name in ("actors", "places") else "")
        msg = f"{shown} has no geometry: map {need} (--map lon=COLUMN --map lat=COLUMN)"
        raise InputError(msg)
    if geometry.crs is not None and not geometry.crs.equals(pyproj.CRS(CRS)):
        geometry = geometry.to_crs(CRS)
    result = gpd.GeoDataFrame(out, geometry=geometry.rename("geometry").values, crs=CRS)
    result.attrs["warnings"] = warnings
    return result.reset_index(drop=True)

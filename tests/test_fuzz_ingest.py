"""Bounded fuzzing of the upload entry points: random and mutated GeoJSON, CSV and zip bytes.

Whatever the bytes, reading and preparing an upload either works or raises a clear
:class:`~carto.errors.CartoError` (shown to the user as one message); nothing else escapes, and
the reader's child process never takes the test process down with it.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carto import store
from carto.errors import CartoError
from carto.ingest import pipeline
from carto.ingest.read import save_upload

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same inputs on every run: CI never fails by chance
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

GEOJSON = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "A1", "nom": "CCAS de Nantes", "type": "ccas"},
                "geometry": {"type": "Point", "coordinates": [-1.55, 47.22]},
            },
            {
                "type": "Feature",
                "properties": {"id": "A2", "nom": "Centre social", "type": "centre_social"},
                "geometry": {"type": "Point", "coordinates": [-1.60, 47.20]},
            },
        ],
    }
).encode()

CSV = b"id;nom;type;lon;lat\nA1;CCAS de Nantes;ccas;-1,55;47,22\nA2;Mission locale;mission_locale;-1,6;47,2\n"


def _zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few bytes flipped, cut or inserted: almost valid files are the sharp ones."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(("flip", "cut", "insert")))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at : at + draw(st.integers(1, 40))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
    return bytes(data)


def _read_and_prepare(conn: store.Connection, workdir: Path, data: bytes, name: str) -> None:
    try:
        path = save_upload(data, name, workdir)
        raw = pipeline.read(path, original_name=name)
        pipeline.prepare_raw(raw, dataset="actors", conn=conn, mapping_overrides={}, crs=None, repair=False)
    except CartoError as exc:
        message = str(exc)
        assert message.strip(), "an error must say something"
        assert "Traceback" not in message
        assert str(workdir) not in message, "messages name the user's file, not a server path"


@pytest.fixture(scope="module")
def fuzz_conn():
    connection = store.connect(":memory:")
    yield connection
    connection.close()


@FUZZ
@given(data=st.one_of(st.binary(max_size=3000), mutated(GEOJSON)))
def test_geojson_bytes_never_escape_as_crashes(fuzz_conn, tmp_path_factory, data):
    _read_and_prepare(fuzz_conn, tmp_path_factory.mktemp("fuzz"), data, "partenaires.geojson")


@FUZZ
@given(data=st.one_of(st.binary(max_size=3000), mutated(CSV)))
def test_csv_bytes_never_escape_as_crashes(fuzz_conn, tmp_path_factory, data):
    _read_and_prepare(fuzz_conn, tmp_path_factory.mktemp("fuzz"), data, "partenaires.csv")


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=3000),
        mutated(_zip_of({"acteurs.geojson": GEOJSON})),
        st.dictionaries(
            st.sampled_from(("a.shp", "a.dbf", "a.shx", "../evil.shp", "/abs.dbf", "x/y.csv", "in.zip")),
            st.binary(max_size=200),
            max_size=4,
        ).map(_zip_of),
    )
)
def test_zip_bytes_never_escape_as_crashes(fuzz_conn, tmp_path_factory, data):
    _read_and_prepare(fuzz_conn, tmp_path_factory.mktemp("fuzz"), data, "partenaires.zip")

"""The schemes' lead in the store and the import, the ``social`` command, the sentences, and what the
embedded sample shows of the social space."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
import summary_data

from carto import cli, store
from carto.analysis import footprint, network, partnerships, pathways
from carto.analysis.social import NamedPair, SocialFacts
from carto.ingest import sample
from carto.ingest.mapping import suggest_mapping
from carto.render import social_text

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

# --- the lead of a scheme ----------------------------------------------------------------------


def test_an_older_database_gets_the_lead_column(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    conn = store.connect(db)
    cur = conn.cursor()
    # As a database made before migration 4: schemes without a lead, schema at version 3, and the
    # kept snapshot of an earlier schemes import (for its undo), without a lead either.
    cur.execute('ALTER TABLE schemes DROP COLUMN "lead"')
    cur.execute("CREATE TABLE snapshot_schemes_1 AS SELECT * FROM schemes")
    cur.execute("INSERT INTO import_snapshots VALUES (1, 'schemes', 'snapshot_schemes_1', 0)")
    cur.execute("DELETE FROM schema_version WHERE version >= 4")
    assert store.schema_version(cur) == 3
    assert store.migrate(conn) == store.SCHEMA_VERSION  # 4, then the edits log (5)

    def columns(table: str) -> set[str]:
        sql = "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
        return {row[0] for row in cur.execute(sql, [table]).fetchall()}

    assert "lead" in columns("schemes")
    assert "lead" in columns("snapshot_schemes_1")
    conn.close()


def test_a_lead_column_is_recognised_and_imported(tmp_path: Path, new_db: str) -> None:
    assert suggest_mapping(["id", "nom", "pilote"], "schemes")["lead"] == "pilote"
    assert suggest_mapping(["id", "name", "lead"], "schemes")["lead"] == "lead"
    db = new_db
    schemes_csv = tmp_path / "dispositifs.csv"
    schemes_csv.write_text("id,nom,type,pilote\nS1,Contrat local de santé,cls,A-1\n", encoding="utf-8")
    assert cli.main(["--db", db, "import", "schemes", str(schemes_csv)]) == 0
    conn = store.connect(db)
    stored = store.read_dataset(conn.cursor(), "schemes")
    conn.close()
    assert stored[["id", "lead"]].to_dict("records") == [{"id": "S1", "lead": "A-1"}]


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return summary_data.write_database(tmp_path_factory.mktemp("db"))


def test_social_command_prints_json(tiny_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--db", str(tiny_db), "social", "C2", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    # C2 holds a4 (and p3): partnership r4 a3–a4 (contract); no CCAS; neighbours C1 and C3.
    assert facts["code"] == "C2" and facts["level"] == "commune"
    assert facts["partnerships"] == 1
    assert facts["stages"] == {"negotiation": 0, "contract": 1, "delivery": 0, "review": 0, "none": 0}
    assert facts["fragile"] == [] and facts["ccas"] == 0
    assert facts["missing_kinds"] == ["contrat_de_ville"]  # C1 has one, C2 does not


def test_social_command_in_words_and_its_errors(tiny_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--db", str(tiny_db), "social", "C2", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "  No CCAS in this territory.\n" in out
    assert "  Its neighbours have, and it lacks: City contract (contrat de ville).\n" in out
    assert cli.main(["--db", str(tiny_db), "social", "ZZ9"]) == 2
    assert "ZZ9" in capsys.readouterr().err
    assert cli.main(["--db", str(tiny_db), "social", "C2", "--buffer-km", "0"]) == 2


# --- sentences ---------------------------------------------------------------------------------


def _facts(**changed: object) -> SocialFacts:
    values: dict[str, object] = {
        "code": "C1", "level": "commune", "groups": 2, "share_outside": 0.25, "reached": ("Bourg", "Val"),
        "ccas": 1, "ccas_reach": (1.0, 2.5, 4.0), "dead_ends": 1,
        "stages": {"negotiation": 1, "contract": 0, "delivery": 2, "review": 0, "none": 0}, "partnerships": 3,
        "fragile": (NamedPair("Alpha", "Beta"),), "stuck": NamedPair("Alpha", "Gamma", 400),
        "schemes": (), "missing_kinds": (), "since": dt.date(2024, 1, 1), "until": dt.date(2024, 12, 31),
        "changes": {"appeared": 2, "ended": 1, "changed": 0, "same": 5},
    }
    values.update(changed)
    return SocialFacts(**values)  # type: ignore[arg-type]


def test_summary_sentences_in_english() -> None:
    sections = social_text.summary_sections(_facts(), "Ville", "en")
    assert [heading for heading, _, _ in sections] == [
        "Social space", "Pathways: referrals", "Partnerships: life and fragility", "Schemes", "What changed",
    ]
    assert sections[0][1] == [
        "2 communities of the network work in Ville; 25% of their social space lies outside its borders. "
        "These communities also reach Bourg, Val."
    ]
    assert sections[1][1] == [
        "Entering at the territory's CCAS, a person can reach 1, 2.5 and 4 services within 1, 2 and 3 referrals.",
        "1 service receives cases and passes none on (a dead end).",
    ]
    # 1 fragile of 3 partnerships: 33 %; stuck since 400 days
    assert sections[2][1][1:] == [
        "1 partnership (33%) rests on personal links only: it would leave with a person.",
        "Longest in negotiation: Alpha – Gamma, for 400 days.",
    ]
    assert sections[2][2] == ["Alpha – Beta"]
    assert sections[4][1] == [
        "From 1 January 2024 to 31 December 2024: 2 links appeared, 1 ended, 0 changed kind or stage."
    ]


def test_long_lists_of_names_are_cut() -> None:
    names = [f"T{i}" for i in range(8)]
    assert social_text.names_list(names, "fr") == "T0, T1, T2, T3, T4 et 3 autres"
    assert social_text.names_list(names[:6], "en") == "T0, T1, T2, T3, T4 and 1 more"


def test_a_footprint_sentence_in_french() -> None:
    row = pd.Series({"shape": "compact", "area_km2": 3.14159, "parts": 1, "share_outside": 0.0, "nodes": 2})
    assert social_text.footprint_sentence(row, "Aval", "fr") == (
        "Espace social compact : une seule zone continue de 3,1 km² autour de ses 2 lieux et acteurs ; "
        "0\u202f% se trouve hors de Aval."
    )


# --- the embedded sample shows each of these --------------------------------------------------


@pytest.fixture(scope="module")
def sample_frames() -> dict[str, pd.DataFrame]:
    return sample.read_folder(sample.SAMPLE_DIR)


def test_the_sample_has_dead_ends_loops_every_stage_and_fragile_partnerships(sample_frames) -> None:
    relations = sample_frames["relations"]
    graph = pathways.referral_graph(pathways.referrals(relations))
    assert len(pathways.dead_ends(graph)) >= 10
    assert pathways.loops(graph)
    links = partnerships.partnership_links(relations)
    assert partnerships.stage_counts(links)["negotiation"] > 0
    assert min(partnerships.stage_counts(links)[s] for s in ("negotiation", "contract", "delivery", "review")) > 0
    assert links["fragile"].sum() >= 3


def test_every_sample_scheme_has_a_lead_among_its_partners(sample_frames) -> None:
    relations, schemes = sample_frames["relations"], sample_frames["schemes"]
    actors = set(sample_frames["actors"]["id"])
    for sid, lead in zip(schemes["id"], schemes["lead"], strict=True):
        attached = relations[relations["scheme_id"] == sid]
        assert lead in actors
        assert lead in set(attached["source"]) | set(attached["target"]), sid


def _sample_community_footprints(sample_db) -> pd.DataFrame:
    """The communities' footprints on the sample, at EPCI level and the default 1 km buffer."""
    conn = store.connect(sample_db, read_only=True)
    try:
        f = store.read_datasets(conn.cursor(), ("territories", "actors", "places", "relations"))
    finally:
        conn.close()
    nodes = footprint.node_table(f["actors"], f["places"])
    metrics = network.node_metrics(f["actors"], f["places"], f["relations"])
    return footprint.group_footprints(footprint.community_groups(metrics), nodes, f["territories"], level="epci")


def test_sample_communities_cross_borders(sample_db) -> None:
    prints = _sample_community_footprints(sample_db)
    crossing = prints[(prints["share_outside"] > 0.2) & (prints["reached"].map(len) > 0)]
    assert len(crossing) >= 3


def test_sample_communities_are_compact_and_scattered(sample_db) -> None:
    # The quartiers of scripts/build_sample.py (nodes within 1.2 km, densely linked among themselves)
    # are communities of one continuous part at 1 km; the rest spread over their EPCI and beyond.
    assert footprint.BUFFER_M == 1_000
    prints = _sample_community_footprints(sample_db)
    compact, scattered = prints[prints["parts"] == 1], prints[prints["parts"] > 1]
    assert len(compact) >= 1 and set(compact["shape"]) == {"compact"}
    assert len(scattered) >= 3 and set(scattered["shape"]) == {"scattered"}


def test_hostile_names_stay_text_in_the_documents() -> None:
    import io

    from fpdf import FPDF
    from pypdf import PdfReader

    from carto.render import social_document
    from carto.render.pdf import FONTS_DIR

    facts = _facts(fragile=(NamedPair("<img src=x onerror=alert(1)>", "{{ 7*7 }}"),), reached=("</script>",))
    page = social_document.social_html(facts, "<b>Ville</b>", "fr")
    assert "<img" not in page and "</script>" not in page and "<b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; – {{ 7*7 }}" in page
    pdf = FPDF()
    pdf.add_font("DejaVu", "", str(FONTS_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS_DIR / "DejaVuSans-Bold.ttf"))
    social_document.add_social_page(pdf, facts, "<b>Ville</b>", "fr")
    text = PdfReader(io.BytesIO(bytes(pdf.output()))).pages[0].extract_text()
    assert "<img src=x onerror=alert(1)> – {{ 7*7 }}" in text


def test_the_year_by_year_figure_has_one_frame_per_year_and_names_as_text() -> None:
    import geopandas as gpd
    from shapely.geometry import Point

    from carto.render import social as draw

    nodes = gpd.GeoDataFrame({"name": ["<img src=x onerror=alert(1)>", "B", "C"], "type": ["ccas", "caf", "pmi"]},
                             geometry=[Point(0, 0), Point(1, 0), Point(2, 0)], index=pd.Index(["a", "b", "c"]),
                             crs="EPSG:4326")
    running = {2021: pd.DataFrame({"source": ["a"], "target": ["b"]}),
               2022: pd.DataFrame({"source": ["a", "b"], "target": ["b", "c"]})}
    figure = draw.network_by_year(nodes, running, "en")
    assert [f.name for f in figure.frames] == ["2021", "2022"]
    # one segment per relation: two ends and a gap each
    assert len(figure.frames[1].data[0].x) == 6
    assert list(figure.frames[0].data[1].marker.size) == [7, 7, 3]  # c has no link in 2021
    assert figure.data[1].text[0] == "&lt;img src=x onerror=alert(1)&gt; (CCAS – municipal social services)"


def test_the_change_network_colours_each_link_by_its_change_with_a_legend() -> None:
    import geopandas as gpd
    from shapely.geometry import Point

    from carto.analysis import changes
    from carto.render import social as draw

    nodes = gpd.GeoDataFrame({"name": ["<b>A</b>", "B", "C", "D"], "type": ["ccas", "caf", "pmi", "caf"]},
                             geometry=[Point(0, 0), Point(1, 0), Point(2, 0), Point(3, 0)],
                             index=pd.Index(["a", "b", "c", "d"]), crs="EPSG:4326")
    relations = pd.DataFrame({
        "source": ["a", "b", "c", "a"], "target": ["b", "c", "d", "d"],
        "kind": ["partnership", "referral", "referral", "referral"],
        "stage": [None, None, None, None],
        "start": ["2020-01-01", "2020-01-01", "2022-01-01", "2020-01-01"],
        "end": [None, "2021-06-01", None, None],
    })
    # 2021-01-01: a–b, b–c, a–d running; 2023-01-01: a–b, c–d, a–d running.
    diff = changes.compare_dates(relations, dt.date(2021, 1, 1), dt.date(2023, 1, 1))
    figure = draw.change_network(nodes, diff, "en")
    lines = {t.name: t for t in figure.data[:4]}
    # appeared c–d, ended b–c, nothing changed, a–b and a–d the same: one segment is two ends and a gap
    assert list(lines) == ["appeared (1)", "ended (1)", "changed (0)", "unchanged (2)"]
    assert list(lines["appeared (1)"].x[:2]) == [2.0, 3.0] and len(lines["appeared (1)"].x) == 3  # c at 2, d at 3
    assert len(lines["unchanged (2)"].x) == 6 and len(lines["changed (0)"].x) == 0
    assert lines["appeared (1)"].line.color == draw.CHANGE_COLOURS["appeared"]
    assert lines["ended (1)"].line.color == draw.CHANGE_COLOURS["ended"]
    marks = figure.data[4]
    # a: same; b: ended (b–c) before same; c: appeared (c–d) first; d: appeared
    assert list(marks.text) == ["&lt;b&gt;A&lt;/b&gt; (unchanged)", "B (ended)", "C (appeared)", "D (appeared)"]
    assert list(marks.marker.color) == [draw.CHANGE_COLOURS[k] for k in ("same", "ended", "appeared", "appeared")]
    assert figure.layout.legend.title.text == "Change"

"""The explorer's caches warmed off the request path: at server start and after each commit."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import summary_data

from carto import store, ui
from carto.analysis import scene
from carto.ingest import sample
from carto.ui import cache

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS


@pytest.fixture
def tiny_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = summary_data.write_database(tmp_path)
    monkeypatch.setenv("CARTO_DB", str(db))
    return db


def test_warm_after_each_commit_and_only_then(tiny_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prepared: list[int] = []
    real_prepare = scene.prepare

    def counted(*frames: Any) -> scene.Base:
        prepared.append(len(frames[2]))  # the actors
        return real_prepare(*frames)

    monkeypatch.setattr(scene, "prepare", counted)
    db = str(tiny_db)
    first = cache.warm_if_changed(db, None)
    assert first == store.data_version(ui.cursor())
    assert prepared == [6]  # summary_data: a1…a6, prepared once by the warm-up
    base = cache.explorer_base(first, db)
    assert prepared == [6]  # the page's call finds it ready
    assert cache.warm_if_changed(db, first) == first  # nothing committed: nothing to do
    assert prepared == [6]
    sample.load_folder(ui.connection(), summary_data.write_folder(tiny_db.parent / "again"))  # a commit
    second = cache.warm_if_changed(db, first)
    assert second is not None
    assert first is not None
    assert second > first
    assert prepared == [6, 6]  # warmed again for the new version
    assert cache.explorer_base(second, db) is not base


def test_a_dataset_is_read_once_per_version_and_a_page_cannot_change_it(tiny_db: Path) -> None:
    version = store.data_version(ui.cursor())
    first = ui.read("actors", version)
    # A page that writes into what it read (a new column, one changed cell) changes its copy only.
    first["score"] = 1.0
    first.loc[first["id"] == "a1", "name"] = "changed by a page"
    again = ui.read("actors", version)
    assert "score" not in again.columns
    assert again.set_index("id").at["a1", "name"] == "CCAS de Ville-Haute"  # as summary_data stored it
    # Both are views of the one frame kept for the version, not copies of it.
    assert first is not again
    assert ui._read_cached("actors", version, str(tiny_db)) is ui._read_cached("actors", version, str(tiny_db))


def test_the_server_warms_the_explorer_as_it_starts(tiny_db: Path) -> None:
    from bench.serve import start_streamlit, stop

    _, proc = start_streamlit(tiny_db)
    log = tiny_db.with_suffix(".streamlit.log")
    try:
        deadline = time.monotonic() + 60
        found = None
        while found is None and time.monotonic() < deadline:
            found = re.search(r"carto: explorer warm for data version (\d+)", log.read_text(errors="replace"))
            time.sleep(0.2)
    finally:
        stop(proc)
    assert found is not None, log.read_text(errors="replace")[-2000:]
    with store.connect(tiny_db) as conn:
        assert int(found.group(1)) == store.data_version(conn.cursor())


def test_the_launcher_caps_the_allocator_arenas_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    from carto.ui import serve

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert serve.limit_malloc_arenas() is True  # Debian's glibc takes M_ARENA_MAX
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert serve.limit_malloc_arenas() is False  # the administrator's own setting is left alone


def test_page_runs_ask_for_one_collection_for_all_of_them() -> None:
    collected: list[int] = []
    collector = ui.GarbageCollector(every_s=60, collect=collected.append)
    assert collector.collect_if_wanted() is False  # nobody asked
    collector._wanted.set()  # as 20 runs ending at once would: want() without its thread
    collector._wanted.set()
    assert collector.collect_if_wanted() is True
    assert collector.collect_if_wanted() is False
    assert collected == [2]  # one full collection (generation 2)


def test_the_collector_thread_collects_after_a_run_asked() -> None:
    collected: list[int] = []
    collector = ui.GarbageCollector(every_s=60, collect=collected.append)
    for _ in range(20):
        collector.want()
    deadline = time.monotonic() + 10
    while not collected and time.monotonic() < deadline:
        time.sleep(0.05)
    # Its thread's first collection at once, the next not before 60 s, however many asked.
    assert collected == [2]


def test_streamlit_does_not_collect_after_every_script_run() -> None:
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False

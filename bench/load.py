"""Many people at once: ``python -m bench.load [--sessions N] [--rounds R]``.

Starts the dashboard on a copy of the sample database, then N browser sessions (Playwright
contexts in Debian's chromium) go back and forth between the explorer and the summary while an
analyst's import commits through the import page. Reports errors seen by any session (target 0),
p50/p95 of the server's script runs (measured inside the server, ``$CARTO_RUN_LOG``) and of a page
as a browser sees it (navigation → script finished; the browsers share the machine's two cores with
the server, so this one is pessimistic), and the server's memory (RSS) after each round, to see
whether it levels off. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench.serve import start_streamlit, stop
from carto import store
from carto.ingest import sample

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PAGES = ("/", "/summary")
IDLE = "[data-test-script-state='notRunning']"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _import_file(folder: Path, rows: int) -> Path:
    """New actors near Nantes, as an analyst would bring them: French headers, a CSV."""
    path = folder / "nouveaux_partenaires.csv"
    frame = pd.DataFrame(
        {
            "identifiant": [f"LOAD-{i:05d}" for i in range(rows)],
            "nom": [f"Association de quartier n°{i}" for i in range(rows)],
            "type": ["association"] * rows,
            "secteur": ["social"] * rows,
            "longitude": [-1.55 + (i % 100) * 0.001 for i in range(rows)],
            "latitude": [47.21 + (i // 100) * 0.001 for i in range(rows)],
        }
    )
    frame.to_csv(path, index=False)
    return path


async def _visit(page, url: str, timings: list[float], errors: list[str]) -> None:
    started = time.perf_counter()
    await page.goto(url, wait_until="domcontentloaded")
    # Wait for the script to have started and then finished.
    await page.wait_for_selector("[data-testid='stApp']", timeout=120_000)
    await page.wait_for_selector(IDLE, timeout=120_000)
    await page.wait_for_timeout(100)
    await page.wait_for_selector(IDLE, timeout=120_000)
    timings.append(time.perf_counter() - started)
    exceptions = page.locator("[data-testid='stException']")
    if await exceptions.count():
        text = " ".join((await exceptions.first.inner_text()).split())[:400]
        errors.append(f"{url}: exception shown: {text}")


async def _viewer(browser, base: str, rounds: int, timings: list[float], errors: list[str], memory, pid) -> None:
    context = await browser.new_context(locale="fr-FR", viewport={"width": 1300, "height": 900})
    context.set_default_timeout(120_000)
    context.set_default_navigation_timeout(120_000)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    try:
        for _ in range(rounds):
            for path in PAGES:
                await _visit(page, base + path, timings, errors)
            memory.append(_rss_mb(pid))
    except Exception as exc:  # a session that fails is an error to report, not a crash of the bench
        errors.append(f"session failed: {type(exc).__name__}: {exc}")
    finally:
        await context.close()


async def _analyst(browser, base: str, upload: Path, errors: list[str], done: dict[str, float]) -> None:
    context = await browser.new_context(locale="fr-FR", viewport={"width": 1300, "height": 1200})
    # Ten other sessions share two cores: every step of the analyst may wait long, none may fail.
    context.set_default_timeout(600_000)
    page = await context.new_page()
    try:
        await page.goto(base + "/import?dataset=actors", wait_until="domcontentloaded")
        await page.wait_for_selector(IDLE)
        await page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(upload))
        commit = page.locator(".st-key-import_commit button")
        await commit.wait_for(timeout=600_000)
        started = time.perf_counter()
        await commit.click()
        # The import's own success line ("Import n°… terminé"), not the report's "no error" line.
        await page.get_by_text("terminé :").wait_for()
        done["import_s"] = time.perf_counter() - started
    except Exception as exc:
        errors.append(f"analyst import failed: {type(exc).__name__}: {exc}")
    finally:
        await context.close()


def _percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[int(q * (len(ordered) - 1))], 2) if ordered else None


async def _run(base: str, pid: int, sessions: int, rounds: int, upload: Path) -> dict[str, object]:
    from playwright.async_api import async_playwright

    timings: list[float] = []
    errors: list[str] = []
    memory: list[float] = [_rss_mb(pid)]
    done: dict[str, float] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        started = time.perf_counter()
        viewers = [_viewer(browser, base, rounds, timings, errors, memory, pid) for _ in range(sessions)]
        await asyncio.gather(*viewers, _analyst(browser, base, upload, errors, done))
        wall = time.perf_counter() - started
        await browser.close()
    return {
        "sessions": sessions,
        "rounds": rounds,
        "page_runs": len(timings),
        "errors": len(errors),
        "error_samples": errors[:5],
        "browser_p50_s": _percentile(timings, 0.5),
        "browser_p95_s": _percentile(timings, 0.95),
        "import_commit_s": round(done["import_s"], 2) if "import_s" in done else None,
        "rss_mb_start": round(memory[0], 1),
        "rss_mb_after_first_round": round(memory[min(sessions, len(memory) - 1)], 1),
        "rss_mb_end": round(memory[-1], 1),
        "rss_mb_per_round": [round(memory[min(len(memory) - 1, r * sessions)], 1) for r in range(rounds + 1)],
        "wall_s": round(wall, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4, help="explorer + summary visits per session")
    parser.add_argument("--import-rows", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="carto-load-") as tmp:
        folder = Path(tmp)
        db = folder / "load.duckdb"
        conn = store.connect(db)
        sample.load_folder(conn, sample.SAMPLE_DIR)
        before = store.counts(conn)
        conn.close()
        upload = _import_file(folder, args.import_rows)
        run_log = folder / "runs.log"
        url, proc = start_streamlit(db, extra_env={"CARTO_RUN_LOG": str(run_log)})
        try:
            result = asyncio.run(_run(url, proc.pid, args.sessions, args.rounds, upload))
        finally:
            stop(proc)
        runs = [float(x) for x in run_log.read_text().split()] if run_log.exists() else []
        conn = store.connect(db)
        after = store.counts(conn)
        conn.close()
        shutil.rmtree(folder / "snapshots", ignore_errors=True)
    result["server_runs"] = len(runs)
    result["server_p50_s"] = _percentile(runs, 0.5)
    result["server_p95_s"] = _percentile(runs, 0.95)
    result["actors_before"] = before["actors"]
    result["actors_after"] = after["actors"]
    print(f"sessions {result['sessions']} × {result['rounds']} rounds, {result['page_runs']} page runs")
    print(f"errors {result['errors']}")
    print(
        f"server script runs: {result['server_runs']}, p50 {result['server_p50_s']} s, "
        f"p95 {result['server_p95_s']} s"
    )
    print(f"pages as the browsers saw them: p50 {result['browser_p50_s']} s, p95 {result['browser_p95_s']} s")
    print(f"analyst import of {args.import_rows} actors committed in {result['import_commit_s']} s")
    print(
        f"server RSS {result['rss_mb_start']} MB at start, {result['rss_mb_after_first_round']} MB after "
        f"the first round, {result['rss_mb_end']} MB at the end; per round {result['rss_mb_per_round']}"
    )
    print(json.dumps(result))
    imported = result["actors_after"] == result["actors_before"] + args.import_rows
    if not imported:
        print(f"the import did not land: {result['actors_before']} actors before, {result['actors_after']} after")
    return 0 if result["errors"] == 0 and imported else 1


if __name__ == "__main__":
    raise SystemExit(main())

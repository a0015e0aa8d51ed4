"""Many people at once: ``python -m bench.load [--store duckdb|postgis] [--replicas N] [--sessions S] [--rounds R]``.

Starts the dashboard on a copy of the sample database, then S browser sessions (Playwright
contexts in Debian's chromium) go back and forth between the explorer and the summary.

- DuckDB (the default): one app process (it owns the file); an analyst's import commits through
  the import page while the sessions browse.
- PostGIS (``--store postgis``, a throwaway cluster): N app processes (``--replicas``) behind the
  nginx site of ``deploy/`` (bench/proxy.py), the sessions spread evenly over them by their
  affinity cookie. While they browse, an analyst imports actors with the command line
  (``python -m carto import``) and then runs ``python -m carto backup``; one probe browser pinned to
  each replica keeps the explorer open, untouched, until it shows the new number of actors.

Reports errors seen by any session (target 0), p50/p95 of the server's script runs (measured inside
each replica, ``$CARTO_RUN_LOG``) and of a page as a browser sees it (navigation → script finished;
the browsers share the machine's two cores with the servers, so this one is pessimistic), each
replica's memory (RSS) after each round and its growth over the last 5 rounds, and on PostGIS the
time from the import's commit until every replica shows it, and the backup's duration. The last
line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench import postgres, proxy
from bench.serve import PROJECT, start_streamlit, stop
from carto import formatting, store
from carto.ingest import sample

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PAGES = ("/", "/summary")
IDLE = "[data-test-script-state='notRunning']"
ACTOR_FIGURE = ".st-key-explorer_figures [data-testid='stMetricValue']"  # 2nd: actors
GROWTH_ROUNDS = 5
PROBE_TIMEOUT_MS = 600_000  # a probe may wait long on a loaded machine; it measures, it is not a session


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


@dataclass
class Replica:
    url: str
    proc: subprocess.Popen
    run_log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def runs(self) -> list[float]:
        """Seconds of each script run the replica logged."""
        return [float(x) for x in self.run_log.read_text().split()] if self.run_log.exists() else []

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")


@dataclass
class Rounds:
    """Each replica's RSS at the start and once every session has finished round r (1, 2, ...)."""

    sessions: int
    replicas: list[Replica]
    rss: list[list[float]] = field(default_factory=list)
    _done: dict[int, int] = field(default_factory=dict)
    first: asyncio.Event = field(default_factory=asyncio.Event)
    browsing: int = 0  # sessions not finished yet

    def __post_init__(self) -> None:
        self.rss.append(self.sample())

    def sample(self) -> list[float]:
        return [_rss_mb(r.pid) for r in self.replicas]

    def finished(self, round_no: int) -> None:
        self._done[round_no] = self._done.get(round_no, 0) + 1
        if self._done[round_no] == self.sessions:
            self.rss.append(self.sample())
            self.first.set()


def growth_pct(series: list[float], rounds: int = GROWTH_ROUNDS) -> float | None:
    """Growth in % from the value ``rounds`` rounds before the last to the last (fewer when the run had fewer)."""
    if len(series) < 2:
        return None
    start = series[max(0, len(series) - 1 - rounds)]
    return round((series[-1] - start) / start * 100, 1)


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


async def _new_context(browser, base: str, cookie: str | None, height: int = 900):
    context = await browser.new_context(locale="fr-FR", viewport={"width": 1300, "height": height})
    if cookie is not None:
        await context.add_cookies([{"name": proxy.AFFINITY_COOKIE, "value": cookie, "url": base}])
    context.set_default_timeout(120_000)
    context.set_default_navigation_timeout(120_000)
    return context


async def _visit(page, url: str, timings: list[float] | None, errors: list[str], timeout_ms: int = 120_000) -> None:
    started = time.perf_counter()
    await page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    # Wait for the script to have started and then finished.
    await page.wait_for_selector("[data-testid='stApp']", timeout=timeout_ms)
    await page.wait_for_selector(IDLE, timeout=timeout_ms)
    await page.wait_for_timeout(100)
    await page.wait_for_selector(IDLE, timeout=timeout_ms)
    if timings is not None:
        timings.append(time.perf_counter() - started)
    exceptions = page.locator("[data-testid='stException']")
    if await exceptions.count():
        text = " ".join((await exceptions.first.inner_text()).split())[:400]
        errors.append(f"{url}: exception shown: {text}")


def _frames(stack: str | None) -> str:
    return " | ".join((stack or "").splitlines()[1:4]).replace("    ", "")


async def _viewer(browser, base: str, cookie: str | None, rounds: Rounds, count: int, timings: list[float],
                  errors: list[str]) -> None:
    context = await _new_context(browser, base, cookie)
    page = await context.new_page()
    # Where a script error was thrown (the stack's first frames) says whose code it is.
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc} at {_frames(exc.stack)}"))
    finished = 0
    rounds.browsing += 1
    try:
        for round_no in range(1, count + 1):
            for path in PAGES:
                await _visit(page, base + path, timings, errors)
            rounds.finished(round_no)
            finished = round_no
    except Exception as exc:  # a session that fails is an error to report, not a crash of the bench
        errors.append(f"session failed: {type(exc).__name__}: {exc}")
        for round_no in range(finished + 1, count + 1):  # so that the others' rounds still close
            rounds.finished(round_no)
    finally:
        rounds.browsing -= 1
        await context.close()


async def _page_analyst(browser, base: str, upload: Path, errors: list[str], done: dict[str, float]) -> None:
    """An analyst's import through the import page (DuckDB: the file belongs to the app's process)."""
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
        done["import_commit_s"] = round(time.perf_counter() - started, 2)
    except Exception as exc:
        errors.append(f"analyst import failed: {type(exc).__name__}: {exc}")
    finally:
        await context.close()


def _wait_for_actors(db: str, expected: int, timeout_s: float = 900) -> float | None:
    """perf_counter() of the first poll (every 0.1 s) that sees ``expected`` actors committed, or None."""
    conn = store.connect(db)  # the store's own count, on one connection: each poll sees the latest commit
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if store.counts(conn.cursor())["actors"] >= expected:
                return time.perf_counter()
            time.sleep(0.1)
        return None
    finally:
        conn.close()


async def _cli(args: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    """Run ``python -m carto ARGS``: exit code, output, seconds."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "carto", *args, cwd=PROJECT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace").strip(), time.perf_counter() - started


_SHOWS = """([selector, figure]) => new Promise(resolve => {
    const look = () => {
        const values = document.querySelectorAll(selector);
        if (values.length > 1 && values[1].innerText.trim() === figure) { resolve(true); }
        else { setTimeout(look, 50); }
    };
    look();
})"""


async def _shows(probe, figure: str, committed: float, errors: list[str]) -> float | None:
    """When this probe's open explorer, left alone (no click, no reload), first shows ``figure`` actors, in
    seconds after the commit: the page follows commits by itself. None when it never does."""
    try:
        await probe.evaluate(_SHOWS, [ACTOR_FIGURE, figure])
    except Exception as exc:
        errors.append(f"a replica never showed {figure} actors: {type(exc).__name__}: {exc}")
        return None
    return time.perf_counter() - committed


async def _cli_analyst(browser, base: str, db: str, probe_cookies: list[str], upload: Path, expected: int,
                       rounds: Rounds, env: dict[str, str], errors: list[str], done: dict[str, object]) -> None:
    """PostGIS: the command-line import while the sessions browse, its arrival on every replica, a backup."""
    probes = []
    try:
        for cookie in probe_cookies:
            context = await _new_context(browser, base, cookie)
            context.set_default_timeout(PROBE_TIMEOUT_MS)
            probes.append(context)
            page = await context.new_page()
            await _visit(page, base + "/", None, errors, PROBE_TIMEOUT_MS)
        await rounds.first.wait()  # every session is in its second round: they browse meanwhile
        browsing_at_import = rounds.browsing
        waiting = asyncio.create_task(asyncio.to_thread(_wait_for_actors, db, expected))
        code, out, seconds = await _cli(["--db", db, "import", "actors", str(upload)], env)
        committed = await waiting
        done["import_cli_s"] = round(seconds, 2)
        if code or committed is None:
            errors.append(f"CLI import failed ({code}): {out[-400:]}")
            return
        figure = formatting.format_number(expected, "fr")
        pages = [context.pages[0] for context in probes]
        shown = await asyncio.wait_for(asyncio.gather(*(_shows(page, figure, committed, errors) for page in pages)),
                                       PROBE_TIMEOUT_MS / 1000)
        per_replica = [None if s is None else round(s, 2) for s in shown]
        done["visible_s_per_replica"] = per_replica
        if None not in per_replica:
            done["visible_s"] = max(s for s in per_replica if s is not None)
        done["browsing_at_import"] = browsing_at_import
        done["browsing_at_backup"] = rounds.browsing
        code, out, seconds = await _cli(["--db", db, "backup"], env)
        done["backup_s"] = round(seconds, 2)
        done["backup_output"] = out.splitlines()[-1] if out else ""
        done["browsing_after_backup"] = rounds.browsing
        if code:
            errors.append(f"CLI backup failed ({code}): {out[-400:]}")
    except Exception as exc:
        errors.append(f"CLI analyst failed: {type(exc).__name__}: {exc}")
    finally:
        for context in probes:
            await context.close()


def _percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[int(q * (len(ordered) - 1))], 2) if ordered else None


async def _run(base: str, replicas: list[Replica], cookies: list[str | None], sessions: int, rounds_n: int,
               analyst) -> dict[str, object]:
    from playwright.async_api import async_playwright

    timings: list[float] = []
    errors: list[str] = []
    done: dict[str, object] = {}
    rounds = Rounds(sessions, replicas)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        started = time.perf_counter()
        viewers = [_viewer(browser, base, cookies[i % len(cookies)], rounds, rounds_n, timings, errors)
                   for i in range(sessions)]
        await asyncio.gather(*viewers, analyst(browser, rounds, errors, done))
        wall = time.perf_counter() - started
        await browser.close()
    return {"page_runs": len(timings), "errors": len(errors), "error_samples": errors[:5],
            "browser_p50_s": _percentile(timings, 0.5), "browser_p95_s": _percentile(timings, 0.95),
            "rss_mb_per_round": [[round(v, 1) for v in row] for row in rounds.rss], "wall_s": round(wall, 1),
            **done}


def _load_sample(db: str) -> dict[str, int]:
    conn = store.connect(db)
    try:
        sample.load_folder(conn, sample.SAMPLE_DIR)
        return store.counts(conn)
    finally:
        conn.close()


def _counts(db: str) -> dict[str, int]:
    conn = store.connect(db)
    try:
        return store.counts(conn)
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=postgres.STORES, default="duckdb")
    parser.add_argument("--replicas", type=int, default=None,
                        help="app processes (PostGIS only, behind nginx; default 2 on PostGIS, 1 on DuckDB)")
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=6, help="explorer + summary visits per session")
    parser.add_argument("--import-rows", type=int, default=2000)
    args = parser.parse_args(argv)
    n_replicas = args.replicas or (2 if args.store == "postgis" else 1)
    if args.store == "duckdb" and n_replicas != 1:
        parser.error("DuckDB: one app process owns the file (--replicas 1); use --store postgis for more")
    with tempfile.TemporaryDirectory(prefix="carto-load-") as tmp, \
            postgres.bench_database(args.store, Path(tmp)) as db:
        folder = Path(tmp)
        env = {**os.environ, "CARTO_COPIES_DIR": str(folder / "copies")}
        os.environ["CARTO_COPIES_DIR"] = env["CARTO_COPIES_DIR"]
        before = _load_sample(db)
        upload = _import_file(folder, args.import_rows)
        replicas: list[Replica] = []
        try:
            for i in range(n_replicas):
                log = folder / f"runs-{i}.log"
                url, proc = start_streamlit(db, extra_env={"CARTO_RUN_LOG": str(log),
                                                           "CARTO_COPIES_DIR": env["CARTO_COPIES_DIR"]},
                                            log_path=folder / f"streamlit-{i}.log")
                replicas.append(Replica(url, proc, log))
            expected = before["actors"] + args.import_rows
            if args.store == "duckdb":
                async def analyst(browser, rounds, errors, done):
                    del rounds
                    await _page_analyst(browser, replicas[0].url, upload, errors, done)

                result = asyncio.run(_run(replicas[0].url, replicas, [None], args.sessions, args.rounds, analyst))
                stand = "1 app process, no proxy"
            else:
                with proxy.proxy([r.url for r in replicas]) as running:
                    pinned = proxy.pinned_cookies(running.url, [r.address for r in replicas])
                    cookies: list[str | None] = [pinned[r.address] for r in replicas]
                    # Probe cookies of their own (pin-b…), so that probes do not share a viewer's cookie.
                    probe = proxy.pinned_cookies(running.url, [r.address for r in replicas], prefix="probe")

                    async def analyst(browser, rounds, errors, done):
                        await _cli_analyst(browser, running.url, db, [probe[r.address] for r in replicas], upload,
                                           expected, rounds, env, errors, done)

                    result = asyncio.run(_run(running.url, replicas, cookies, args.sessions, args.rounds, analyst))
                    served = {r.address: 0 for r in replicas}
                    for address, *_ in running.served():
                        served[address] = served.get(address, 0) + 1
                    result["requests_per_replica"] = served
                stand = f"{n_replicas} app processes behind nginx (deploy/nginx-carto.conf)"
        finally:
            for r in replicas:
                stop(r.proc)
        after = _counts(db)
        runs = [r.runs() for r in replicas]
        shutil.rmtree(folder / "snapshots", ignore_errors=True)
    return _report(args, stand, replicas, runs, result, before["actors"], after["actors"])


def _report(args: argparse.Namespace, stand: str, replicas: list[Replica], runs: list[list[float]],
            result: dict[str, object], before: int, after: int) -> int:
    every_run = [s for per in runs for s in per]
    rss: list[list[float]] = result["rss_mb_per_round"]  # type: ignore[assignment]
    total = [sum(row) for row in rss]
    result.update({
        "store": args.store, "replicas": len(replicas), "sessions": args.sessions, "rounds": args.rounds,
        "server_runs": len(every_run), "server_p50_s": _percentile(every_run, 0.5),
        "server_p95_s": _percentile(every_run, 0.95),
        "server_per_replica": [{"runs": len(per), "p50_s": _percentile(per, 0.5), "p95_s": _percentile(per, 0.95)}
                               for per in runs],
        "rss_growth_last_5_rounds_pct": growth_pct(total),
        "rss_growth_last_5_rounds_pct_per_replica": [growth_pct([row[i] for row in rss]) for i in range(len(replicas))],
        "actors_before": before, "actors_after": after,
    })
    print(f"{args.store}: {stand}")
    print(f"sessions {args.sessions} × {args.rounds} rounds, {result['page_runs']} page runs")
    print(f"errors {result['errors']}")
    for sample_error in result["error_samples"]:  # type: ignore[attr-defined]
        print(f"  {sample_error}")
    print(f"server script runs: {len(every_run)}, p50 {result['server_p50_s']} s, p95 {result['server_p95_s']} s")
    for r, per in zip(replicas, result["server_per_replica"], strict=True):  # type: ignore[call-overload]
        print(f"  replica {r.address}: {per['runs']} runs, p50 {per['p50_s']} s, p95 {per['p95_s']} s")
    print(f"pages as the browsers saw them: p50 {result['browser_p50_s']} s, p95 {result['browser_p95_s']} s")
    if "requests_per_replica" in result:
        print(f"requests per replica (nginx's log): {result['requests_per_replica']}")
    for i, r in enumerate(replicas):
        print(f"  replica {r.address} RSS MB at start then after each round: {[row[i] for row in rss]}")
    counted = min(GROWTH_ROUNDS, len(total) - 1)
    print(f"last 5 rounds: {result['rss_growth_last_5_rounds_pct']:+.1f} %"
          + (f" (RSS of all replicas; over {counted} rounds only)" if counted < GROWTH_ROUNDS else
             " (RSS of all replicas)"))
    if len(replicas) > 1:
        print("  growth per replica over the same rounds: " + ", ".join(
            f"{r.address} {g:+.1f} %" for r, g in
            zip(replicas, result["rss_growth_last_5_rounds_pct_per_replica"], strict=True)))  # type: ignore[call-overload]
    if args.store == "duckdb":
        print(f"analyst import of {args.import_rows} actors (import page) committed in "
              f"{result.get('import_commit_s')} s")
    else:
        print(f"analyst CLI import of {args.import_rows} actors: {result.get('import_cli_s')} s "
              "(process start to exit)")
        print(f"commit → an explorer left open on every replica shows {before + args.import_rows} actors by "
              f"itself: {result.get('visible_s')} s (per replica {result.get('visible_s_per_replica')}; it checks "
              "the data version every second, then runs the page again)")
        print(f"CLI backup while sessions browse: {result.get('backup_s')} s ({result.get('backup_output')}); "
              f"sessions browsing at the import {result.get('browsing_at_import')}, at the backup's start "
              f"{result.get('browsing_at_backup')} and end {result.get('browsing_after_backup')} of {args.sessions}")
    print(json.dumps(result))
    imported = after == before + args.import_rows
    if not imported:
        print(f"the import did not land: {before} actors before, {after} after")
    return 0 if result["errors"] == 0 and imported else 1


if __name__ == "__main__":
    raise SystemExit(main())

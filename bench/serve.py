"""Start and stop the dashboard as a real server, for browser tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_streamlit(
    db: Path | str,
    *,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    log_path: Path | None = None,
) -> tuple[str, subprocess.Popen]:
    """Start the dashboard as ``run.sh`` does (:mod:`carto.ui.serve`: ``streamlit run app.py`` with
    the explorer's warm-up) on a free port; return its URL once healthy.

    ``db`` is a DuckDB file or a PostgreSQL URL. ``extra_args`` are more ``streamlit run`` options (e.g.
    ``["--server.allowedHosts", "*"]``). The server's output goes to ``log_path``: by default beside
    a DuckDB file, else in a new temporary file.
    """
    port = free_port()
    # A file, not a pipe: nobody reads the pipe, and a full pipe would block the server.
    if log_path is None:
        log_path = (
            Path(tempfile.mkstemp(prefix="carto-streamlit-", suffix=".log")[1])
            if str(db).startswith(("postgresql://", "postgres://"))
            else Path(db).with_suffix(".streamlit.log")
        )
    env = {**os.environ, "CARTO_DB": str(db), "CARTO_TILES": "none", **(extra_env or {})}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "carto.ui.serve",  # streamlit run app.py, with the explorer's caches warmed from the start
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
                *(extra_args or []),
            ],
            cwd=PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = log_path.read_text(errors="replace")
            msg = f"streamlit exited early:\n{output}"
            raise RuntimeError(msg)
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return url, proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    msg = "streamlit did not become healthy within 60 s"
    raise RuntimeError(msg)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()

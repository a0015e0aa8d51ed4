"""A throwaway nginx in front of replicas of the dashboard, from the site file of ``deploy/``.

``with proxy(["http://127.0.0.1:8501", "http://127.0.0.1:8502"]) as url:`` runs nginx as the current
user on a free port of 127.0.0.1 with ``deploy/nginx-carto.conf`` (the file a sysadmin installs),
its listen line and replica lines replaced; pid, logs and temporary files live in a new temporary
folder, removed afterwards. nginx runs in the foreground (``daemon off``), as our child.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.serve import PROJECT, free_port

SITE = PROJECT / "deploy" / "nginx-carto.conf"
REPLICA_HEADER = "X-Carto-Replica"
AFFINITY_COOKIE = "carto_affinity"

_MAIN = """\
daemon off;
{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    # Which replica served each request, and for which affinity cookie (read by the tests).
    log_format carto '$upstream_addr $status "$request" "$cookie_carto_affinity"';
    access_log {folder}/access.log carto;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/site.conf;
}}
"""


def nginx_binary() -> str | None:
    """nginx's path, or None when it is not installed (./test.sh installs it)."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def site_config(backends: Sequence[str], port: int, site: str | None = None) -> str:
    """The deploy site file with its listen line on ``127.0.0.1:port`` and one replica line per backend."""
    text = SITE.read_text(encoding="utf-8") if site is None else site
    hosts = [urlsplit(b).netloc or b for b in backends]
    if not hosts:
        msg = "at least one backend"
        raise ValueError(msg)
    listen = re.compile(r"^(\s*)listen\s+[^;]+;\s*# carto:listen\s*$", re.MULTILINE)
    replica = re.compile(r"^(\s*)server\s+[^;]+;\s*# carto:replica\s*\n", re.MULTILINE)
    replicas = list(replica.finditer(text))
    if not listen.search(text) or not replicas:
        msg = f"{SITE} lost its 'carto:listen' or 'carto:replica' markers"
        raise ValueError(msg)
    indent = replicas[0].group(1)
    lines = "".join(f"{indent}server {h};  # carto:replica\n" for h in hosts)
    start, end = replicas[0].start(), replicas[-1].end()
    text = text[:start] + lines + text[end:]
    return listen.sub(lambda m: f"{m.group(1)}listen 127.0.0.1:{port};  # carto:listen", text)


@dataclass
class Proxy:
    url: str
    folder: Path
    process: subprocess.Popen

    @property
    def access_log(self) -> Path:
        return self.folder / "access.log"

    @property
    def error_log(self) -> Path:
        return self.folder / "error.log"

    def served(self) -> list[tuple[str, str, str, str]]:
        """Each logged request: (replica address, status, request line, affinity cookie)."""
        found = re.findall(r'^(\S+) (\d+) "([^"]*)" "([^"]*)"$', self.access_log.read_text(), re.MULTILINE)
        return [(a, s, r, c) for a, s, r, c in found]


def start(backends: Sequence[str]) -> Proxy:
    """Start nginx in front of ``backends`` (``http://host:port``); stop it with :func:`stop`."""
    binary = nginx_binary()
    if binary is None:
        msg = "nginx is not installed (./test.sh installs nginx-light)"
        raise RuntimeError(msg)
    folder = Path(tempfile.mkdtemp(prefix="carto-nginx-"))
    port = free_port()
    (folder / "site.conf").write_text(site_config(backends, port), encoding="utf-8")
    # As root, nginx's workers would run as "nobody", who may not enter this folder: they run as us.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(_MAIN.format(folder=folder, user=user), encoding="utf-8")
    check = subprocess.run([binary, "-t", "-q", "-p", str(folder), "-c", str(folder / "nginx.conf")],
                           capture_output=True, text=True, check=False)
    if check.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        msg = f"nginx refused the configuration:\n{check.stderr}"
        raise RuntimeError(msg)
    with (folder / "nginx.out").open("wb") as out:
        process = subprocess.Popen([binary, "-p", str(folder), "-c", str(folder / "nginx.conf")],
                                   stdout=out, stderr=subprocess.STDOUT)
    running = Proxy(f"http://127.0.0.1:{port}", folder, process)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (folder / "nginx.out").read_text(errors="replace")
            stop(running)
            msg = f"nginx exited early:\n{output}"
            raise RuntimeError(msg)
        try:
            with urllib.request.urlopen(f"{running.url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return running
        except OSError:
            time.sleep(0.2)
    stop(running)
    msg = "nginx did not answer within 20 s"
    raise RuntimeError(msg)


def stop(running: Proxy) -> None:
    """Stop nginx (a fast shutdown: SIGTERM) and remove its folder."""
    if running.process.poll() is None:
        running.process.terminate()
        try:
            running.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()
    shutil.rmtree(running.folder, ignore_errors=True)


@contextmanager
def proxy(backends: Sequence[str]) -> Iterator[Proxy]:
    """A running nginx in front of ``backends`` for the ``with`` block."""
    running = start(backends)
    try:
        yield running
    finally:
        stop(running)


def replica_of(base: str, cookie: str) -> str:
    """The replica nginx at ``base`` sends a browser holding this affinity cookie to (its X-Carto-Replica)."""
    request = urllib.request.Request(f"{base}/_stcore/health", headers={"Cookie": f"{AFFINITY_COOKIE}={cookie}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers[REPLICA_HEADER])


def pinned_cookies(base: str, addresses: Sequence[str], prefix: str = "pin") -> dict[str, str]:
    """One affinity cookie per replica address: the first of ``<prefix>-0``, ``<prefix>-1``... that
    nginx hashes to it, so that a browser given it is served by that replica."""
    found: dict[str, str] = {}
    for i in range(500):
        found.setdefault(replica_of(base, f"{prefix}-{i}"), f"{prefix}-{i}")
        if set(found) >= set(addresses):
            return {a: found[a] for a in addresses}
    msg = f"no cookie reached every replica: {found}"
    raise RuntimeError(msg)

"""A throwaway PostgreSQL/PostGIS cluster in a temporary folder, for tests and benchmarks.

``with cluster() as pg:`` runs Debian's PostgreSQL server on a free port of 127.0.0.1 with its data in a
new temporary folder, and removes both afterwards. PostgreSQL refuses to run as root: as root, the
server runs as the ``postgres`` user (``runuser``). ``pg.new_database()`` gives the URL of a fresh
database with PostGIS, copied from a template that holds the extension (a file copy: milliseconds).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

from bench.serve import free_port

POSTGRES_USER = "postgres"
TEMPLATE = "carto_template"


def server_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` that holds a server, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def postgis_installed(bin_dir: Path) -> bool:
    """True when the PostGIS extension is installed for that server."""
    major = bin_dir.parent.name
    return any(Path(f"/usr/share/postgresql/{major}/extension").glob("postgis.control"))


def available() -> str | None:
    """None when a cluster can start here, else why not (for a test's skip reason)."""
    bin_dir = server_bin_dir()
    if bin_dir is None:
        return "PostgreSQL's server is not installed (./test.sh installs it)"
    if not postgis_installed(bin_dir):
        return "PostGIS is not installed (./test.sh installs postgresql-15-postgis-3)"
    return None


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", POSTGRES_USER, "--", *command] if os.geteuid() == 0 else command


def _admin_sql(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type,unused-ignore]  # fixed text of this module


@dataclass
class Cluster:
    """A running throwaway cluster: its folder, port and the URL of a superuser connection."""

    folder: Path
    port: int
    _names: Iterator[int] = field(default_factory=lambda: count(1))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "carto") -> str:
        """URL of a new database with PostGIS and nothing else."""
        name = f"{prefix}_{next(self._names)}"
        self.copy_database(TEMPLATE, name)
        return self.url(name)

    def copy_database(self, source: str, name: str) -> str:
        """URL of ``name``, a new copy of database ``source`` (no one may be connected to ``source``)."""
        _admin_sql(self.url(), f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        _admin_sql(self.url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start(bin_dir: Path | None = None) -> Cluster:
    """Create and start a cluster in a new temporary folder; stop it with :func:`stop`."""
    bin_dir = bin_dir or server_bin_dir()
    if bin_dir is None:
        msg = "PostgreSQL's server is not installed"
        raise RuntimeError(msg)
    folder = Path(tempfile.mkdtemp(prefix="carto-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, POSTGRES_USER, POSTGRES_USER)
    data, port = folder / "data", free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "check": True}
    subprocess.run(
        _as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", POSTGRES_USER, "-A", "trust",
                         "-E", "UTF8", "--locale=C", "--no-sync"]),
        **quiet,  # type: ignore[call-overload]
    )
    # Durability is not what these clusters are for: no fsync, and a small footprint.
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c shared_buffers=64MB -c max_connections=200"
    )
    subprocess.run(
        _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                         str(folder / "server.log"), "-w", "-t", "60", "start"]),
        **quiet,  # type: ignore[call-overload]
    )
    cluster = Cluster(folder, port)
    _admin_sql(cluster.url(), f'CREATE DATABASE "{TEMPLATE}"')
    _admin_sql(cluster.url(TEMPLATE), "CREATE EXTENSION postgis")
    return cluster


def stop(cluster: Cluster) -> None:
    """Stop the server at once and remove its folder."""
    bin_dir = server_bin_dir()
    if bin_dir is not None:
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(cluster.folder / "data"), "-m", "immediate", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    for _ in range(50):  # the server's last files go as it exits
        shutil.rmtree(cluster.folder, ignore_errors=True)
        if not cluster.folder.exists():
            return
        time.sleep(0.1)


@contextmanager
def cluster() -> Iterator[Cluster]:
    """A running throwaway cluster for the ``with`` block."""
    running = start()
    try:
        yield running
    finally:
        stop(running)


STORES = ("duckdb", "postgis")


@contextmanager
def bench_database(store_name: str, folder: Path) -> Iterator[str]:
    """A new, empty database of ``store_name`` for a benchmark: a DuckDB file in ``folder``, or a
    database of a throwaway PostGIS cluster (started here, removed afterwards)."""
    if store_name == "duckdb":
        yield str(folder / "bench.duckdb")
        return
    reason = available()
    if reason:
        raise RuntimeError(reason)
    with cluster() as running:
        yield running.new_database("bench")

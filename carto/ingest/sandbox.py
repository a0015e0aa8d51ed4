"""The reader's sandbox: a child process with limits, in a work folder the server owns.

:func:`run_in_child` runs a module-level function in a fresh interpreter
(``python -m carto.ingest._reader_child``) whose address space, CPU time and written file size are
capped (``RLIMIT_AS``, ``RLIMIT_CPU``, ``RLIMIT_FSIZE``), which is killed after a wall-clock
timeout, dies with its parent (``PR_SET_PDEATHSIG``), inherits no file descriptor (so never the
database's), and never re-runs the parent's ``__main__`` (under Streamlit, the page shown). A
long-running server keeps one such child started ahead (:class:`SpareReader`), so an upload is
read at once instead of after a second of imports.

Every read works in its own folder in the system's temp folder (:func:`make_workdir`), never
beside the user's file; folders left by killed reads are swept (:func:`sweep_stale_workdirs`).
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from carto.errors import InputError
from carto.ingest._reader_child import READY, SPARE_FLAG
from carto.ingest.safety import MB, Limits

# --- work folders -----------------------------------------------------------------------------

WORK_PREFIX = "carto-read-"
STALE_WORK_AFTER_S = 600.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_workdirs(*, root: Path | None = None, now: float | None = None) -> list[Path]:
    """Remove work folders left by killed reads: older than ten minutes and whose process is dead.

    A folder is named ``carto-read-<pid>-<random>`` by :func:`make_workdir`; one whose process
    still runs (or whose pid another process now has) is kept. Returns the folders removed.
    """
    root = Path(tempfile.gettempdir()) if root is None else root
    limit = (time.time() if now is None else now) - STALE_WORK_AFTER_S
    removed: list[Path] = []
    for folder in root.glob(f"{WORK_PREFIX}*"):
        match = re.fullmatch(rf"{WORK_PREFIX}(\d+)-\w+", folder.name)
        try:
            info = folder.lstat()
        except OSError:
            continue
        if (
            match is None
            or not stat.S_ISDIR(info.st_mode)
            or info.st_uid != os.geteuid()
            or info.st_mtime > limit
            or _pid_alive(int(match.group(1)))
        ):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def make_workdir() -> Path:
    """A fresh private folder for one read, in the system's temp folder, never beside the user's file.

    Its name carries this process's id so that :func:`sweep_stale_workdirs` (run here first) can
    tell a folder left by a killed import from one in use.
    """
    sweep_stale_workdirs()
    return Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-"))


# --- the child process ------------------------------------------------------------------------

ChildTarget = Callable[[dict[str, Any]], dict[str, Any]]

_CHILD_MODULE = "carto.ingest._reader_child"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
# GDAL and PROJ read their settings from the environment: the child can fetch nothing from the
# network even if a URL slipped through sniffing, and GeoJSON objects are bounded by the memory
# limit and CARTO_MAX_VERTICES rather than by GDAL's own 200 MB per-object cap.
_CHILD_ENVIRONMENT = {
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".carto-no-network",
    "GDAL_HTTP_PROXY": "127.0.0.1:9",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "OGR_GEOJSON_MAX_OBJ_SIZE": "0",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
    "PROJ_NETWORK": "OFF",
}
STATUS_MAX_BYTES = 4 * MB


def _target_name(target: ChildTarget) -> str:
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", "")
    if not module or module == "__main__" or "<locals>" in qualname:
        msg = f"run_in_child needs a module-level function of an importable module, not {target!r}"
        raise TypeError(msg)
    return f"{module}:{qualname}"


def _child_environment() -> dict[str, str]:
    env = {**os.environ, **_CHILD_ENVIRONMENT}
    inherited = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join([str(_PROJECT_ROOT), *([inherited] if inherited else [])])
    return env


def _start_child(order_file: Path, workdir: Path, stderr_file: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-P", "-m", _CHILD_MODULE, str(order_file), str(os.getpid())]
    with open(stderr_file, "wb") as stderr:
        # close_fds (the default) keeps the database file and its lock out of the child.
        return subprocess.Popen(
            command,
            cwd=workdir,
            env=_child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            close_fds=True,
        )


class SpareReader:
    """One reader child started ahead, its imports done, waiting for a job: a read starts at once.

    A fresh Python spends about a second importing GDAL's bindings and pandas before it can read
    anything. A long-running server (the dashboard) calls :meth:`enable`; each read then takes the
    spare, if one is ready and alive, and a new one is started for the next read. Spares are all
    started by one daemon thread that never ends: ``PR_SET_PDEATHSIG`` fires when the *thread*
    that started a child ends, so a spare dies with the server and never with a page's thread.
    A short-lived command (the CLI) leaves it off: it reads once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._spare: subprocess.Popen[bytes] | None = None
        self._signalled: subprocess.Popen[bytes] | None = None  # the spare whose READY was read
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self._thread is not None

    def enable(self) -> None:
        """Start the spare-starting thread (once per process) and ask it for a first spare."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._start_spares, name="carto-spare-reader", daemon=True)
            self._thread.start()
        self._wanted.set()

    def ready(self, timeout_s: float = 30.0) -> bool:
        """Wait until a spare has done its imports and waits for a job (for benchmarks and tests).

        A spare that died meanwhile is replaced, and the wait goes on for the new one.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                spare, signalled = self._spare, self._signalled
            if spare is None:
                time.sleep(0.05)
                continue
            if spare is signalled and spare.poll() is None:
                return True
            assert spare.stdout is not None
            readable, _, _ = select.select([spare.stdout], [], [], min(0.2, max(0.0, deadline - time.monotonic())))
            if not readable:
                continue
            try:
                signal_byte = os.read(spare.stdout.fileno(), 1)
            except (OSError, ValueError):  # taken and closed by a read meanwhile
                continue
            if signal_byte == READY:
                with self._lock:
                    self._signalled = spare
                return True
            self._replace_dead(spare)  # end of file: it died before it was ready
        return False

    def _replace_dead(self, spare: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if self._spare is spare:
                self._spare = None
        spare.wait()
        _close_pipes(spare)
        self._wanted.set()

    def take(self) -> subprocess.Popen[bytes] | None:
        """The waiting spare (and ask for the next one), or None when none is alive."""
        with self._lock:
            spare, self._spare = self._spare, None
        if self.enabled:
            self._wanted.set()
        if spare is not None and spare.poll() is not None:  # died while waiting
            _close_pipes(spare)
            return None
        return spare

    def _start_spares(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            with self._lock:
                current = self._spare
            if current is not None and current.poll() is None:  # one spare at a time: it stays
                continue
            if current is not None:  # died while waiting
                _close_pipes(current)
            command = [sys.executable, "-P", "-m", _CHILD_MODULE, SPARE_FLAG, str(os.getpid())]
            try:
                spare = subprocess.Popen(
                    command,
                    cwd=tempfile.gettempdir(),
                    env=_child_environment(),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    close_fds=True,
                )
            except OSError:  # no spare this time: the next read starts its own child, as without one
                continue
            with self._lock:
                self._spare = spare


SPARE_READER = SpareReader()


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def _give_job(spare: subprocess.Popen[bytes], order_file: Path) -> bool:
    """Hand ``order_file`` to a waiting spare; False if it died meanwhile."""
    assert spare.stdin is not None
    try:
        spare.stdin.write(f"{order_file}\n".encode())
        spare.stdin.close()
    except OSError:
        spare.kill()
        spare.wait()
        _close_pipes(spare)
        return False
    return True


def run_in_child(
    target: ChildTarget, job: dict[str, Any], *, limits: Limits, workdir: Path, shown: str
) -> dict[str, Any]:
    """Run ``target(job)`` in a child process with ``limits``; its result or a clear :class:`InputError`.

    ``target`` is a module-level function, imported by name in a fresh interpreter
    (:mod:`carto.ingest._reader_child`) that dies with this process; ``job`` and the result travel
    as JSON files in ``workdir``, a folder the server made. The parent's ``__main__`` (under
    Streamlit, the page being shown) is never run in the child.
    """
    run = workdir / f"run-{secrets.token_hex(8)}"
    order_file, status_file = Path(f"{run}.job.json"), Path(f"{run}.status.json")
    order = {
        "target": _target_name(target),
        "job": job,
        "sys_path": [os.path.abspath(entry) for entry in sys.path if entry],
        "cpu_s": math.ceil(limits.timeout_s) + 1,
        "memory_bytes": limits.memory_bytes,
        "file_bytes": limits.max_result_bytes + MB,
    }
    order_file.write_text(json.dumps(order))
    spare = SPARE_READER.take()
    if spare is not None and _give_job(spare, order_file.resolve()):
        proc = spare
    else:
        # Linux sends PR_SET_PDEATHSIG when the thread that started the child ends: this one waits.
        proc = _start_child(order_file, workdir, Path(f"{run}.stderr"))
    try:
        code = proc.wait(timeout=limits.timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise InputError(_timeout_message(shown, limits)) from None
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        _close_pipes(proc)
    memory_mb = f"{limits.memory_bytes / MB:.0f} MB"
    if not status_file.exists():
        if code == -signal.SIGXCPU:
            raise InputError(_timeout_message(shown, limits))
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        msg = (
            f"{shown}: the reader crashed on this file (it {how}); the file is probably damaged, "
            f"or reading it needed more than {memory_mb} (CARTO_READ_MEMORY_MB)"
        )
        raise InputError(msg)
    if status_file.stat().st_size > STATUS_MAX_BYTES:
        msg = f"{shown}: the reader's description of this file is too large (too many layers or messages?); refused"
        raise InputError(msg)
    status = json.loads(status_file.read_text())
    if status["ok"]:
        return dict(status["meta"])
    if status["kind"] == "memory":
        msg = f"{shown}: reading the file needed more than {memory_mb} of memory (limit CARTO_READ_MEMORY_MB)"
        raise InputError(msg)
    if status["kind"] == "result":
        raise InputError(result_message(shown, limits))
    message = str(status["message"])
    if status["kind"] == "input":
        raise InputError(message)
    fmt = job.get("format", "data")
    if "not recognized as being in a supported file format" in message:
        msg = f"{shown} is not a recognised {fmt} file (GDAL cannot open it)"
        raise InputError(msg)
    msg = f"{shown} could not be read as {fmt}: {_clean_reader_message(message, shown)} (truncated or damaged file?)"
    raise InputError(msg)


def _timeout_message(shown: str, limits: Limits) -> str:
    return f"{shown}: the file took longer than {limits.timeout_s:g} s to read (limit CARTO_READ_TIMEOUT_S)"


def result_message(shown: str, limits: Limits, size: int | None = None) -> str:
    limit = f"the limit of {limits.max_result_bytes / MB:.0f} MB (CARTO_MAX_RESULT_MB)"
    what = f"{size / MB:.0f} MB, more than {limit}" if size is not None else f"more than {limit}"
    return f"{shown}: the table read from this file takes {what}; split the file or drop unneeded columns"


def _clean_reader_message(message: str, shown: str) -> str:
    """A reader's error without server paths (they become the user's file name) or GDAL's hints."""
    message = re.sub(r"(?<=['\"])/[^'\"]+(?=['\"])", shown, message)
    message = re.sub(r"/(?:tmp|var|work|home|root)/[^\s:'\"]+", shown, message)
    return message.split("; It might help", 1)[0].strip()

"""The reader's child process: ``python -P -m carto.ingest._reader_child JOB_FILE PARENT_PID``.

:func:`carto.ingest.sandbox.run_in_child` writes a job file into a folder the server made, starts this
module and waits for it with a wall-clock timeout. Here, in order:

1. ask Linux to SIGKILL this process when its parent dies (``PR_SET_PDEATHSIG``), then check the
   parent is still the one that started us (it may have died before the request took effect): a
   killed import or server leaves no reader behind;
2. cap CPU time (``RLIMIT_CPU``), the size of any file written (``RLIMIT_FSIZE``: the result) and
   core dumps; import the function to run, then cap the address space (``RLIMIT_AS``) at the
   start-up footprint plus the memory limit;
3. run the function and write its status (JSON) beside the job file.

A *spare* child (``--spare PARENT_PID``, started ahead by a long-running server) does step 1,
imports the readers, then waits for the job file's path on its standard input (:func:`wait_for_job`).

This module imports nothing heavy before step 1, and never opens the database: the child
inherits no file descriptor but its standard streams (``close_fds``).
"""

from __future__ import annotations

import ctypes
import errno
import importlib
import json
import math
import os
import re
import resource
import signal
import sys
import traceback
from typing import Any

PR_SET_PDEATHSIG = 1
# ``python -m carto.ingest._reader_child --spare PARENT_PID``: start ahead, wait for a job on stdin.
SPARE_FLAG = "--spare"
# What a spare imports before it waits: the readers, and through them GDAL's bindings and pandas.
PRELOADED = "carto.ingest.read"
# Written on standard output once the imports are done.
READY = b"R"


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when its parent exits; exit now if the parent is already gone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(70)
    if os.getppid() != parent_pid:
        os._exit(71)


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _cap(kind: int, soft: int, hard: int | None = None) -> None:
    _, current_hard = resource.getrlimit(kind)
    hard = soft if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(kind, (soft, hard))


def _load_target(name: str) -> Any:
    module_name, _, qualname = name.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _run(job_file: str) -> dict[str, Any]:
    from carto.errors import InputError

    with open(job_file) as f:
        order = json.load(f)
    try:
        for entry in order["sys_path"]:
            if entry not in sys.path:
                sys.path.append(entry)
        # CPU seconds for this job (a spare child already spent some on its imports): a safety net
        # under the parent's wall-clock timeout (SIGXCPU, then SIGKILL).
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = math.floor(usage.ru_utime + usage.ru_stime) + order["cpu_s"]
        _cap(resource.RLIMIT_CPU, cpu_s, cpu_s + 5)
        _cap(resource.RLIMIT_CORE, 0)
        # A write past the limit fails with EFBIG instead of killing the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        _cap(resource.RLIMIT_FSIZE, order["file_bytes"])
        target = _load_target(order["target"])
        _cap(resource.RLIMIT_AS, _vm_size() + order["memory_bytes"], resource.RLIM_INFINITY)
        return {"ok": True, "meta": target(order["job"])}
    except MemoryError:
        return {"ok": False, "kind": "memory", "message": ""}
    except InputError as exc:
        return {"ok": False, "kind": "input", "message": str(exc)}
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            return {"ok": False, "kind": "result", "message": ""}
        return _failure(exc)
    except Exception as exc:
        return _failure(exc)


def _failure(exc: BaseException) -> dict[str, Any]:
    text = f"{type(exc).__name__}: {exc}"
    kind = "memory" if re.search(r"out of memory|cannot allocate|bad_alloc", text, re.I) else "error"
    return {"ok": False, "kind": kind, "message": text[:2000], "trace": traceback.format_exc(limit=3)}


def wait_for_job(parent_pid: int) -> str | None:
    """A spare child: import the readers now, then wait for a job file's path on standard input.

    The server keeps one spare started ahead (:class:`carto.ingest.sandbox.SpareReader`), so a read
    does not wait a second for Python to import GDAL's bindings. ``None`` when the server closes
    the pipe without a job. The job's standard error goes beside its job file, as for a child
    started for it.
    """
    die_with_parent(parent_pid)
    importlib.import_module(PRELOADED)
    os.write(1, READY)  # the server may now count on this spare (see SpareReader.ready)
    line = sys.stdin.readline().strip()
    if not line:
        return None
    os.chdir(os.path.dirname(line))
    stderr = os.open(line.removesuffix(".job.json") + ".stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(stderr, 2)
    return line


def main(argv: list[str]) -> None:
    if argv[0] == SPARE_FLAG:
        job_file = wait_for_job(int(argv[1]))
        if job_file is None:
            return
    else:
        job_file = argv[0]
        die_with_parent(int(argv[1]))
    status = _run(job_file)
    status_file = job_file.removesuffix(".job.json") + ".status.json"
    partial = status_file + ".part"
    try:
        text = json.dumps(status)
    except (TypeError, ValueError) as exc:
        text = json.dumps(_failure(exc))
    with open(partial, "w") as f:
        f.write(text)
    os.replace(partial, status_file)
    # Skip the interpreter's teardown: unloading pandas and GDAL takes longer than the read itself.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])

"""The reader's child process: ``python -P -m carto.ingest._reader_child JOB_FILE PARENT_PID``.

:func:`carto.ingest.read.run_in_child` writes a job file into a folder the server made, starts this
module and waits for it with a wall-clock timeout. Here, in order:

1. ask Linux to SIGKILL this process when its parent dies (``PR_SET_PDEATHSIG``), then check the
   parent is still the one that started us (it may have died before the request took effect): a
   killed import or server leaves no reader behind;
2. cap CPU time (``RLIMIT_CPU``), the size of any file written (``RLIMIT_FSIZE``: the result) and
   core dumps; import the function to run, then cap the address space (``RLIMIT_AS``) at the
   start-up footprint plus the memory limit;
3. run the function and write its status (JSON) beside the job file.

This module imports nothing heavy before step 1, and never opens the database: the child
inherits no file descriptor but its standard streams (``close_fds``).
"""

from __future__ import annotations

import ctypes
import errno
import importlib
import json
import os
import re
import resource
import signal
import sys
import traceback
from typing import Any

PR_SET_PDEATHSIG = 1


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
        # CPU seconds: a safety net under the parent's wall-clock timeout (SIGXCPU, then SIGKILL).
        _cap(resource.RLIMIT_CPU, order["cpu_s"], order["cpu_s"] + 5)
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


def main(argv: list[str]) -> None:
    job_file, parent_pid = argv[0], int(argv[1])
    die_with_parent(parent_pid)
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


if __name__ == "__main__":
    main(sys.argv[1:])

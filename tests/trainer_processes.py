"""Trainer runs in processes of their own, without an interpreter start each.

A test that kills a run, or runs several side by side, needs each in its own process, but not a new
interpreter: starting one imports torch, torchvision and torchreid again (about 4.5 CPU-s on the 2-core
machines of docs/DEVELOPMENT.md, more than a tiny run trains). Here each run is forked from
multiprocessing's fork server, a single-threaded interpreter that imported the trainer once (for the test
module that first asks for one). The child redirects its output to a log file and calls the trainer's
``main``, so a run is the command line's own code path, from its arguments on.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

def _context() -> multiprocessing.context.BaseContext:
    """multiprocessing's one fork-server context; the server, started with the first process, imports the trainer."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["aitl_reid.train"])
    return context


def _run_trainer(argv: Sequence[str], log_path: str, environment: Dict[str, str]) -> None:
    # the trainer's loader workers start as from the command line (fork on Linux), not through a fork server of
    # their own, which would import everything again for every epoch's workers
    multiprocessing.set_start_method("fork", force=True)
    os.environ.update(environment)
    output = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(output, 1)
    os.dup2(output, 2)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)
    from aitl_reid import train

    sys.exit(train.main(list(argv)))


def start_trainer(argv: Sequence[str], log_path: Path,
                  environment: Optional[Dict[str, str]] = None) -> multiprocessing.process.BaseProcess:
    """``aitl-reid-train ARGV`` in a new process (its output appended to ``log_path``); ``.exitcode`` once it ended."""
    process = _context().Process(target=_run_trainer, args=(list(argv), str(log_path), dict(environment or {})))
    process.start()
    return process


def run_trainer(argv: Sequence[str], log_path: Path, environment: Optional[Dict[str, str]] = None,
                timeout: float = 600) -> int:
    """:func:`start_trainer` and wait for its end; its exit status (-9 after SIGKILL)."""
    process = start_trainer(argv, log_path, environment)
    process.join(timeout)
    if process.exitcode is None:
        process.kill()
        process.join()
        raise TimeoutError(f"the trainer ran over {timeout} s: {log_path}")
    return process.exitcode


def wait_for_line(process: multiprocessing.process.BaseProcess, log_path: Path, prefix: str,
                  timeout: float = 600) -> bool:
    """Whether a line starting with ``prefix`` appeared in ``log_path`` before ``process`` ended (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        alive = process.is_alive()
        text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
        complete = text[:text.rfind("\n") + 1]
        if any(line.startswith(prefix) for line in complete[seen:].splitlines()):
            return True
        seen = len(complete)
        if not alive:
            return False
        time.sleep(0.02)
    return False

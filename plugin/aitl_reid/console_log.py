"""Copy everything printed to a log file while a run lasts, from the moment the run starts writing.

torchreid's ``Logger`` replaces ``sys.stdout`` for good and closes the real console when it is
garbage collected, which breaks any caller that runs ``main()`` in-process (tests, notebooks);
this context manager restores the console and closes only its own file.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Callable, Iterator, List, TextIO


class _Tee:
    def __init__(self, console: TextIO, file: TextIO) -> None:
        self.console = console
        self.file = file

    def write(self, text: str) -> int:
        self.console.write(text)
        return self.file.write(text)

    def flush(self) -> None:
        self.console.flush()
        self.file.flush()

    def isatty(self) -> bool:
        return self.console.isatty()


def cut_after_last(path: str, marker: str) -> bool:
    """Cut the file at ``path`` after the last line containing ``marker``; False if there is no such line.

    A run resumed from a checkpoint continues the log of the killed run from the line the checkpoint
    printed, so the lines of the epoch that was lost are not kept twice.
    """
    if not os.path.isfile(path):
        return False
    with open(path, "r+", encoding="utf-8", errors="replace", newline="") as file:
        text = file.read()
        found = text.rfind(marker)
        if found < 0:
            return False
        end = text.find("\n", found)
        keep = text[:len(text) if end < 0 else end + 1]
        file.seek(0)
        file.write(keep)
        file.truncate()
    return True


@contextlib.contextmanager
def deferred_log(path: str, before_opening: Callable[[], None] = lambda: None) -> Iterator[Callable[[], None]]:
    """Within the block, ``print`` writes to the console and to memory; calling the function it yields runs
    ``before_opening``, appends what was printed so far to ``path`` and goes on writing there.

    A command that stops on bad input (missing data, a wrong key) before calling it leaves no log file:
    the log is opened when the command starts writing its records, not when it starts reading its input.
    """
    console = sys.stdout
    buffer = io.StringIO()
    tee = _Tee(console, buffer)
    opened: List[TextIO] = []

    def open_log() -> None:
        if opened:
            return
        before_opening()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        opened.append(open(path, "a", encoding="utf-8"))
        opened[0].write(buffer.getvalue())
        tee.file = opened[0]

    sys.stdout = tee
    try:
        yield open_log
    finally:
        sys.stdout.flush()
        sys.stdout = console
        for file in opened:
            file.close()

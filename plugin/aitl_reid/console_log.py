"""Copy everything printed to a log file while a run lasts.

torchreid's ``Logger`` replaces ``sys.stdout`` for good and closes the real console when it is
garbage collected, which breaks any caller that runs ``main()`` in-process (tests, notebooks);
this context manager restores the console and closes only its own file.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator, TextIO


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


@contextlib.contextmanager
def tee_stdout(path: str) -> Iterator[None]:
    """Within the block, ``print`` writes to the console and to ``path`` (overwritten)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    console = sys.stdout
    with open(path, "w", encoding="utf-8") as file:
        sys.stdout = _Tee(console, file)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stdout = console

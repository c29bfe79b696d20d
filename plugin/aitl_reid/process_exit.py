"""How a command-line program ends: its exit status, without the interpreter's last garbage collections.

At exit CPython clears every module and runs its cycle collector again and again over every object still
alive. With torch, torchvision (and the ``torch._dynamo`` and sympy they import) and torchreid loaded, that
is over a second of CPU per command, a fifth of a short one (docs/DEVELOPMENT.md). Here the program's own
garbage is collected once (a cycle left by ``main`` is finalized as before: its ``__del__`` runs, its files
are flushed), then ``gc.freeze()`` moves everything still alive out of the collector's sight. The exit is
otherwise as before: atexit handlers, flushing the standard streams, objects freed by reference counting
as the modules are cleared. What is no longer done: finalizing a reference cycle that a module still holds
when the interpreter exits, which Python does not promise either; no module of this package keeps one.

Every program's ``__main__`` block ends with ``sys.exit(finish(main()))``; the installed ``aitl-reid-*``
commands are :func:`as_command` of the same ``main``.
"""
from __future__ import annotations

import gc
from typing import Callable


def skip_final_collections() -> None:
    """Collect the garbage now, once, then move every live object out of the cycle collector's sight."""
    gc.collect()
    gc.freeze()


def finish(status: int) -> int:
    """``status``, after :func:`skip_final_collections`: call it as the program ends."""
    skip_final_collections()
    return status


def as_command(main: Callable[[], int]) -> Callable[[], int]:
    """The console-script entry for ``main`` (which reads ``sys.argv``): ``main()``, then :func:`finish`."""

    def command() -> int:
        return finish(main())

    command.__doc__ = main.__doc__
    return command

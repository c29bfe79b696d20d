"""What a pickle refers to, read opcode by opcode without running it.

When torch's weights-only loader refuses a file, its message cannot tell a pickle that names
arbitrary Python callables (a file that would run code) from a damaged or foreign file. Reading
the pickles statically with :mod:`pickletools` tells them apart without executing anything.
"""
from __future__ import annotations

import _compat_pickle
import pickletools
import zipfile
from dataclasses import dataclass, field
from typing import IO, List, Optional, Set


@dataclass
class PickleScan:
    """What the pickles of a file refer to, read opcode by opcode without building any object."""

    globals: Set[str] = field(default_factory=set)  # "module.name"; COMPUTED_NAME where not static
    protocol: int = 0  # the highest PROTO opcode seen
    error: str = ""  # why a pickle could not be parsed, if one could not


COMPUTED_NAME = "<a name computed while loading>"
_MAX_LEGACY_PICKLES = 6  # torch's legacy format: magic, protocol, sys info, object, storage keys, then raw bytes
_STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_NO_STACK_OPS = {"PROTO", "FRAME", "MEMOIZE", "STOP"} | _PUT_OPS


def scan_pickles(path: str) -> PickleScan:
    """The globals referred to by the pickles of a torch file (zip archive or the legacy format)."""
    scan = PickleScan()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".pkl"):
                    with archive.open(member) as stream:
                        _scan_stream(stream, scan, max_pickles=1)
    else:
        with open(path, "rb") as stream:
            _scan_stream(stream, scan, max_pickles=_MAX_LEGACY_PICKLES)
    return scan


def _scan_stream(stream: IO[bytes], scan: PickleScan, max_pickles: int) -> None:
    for index in range(max_pickles):
        try:
            _scan_one(stream, scan)
        except (ValueError, EOFError) as err:  # pickletools' errors (a UnicodeDecodeError is a ValueError)
            if index == 0:  # after the first, the end of the file or the legacy format's raw tensor bytes
                scan.error = str(err)
            return


def _scan_one(stream: IO[bytes], scan: PickleScan) -> None:
    """One pickle up to STOP; ``STACK_GLOBAL`` names are resolved when the two strings were pushed just before."""
    pushed: List[Optional[str]] = []  # what each stack-changing opcode pushed: a string or None (anything else)
    memo = {}
    for opcode, arg, _ in pickletools.genops(stream):
        name = opcode.name
        if name == "PROTO":
            scan.protocol = max(scan.protocol, int(arg))
        if name in ("GLOBAL", "INST"):
            module, _, attribute = str(arg).partition(" ")
            scan.globals.add(_python3_name(module, attribute))
        elif name == "STACK_GLOBAL":
            module, attribute = pushed if len(pushed) == 2 else (None, None)
            known = module is not None and attribute is not None
            scan.globals.add(f"{module}.{attribute}" if known else COMPUTED_NAME)
            pushed.append(None)
        elif name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in _PUT_OPS:
            memo[arg] = pushed[-1] if pushed else None
        elif name in _GET_OPS:
            pushed.append(memo.get(arg))
        elif name in _STRING_OPS:
            pushed.append(arg if isinstance(arg, str) else None)
        elif name not in _NO_STACK_OPS:
            pushed.append(None)
        del pushed[:-2]


def _python3_name(module: str, attribute: str) -> str:
    """``module.name`` as Python 3 (and torch's unpickler) reads a protocol-2 ``GLOBAL`` (``__builtin__`` -> ``builtins``)."""
    if (module, attribute) in _compat_pickle.NAME_MAPPING:
        module, attribute = _compat_pickle.NAME_MAPPING[(module, attribute)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return f"{module}.{attribute}"

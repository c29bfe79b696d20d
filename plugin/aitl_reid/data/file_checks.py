"""Up-front checks that a dataset's files are where its adapter looks for them, and the error for bad content.

Checking every required path before parsing anything lets a user fix a broken install in one go:
the error lists all missing paths (not just the first) with the expected layout. A file that is
there but malformed raises :class:`DatasetFileError` (or a subclass), naming the file and the
line, row, column or variable to fix.
"""
from __future__ import annotations

import os
from typing import Sequence

MAX_LISTED = 20


class DatasetNotFoundError(FileNotFoundError):
    """Files or folders a dataset needs are missing (raised while the dataset is constructed)."""


class DatasetFileError(ValueError):
    """A dataset file exists but its content cannot be used; the message names the file and where in it."""


def shorten(text: str, limit: int = 60) -> str:
    """``repr`` of a cell or name for a message, cut after ``limit`` characters (a broken file's cell may be huge)."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def format_missing(paths: Sequence[str], limit: int = MAX_LISTED) -> str:
    """An indented list of paths, truncated after ``limit`` with a count of the rest."""
    lines = [f"  {p}" for p in paths[:limit]]
    if len(paths) > limit:
        lines.append(f"  ... and {len(paths) - limit} more")
    return "\n".join(lines)


def layout_hint(check: str) -> str:
    """Where an installed package tells the rest: ``check`` is ``aitl-reid-check``'s name of the dataset (mars, duke)."""
    return (f"aitl-reid-check --layout {check} prints the layout and where each file is published; "
            f"aitl-reid-check {check} ROOT checks a copy against the protocol.")


def missing_error(dataset: str, missing: Sequence[str], layout: str, check: str,
                  what: str = "paths") -> DatasetNotFoundError:
    """The error for missing files: every missing path, the expected layout, and the command that says more."""
    return DatasetNotFoundError(
        f"{dataset}: {len(missing)} required {what} not found:\n{format_missing(missing)}\n"
        f"Expected layout:\n{layout}\n{layout_hint(check)}"
    )


def require_paths(dataset: str, paths: Sequence[str], layout: str, check: str) -> None:
    """Raise :class:`DatasetNotFoundError` naming every path of ``paths`` that does not exist."""
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise missing_error(dataset, missing, layout, check)

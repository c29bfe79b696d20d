"""One benchmark result (ours vs a reference) and its rendering as a table row.

Every row states which way its ratio reads: ``speedup`` rows give reference time / our time (goal:
at least so many times faster), ``cost`` rows give our time / reference time (goal: at most so
many times the reference's time, for a model that does more work than its baseline). A row's
measurements are seconds unless its ``unit`` says otherwise (``MB`` for the memory row, a ``cost``
row: our memory / the reference's); ``limit`` is an absolute goal on our median, in that unit.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

from .timing import Timing, median_ratio

SENSES = ("speedup", "cost")


@dataclass
class Row:
    """A measured (or skipped) comparison. Times are seconds per run (or ``unit`` per run); a run processes
    ``items_per_run`` ``item``."""

    key: str
    name: str
    ours: str
    reference: str
    ours_time: Optional[Timing] = None
    reference_time: Optional[Timing] = None
    item: str = ""
    items_per_run: float = 0.0
    sense: str = "speedup"
    goal: Optional[float] = None
    notes: List[str] = field(default_factory=list)
    skipped: str = ""
    extra: Dict[str, float] = field(default_factory=dict)
    unit: str = "s"
    limit: Optional[float] = None

    def __post_init__(self) -> None:
        if self.sense not in SENSES:
            raise ValueError(f"sense must be one of {SENSES}, got {self.sense!r}")
        if not self.skipped and (self.ours_time is None or self.reference_time is None):
            raise ValueError(f"row {self.name!r} has no timings and no reason for skipping")

    @property
    def ratio(self) -> Tuple[float, float, float]:
        """Median, min and max over the interleaved pairs of runs, in this row's sense."""
        assert self.ours_time is not None and self.reference_time is not None
        ours, ref = self.ours_time.seconds, self.reference_time.seconds
        return median_ratio(ref, ours) if self.sense == "speedup" else median_ratio(ours, ref)

    @property
    def met(self) -> Optional[bool]:
        """Whether the median ratio meets the goal and our median the limit (None without either, or unmeasured)."""
        if (self.goal is None and self.limit is None) or self.skipped:
            return None
        verdicts = []
        if self.goal is not None:
            value = self.ratio[0]
            verdicts.append(value >= self.goal if self.sense == "speedup" else value <= self.goal)
        if self.limit is not None:
            assert self.ours_time is not None
            verdicts.append(self.ours_time.median <= self.limit)
        return all(verdicts)

    @property
    def quantity(self) -> str:
        """What a ``cost`` ratio compares: time, or memory for a row measured in MB."""
        return "time" if self.unit == "s" else "memory"

    def goal_text(self) -> str:
        goals = []
        if self.goal is not None:
            goals.append(f">= {self.goal:g}x faster" if self.sense == "speedup" else f"<= {self.goal:g}x the {self.quantity}")
        if self.limit is not None:
            goals.append(f"ours <= {self.limit:g} {self.unit}")
        return ", ".join(goals) or "report"

    def as_dict(self) -> dict:
        """JSON-ready form, with the derived ratio and verdict."""
        data = asdict(self)
        for side in ("ours_time", "reference_time"):
            timing = getattr(self, side)
            data[side] = None if timing is None else {
                "seconds": list(timing.seconds), "median": timing.median, "min": timing.low, "max": timing.high,
            }
        if not self.skipped:
            data["ratio"], data["ratio_min"], data["ratio_max"] = self.ratio
        data["met"] = self.met
        return data


def format_seconds(seconds: float) -> str:
    """A readable duration: s, ms or µs with three significant digits."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale or unit == "µs":
            return f"{seconds / scale:.3g} {unit}"
    raise AssertionError("unreachable")


def format_value(value: float, unit: str) -> str:
    """A measurement in its unit: a readable duration for seconds, else three significant digits and the unit."""
    return format_seconds(value) if unit == "s" else f"{value:.3g} {unit}"


def format_timing(timing: Timing, row: Row) -> str:
    """``median [min-max]`` per run, with the throughput when a run counts items."""
    low, median, high = (format_value(v, row.unit) for v in (timing.low, timing.median, timing.high))
    text = f"{median} [{low}-{high}]"
    if row.item and row.items_per_run:
        text += f" ({row.items_per_run / timing.median:.3g} {row.item}/s)"
    return text


def format_ratio(row: Row) -> str:
    if row.skipped:
        return "-"
    median, low, high = row.ratio
    word = "faster" if row.sense == "speedup" else f"the {row.quantity}"
    return f"{median:.2f}x {word} [{low:.2f}-{high:.2f}]"


def verdict(row: Row) -> str:
    met = row.met
    if row.skipped:
        return "skipped"
    return "-" if met is None else ("yes" if met else "NO")


HEADER = ("#", "benchmark", "ours", "reference", "ours: median [min-max]", "reference: median [min-max]",
          "ratio (median of pairs) [min-max]", "goal", "met")


def table_cells(index: int, row: Row) -> Tuple[str, ...]:
    if row.skipped:
        return (str(index), row.name, row.ours, row.reference, "-", "-", "-", row.goal_text(), "skipped")
    assert row.ours_time is not None and row.reference_time is not None
    return (str(index), row.name, row.ours, row.reference, format_timing(row.ours_time, row),
            format_timing(row.reference_time, row), format_ratio(row), row.goal_text(), verdict(row))


def markdown_table(rows: List[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for index, row in enumerate(rows, 1):
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in table_cells(index, row)) + " |")
    return "\n".join(lines)


def console_table(rows: List[Row]) -> str:
    """The same cells, aligned for a terminal."""
    cells = [HEADER] + [table_cells(i, r) for i, r in enumerate(rows, 1)]
    widths = [max(len(line[col]) for line in cells) for col in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells)

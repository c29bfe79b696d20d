"""Interleaved timing of our implementation and a reference, and a description of the machine.

Other jobs may share the machine, so ours and the reference are timed in alternating rounds (ours
first in one round, the reference first in the next): a load change then hits both sides alike,
and the ratio within each round stays meaningful even when absolute times drift.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import platform
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Sequence, Tuple

import torch


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of each timed run."""

    seconds: Tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def low(self) -> float:
        return min(self.seconds)

    @property
    def high(self) -> float:
        return max(self.seconds)


def time_call(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved_many(fns: Dict[str, Callable[[], object]], runs: int, warmup: int = 1) -> Dict[str, Timing]:
    """Time ``runs`` calls of each function, in rounds whose order rotates, after ``warmup`` untimed rounds."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    seconds: Dict[str, List[float]] = {name: [] for name in names}
    for run in range(runs):
        shift = run % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(time_call(fns[name]))
    return {name: Timing(tuple(values)) for name, values in seconds.items()}


def interleaved(
    ours: Callable[[], object], reference: Callable[[], object], runs: int, warmup: int = 1
) -> Tuple[Timing, Timing]:
    """Time ``runs`` calls of each, alternating which goes first, after ``warmup`` untimed calls of each."""
    timings = interleaved_many({"ours": ours, "reference": reference}, runs, warmup)
    return timings["ours"], timings["reference"]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    """The 1/5/15-minute load averages, which show whether other jobs shared the CPUs."""
    try:
        return "/".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def machine_info() -> Dict[str, str]:
    """What a reader needs to compare numbers: CPU, cores, torch threads, versions, GPU, date."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "gpu": gpu,
    }


def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> Tuple[float, float, float]:
    """Median, min and max of the pairwise ratios ``numerators[i] / denominators[i]``."""
    ratios = [n / d for n, d in zip(numerators, denominators)]
    return statistics.median(ratios), min(ratios), max(ratios)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run a block with ``count`` intra-op threads (what a loader worker gets), then restore."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)

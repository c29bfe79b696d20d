"""Per-run results read back from each run's ``metrics.csv``, and mean +- std per variant over seeds.

Results are read from the files the engine wrote, never passed around in memory, so a summary can
be rebuilt from an earlier benchmark's folder and always matches what the runs logged.
"""
from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..engine.epoch_log import EpochLog
from ..schema import STREAM_GROUPS
from .variants import slugify

# What the final metrics.csv row says about the attribute streams (issue 10's goals), where logged.
DIAGNOSTIC_COLUMNS: Tuple[str, ...] = (
    "attr_acc", "attr_acc_majority", "attr_f1", "attr_f1_majority",
    *(f"{name}_{stream}" for stream in STREAM_GROUPS
      for name in ("loss_attr", "prior_attr", "attr_train_acc", "attn_alive", "aitl_agreement", "aitl_chance",
                   "aitl_anchors")),
)


@dataclass(frozen=True)
class RunResult:
    """The final evaluated epoch of one training run (fractions in [0, 1]; DVDP is a distance)."""

    label: str
    seed: int
    epoch: int
    rank1: float
    mAP: float
    dvdp: float
    attr_acc: Optional[float]  # None when the model has no attribute streams
    seconds: float
    metrics_csv: str
    diagnostics: Mapping[str, float] = field(default_factory=dict)  # DIAGNOSTIC_COLUMNS found in the final row


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (0 for a single value)."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> "Stat":
        if not values:
            return cls(math.nan, math.nan, 0)
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(statistics.fmean(values), std, len(values))


@dataclass(frozen=True)
class VariantSummary:
    """One Table 1 row: statistics over the variant's seeds."""

    label: str
    seeds: Tuple[int, ...]
    rank1: Stat
    mAP: Stat
    dvdp: Stat
    attr_acc: Optional[Stat]
    diagnostics: Mapping[str, Stat] = field(default_factory=dict)  # columns logged by every seed


def read_run_result(label: str, seed: int, metrics_csv: str, seconds: float = math.nan) -> RunResult:
    """The last epoch of ``metrics_csv``, which must carry mAP (the engine always evaluates the last epoch)."""
    rows = EpochLog(metrics_csv).rows
    if not rows:
        raise ValueError(f"{metrics_csv} has no epochs; did the run fail? See log.txt beside it")
    epoch = max(rows)
    last = rows[epoch]
    missing = [k for k in ("mAP", "rank1", "dvdp") if k not in last]
    if missing:
        raise ValueError(f"{metrics_csv}: final epoch {epoch} lacks {missing}; the run did not finish its evaluation")
    diagnostics = {k: last[k] for k in DIAGNOSTIC_COLUMNS if k in last}
    return RunResult(label, seed, epoch, last["rank1"], last["mAP"], last["dvdp"], last.get("attr_acc"), seconds,
                     metrics_csv, diagnostics)


def summarise_variants(results: Sequence[RunResult], labels: Sequence[str]) -> List[VariantSummary]:
    """One summary per label, in the order of ``labels`` (labels without results are left out)."""
    summaries = []
    for label in labels:
        runs = [r for r in results if r.label == label]
        if not runs:
            continue
        attrs = [r.attr_acc for r in runs if r.attr_acc is not None]
        summaries.append(VariantSummary(
            label=label,
            seeds=tuple(r.seed for r in runs),
            rank1=Stat.of([r.rank1 for r in runs]),
            mAP=Stat.of([r.mAP for r in runs]),
            dvdp=Stat.of([r.dvdp for r in runs]),
            attr_acc=Stat.of(attrs) if attrs else None,
            diagnostics={k: Stat.of([r.diagnostics[k] for r in runs]) for k in DIAGNOSTIC_COLUMNS
                         if all(k in r.diagnostics for r in runs)},
        ))
    return summaries


def computed_observations(summaries: Sequence[VariantSummary], with_intra: Sequence[str]) -> List[str]:
    """Plain comparisons read off the table: DVDP with vs without an intra-identity triplet, mAP/R1 vs Baseline."""
    lines = []
    dvdp_with = [s.dvdp.mean for s in summaries if s.label in with_intra]
    dvdp_without = [s.dvdp.mean for s in summaries if s.label not in with_intra]
    if dvdp_with and dvdp_without:
        lines.append(f"Final-epoch DVDP, mean over variants with an intra-identity triplet (ITL/AITL): "
                     f"{statistics.fmean(dvdp_with):.4f}; without: {statistics.fmean(dvdp_without):.4f}.")
    base = next((s for s in summaries if s.label == "Baseline"), None)
    for s in summaries:
        if base is not None and s is not base:
            lines.append(f"{s.label} vs Baseline: mAP {100 * (s.mAP.mean - base.mAP.mean):+.1f}, "
                         f"R1 {100 * (s.rank1.mean - base.rank1.mean):+.1f} points (differences of means; "
                         f"compare with the std columns).")
    return lines


def mean_curves(metrics_csvs: Sequence[str], columns: Sequence[str] = ("dvdp", "mAP", "rank1")) -> Dict[int, Dict[str, float]]:
    """Per epoch, each column averaged over the runs that logged it at that epoch, and its spread over
    them as ``<column>_std`` (sample standard deviation, 0 for one run)."""
    collected: Dict[int, Dict[str, List[float]]] = {}
    for path in metrics_csvs:
        for epoch, row in EpochLog(path).rows.items():
            for column in columns:
                if column in row:
                    collected.setdefault(epoch, {}).setdefault(column, []).append(row[column])
    out: Dict[int, Dict[str, float]] = {}
    for epoch, values in collected.items():
        for column, v in values.items():
            stat = Stat.of(v)
            out.setdefault(epoch, {}).update({column: stat.mean, f"{column}_std": stat.std})
    return out


def write_mean_curves(runs_by_label: Mapping[str, Sequence[str]], out_dir: str) -> Dict[str, str]:
    """Write one seed-averaged ``metrics.csv``-format file per label; return ``label -> path`` for the figure."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for label, csvs in runs_by_label.items():
        path = os.path.join(out_dir, slugify(label) + ".csv")
        if os.path.exists(path):
            os.remove(path)  # EpochLog merges into an existing file; start from the current runs only
        log = EpochLog(path)
        for epoch, values in sorted(mean_curves(csvs).items()):
            log.update(epoch, values)
        paths[label] = path
    return paths

"""Paired per-seed differences between ablation variants, with a 95% interval.

Runs of two variants with the same seed share the data order and the initialisation of every layer
they have in common, so the per-seed difference removes most of the seed-to-seed spread; the
interval is Student's t over those differences. A difference whose interval holds 0 is not shown to
be one at this number of seeds.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from scipy import stats

from .summary import RunResult
from .variants import unswept_label

# Percentage points for rates, raw for the DVDP distance; the test attribute macro-F1 beside mAP shows
# what a setting trades (a dash where either variant has no attribute streams).
# (column, title, scale, decimals)
METRICS: Tuple[Tuple[str, str, float, int], ...] = (
    ("mAP", "mAP", 100.0, 2), ("rank1", "R1", 100.0, 2), ("dvdp", "DVDP", 1.0, 4), ("attr_f1", "attr. macro-F1", 100.0, 2))
CONFIDENCE = 0.95
# Contrasts the controls and Table 1's rows exist for, reported when both variants ran: (variant, against).
# Every variant is also compared with the Baseline (:func:`contrasts`).
KEY_CONTRASTS: Tuple[Tuple[str, str], ...] = (
    ("Baseline + ASTA + AITL", "Baseline"),
    ("Baseline + AITL", "Baseline + ITL"),  # attribute-chosen against feature-chosen positives
    ("Baseline + ASTA + AITL", "Baseline + ASTA"),  # what AITL adds to ASTA
    ("Released ASTA + AITL", "Baseline + ASTA + AITL"),  # the authors' design against this project's
    ("Baseline + ASTA + AITL", "ASTA, attribute losses off"),
    ("Baseline + ASTA + AITL", "ASTA + AITL placebo"),
    ("ASTA + AITL oracle", "Baseline + ASTA + AITL"),
    ("ASTA, attribute losses off", "Baseline"),
)


@dataclass(frozen=True)
class PairedDifference:
    """``variant - against`` on one metric over the seeds both ran: mean and a 95% interval."""

    variant: str
    against: str
    metric: str
    differences: Tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.differences) if self.differences else math.nan

    @property
    def half_width(self) -> float:
        """Half the t interval's width (NaN below two seeds: no spread to judge by)."""
        if self.n < 2:
            return math.nan
        return float(stats.t.ppf(0.5 + CONFIDENCE / 2, self.n - 1)) * statistics.stdev(self.differences) / math.sqrt(self.n)

    @property
    def interval(self) -> Tuple[float, float]:
        return self.mean - self.half_width, self.mean + self.half_width


def metric_value(result: RunResult, metric: str) -> Optional[float]:
    """A run's final value of ``metric``: a Table 1 column or a logged diagnostic (None when absent)."""
    if metric in ("mAP", "rank1", "dvdp"):
        return getattr(result, metric)
    return result.diagnostics.get(metric)


def paired_difference(results: Sequence[RunResult], variant: str, against: str, metric: str) -> PairedDifference:
    """Per seed that both variants ran (and both logged ``metric``): ``variant - against``."""
    mine = {r.seed: metric_value(r, metric) for r in results if r.label == variant}
    theirs = {r.seed: metric_value(r, metric) for r in results if r.label == against}
    seeds = sorted(s for s in mine if s in theirs and mine[s] is not None and theirs[s] is not None)
    return PairedDifference(variant, against, metric, tuple(mine[s] - theirs[s] for s in seeds))  # type: ignore[operator]


def contrasts(labels: Sequence[str], reference: str = "Baseline") -> List[Tuple[str, str]]:
    """Every variant against ``reference``, each swept variant against the variant it sweeps, then the key
    contrasts among the labels present."""
    pairs = [(label, reference) for label in labels if label != reference and reference in labels]
    pairs += [(label, unswept_label(label)) for label in labels if unswept_label(label) != label and unswept_label(label) in labels]
    pairs += [pair for pair in KEY_CONTRASTS if pair[0] in labels and pair[1] in labels and pair not in pairs]
    return pairs


def _cell(difference: PairedDifference, scale: float, digits: int) -> str:
    if not difference.n:
        return "—"
    if difference.n < 2:
        return f"{scale * difference.mean:+.{digits}f} (1 seed)"
    low, high = difference.interval
    return f"{scale * difference.mean:+.{digits}f} [{scale * low:+.{digits}f}, {scale * high:+.{digits}f}]"


def paired_table(results: Sequence[RunResult], pairs: Sequence[Tuple[str, str]]) -> str:
    """Markdown: one row per contrast, mean paired difference and 95% interval per metric."""
    header = "| Variant | vs | Seeds | " + " | ".join(f"Δ {title}" for _, title, _, _ in METRICS) + " |"
    lines = [header, "| --- | --- | ---: | " + " | ".join("---" for _ in METRICS) + " |"]
    for variant, against in pairs:
        cells = [paired_difference(results, variant, against, metric) for metric, _, _, _ in METRICS]
        lines.append(f"| {variant} | {against} | {cells[0].n} | "
                     + " | ".join(_cell(c, scale, digits) for c, (_, _, scale, digits) in zip(cells, METRICS)) + " |")
    return "\n".join(lines)

"""Fig. 8: computation (GFLOPs per clip) against accuracy (mAP) for our runs, with the paper's numbers.

The paper plots its full model and other attention models (STA, NVAN, STE-NVAN) by FLOPs and MARS
mAP, but its text gives only their mAP (Table 3), not their FLOPs. So the paper's methods appear
as mAP-only horizontal reference lines; only our runs, whose FLOPs we count, are points.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

from torch import nn
from yacs.config import CfgNode

from ..data.datamanager import schema_from_config
from ..schema import BUILTIN_SCHEMAS, DEFAULT_SCHEMA, AttributeSchema, get_schema
from ..models import ModelCost, build_model_from_config, count_flops
from .curves import read_epoch_series
from .figure import new_figure, save_figure

# (label, MARS mAP %) as the paper's text states them; no FLOPs are given for any of them.
PAPER_MARS_MAP: Tuple[Tuple[str, float], ...] = (
    ("paper: ASTA + AITL (Tables 1, 3)", 84.4),
    ("Liu et al. [27], non-local attention, BMVC19 (Table 3)", 82.8),
    ("Fu et al. [8], STA, AAAI19 (Table 3)", 80.8),
    ("Zhao et al. [54], attribute-driven, CVPR19 (Table 3)", 78.2),
)


@dataclass(frozen=True)
class RunPoint:
    """One of our runs on the figure."""

    label: str
    gflops: float
    mAP: float  # percent


def _schema_for_cost(cfg: CfgNode) -> AttributeSchema:
    """The attribute schema that sizes the model's attribute classifiers, without reading the dataset.

    ``auto`` is resolved to MARS's second release: the schemas' classifier heads differ by a few
    dozen outputs, far below 0.01 GFLOPs.
    """
    name = cfg.attributes.schema
    if name in BUILTIN_SCHEMAS:
        return get_schema(name)
    return schema_from_config(cfg.attributes) if name == "custom" else DEFAULT_SCHEMA


def config_model(cfg: CfgNode, num_classes: int = 1) -> nn.Module:
    """The config's model with ``num_classes`` identities, built with random weights (what its cost is counted on)."""
    cfg = cfg.clone()
    cfg.defrost()
    cfg.model.pretrained = False  # weights do not change the cost, and may not be on this machine
    return build_model_from_config(cfg, num_classes, _schema_for_cost(cfg))


def config_cost(cfg: CfgNode, num_classes: int = 1) -> ModelCost:
    """FLOPs of one test clip (``video.seq_len`` frames at ``data.height x data.width``) and parameters
    of the config's model with ``num_classes`` identities, built with random weights."""
    return count_flops(config_model(cfg, num_classes), cfg.data.height, cfg.data.width, cfg.video.seq_len)


def config_gflops(cfg: CfgNode) -> float:
    """GFLOPs of one test clip for the config's model (the identity classifier, unused at test time, has one class)."""
    return config_cost(cfg).gflops


def final_map(metrics_csv: str) -> float:
    """The mAP (percent) of the last evaluated epoch in a run's ``metrics.csv``."""
    epochs, maps = read_epoch_series(metrics_csv, "mAP")
    if not epochs:
        raise ValueError(f"{metrics_csv} has no evaluated epoch (no mAP); train with test.eval_freq or evaluate at the end")
    return 100.0 * maps[-1]


def plot_flops_map(points: Sequence[RunPoint], out_png: str, paper_references: bool = True) -> str:
    """Scatter our runs (GFLOPs, mAP) and draw the paper's MARS mAP values as reference lines; return ``out_png``."""
    if not points:
        raise ValueError("plot_flops_map needs at least one run")
    figure, axis = new_figure(1, 1, size=(10.5, 4.8))
    for point in points:
        axis.scatter([point.gflops], [point.mAP], s=60, zorder=3, label=f"{point.label} (ours): {point.mAP:.1f}")
        axis.annotate(point.label, (point.gflops, point.mAP), textcoords="offset points", xytext=(6, 4), fontsize=8)
    if paper_references:
        for (label, value), style in zip(PAPER_MARS_MAP, ("-", "--", "-.", ":")):
            axis.axhline(value, color="grey", linestyle=style, linewidth=1.0, label=f"{label}: {value}")
    gflops = [p.gflops for p in points]
    axis.set_xlim(0, max(gflops) * 1.3)
    title = "Computation against mAP"
    if paper_references:
        title += "\n(grey lines: MARS mAP stated in the paper's text, which gives no FLOPs for them)"
    axis.set(xlabel="GFLOPs per clip (torch.utils.flop_counter, 1 multiply-add = 2 FLOPs)", ylabel="mAP (%)", title=title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return save_figure(figure, out_png)

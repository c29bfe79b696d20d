"""An ablation end to end: (synthetic) dataset, the runs, summary, Fig. 7-style curves, the report."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Dict, List, Tuple

from yacs.config import CfgNode

from ..data import check_dataset_files
from .ablation import AblationPlan, ensure_dataset, run_ablation
from .report import ReportContext, write_results
from .summary import computed_observations, summarise_variants, write_mean_curves

# Quick mode: the same pipeline on a tiny dataset and a few iterations, to check it works (not to measure).
QUICK_OPTS: Tuple[str, ...] = (
    "synthetic.num_ids", "12", "synthetic.tracklets_per_id", "4", "synthetic.min_frames", "4",
    "synthetic.max_frames", "8", "synthetic.num_distractors", "1", "synthetic.num_junk", "1",
    "train.max_epoch", "1", "train.max_iters_per_epoch", "2", "train.warmup_epochs", "0",
    "test.eval_freq", "1", "test.max_clips", "1", "data.workers", "0",
)

TRAINING_KEYS = (
    "data.height", "data.width", "data.transforms", "video.seq_len", "video.sample_method", "train.batch_size",
    "sampler.num_instances", "train.optim", "train.lr", "train.weight_decay", "train.max_epoch",
    "train.max_iters_per_epoch", "train.lr_scheduler", "train.stepsize", "train.gamma", "train.warmup_epochs",
    "model.name", "model.pretrained", "model.asta.last_stride", "loss.attribute.type", "loss.triplet.margin",
    "loss.triplet.distance",
    "loss.aitl.distance", "loss.aitl.margin", "test.eval_freq", "test.max_clips", "test.dist_metric",
)


@dataclass(frozen=True)
class BenchmarkOutputs:
    results_md: str
    figure: str


def config_value(cfg: CfgNode, dotted: str) -> object:
    """The value of ``dotted`` (e.g. ``loss.attribute.weight``) in a loaded config, a list for a list or tuple."""
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return list(node) if isinstance(node, (list, tuple)) else node


def dataset_params(cfg: CfgNode, synthetic: bool) -> Dict[str, object]:
    """What the runs trained on: the data root and sources, and the generator's parameters for synthetic data."""
    params: Dict[str, object] = {"data.root": cfg.data.root, "data.sources": list(cfg.data.sources),
                                 "data.targets": list(cfg.data.targets)}
    if synthetic:
        params.update({f"synthetic.{k}": v for k, v in sorted(cfg.synthetic.items())})
    return params


def training_settings(cfg: CfgNode) -> Dict[str, object]:
    return {key: config_value(cfg, key) for key in TRAINING_KEYS}


def draw_curves(runs_by_label: Dict[str, List[str]], curves_dir: str, figure: str) -> str:
    """Seed-averaged DVDP/mAP per epoch per variant in one PNG (the figure helper of plugin/aitl_reid/viz)."""
    from ..viz.curves import plot_dvdp_map_curves

    paths = write_mean_curves(runs_by_label, curves_dir)
    return plot_dvdp_map_curves(paths, figure, title="DVDP and mAP per epoch (mean ± std over seeds)")


def run_benchmark(plan: AblationPlan, results_md: str, figure: str, command: str, make_synthetic: bool = False,
                  reuse: bool = True, keep_checkpoints: bool = False) -> BenchmarkOutputs:
    """Generate the synthetic dataset when asked, check that the data is there, train every run, and write the
    curves, the figure and the report."""
    start = time.time()
    cfg = plan.config()
    if make_synthetic:
        ensure_dataset(cfg)
    check_dataset_files(cfg)  # a missing dataset: its paths and status 2 once, not a failed first run
    results = run_ablation(plan, reuse=reuse, keep_checkpoints=keep_checkpoints)
    labels = [v.label for v in plan.variants]
    summaries = summarise_variants(results, labels)
    runs_by_label = {label: [r.metrics_csv for r in results if r.label == label] for label in labels}
    figure = draw_curves(runs_by_label, os.path.join(plan.runs_dir, "curves"), figure)
    trained_seconds = sum(r.seconds for r in results)
    with_intra = [v.label for v in plan.variants if v.uses_intra_identity_triplet]
    context = ReportContext(command, dataset_params(cfg, make_synthetic), training_settings(cfg), figure, trained_seconds,
                            computed_observations(summaries, with_intra), synthetic=make_synthetic)
    write_results(summaries, results, context, results_md)
    print(f"benchmark finished in {(time.time() - start) / 60:.1f} min: {results_md}, {figure}", flush=True)
    return BenchmarkOutputs(results_md, figure)

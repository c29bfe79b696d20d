"""Row 3: test-time feature extraction, tracklets per second on the synthetic test split.

Ours: ``AITLEngine.extract_tracklet_features`` over the ``DenseClipView`` loaders, which batch dense
clips across tracklets (64 clips per forward pass) and average them per tracklet. Reference: the
released code's way, one tracklet per forward pass (all its dense clips in one batch, a loop over
tracklets, batch size 1 in the loader). Same model, weights, clips and workers; the features must
agree.
"""
from __future__ import annotations

import contextlib
import copy
import io
import os
import warnings
from functools import partial
from typing import Callable, Dict, List, Tuple

import torch
from yacs.config import CfgNode

from aitl_reid import _torchreid
from aitl_reid.data import build_datamanager
from aitl_reid.engine import AITLEngine
from aitl_reid.losses import UnifiedLoss
from aitl_reid.models import build_model

from .rows import Row
from .settings import Settings
from .synthetic_data import synthetic_config, synthetic_root
from .timing import interleaved, interleaved_many

MODEL = "asta_resnet18"
SPLITS = ("query", "gallery")
SWEEP_CLIPS = (4, 16, 64)  # clips per forward pass: a short tracklet (released way) ... ours (test.batch_size)


def forward_rates(model: torch.nn.Module, clip_shape: Tuple[int, ...], runs: int) -> Dict[str, float]:
    """Model-only frames per second (no data loading) by clips per pass, and two CPU inference options.

    Shows whether the device gains from bigger batches at all (a CPU already busy with a few frames
    does not, and then batching across tracklets cannot speed extraction up), and what channels_last
    or a frozen TorchScript model (batch norm folded into the convolutions) would give at our batch.
    """
    inputs = {clips: torch.randn(clips, *clip_shape) for clips in SWEEP_CLIPS}
    big = SWEEP_CLIPS[-1]
    passes: Dict[str, Tuple[Callable, int]] = {
        f"{clips} clips": (partial(model, x), clips) for clips, x in inputs.items()
    }
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python-side shape checks
        channels_last = copy.deepcopy(model).to(memory_format=torch.channels_last)
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, inputs[SWEEP_CLIPS[0]])))
        passes[f"{big} clips channels_last"] = (partial(channels_last, inputs[big]), big)
        passes[f"{big} clips TorchScript-frozen"] = (partial(frozen, inputs[big]), big)
        timings = interleaved_many({label: fn for label, (fn, _) in passes.items()}, runs)
    return {label: clips * clip_shape[0] / timings[label].median for label, (_, clips) in passes.items()}


def per_tracklet_features(model: torch.nn.Module, loader: torch.utils.data.DataLoader) -> torch.Tensor:
    """The released code's extraction: each tracklet's clips ``[n_clips, T, C, H, W]`` in one pass, averaged."""
    features = []
    for data in loader:
        features.append(model(data["img"][0]).mean(0))
    return torch.stack(features)


def tracklet_loaders(cfg: CfgNode, transform: Callable, workers: int) -> Dict[str, torch.utils.data.DataLoader]:
    """One tracklet per item (all its dense clips) for query and gallery, as the released test loader."""
    loaders = {}
    for split in SPLITS:
        dataset = _torchreid.data.datasets.init_video_dataset(
            "mars_attr", root=cfg.data.root, transform=transform, mode=split, seq_len=cfg.video.seq_len,
            max_clips=cfg.test.max_clips, verbose=False,
        )
        loaders[split] = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=workers)
    return loaders


def run(settings: Settings) -> List[Row]:
    height, width = (64, 32) if settings.quick else (128, 64)
    root = synthetic_root(settings.workdir, 8 if settings.quick else 24, height, width)
    cfg = synthetic_config(root, height, width, settings.workers, MODEL)
    with contextlib.redirect_stdout(io.StringIO()):
        datamanager = build_datamanager(cfg, use_gpu=False)
    torch.manual_seed(0)
    model = build_model(MODEL, datamanager.num_train_pids, height=height, width=width,
                        schema=datamanager.attribute_schema).eval()
    engine = AITLEngine(datamanager, model, torch.optim.Adam(model.parameters()),
                        UnifiedLoss(datamanager.attribute_schema), use_gpu=False,
                        save_dir=os.path.join(settings.workdir, "extraction_log"))
    clip_loaders = datamanager.test_loader["mars_attr"]
    released_loaders = tracklet_loaders(cfg, datamanager.transform_te, settings.workers)
    results: Dict[str, Dict[str, torch.Tensor]] = {"ours": {}, "reference": {}}

    @torch.no_grad()
    def ours() -> None:
        for split in SPLITS:
            results["ours"][split] = engine.extract_tracklet_features(clip_loaders[split]).features

    @torch.no_grad()
    def reference() -> None:
        for split in SPLITS:
            results["reference"][split] = per_tracklet_features(model, released_loaders[split])

    tracklets = sum(clip_loaders[split].dataset.num_tracklets for split in SPLITS)
    clips = sum(len(clip_loaders[split].dataset) for split in SPLITS)
    settings.log(f"extraction: {MODEL} at {height}x{width}, {tracklets} tracklets ({clips} clips) per run")
    ours_time, ref_time = interleaved(ours, reference, settings.runs)
    diff = max(float((results["ours"][s] - results["reference"][s]).abs().max()) for s in SPLITS)
    if diff > 1e-3:
        raise AssertionError(f"batched and per-tracklet extraction disagree: max |feature difference| {diff}")
    rates = forward_rates(model, (cfg.video.seq_len, 3, height, width), settings.runs)
    sweep = ", ".join(f"{label} {rate:.0f}" for label, rate in rates.items())
    return [Row(
        "extraction", f"Test-time extraction, {MODEL} {height}x{width}, synthetic query + gallery "
        f"({tracklets} tracklets, {clips} clips of T={cfg.video.seq_len})",
        f"AITLEngine.extract_tracklet_features (clips batched across tracklets, {cfg.test.batch_size} per pass)",
        "released code's way (one tracklet per forward pass)", ours_time, ref_time, item="tracklets",
        items_per_run=tracklets, sense="speedup", goal=2.0,
        notes=[f"{settings.workers} loader workers for both; same features: max |difference| {diff:.1e}",
               f"model forward alone (no data), frames/s: {sweep}"],
        extra={"tracklets": tracklets, "clips": clips, "feature_max_abs_diff": diff,
               **{f"forward_frames_per_s {label}": rate for label, rate in rates.items()}},
    )]

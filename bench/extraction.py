"""Test-time feature extraction, tracklets per second on the synthetic test split (row 8 and the two after it).

Reference: the released code's way, one tracklet per forward pass (all its dense clips in one batch,
a loop over tracklets, batch size 1 in the loader). Ours: :mod:`aitl_reid.inference`'s encoder over
the same dense clips, batched across tracklets (16 clips per pass) and averaged per tracklet, with
its ``fast`` backend (a frozen TorchScript graph, batch norm folded, float32) and its ``bf16``
backend; the engine's exact batched evaluation is timed in the same rounds (a note), and ONNX
Runtime is compared with the exact PyTorch path through the same encoder. Same model, weights,
clips and workers; the features must agree (bf16: within its stated tolerance).
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
from aitl_reid.data.transforms import ClipTransform
from aitl_reid.engine import AITLEngine
from aitl_reid.inference import TorchForward, Tracklet, TrackletEncoder, TrainedModel
from aitl_reid.inference.encoder import ClipForward
from aitl_reid.models.frozen import BF16_RELATIVE_TOLERANCE, FrozenForward
from aitl_reid.inference.onnx_backend import OnnxForward, export_onnx
from aitl_reid.losses import UnifiedLoss
from aitl_reid.models import build_model

from .rows import Row, format_seconds
from .settings import Settings
from .synthetic_data import synthetic_config, synthetic_root
from .timing import Timing, interleaved_many, median_ratio

MODEL = "asta_resnet18"
SPLITS = ("query", "gallery")
SWEEP_CLIPS = (4, 16, 64)  # clips per forward pass: a short tracklet (released way) ... ours (test.batch_size)
QUICK_SWEEP_CLIPS = (4, 16)
ENCODER_BATCH = 16  # the inference CLI's default: on a CPU, 16 clips per pass run faster per frame than 64 (cache)


def forward_rates(model: torch.nn.Module, clip_shape: Tuple[int, ...], runs: int,
                  sweep: Tuple[int, ...] = SWEEP_CLIPS, warmup: int = 1) -> Dict[str, float]:
    """Model-only frames per second (no data loading) by clips per pass, and two CPU inference options.

    Shows whether the device gains from bigger batches at all (a CPU already busy with a few frames
    does not, and then batching across tracklets cannot speed extraction up), and what channels_last
    or a frozen TorchScript model (batch norm folded into the convolutions) would give at our batch.
    """
    inputs = {clips: torch.randn(clips, *clip_shape) for clips in sweep}
    big = sweep[-1]
    passes: Dict[str, Tuple[Callable, int]] = {
        f"{clips} clips": (partial(model, x), clips) for clips, x in inputs.items()
    }
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python-side shape checks
        channels_last = copy.deepcopy(model).to(memory_format=torch.channels_last)
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, inputs[big], check_trace=False)))
        passes[f"{big} clips channels_last"] = (partial(channels_last, inputs[big]), big)
        passes[f"{big} clips TorchScript-frozen"] = (partial(frozen, inputs[big]), big)
        timings = interleaved_many({label: fn for label, (fn, _) in passes.items()}, runs, warmup)
    return {label: clips * clip_shape[0] / timings[label].median for label, (_, clips) in passes.items()}


def per_tracklet_features(model: torch.nn.Module, loader: torch.utils.data.DataLoader, transform: ClipTransform) -> torch.Tensor:
    """The released code's extraction: each tracklet's clips ``[n_clips, T, C, H, W]`` in one pass, averaged."""
    features = []
    for data in loader:
        features.append(model(transform.finish(data["img"][0])).mean(0))
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


def encoder_inputs(datamanager) -> Dict[str, List[Tracklet]]:
    """The test splits as the inference API takes them (the same frames, in the same order)."""
    return {split: [Tracklet(str(i), tuple(items[0])) for i, items in enumerate(datamanager.test_dataset["mars_attr"][split])]
            for split in SPLITS}


def run(settings: Settings) -> List[Row]:
    height, width = (64, 32) if settings.quick else (128, 64)
    root = synthetic_root(settings.workdir, 8 if settings.quick else 24, height, width)
    cfg = synthetic_config(root, height, width, settings.workers, MODEL)
    with contextlib.redirect_stdout(io.StringIO()):
        datamanager = build_datamanager(cfg, use_gpu=False)
    torch.manual_seed(0)
    model = build_model(MODEL, datamanager.num_train_pids, pretrained=False, height=height, width=width,
                        schema=datamanager.attribute_schema).eval()
    engine = AITLEngine(datamanager, model, torch.optim.Adam(model.parameters()),
                        UnifiedLoss(datamanager.attribute_schema), use_gpu=False,
                        save_dir=os.path.join(settings.workdir, "extraction_log"))
    clip_loaders = datamanager.test_loader["mars_attr"]
    released_loaders = tracklet_loaders(cfg, datamanager.transform_te, settings.workers)
    cpu = torch.device("cpu")
    trained = TrainedModel(cfg, datamanager.attribute_schema, model, cpu, "random weights")
    forwards: Dict[str, ClipForward] = {
        "fast": FrozenForward(model), "bf16": FrozenForward(model, bf16=True), "exact": TorchForward(model, cpu),
    }
    if not settings.quick:  # the export alone outlasts the rest of a quick run; tests/test_inference_cli.py checks ONNX
        onnx_path = os.path.join(settings.workdir, "extraction.onnx")
        export_onnx(trained, onnx_path)
        forwards["onnx"] = OnnxForward(onnx_path, threads=torch.get_num_threads())
    encoders = {name: TrackletEncoder(trained, forward, batch_size=ENCODER_BATCH, workers=settings.workers,
                                      progress=False) for name, forward in forwards.items()}
    inputs = encoder_inputs(datamanager)
    results: Dict[str, Dict[str, torch.Tensor]] = {name: {} for name in ["engine", "released", *forwards]}

    @torch.no_grad()
    def engine_path() -> None:
        for split in SPLITS:
            results["engine"][split] = engine.extract_tracklet_features(clip_loaders[split]).features

    @torch.no_grad()
    def released() -> None:
        for split in SPLITS:
            results["released"][split] = per_tracklet_features(model, released_loaders[split], datamanager.transform_te)

    def encode(name: str) -> Callable[[], None]:
        def run_encoder() -> None:
            for split in SPLITS:
                results[name][split] = encoders[name].encode(inputs[split]).features
        return run_encoder

    tracklets = sum(clip_loaders[split].dataset.num_tracklets for split in SPLITS)
    clips = sum(len(clip_loaders[split].dataset) for split in SPLITS)
    settings.log(f"extraction: {MODEL} at {height}x{width}, {tracklets} tracklets ({clips} clips) per run, "
                 f"paths: released, engine, {', '.join(forwards)}")
    timings = interleaved_many({"released": released, "engine": engine_path, **{n: encode(n) for n in forwards}}, settings.runs,
                               settings.warmup)
    diff = {name: max(float((results[name][s] - results["released"][s]).abs().max()) for s in SPLITS) for name in results}
    scale = max(float(results["released"][s].abs().max()) for s in SPLITS)
    for name, value in diff.items():
        limit = BF16_RELATIVE_TOLERANCE * scale if name == "bf16" else 1e-3
        if value > limit:
            raise AssertionError(f"{name} and per-tracklet extraction disagree: max |feature difference| {value} > {limit}")
    rates = forward_rates(model, (cfg.video.seq_len, 3, height, width), settings.runs,
                          QUICK_SWEEP_CLIPS if settings.quick else SWEEP_CLIPS, settings.warmup)
    sweep = ", ".join(f"{label} {rate:.0f}" for label, rate in rates.items())
    setting = (f"{MODEL} {height}x{width}, synthetic query + gallery ({tracklets} tracklets, {clips} clips of "
               f"T={cfg.video.seq_len}), {ENCODER_BATCH} clips per pass")
    released_name = "released code's way (one tracklet per forward pass)"
    engine_note = (f"the engine's evaluation (AITLEngine.extract_tracklet_features, exact PyTorch, "
                   f"{cfg.test.batch_size} clips per pass): "
                   f"{format_seconds(timings['engine'].median)} per run, "
                   f"{median_ratio(timings['released'].seconds, timings['engine'].seconds)[0]:.2f}x faster than released")
    common = dict(item="tracklets", items_per_run=tracklets, sense="speedup",
                  extra={"tracklets": tracklets, "clips": clips, **{f"feature_max_abs_diff {n}": v for n, v in diff.items()}})
    return [
        Row("extraction", f"Test-time extraction, {setting}",
            "aitl_reid.inference, backend fast (TorchScript frozen, batch norm folded, float32)", released_name,
            timings["fast"], timings["released"], goal=2.0, **common,
            notes=[f"{settings.workers} loader workers for all; features: max |difference| from released {diff['fast']:.1e}",
                   engine_note, f"model forward alone (no data), frames/s: {sweep}"]),
        Row("extraction", f"Test-time extraction, bfloat16, {setting}",
            "aitl_reid.inference, backend bf16 (TorchScript frozen, channels_last, bfloat16 autocast)", released_name,
            timings["bf16"], timings["released"], goal=2.0, **common,
            notes=[f"features: max |difference| from released {diff['bf16']:.1e}, "
                   f"{diff['bf16'] / scale:.1e} of the largest feature value (stated tolerance {BF16_RELATIVE_TOLERANCE:g})"]),
        onnx_row(setting, timings, diff, common),
    ]


def onnx_row(setting: str, timings: Dict[str, Timing], diff: Dict[str, float], common: Dict[str, object]) -> Row:
    """ONNX Runtime against exact PyTorch through the same encoder; skipped in quick mode (no export)."""
    name = f"ONNX Runtime vs PyTorch on CPU, extraction, {setting}"
    ours, reference = "aitl_reid.inference, ONNX Runtime (exported graph, same threads)", "aitl_reid.inference, backend exact (PyTorch)"
    if "onnx" not in timings:
        return Row("extraction", name, ours, reference, skipped="not run in quick mode: the ONNX export takes longer than the rest")
    return Row("extraction", name, ours, reference, timings["onnx"], timings["exact"], **common,
               notes=[f"features: max |difference| ONNX {diff['onnx']:.1e}, exact {diff['exact']:.1e} from released"])

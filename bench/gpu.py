"""GPU measurements (row 6): ``asta_resnet50`` at 256x128, 8 identities x 4 tracklets x T=4.

Training steps in fp32, bf16 autocast, channels_last and both (frames/s, peak memory) and
evaluation extraction (frames/s) with the same modes; fp32 is the reference of each row. With
``--before-plugin DIR`` also the engine's training step of this tree against the plugin in ``DIR``
(host synchronisations per iteration by CUDA's sync debug mode, and time per iteration;
:mod:`bench.step_syncs`), e.g. the code before the one-read step:

    git archive f1a33f0 plugin | tar -x -C bench/out/before   # bench/out/ is ignored by git
    python -m bench.gpu --device cuda --before-plugin bench/out/before/plugin --json OUT/gpu.json
    python -m bench.gpu --device cuda              # the precision and layout rows only, about a minute on one GPU
    python -m bench.gpu --device cpu --tiny        # smoke test of this script on a CPU

``python -m bench.run`` adds these rows itself when CUDA is available (the engine step's against
``--before-rev``, extracted with git).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch

from aitl_reid.process_exit import finish
from bench import step_syncs
from bench.rows import Row, console_table
from bench.settings import Settings
from bench.timing import Timing
from bench.training import ClipBatches, make_setup, train_step

MODES: Dict[str, Tuple[Optional[torch.dtype], bool]] = {  # name -> (autocast dtype, channels_last)
    "fp32": (None, False),
    "bf16 autocast": (torch.bfloat16, False),
    "channels_last fp32": (None, True),
    "channels_last + bf16": (torch.bfloat16, True),
}
REFERENCE_MODE = "fp32"


@dataclass(frozen=True)
class GpuConfig(ClipBatches):
    """Model, input size, batch layout and repetitions."""

    steps: int
    warmup: int
    eval_clips: int

    @property
    def train_frames(self) -> int:
        return self.ids * self.instances * self.seq_len

    @property
    def eval_frames(self) -> int:
        return self.eval_clips * self.seq_len


FULL = GpuConfig("asta_resnet50", 256, 128, ids=8, instances=4, seq_len=4, steps=10, warmup=3, eval_clips=64)
TINY = GpuConfig("asta_resnet18", 32, 16, ids=2, instances=2, seq_len=2, steps=1, warmup=1, eval_clips=4)


@dataclass
class ModeResult:
    """Per-step seconds and peak memory (MiB; None off CUDA) of one mode."""

    train: Timing
    evaluate: Timing
    train_peak_mib: Optional[float]
    eval_peak_mib: Optional[float]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mib(device: torch.device) -> Optional[float]:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def _timed(fn, device: torch.device, warmup: int, runs: int) -> Timing:
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(runs):
        _synchronize(device)
        start = time.perf_counter()
        fn()
        _synchronize(device)
        seconds.append(time.perf_counter() - start)
    return Timing(tuple(seconds))


def measure_mode(config: GpuConfig, device: torch.device, dtype: Optional[torch.dtype],
                 channels_last: bool) -> ModeResult:
    """Training steps, then evaluation passes, of a fresh model in one precision/layout mode."""
    batch = config.batch()
    setup = make_setup(config.model, batch, "unified", device=str(device), channels_last=channels_last)
    _reset_peak(device)
    train = _timed(lambda: train_step(setup, dtype), device, config.warmup, config.steps)
    train_peak = _peak_mib(device)

    model = setup.model.eval()
    clips = torch.randn(config.eval_clips, config.seq_len, 3, config.height, config.width, device=device)
    setup.optimizer.zero_grad(set_to_none=True)

    @torch.no_grad()
    def evaluate() -> None:
        with torch.autocast(device_type=device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            model(clips)

    _reset_peak(device)
    evaluation = _timed(evaluate, device, config.warmup, config.steps)
    return ModeResult(train, evaluation, train_peak, _peak_mib(device))


def _memory(mib: Optional[float]) -> str:
    return "n/a (not CUDA)" if mib is None else f"{mib:.0f} MiB"


def measure(config: GpuConfig, device: torch.device, log=print) -> List[Row]:
    """One row per non-reference mode and phase (training, evaluation), fp32 as the reference."""
    results: Dict[str, ModeResult] = {}
    for name, (dtype, channels_last) in MODES.items():
        log(f"gpu: {config.model} {config.height}x{config.width} on {device}, mode {name}")
        results[name] = measure_mode(config, device, dtype, channels_last)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    reference = results[REFERENCE_MODE]
    where = f"{config.model} {config.height}x{config.width} on {_device_name(device)}"
    rows = []
    for name, result in results.items():
        if name == REFERENCE_MODE:
            continue
        rows.append(Row(
            "gpu", f"GPU training step, {where}, {config.ids}x{config.instances} tracklets x T={config.seq_len}",
            name, REFERENCE_MODE, result.train, reference.train, item="frames", items_per_run=config.train_frames,
            notes=[f"peak memory {_memory(result.train_peak_mib)} vs {_memory(reference.train_peak_mib)}; "
                   f"{config.steps} steps after {config.warmup} warm-up"],
        ))
        rows.append(Row(
            "gpu", f"GPU evaluation forward, {where}, {config.eval_clips} clips x T={config.seq_len}",
            name, REFERENCE_MODE, result.evaluate, reference.evaluate, item="frames",
            items_per_run=config.eval_frames,
            notes=[f"peak memory {_memory(result.eval_peak_mib)} vs {_memory(reference.eval_peak_mib)}"],
        ))
    return rows


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"


def engine_step_row(settings: Settings, device: str, before_plugin: str, before_label: str, tiny: bool) -> Row:
    """The engine's training step on ``device``, this tree against the plugin in ``before_plugin``."""
    return step_syncs.compare(settings, "tiny" if tiny else "gpu", device, before_plugin, before_label)


def run(settings: Settings, note: str = "") -> List[Row]:
    """The GPU rows when CUDA is available, else one skipped row that says why."""
    if not torch.cuda.is_available():
        reason = "no CUDA device on the benchmarking machine" + (f"; {note}" if note else "")
        reason += "; run `python -m bench.gpu --device cuda` on a GPU machine"
        return [Row("gpu", "GPU: asta_resnet50 256x128 training (fp32 / bf16 / channels_last) and extraction",
                    "-", "-", skipped=reason)]
    rows = measure(TINY if settings.quick else FULL, torch.device("cuda"), settings.log)
    rev = settings.before_rev or step_syncs.BEFORE_REV
    reason = step_syncs.skip_reason(settings)
    if not reason:
        try:
            return rows + [engine_step_row(settings, "cuda", step_syncs.revision_plugin(rev, settings.workdir), rev,
                                           tiny=False)]
        except (OSError, subprocess.CalledProcessError) as err:
            reason = f"cannot extract plugin/ of git revision {rev} ({err}); use python -m bench.gpu --before-plugin DIR"
    return rows + [Row("gpu", "GPU training step through AITLEngine, host synchronisations per iteration",
                       "this tree", rev, skipped=reason)]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    parser.add_argument("--tiny", action="store_true", help="resnet18 at 32x16, 2x2 tracklets x T=2 (smoke test)")
    parser.add_argument("--json", default="", help="also write the rows as JSON to this path")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU intra-op threads (0 = torch's default); 1 is steadier on a shared CPU")
    parser.add_argument("--before-plugin", default="",
                        help="also compare the engine's training step of this tree with the plugin folder DIR "
                             "(e.g. extracted from an earlier revision with git archive)")
    parser.add_argument("--before-label", default="", help="what the row calls it (default: DIR as given)")
    parser.add_argument("--runs", type=int, default=3, help="rounds of the engine-step comparison (one process a side)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: CUDA is not available on this machine (use --device cpu --tiny to test the script)",
              file=sys.stderr)
        return 2
    rows = measure(TINY if args.tiny else FULL, device)
    if args.before_plugin:
        with tempfile.TemporaryDirectory(prefix="aitl_gpu_") as workdir:
            settings = Settings(quick=args.tiny, runs=args.runs, workers=0, workdir=workdir)
            rows.append(engine_step_row(settings, args.device, args.before_plugin,
                                        args.before_label or args.before_plugin, args.tiny))
    print(console_table(rows))
    for row in rows:
        print(f"- {row.name} ({row.ours}): " + "; ".join(row.notes))
    if args.json:
        Path(args.json).write_text(json.dumps([row.as_dict() for row in rows], indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(finish(main()))

"""Run the Table 1 ablation: every variant x seed as a separate ``python -m aitl_reid.train`` process on one fixed dataset.

Each run is its own process so that one run's memory, threads, random state and log redirection
cannot leak into the next, and a crash is reported instead of ending the benchmark. A run whose
folder already holds a finished run of the identical command is reused, so an interrupted benchmark
resumes where it stopped.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

from yacs.config import CfgNode

from ..launch import load_config
from ..synthetic import generate_synthetic_mars, synthetic_kwargs_from_config, tree_status
from .summary import RunResult, read_run_result
from .variants import Variant

RUN_RECORD = "run.json"
TRAINER = "aitl_reid.train"


@dataclass(frozen=True)
class AblationPlan:
    """What to run: the shared config, the shared overrides, the variants and the seeds."""

    config_file: str
    shared_opts: Tuple[str, ...]  # KEY VALUE pairs applied to every run (data.root, quick-mode sizes, ...)
    variants: Tuple[Variant, ...]
    seeds: Tuple[int, ...]
    runs_dir: str

    def config(self) -> CfgNode:
        """The shared config with the shared overrides (what every variant starts from)."""
        return load_config(self.config_file, self.shared_opts)

    def run_dir(self, variant: Variant, seed: int) -> str:
        return os.path.join(self.runs_dir, variant.slug, f"seed{seed}")

    def command(self, variant: Variant, seed: int) -> List[str]:
        """The trainer's command line of one run (the installed package's); variant keys come last so they win."""
        return [
            sys.executable, "-m", TRAINER, "--config-file", self.config_file, *self.shared_opts,
            *variant.overrides, "train.seed", str(seed), "data.save_dir", self.run_dir(variant, seed),
        ]


@dataclass
class RunRecord:
    """A finished run's command, exit status and duration, stored as ``run.json`` in its folder."""

    command: List[str]
    returncode: int
    seconds: float
    reused: bool = field(default=False, compare=False)


def ensure_dataset(cfg: CfgNode, workers: int = 1) -> str:
    """Generate the synthetic dataset ``cfg.synthetic`` describes under ``cfg.data.root`` unless already complete."""
    kwargs = synthetic_kwargs_from_config(cfg)
    root = kwargs.pop("root")
    status = tree_status(root, **kwargs)
    if status != "complete":
        print(f"synthetic benchmark data in {root}: {status}; generating it", flush=True)
        generate_synthetic_mars(root, workers=workers, **kwargs)
    return root


def _load_record(run_dir: str) -> Optional[RunRecord]:
    path = os.path.join(run_dir, RUN_RECORD)
    if not os.path.isfile(path):
        return None
    with open(path, "r", encoding="utf-8") as handle:
        data = json.load(handle)
    return RunRecord(data["command"], data["returncode"], data["seconds"], reused=True)


def _portable(command: Sequence[str]) -> List[str]:
    """The command from ``--config-file`` on: without the interpreter and the trainer's entry (a script
    path before, ``-m aitl_reid.train`` now), which differ between machines but not between runs."""
    return list(command[list(command).index("--config-file"):])


def train_once(command: List[str], run_dir: str, reuse: bool, keep_checkpoints: bool = False) -> RunRecord:
    """Run one training process (output to ``<run_dir>/console.txt``), or reuse an identical finished run.

    The benchmark needs only ``metrics.csv`` and ``log.txt``; the checkpoints (over 100 MB each, one per
    evaluation) are deleted after a successful run unless ``keep_checkpoints``.
    """
    previous = _load_record(run_dir) if reuse else None
    if previous is not None and previous.returncode == 0 and _portable(previous.command) == _portable(command):
        return previous
    os.makedirs(run_dir, exist_ok=True)
    metrics = os.path.join(run_dir, "metrics.csv")
    if os.path.exists(metrics):
        os.remove(metrics)  # the engine appends to an existing file; a fresh run starts a fresh record
    start = time.time()
    with open(os.path.join(run_dir, "console.txt"), "w", encoding="utf-8") as console:
        returncode = subprocess.call(command, stdout=console, stderr=subprocess.STDOUT)
    record = RunRecord(command, returncode, time.time() - start)
    if returncode == 0 and not keep_checkpoints:
        shutil.rmtree(os.path.join(run_dir, "model"), ignore_errors=True)
    with open(os.path.join(run_dir, RUN_RECORD), "w", encoding="utf-8") as handle:
        json.dump({"command": record.command, "returncode": returncode, "seconds": record.seconds}, handle, indent=1)
    return record


def run_ablation(plan: AblationPlan, reuse: bool = True, keep_checkpoints: bool = False,
                 progress: Callable[[str], None] = lambda line: print(line, flush=True)) -> List[RunResult]:
    """Train every variant x seed (seed-major, so a stopped benchmark has every variant at some seed)."""
    results = []
    total = len(plan.variants) * len(plan.seeds)
    for seed in plan.seeds:
        for variant in plan.variants:
            run_dir = plan.run_dir(variant, seed)
            record = train_once(plan.command(variant, seed), run_dir, reuse, keep_checkpoints)
            if record.returncode != 0:
                raise RuntimeError(f"{variant.label} (seed {seed}) failed with exit status {record.returncode}; "
                                   f"see {os.path.join(run_dir, 'console.txt')}")
            result = read_run_result(variant.label, seed, os.path.join(run_dir, "metrics.csv"), record.seconds)
            progress(f"[{len(results) + 1}/{total}] {variant.label:<24} seed {seed}: R1 {result.rank1:.1%}  "
                     f"mAP {result.mAP:.1%}  DVDP {result.dvdp:.4f}  ({record.seconds:.0f} s"
                     f"{', reused' if record.reused else ''})")
            results.append(result)
    return results

"""Run an ablation: every variant x seed as a separate ``python -m aitl_reid.train`` process on one dataset.

Each run is its own process (or its own ``torchrun`` group) so that one run's memory, threads,
random state and log redirection cannot leak into the next, and a crash is reported instead of
ending the sweep. Every run is an ordinary training run folder started with ``model.resume auto``:
its command is recorded in ``run.json`` before it starts, so a killed sweep run again continues each
unfinished run from its newest checkpoint and skips the finished ones, and a folder that holds a
run of another command is refused instead of being mixed with it.
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
from ..serialization import atomic_write
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
    nproc_per_node: int = 1  # > 1: each run under torchrun with this many processes (one per GPU)

    def config(self) -> CfgNode:
        """The shared config with the shared overrides (what every variant starts from)."""
        return load_config(self.config_file, self.shared_opts)

    def run_dir(self, variant: Variant, seed: int) -> str:
        return os.path.join(self.runs_dir, variant.slug, f"seed{seed}")

    def command(self, variant: Variant, seed: int) -> List[str]:
        """The trainer's command line of one run (the installed package's); variant keys come last so they win."""
        launcher = [sys.executable, "-m"]
        if self.nproc_per_node > 1:
            launcher += ["torch.distributed.run", "--standalone", f"--nproc_per_node={self.nproc_per_node}", "-m"]
        return [
            *launcher, TRAINER, "--config-file", self.config_file, *self.shared_opts, *variant.overrides,
            "train.seed", str(seed), "data.save_dir", self.run_dir(variant, seed), "model.resume", "auto",
        ]


@dataclass
class RunRecord:
    """A run's command and, once it ended, its exit status; stored as ``run.json`` in its folder.

    ``returncode`` is None while the run has not ended (or was killed); ``seconds`` adds up the
    wall time of every attempt.
    """

    command: List[str]
    returncode: Optional[int]
    seconds: float
    reused: bool = field(default=False, compare=False)


class SweepFolderError(ValueError):
    """A run folder holds another command's run; the message names it and what to do."""


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
    try:
        with open(path, "r", encoding="utf-8") as handle:
            data = json.load(handle)
        return RunRecord(list(data["command"]), data["returncode"], float(data["seconds"]), reused=True)
    except (ValueError, KeyError, TypeError) as err:
        raise SweepFolderError(f"{path}: not a run record of this tool ({err}); move the folder away or use "
                               "another --output") from None


def _save_record(run_dir: str, record: RunRecord) -> None:
    with atomic_write(os.path.join(run_dir, RUN_RECORD), "w", encoding="utf-8") as handle:
        json.dump({"command": record.command, "returncode": record.returncode, "seconds": record.seconds}, handle,
                  indent=1)


def _portable(command: Sequence[str]) -> List[str]:
    """What decides a run's result: the process count and the trainer's arguments from ``--config-file`` on,
    without ``model.resume auto`` (how it starts, not what it trains). The interpreter's path and the
    trainer's entry (a script path before, ``-m aitl_reid.train`` now) differ between machines, not runs."""
    start = list(command).index("--config-file")
    processes = [a for a in command[:start] if a.startswith("--nproc_per_node")]
    args = list(command[start:])
    if args[-2:] == ["model.resume", "auto"]:
        args = args[:-2]
    return processes + args


def train_once(command: List[str], run_dir: str, reuse: bool = True, keep_checkpoints: bool = False) -> RunRecord:
    """Run one training to its end (output to ``<run_dir>/console.txt``), continuing an unfinished one.

    A folder whose record holds the same command is continued (``model.resume auto`` in the command),
    or reused as it is when that run finished (``reuse``); one whose record holds another command, or
    that holds files but no record, is refused. The sweep needs only ``metrics.csv`` and ``log.txt``:
    the checkpoints (over 100 MB each for ResNet-50) are deleted once a run finished, unless
    ``keep_checkpoints``.
    """
    previous = _load_record(run_dir)
    if previous is None and os.path.isdir(run_dir) and os.listdir(run_dir):
        raise SweepFolderError(f"{run_dir} holds files but no {RUN_RECORD}: it is not a run of this sweep. "
                               "Move it away or give another --output.")
    if previous is not None and _portable(previous.command) != _portable(command):
        raise SweepFolderError(
            f"{run_dir} holds a run of another command ({' '.join(_portable(previous.command))}); "
            "give another --output, or delete the folder to retrain it with the new settings."
        )
    if previous is not None and previous.returncode == 0 and reuse:
        return previous
    if previous is not None and previous.returncode == 0:  # --no-reuse: a fresh start, not a resume
        shutil.rmtree(run_dir)
        previous = None
    os.makedirs(run_dir, exist_ok=True)
    spent = previous.seconds if previous is not None else 0.0
    _save_record(run_dir, RunRecord(command, None, spent))
    start = time.time()
    with open(os.path.join(run_dir, "console.txt"), "a", encoding="utf-8") as console:
        returncode = subprocess.call(command, stdout=console, stderr=subprocess.STDOUT)
    record = RunRecord(command, returncode, spent + time.time() - start)
    if returncode == 0 and not keep_checkpoints:
        shutil.rmtree(os.path.join(run_dir, "model"), ignore_errors=True)
    _save_record(run_dir, record)
    return record


def run_ablation(plan: AblationPlan, reuse: bool = True, keep_checkpoints: bool = False,
                 progress: Callable[[str], None] = lambda line: print(line, flush=True)) -> List[RunResult]:
    """Train every variant x seed (seed-major, so a stopped sweep has every variant at some seed)."""
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

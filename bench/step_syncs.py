"""The engine's training step, this tree against an earlier revision of the plugin: host synchronisations and time
per iteration (issue 19, item 6: a lighter training step).

Both sides run this file in fresh processes, each importing its own plugin (``PYTHONPATH``): the
reference is the ``plugin/`` folder of git revision ``BEFORE_REV`` (the code before the lighter step),
extracted with ``git archive``. A side builds ``AITLEngine`` around a model of this plugin, the full
unified loss (cross-entropy, triplet, AITL on both streams, attributes) and every diagnostic, over
batches of random clips held in memory (no loader), and runs ``AITLEngine.train``: a warm-up epoch,
timed epochs (seconds per iteration, epoch end included), then one epoch whose host synchronisations
are counted: on a GPU by CUDA's own sync debug mode, on a CPU by :mod:`bench.host_syncs` (the reads
that would make a GPU wait). SGD with momentum, because torch's Adam reads its step counter on the host,
which a CPU count cannot tell from a device read. The sides run in rounds whose order rotates.

    python -m bench.run --only step                         # CPU row against BEFORE_REV (about 3 minutes)
    python -m bench.step_syncs --config cpu --device cpu --json OUT.json   # one side, in this process

On a GPU, ``python -m bench.gpu --device cuda --before-plugin DIR`` adds the same comparison at the
GPU size (``python -m bench.run`` does it by itself on a CUDA machine with git).
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional

import torch

from aitl_reid.process_exit import finish

from .host_syncs import count_host_syncs
from .rows import Row
from .settings import Settings
from .timing import Timing, load_average
from .training import LR, NUM_CLASSES, SCHEMA, ClipBatches

REPO = Path(__file__).resolve().parents[1]
BEFORE_REV = "f1a33f0"  # the last commit before the one-read training step
TIMEOUT_S = 900


@dataclass(frozen=True)
class StepConfig(ClipBatches):
    """Model, clip size, batch layout (P x K clips of T frames), epoch length, print frequency and precision."""

    iterations: int
    print_freq: int
    timed_epochs: int
    amp: str = "off"

    def label(self) -> str:
        precision = "" if self.amp == "off" else f", {self.amp} autocast"
        return (f"{self.model} {self.height}x{self.width}, P={self.ids} K={self.instances} T={self.seq_len}, "
                f"{self.iterations} iterations per epoch, a progress line every {self.print_freq}{precision}")


CONFIGS: Dict[str, StepConfig] = {
    "cpu": StepConfig("asta_resnet18", 64, 32, ids=4, instances=4, seq_len=4, iterations=10, print_freq=5,
                      timed_epochs=1),
    "gpu": StepConfig("asta_resnet50", 256, 128, ids=8, instances=4, seq_len=4, iterations=20, print_freq=20,
                      timed_epochs=2, amp="bf16"),
    "tiny": StepConfig("asta_resnet18", 32, 16, ids=2, instances=3, seq_len=2, iterations=3, print_freq=2,
                       timed_epochs=1),
}


# ------------------------------------------------------------------ one side, in its own process
def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _count_cuda_syncs(epoch: Callable[[], None]) -> List[str]:
    """Where (``file:line``) CUDA's sync debug mode reported a synchronising call during ``epoch``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            epoch()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return [f"{w.filename}:{w.lineno}" for w in caught if "synchroniz" in str(w.message)]


def _count_dispatched_syncs(epoch: Callable[[], None]) -> List[str]:
    """Where (``file:line``) :func:`bench.host_syncs.count_host_syncs` counted a read during ``epoch``."""
    with count_host_syncs() as syncs:
        epoch()
    return [caller for _, caller in syncs.events]


def measure(config: StepConfig, device: torch.device) -> Dict[str, Any]:
    """One side's numbers: seconds per iteration of each timed epoch, host synchronisations per iteration of the
    counted epoch and the files they came from (relative to the plugin folder), and which plugin was measured."""
    import aitl_reid
    from aitl_reid.engine import AITLEngine
    from aitl_reid.losses import UnifiedLoss
    from aitl_reid.models import build_model

    batches = []
    for seed in range(config.iterations):
        clips, pids, attrs = config.batch(seed)
        batches.append({"img": clips, "pid": pids, "attrs": attrs})
    datamanager = SimpleNamespace(train_loader=batches, test_loader={}, targets=["bench"], sources=["bench"],
                                  attribute_schema=SCHEMA, target_schemas={"bench": SCHEMA},
                                  train_attrs=torch.cat([batch["attrs"] for batch in batches]))
    torch.manual_seed(0)
    model = build_model(config.model, NUM_CLASSES, pretrained=False, height=config.height, width=config.width,
                        schema=SCHEMA)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    with tempfile.TemporaryDirectory(prefix="aitl_step_") as save_dir:
        engine = AITLEngine(datamanager, model, optimizer, UnifiedLoss(SCHEMA), use_gpu=device.type == "cuda",
                            amp=config.amp, save_dir=save_dir, checkpoint_freq=10**6)
        engine.epoch, engine.max_epoch = 0, config.timed_epochs + 2

        def epoch() -> None:
            engine.train(print_freq=config.print_freq)
            engine.epoch += 1

        with contextlib.redirect_stdout(io.StringIO()):
            epoch()  # warm-up: allocations, kernel selection
            seconds = []
            for _ in range(config.timed_epochs):
                _synchronize(device)
                start = time.perf_counter()
                epoch()
                _synchronize(device)
                seconds.append((time.perf_counter() - start) / config.iterations)
            sites = _count_cuda_syncs(epoch) if device.type == "cuda" else _count_dispatched_syncs(epoch)
    package = Path(aitl_reid.__file__).parent
    files = [site.replace(f"{package.parent}{os.sep}", "").rsplit(":", 1)[0] for site in sites]
    return {"plugin": str(package), "seconds_per_iteration": seconds, "syncs_per_iteration": len(sites) / config.iterations,
            "per_iteration_by_file": {name: count / config.iterations
                                      for name, count in collections.Counter(files).most_common()}}


# ------------------------------------------------------------------ both sides, in rotating rounds
def revision_plugin(rev: str, workdir: str) -> str:
    """The ``plugin`` folder of git revision ``rev`` of this repository, extracted under ``workdir``."""
    target = os.path.join(workdir, f"plugin_{rev}")
    if not os.path.isdir(target):
        archive = subprocess.run(["git", "archive", rev, "plugin"], cwd=REPO, capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(target, filter="data")
    return os.path.join(target, "plugin")


def run_side(plugin: str, config_name: str, device: str, threads: int, workdir: str) -> Dict[str, Any]:
    """:func:`measure` in a fresh process importing the plugin in ``plugin``."""
    out = os.path.join(workdir, "step_side.json")
    path = os.pathsep.join(p for p in (plugin, os.environ.get("PYTHONPATH", "")) if p)  # this side's plugin first
    env = {**os.environ, "PYTHONPATH": path, "AITL_REID_PROGRESS": "0", "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "bench.step_syncs", "--config", config_name, "--device", device,
               "--threads", str(threads), "--json", out]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    if result.returncode != 0:
        raise RuntimeError(f"step benchmark side {plugin} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    side = json.loads(Path(out).read_text(encoding="utf-8"))
    if os.path.realpath(str(side["plugin"])) != os.path.realpath(os.path.join(plugin, "aitl_reid")):
        raise RuntimeError(f"the side meant to run {plugin} imported {side['plugin']}")
    return side


def compare(settings: Settings, config_name: str, device: str, before_plugin: str, before_label: str) -> Row:
    """This tree against ``before_plugin``, ``settings.runs`` rounds in rotating order, one process per side and round."""
    config = CONFIGS[config_name]
    threads = max(1, torch.get_num_threads())
    sides = {"ours": str(REPO / "plugin"), "before": before_plugin}
    results: Dict[str, List[Dict[str, Any]]] = {name: [] for name in sides}
    load_before = load_average()
    settings.log(f"step: {config.label()} on {device}, {settings.runs} rounds of 2 processes")
    names = list(sides)
    for index in range(settings.runs):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(run_side(sides[name], config_name, device, threads, settings.workdir))
            settings.log(f"  round {index + 1} {name}: {results[name][-1]['seconds_per_iteration']} s/iteration, "
                         f"{results[name][-1]['syncs_per_iteration']} host syncs per iteration")
    timing = {name: Timing(tuple(sum(r["seconds_per_iteration"]) / len(r["seconds_per_iteration"]) for r in runs))
              for name, runs in results.items()}
    syncs = {name: runs[0]["syncs_per_iteration"] for name, runs in results.items()}
    counter = ("CUDA's sync debug mode" if device.startswith("cuda") else
               "bench.host_syncs: the reads that make a GPU wait, counted on the CPU")
    sites = {name: ", ".join(f"{file} {count:g}" for file, count in runs[0]["per_iteration_by_file"].items())
             for name, runs in results.items()}
    where = "GPU" if device.startswith("cuda") else "CPU"
    return Row(
        "training", f"{where} training step through AITLEngine, host synchronisations per iteration, this tree vs "
                    f"{before_label} ({config.label()})",
        f"this tree: {_syncs(syncs['ours'])} per iteration", f"{before_label}: {_syncs(syncs['before'])} per iteration",
        timing["ours"], timing["before"], item="clips", items_per_run=config.ids * config.instances, sense="speedup",
        notes=[f"seconds per iteration: the mean over {config.timed_epochs} timed epoch(s) of {config.iterations} "
               f"iterations per process, after a warm-up epoch, epoch end included; SGD with momentum; {threads} torch "
               f"thread(s) per process",
               f"host synchronisations counted over one more epoch by {counter} (epoch end included)",
               f"where they are, per iteration: this tree {sites['ours']}; {before_label} {sites['before']}",
               f"load average before / after: {load_before} / {load_average()}"],
        extra={"syncs_per_iteration": float(syncs["ours"]), "before_syncs_per_iteration": float(syncs["before"])},
    )


def _syncs(count: float) -> str:
    return f"{count:g} host sync" + ("" if count == 1 else "s")


def skip_reason(settings: Settings) -> str:
    if settings.quick:
        return "not run in quick mode: each round starts two processes and extracts a git revision; run without --quick"
    return ""


def run(settings: Settings) -> List[Row]:
    rev = settings.before_rev or BEFORE_REV
    config = CONFIGS["cpu"]
    name = f"CPU training step through AITLEngine, host synchronisations per iteration, this tree vs {rev} ({config.label()})"
    reason = skip_reason(settings)
    if not reason:
        try:
            plugin = revision_plugin(rev, settings.workdir)
        except (OSError, subprocess.CalledProcessError) as err:
            reason = f"cannot extract plugin/ of git revision {rev} ({err})"
    if reason:
        return [Row("training", name, "this tree", rev, skipped=reason)]
    return [compare(settings, "cpu", "cpu", plugin, rev)]


def main(argv: Optional[List[str]] = None) -> int:
    """One side: the plugin this process imports, measured (what :func:`run_side` starts)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="cpu")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--json", required=True, help="where the side's numbers go")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    Path(args.json).write_text(json.dumps(measure(CONFIGS[args.config], torch.device(args.device)), indent=1) + "\n",
                               encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(finish(main()))

"""Training under ``torchrun`` (gloo on CPU), issue 12: two processes vs one with the same global batch, and the
cost of ``train.sync_bn``.

Every run is a real ``aitl_reid.train`` launch on a synthetic MARS tree: ``asta_resnet18`` at 128x64, T=4,
one epoch capped at ``ITERATIONS`` iterations, the progress line printed every iteration. A run's time is
the mean of the per-iteration ``time`` values of rank 0's progress lines after the first ``SKIPPED``
iterations (torchreid's batch time: from the end of one iteration to the end of the next, loader wait
included), so process start-up, dataset building, the first iterations and the final evaluation are not
counted. The configurations:

- two processes (``torch.distributed.run --standalone --nproc_per_node 2``) of local batch ``B``, with and
  without ``train.sync_bn``, ``T`` intra-op threads each (``T`` = the benchmark's ``--threads``);
- one process of batch ``2B`` with ``sampler.identity_shards 2`` (the same global batches, clip for clip)
  and ``2T`` threads: the same cores as the two processes (the row's reference);
- the same single process with ``T`` threads (in the notes: what a second process adds over one).

The configurations run in rounds whose order rotates. The first iteration's loss of each run is read too:
with the same clips and weights, two processes with synchronised batch norm give the single-process loss,
without it each process normalises its half of the batch.
"""
from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import torch

from aitl_reid.synthetic import generate_synthetic_mars

from .rows import Row
from .settings import Settings
from .timing import Timing

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "asta_aitl_synthetic.yaml"
MODEL, HEIGHT, WIDTH, SEQ_LEN = "asta_resnet18", 128, 64, 4
PROCESSES = 2
LOCAL_BATCH = 8  # per process: P = 2 identities x K = 4 tracklets; global batch 16 (the synthetic demo's)
INSTANCES = 4
ITERATIONS = 10
SKIPPED = 2  # the first iterations (allocations, loader start, DDP's first bucket rebuild) are not timed
TIMEOUT_S = 900

PROGRESS = re.compile(r"^epoch: \[\d+/\d+\]\[(\d+)/\d+\]\ttime ([0-9.]+) \([0-9.]+\)\tdata ([0-9.]+) \(", re.M)
FIRST_LOSS = re.compile(r"\tloss ([0-9.]+) \(")

SPEED_NAME = "Training under torchrun, 2 gloo processes vs 1 process, same global batch"
SYNC_NAME = "Training under torchrun, train.sync_bn cost (2 gloo processes)"


@dataclass(frozen=True)
class Launch:
    """One training configuration: processes, batch per process, threads per process, synchronised batch norm."""

    processes: int
    batch: int
    threads: int
    sync_bn: bool = False


@dataclass(frozen=True)
class RunLog:
    """What one run's log says: steady-state seconds per iteration, mean loader wait, first-iteration loss."""

    seconds: float
    data_seconds: float
    first_loss: float
    iterations: int


def parse_log(text: str, skipped: int = SKIPPED) -> RunLog:
    """Mean per-iteration time and loader wait of the progress lines after the first ``skipped`` iterations, and
    the first iteration's loss. Needs the progress line of every iteration (``train.print_freq 1``)."""
    lines = [(int(i), float(t), float(d)) for i, t, d in PROGRESS.findall(text)]
    if [i for i, _, _ in lines] != list(range(1, len(lines) + 1)):
        raise ValueError("the log must print every iteration's progress line (train.print_freq 1), once")
    timed = lines[skipped:]
    losses = FIRST_LOSS.findall(text)
    if not timed or not losses:
        raise ValueError(f"the log has {len(lines)} progress line(s); more than {skipped} are needed")
    return RunLog(statistics.fmean(t for _, t, _ in timed), statistics.fmean(d for _, _, d in timed),
                  float(losses[0]), len(timed))


def command(launch: Launch, root: str, save_dir: str) -> List[str]:
    if launch.processes == 1:
        prefix = [sys.executable, "-m", "aitl_reid.train"]
    else:
        prefix = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                  f"--nproc_per_node={launch.processes}", "-m", "aitl_reid.train"]
    shards = ["sampler.identity_shards", str(PROCESSES)] if launch.processes == 1 else []
    return prefix + [
        "--config-file", str(CONFIG), "use_gpu", "False", "model.name", MODEL,
        "data.root", root, "data.save_dir", save_dir, "data.height", str(HEIGHT), "data.width", str(WIDTH),
        "data.workers", "1", "video.seq_len", str(SEQ_LEN), "sampler.num_instances", str(INSTANCES),
        "train.batch_size", str(launch.batch), "train.sync_bn", str(launch.sync_bn),
        "train.num_threads", str(launch.threads), "train.max_epoch", "1", "train.warmup_epochs", "0",
        "train.max_iters_per_epoch", str(ITERATIONS), "train.print_freq", "1",
        "test.eval_freq", "-1", "test.batch_size", "64", "test.max_clips", "1", *shards,
    ]


def train_once(launch: Launch, root: str, save_dir: str) -> RunLog:
    """One training run in fresh processes; its rank 0 log parsed."""
    shutil.rmtree(save_dir, ignore_errors=True)
    env = {**os.environ, "AITL_REID_PROGRESS": "0", "OMP_NUM_THREADS": str(launch.threads),
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO / "plugin"), os.environ.get("PYTHONPATH", "")) if p)}
    result = subprocess.run(command(launch, root, save_dir), cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    if result.returncode != 0:
        raise RuntimeError(f"training run {launch} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return parse_log((Path(save_dir) / "log.txt").read_text(encoding="utf-8"))


def data_root(workdir: str) -> str:
    """A synthetic tree with enough training identities for ``ITERATIONS`` global batches and a small test split
    (short tracklets, one clip each at test time: the final evaluation, not timed, stays short)."""
    root = os.path.join(workdir, f"distributed_{HEIGHT}x{WIDTH}")
    per_batch = PROCESSES * LOCAL_BATCH // INSTANCES
    generate_synthetic_mars(root, num_ids=2 * per_batch * (ITERATIONS + 1), num_cams=2, tracklets_per_id=INSTANCES,
                            min_frames=SEQ_LEN, max_frames=SEQ_LEN + 2, height=HEIGHT, width=WIDTH,
                            num_distractors=1, num_junk=1)
    return root


def skip_reason(settings: Settings) -> str:
    if settings.quick:
        return ("not run in quick mode: each run starts torchrun and trains for tens of seconds; "
                "run without --quick (python -m bench.run --only distributed)")
    if not (torch.distributed.is_available() and torch.distributed.is_gloo_available()):
        return "this torch build has no gloo backend"
    return ""


def _labels() -> Tuple[str, str, str]:
    return (f"{MODEL} {HEIGHT}x{WIDTH}, T={SEQ_LEN}", f"global batch {PROCESSES * LOCAL_BATCH}",
            f"{ITERATIONS - SKIPPED} timed iterations per run after {SKIPPED}")


def _spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.3g} [{min(values):.3g}-{max(values):.3g}]"


def run(settings: Settings) -> List[Row]:
    threads = max(1, torch.get_num_threads())
    per_process = f"{threads} thread{'s' if threads > 1 else ''}"
    model, batch, iterations = _labels()
    ddp = f"torchrun, {PROCESSES} gloo processes x batch {LOCAL_BATCH}, {per_process} each"
    single = (f"1 process, batch {PROCESSES * LOCAL_BATCH}, sampler.identity_shards {PROCESSES}, "
              f"{PROCESSES * threads} threads")
    speed_name = f"{SPEED_NAME} ({model}, {batch})"
    sync_name = f"{SYNC_NAME} ({model}, {batch})"
    reason = skip_reason(settings)
    if reason:
        return [Row("distributed", speed_name, ddp, single, skipped=reason),
                Row("distributed", sync_name, f"{ddp}, train.sync_bn True", f"{ddp}, train.sync_bn False",
                    skipped=reason, sense="cost")]

    start = time.perf_counter()
    root = data_root(settings.workdir)
    launches: Dict[str, Launch] = {
        "ddp_sync": Launch(PROCESSES, LOCAL_BATCH, threads, sync_bn=True),
        "ddp": Launch(PROCESSES, LOCAL_BATCH, threads),
        "single": Launch(1, PROCESSES * LOCAL_BATCH, PROCESSES * threads),
        "single_narrow": Launch(1, PROCESSES * LOCAL_BATCH, threads),
    }
    settings.log(f"distributed: synthetic tree built in {time.perf_counter() - start:.0f} s; {settings.runs} rounds of "
                 f"{len(launches)} training runs ({ITERATIONS} iterations each), order rotating")
    logs: Dict[str, List[RunLog]] = {name: [] for name in launches}
    names = list(launches)
    for index in range(settings.runs):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            began = time.perf_counter()
            logs[name].append(train_once(launches[name], root, os.path.join(settings.workdir, f"distributed_{name}")))
            settings.log(f"  round {index + 1} {name}: {logs[name][-1].seconds:.3f} s/iteration "
                         f"(run {time.perf_counter() - began:.0f} s)")
    shutil.rmtree(root, ignore_errors=True)

    timing = {name: Timing(tuple(log.seconds for log in runs)) for name, runs in logs.items()}
    clips = PROCESSES * LOCAL_BATCH
    single_loss = logs["single"][0].first_loss
    gaps = {name: [abs(log.first_loss - single_loss) for log in logs[name]] for name in ("ddp", "ddp_sync")}
    waits = {name: statistics.median(log.data_seconds for log in runs) for name, runs in logs.items()}
    narrow = timing["single_narrow"]
    common = (f"seconds per iteration: the mean of rank 0's progress-line times over {iterations} "
              f"(start-up, dataset building and the final evaluation excluded), {settings.runs} runs per "
              f"configuration in rotating rounds; synthetic MARS tree, data.workers 1 per process, Adam")
    speed_notes = [
        common,
        f"the reference uses the same {PROCESSES * threads} cores as the two processes (torch intra-op threads); "
        f"the same single process with {per_process}: {narrow.median:.3g} s [{narrow.low:.3g}-{narrow.high:.3g}] "
        f"per iteration ({clips / narrow.median:.3g} clips/s), two processes "
        f"{statistics.median(n / o for n, o in zip(narrow.seconds, timing['ddp'].seconds)):.2f}x faster than it",
        f"median loader wait per iteration: 2 processes {waits['ddp'] * 1e3:.0f} ms, "
        f"1 process {waits['single'] * 1e3:.0f} ms",
        f"on {os.cpu_count()} cores, two gloo processes are not expected to beat one process "
        f"that uses the same cores: they split the same arithmetic and add the gradient all-reduce; torchrun on CPU "
        f"is for checking a multi-GPU run, not for speed",
    ]
    sync_notes = [
        common,
        f"first-iteration loss vs 1 process with the same global batch ({single_loss:.4f}): without sync_bn "
        f"|difference| {_spread(gaps['ddp'])} ({statistics.median(gaps['ddp']) / single_loss:.1%}; batch norm "
        f"sees each process's {LOCAL_BATCH} clips), with sync_bn {_spread(gaps['ddp_sync'])} (printed to 4 decimals)",
    ]
    return [
        Row("distributed", speed_name, ddp, single, timing["ddp"], timing["single"], item="clips",
            items_per_run=clips, notes=speed_notes,
            extra={"single_narrow_median_s": narrow.median, "ddp_data_wait_s": waits["ddp"],
                   "single_data_wait_s": waits["single"]}),
        Row("distributed", sync_name, f"{ddp}, train.sync_bn True", f"{ddp}, train.sync_bn False",
            timing["ddp_sync"], timing["ddp"], item="clips", items_per_run=clips, sense="cost", notes=sync_notes,
            extra={"first_loss_single": single_loss, "first_loss_gap_no_sync": statistics.median(gaps["ddp"]),
                   "first_loss_gap_sync": statistics.median(gaps["ddp_sync"])}),
    ]

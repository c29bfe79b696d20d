"""Benchmarks of aitl-reid against named references; prints a table and writes BENCHMARKS.md.

Run from the repository root as a module (``bench`` is a package; ``aitl_reid`` is the installed one):

    python -m bench.run                      # full run (about 40 minutes on 2 CPU cores): BENCHMARKS.md
    python -m bench.run --quick              # small problems, a smoke run (minutes, not seconds): bench/out/quick.md
    python -m bench.run --only ranking --only aitl --output OUT/b.md

Benchmarks: ranking, training, extraction, loading, aitl, memory, distributed, step, footage, gpu. Only a full run of all of them
writes the repository's BENCHMARKS.md by default; anything else writes to --output (default:
bench/out/<quick and the benchmarks' names>.md, a folder git ignores), so a partial or quick run never
replaces the committed numbers unless asked. The reports quote paths relative to the repository root.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch

from aitl_reid.experiments.report import portable_command
from aitl_reid.process_exit import finish
from aitl_reid.progress import progress
from bench import aitl_loop, distributed, extraction, footage, gpu, loading, memory, ranking, step_syncs, training
from bench.report import render, write_json
from bench.rows import Row, console_table, format_ratio
from bench.settings import Settings
from bench.timing import load_average, machine_info

ROOT = Path(__file__).resolve().parents[1]

BENCHMARKS: Dict[str, Callable[[Settings], List[Row]]] = {
    "ranking": ranking.run,
    "training": training.run,
    "extraction": extraction.run,
    "loading": loading.run,
    "aitl": aitl_loop.run,
    "memory": memory.run,
    "distributed": distributed.run,
    "step": step_syncs.run,
    "footage": footage.run,
}
ALL = list(BENCHMARKS) + ["gpu"]
FINDINGS = Path(__file__).resolve().parent / "findings.md"
SCRATCH_REPORTS = ROOT / "bench" / "out"  # ignored by git: partial and quick runs write here


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small problems: a smoke run of every benchmark, not the report's numbers")
    parser.add_argument("--only", action="append", choices=ALL, help="run only this benchmark (repeatable)")
    parser.add_argument("--output", default="", help="markdown report path OUT (see above for the default)")
    parser.add_argument("--json", default="", help="also write the rows as JSON to this path")
    parser.add_argument("--runs", type=int, default=0,
                        help="timed runs per side (default 5; 3 with --quick, whose numbers are not the report's)")
    parser.add_argument("--workers", type=int, default=2, help="data loader workers for both sides")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (0 = torch's default). 1 by default: on a shared CPU, "
                             "intra-op threads wait on each other and make every timing noisy")
    parser.add_argument("--gpu-note", default="", help="text added to the GPU row when no CUDA device is present")
    parser.add_argument("--before-rev", default="",
                        help=f"git revision the training-step rows (step, gpu) compare this tree with "
                             f"(default {step_syncs.BEFORE_REV})")
    parser.add_argument("--footage-run", default="", help="trained run folder for the footage rows (skipped without)")
    parser.add_argument("--footage-video", default="",
                        help=f"the real video of the second footage row (default {footage.VTEST}, Debian's opencv-doc; "
                             "the row is skipped where it is absent)")
    return parser


def output_path(args: argparse.Namespace) -> Path:
    """--output; else BENCHMARKS.md for a full run of everything, and for any other run a file in the
    ignored bench/out/ named after it, so that it can never replace the committed report."""
    if args.output:
        return Path(args.output)
    if not args.quick and not args.only:
        return ROOT / "BENCHMARKS.md"
    parts = (["quick"] if args.quick else []) + [name for name in ALL if name in (args.only or ())]
    return SCRATCH_REPORTS / ("_".join(parts) + ".md")


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.runs < 0:
        print("error: --runs must be positive (0 = the default)", file=sys.stderr)
        return 2
    runs = args.runs or (3 if args.quick else 5)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    command = shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)])
    selected = args.only or ALL
    machine, load_before = machine_info(), load_average()
    rows: List[Row] = []
    with tempfile.TemporaryDirectory(prefix="aitl_bench_") as workdir:
        settings = Settings(quick=args.quick, runs=runs, workers=args.workers, workdir=workdir,
                            log=lambda message: print(message, flush=True), before_rev=args.before_rev,
                            footage_run=args.footage_run, footage_video=args.footage_video)
        for name in progress([n for n in ALL if n in selected], "benchmarks", unit="benchmark"):
            new = gpu.run(settings, args.gpu_note) if name == "gpu" else BENCHMARKS[name](settings)
            for row in new:
                settings.log(f"  -> {row.name}: {row.skipped or format_ratio(row)}")
            rows += new
    if args.quick:  # the goals are stated for the full-size problems
        for row in rows:
            row.goal, row.limit = None, None
    threads = str(torch.get_num_threads())
    findings = FINDINGS.read_text(encoding="utf-8") if FINDINGS.exists() and not args.quick else ""
    path = output_path(args)
    text = render(rows, portable_command(command, str(path.parent)), machine, load_before, load_average(), threads,
                  args.quick, findings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if args.json:
        json_path = Path(args.json)
        write_json(json_path, rows, machine, portable_command(command, str(json_path.parent)))
    print(console_table(rows))
    print(f"report written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(finish(main()))

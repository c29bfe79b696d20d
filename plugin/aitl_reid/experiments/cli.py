"""The ablation runner's command line: variants x seeds of any experiment config, then the report.

    python tools/ablation.py --config-file configs/asta_aitl_mars.yaml --seeds 1 2 3 --output log/ablation_mars
    python tools/ablation.py --config-file CONFIG --variants table1 --seeds 1 2 3 4 5 --output DIR
    python tools/ablation.py --config-file CONFIG --variants baseline_asta_aitl \\
        --sweep loss.attribute.weight 0.0 0.1 0.3 1.0 --output DIR    # the trade-off of one weight
    python tools/ablation.py --config-file CONFIG --nproc-per-node 4 --output DIR   # each run under torchrun
    python -m aitl_reid.experiments.cli ...   # the same, where the package is installed without a checkout

``--sweep`` values have the key's type (``1.0``, not ``1``, for a float key); a value the variant already
has is the variant itself (its runs are shared), and every swept row is compared with it.
``--variants`` takes variant names (``--list-variants`` prints them) or the groups ``table1`` and
``controls``; all of them by default. Every run is a training run folder under ``DIR/runs/<variant>/seed<N>``
started with ``model.resume auto``: run the same command again after an interruption and finished runs
are kept, unfinished ones continue from their newest checkpoint. The report (``DIR/RESULTS.md`` unless
``--report``) holds each variant's mean and spread, paired per-seed differences with 95% intervals,
and the seed-averaged curves. One runner writes an output folder at a time: a second one given the same
``--output`` while the first runs stops with status 2, naming it.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from typing import Callable, List, Optional, Sequence, Tuple

from ..folder_lock import FolderLock
from ..launch import load_config, run_cli
from ..process_exit import finish
from ..registry import split_model_name
from .ablation import AblationPlan
from .benchmark import QUICK_OPTS, config_value, run_benchmark
from .variants import (Variant, all_variants, control_variants, released_variants, select_variants, sweep_from_own_setting,
                       table1_variants)

GROUPS = {"table1": table1_variants, "controls": control_variants, "released": released_variants}


def build_parser(description: str = __doc__, default_config: str = "", default_variants: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The runner's options; ``tools/benchmark_synthetic.py`` passes its own defaults."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default=default_config,
                        help="experiment config every variant starts from (required unless --list-variants)")
    parser.add_argument("--variants", nargs="+", default=list(default_variants),
                        help="variant names or groups (table1, controls, released); default: every variant")
    parser.add_argument("--list-variants", action="store_true", help="print the variant names and exit")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="training seeds per variant (default 1 2 3)")
    parser.add_argument("--sweep", nargs="+", default=[], metavar=("KEY", "VALUE"),
                        help="run each variant once per VALUE of config KEY, e.g. loss.attribute.weight 0.0 0.1 0.3 1.0")
    parser.add_argument("--output", default="", help="folder of the runs and the report (default: the config's data.save_dir)")
    parser.add_argument("--report", default="", help="report path (default: OUTPUT/RESULTS.md)")
    parser.add_argument("--figure", default="", help="curves PNG path (default: OUTPUT/results_dvdp_map.png)")
    parser.add_argument("--nproc-per-node", type=int, default=1, help="run each training under torchrun with N processes")
    parser.add_argument("--make-synthetic", action="store_true",
                        help="generate the config's synthetic dataset under data.root first, if not complete")
    parser.add_argument("--quick", action="store_true", help="1 seed, tiny synthetic dataset, 2 iterations (a smoke run)")
    parser.add_argument("--no-reuse", action="store_true", help="retrain finished runs instead of reusing them")
    parser.add_argument("--keep-checkpoints", action="store_true", help="keep each finished run's model/ checkpoints")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides applied to every run")
    return parser


def chosen_variants(backbone: str, names: Sequence[str], sweep_args: Sequence[str],
                    setting: Callable[[str, Sequence[str]], object]) -> Tuple[Variant, ...]:
    """The variants the names and groups pick (all when none), expanded over ``--sweep`` values;
    ``setting(key, overrides)`` is the config value of ``key`` under a variant's overrides."""
    everything = all_variants(backbone)
    if not names:
        variants = everything
    else:
        picked: List[Variant] = []
        for name in names:
            group = GROUPS[name](backbone) if name in GROUPS else select_variants(everything, [name])
            picked += [v for v in group if v not in picked]
        variants = tuple(picked)
    if sweep_args:
        if len(sweep_args) < 2:
            raise ValueError("--sweep needs a config key and at least one value, e.g. --sweep loss.attribute.weight 0.0 0.3 1.0")
        key = sweep_args[0]
        variants = sweep_from_own_setting(variants, key, sweep_args[1:], lambda overrides: setting(key, overrides))
    return variants


def end_seed_list(argv: Sequence[str]) -> List[str]:
    """``argv`` with ``--`` after the integers of ``--seeds`` when ``KEY VALUE`` overrides follow them:
    argparse would otherwise read ``train.max_epoch`` as a seed (``--seeds 1 2 train.max_epoch 30``)."""
    args = list(argv)
    if "--seeds" not in args or "--" in args:
        return args
    end = args.index("--seeds") + 1
    while end < len(args) and args[end].lstrip("-").isdigit():
        end += 1
    if end < len(args) and not args[end].startswith("-"):
        args.insert(end, "--")
    return args


def main(argv: Optional[List[str]] = None, parser: Optional[argparse.ArgumentParser] = None,
         program: str = "tools/ablation.py") -> int:
    """Parse, plan, train every run (resuming), write the report; 1 when a run fails. Bad input (a config,
    a variant name, a run folder of another command, an output folder another sweep is writing: ValueErrors) is left to :func:`run`, which gives status 2.

    ``program`` is how the report quotes the command that made it.
    """
    parser = parser or build_parser()
    args = parser.parse_args(end_seed_list(sys.argv[1:] if argv is None else argv))
    if args.opts[:1] == ["--"]:
        args.opts = args.opts[1:]
    if args.list_variants:
        print("\n".join(f"{v.slug:28s} {v.label}" for v in all_variants()) + "\ngroups: " + ", ".join(GROUPS))
        return 0
    if not args.config_file:
        parser.error("the following arguments are required: --config-file")
    if args.nproc_per_node < 1:
        raise ValueError(f"--nproc-per-node must be at least 1, got {args.nproc_per_node}")
    shared, seeds, out_dir = list(args.opts), list(args.seeds), args.output
    if args.quick:
        out_dir = out_dir or tempfile.mkdtemp(prefix="aitl_ablation_quick_")
        seeds = seeds[:1]
        shared = [*QUICK_OPTS, "data.root", os.path.join(out_dir, "data"), *shared]
    cfg = load_config(args.config_file, shared)  # a bad config or override fails here, before any training
    out_dir = out_dir or cfg.data.save_dir
    _, backbone = split_model_name(cfg.model.name)
    variants = chosen_variants(backbone, args.variants, args.sweep,
                               lambda key, overrides: config_value(load_config(args.config_file, [*shared, *overrides]), key))
    plan = AblationPlan(args.config_file, tuple(shared), variants, tuple(seeds), os.path.join(out_dir, "runs"),
                        args.nproc_per_node)
    report = args.report or os.path.join(out_dir, "RESULTS.md")
    figure = args.figure or os.path.join(out_dir, "results_dvdp_map.png")
    command = " ".join(["python", program, *(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))])
    try:
        with FolderLock(out_dir, "--output"):  # one sweep per output folder; each run's trainer locks its own folder
            run_benchmark(plan, report, figure, command, make_synthetic=args.make_synthetic or args.quick,
                          reuse=not args.no_reuse, keep_checkpoints=args.keep_checkpoints)
    except RuntimeError as err:  # a training run failed; its console.txt says why
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def run(argv: Optional[List[str]] = None) -> int:
    """Entry point: bad input ends with its message and status 2, not a traceback."""
    return run_cli(main, argv)


if __name__ == "__main__":
    sys.exit(finish(run()))

"""Table 1 ablation on the fixed synthetic benchmark, on CPU: five variants x three seeds -> docs/RESULTS.md.

    nice -n 5 python tools/benchmark_synthetic.py                  # full benchmark (about 45 min on 2 cores)
    python tools/benchmark_synthetic.py --config-file configs/synthetic_ablation_mobilenetv2.yaml \
        --results docs/RESULTS_mobilenetv2.md --figure docs/results_dvdp_map_mobilenetv2.png
    python tools/benchmark_synthetic.py --quick                    # tiny smoke run into a temporary folder
    python tools/benchmark_synthetic.py --seeds 1 train.max_epoch 4  # KEY VALUE pairs apply to every run

The variants use the config's backbone (``asta_<backbone>`` / ``tp_<backbone>``); runs go under the
config's data.save_dir. The dataset is generated once under the config's data.root
(datasets/synthetic_benchmark/) and reused while its parameters match. Finished runs with the identical command are reused (--no-reuse
retrains). These are synthetic-data results, not MARS.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from typing import List, Optional

from aitl_reid.config import ConfigError
from aitl_reid.experiments import AblationPlan, table1_variants
from aitl_reid.experiments.benchmark import QUICK_OPTS, run_benchmark
from aitl_reid.launch import USAGE_EXIT, load_config
from aitl_reid.registry import split_model_name

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default=os.path.join(REPO_DIR, "configs", "synthetic_ablation.yaml"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="training seeds per variant")
    parser.add_argument("--out-dir", default="", help="run folders (default: the config's data.save_dir; --quick: a temp dir)")
    parser.add_argument("--results", default="", help="RESULTS.md path (default: docs/RESULTS.md; --quick: in --out-dir)")
    parser.add_argument("--figure", default="", help="PNG path (default: docs/results_dvdp_map.png; --quick: in --out-dir)")
    parser.add_argument("--quick", action="store_true", help="1 seed, tiny dataset, 2 iterations x 1 epoch (< 2 min)")
    parser.add_argument("--no-reuse", action="store_true", help="retrain runs even if an identical finished run exists")
    parser.add_argument("--keep-checkpoints", action="store_true", help="keep each run's model/ checkpoints (100+ MB each)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides applied to every run")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    shared = list(args.opts)
    if args.quick:
        out_dir = args.out_dir or tempfile.mkdtemp(prefix="aitl_benchmark_quick_")
        seeds = args.seeds[:1]
        shared = [*QUICK_OPTS, "data.root", os.path.join(out_dir, "data"), *shared]
        results = args.results or os.path.join(out_dir, "RESULTS.md")
        figure = args.figure or os.path.join(out_dir, "results_dvdp_map.png")
    else:
        out_dir = args.out_dir
        seeds = args.seeds
        results = args.results or os.path.join("docs", "RESULTS.md")
        figure = args.figure or os.path.join("docs", "results_dvdp_map.png")
    command = "python tools/benchmark_synthetic.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    try:
        cfg = load_config(args.config_file, shared)  # fail early, before any training, on a bad config or override
        _, backbone = split_model_name(cfg.model.name)
        plan = AblationPlan(args.config_file, tuple(shared), table1_variants(backbone), tuple(seeds),
                            os.path.join(out_dir or cfg.data.save_dir, "runs"))
        run_benchmark(plan, results, figure, command.strip(), reuse=not args.no_reuse,
                      keep_checkpoints=args.keep_checkpoints)
    except (ConfigError, ValueError) as err:  # ValueError: model.name is not asta_/tp_<backbone>
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT
    except RuntimeError as err:  # a training run failed; its console.txt says why
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ablation runner on the synthetic benchmark config, writing docs/RESULTS.md (synthetic-data results).

    nice -n 5 python tools/benchmark_synthetic.py --variants table1   # the Table 1 analogue, seeds 1 2 3
    python tools/benchmark_synthetic.py --seeds 1 2 3 4 5              # Table 1 rows and the controls
    python tools/benchmark_synthetic.py --quick                        # tiny smoke run into a temporary folder

It is ``tools/ablation.py`` with ``--config-file configs/synthetic_ablation.yaml --make-synthetic``,
runs under ``log/synthetic_ablation/runs`` and the report in ``docs/RESULTS.md`` unless given;
every option of ``tools/ablation.py`` applies.
"""
import argparse
import os
import sys
from typing import List, Optional

from aitl_reid.experiments import cli
from aitl_reid.launch import run_cli
from aitl_reid.process_exit import finish

CONFIG = os.path.join("configs", "synthetic_ablation.yaml")


def build_parser() -> argparse.ArgumentParser:
    """``tools/ablation.py``'s options with this benchmark's config as the default."""
    return cli.build_parser(__doc__, default_config=CONFIG)


def benchmark(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--quick" not in args:
        args = ["--report", os.path.join("docs", "RESULTS.md"), "--figure", os.path.join("docs", "results_dvdp_map.png"),
                *args]
    return cli.main(["--make-synthetic", *args], build_parser(), program="tools/benchmark_synthetic.py")


if __name__ == "__main__":
    sys.exit(finish(run_cli(benchmark)))

"""Ablation runner for any experiment config: variants x seeds, resumable, with paired statistics.

Thin entry for :mod:`aitl_reid.experiments.cli` (``python -m aitl_reid.experiments.cli`` is the same
program); ``python tools/ablation.py --help`` lists the options.
"""
import sys

from aitl_reid.experiments.cli import run
from aitl_reid.process_exit import finish

if __name__ == "__main__":
    sys.exit(finish(run()))

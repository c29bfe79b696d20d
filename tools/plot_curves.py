"""Plot average DVDP and mAP per epoch of one or more runs on one figure (the paper's Fig. 7).

    python tools/plot_curves.py "ASTA + AITL=log/asta_aitl_mars/metrics.csv" "ASTA=log/table1/asta_mars/metrics.csv" \
        --out log/fig7_dvdp_map.png

Each run is LABEL=PATH, PATH being the metrics.csv that tools/main.py writes into data.save_dir, or
the run's config (a .yaml file or a packaged config's name), which stands for <data.save_dir>/metrics.csv.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, Optional

from aitl_reid.config.packaged import packaged_config
from aitl_reid.launch import load_config, run_cli
from aitl_reid.process_exit import finish
from aitl_reid.viz.curves import plot_dvdp_map_curves
from aitl_reid.viz.run import metrics_csv


def labelled_path(text: str) -> tuple:
    """``"label=path"`` -> ``(label, path)``."""
    label, sep, path = text.partition("=")
    if not sep or not label.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH (e.g. \"ASTA + AITL=log/run/metrics.csv\"), got '{text}'")
    return label.strip(), path.strip()


def metrics_path(path: str) -> str:
    """A metrics.csv path as given, or the one a config's run writes (``<data.save_dir>/metrics.csv``); a config is a
    YAML file or a packaged config's name."""
    if path.endswith((".yaml", ".yml")) or (not os.path.exists(path) and packaged_config(path) is not None):
        return metrics_csv(load_config(path))
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=labelled_path, help="LABEL=PATH to a run's metrics.csv or config")
    parser.add_argument("--out", default="", help="output PNG (default: dvdp_map.png next to the first metrics.csv)")
    parser.add_argument("--title", default="", help="figure title")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    runs: Dict[str, str] = {}
    for label, path in args.runs:
        if label in runs:
            raise ValueError(f"label '{label}' is given twice; labels name the curves and must differ")
        runs[label] = metrics_path(path)
    out = args.out or os.path.join(os.path.dirname(next(iter(runs.values()))), "dvdp_map.png")
    print(f"DVDP and mAP curves: {plot_dvdp_map_curves(runs, out, args.title)}")
    return 0


if __name__ == "__main__":
    sys.exit(finish(run_cli(main)))

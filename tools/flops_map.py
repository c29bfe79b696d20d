"""Plot GFLOPs per clip against mAP for our runs, with the paper's MARS mAP values as reference lines (Fig. 8).

    python tools/flops_map.py --run "ASTA + AITL" configs/asta_aitl_mars.yaml \
        --run Baseline configs/table1/baseline_mars.yaml --out log/fig8_flops_map.png

Each --run is LABEL CONFIG [METRICS_CSV]: GFLOPs are counted for the config's model at its
data.height x data.width and video.seq_len; mAP is the last evaluated epoch of METRICS_CSV
(default <data.save_dir>/metrics.csv of the config).
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from aitl_reid.launch import load_config, run_cli
from aitl_reid.process_exit import finish
from aitl_reid.viz.flops_map import RunPoint, config_gflops, final_map, plot_flops_map
from aitl_reid.viz.run import metrics_csv


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", nargs="+", action="append", required=True, metavar="LABEL CONFIG [METRICS_CSV]",
                        help="a run: its label, its config, and optionally its metrics.csv")
    parser.add_argument("--out", default="flops_map.png", help="output PNG")
    parser.add_argument("--no-paper-references", action="store_true",
                        help="leave out the paper's MARS mAP lines (e.g. for runs on other data)")
    return parser


def run_point(spec: List[str]) -> RunPoint:
    """A ``--run LABEL CONFIG [METRICS_CSV]`` as a point on the figure."""
    if len(spec) not in (2, 3):
        raise ValueError(f"--run takes LABEL CONFIG [METRICS_CSV], got {spec}")
    cfg = load_config(spec[1])
    metrics = spec[2] if len(spec) == 3 else metrics_csv(cfg)
    point = RunPoint(spec[0], config_gflops(cfg), final_map(metrics))
    print(f"{point.label}: {point.gflops:.2f} GFLOPs per clip, mAP {point.mAP:.1f} % ({metrics})")
    return point


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    points = [run_point(spec) for spec in args.run]
    print(f"FLOPs-mAP figure: {plot_flops_map(points, args.out, paper_references=not args.no_paper_references)}")
    return 0


if __name__ == "__main__":
    sys.exit(finish(run_cli(main)))

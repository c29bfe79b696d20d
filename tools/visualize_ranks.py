"""Draw ranked results: each query tracklet with its top-k gallery tracklets, matches outlined green.

    python tools/visualize_ranks.py --config-file configs/asta_aitl_synthetic.yaml [--index 0,5,9] [--topk 8]

Without --checkpoint the run's latest checkpoint (<data.save_dir>/model/model.pth.tar-<epoch>) is used.
Features of the whole query and gallery are extracted first; on MARS without a GPU, add
`test.max_clips 8` to keep that short.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from aitl_reid.launch import run_cli
from aitl_reid.process_exit import finish
from aitl_reid.viz.ranks import distance_matrix, plot_ranked_results, ranked_rows
from aitl_reid.viz.cli import add_run_arguments, int_list, load_run_from_args
from aitl_reid.viz.run import default_output, select_tracklets, split_tracklets


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser)
    parser.add_argument("--index", type=int_list, default=[], help="query positions to draw, e.g. 0,4,9")
    parser.add_argument("--pid", type=int_list, default=[], help="person ids, e.g. 31,40 (their first query tracklet)")
    parser.add_argument("--num-queries", type=int, default=6, help="queries drawn when none are chosen")
    parser.add_argument("--topk", type=int, default=10, help="gallery tracklets per query")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    run = load_run_from_args(args)
    query, gallery = split_tracklets(run, args.target, "query"), split_tracklets(run, args.target, "gallery")
    chosen = select_tracklets(query, args.index, args.pid, count=args.num_queries)
    distmat = distance_matrix(run, args.target).numpy()
    rows = ranked_rows(distmat, query, gallery, chosen, args.topk)
    out = plot_ranked_results(rows, run.cfg.data.height, run.cfg.data.width, default_output(run, args.out, "ranks.png"))
    print(f"ranked results ({run.weights}): {out}")
    return 0


if __name__ == "__main__":
    sys.exit(finish(run_cli(main)))

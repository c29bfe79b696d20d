"""Draw the identity-relevant and identity-irrelevant attention of chosen tracklets (the paper's Fig. 6).

    python tools/visualize_attention.py --config-file configs/asta_aitl_synthetic.yaml [--pid 31,40] [--out fig6.png]

Without --checkpoint the run's latest checkpoint (<data.save_dir>/model/model.pth.tar-<epoch>) is used.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from aitl_reid.launch import run_cli
from aitl_reid.process_exit import finish
from aitl_reid.viz.attention import draw_attention
from aitl_reid.viz.cli import add_run_arguments, int_list, load_run_from_args
from aitl_reid.viz.run import default_output


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser)
    parser.add_argument("--split", default="query", choices=["query", "gallery"], help="split to draw tracklets from")
    parser.add_argument("--index", type=int_list, default=[], help="tracklet positions in the split, e.g. 0,4,9")
    parser.add_argument("--pid", type=int_list, default=[], help="person ids, e.g. 31,40 (their first tracklet in the split)")
    parser.add_argument("--clip", type=int, default=0, help="which dense test clip of each tracklet to draw")
    parser.add_argument("--absolute", action="store_true", help="draw raw attention values instead of min-max scaled")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    run = load_run_from_args(args)
    out, titles = draw_attention(run, default_output(run, args.out, "attention.png"), args.split, args.index, args.pid,
                                 args.clip, normalise=not args.absolute, target=args.target)
    print(f"attention figure ({run.weights}): {out}")
    for title in titles:
        print(f"  drawn: {title}")  # which tracklets the figure shows, left to right
    return 0


if __name__ == "__main__":
    sys.exit(finish(run_cli(main)))

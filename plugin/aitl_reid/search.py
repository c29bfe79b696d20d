"""Find people by their predicted attributes in the output of ``aitl-reid-track``.

    aitl-reid-search OUT "top color=3" "backpack=1" --top 5

Attributes by their released column name or short name (``top color`` or ``upcolor``); values are class
indices as released. Prints the people ranked by the probability of all asked values, with their tracklets
(camera and the id column of OUT/tracks/<camera>.txt). An unknown attribute or value ends with status 2
listing the valid ones.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from .footage.search import parse_query, rank, read_people
from .launch import run_cli
from .process_exit import as_command


def build_parser() -> argparse.ArgumentParser:
    """The track command's output folder, the attribute queries and --top."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="the --out folder of aitl-reid-track")
    parser.add_argument("queries", nargs="+", metavar="NAME=VALUE", help="attribute and class index, e.g. 'top color=3'")
    parser.add_argument("--top", type=int, default=10, help="people listed (default 10)")
    return parser


def search(argv: Optional[List[str]] = None) -> int:
    """Rank the people of an ``aitl-reid-track`` output by the asked attribute values."""
    args = build_parser().parse_args(argv)
    payload = read_people(args.out)
    queries = [parse_query(text, payload["schema"]) for text in args.queries]
    print(f"{'rank':>4} {'person':>6} {'score':>7}  " + "  ".join(f"{q.name}={q.value}" for q in queries) + "  tracklets")
    for place, match in enumerate(rank(payload, queries)[:args.top], start=1):
        probs = "  ".join(f"{p:>{len(q.name) + 1 + len(str(q.value))}.3f}" for p, q in zip(match.probabilities, queries))
        tracklets = ", ".join(f"{camera}:{track}" for camera, track in match.tracklets)
        print(f"{place:>4} {match.person:>6} {match.score:>7.4f}  {probs}  {tracklets}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``aitl-reid-search``: bad input ends with its message and status 2."""
    return run_cli(search, argv)


command = as_command(main)
"""``aitl-reid-search``, the installed command (setup.py's console scripts); ``python -m`` runs it too."""

if __name__ == "__main__":
    sys.exit(command())

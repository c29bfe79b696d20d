"""Generate the synthetic MARS dataset (torchreid MARS layout + mars_v2 attribute CSV) under <root>/mars/.

    python tools/make_synthetic.py --config-file configs/asta_aitl_synthetic.yaml --root datasets --if-missing
    python tools/make_synthetic.py --root OUT synthetic.num_ids 20 synthetic.height 256 synthetic.width 128

Sizes come from the config's ``synthetic`` section (KEY VALUE pairs override it) and the tree goes
under ``data.root`` (``datasets`` by default, which git ignores) unless --root OUT is given. With
--if-missing nothing is written when a complete tree with the same parameters exists; completeness
is judged by a manifest written last, so a tree left half-written by an interrupted run is
regenerated. Invalid settings exit with status 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from aitl_reid.config import ConfigError
from aitl_reid.launch import USAGE_EXIT, default_argument_parser, load_config
from aitl_reid.process_exit import finish
from aitl_reid.synthetic import ensure_synthetic_mars, synthetic_kwargs_from_config
from aitl_reid.synthetic.generate import DATASET_DIR
from aitl_reid.synthetic.preview import save_example_grid


def build_parser() -> argparse.ArgumentParser:
    parser = default_argument_parser(__doc__)
    parser.add_argument("--root", type=str, default="", help="dataset root (default: the config's data.root)")
    parser.add_argument("--if-missing", action="store_true", help="skip when a complete tree with these parameters exists")
    parser.add_argument("--workers", type=int, default=1, help="rendering processes (the output does not depend on it)")
    parser.add_argument("--examples", type=str, default="", help="also save a PNG grid of example frames to this path")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = load_config(args.config_file, args.opts)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT
    kwargs = synthetic_kwargs_from_config(cfg)
    configured_root = kwargs.pop("root")
    root = args.root or configured_root
    try:
        ensure_synthetic_mars(root, args.if_missing, args.workers, **kwargs)
    except (ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT
    if args.examples:
        print(f"example grid: {save_example_grid(os.path.join(root, DATASET_DIR), args.examples)}")
    return 0


if __name__ == "__main__":
    sys.exit(finish(main()))

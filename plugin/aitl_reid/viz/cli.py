"""What the figure tools' command lines share: run options and list arguments (clean exits: :func:`aitl_reid.launch.run_cli`)."""
from __future__ import annotations

import argparse
from typing import List

from ..launch import default_setup
from .run import LoadedRun, load_run


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every checkpoint-reading figure tool shares."""
    parser.add_argument("--config-file", required=True, help="the run's YAML config")
    parser.add_argument("--checkpoint", default="", help="checkpoint file (default: the latest in <data.save_dir>/model)")
    parser.add_argument("--random-weights", action="store_true", help="use randomly initialised weights (for testing the tool)")
    parser.add_argument("--target", default="", help="test dataset to draw from (default: the config's first target)")
    parser.add_argument("--out", default="", help="output PNG (default: a file in the run's data.save_dir)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides, e.g. data.root datasets")


def load_run_from_args(args: argparse.Namespace) -> LoadedRun:
    """:func:`load_run` for parsed :func:`add_run_arguments` options (config and seed by :func:`default_setup`)."""
    with default_setup(args.config_file, args.opts) as cfg:
        return load_run(cfg, args.checkpoint, args.random_weights)


def int_list(text: str) -> List[int]:
    """``"3,7,12"`` -> ``[3, 7, 12]`` (comma-separated, so positional ``KEY VALUE`` overrides can follow)."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None

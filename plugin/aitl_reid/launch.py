"""What every command line shares (fast-reid's ``default_argument_parser`` and ``default_setup``).

One parser shape (``--config-file`` then ``KEY VALUE`` overrides), one way to turn them into a
frozen config, one setup (seed, log copy) and one exit status for bad input. The trainer
(:mod:`aitl_reid.train`), the figure tools and the benchmark all start here. torchreid's
import-time warning about its Cython ranking is silenced where torchreid is imported
(:mod:`aitl_reid._torchreid`), so no entry point repeats that filter.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Callable, Iterator, List, Optional, Sequence, Union

import torch
from yacs.config import CfgNode

from . import _torchreid
from .config import get_default_config, merge_from_file, merge_from_list
from .console_log import tee_stdout

USAGE_EXIT = 2
"""Exit status of every command line when its input (config, paths, arguments) is wrong."""


def default_argument_parser(description: str, config_required: bool = False) -> argparse.ArgumentParser:
    """``--config-file`` and trailing ``KEY VALUE`` overrides (``opts``); a tool adds its own options."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default="", required=config_required, help="path to a YAML config file")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE pairs overriding the config, e.g. train.lr 0.001")
    return parser


def load_config(config_file: str = "", opts: Sequence[str] = (), freeze: bool = True) -> CfgNode:
    """Defaults, then ``config_file`` (with its ``_BASE_`` chain), then ``KEY VALUE`` overrides.

    ``use_gpu`` becomes False where CUDA is unavailable. Raises ``ConfigError`` on a bad file or key.
    """
    cfg = get_default_config()
    if config_file:
        merge_from_file(cfg, config_file)
    merge_from_list(cfg, list(opts))
    cfg.use_gpu = bool(cfg.use_gpu and torch.cuda.is_available())
    if freeze:
        cfg.freeze()
    return cfg


@contextlib.contextmanager
def default_setup(config_file: str = "", opts: Sequence[str] = (),
                  log_name: Union[str, Callable[[CfgNode], str]] = "") -> Iterator[CfgNode]:
    """The frozen config of ``config_file`` + ``opts``, with the random seeds set to ``train.seed``.

    With ``log_name`` (a file name, or a function of the config giving one), everything printed
    inside the block is also written to ``<data.save_dir>/<log_name>``. A bad config raises
    ``ConfigError`` before the block runs.
    """
    cfg = load_config(config_file, opts)
    _torchreid.utils.set_random_seed(cfg.train.seed)
    name = log_name(cfg) if callable(log_name) else log_name
    log = tee_stdout(os.path.join(cfg.data.save_dir, name)) if name else contextlib.nullcontext()
    with log:
        yield cfg


def run_cli(main: Callable[[Optional[List[str]]], int], argv: Optional[List[str]] = None) -> int:
    """Run a tool's ``main``; bad input (config, paths, choices) ends with its message and status 2, not a traceback."""
    try:
        return main(argv)
    except (ValueError, FileNotFoundError) as err:  # ConfigError is a ValueError
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT

"""What every command line shares (fast-reid's ``default_argument_parser`` and ``default_setup``).

One parser shape (``--config-file`` then ``KEY VALUE`` overrides), one way to turn them into a
frozen config, one setup (seed, threads, deterministic mode) and one exit status for bad input. The trainer
(:mod:`aitl_reid.train`), the figure tools and the benchmark all start here. torchreid's
import-time warning about its Cython ranking is silenced where torchreid is imported
(:mod:`aitl_reid._torchreid`), so no entry point repeats that filter.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Callable, Iterator, List, Optional, Sequence

import torch
from yacs.config import CfgNode

from . import _torchreid
from .config import ConfigError, get_default_config, merge_from_file, merge_from_list

USAGE_EXIT = 2
"""Exit status of every command line when its input (config, paths, arguments) is wrong."""


def default_argument_parser(description: str, config_required: bool = False) -> argparse.ArgumentParser:
    """``--config-file`` and trailing ``KEY VALUE`` overrides (``opts``); a tool adds its own options."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default="", required=config_required, help="a YAML config file, or the name of a packaged one (aitl-reid-configs lists them)")
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
def default_setup(config_file: str = "", opts: Sequence[str] = ()) -> Iterator[CfgNode]:
    """The frozen config of ``config_file`` + ``opts``, with the random seeds set to ``train.seed`` and the
    runtime settings of :func:`runtime_settings` in force. A bad config raises ``ConfigError`` before the block runs."""
    cfg = load_config(config_file, opts)
    _torchreid.utils.set_random_seed(cfg.train.seed)
    with runtime_settings(cfg):
        yield cfg


@contextlib.contextmanager
def runtime_settings(cfg: CfgNode) -> Iterator[None]:
    """``train.num_threads`` and ``train.deterministic`` for the block; the previous settings come back after it,
    so that a caller running several configs in one process (tests, notebooks) is not left with them.

    Deterministic mode: deterministic algorithms only (an op without one raises and names itself),
    cuDNN without autotuning, cuBLAS with a fixed workspace, and a fixed CPU thread count (float sums
    are ordered by thread), so the same seed gives the same numbers.
    """
    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
              torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    if cfg.train.num_threads < 0:
        raise ConfigError(f"train.num_threads must be 0 (torch's default) or more, got {cfg.train.num_threads}")
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    if cfg.train.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # required by deterministic cuBLAS
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        threads, algorithms, cudnn_deterministic, cudnn_benchmark = before
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(algorithms)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn_deterministic, cudnn_benchmark


def run_cli(main: Callable[[Optional[List[str]]], int], argv: Optional[List[str]] = None) -> int:
    """Run a tool's ``main``; bad input (config, paths, choices) ends with its message and status 2, not a traceback."""
    try:
        return main(argv)
    except (ValueError, FileNotFoundError) as err:  # ConfigError is a ValueError
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT

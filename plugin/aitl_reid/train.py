"""Train and evaluate a model of the aitl_reid plugin, configured with yacs (torchreid's scripts/main.py style).

    python -m aitl_reid.train --config-file configs/asta_aitl_mars.yaml [KEY VALUE ...]
    aitl-reid-train --config-file configs/asta_aitl_mars.yaml [KEY VALUE ...]   # the installed console script
    python tools/main.py --config-file configs/asta_aitl_mars.yaml [KEY VALUE ...]  # from a checkout

Missing datasets and invalid configs end with exit status 2 and a message saying what to do,
never a traceback.
"""
from __future__ import annotations

import sys
import time
from typing import List, Optional

from yacs.config import CfgNode

from . import __version__, _torchreid
from .config import ConfigError
from .data import DatasetNotFoundError, build_datamanager
from .engine import (
    CheckpointError, NonFiniteLossError, build_engine, build_optimizer, build_scheduler, engine_run_kwargs,
    init_attribute_bias, resume,
)
from .inference.run_files import run_config_text, save_run_config
from .launch import USAGE_EXIT, default_argument_parser, default_setup
from .models import build_model_from_config, load_weights
from .registry import list_models

TRAINING_FAILED_EXIT = 1


def main(argv: Optional[List[str]] = None) -> int:
    args = default_argument_parser(__doc__).parse_args(argv)
    try:
        with default_setup(args.config_file, args.opts, log_name=log_name) as cfg:
            return run(cfg)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT


def log_name(cfg: CfgNode) -> str:
    """``test.log`` for an evaluation-only run (so it keeps the training ``log.txt``), else ``log.txt``."""
    return "test.log" if cfg.test.evaluate else "log.txt"


def run(cfg: CfgNode) -> int:
    """Build data, model, optimizer and engine from a frozen config, then train and/or evaluate."""
    print(f"Show configuration\n{cfg}\n")
    print(f"Collecting env info ...\n{_torchreid.utils.collect_env_info()}\n")
    print(f"aitl_reid {__version__} — models: {', '.join(list_models())}")

    try:
        datamanager = build_datamanager(cfg)
    except DatasetNotFoundError as err:
        print(f"\nerror: {err}\n\nSee datasets/README.md for where each dataset goes. To try the method "
              "without any download, run the synthetic demo: make demo", file=sys.stderr)
        return USAGE_EXIT

    model = build_model_from_config(cfg, datamanager.num_train_pids, datamanager.attribute_schema)
    if init_attribute_bias(cfg, model, datamanager):
        print("Attribute classifier biases start at the training label prior (model.asta.attribute_prior_bias)")
    num_params = sum(p.numel() for p in model.parameters())
    print(f"Model: {cfg.model.name} ({num_params / 1e6:.2f} M parameters)")
    optimizer = build_optimizer(cfg, model)
    scheduler = build_scheduler(cfg, optimizer)

    run_kwargs = engine_run_kwargs(cfg)
    try:
        if cfg.model.load_weights:
            print(load_weights(model, cfg.model.load_weights))
        if cfg.model.resume:
            run_kwargs["start_epoch"] = resume(cfg.model.resume, model, optimizer, scheduler)
    except (CheckpointError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT

    engine = build_engine(cfg, datamanager, model, optimizer, scheduler)
    # the config with its attribute schema resolved: config.yaml and in every checkpoint (for inference)
    save_run_config(cfg, datamanager.attribute_schema)
    engine.run_config = run_config_text(cfg, datamanager.attribute_schema)
    start = time.time()
    try:
        engine.run(**run_kwargs)
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return TRAINING_FAILED_EXIT
    print(f"Done in {time.time() - start:.0f} s. Logs, checkpoints and metrics.csv are in {cfg.data.save_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train and evaluate a model of the aitl_reid plugin, configured with yacs (torchreid's scripts/main.py style).

    python tools/main.py --config-file configs/asta_aitl_mars.yaml [KEY VALUE ...]

Missing datasets and invalid configs end with exit status 2 and a message saying what to do,
never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

import aitl_reid
from aitl_reid import _torchreid
from aitl_reid.console_log import tee_stdout
from aitl_reid.config import ConfigError, get_default_config, merge_from_file, merge_from_list
from aitl_reid.data import DatasetNotFoundError, build_datamanager
from aitl_reid.engine import CheckpointError, NonFiniteLossError, build_engine, build_optimizer, build_scheduler, engine_run_kwargs, resume
from aitl_reid.models import build_model_from_config, load_weights

USAGE_EXIT = 2
TRAINING_FAILED_EXIT = 1


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", type=str, default="", help="path to a YAML config file")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE pairs overriding the config, e.g. train.lr 0.001")
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace):
    cfg = get_default_config()
    if args.config_file:
        merge_from_file(cfg, args.config_file)
    merge_from_list(cfg, args.opts)
    import torch

    cfg.use_gpu = bool(cfg.use_gpu and torch.cuda.is_available())
    cfg.freeze()
    return cfg


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT

    log_name = "test.log" if cfg.test.evaluate else "log.txt"
    with tee_stdout(os.path.join(cfg.data.save_dir, log_name)):
        return run(cfg)


def run(cfg) -> int:
    """Build data, model, optimizer and engine from a frozen config, then train and/or evaluate."""
    _torchreid.utils.set_random_seed(cfg.train.seed)
    print(f"Show configuration\n{cfg}\n")
    print(f"Collecting env info ...\n{_torchreid.utils.collect_env_info()}\n")
    print(f"aitl_reid {aitl_reid.__version__} — models: {', '.join(aitl_reid.list_models())}")

    try:
        datamanager = build_datamanager(cfg)
    except DatasetNotFoundError as err:
        print(f"\nerror: {err}\n\nSee datasets/README.md for where each dataset goes. To try the method "
              "without any download, run the synthetic demo: make demo", file=sys.stderr)
        return USAGE_EXIT

    model = build_model_from_config(cfg, datamanager.num_train_pids, datamanager.attribute_schema)
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

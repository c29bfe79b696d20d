"""The synthetic demo in one command, from anywhere the package is installed: no download, no checkout.

    aitl-reid-demo [--out DIR] [--data-root DIR] [--config-file demo] [KEY VALUE ...]

Renders the synthetic MARS-layout dataset under the data root when it is not already there (default: the config's
data.root, ``datasets/synthetic``, resolved against the current folder), trains and evaluates the config
(ASTA + AITL on the ImageNet MobileNetV2, a few minutes on CPU), and draws the DVDP/mAP curves and the attention of
both attribute streams into the output folder (default: the config's data.save_dir, ``log/demo``), beside the run's
metrics.csv, log and per-attribute report. An earlier run in that folder is moved into
``previous-run-<date>/``. KEY VALUE pairs override the config as for aitl-reid-train; results are synthetic-data
results.
"""
from __future__ import annotations

import argparse

import os
import sys
from typing import List, Optional

from . import train
from .launch import default_argument_parser, default_setup, load_config, run_cli
from .process_exit import as_command
from .run_folder import PREVIOUS_RUN_PREFIX, attribute_report_path, metrics_path
from .synthetic import ensure_synthetic_mars, synthetic_kwargs_from_config
from .synthetic.generate import DATASET_DIR
from .viz.attention import draw_attention
from .viz.curves import plot_dvdp_map_curves
from .viz.run import load_run

DEMO_CONFIG = "demo"
CURVES_FILE, ATTENTION_FILE = "dvdp_map.png", "attention.png"


def demo_overrides(out: str, data_root: str, opts: List[str]) -> List[str]:
    """The trainer's overrides: the chosen folders, an earlier run moved aside, then the user's own pairs."""
    chosen = [*(["data.save_dir", out] if out else []), *(["data.root", data_root] if data_root else [])]
    return ["train.existing_run", "move_aside", *chosen, *opts]


def build_parser() -> argparse.ArgumentParser:
    """``aitl-reid-demo [--out DIR] [--data-root DIR] [--config-file CONFIG] [KEY VALUE ...]``."""
    parser = default_argument_parser(__doc__)
    parser.set_defaults(config_file=DEMO_CONFIG)
    parser.add_argument("--out", default="", help="output folder (default: the config's data.save_dir, log/demo)")
    parser.add_argument("--data-root", default="",
                        help="where the synthetic dataset is (or is written): <data-root>/mars (default: data.root)")
    parser.add_argument("--workers", type=int, default=1, help="rendering processes for the synthetic dataset")
    return parser


def demo(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    opts = demo_overrides(args.out, args.data_root, args.opts)
    cfg = load_config(args.config_file, opts)  # a bad config or override stops here, before anything is written
    if set(cfg.data.sources) | set(cfg.data.targets) != {"mars_attr"}:
        raise ValueError(f"the demo trains on the synthetic MARS-layout dataset (mars_attr); config "
                         f"'{args.config_file}' uses {sorted(set(cfg.data.sources) | set(cfg.data.targets))}")
    params = synthetic_kwargs_from_config(cfg)
    root = params.pop("root")
    try:
        ensure_synthetic_mars(root, if_missing=True, workers=args.workers, **params)
    except FileExistsError as err:  # a real MARS copy there: never overwritten
        raise ValueError(f"{err} (aitl-reid-demo --data-root DIR writes the synthetic dataset elsewhere)") from None
    code = train.main(["--config-file", args.config_file, *opts])
    if code:
        return code
    save_dir = cfg.data.save_dir
    curves = plot_dvdp_map_curves({"ASTA + AITL": metrics_path(save_dir)}, os.path.join(save_dir, CURVES_FILE))
    with default_setup(args.config_file, opts) as run_cfg:
        attention, _ = draw_attention(load_run(run_cfg), os.path.join(save_dir, ATTENTION_FILE))
    reports = [attribute_report_path(save_dir, target) for target in cfg.data.targets]
    print("Demo outputs (synthetic data):")
    print(f"  metrics per epoch : {metrics_path(save_dir)}   (log: {os.path.join(save_dir, 'log.txt')})")
    print(f"  DVDP / mAP curves : {curves}")
    print(f"  attention maps    : {attention}")
    for report in filter(os.path.isfile, reports):
        print(f"  attribute report  : {report}   (each attribute against the majority class)")
    print(f"  synthetic dataset : {os.path.join(root, DATASET_DIR)}")
    print(f"  earlier demo runs : {os.path.join(save_dir, PREVIOUS_RUN_PREFIX)}<date>/   (if any: moved aside, never deleted)")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``aitl-reid-demo``: 0 when the figures are written, 1 when training fails, 2 on bad input."""
    return run_cli(demo, argv)


command = as_command(main)
"""``aitl-reid-demo``, the installed command (setup.py's console scripts); ``python -m`` runs it too."""

if __name__ == "__main__":
    sys.exit(command())

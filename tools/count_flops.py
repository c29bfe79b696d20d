"""Print GFLOPs per clip and parameters of aitl_reid models (the numbers behind docs/MODELS.md).

    python tools/count_flops.py asta_resnet50 tp_resnet50 --height 256 --width 128 --seq-len 4
    python tools/count_flops.py --config-file configs/asta_aitl_mars.yaml    # the config's model and sizes

Each model is built as the config describes it (the defaults without --config-file), with the name,
sizes and stream width given here replacing the config's; weights are never loaded. Bad input
(config, model name) ends with its message and status 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from aitl_reid.launch import load_config, run_cli
from aitl_reid.models import count_flops
from aitl_reid.process_exit import finish
from aitl_reid.viz.flops_map import config_model


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="model names, e.g. asta_resnet50 tp_resnet50 (default: the config's model.name)")
    parser.add_argument("--config-file", default="", help="YAML config: model.* settings, data.height/width, video.seq_len")
    parser.add_argument("--height", type=int, default=0, help="frame height (default: the config's data.height)")
    parser.add_argument("--width", type=int, default=0, help="frame width (default: the config's data.width)")
    parser.add_argument("--seq-len", type=int, default=0, help="frames per clip T (default: the config's video.seq_len)")
    parser.add_argument("--num-classes", type=int, default=625, help="identities of the classifier (MARS: 625)")
    parser.add_argument("--stream-width", type=int, default=-1,
                        help="ASTA stream conv width, 0 = backbone width (default: the config's model.asta.stream_width)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = load_config(args.config_file, freeze=False)
    cfg.data.height = args.height or cfg.data.height
    cfg.data.width = args.width or cfg.data.width
    cfg.video.seq_len = args.seq_len or cfg.video.seq_len
    if args.stream_width >= 0:
        cfg.model.asta.stream_width = args.stream_width
    rows = []  # every model is built before anything is printed: a bad name ends with its error alone
    for name in args.models or [cfg.model.name]:
        cfg.model.name = name
        model = config_model(cfg, args.num_classes)
        cost = count_flops(model, cfg.data.height, cfg.data.width, cfg.video.seq_len)
        width = getattr(model, "stream_width", 0) or "-"
        rows.append(f"| {name} | {width} | {cost.gflops:.2f} | {cost.gmacs:.2f} | {cost.params / 1e6:.2f} |")
    print(f"input {cfg.data.height}x{cfg.data.width}, T={cfg.video.seq_len}, {args.num_classes} identities; "
          "FLOPs from torch.utils.flop_counter (1 multiply-add = 2 FLOPs)")
    print("| model | stream width | GFLOPs / clip | GMACs / clip | params (M) |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(finish(run_cli(main)))

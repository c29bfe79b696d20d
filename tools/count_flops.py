"""Print GFLOPs per clip and parameters of aitl_reid models (the numbers behind docs/MODELS.md).

Example:
    python tools/count_flops.py asta_resnet50 tp_resnet50 --height 256 --width 128 --seq-len 4
"""
from __future__ import annotations

import argparse
import warnings
from typing import List, Optional

# torchreid warns at import that its Cython ranking is missing; irrelevant for counting FLOPs.
warnings.filterwarnings("ignore", message="Cython evaluation")

from aitl_reid.models import build_model, count_flops, split_model_name  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model names, e.g. asta_resnet50 tp_resnet50 (any asta_<backbone>/tp_<backbone>)")
    parser.add_argument("--height", type=int, default=256, help="frame height")
    parser.add_argument("--width", type=int, default=128, help="frame width")
    parser.add_argument("--seq-len", type=int, default=4, help="frames per clip (T)")
    parser.add_argument("--num-classes", type=int, default=625, help="identities of the classifier (MARS: 625)")
    parser.add_argument("--stream-width", type=int, default=0, help="ASTA stream conv width (0 = backbone width)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    print(f"input {args.height}x{args.width}, T={args.seq_len}, {args.num_classes} identities; "
          "FLOPs from torch.utils.flop_counter (1 multiply-add = 2 FLOPs)")
    print("| model | stream width | GFLOPs / clip | GMACs / clip | params (M) |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.models:
        is_asta = split_model_name(name)[0] == "asta"
        extra = {"stream_width": args.stream_width} if is_asta else {}
        model = build_model(name, args.num_classes, height=args.height, width=args.width, **extra)
        cost = count_flops(model, args.height, args.width, args.seq_len)
        width = (args.stream_width or "backbone") if is_asta else "-"
        print(f"| {name} | {width} | {cost.gflops:.2f} | {cost.gmacs:.2f} | {cost.params / 1e6:.2f} |")


if __name__ == "__main__":
    main()

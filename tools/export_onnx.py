"""Export a trained model to ONNX (dynamic batch size) and check it against PyTorch under ONNX Runtime.

    python tools/export_onnx.py --run log/asta_aitl_synthetic --out model.onnx
    python tools/reid_tracklets.py --run log/asta_aitl_synthetic --onnx model.onnx --out out/ QUERY GALLERY

The graph takes normalised clips ``clips [B, T, 3, H, W]`` and returns ``feature [B, D]`` (the test
feature) and, unless --no-attributes, ``attr_logits_<stream> [B, K]`` per attribute stream; the
inference API pools them per tracklet and reads classes and probabilities as for PyTorch. The
largest absolute difference from PyTorch is printed; above --tolerance the export fails (status 1).
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from aitl_reid.inference import load_trained
from aitl_reid.inference.onnx_backend import export_onnx
from aitl_reid.launch import run_cli


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="training run folder (data.save_dir) or a checkpoint file")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--checkpoint", default="latest", help="'latest' (default), 'best' or a path")
    parser.add_argument("--config-file", default="", help="the training config, for runs that stored none")
    parser.add_argument("--no-attributes", action="store_true", help="export the feature only")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest accepted |ONNX - PyTorch| (default 1e-3)")
    args = parser.parse_args(argv)
    trained = load_trained(args.run, args.checkpoint, "cpu", args.config_file)
    report = export_onnx(trained, args.out, attributes=not args.no_attributes)
    print(report)
    worst = max(report.max_abs_diff.values())
    if worst > args.tolerance:
        print(f"error: ONNX Runtime differs from PyTorch by {worst:.2e} > --tolerance {args.tolerance:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

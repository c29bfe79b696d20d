"""Export a trained model to ONNX (dynamic batch size) and check it against PyTorch under ONNX Runtime.

    aitl-reid-export --run log/asta_aitl_synthetic --out model.onnx [KEY VALUE ...]
    aitl-reid-infer --run log/asta_aitl_synthetic --onnx model.onnx --out out/ QUERY GALLERY

The same program as ``python -m aitl_reid.export`` and, in a checkout, ``python tools/export_onnx.py``.
--config-file gives the training config of a run that stored none, and trailing KEY VALUE pairs
override the run's config, as the trainer's and aitl-reid-infer's do. It needs the onnx extra
(pip install 'aitl-reid[onnx]'); without it, it ends with status 2 saying so.

The graph takes normalised clips ``clips [B, T, 3, H, W]`` and returns ``feature [B, D]`` (the test
feature) and, unless --no-attributes, ``attr_logits_<stream> [B, K]`` per attribute stream; the
inference API pools them per tracklet and reads classes and probabilities as for PyTorch. The
largest absolute difference from PyTorch is printed; above --tolerance the export fails (status 1).
The file holds the weights (one file to move), unless they pass ONNX's 2 GB limit: then they go to
``<out>.data`` beside it, which the export names and --onnx needs in the same folder. A second
export to the same file while one runs stops with status 2, naming the first.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from .folder_lock import FolderLock
from .inference import load_trained
from .inference.onnx_backend import export_onnx
from .launch import default_argument_parser, run_cli
from .process_exit import as_command


def build_parser() -> argparse.ArgumentParser:
    """The exporter's command line: the run, the output file, then ``KEY VALUE`` overrides."""
    parser = default_argument_parser(__doc__)
    parser.add_argument("--run", required=True, help="training run folder (data.save_dir) or a checkpoint file")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--checkpoint", default="latest", help="'latest' (default), 'best' or a path")
    parser.add_argument("--no-attributes", action="store_true", help="export the feature only")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest accepted |ONNX - PyTorch| (default 1e-3)")
    return parser


def export(argv: Optional[List[str]] = None) -> int:
    """The program; errors propagate (:func:`main` turns bad input into status 2)."""
    args = build_parser().parse_args(argv)
    with output_file_lock(args.out):
        trained = load_trained(args.run, args.checkpoint, "cpu", args.config_file, args.opts)
        report = export_onnx(trained, args.out, attributes=not args.no_attributes)
    print(report)
    worst = max(report.max_abs_diff.values())
    if worst > args.tolerance:
        print(f"error: ONNX Runtime differs from PyTorch by {worst:.2e} > --tolerance {args.tolerance:g}", file=sys.stderr)
        return 1
    return 0


def output_file_lock(path: str) -> FolderLock:
    """The lock of the ONNX file ``path`` (and the weights file beside it), a hidden file next to it: two exports to
    one file cannot interleave, exports to different files in one folder do not wait on each other."""
    folder, name = os.path.split(os.path.abspath(path))
    return FolderLock(folder, "--out", lock_file=f".{name}.lock", what=f"--out '{path}'")


def main(argv: Optional[List[str]] = None) -> int:
    """``aitl-reid-export``: bad input (paths, config, a missing extra) ends with its message and status 2."""
    return run_cli(export, argv)


command = as_command(main)
"""``aitl-reid-export``, the installed command (setup.py's console scripts); ``python -m`` runs it too."""

if __name__ == "__main__":
    sys.exit(command())

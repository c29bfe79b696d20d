"""Turn a checkpoint of the authors' released code into a run folder of this plugin.

    aitl-reid-convert --released rank1_86.5_checkpoint_ep400.pth --out log/released_mars [KEY VALUE ...]

The same program as ``python -m aitl_reid.convert`` and, in a checkout, ``python tools/convert_released.py``.
The released ``main_baseline.py`` saves the model's state dict as ``rank1_<R1>_checkpoint_ep<N>.pth``
(``VideoBaseline`` with fusion ATTR_TA, attribute loss bce, neck bnneck; a ``module.`` prefix from a
DataParallel save is accepted). The file is read weights-only; its ResNet depth, identities and
attribute release (MARS or DukeMTMC-VID) are read off the tensors, and the model is built with the
released configuration (``configs/released_code.yaml``, or --config-file) and must take every tensor.
The --out folder then holds ``config.yaml`` and ``model/model.pth.tar-<N>``, so that evaluation
(the trainer with that config.yaml, ``test.evaluate True`` and ``model.load_weights`` of that file),
inference and ONNX export work on it:

    aitl-reid-infer --run log/released_mars --out out/ QUERY GALLERY
    aitl-reid-export --run log/released_mars --out released.onnx

Anything that is not such a file ends with status 2 naming the first key that does not fit; so does an
--out folder that another command is writing (:mod:`aitl_reid.folder_lock`).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Dict, List, Optional

import torch

from .config import RELEASED_CONFIG
from .engine.checkpoint import save_checkpoint
from .folder_lock import FolderLock
from .launch import default_argument_parser, load_config, run_cli
from .models import build_model_from_config
from .models.released import ReleasedArchitecture, ReleasedCheckpointError, describe, to_plugin_state_dict
from .process_exit import as_command
from .run_folder import RunError, checkpoint_path, held_run, run_config_text, save_run_config
from .schema import get_schema
from .serialization import safe_torch_load

DATASETS = {"mars_v2": ("mars_attr", False), "duke_v2": ("dukemtmcvidreid_attr", True)}  # query_in_gallery as released
_EPOCH = re.compile(r"_ep(\d+)\.pth$")


def read_released(path: str) -> Dict[str, torch.Tensor]:
    """The state dict in ``path`` under this plugin's names; a ``ReleasedCheckpointError`` for anything else."""
    state = safe_torch_load(path)
    if isinstance(state, dict) and "state_dict" in state:
        raise ReleasedCheckpointError(
            f"{path} is a training checkpoint (it holds 'state_dict'), not a state dict saved by the released "
            "main_baseline.py; a checkpoint of this plugin or torchreid needs no conversion"
        )
    try:
        return to_plugin_state_dict(state)
    except ReleasedCheckpointError as err:
        raise ReleasedCheckpointError(f"{path}: {err}") from None


def released_opts(arch: ReleasedArchitecture, out: str) -> List[str]:
    """``KEY VALUE`` pairs that fit the configuration to what the file was trained with."""
    dataset, query_in_gallery = DATASETS[arch.schema]
    return ["model.name", arch.model_name, "model.pretrained", "False", "attributes.schema", arch.schema,
            "data.sources", f"['{dataset}']", "data.targets", f"['{dataset}']",
            "data.query_in_gallery", str(query_in_gallery), "data.save_dir", out]


def check_map_size(cfg, model: torch.nn.Module, arch: ReleasedArchitecture, path: str) -> None:
    """The frame size must give the feature map the temporal attention was trained on (h * w positions): the map
    size is the built backbone's own, for the configured frames."""
    height, width = int(cfg.data.height), int(cfg.data.width)
    positions = model.backbone.map_size[0] * model.backbone.map_size[1]
    if positions != arch.positions:
        raise ReleasedCheckpointError(
            f"{path}: its temporal attention has {arch.positions} positions (h x w of the feature maps), but frames of "
            f"{height}x{width} give {positions}; set data.height and data.width to the size it was trained at "
            "(the released configs use 256 128)"
        )


def first_misfit(model: torch.nn.Module, weights: Dict[str, torch.Tensor]) -> str:
    """The first tensor name that the model lacks, has in another shape, or expects but the file lacks; '' if none."""
    own = model.state_dict()
    for key, value in weights.items():
        if key not in own:
            return f"'{key}' has no place in {type(model).__name__}"
        if own[key].shape != value.shape:
            return f"'{key}' is {tuple(value.shape)} in the file, {tuple(own[key].shape)} in the model"
    missing = [key for key in own if key not in weights]
    return f"the model's '{missing[0]}' is not in the file" if missing else ""


def build_parser() -> argparse.ArgumentParser:
    """--released and --out, the checkpoint's --epoch, and the trainer's --config-file and KEY VALUE overrides."""
    parser = default_argument_parser(__doc__)
    parser.add_argument("--released", required=True, help="state dict saved by the released main_baseline.py (.pth)")
    parser.add_argument("--out", required=True, help="run folder to create (must not hold another run)")
    parser.add_argument("--epoch", type=int, default=None,
                        help="epoch to name the checkpoint by (default: the _ep<N> of the file name, else 0)")
    return parser


def convert(argv: Optional[List[str]] = None) -> int:
    """The program; errors propagate (:func:`main` turns bad input into status 2)."""
    args = build_parser().parse_args(argv)
    if not os.path.isfile(args.released):
        raise FileNotFoundError(f"{args.released}: no such file")
    with FolderLock(args.out, "--out"):  # one writer: checked empty and written by this command alone
        return write_run(args)


def write_run(args: argparse.Namespace) -> int:
    """Read the released state dict, build the model it fits, and write ``--out``'s config and checkpoint."""
    held = held_run(args.out)
    if held:
        raise RunError(f"{args.out} holds another run ({held}); choose an empty or new --out folder")
    weights = read_released(args.released)
    arch = describe(weights)
    cfg = load_config(args.config_file or RELEASED_CONFIG, released_opts(arch, args.out) + list(args.opts), freeze=False)
    cfg.use_gpu = False
    cfg.freeze()
    schema = get_schema(arch.schema)
    model = build_model_from_config(cfg, arch.num_classes, schema, pretrained=False)
    check_map_size(cfg, model, arch, args.released)
    misfit = first_misfit(model, weights)
    if misfit:
        raise ReleasedCheckpointError(f"{args.released} does not fit {cfg.model.name} as configured: {misfit}")
    model.load_state_dict(weights)
    match = _EPOCH.search(os.path.basename(args.released))
    epoch = args.epoch if args.epoch is not None else int(match.group(1)) if match else 0
    save_run_config(cfg, schema)
    save_checkpoint({"state_dict": model.state_dict(), "epoch": epoch, "config": run_config_text(cfg, schema),
                     "converted_from": os.path.abspath(args.released)}, args.out, epoch)
    print(f"{args.released}: {cfg.model.name}, {arch.num_classes} identities, attributes {arch.schema}, "
          f"{cfg.data.height}x{cfg.data.width} frames")
    print(f"wrote {os.path.join(args.out, 'config.yaml')} and {checkpoint_path(args.out, epoch)}; use it with\n"
          f"  aitl-reid-infer --run {args.out} --out OUT QUERY GALLERY\n"
          f"  aitl-reid-export --run {args.out} --out model.onnx\n"
          f"  aitl-reid-train --config-file {os.path.join(args.out, 'config.yaml')} test.evaluate True "
          f"model.load_weights {checkpoint_path(args.out, epoch)}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``aitl-reid-convert``: bad input (not a released state dict, a used --out folder) ends with status 2."""
    return run_cli(convert, argv)


command = as_command(main)
"""``aitl-reid-convert``, the installed command (setup.py's console scripts); ``python -m`` runs it too."""

if __name__ == "__main__":
    sys.exit(command())

"""Backbone weights from local files only: nothing here downloads.

torchreid's builders fetch ImageNet weights from the internet when ``pretrained=True``; offline
that ends in a URL traceback. This plugin always builds backbones with ``pretrained=False`` and
loads a local file instead (a torchvision ResNet ``.pth`` or a torchreid checkpoint), reporting
which tensors were loaded, missing or unexpected.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Tuple

import torch
from torch import nn
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from ..serialization import safe_torch_load

PRETRAINED_DIR_ENV = "AITL_REID_PRETRAINED_DIR"
"""Environment variable naming a folder that holds ``<backbone>.pth`` files (e.g. ``resnet50.pth``)."""


class PretrainedWeightsNotFound(FileNotFoundError):
    """``pretrained=True`` but no local weights file can be found."""


@dataclass
class LoadReport:
    """What a weights file contributed to a module."""

    path: str
    loaded: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    shape_mismatch: List[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors from {self.path}"]
        for label, keys in (("missing (kept random)", self.missing), ("unexpected (ignored)", self.unexpected),
                            ("shape mismatch (ignored)", self.shape_mismatch)):
            if keys:
                lines.append(f"  {label}: {len(keys)}: {', '.join(keys)}")
        return "\n".join(lines)


def resolve_pretrained_path(backbone: str, pretrained_path: str = "") -> str:
    """The local weights file for ``backbone``: the explicit path, else ``$AITL_REID_PRETRAINED_DIR/<backbone>.pth``."""
    if pretrained_path:
        if not os.path.isfile(pretrained_path):
            raise PretrainedWeightsNotFound(f"pretrained weights file not found: {pretrained_path} (model.pretrained_path)")
        return pretrained_path
    folder = os.environ.get(PRETRAINED_DIR_ENV, "")
    if folder:
        candidate = os.path.join(folder, f"{backbone}.pth")
        if not os.path.isfile(candidate):
            raise PretrainedWeightsNotFound(
                f"pretrained weights for backbone '{backbone}' not found: {candidate} "
                f"(${PRETRAINED_DIR_ENV}={folder} must hold '{backbone}.pth')"
            )
        return candidate
    raise PretrainedWeightsNotFound(
        f"pretrained=True for backbone '{backbone}', but no local weights file is configured and this "
        "plugin never downloads. Provide one of:\n"
        "  - config key model.pretrained_path (or the builder argument pretrained_path=...) pointing to a "
        "torchvision ResNet .pth (e.g. resnet50-0676ba61.pth) or a torchreid checkpoint;\n"
        f"  - environment variable {PRETRAINED_DIR_ENV}=<folder> with the file '<folder>/{backbone}.pth';\n"
        "or build with pretrained=False (model.pretrained False) for random initialisation."
    )


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Tensors of a weights file, unwrapping torchreid's ``{'state_dict': ...}`` and ``module.`` prefixes."""
    obj: Any = safe_torch_load(path)
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise ValueError(f"weights file {path} holds a {type(obj).__name__}, expected a state_dict (mapping of tensors)")
    tensors = {}
    for key, value in obj.items():
        if torch.is_tensor(value):
            tensors[key] = value
    consume_prefix_in_state_dict_if_present(tensors, "module.")  # saved from nn.DataParallel
    return tensors


def _split_matches(
    source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]
) -> Tuple[Dict[str, torch.Tensor], LoadReport]:
    report = LoadReport(path="")
    matched = {}
    for key, value in source.items():
        if key not in target:
            report.unexpected.append(key)
        elif target[key].shape != value.shape:
            report.shape_mismatch.append(f"{key} {tuple(value.shape)}->{tuple(target[key].shape)}")
        else:
            matched[key] = value
            report.loaded.append(key)
    # BatchNorm's step counter is absent from older files and never used by a model in eval or train.
    report.missing = [k for k in target if k not in matched and not k.endswith("num_batches_tracked")]
    return matched, report


def load_weights(module: nn.Module, path: str) -> LoadReport:
    """Copy the tensors of ``path`` whose name and shape match ``module``'s; the rest is reported.

    Raises ``ValueError`` when nothing matches: the file is then for another architecture and
    silently keeping random weights would waste a training run.
    """
    source = read_state_dict(path)
    matched, report = _split_matches(source, module.state_dict())
    report.path = path
    if not matched:
        sample = ", ".join(list(source)[:5]) or "none"
        raise ValueError(
            f"no tensor in {path} matches {type(module).__name__}'s parameters "
            f"(first keys in the file: {sample}); is it for another architecture?"
        )
    module.load_state_dict(matched, strict=False)
    return report

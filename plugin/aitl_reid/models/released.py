"""The authors' released checkpoints in this plugin's naming.

The released ``main_baseline.py`` saves ``model.state_dict()`` of its ``VideoBaseline`` (fusion
``ATTR_TA``, attribute loss ``bce``, neck ``bnneck``): the ResNet under ``base.``, the Re-ID spatial
attention ``attention_conv``, the identity-irrelevant stream ``multi_attr_recoger1`` and the
identity-relevant one ``multi_attr_recoger2`` (each ``conv``, ``bn``, ``attention_s_conv``,
``attention_t_conv``, ``classifier``), the neck ``bottleneck`` and the identity ``classifier``. Those
tensors are exactly the weights of :class:`~.asta.ASTA` built with ``configs/released_code.yaml``;
this module renames them and reads off the architecture (ResNet depth, identities, attribute schema,
feature-map size) the file was trained with.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Mapping, Tuple

import torch
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from ..schema import BUILTIN_SCHEMAS, ID_IRRELEVANT, ID_RELEVANT

RELEASED_STREAMS: Dict[str, str] = {"multi_attr_recoger1": ID_IRRELEVANT, "multi_attr_recoger2": ID_RELEVANT}
_STREAM_PARTS: Dict[str, str] = {
    "conv": "conv.0",
    "bn": "conv.1",
    "attention_s_conv": "attention.spatial.conv",
    "attention_t_conv": "attention.temporal",
    "classifier": "classifier",
}
_TOP_LEVEL: Dict[str, str] = {"attention_conv": "reid_attention.conv", "bottleneck": "neck.bn"}
# (block type, blocks per stage) -> the torchreid backbone the released ResNet of that shape matches
_RESNETS: Dict[Tuple[str, Tuple[int, ...]], str] = {
    ("basic", (2, 2, 2, 2)): "resnet18",
    ("basic", (3, 4, 6, 3)): "resnet34",
    ("bottleneck", (3, 4, 6, 3)): "resnet50",
    ("bottleneck", (3, 4, 23, 3)): "resnet101",
    ("bottleneck", (3, 8, 36, 3)): "resnet152",
}
_BLOCK = re.compile(r"^base\.layer(\d)\.(\d+)\.")


class ReleasedCheckpointError(ValueError):
    """A file that is not a state dict of the released ``VideoBaseline`` (ATTR_TA, bce, bnneck)."""


@dataclass(frozen=True)
class ReleasedArchitecture:
    """What a released state dict was trained with, in this plugin's terms."""

    backbone: str
    num_classes: int
    schema: str
    positions: int  # h * w of the feature maps: the temporal attention conv's channels

    @property
    def model_name(self) -> str:
        return f"asta_{self.backbone}"


def plugin_key(released_key: str) -> str:
    """This plugin's name for one tensor of the released model; a ``ReleasedCheckpointError`` names a key that has none."""
    head, _, rest = released_key.partition(".")
    if head == "base" and rest:
        return f"backbone.net.{rest}"
    if head in RELEASED_STREAMS:
        part, _, leaf = rest.rpartition(".")
        if part in _STREAM_PARTS and leaf:
            return f"streams.{RELEASED_STREAMS[head]}.{_STREAM_PARTS[part]}.{leaf}"
    if head in _TOP_LEVEL and rest:
        return f"{_TOP_LEVEL[head]}.{rest}"
    if released_key == "classifier.weight":
        return "neck.classifier.weight"
    raise ReleasedCheckpointError(
        f"key '{released_key}' is not part of the released VideoBaseline with fusion ATTR_TA, attribute loss bce "
        "and neck bnneck (the configuration of configs/softmax_triplet_tlaw.yml); other released configurations "
        "(attr_loss mce, neck no, SE-ResNet or IBN backbones) have no counterpart here"
    )


def to_plugin_state_dict(released: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The released state dict (``module.`` prefix of ``nn.DataParallel`` accepted) under this plugin's names."""
    if not isinstance(released, Mapping) or not released:
        raise ReleasedCheckpointError("expected a non-empty state dict (name -> tensor) as main_baseline.py saves it")
    weights = dict(released)
    consume_prefix_in_state_dict_if_present(weights, "module.")
    out: Dict[str, torch.Tensor] = {}
    for key, value in weights.items():
        if not torch.is_tensor(value):
            raise ReleasedCheckpointError(f"entry '{key}' is a {type(value).__name__}, not a tensor: not a state dict")
        out[plugin_key(key)] = value
    return out


def describe(weights: Mapping[str, torch.Tensor]) -> ReleasedArchitecture:
    """The architecture of a released state dict already in this plugin's names (:func:`to_plugin_state_dict`)."""
    required = ["neck.classifier.weight", "reid_attention.conv.weight"] + [
        f"streams.{group}.{part}" for group in (ID_IRRELEVANT, ID_RELEVANT)
        for part in ("classifier.weight", "attention.temporal.weight")
    ]
    missing = [key for key in required if key not in weights]
    if missing:
        raise ReleasedCheckpointError(
            f"no tensor becomes '{missing[0]}': the file lacks the identity classifier, the Re-ID attention "
            "(attention_conv) or an attribute stream (multi_attr_recoger1/2) of fusion ATTR_TA with attribute loss bce"
        )
    widths = {group: int(weights[f"streams.{group}.classifier.weight"].shape[0]) for group in (ID_IRRELEVANT, ID_RELEVANT)}
    schema = next((s.name for s in BUILTIN_SCHEMAS.values()
                   if all(s.total_classes(g) == w for g, w in widths.items())), None)
    if schema is None:
        raise ReleasedCheckpointError(
            f"attribute classifiers of {widths[ID_IRRELEVANT]} (identity-irrelevant) and {widths[ID_RELEVANT]} "
            "(identity-relevant) outputs match no released attribute file: "
            + ", ".join(f"{s.name} {s.total_classes(ID_IRRELEVANT)}/{s.total_classes(ID_RELEVANT)}"
                        for s in BUILTIN_SCHEMAS.values())
        )
    return ReleasedArchitecture(_resnet_of(weights), int(weights["neck.classifier.weight"].shape[0]), schema,
                                int(weights[f"streams.{ID_RELEVANT}.attention.temporal.weight"].shape[0]))


def _resnet_of(weights: Mapping[str, torch.Tensor]) -> str:
    """The torchreid ResNet whose stages have the released backbone's block type and block counts."""
    blocks: Dict[int, int] = {}
    for key in weights:
        match = _BLOCK.match(key.replace("backbone.net.", "base.", 1))
        if match:
            stage, index = int(match.group(1)), int(match.group(2))
            blocks[stage] = max(blocks.get(stage, 0), index + 1)
    kind = "bottleneck" if "backbone.net.layer1.0.conv3.weight" in weights else "basic"
    counts = tuple(blocks.get(stage, 0) for stage in (1, 2, 3, 4))
    if (kind, counts) not in _RESNETS:
        raise ReleasedCheckpointError(
            f"backbone with {kind} blocks {counts} per stage is none of the released ResNets "
            f"({', '.join(sorted(set(_RESNETS.values())))})"
        )
    return _RESNETS[(kind, counts)]

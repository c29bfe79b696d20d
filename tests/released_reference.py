"""A reference of the authors' released model and objective, written for the parity tests from reading their code.

Released repository: github yuange250/Video-based-person-ReID-with-Attribute-information. What this file
restates, in its own code: ``models/backbones/resnet.py`` (a ResNet whose stem has no ReLU, last stage
stride 1), ``models/baseline.py`` (``VideoBaseline`` with fusion ``ATTR_TA``, attribute loss ``bce``, neck
``bnneck``: ``MultiAttributeRecogModuleBCE`` streams on detached maps, the Re-ID spatial attention, copies
weighted by stream attention x Re-ID attention, [Re-ID, stream 1, stream 2] concatenation, BatchNorm
neck), ``losses.py`` (``CrossEntropyLabelSmooth``, ``CosineTripletLoss``, ``TripletLossAttrWeightes``)
and ``main_baseline.py``'s ``train`` (how the terms are combined). Stream 1 (``multi_attr_recoger1``) is
the identity-irrelevant one, stream 2 the identity-relevant one (``data_manager.py``'s ``attr_lens``).

The parameter names are the released ones (``base.``, ``attention_conv``, ``multi_attr_recoger1/2``,
``bottleneck``, ``classifier``), so a state dict of this module is a released checkpoint. One
generalisation: the released temporal convolution has 16 x 8 = 128 channels, the map size at 256x128;
here it has ``h * w`` channels so that the tests can run on small frames.
"""
from __future__ import annotations

from typing import Dict, Sequence

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

STREAM_NAMES = ("multi_attr_recoger1", "multi_attr_recoger2")  # identity-irrelevant, identity-relevant


class StemlessResNet(nn.Module):
    """torchvision's ResNet layout (same parameter names) without the stem's ReLU, last stage at stride 1."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        net = getattr(torchvision.models, f"resnet{depth}")(weights=None)
        first = net.layer4[0]
        for conv in (first.conv1, getattr(first, "conv2", None), first.downsample[0]):
            if conv is not None and conv.stride != (1, 1):
                conv.stride = (1, 1)
        self.conv1, self.bn1, self.maxpool = net.conv1, net.bn1, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.channels = net.fc.in_features

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.bn1(self.conv1(frames)))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class ReleasedStream(nn.Module):
    """One attribute stream: 1x1 conv + BN + ReLU, spatial then temporal attention, pooled input, ReLU, classifier."""

    def __init__(self, channels: int, positions: int, outputs: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1)
        self.bn = nn.BatchNorm2d(channels)
        self.attention_s_conv = nn.Conv2d(channels, 1, 3, padding=1)
        self.attention_t_conv = nn.Conv1d(positions, positions, 3, padding=1)
        self.classifier = nn.Linear(channels, outputs)

    def forward(self, maps: torch.Tensor, b: int, t: int) -> Dict[str, torch.Tensor]:
        _, c, h, w = maps.shape
        scores = self.attention_s_conv(F.relu(self.bn(self.conv(maps))))  # [b*t, 1, h, w]
        over_time = scores.reshape(b, t, h * w).permute(0, 2, 1)  # positions as channels
        attention = torch.sigmoid(self.attention_t_conv(over_time).permute(0, 2, 1)).reshape(b, t, 1, h, w)
        pooled = (attention * maps.reshape(b, t, c, h, w)).mean(dim=(3, 4)).mean(dim=1)
        out = {"attention": attention.reshape(b, t, h, w)}
        if self.training:  # the released stream skips its classifier in eval mode
            out["logits"] = self.classifier(F.relu(pooled))
        return out


class ReleasedVideoModel(nn.Module):
    """``VideoBaseline(fusion_method="ATTR_TA", attr_loss="bce", neck="bnneck", last_stride=1)``'s computation."""

    def __init__(self, depth: int, num_classes: int, stream_outputs: Sequence[int], map_size: Sequence[int]) -> None:
        super().__init__()
        self.base = StemlessResNet(depth)
        c, positions = self.base.channels, int(map_size[0]) * int(map_size[1])
        self.attention_conv = nn.Conv2d(c, 1, 3, padding=1)
        for name, outputs in zip(STREAM_NAMES, stream_outputs):
            setattr(self, name, ReleasedStream(c, positions, outputs))
        self.bottleneck = nn.BatchNorm1d(3 * c)
        self.bottleneck.bias.requires_grad_(False)
        self.classifier = nn.Linear(3 * c, num_classes, bias=False)

    def forward(self, clips: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Everything the released forward computes, by name (``logits`` and stream logits in train mode only)."""
        b, t = clips.shape[:2]
        maps = self.base(clips.flatten(0, 1))
        _, c, h, w = maps.shape
        streams = [getattr(self, name)(maps.detach(), b, t) for name in STREAM_NAMES]
        reid_attention = torch.sigmoid(self.attention_conv(maps)).reshape(b, t, 1, h, w)
        reid = reid_attention * maps.reshape(b, t, c, h, w)
        copies = [s["attention"].unsqueeze(2) * reid for s in streams]
        features = torch.cat([reid] + copies, dim=2).mean(dim=(3, 4)).mean(dim=1)
        embedding = self.bottleneck(features)
        out = {
            "maps": maps.reshape(b, t, c, h, w),
            "reid_attention": reid_attention.reshape(b, t, h, w),
            "attention_id_irrelevant": streams[0]["attention"],
            "attention_id_relevant": streams[1]["attention"],
            "features": features,
            "embedding": embedding,
        }
        if self.training:
            out.update(logits=self.classifier(embedding), attr_id_irrelevant=streams[0]["logits"],
                       attr_id_relevant=streams[1]["logits"])
        return out


def _cosine(x: torch.Tensor) -> torch.Tensor:
    unit = x / x.pow(2).sum(1, keepdim=True).sqrt()
    return 1 - unit @ unit.t()


def _euclidean(x: torch.Tensor) -> torch.Tensor:
    sq = x.pow(2).sum(1, keepdim=True)
    return (sq + sq.t() - 2 * x @ x.t()).clamp(min=1e-12).sqrt()


def label_smooth_cross_entropy(logits: torch.Tensor, pids: torch.Tensor, epsilon: float = 0.1) -> torch.Tensor:
    target = F.one_hot(pids, logits.shape[1]).float() * (1 - epsilon) + epsilon / logits.shape[1]
    return (-target * logits.log_softmax(1)).mean(0).sum()


def cosine_batch_hard(features: torch.Tensor, pids: torch.Tensor, margin: float = 0.3) -> torch.Tensor:
    dist = _cosine(features)
    same = pids.unsqueeze(0) == pids.unsqueeze(1)
    hardest_positive = torch.stack([dist[i][same[i]].max() for i in range(len(pids))])
    hardest_negative = torch.stack([dist[i][~same[i]].min() for i in range(len(pids))])
    return F.relu(hardest_positive - hardest_negative + margin).mean()


def attribute_weighted_triplet(features: torch.Tensor, pids: torch.Tensor, attr_logits: torch.Tensor) -> torch.Tensor:
    """Per anchor, over its identity's tracklets (itself included): feature distance to the attribute-farthest
    minus that to the attribute-nearest (Euclidean on the logits, first index on ties), hinged at 0, averaged."""
    dist, chooser = _cosine(features), _euclidean(attr_logits)
    same = pids.unsqueeze(0) == pids.unsqueeze(1)
    terms = []
    for i in range(len(pids)):
        candidates = same[i].nonzero().squeeze(1)
        far = candidates[chooser[i, candidates].argmax()]
        near = candidates[chooser[i, candidates].argmin()]
        terms.append(F.relu(dist[i, far] - dist[i, near]))
    return torch.stack(terms).mean()


def released_objective(out: Dict[str, torch.Tensor], pids: torch.Tensor,
                       one_hot: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """``main_baseline.py``'s training loss and its terms: CE + (batch-hard + AITL x 2) / 3 + BCE of both streams."""
    terms = {
        "loss_x": label_smooth_cross_entropy(out["logits"], pids),
        "loss_t": cosine_batch_hard(out["features"], pids),
    }
    for stream in ("id_irrelevant", "id_relevant"):
        logits = out[f"attr_{stream}"]
        terms[f"loss_aitl_{stream}"] = attribute_weighted_triplet(out["features"], pids, logits)
        terms[f"loss_attr_{stream}"] = F.binary_cross_entropy_with_logits(logits, one_hot[stream])
    terms["loss_attr"] = terms["loss_attr_id_irrelevant"] + terms["loss_attr_id_relevant"]
    triplets = terms["loss_t"] + terms["loss_aitl_id_irrelevant"] + terms["loss_aitl_id_relevant"]
    terms["total"] = terms["loss_x"] + triplets / 3 + terms["loss_attr"]
    return terms

"""Identity cross-entropy with label smoothing (the paper's L_softmax in Eq. 4; epsilon 0.1).

The smoothed target is ``(1 - eps) * one_hot + eps / num_classes``, the same as torchreid's
``CrossEntropyLoss``, but computed in float32 and without moving targets between devices.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .distances import at_least_float32


def check_identity_labels(pids: torch.Tensor, num_classes: int) -> None:
    """Raise a ValueError unless every label lies in ``[0, num_classes)``, without reading the labels on the host
    first: an asynchronous assertion, which a CPU checks at once and a GPU on the device (reported at the next
    synchronisation, as an out-of-range target of the cross-entropy kernel itself would be), so that a training
    step does not wait for the device just to look at its labels."""
    if not pids.numel():
        return
    try:
        torch._assert_async(((pids >= 0) & (pids < num_classes)).all(), "identity label out of range")
    except RuntimeError:
        raise ValueError(
            f"identity labels must lie in [0, {num_classes - 1}] (the classifier has {num_classes} outputs), "
            f"got range [{int(pids.min())}, {int(pids.max())}]; were the training pids relabelled?"
        ) from None


def cross_entropy_label_smooth(logits: torch.Tensor, pids: torch.Tensor, epsilon: float = 0.1) -> torch.Tensor:
    """Mean over the batch of the cross-entropy between ``logits [B, C]`` and smoothed one-hot ``pids``."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be 2-D [B, num_classes], got shape {tuple(logits.shape)}")
    if pids.dim() != 1 or pids.shape[0] != logits.shape[0]:
        raise ValueError(f"pids must be 1-D with {logits.shape[0]} entries, got shape {tuple(pids.shape)}")
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"label smoothing epsilon must be in [0, 1), got {epsilon}")
    check_identity_labels(pids, logits.shape[1])
    with torch.autocast(device_type=logits.device.type, enabled=False):
        return F.cross_entropy(at_least_float32(logits), pids.long(), label_smoothing=epsilon)


class CrossEntropyLabelSmooth(nn.Module):
    """Module form of :func:`cross_entropy_label_smooth`."""

    def __init__(self, epsilon: float = 0.1) -> None:
        super().__init__()
        self.epsilon = epsilon

    def forward(self, logits: torch.Tensor, pids: torch.Tensor) -> torch.Tensor:
        return cross_entropy_label_smooth(logits, pids, self.epsilon)

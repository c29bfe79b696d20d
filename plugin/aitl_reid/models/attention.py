"""The spatio-temporal attention module of the paper (Fig. 5, section 4.2) and its spatial part.

A spatial convolution scores every position of every frame; a 1-D convolution then runs over
time with the ``h * w`` positions as channels, so each position's weight depends on the
neighbouring frames (and their order). The temporal convolution's channel count is ``h * w``,
which ties the module to one feature-map size: it is built for the size the model is built for
and rejects any other with a clear message instead of a shape error deep inside ``conv1d``.

Two switches keep the sigmoid out of saturation (docs/FIDELITY.md): ``score_norm`` standardises the
scores of a batch (one BatchNorm over all frames and positions, so positions keep their order)
before the sigmoid, and ``temporal_init="identity"`` starts the temporal convolution as a
pass-through, so training begins from the spatial scores rather than a random mix of positions.
Without them the learned scores grow until most attention values sit at exactly 0 or 1, where the
sigmoid passes no gradient.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn


def require_odd(kernel: int, name: str) -> int:
    """Return ``kernel`` if it is a positive odd integer (``padding = k // 2`` then preserves size)."""
    if not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"{name} must be a positive odd integer (size-preserving padding k // 2), got {kernel!r}")
    return kernel


TEMPORAL_INITS: Tuple[str, ...] = ("identity", "default")


class ScoreNorm(nn.Module):
    """BatchNorm with one channel over every score of a batch ``[B, T, ...]`` (identity when off)."""

    def __init__(self, enabled: bool) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(1) if enabled else None

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        if self.bn is None:
            return scores
        return self.bn(scores.reshape(-1, 1)).reshape(scores.shape)


class SpatialAttention(nn.Module):
    """One score per position of every frame: a convolution from ``C`` channels to one."""

    def __init__(self, in_channels: int, kernel: int = 3, score_norm: bool = False) -> None:
        super().__init__()
        kernel = require_odd(kernel, "spatial_kernel")
        self.conv = nn.Conv2d(in_channels, 1, kernel, padding=kernel // 2)
        self.norm = ScoreNorm(score_norm)

    def scores(self, maps: torch.Tensor) -> torch.Tensor:
        """Unnormalised scores ``[B, T, h, w]`` of frame features ``[B, T, C, h, w]``."""
        b, t, _, h, w = maps.shape
        return self.conv(maps.flatten(0, 1)).reshape(b, t, h, w)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """Attention ``[B, T, h, w]`` in [0, 1]."""
        return torch.sigmoid(self.norm(self.scores(maps)))


class SpatioTemporalAttention(nn.Module):
    """Spatial scores, then a temporal 1-D convolution over the ``h * w`` positions, then a sigmoid.

    Args:
        in_channels: channels of the frame features it reads.
        map_size: ``(h, w)`` of those features; fixes the temporal convolution's channels.
        spatial_kernel: kernel of the spatial convolution (released code: 3).
        temporal_kernel: kernel of the temporal convolution (paper: 3); padding ``k // 2`` keeps
            the T outputs aligned with the T frames (the paper's "padding 2" cannot, see FIDELITY).
        score_norm: standardise the scores before the sigmoid (:class:`ScoreNorm`).
        temporal_init: ``"identity"`` (each position passes its own score through the centre tap)
            or ``"default"`` (PyTorch's random initialisation, as released).
    """

    def __init__(
        self,
        in_channels: int,
        map_size: Tuple[int, int],
        spatial_kernel: int = 3,
        temporal_kernel: int = 3,
        score_norm: bool = False,
        temporal_init: str = "default",
    ) -> None:
        super().__init__()
        temporal_kernel = require_odd(temporal_kernel, "temporal_kernel")
        if temporal_init not in TEMPORAL_INITS:
            raise ValueError(f"temporal_init must be one of {TEMPORAL_INITS}, got {temporal_init!r}")
        self.map_size = (int(map_size[0]), int(map_size[1]))
        positions = self.map_size[0] * self.map_size[1]
        self.spatial = SpatialAttention(in_channels, spatial_kernel)
        self.temporal = nn.Conv1d(positions, positions, temporal_kernel, padding=temporal_kernel // 2)
        if temporal_init == "identity":
            nn.init.dirac_(self.temporal.weight)
            nn.init.zeros_(self.temporal.bias)
        self.norm = ScoreNorm(score_norm)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """Attention ``[B, T, h, w]`` in [0, 1] for frame features ``[B, T, C, h, w]``."""
        b, t, _, h, w = maps.shape
        if (h, w) != self.map_size:
            raise ValueError(
                f"spatio-temporal attention was built for {self.map_size[0]}x{self.map_size[1]} feature maps, "
                f"got {h}x{w}: build the model with the input height/width it is fed "
                "(cfg.data.height / cfg.data.width, or the builder's height= and width=)"
            )
        scores = self.spatial.scores(maps).reshape(b, t, h * w)
        mixed = self.temporal(scores.transpose(1, 2)).transpose(1, 2)
        return torch.sigmoid(self.norm(mixed)).reshape(b, t, h, w)

"""Computation cost of a clip model: GFLOPs per clip and parameter count (for the paper's Fig. 8).

Counted with ``torch.utils.flop_counter``, which counts one multiply-add as 2 FLOPs and covers
matrix products and convolutions (not BatchNorm, activations or pooling). Papers often quote
multiply-adds as "FLOPs"; :attr:`ModelCost.gmacs` gives that figure.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class ModelCost:
    """Cost of one forward pass over one clip."""

    gflops: float
    params: int

    @property
    def gmacs(self) -> float:
        """Giga multiply-adds (half the counted FLOPs)."""
        return self.gflops / 2


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, height: int = 256, width: int = 128, seq_len: int = 4) -> ModelCost:
    """GFLOPs of ``model`` on one clip ``[1, seq_len, 3, height, width]`` in eval mode, and its parameters."""
    if min(height, width, seq_len) < 1:
        raise ValueError(f"height, width and seq_len must be positive, got {height}, {width}, {seq_len}")
    device = next(model.parameters()).device
    clip = torch.zeros(1, seq_len, 3, height, width, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(clip)
    finally:
        model.train(was_training)
    return ModelCost(gflops=counter.get_total_flops() / 1e9, params=count_parameters(model))

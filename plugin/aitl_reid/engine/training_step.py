"""The model and its loss as one module: what DistributedDataParallel wraps under torchrun.

DDP finds the parameters a step leaves without gradient by following the graph back from the
module's outputs. From the model alone it would start at every output, including attribute
logits that no loss reads when a configuration switches the attribute loss off, and then wait
forever for their gradients. From the loss it finds exactly the parameters the step trains.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

import torch
from torch import nn

from ..losses import UnifiedLoss
from ..models.outputs import ReIDOutput


def detached(output: ReIDOutput) -> ReIDOutput:
    """``output`` with every tensor cut from the graph (for diagnostics, which train nothing)."""
    def cut(value):
        if isinstance(value, torch.Tensor):
            return value.detach()
        if isinstance(value, dict):
            return {key: cut(item) for key, item in value.items()}
        return value

    return dataclasses.replace(output, **{f.name: cut(getattr(output, f.name)) for f in dataclasses.fields(output)})


class TrainingStep(nn.Module):
    """``forward(clips, pids, attrs)`` -> ``(total loss, detached terms, detached model output)``."""

    def __init__(self, model: nn.Module, criterion: UnifiedLoss) -> None:
        super().__init__()
        self.model = model
        self.criterion = criterion

    @property
    def leaves_parameters_unused(self) -> bool:
        """Whether a step leaves some parameter without gradient: the attribute streams' classifiers when the
        attribute loss is off. Only then must DDP look for such parameters (``find_unused_parameters``), an extra
        pass over the graph every step; ``tests/test_experiment_configs.py`` checks this against a backward pass."""
        return bool(getattr(self.model, "streams", None)) and not self.criterion.attribute_enabled

    def forward(self, clips: torch.Tensor, pids: torch.Tensor, attrs: torch.Tensor
                ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], ReIDOutput]:
        output: ReIDOutput = self.model(clips)
        total, terms = self.criterion(output, pids, attrs)
        return total, terms, detached(output)

"""Optimizer and learning-rate schedule from the config.

The optimizer is torchreid's builder; the schedule adds the linear warm-up of the released code
in front of torchreid's step / multi-step / cosine decay, counted in absolute epochs.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from yacs.config import CfgNode

from .. import _torchreid


def optimizer_kwargs(cfg: CfgNode) -> dict:
    """The keyword arguments of ``torchreid.optim.build_optimizer`` taken from ``cfg``."""
    return dict(
        optim=cfg.train.optim,
        lr=cfg.train.lr,
        weight_decay=cfg.train.weight_decay,
        momentum=cfg.sgd.momentum,
        sgd_dampening=cfg.sgd.dampening,
        sgd_nesterov=cfg.sgd.nesterov,
        rmsprop_alpha=cfg.rmsprop.alpha,
        adam_beta1=cfg.adam.beta1,
        adam_beta2=cfg.adam.beta2,
        staged_lr=cfg.train.staged_lr,
        new_layers=list(cfg.train.new_layers),
        base_lr_mult=cfg.train.base_lr_mult,
    )


def build_optimizer(cfg: CfgNode, model: torch.nn.Module) -> torch.optim.Optimizer:
    """torchreid's optimizer over the model's trainable parameters."""
    return _torchreid.optim.build_optimizer(model, **optimizer_kwargs(cfg))


def lr_factor_fn(cfg: CfgNode) -> Callable[[int], float]:
    """Epoch -> multiplier of the base lr: linear warm-up, then the configured decay."""
    warmup = int(cfg.train.warmup_epochs)
    start = float(cfg.train.warmup_factor)
    gamma = float(cfg.train.gamma)
    kind = cfg.train.lr_scheduler
    steps = list(cfg.train.stepsize)
    max_epoch = max(int(cfg.train.max_epoch), 1)
    if kind not in ("single_step", "multi_step", "cosine"):
        raise ValueError(f"train.lr_scheduler '{kind}' is not one of single_step, multi_step, cosine")
    if not steps and kind != "cosine":
        raise ValueError(f"train.stepsize must list at least one epoch for train.lr_scheduler '{kind}'")

    def decay(epoch: int) -> float:
        if kind == "single_step":
            return gamma ** (epoch // int(steps[0]))
        if kind == "multi_step":
            return gamma ** sum(epoch >= int(s) for s in steps)
        return 0.5 * (1.0 + math.cos(math.pi * epoch / max_epoch))

    def factor(epoch: int) -> float:
        warm = start + (1.0 - start) * epoch / warmup if epoch < warmup else 1.0
        return warm * decay(epoch)

    return factor


def build_scheduler(cfg: CfgNode, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-epoch scheduler (stepped by torchreid's ``Engine.update_lr`` after each epoch)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor_fn(cfg))

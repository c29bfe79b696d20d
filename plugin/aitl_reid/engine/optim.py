"""Optimizer and learning-rate schedule from the config.

The optimizer is torchreid's builder; the schedule is torchreid's step / multi-step / cosine decay
chained with torch's linear warm-up (the released code's), both counted in absolute epochs.
"""
from __future__ import annotations

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


def build_scheduler(cfg: CfgNode, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-epoch scheduler (stepped by torchreid's ``Engine.update_lr`` after each epoch).

    torchreid's step / multi-step / cosine decay, multiplied by torch's ``LinearLR`` warm-up from
    ``train.warmup_factor`` to 1 over ``train.warmup_epochs``; both count absolute epochs, so the
    lr of epoch ``e`` (0-based) is ``lr * warm(e) * decay(e)``. ``single_step`` decays every
    ``train.stepsize[0]`` epochs (torchreid would take the list's last entry).
    """
    kind = cfg.train.lr_scheduler
    steps = [int(s) for s in cfg.train.stepsize]
    if kind not in ("single_step", "multi_step", "cosine"):
        raise ValueError(f"train.lr_scheduler '{kind}' is not one of single_step, multi_step, cosine")
    if not steps and kind != "cosine":
        raise ValueError(f"train.stepsize must list at least one epoch for train.lr_scheduler '{kind}'")
    decay = _torchreid.optim.build_lr_scheduler(
        optimizer, lr_scheduler=kind, stepsize=steps[0] if kind == "single_step" else steps,
        gamma=float(cfg.train.gamma), max_epoch=max(int(cfg.train.max_epoch), 1),
    )
    warmup = int(cfg.train.warmup_epochs)
    if warmup <= 0:  # LinearLR with total_iters=0 would still scale epoch 0 by start_factor
        return decay
    warm = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=float(cfg.train.warmup_factor), total_iters=warmup)
    return torch.optim.lr_scheduler.ChainedScheduler([warm, decay], optimizer=optimizer)

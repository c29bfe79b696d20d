"""Config -> engine, and config -> the keyword arguments of torchreid's ``Engine.run``."""
from __future__ import annotations

import torch
from yacs.config import CfgNode

from ..losses import build_unified_loss
from .aitl_engine import AITLEngine


def build_engine(cfg: CfgNode, datamanager, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 scheduler=None) -> AITLEngine:
    """The AITL engine with the unified loss configured by ``cfg.loss``."""
    if cfg.loss.name != "aitl":
        raise ValueError(f"loss.name '{cfg.loss.name}' is not supported by this plugin; use 'aitl'")
    return AITLEngine(
        datamanager,
        model,
        optimizer,
        build_unified_loss(cfg, datamanager.attribute_schema),
        scheduler=scheduler,
        use_gpu=cfg.use_gpu,
        amp=cfg.train.amp,
        grad_clip=cfg.train.grad_clip,
        max_iters_per_epoch=cfg.train.max_iters_per_epoch,
        save_dir=cfg.data.save_dir,
        pooling_method=cfg.video.pooling_method,
        evaluate_attributes=cfg.test.attributes,
    )


def engine_run_kwargs(cfg: CfgNode) -> dict:
    """The arguments of ``Engine.run`` taken from ``cfg`` (as in torchreid's scripts/main.py)."""
    return dict(
        save_dir=cfg.data.save_dir,
        max_epoch=cfg.train.max_epoch,
        start_epoch=cfg.train.start_epoch,
        fixbase_epoch=cfg.train.fixbase_epoch,
        open_layers=list(cfg.train.open_layers),
        start_eval=cfg.test.start_eval,
        eval_freq=cfg.test.eval_freq,
        test_only=cfg.test.evaluate,
        print_freq=cfg.train.print_freq,
        dist_metric=cfg.test.dist_metric,
        normalize_feature=cfg.test.normalize_feature,
        visrank=cfg.test.visrank,
        visrank_topk=cfg.test.visrank_topk,
        ranks=list(cfg.test.ranks),
        rerank=cfg.test.rerank,
    )

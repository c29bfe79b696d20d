"""Config -> engine, and config -> the keyword arguments of torchreid's ``Engine.run``."""
from __future__ import annotations

import torch
from yacs.config import CfgNode

from ..losses import build_unified_loss, prior_logits
from .aitl_engine import AITLEngine


def init_attribute_bias(cfg: CfgNode, model: torch.nn.Module, datamanager) -> bool:
    """Start each attribute classifier's bias at the training label prior (``model.asta.attribute_prior_bias``).

    The prior is a constant the heads would otherwise spend thousands of Adam steps of size ~lr
    reaching (Lin et al.'s prior initialisation in RetinaNet); from it the training attribute loss
    starts at the prior loss, so anything below that is learned from the images. Returns whether
    any bias was set (models without attribute streams have none).
    """
    streams = getattr(model, "streams", None)
    if not cfg.model.asta.attribute_prior_bias or not streams:
        return False
    with torch.no_grad():
        for group, stream in streams.items():
            bias = prior_logits(datamanager.train_attrs, datamanager.attribute_schema, group, cfg.loss.attribute.type)
            stream.classifier.bias.copy_(bias)
    return True


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
        eval_backend=cfg.test.backend,
        checkpoint_freq=cfg.train.checkpoint_freq,
        keep_checkpoints=cfg.train.keep_checkpoints,
        evaluate_only=cfg.test.evaluate,
        evaluated_weights=cfg.model.load_weights,
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

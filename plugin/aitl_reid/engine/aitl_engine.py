"""The AITL engine: torchreid's ``Engine`` loop with the unified loss (Eq. 4) in its hooks.

torchreid's ``run`` / ``train`` / ``test`` drive training and evaluation; this subclass fills the
hooks: ``forward_backward`` (unified loss, mixed precision, gradient clipping, a guard against
non-finite losses), ``parse_data_for_train`` / ``parse_data_for_eval`` / ``extract_features``
(video clips ``[B, T, C, H, W]`` with attributes), and ``_evaluate`` (dense clips averaged per
tracklet, vectorised ranking, attribute recognition report). Device placement happens in
``_to_device`` only.
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.nn import functional as F

from .. import _torchreid
from ..losses import UnifiedLoss, prior_attribute_loss
from ..metrics import attribute_recognition_metrics, evaluate_rank, majority_classes
from ..schema import STREAM_GROUPS
from ..serialization import atomic_write
from ..data.transforms import ERASE_KEY
from ..models.outputs import ReIDOutput
from ..progress import ProgressLoader, progress
from .checkpoint import save_checkpoint
from .diagnostics import EpochMeans, batch_diagnostics
from .epoch_log import EpochLog

AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or infinite; training stops before the weights are touched."""


class IterationCap:
    """A data loader view yielding at most ``max_iters`` batches per epoch (for quick runs)."""

    def __init__(self, loader: torch.utils.data.DataLoader, max_iters: int) -> None:
        self.loader = loader
        self.max_iters = max_iters

    def __len__(self) -> int:
        return min(len(self.loader), self.max_iters)

    def __iter__(self) -> Iterator:
        for index, batch in enumerate(self.loader):
            if index >= self.max_iters:
                break
            yield batch


@dataclass
class TrackletFeatures:
    """Per-tracklet test features and labels of one split (query or gallery)."""

    features: torch.Tensor
    attr_logits: Dict[str, torch.Tensor]
    pids: np.ndarray
    camids: np.ndarray
    attrs: torch.Tensor


class AITLEngine(_torchreid.engine.Engine):
    """Trains a model of this plugin with the unified loss and evaluates it on dense clips.

    Args:
        datamanager: a ``VideoAttributeDataManager``.
        model: a model returning ``ReIDOutput`` in training mode.
        optimizer, scheduler: as for torchreid engines (the scheduler steps once per epoch).
        criterion: the unified loss (``build_unified_loss``).
        use_gpu: train on CUDA when available.
        amp: "off", "bf16" or "fp16" autocast (GPU only; ignored on CPU).
        grad_clip: max gradient norm, 0 disables.
        max_iters_per_epoch: cap on iterations per epoch, 0 = whole epoch.
        save_dir: where checkpoints and ``metrics.csv`` go.
        pooling_method: "avg" or "max" over a tracklet's clip features.
        evaluate_attributes: report attribute recognition at test time.
        eval_backend: test-time forward on a CPU: "exact" (the model, via ``extract_features``),
            "fast" or "bf16" (:mod:`aitl_reid.inference.fast`; rebuilt per split, as the weights change).

    ``run_config`` (YAML text, set by the trainer) is stored in every checkpoint, so that a
    checkpoint alone can be loaded for inference (:mod:`aitl_reid.inference`).
    """

    run_config: str = ""

    def __init__(
        self,
        datamanager,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        criterion: UnifiedLoss,
        scheduler=None,
        use_gpu: bool = True,
        amp: str = "off",
        grad_clip: float = 0.0,
        max_iters_per_epoch: int = 0,
        save_dir: str = "log",
        pooling_method: str = "avg",
        evaluate_attributes: bool = True,
        eval_backend: str = "exact",
    ) -> None:
        super().__init__(datamanager, use_gpu)
        if amp not in AMP_DTYPES:
            raise ValueError(f"train.amp must be one of {sorted(AMP_DTYPES)}, got '{amp}'")
        if pooling_method not in ("avg", "max"):
            raise ValueError(f"video.pooling_method must be 'avg' or 'max', got '{pooling_method}'")
        self.device = torch.device("cuda" if self.use_gpu else "cpu")
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.criterion = criterion.to(self.device)
        self.register_model("model", self.model, optimizer, scheduler)
        self.amp_dtype = AMP_DTYPES[amp] if self.device.type == "cuda" else None
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype is torch.float16)
        self.grad_clip = float(grad_clip)
        self.save_dir = save_dir
        self.pooling_method = pooling_method
        self.evaluate_attributes = evaluate_attributes
        if eval_backend not in ("exact", "fast", "bf16"):
            raise ValueError(f"test.backend must be 'exact', 'fast' or 'bf16', got '{eval_backend}'")
        self.eval_backend = eval_backend
        self.epoch_log = EpochLog(os.path.join(save_dir, "metrics.csv"))
        schema = datamanager.attribute_schema
        self.majority = majority_classes(datamanager.train_attrs, schema)
        groups = [g for g in STREAM_GROUPS if schema.total_classes(g)]
        self.epoch_means = EpochMeans(
            prior_attribute_loss(datamanager.train_attrs, schema, groups, criterion.attribute_form)
            if criterion.attribute_enabled else {}
        )
        if max_iters_per_epoch > 0:
            self.train_loader = IterationCap(self.train_loader, max_iters_per_epoch)
        self.train_loader = ProgressLoader(self.train_loader, lambda: f"epoch {self.epoch + 1}/{self.max_epoch}")

    # ------------------------------------------------------------------ device and precision
    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.device, non_blocking=True)

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    # ------------------------------------------------------------------ training hooks
    def _clips_on_device(self, data: dict, transform_name: str) -> torch.Tensor:
        """The batch's clips on the training device, normalised and erased there when they arrive as
        uint8 (this plugin's datasets; ``transform_name`` is the data manager's ``transform_tr`` or
        ``transform_te``, which hold the normalisation); float clips are already finished."""
        clips = self._to_device(data["img"])
        if clips.dtype != torch.uint8:
            return clips
        return getattr(self.datamanager, transform_name).finish(clips, data.get(ERASE_KEY))

    def parse_data_for_train(self, data: dict) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised, erased clips ``[B, T, C, H, W]``, identity labels and attribute labels, on the device."""
        clips = self._clips_on_device(data, "transform_tr")
        return clips, self._to_device(data["pid"]), self._to_device(data["attrs"])

    def forward_backward(self, data: dict) -> Dict[str, float]:
        imgs, pids, attrs = self.parse_data_for_train(data)
        with self._autocast():
            output: ReIDOutput = self.model(imgs)
            total, terms = self.criterion(output, pids, attrs)
        self._check_finite(total, terms)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if self.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()

        summary = {name: float(value) for name, value in terms.items()}
        summary["loss"] = float(total.detach())
        summary["acc"] = float((output.logits.argmax(1) == pids).float().mean()) * 100.0
        self.epoch_means.add(summary)
        self.epoch_means.add(batch_diagnostics(output, pids, attrs, self.datamanager.attribute_schema, self.criterion))
        return summary

    def _check_finite(self, total: torch.Tensor, terms: Dict[str, torch.Tensor]) -> None:
        for name, value in list(terms.items()) + [("loss", total)]:
            if not torch.isfinite(value).all():
                raise NonFiniteLossError(
                    f"loss term '{name}' is {float(value)} at epoch {self.epoch + 1}, iteration "
                    f"{getattr(self, 'batch_idx', 0) + 1}; training stopped before this step changed "
                    f"the weights, and the checkpoints in '{self.save_dir}' are intact. Lower train.lr, "
                    "set train.grad_clip, or check the data of this batch."
                )

    def train(self, print_freq: int = 10, fixbase_epoch: int = 0, open_layers=None) -> None:
        """One epoch of torchreid's loop, then the epoch's mean terms go to ``metrics.csv``."""
        self.epoch_means.reset()
        super().train(print_freq=print_freq, fixbase_epoch=fixbase_epoch, open_layers=open_layers)
        means = self.epoch_means.means()
        means["lr"] = self.get_current_lr()
        self.epoch_log.update(self.epoch + 1, means)
        if self.writer is not None:
            for name, value in means.items():
                self.writer.add_scalar(f"Epoch/{name}", value, self.epoch)
        print(f"epoch {self.epoch + 1}: " + "  ".join(f"{k} {v:.4f}" for k, v in sorted(means.items())))

    def save_model(self, epoch: int, rank1: float, save_dir: str, is_best: bool = False) -> None:
        """Atomic checkpoint with plain Python numbers only (loadable with ``weights_only=True``)."""
        for name in self.get_model_names():
            scheduler = self._scheds[name]
            path = save_checkpoint(
                {
                    "state_dict": self._models[name].state_dict(),
                    "epoch": int(epoch + 1),
                    "rank1": float(rank1),
                    "optimizer": self._optims[name].state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    **({"config": self.run_config} if self.run_config else {}),
                },
                os.path.join(save_dir, name),
                epoch + 1,
            )
            print(f"Checkpoint saved to {path}")

    # ------------------------------------------------------------------ evaluation hooks
    def parse_data_for_eval(self, data: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        """Normalised clips ``[N, T, C, H, W]`` on the device and, per clip, the index of its tracklet in the split."""
        return self._clips_on_device(data, "transform_te"), data["tracklet"]

    def extract_features(self, input: torch.Tensor) -> ReIDOutput:
        with self._autocast():
            return self.model(input, full_output=True)

    def extract_tracklet_features(self, loader) -> TrackletFeatures:
        """Run every dense clip of a split through the model and pool clip outputs per tracklet."""
        dataset = loader.dataset
        count = dataset.num_tracklets
        features: Optional[torch.Tensor] = None
        attr_logits: Dict[str, torch.Tensor] = {}
        clips = torch.zeros(count)
        forward = self._clip_forward()
        for data in progress(loader, f"features ({count} tracklets)", unit="batch"):
            imgs, owner = self.parse_data_for_eval(data)
            embedding, clip_attr_logits = forward(imgs)
            embedding = embedding.float().cpu()
            if features is None:
                features = self._empty_pool(count, embedding.shape[1])
            self._pool_into(features, owner, embedding)
            for stream, logits in clip_attr_logits.items():
                pooled = attr_logits.setdefault(stream, torch.zeros(count, logits.shape[1]))
                pooled.index_add_(0, owner, logits.float().cpu())
            clips.index_add_(0, owner, torch.ones(len(owner)))
        if features is None or bool((clips == 0).any()):
            raise RuntimeError(f"{type(dataset).__name__}: some tracklets produced no clip; check test.max_clips")
        if self.pooling_method == "avg":
            features /= clips.unsqueeze(1)
        attr_logits = {stream: pooled / clips.unsqueeze(1) for stream, pooled in attr_logits.items()}
        return TrackletFeatures(features, attr_logits, np.asarray(dataset.pids), np.asarray(dataset.camids), dataset.attrs)

    def _clip_forward(self):
        """Clips -> (test features, {stream: attribute logits}) by ``eval_backend``; on a GPU always the exact path."""
        if self.eval_backend == "exact" or self.device.type != "cpu":
            def exact(imgs: torch.Tensor):
                output = self.extract_features(imgs)
                return output.embedding, output.attr_logits
            return exact
        from ..inference.fast import FrozenForward  # the inference package imports the engine's checkpoints

        return FrozenForward(self.model, bf16=self.eval_backend == "bf16")

    def _empty_pool(self, count: int, dim: int) -> torch.Tensor:
        fill = 0.0 if self.pooling_method == "avg" else float("-inf")
        return torch.full((count, dim), fill)

    def _pool_into(self, pooled: torch.Tensor, owner: torch.Tensor, values: torch.Tensor) -> None:
        if self.pooling_method == "avg":
            pooled.index_add_(0, owner, values)
        else:
            pooled.scatter_reduce_(0, owner.unsqueeze(1).expand_as(values), values, reduce="amax")

    @torch.no_grad()
    def _evaluate(
        self,
        dataset_name: str = "",
        query_loader=None,
        gallery_loader=None,
        dist_metric: str = "euclidean",
        normalize_feature: bool = False,
        visrank: bool = False,
        visrank_topk: int = 10,
        save_dir: str = "",
        use_metric_cuhk03: bool = False,
        ranks: Sequence[int] = (1, 5, 10, 20),
        rerank: bool = False,
    ) -> Tuple[float, float]:
        start = time.time()
        query = self.extract_tracklet_features(query_loader)
        gallery = self.extract_tracklet_features(gallery_loader)
        elapsed = time.time() - start
        total = len(query.pids) + len(gallery.pids)
        print(f"Extracted {len(query.pids)} query and {len(gallery.pids)} gallery tracklet features "
              f"({query.features.shape[1]}-d) in {elapsed:.1f} s ({total / max(elapsed, 1e-9):.1f} tracklets/s)")

        qf, gf = query.features, gallery.features
        if normalize_feature:
            qf, gf = F.normalize(qf, dim=1), F.normalize(gf, dim=1)
        distmat = _torchreid.metrics.compute_distance_matrix(qf, gf, dist_metric)
        if rerank:
            print("Applying person re-ranking ...")
            distmat_qq = _torchreid.metrics.compute_distance_matrix(qf, qf, dist_metric)
            distmat_gg = _torchreid.metrics.compute_distance_matrix(gf, gf, dist_metric)
            distmat = torch.as_tensor(_torchreid.utils.re_ranking(distmat.numpy(), distmat_qq.numpy(), distmat_gg.numpy()))
        distmat = distmat.numpy()
        cmc, mAP = evaluate_rank(distmat, query.pids, gallery.pids, query.camids, gallery.camids)

        print(f"** Results ({dataset_name}) **")
        print(f"mAP: {mAP:.1%}")
        print("CMC curve")
        for r in ranks:
            if r <= len(cmc):
                print(f"Rank-{r:<3}: {cmc[r - 1]:.1%}")
        self._record_evaluation(dataset_name, {"mAP": float(mAP), "rank1": float(cmc[0])})
        if self.evaluate_attributes:
            self._report_attributes(dataset_name, query, gallery)
        if visrank:
            _torchreid.utils.visualize_ranked_results(
                distmat,
                self.datamanager.fetch_test_loaders(dataset_name),
                self.datamanager.data_type,
                width=self.datamanager.width,
                height=self.datamanager.height,
                save_dir=os.path.join(save_dir, "visrank_" + dataset_name),
                topk=visrank_topk,
            )
        return float(cmc[0]), float(mAP)

    def _record_evaluation(self, dataset_name: str, values: Dict[str, float]) -> None:
        """Attach test results to this epoch's ``metrics.csv`` row (names prefixed beyond the first target)."""
        epoch = self.epoch + 1
        if self.epoch_log.get(epoch) is None:
            return  # evaluation without training in this run: nothing to attach the result to
        first = dataset_name == self.datamanager.targets[0]
        prefix = "" if first else f"{dataset_name}_"
        self.epoch_log.update(epoch, {f"{prefix}{name}": value for name, value in values.items()})

    def _report_attributes(self, dataset_name: str, query: TrackletFeatures, gallery: TrackletFeatures) -> None:
        schema = self.datamanager.target_schemas[dataset_name]
        if not query.attr_logits or schema != self.datamanager.attribute_schema:
            return
        logits = {s: torch.cat([query.attr_logits[s], gallery.attr_logits[s]]) for s in query.attr_logits}
        attrs = torch.cat([query.attrs, gallery.attrs])
        report = attribute_recognition_metrics(logits, attrs, schema, self.majority)
        title = f"** Attribute recognition ({dataset_name}, query + gallery, epoch {self.epoch + 1}) **"
        print(title)
        print(report.format_table())
        with atomic_write(os.path.join(self.save_dir, f"attributes_{dataset_name}.txt")) as handle:
            handle.write(f"{title}\n{report.format_table()}\n")
        (acc, f1), (majority_acc, majority_f1) = report.mean(), report.majority_mean()
        self._record_evaluation(dataset_name, {"attr_acc": acc, "attr_f1": f1, "attr_acc_majority": majority_acc,
                                               "attr_f1_majority": majority_f1})
        if self.writer is not None:
            for name, value in report.as_dict().items():
                self.writer.add_scalar(f"Test/{dataset_name}/attr/{name}", value, self.epoch)

"""The AITL engine: torchreid's ``Engine`` loop with the unified loss (Eq. 4) in its hooks.

torchreid's ``run`` and ``test`` drive training and evaluation; this subclass fills the hooks:
``forward_backward`` (unified loss, mixed precision, gradient clipping, a guard against non-finite
losses), ``parse_data_for_train`` / ``parse_data_for_eval`` / ``extract_features`` (video clips
``[B, T, C, H, W]`` with attributes), and ``_evaluate``, which hands the work to
:mod:`aitl_reid.evaluation` and records the results: in the training run's ``metrics.csv`` row, or, when only
evaluating, in a file of their own. Device placement happens in ``_to_device`` only.

An epoch is torchreid's loop with the same progress lines, except that a training step waits for the
device once: loss terms, diagnostics and their epoch sums stay on the device, and one transfer per step
brings back whether every term is finite, together with the logged values on the iterations that print
a line (``train.print_freq``) and on the last one. Reading the flag before the optimizer step, rather than
skipping steps on the device and reading later, keeps the guarantee that a non-finite loss stops
training before any weight changes, whatever the optimizer (a masked step would still move Adam's
moments, momentum and weight decay).
"""
from __future__ import annotations

import contextlib
import datetime
import math
import os
import sys
import time
from typing import Dict, Iterator, Optional, Sequence, Tuple

import torch
from torch.utils.tensorboard import SummaryWriter

from .. import _torchreid, distributed, evaluation
from ..data.dataset import BAD_FRAMES_KEY
from ..data.transforms import ERASE_KEY
from ..evaluation import ClipForward, ClipOutputs, EvaluationFile, TargetResult, TrackletFeatures
from ..losses import UnifiedLoss, prior_attribute_loss
from ..metrics import majority_classes
from ..models.frozen import FrozenForward
from ..models.outputs import ReIDOutput
from ..progress import ProgressLoader
from ..run_folder import attribute_report_path, evaluation_path, load_checkpoint, metrics_path
from ..schema import STREAM_GROUPS
from ..serialization import atomic_write
from .checkpoint import RunCheckpoints, resume
from .diagnostics import EpochMeans, batch_diagnostics
from .epoch_log import EpochLog
from .rng_state import capture_rng_state, isolated_rng
from .step_writer import StepWriter
from .training_step import TrainingStep

AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
EVAL_BACKENDS = ("exact", "fast", "bf16")  # test.backend: the model itself, or aitl_reid.models.frozen's graphs
CHECKPOINT_SAVED = "Checkpoint saved to"  # log line after each checkpoint; a resumed run's log continues after it


def checkpoint_saved_line(path: str) -> str:
    """The log line after a checkpoint, its path resolved: a resumed run finds it however either run spelled the path."""
    return f"{CHECKPOINT_SAVED} {os.path.realpath(path)}"


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
            "fast" or "bf16" (:mod:`aitl_reid.models.frozen`; built once per evaluation, as the weights change).
        checkpoint_freq: epochs between checkpoints (evaluated epochs always get one, as in torchreid).
        keep_checkpoints: how many recent checkpoints of this run to keep, 0 = all (:class:`RunCheckpoints`:
            the best and the last stay, and a checkpoint of another run is never deleted).
        evaluate_only: an evaluate-only run (``test.evaluate``) of ``evaluated_weights``: its results go to a file
            of their own (``run_folder.evaluation_path``), never into the training run's records.

    Every checkpoint holds what the next epoch depends on (weights, optimizer, scheduler, gradient
    scaler, random generator states), and evaluation leaves the random generators as it found
    them, so a run resumed from any checkpoint repeats the uninterrupted run.

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
        checkpoint_freq: int = 1,
        keep_checkpoints: int = 0,
        evaluate_only: bool = False,
        evaluated_weights: str = "",
    ) -> None:
        super().__init__(datamanager, use_gpu)
        if amp not in AMP_DTYPES:
            raise ValueError(f"train.amp must be one of {sorted(AMP_DTYPES)}, got '{amp}'")
        if pooling_method not in ("avg", "max"):
            raise ValueError(f"video.pooling_method must be 'avg' or 'max', got '{pooling_method}'")
        self.device = distributed.device() if self.use_gpu else torch.device("cpu")
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.criterion = criterion.to(self.device)
        self.training_step = self._wrap_for_processes(TrainingStep(self.model, self.criterion))
        self.register_model("model", self.model, optimizer, scheduler)
        # parameters the model freezes by design (BNNeck's bias): torchreid's open_all_layers would unfreeze them
        self._frozen = [p for p in self.model.parameters() if not p.requires_grad]
        self.amp_dtype = AMP_DTYPES[amp] if self.device.type == "cuda" else None
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype is torch.float16)
        self.grad_clip = float(grad_clip)
        self.save_dir = save_dir
        self.pooling_method = pooling_method
        self.evaluate_attributes = evaluate_attributes
        if eval_backend not in EVAL_BACKENDS:
            raise ValueError(f"test.backend must be one of {EVAL_BACKENDS}, got '{eval_backend}'")
        self.eval_backend = eval_backend
        self._eval_forward: Optional[ClipForward] = None  # the clip forward of the evaluation under way
        self.checkpoints = RunCheckpoints(save_dir, checkpoint_freq, keep_checkpoints)
        self._evaluated_epoch = lambda epoch: False  # set by run() from its evaluation schedule
        self.global_step = 0  # optimizer steps taken since the run began (tensorboard's step axis)
        self.bad_frames: list = []  # unreadable files met this epoch (data.on_bad_frame skip)
        self.is_main = distributed.is_main_process()  # the one process writing logs, metrics and checkpoints
        self.evaluation_file = EvaluationFile(evaluation_path(save_dir, evaluated_weights), evaluated_weights,
                                              self.is_main) if evaluate_only else None
        self.epoch_log = EpochLog(metrics_path(save_dir), writable=self.is_main and self.evaluation_file is None)
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
    def _wrap_for_processes(self, step: TrainingStep) -> torch.nn.Module:
        """Under torchrun, training steps run through ``DistributedDataParallel`` around the model and its loss;
        evaluation and checkpoints use the model itself (so a checkpoint loads in one process, and sharded
        evaluation, where ranks run different numbers of batches, has no collective to wait on)."""
        if not distributed.is_distributed():
            return step
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        # a configuration may leave parameters without gradient (a detached stream, a disabled branch); DDP then
        # has to look for them every step. (static_graph=True, which would look once, gave wrong gradients together
        # with the collectives inside SyncBatchNorm's backward in our gloo test.)
        return torch.nn.parallel.DistributedDataParallel(step, device_ids=device_ids, find_unused_parameters=True)

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

    def forward_backward(self, data: dict, read_values: bool = True) -> Dict[str, float]:
        """One optimisation step, with one read from the device (summed over processes under torchrun, so that all
        stop together): after the backward pass and before the optimizer step, whether every loss term is finite
        and, when ``read_values``, the logged values with their epoch sums. Returns this step's logged values (the
        global batch's) when ``read_values``, else nothing."""
        self.bad_frames.extend(path for paths in data.get(BAD_FRAMES_KEY, ()) for path in paths.splitlines())
        imgs, pids, attrs = self.parse_data_for_train(data)
        with self._autocast():
            total, terms, output = self.training_step(imgs, pids, attrs)
        checked = {**terms, "loss": total.detach()}
        not_finite = ~torch.isfinite(torch.stack([value.float() for value in checked.values()])).all()
        shown = {**checked, "acc": (output.logits.argmax(1) == pids).float().mean() * 100.0}
        schema = self.datamanager.attribute_schema
        self.epoch_means.add({**shown, **batch_diagnostics(output, pids, attrs, schema, self.criterion)})
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if self.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        read = [not_finite.double().reshape(1)] + ([self.epoch_means.pending()] if read_values else [])
        numbers = distributed.summed_to_host(torch.cat(read))
        if numbers[0]:
            self._stop(checked)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.global_step += 1
        if not read_values:
            return {}
        self.epoch_means.take(numbers[1:])
        latest = self.epoch_means.latest()
        return {name: latest[name] for name in shown}

    def _stop(self, checked: Dict[str, torch.Tensor]) -> None:
        """Raise :class:`NonFiniteLossError` naming this process's first non-finite term (every process stops at the
        same step: the flag was summed over processes)."""
        bad = [name for name, value in checked.items() if not bool(torch.isfinite(value).all())]
        what = f"loss term '{bad[0]}' is {float(checked[bad[0]])}" if bad else "a loss term of another process is not finite"
        raise NonFiniteLossError(
            f"{what} at epoch {self.epoch + 1}, iteration {getattr(self, 'batch_idx', 0) + 1}; training stopped "
            f"before this step changed the weights, and the checkpoints in '{self.save_dir}' are intact. Lower "
            "train.lr, set train.grad_clip, or check the data of this batch."
        )

    def run(self, save_dir: str = "log", max_epoch: int = 0, start_epoch: int = 0, start_eval: int = 0,
            eval_freq: int = -1, test_only: bool = False, **kwargs) -> None:
        """torchreid's loop; the logs of epochs after ``start_epoch`` (left by a killed run) are cut first, so a
        resumed run leaves no duplicated or half row. A run with no epoch left to train is refused: torchreid would
        still run its final test and save the untrained state as the checkpoint of epoch 1."""
        self._evaluated_epoch = lambda epoch: epoch == max_epoch or (
            epoch >= start_eval and eval_freq > 0 and epoch % eval_freq == 0)
        if not test_only and start_epoch >= max_epoch:
            raise ValueError(f"nothing to train: the run starts at epoch {start_epoch + 1} and train.max_epoch is "
                             f"{max_epoch}")
        if not test_only:
            self.epoch_log.truncate_after(start_epoch)
            if self.writer is None:
                # tensorboard's reader drops what an earlier run in this folder wrote after the resumed step
                events = SummaryWriter(log_dir=save_dir, purge_step=self.global_step + 1) if self.is_main else None
                self.writer = StepWriter(events, lambda: self.global_step)
        super().run(save_dir=save_dir, max_epoch=max_epoch, start_epoch=start_epoch, start_eval=start_eval,
                    eval_freq=eval_freq, test_only=test_only, **kwargs)

    def resume(self, source: str, checkpoint: Optional[dict] = None) -> int:
        """Continue from a checkpoint (path ``source``, content ``checkpoint`` if already read); returns its epoch."""
        checkpoint = load_checkpoint(source) if checkpoint is None else checkpoint
        epoch = resume(source, self.model, self.optimizer, self.scheduler, checkpoint)
        if checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        self.global_step = int(checkpoint.get("global_step", 0))
        self.checkpoints.continue_from(source, epoch)
        return epoch

    def train(self, print_freq: int = 10, fixbase_epoch: int = 0, open_layers=None) -> None:
        """One epoch (see the module docstring), then the epoch's mean terms go to ``metrics.csv`` and, when due and no
        evaluation follows (``run`` saves after evaluating), a checkpoint is written."""
        sampler = getattr(self.datamanager.train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.epoch)
        self.epoch_means.reset()
        self.bad_frames = []
        self.set_model_mode("train")
        self.two_stepped_transfer_learning(self.epoch, fixbase_epoch, open_layers)
        self._train_iterations(print_freq)
        self.update_lr()
        if not self.epoch_means.up_to_date:  # the loader gave fewer batches than its length said
            self.epoch_means.take(distributed.summed_to_host(self.epoch_means.pending()))
        means = self.epoch_means.means()
        means["lr"] = self.get_current_lr()
        skipped = round(distributed.mean_over_processes({"n": len(self.bad_frames)})["n"] * distributed.world_size())
        if skipped:
            means["skipped_clips"] = skipped
            shown = ", ".join(sorted(set(self.bad_frames))[:5])
            print(f"data.on_bad_frame skip: {skipped} clip(s) of epoch {self.epoch + 1} met an unreadable frame and "
                  f"were replaced by another clip of their tracklet; files: {shown}")
        self.epoch_log.update(self.epoch + 1, means)
        if self.writer is not None:
            for name, value in means.items():
                self.writer.add_scalar(f"Epoch/{name}", value)
        print(f"epoch {self.epoch + 1}: " + "  ".join(f"{k} {v:.4f}" for k, v in sorted(means.items())))
        if self.checkpoints.due(self.epoch + 1) and not self._evaluated_epoch(self.epoch + 1):
            self.save_model(self.epoch, math.nan, self.save_dir)

    def _train_iterations(self, print_freq: int) -> None:
        """torchreid's iteration loop; the logged values are read only with the steps that print a line and the last."""
        batch_time, data_time = _torchreid.utils.AverageMeter(), _torchreid.utils.AverageMeter()
        self.num_batches = len(self.train_loader)
        end = time.time()
        for self.batch_idx, data in enumerate(self.train_loader):
            data_time.update(time.time() - end)
            printed = (self.batch_idx + 1) % print_freq == 0
            shown = self.forward_backward(data, read_values=printed or self.batch_idx + 1 == self.num_batches)
            batch_time.update(time.time() - end)
            if printed:
                self._print_progress(shown, batch_time, data_time)
            end = time.time()

    def _print_progress(self, shown: Dict[str, float], batch_time, data_time) -> None:
        """torchreid's progress line (each term: this step's value, then the epoch's mean so far) and its tensorboard
        scalars, on the optimizer-step axis."""
        running = self.epoch_means.running()
        remaining = self.num_batches - (self.batch_idx + 1) + (self.max_epoch - (self.epoch + 1)) * self.num_batches
        eta = datetime.timedelta(seconds=int(batch_time.avg * remaining))
        terms = "\t".join(f"{name} {value:.4f} ({running[name]:.4f})" for name, value in shown.items())
        print(f"epoch: [{self.epoch + 1}/{self.max_epoch}][{self.batch_idx + 1}/{self.num_batches}]\t"
              f"time {batch_time.val:.3f} ({batch_time.avg:.3f})\tdata {data_time.val:.3f} ({data_time.avg:.3f})\t"
              f"eta {eta}\t{terms}\tlr {self.get_current_lr():.6f}")
        if self.writer is not None:
            scalars = {"time": batch_time.avg, "data": data_time.avg, **{name: running[name] for name in shown},
                       "lr": self.get_current_lr()}
            for name, value in scalars.items():
                self.writer.add_scalar(f"Train/{name}", value)

    def two_stepped_transfer_learning(self, epoch: int, fixbase_epoch: int, open_layers, model=None) -> None:
        """torchreid's fixbase schedule, except that parameters the model froze itself stay frozen: torchreid opens
        every layer at every epoch after the fixbase ones, which made BNNeck's bias trainable again (and, under
        torchrun, trained apart on each process, since DDP does not reduce a parameter frozen when it was wrapped)."""
        super().two_stepped_transfer_learning(epoch, fixbase_epoch, open_layers, model)
        for parameter in self._frozen:
            parameter.requires_grad_(False)

    def test(self, *args, **kwargs) -> float:
        """torchreid's evaluation of every target with one clip forward (a fast graph is traced once, from the
        current weights), drawing no random number the training will see. Under torchrun every process first takes
        rank 0's weights and buffers, the checkpoint's, so the sharded evaluation is that of the saved model (without
        ``train.sync_bn``, each process's batch-norm statistics follow its own batches)."""
        distributed.broadcast_state(self.model)
        with isolated_rng():
            self._eval_forward = self._clip_forward()
            try:
                return super().test(*args, **kwargs)
            finally:
                self._eval_forward = None

    def save_model(self, epoch: int, rank1: float, save_dir: str, is_best: bool = False) -> None:
        """Atomic checkpoint of the state the next epoch depends on, plain numbers and tensors only (loadable with
        ``weights_only=True``), kept or pruned by :class:`RunCheckpoints` in the engine's ``save_dir`` (torchreid
        passes the same folder as ``save_dir``). Rank 0 only."""
        if not self.is_main:
            return
        path = self.checkpoints.save(
            {
                "state_dict": self.model.state_dict(),
                "epoch": int(epoch + 1),
                "rank1": float(rank1),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "scaler": self.scaler.state_dict(),
                "rng": capture_rng_state(),
                "num_threads": torch.get_num_threads(),
                "global_step": self.global_step,
                **({"config": self.run_config} if self.run_config else {}),
            },
            epoch + 1,
            self.epoch_log.rows,
        )
        print(checkpoint_saved_line(path))
        sys.stdout.flush()  # the line marks where a resumed run's log continues

    # ------------------------------------------------------------------ evaluation hooks
    def parse_data_for_eval(self, data: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        """Normalised clips ``[N, T, C, H, W]`` on the device and, per clip, the index of its tracklet in the split."""
        return self._clips_on_device(data, "transform_te"), data["tracklet"]

    def extract_features(self, input: torch.Tensor) -> ReIDOutput:
        with self._autocast():
            return self.model(input, full_output=True)

    def extract_tracklet_features(self, loader) -> TrackletFeatures:
        """Run every dense clip of a split through the model and pool clip outputs per tracklet."""
        forward = self._eval_forward or self._clip_forward()
        return evaluation.extract_tracklet_features(loader, forward, self.parse_data_for_eval, self.pooling_method)

    def _exact_forward(self, imgs: torch.Tensor) -> ClipOutputs:
        output = self.extract_features(imgs)
        return output.embedding, output.attr_logits

    def _clip_forward(self) -> ClipForward:
        """The test-time forward of ``eval_backend``: the model itself, or on a CPU a frozen graph traced from the
        current weights (so built once per evaluation, shared by its splits and targets). On a GPU always exact."""
        if self.eval_backend == "exact" or self.device.type != "cpu":
            return self._exact_forward
        return FrozenForward(self.model, bf16=self.eval_backend == "bf16")

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
        query, gallery = evaluation.timed_splits(query_loader, gallery_loader, self.extract_tracklet_features)
        result = evaluation.evaluate_target(dataset_name, query, gallery, dist_metric, normalize_feature, rerank, ranks)
        schema = self.datamanager.target_schemas[dataset_name]
        if self.evaluate_attributes and query.attr_logits and schema == self.datamanager.attribute_schema:
            evaluated = os.path.basename(self.evaluation_file.weights) if self.evaluation_file else f"epoch {self.epoch + 1}"
            title = f"** Attribute recognition ({dataset_name}, query + gallery, {evaluated}) **"
            evaluation.score_attributes(result, title, query, gallery, schema, self.majority)
        self._record(dataset_name, result)
        if visrank and self.is_main:  # under torchrun, rank 0 draws the ranked lists
            _torchreid.utils.visualize_ranked_results(
                result.distmat,
                self.datamanager.fetch_test_loaders(dataset_name),
                self.datamanager.data_type,
                width=self.datamanager.width,
                height=self.datamanager.height,
                save_dir=os.path.join(save_dir, "visrank_" + dataset_name),
                topk=visrank_topk,
            )
        return result.values["rank1"], result.values["mAP"]

    def _record(self, dataset_name: str, result: TargetResult) -> None:
        """An evaluate-only run's results go to its own file; a training run's to this epoch's ``metrics.csv`` row
        (names prefixed beyond the first target), ``attributes_<dataset>.txt`` and tensorboard."""
        if self.evaluation_file is not None:
            self.evaluation_file.add(dataset_name, result)
            return
        prefix = "" if dataset_name == self.datamanager.targets[0] else f"{dataset_name}_"
        self.epoch_log.update(self.epoch + 1, {f"{prefix}{name}": value for name, value in result.values.items()})
        if result.attributes is None:
            return
        if self.is_main:
            with atomic_write(attribute_report_path(self.save_dir, dataset_name)) as handle:
                handle.write(result.attribute_table)
        if self.writer is not None:
            for name, value in result.attributes.as_dict().items():
                self.writer.add_scalar(f"Test/{dataset_name}/attr/{name}", value)

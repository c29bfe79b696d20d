"""Tracklets -> Re-ID features and attribute predictions, with the dense clips of evaluation.

Every consecutive T-frame clip of a tracklet (up to ``test.max_clips``, the evaluation's
:class:`~aitl_reid.data.clip_view.DenseClipView`) goes through the model in batches of clips taken
across tracklets; clip outputs are pooled per tracklet by :class:`~aitl_reid.evaluation.TrackletPool`
(features by ``video.pooling_method``, attribute logits averaged), the pooling of the engine's
evaluation. Memory holds one batch of clips plus one pooled row per tracklet, whatever the number
of tracklets.

The model is reached through a *clip forward*: clips ``[B, T, C, H, W]`` -> ``(features [B, D],
{stream: attribute logits [B, K]})``. :class:`TorchForward` is the exact PyTorch path (the
reference); :mod:`.fast` and :mod:`.onnx_backend` give faster ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from tqdm import tqdm

from ..data.clip_view import DenseClipView
from ..data.image_io import FrameReadError, frame_error_message
from ..data.transforms import ClipTransform
from ..evaluation import ClipForward, ClipOutputs, TrackletPool
from ..progress import progress_enabled
from ..run_folder import TrainedModel
from ..schema import STREAM_GROUPS, AttributeSchema
from .inputs import InputError, Tracklet


class TorchForward:
    """The eval-mode PyTorch model as it is (the reference every faster path is checked against)."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.model, self.device = model.eval(), torch.device(device)

    def __call__(self, clips: torch.Tensor) -> ClipOutputs:
        with torch.inference_mode():
            out = self.model(clips.to(self.device, non_blocking=True), full_output=True)
        return out.embedding, out.attr_logits

    def __str__(self) -> str:
        return "backend exact (PyTorch, the model as trained)"


@dataclass
class AttributePredictions:
    """Predicted class and its probability per attribute, columns in schema order."""

    names: List[str]
    classes: torch.Tensor  # [N, A] long
    probabilities: torch.Tensor  # [N, A] float


def predict_attributes(attr_logits: Dict[str, torch.Tensor], schema: AttributeSchema, form: str) -> AttributePredictions:
    """Per-attribute class and probability from each stream's (pooled) logits.

    The reading of a block of logits is :meth:`AttributeSchema.predict` (argmax over the
    attribute's block; probability by the head's loss form), the one function training metrics use.
    """
    columns: Dict[int, Tuple[torch.Tensor, torch.Tensor]] = {}
    rows = next(iter(attr_logits.values())).shape[0] if attr_logits else 0
    for group in STREAM_GROUPS:
        if group not in attr_logits:
            continue
        classes, probs = schema.predict(attr_logits[group], group, form)
        for j, col in enumerate(schema.indices(group)):
            columns[col] = (classes[:, j], probs[:, j])
    order = sorted(columns)
    if not order:
        return AttributePredictions([], torch.zeros(rows, 0, dtype=torch.long), torch.zeros(rows, 0))
    return AttributePredictions(
        [schema.names[c] for c in order],
        torch.stack([columns[c][0] for c in order], 1),
        torch.stack([columns[c][1] for c in order], 1),
    )


def class_probabilities(attr_logits: Dict[str, torch.Tensor], schema: AttributeSchema, form: str) -> Dict[str, torch.Tensor]:
    """Every class's probability per attribute (``{schema name: [N, K]}``, schema order), read as
    :meth:`AttributeSchema.predict` reads the winning class: softmax over the attribute's block, or
    with ``form`` ``"bce"`` the sigmoid of each unit. What attribute search ranks by."""
    columns: Dict[int, torch.Tensor] = {}
    for group in STREAM_GROUPS:
        for col, block in schema.blocks(group) if group in attr_logits else ():
            part = attr_logits[group][:, block].float()
            columns[col] = part.softmax(1) if form == "softmax" else part.sigmoid()
    return {schema.names[c]: columns[c] for c in sorted(columns)}


@dataclass
class EncodedTracklets:
    """Pooled outputs of a list of tracklets, row ``i`` for ``tracklets[i]``."""

    tracklets: List[Tracklet]
    features: torch.Tensor  # [N, D] float32, on the CPU
    attr_logits: Dict[str, torch.Tensor] = field(default_factory=dict)  # per stream [N, K]

    @property
    def names(self) -> List[str]:
        return [t.name for t in self.tracklets]


class TrackletEncoder:
    """Turns tracklets into pooled features and attribute logits with a trained model.

    Args:
        trained: from :func:`~aitl_reid.inference.load_trained`.
        forward: the clip forward to use (default: the exact :class:`TorchForward`).
        batch_size: clips per forward pass, taken across tracklets.
        workers: frame-decoding worker processes (0 = decode in this process).
        progress: show a progress bar; ``None``: as :func:`aitl_reid.progress.progress_enabled` says
            (only on a terminal).
    """

    def __init__(self, trained: TrainedModel, forward: Optional[ClipForward] = None, batch_size: int = 16,
                 workers: int = 2, progress: Optional[bool] = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        cfg = trained.cfg
        self.trained = trained
        self.forward = forward or TorchForward(trained.model, trained.device)
        self.batch_size, self.workers, self.progress = int(batch_size), int(workers), progress
        self.transform = ClipTransform(cfg.data.height, cfg.data.width, (), cfg.data.norm_mean, cfg.data.norm_std)
        self.seq_len, self.max_clips = int(cfg.video.seq_len), int(cfg.test.max_clips)
        self.pooling = str(cfg.video.pooling_method)

    def clip_view(self, tracklets: Sequence[Tracklet]) -> DenseClipView:
        """The dense clips of ``tracklets`` exactly as evaluation builds them."""
        if not tracklets:
            raise InputError("no tracklets to encode")
        return DenseClipView([t.as_dataset_entry() for t in tracklets], self.transform, self.seq_len, self.max_clips)

    def encode(self, tracklets: Sequence[Tracklet], desc: str = "encoding") -> EncodedTracklets:
        view = self.clip_view(tracklets)
        device = self.trained.device
        loader = torch.utils.data.DataLoader(view, batch_size=self.batch_size, shuffle=False, num_workers=self.workers,
                                             pin_memory=device.type == "cuda")
        pool = TrackletPool(view.num_tracklets, self.pooling)
        show = progress_enabled() if self.progress is None else self.progress
        with tqdm(total=len(view), desc=desc, unit="clip", disable=not show, leave=False) as bar:
            for batch in _batches(loader):
                clips = self.transform.finish(batch["img"].to(device, non_blocking=True))  # uint8 -> normalised, on the device
                features, attr_logits = self.forward(clips)
                pool.add(batch["tracklet"], features, attr_logits)
                bar.update(len(batch["tracklet"]))
        features, attr_logits = pool.result()
        return EncodedTracklets(list(tracklets), features, attr_logits)


def _batches(loader: Iterable) -> Iterable:
    """The loader's batches; a frame that cannot be read becomes an :class:`InputError` naming the file."""
    try:
        yield from loader
    except FrameReadError as err:
        raise InputError(frame_error_message(err)) from None

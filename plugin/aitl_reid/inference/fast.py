"""Clip forwards for CPU and GPU inference by name (``backend``), each checked against the exact PyTorch path.

* ``fast``: on a CPU, :class:`~aitl_reid.models.frozen.FrozenForward`, the model traced, frozen and
  optimised by TorchScript (float32: features equal the exact path's within float rounding).
* ``bf16``: on a CPU the same with a channels_last copy under bfloat16 autocast (features within
  ``BF16_RELATIVE_TOLERANCE`` of the exact path's); on a GPU plain bfloat16 autocast (:class:`Bf16Forward`).
* ``exact`` (:class:`~.encoder.TorchForward`): the model as trained, the reference.

On a CPU, batches of about 16 clips run faster per frame than 64 (the activations stay in cache;
``BENCHMARKS.md``). On a GPU, ``fast`` is the exact path (the batched forward already keeps the device busy).
"""
from __future__ import annotations

import torch

from .encoder import ClipForward, ClipOutputs, TorchForward
from ..models.frozen import FrozenForward
from ..run_folder import TrainedModel

BACKENDS = ("exact", "fast", "bf16")


class Bf16Forward:
    """bfloat16 autocast on a GPU (on a CPU, :class:`FrozenForward` with ``bf16`` is faster)."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.model, self.device = model.eval(), torch.device(device)

    def __call__(self, clips: torch.Tensor) -> ClipOutputs:
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16):
            out = self.model(clips.to(self.device), full_output=True)
        return out.embedding.float(), {s: v.float() for s, v in out.attr_logits.items()}

    def __str__(self) -> str:
        return "backend bf16 (bfloat16 autocast)"


def build_forward(trained: TrainedModel, onnx: str = "", backend: str = "fast", threads: int = 0) -> ClipForward:
    """The clip forward for ``trained``: an ONNX graph under ONNX Runtime if ``onnx`` is given, else ``backend``."""
    if onnx:
        from .onnx_backend import OnnxForward

        return OnnxForward(onnx, threads)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got '{backend}'")
    on_cpu = trained.device.type == "cpu"
    if backend == "bf16":
        return FrozenForward(trained.model, bf16=True) if on_cpu else Bf16Forward(trained.model, trained.device)
    if backend == "fast" and on_cpu:
        return FrozenForward(trained.model)
    return TorchForward(trained.model, trained.device)

"""Faster clip forwards for CPU inference, each checked against the exact PyTorch path.

* ``fast`` (:class:`FrozenForward`): the model traced, frozen and optimised for inference by
  TorchScript: batch norm folded into the convolutions, oneDNN convolution kernels; float32, so
  features equal the exact path's within float rounding (``tests/test_inference_fast.py``).
* ``bf16`` (:class:`FrozenForward` with ``bf16=True``): a channels_last copy of the model traced,
  frozen and optimised the same way under bfloat16 autocast; on CPUs with bfloat16 instructions (AVX512-BF16, AMX) the
  fastest, at a stated cost in precision: features within 2e-2 of the exact path's, relative to
  their largest value (bfloat16 keeps 8 bits of mantissa).
* ``exact`` (:class:`~.encoder.TorchForward`): the model as trained, the reference.

Graphs are traced per batch shape on first use (a loader gives at most two: full batches and the
last one). On a CPU, batches of about 16 clips run faster per frame than 64 (the activations stay
in cache; ``BENCHMARKS.md``). On a GPU, ``fast`` is the exact path (the batched forward already
keeps the device busy) and ``bf16`` is plain bfloat16 autocast.
"""
from __future__ import annotations

import contextlib
import copy
import warnings
from typing import Dict, List, Optional, Tuple

import torch

from .encoder import ClipForward, ClipOutputs, FlatOutputs, TorchForward, output_streams
from ..run_folder import TrainedModel

BACKENDS = ("exact", "fast", "bf16")
BF16_RELATIVE_TOLERANCE = 2e-2
MAX_GRAPHS = 4  # traced batch shapes kept (a loader needs two)


class FrozenForward:
    """Traced, frozen, inference-optimised TorchScript graphs of the model on the CPU (batch norm
    folded): float32, or with ``bf16`` a channels_last copy under bfloat16 autocast."""

    def __init__(self, model: torch.nn.Module, bf16: bool = False) -> None:
        self.bf16 = bf16
        if bf16:  # a copy: channels_last would change the layout (and speed) of the caller's model too
            model = copy.deepcopy(model).to(memory_format=torch.channels_last).requires_grad_(False)
        self.model = model.eval()
        self.streams: Optional[List[str]] = None
        self.graphs: Dict[Tuple[int, ...], torch.jit.ScriptModule] = {}

    def _precision(self):
        return torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def _graph(self, clips: torch.Tensor) -> torch.jit.ScriptModule:
        key = tuple(clips.shape)
        if key not in self.graphs:
            if self.streams is None:
                self.streams = output_streams(self.model, key[1:], clips.device)
            if len(self.graphs) >= MAX_GRAPHS:
                self.graphs.pop(next(iter(self.graphs)))
            with torch.no_grad(), self._precision(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tracer's notes on Python-side shape checks
                traced = torch.jit.trace(FlatOutputs(self.model, self.streams).eval(), clips)
                self.graphs[key] = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        return self.graphs[key]

    def __call__(self, clips: torch.Tensor) -> ClipOutputs:
        clips = clips.float().cpu()
        with torch.no_grad(), self._precision():
            outputs = [o.float() for o in self._graph(clips)(clips)]
        assert self.streams is not None
        return outputs[0], dict(zip(self.streams, outputs[1:]))

    def __str__(self) -> str:
        if self.bf16:
            return "backend bf16 (TorchScript frozen, channels_last, bfloat16 autocast)"
        return "backend fast (TorchScript frozen, batch norm folded, float32)"


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

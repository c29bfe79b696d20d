"""The model traced, frozen and optimised for CPU inference: the faster clip forward that evaluation
(the engine's ``test.backend fast|bf16``) and inference (:mod:`aitl_reid.inference.fast`) share.

* float32 (:class:`FrozenForward`): TorchScript's trace, frozen and optimised for inference: batch norm
  folded into the convolutions, oneDNN convolution kernels; features equal the exact path's within
  float rounding (``tests/test_inference_fast.py``).
* ``bf16=True``: a channels_last copy of the model traced, frozen and optimised the same way under
  bfloat16 autocast; on CPUs with bfloat16 instructions (AVX512-BF16, AMX) the fastest, at a stated
  cost in precision: features within :data:`BF16_RELATIVE_TOLERANCE` of the exact path's, relative to
  their largest value (bfloat16 keeps 8 bits of mantissa).

Graphs are traced per batch shape on first use (a loader gives at most two: full batches and the last one;\naitl-reid-track's embedder pads its batches to five shapes).
It sits below the engine and inference so that neither imports the other (``aitl_reid.layers``).
"""
from __future__ import annotations

import contextlib
import copy
import warnings
from typing import Dict, List, Optional, Tuple

import torch

from ..evaluation import ClipOutputs

BF16_RELATIVE_TOLERANCE = 2e-2
MAX_GRAPHS = 8  # traced batch shapes kept (a loader needs two; aitl-reid-track's embedder five more)


class FlatOutputs(torch.nn.Module):
    """The model's eval outputs as a tuple of tensors (what a traced graph returns)."""

    def __init__(self, model: torch.nn.Module, streams: List[str]) -> None:
        super().__init__()
        self.model, self.streams = model, list(streams)

    def forward(self, clips: torch.Tensor):
        out = self.model(clips, full_output=True)
        return (out.embedding, *(out.attr_logits[s] for s in self.streams))


def output_streams(model: torch.nn.Module, clip_shape: Tuple[int, ...], device: torch.device) -> List[str]:
    """The attribute streams the model outputs (one eager pass over one zero clip)."""
    with torch.inference_mode():
        return list(model(torch.zeros(1, *clip_shape, device=device), full_output=True).attr_logits)


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
                # no check_trace: it traces and runs the model again (seconds on a CPU, on every evaluation) to catch
                # graphs that follow the input's values; these models' follow shapes only, and the graph's outputs
                # against the model's, for every batch shape, are what tests/test_inference_fast.py checks
                traced = torch.jit.trace(FlatOutputs(self.model, self.streams).eval(), clips, check_trace=False)
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

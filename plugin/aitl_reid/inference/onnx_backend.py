"""ONNX export of the eval-mode model and a clip forward running it under ONNX Runtime.

The exported graph takes normalised clips ``clips [B, T, 3, H, W]`` (B dynamic) and returns the
test feature ``feature [B, D]`` and, unless exported without them, each attribute stream's logits
``attr_logits_<stream> [B, K]``. Pooling per tracklet and reading classes and probabilities from
the logits stay outside the graph, in the same code as the PyTorch path, so both give the same
predictions for the same clip outputs.

ONNX is optional: ``onnx``, ``onnxscript`` (torch's exporter) and ``onnxruntime`` come with the
extra ``pip install 'aitl-reid[onnx]'``; without them, exporting or running a graph raises
:class:`MissingExtraError` saying so, and the rest of the package works as before.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Dict, List

import torch

from .encoder import ClipOutputs, TorchForward
from ..models.frozen import FlatOutputs, output_streams
from ..run_folder import TrainedModel

INPUT = "clips"
FEATURE = "feature"
LOGITS_PREFIX = "attr_logits_"
OPSET = 18
EXTRA = "aitl-reid[onnx]"
EXTRA_MODULES = ("onnx", "onnxscript", "onnxruntime")  # torch.onnx.export needs the first two, running a graph the third


class MissingExtraError(ImportError, ValueError):
    """A module of the ``onnx`` extra is not installed. Also a ValueError, so that the command lines'
    :func:`~aitl_reid.launch.run_cli` end with this message and status 2, as for any other unusable choice."""


def import_extra(name: str) -> ModuleType:
    """The module ``name`` of the ``onnx`` extra, or a MissingExtraError naming the command that installs it."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise MissingExtraError(f"ONNX needs the Python package {name}, which cannot be imported ({err}); "
                                f"install the onnx extra: pip install '{EXTRA}'", name=name) from err


@dataclass
class ExportReport:
    """Where the graph went, its outputs, and its largest absolute difference from PyTorch per output."""

    path: str
    outputs: List[str]
    max_abs_diff: Dict[str, float]

    def __str__(self) -> str:
        diffs = ", ".join(f"{name} {value:.2e}" for name, value in self.max_abs_diff.items())
        return f"wrote {self.path} (outputs: {', '.join(self.outputs)}); max |ONNX Runtime - PyTorch|: {diffs}"


def example_clips(trained: TrainedModel, batch: int) -> torch.Tensor:
    height, width = trained.input_size
    return torch.randn(batch, int(trained.cfg.video.seq_len), 3, height, width, generator=torch.Generator().manual_seed(0))


def export_onnx(trained: TrainedModel, path: str, attributes: bool = True, check_batch: int = 3) -> ExportReport:
    """Export ``trained``'s model to ``path`` with a dynamic batch size, then compare it with PyTorch
    on ``check_batch`` random clips (a batch size other than the one traced)."""
    for name in EXTRA_MODULES:  # before any work, rather than deep inside torch's exporter
        import_extra(name)
    model = trained.model.cpu().eval()
    example = example_clips(trained, 2)
    streams = output_streams(model, tuple(example.shape[1:]), torch.device("cpu")) if attributes else []
    module = FlatOutputs(model, streams).eval()
    outputs = [FEATURE] + [LOGITS_PREFIX + s for s in streams]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), path, input_names=[INPUT], output_names=outputs, opset_version=OPSET,
                          dynamic_shapes=({0: torch.export.Dim("batch", min=1)},), dynamo=True)
    clips = example_clips(trained, check_batch)
    reference, ours = TorchForward(model, torch.device("cpu"))(clips), OnnxForward(path)(clips)
    diffs = {FEATURE: float((reference[0] - ours[0]).abs().max())}
    for stream in streams:
        diffs[LOGITS_PREFIX + stream] = float((reference[1][stream] - ours[1][stream]).abs().max())
    trained.model.to(trained.device)
    return ExportReport(path, outputs, diffs)


class OnnxForward:
    """Clip forward through an exported graph under ONNX Runtime (CPU)."""

    def __init__(self, path: str, threads: int = 0) -> None:
        onnxruntime = import_extra("onnxruntime")  # imported here: only this backend needs it
        options = onnxruntime.SessionOptions()
        if threads > 0:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as err:  # missing file, not ONNX, unsupported operator
            raise ValueError(f"cannot load ONNX model {path}: {err}") from err
        self.outputs = [o.name for o in self.session.get_outputs()]
        inputs = [i.name for i in self.session.get_inputs()]
        if inputs != [INPUT] or not self.outputs or self.outputs[0] != FEATURE:
            raise ValueError(f"{path} is not a graph from aitl-reid-export (inputs {inputs}, outputs {self.outputs})")

    def __call__(self, clips: torch.Tensor) -> ClipOutputs:
        arrays = self.session.run(None, {INPUT: clips.detach().float().cpu().contiguous().numpy()})
        logits = {name[len(LOGITS_PREFIX):]: torch.from_numpy(a) for name, a in zip(self.outputs[1:], arrays[1:])}
        return torch.from_numpy(arrays[0]), logits

    def __str__(self) -> str:
        return f"backend onnx (ONNX Runtime, {self.session.get_providers()[0]})"

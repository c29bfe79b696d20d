"""The training log's environment report: the running interpreter's own facts, and no subprocess to get them."""
import subprocess
from importlib import metadata

import torch

from aitl_reid import environment


def test_the_report_names_the_versions_that_are_installed_and_the_cores(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"the report started a subprocess: {args[:1]}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    lines = environment.describe_environment().splitlines()
    assert lines[0] == f"PyTorch version: {torch.__version__}"
    assert f"CUDA available: {torch.cuda.is_available()}" in lines
    for name in ("torch", "torchvision", "torchreid", "numpy", "yacs"):
        assert f"[pip] {name}=={metadata.version(name)}" in lines
    assert any(line.startswith("CPU cores available: ") for line in lines)


def test_a_library_that_is_not_installed_is_left_out():
    assert environment.installed_versions(("torch", "no-such-distribution-aitl")) == [f"torch=={metadata.version('torch')}"]

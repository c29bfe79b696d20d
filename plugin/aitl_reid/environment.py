"""The environment report at the top of every training log, gathered in-process in milliseconds.

torchreid's ``collect_env_info`` (PyTorch's ``collect_env``) starts ``pip list``, ``lscpu``, ``conda`` and
``nvidia-smi`` as subprocesses: 1-2 s of every run on an idle 2-core machine, over 10 s on a busy one, before
anything is trained. What a reader of the log looks for (versions, the accelerator, the cores) is known to the
running interpreter itself.
"""
from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import List, Tuple

import torch

# The distributions whose versions decide what a run computes, as pip names them.
LIBRARIES: Tuple[str, ...] = ("aitl-reid", "torch", "torchvision", "torchreid", "numpy", "yacs", "opencv-python",
                              "opencv-python-headless", "onnxruntime", "scipy")


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity: a container's or ``taskset``'s share, not the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def installed_versions(names: Tuple[str, ...] = LIBRARIES) -> List[str]:
    """``name==version`` of each distribution of ``names`` that is installed, in that order."""
    found = []
    for name in names:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return found


def accelerator_lines() -> List[str]:
    """The CUDA build and the GPUs this process sees (names and memory), or that there are none."""
    lines = [f"CUDA used to build PyTorch: {torch.version.cuda or 'none'}",
             f"CUDA available: {torch.cuda.is_available()}"]
    if torch.cuda.is_available():
        lines.append(f"cuDNN: {torch.backends.cudnn.version()}")
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            lines.append(f"GPU {index}: {props.name} ({props.total_memory / 2**30:.1f} GiB)")
    return lines


def describe_environment() -> str:
    """Versions, platform, accelerator and cores, one fact a line (printed under "Collecting env info ...")."""
    lines = [f"PyTorch version: {torch.__version__}",
             f"Python version: {sys.version.split()[0]} ({platform.python_implementation()})",
             f"OS: {platform.system()} {platform.release()} ({platform.machine()})",  # platform.platform() runs `uname -p`
             *accelerator_lines(),
             f"CPU cores available: {available_cores()}; torch intra-op threads: {torch.get_num_threads()}",
             "Versions of relevant libraries:",
             *(f"[pip] {entry}" for entry in installed_versions())]
    return "\n".join(lines)

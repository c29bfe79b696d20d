"""Random number generator states that go into checkpoints, in a form weights-only loading accepts.

An exactly resumable run needs the state every random draw after the checkpoint depends on: torch
(CPU and CUDA: dropout, DataLoader worker seeds), numpy and Python's ``random``. The training clips
themselves are seeded per sample by :class:`~aitl_reid.data.identity_sampler.IdentityShardSampler`
from (``train.seed``, epoch), so they need no state here. numpy's state holds an ndarray and
Python's a tuple; both are stored as tensors and plain numbers so that ``torch.load(weights_only=True)``
reads them back.
"""
from __future__ import annotations

import contextlib
import random
from typing import Any, Dict, Iterator

import numpy as np
import torch


def capture_rng_state() -> Dict[str, Any]:
    """The state of every global generator training draws from."""
    numpy_state = np.random.get_state(legacy=False)
    python_version, python_internal, python_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "python": {"version": int(python_version), "internal": torch.tensor(python_internal, dtype=torch.int64),
                   "gauss": python_gauss},
    }


def restore_rng_state(state: Dict[str, Any]) -> None:
    """Put every global generator back where :func:`capture_rng_state` found it."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy_state = state["numpy"]
    np.random.set_state({
        "bit_generator": "MT19937",
        "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
        "has_gauss": numpy_state["has_gauss"],
        "gauss": numpy_state["gauss"],
    })
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(python_state["internal"].tolist()), python_state["gauss"]))


@contextlib.contextmanager
def isolated_rng() -> Iterator[None]:
    """Random draws inside the block (evaluation) leave the training's generators untouched.

    Without this, evaluating every N epochs would change the training that follows (the test
    loaders draw worker seeds from torch's generator), and a run resumed from a checkpoint written
    after an evaluation could not repeat the uninterrupted run.
    """
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)

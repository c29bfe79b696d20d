"""Row 5: the AITL loss (Eq. 2-3), forward + backward at N = 64, ours (batched) vs a per-anchor loop.

The loop is the direct reading of the equations: for every anchor, gather its other positives,
pick the farthest and nearest by attribute distance, and take the hinge on their feature
distances. Both must give the same loss and gradients; only the speed differs.
"""
from __future__ import annotations

from typing import Dict, List

import torch
import torch.nn.functional as F

from aitl_reid.schema import ID_RELEVANT, get_schema
from aitl_reid.losses import aitl_loss

from .rows import Row
from .settings import Settings
from .timing import interleaved

IDS, INSTANCES = 16, 4  # N = 64, the paper's P x K layout
FEATURE_DIM = 6144  # ASTA's Re-ID feature on ResNet-50
REPEATS = 20  # forward + backward passes per timed run (one pass is too short to time alone)
QUICK_REPEATS = 2  # quick mode checks the row, not the figure


def looped_aitl(features: torch.Tensor, pids: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """AITL with cosine distances, one anchor at a time (ties go to the lowest index, as ours)."""
    terms = []
    for anchor in range(len(pids)):
        others = [j for j in range(len(pids)) if j != anchor and pids[j] == pids[anchor]]
        if not others:
            continue
        with torch.no_grad():
            attr_dist = 1 - F.cosine_similarity(attributes[anchor].unsqueeze(0), attributes[others], eps=1e-12)
            far, near = others[int(attr_dist.argmax())], others[int(attr_dist.argmin())]
        if far == near:
            continue
        d_far = 1 - F.cosine_similarity(features[anchor], features[far], dim=0, eps=1e-12)
        d_near = 1 - F.cosine_similarity(features[anchor], features[near], dim=0, eps=1e-12)
        terms.append(torch.relu(d_far - d_near))
    total = torch.stack(terms).sum() if terms else features.sum() * 0
    return total / len(pids)


def make_batch(seed: int = 0) -> Dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    width = get_schema("mars_v2").total_classes(ID_RELEVANT)
    return {
        "features": torch.randn(IDS * INSTANCES, FEATURE_DIM, generator=generator),
        "pids": torch.arange(IDS).repeat_interleave(INSTANCES),
        "attributes": torch.rand(IDS * INSTANCES, width, generator=generator),
    }


def loss_and_grad(loss_fn, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
    """One forward + backward; returns the loss value and leaves the gradient on ``batch['features']``."""
    features = batch["features"].detach().requires_grad_(True)
    loss = loss_fn(features, batch["pids"], batch["attributes"])
    loss.backward()
    batch["grad"] = features.grad
    return loss.detach()


def run(settings: Settings) -> List[Row]:
    ours_batch, loop_batch = make_batch(), make_batch()
    ours_loss = loss_and_grad(aitl_loss, ours_batch)
    loop_loss = loss_and_grad(looped_aitl, loop_batch)
    loss_diff = float((ours_loss - loop_loss).abs())
    grad_diff = float((ours_batch["grad"] - loop_batch["grad"]).abs().max())
    if loss_diff > 1e-5 or grad_diff > 1e-6:
        raise AssertionError(f"AITL loop and ours disagree: |loss diff| {loss_diff}, max |grad diff| {grad_diff}")

    repeats = QUICK_REPEATS if settings.quick else REPEATS

    def repeat(loss_fn, batch):
        return lambda: [loss_and_grad(loss_fn, batch) for _ in range(repeats)]

    settings.log(f"aitl: N = {IDS * INSTANCES}, {settings.runs} interleaved runs of {repeats} passes each")
    ours_time, loop_time = interleaved(repeat(aitl_loss, ours_batch), repeat(looped_aitl, loop_batch), settings.runs)
    return [Row(
        "aitl", f"AITL loss forward + backward, N = {IDS * INSTANCES} (P={IDS}, K={INSTANCES}), D = {FEATURE_DIM}",
        "aitl_reid.losses.aitl_loss (batched)", "per-anchor loop (same equations)", ours_time, loop_time,
        item="passes", items_per_run=repeats, sense="speedup",
        notes=[f"same loss and gradient: |loss difference| {loss_diff:.1e}, max |gradient difference| {grad_diff:.1e}"],
        extra={"loss": float(ours_loss), "loss_abs_diff": loss_diff, "grad_max_abs_diff": grad_diff},
    )]

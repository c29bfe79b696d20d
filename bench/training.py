"""Row 2: one training step (forward, loss, backward, Adam) of ASTA with the full unified loss vs the
paper's baseline (temporal pooling, softmax + batch-hard triplet), on the same random batch.

The step is the engine's (``AITLEngine.forward_backward`` without logging) so the numbers are those
of real training; FLOPs per clip come from ``count_flops``. ``train_step`` and ``make_setup`` are
shared with the GPU script.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from aitl_reid.schema import get_schema
from aitl_reid.losses import UnifiedLoss
from aitl_reid.models import build_model, count_flops

from .rows import Row
from .settings import Settings
from .timing import interleaved_many

SCHEMA = get_schema("mars_v2")
NUM_CLASSES = 625  # MARS training identities
LR = 3e-4


@dataclass
class TrainSetup:
    """A model, its loss and optimizer, and one fixed batch of clips."""

    model: torch.nn.Module
    criterion: UnifiedLoss
    optimizer: torch.optim.Optimizer
    clips: torch.Tensor
    pids: torch.Tensor
    attrs: torch.Tensor


def random_batch(ids: int, instances: int, seq_len: int, height: int, width: int, seed: int = 0
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clips ``[P*K, T, 3, H, W]``, P x K identity labels and valid attribute labels (one per attribute)."""
    generator = torch.Generator().manual_seed(seed)
    clips = torch.randn(ids * instances, seq_len, 3, height, width, generator=generator)
    pids = torch.arange(ids).repeat_interleave(instances)
    attrs = torch.stack([torch.randint(0, k, (ids * instances,), generator=generator) for k in SCHEMA.num_classes], 1)
    return clips, pids, attrs


@dataclass(frozen=True)
class ClipBatches:
    """A model and the batches it trains on: P = ``ids`` identities x K = ``instances`` clips of T = ``seq_len``
    frames at ``height`` x ``width`` (the GPU script's and the engine-step benchmark's sizes)."""

    model: str
    height: int
    width: int
    ids: int
    instances: int
    seq_len: int

    def batch(self, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return random_batch(self.ids, self.instances, self.seq_len, self.height, self.width, seed)


def make_setup(model_name: str, batch: Tuple[torch.Tensor, torch.Tensor, torch.Tensor], loss: str,
               device: str = "cpu", channels_last: bool = False, **model_kwargs) -> TrainSetup:
    """``loss`` is ``"unified"`` (Eq. 4: CE + triplet + AITL + attribute BCE) or ``"softmax_triplet"``."""
    clips, pids, attrs = batch
    torch.manual_seed(0)
    model = build_model(model_name, NUM_CLASSES, pretrained=False, height=clips.shape[-2], width=clips.shape[-1], schema=SCHEMA,
                        **model_kwargs).to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    baseline = loss == "softmax_triplet"
    criterion = UnifiedLoss(SCHEMA, aitl_enabled=not baseline, attribute_enabled=not baseline)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    return TrainSetup(model, criterion, optimizer, clips.to(device), pids.to(device), attrs.to(device))


def train_step(setup: TrainSetup, autocast_dtype: Optional[torch.dtype] = None) -> float:
    """One optimisation step; returns the loss (which also waits for the device to finish)."""
    device = setup.clips.device.type
    with torch.autocast(device_type=device, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
        total, _ = setup.criterion(setup.model(setup.clips), setup.pids, setup.attrs)
    setup.optimizer.zero_grad(set_to_none=True)
    total.backward()
    setup.optimizer.step()
    return float(total.detach())


@dataclass(frozen=True)
class Variant:
    """One configuration of ASTA compared with the baseline."""

    label: str
    model_kwargs: Dict[str, int]


FAITHFUL = Variant("faithful (stream width 2048)", {})
LIGHT_512 = Variant("stream width 512", {"stream_width": 512})
LIGHT_256 = Variant("stream width 256", {"stream_width": 256})


def compare(settings: Settings, backbone: str, size: Tuple[int, int], batch_shape: Tuple[int, int, int],
            variants: Sequence[Variant], steps: int, channels_last: bool = False) -> List[Row]:
    """Steps of the baseline and every ASTA variant in rotating rounds, at one input size."""
    height, width = size
    ids, instances, seq_len = batch_shape
    batch = random_batch(ids, instances, seq_len, height, width)
    setups = {"baseline": make_setup(f"tp_{backbone}", batch, "softmax_triplet", channels_last=channels_last)}
    for variant in variants:
        setups[variant.label] = make_setup(f"asta_{backbone}", batch, "unified", channels_last=channels_last,
                                           **variant.model_kwargs)
    costs = {name: count_flops(setup.model, height, width, seq_len) for name, setup in setups.items()}
    layout = ", channels_last (both models)" if channels_last else ""
    settings.log(f"training: tp_{backbone} and {len(variants)} asta_{backbone} variant(s) at {height}x{width}{layout}, "
                 f"1 warm-up + {steps} steps each in rotating rounds")
    timings = interleaved_many({name: partial(train_step, setup) for name, setup in setups.items()}, steps)
    base = costs["baseline"]
    rows = []
    for variant in variants:
        cost = costs[variant.label]
        rows.append(Row(
            "training", f"Training step {height}x{width}, P={ids} K={instances} T={seq_len}, {variant.label}{layout}",
            f"asta_{backbone} + unified loss (CE, triplet, AITL x2, BCE)", f"tp_{backbone} + CE + triplet",
            timings[variant.label], timings["baseline"], item="clips", items_per_run=ids * instances, sense="cost",
            goal=1.35 if variant is FAITHFUL and not channels_last else None,
            notes=[f"FLOPs per clip (forward, T={seq_len}): asta {cost.gflops:.1f} G vs tp {base.gflops:.1f} G "
                   f"({cost.gflops / base.gflops:.2f}x); parameters {cost.params / 1e6:.1f} M vs "
                   f"{base.params / 1e6:.1f} M; {steps} timed steps after 1 warm-up"],
            extra={"asta_gflops": cost.gflops, "tp_gflops": base.gflops,
                   "asta_params": cost.params, "tp_params": base.params},
        ))
    return rows


def run(settings: Settings) -> List[Row]:
    if settings.quick:
        return compare(settings, "resnet18", (32, 16), (2, 4, 4), (FAITHFUL, LIGHT_256), settings.runs)
    steps = min(settings.runs, 5)  # a 256x128 ResNet-50 step takes ~10 s or more on a CPU core
    return (compare(settings, "resnet50", (128, 64), (4, 4, 4), (FAITHFUL, LIGHT_512, LIGHT_256), steps)
            + compare(settings, "resnet50", (128, 64), (4, 4, 4), (FAITHFUL,), steps, channels_last=True)
            + compare(settings, "resnet50", (256, 128), (4, 4, 4), (FAITHFUL, LIGHT_512), steps))

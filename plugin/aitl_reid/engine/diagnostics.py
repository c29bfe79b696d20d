"""Signs of whether the attribute streams and their attention learn, logged per epoch (never trained on).

A stream that predicts only the label frequencies has a training loss at the prior loss; an attention
whose values sit at 0 or 1 passes no gradient through its sigmoid; an AITL whose attribute-chosen
positive agrees with the annotated attributes no more often than chance selects blindly. Each of these
is measured on the training batches, as 0-dim tensors left on the training device, and averaged over
the epoch by :class:`EpochMeans`, which sums them there: a training step never waits for the device to
read a diagnostic (the engine reads the sums with the step's one read, at ``train.print_freq`` and at the
end of the epoch).
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence

import torch

from ..losses import UnifiedLoss
from ..losses.attribute import group_labels
from ..models.outputs import ReIDOutput
from ..schema import AttributeSchema

ALIVE_RANGE = (0.05, 0.95)  # an attention value outside it sits where the sigmoid passes almost no gradient
_ANCHORS, _AGREE, _CHANCE = "aitl_anchors_", "aitl_agree_", "aitl_chance_"


def attention_alive_fraction(attention: torch.Tensor) -> torch.Tensor:
    """Fraction of attention values strictly inside :data:`ALIVE_RANGE` (saturation diagnostic), a 0-dim tensor."""
    low, high = ALIVE_RANGE
    return ((attention > low) & (attention < high)).float().mean()


def attribute_accuracy(logits: torch.Tensor, attrs: torch.Tensor, schema: AttributeSchema, group: str) -> torch.Tensor:
    """Fraction of the annotated (row, attribute) pairs of ``group`` whose predicted class is right, a 0-dim tensor
    (NaN when none is annotated: 0 / 0, which :class:`EpochMeans` leaves out)."""
    predicted, _ = schema.predict(logits.detach(), group)
    labels = group_labels(attrs, schema, group)
    valid = labels >= 0
    return ((predicted == labels) & valid).sum().float() / valid.sum().float()


def batch_diagnostics(output: ReIDOutput, pids: torch.Tensor, attrs: torch.Tensor, schema: AttributeSchema,
                      criterion: UnifiedLoss) -> Dict[str, torch.Tensor]:
    """Per-batch attribute accuracy and attention liveness per stream, and AITL's selection agreement counts."""
    values: Dict[str, torch.Tensor] = {}
    for stream, logits in output.attr_logits.items():
        values[f"attr_train_acc_{stream}"] = attribute_accuracy(logits, attrs, schema, stream)
    for stream, attention in output.attention.items():
        values[f"attn_alive_{stream}"] = attention_alive_fraction(attention.detach())
    if output.reid_attention is not None:
        values["attn_alive_reid"] = attention_alive_fraction(output.reid_attention.detach())
    if output.attr_logits and criterion.aitl_enabled and criterion.aitl_selection == "attribute":
        values.update(criterion.selection_diagnostics(output, pids, attrs))
    return values


class EpochMeans:
    """Per-epoch means of logged values, summed on the training device; a NaN (nothing to measure in that batch, on
    that process) is left out.

    :meth:`add` takes a step's values as tensors and reads nothing. What a reader needs, the latest step's values
    and the epoch's sums and counts, is one vector (:meth:`pending`), summed over processes and read by the engine
    in the same transfer as the step's finiteness flag, then handed back with :meth:`take`; :meth:`latest`,
    :meth:`running` and :meth:`means` answer from that host copy. Summed over processes, a mean is the global
    batch's and a count (AITL's anchors) the global batch's count. :meth:`means` adds each stream's prior loss
    beside its training loss and turns AITL's per-batch counts into the epoch's agreement rate, chance rate and
    number of informative anchors.
    """

    def __init__(self, attribute_prior: Mapping[str, float]) -> None:
        self.attribute_prior = dict(attribute_prior)
        self.reset()

    def reset(self) -> None:
        self.names: List[str] = []
        self._latest: Optional[torch.Tensor] = None  # the latest step's values, NaN where not measured
        self._sums: Optional[torch.Tensor] = None
        self._counts: Optional[torch.Tensor] = None
        self._read: Optional[List[float]] = None  # the host copy of pending(), summed over processes
        self._read_current = True  # whether _read holds every step added so far

    def add(self, values: Mapping[str, torch.Tensor]) -> None:
        """Add one step's values (0-dim tensors on one device; a name first seen here starts from nothing)."""
        if not values:
            return
        device = next(iter(values.values())).device
        new = [name for name in values if name not in self.names]
        if new:
            self.names += new
            start = torch.zeros(len(new), dtype=torch.float64, device=device)
            self._sums = start.clone() if self._sums is None else torch.cat([self._sums, start])
            self._counts = start.clone() if self._counts is None else torch.cat([self._counts, start])
        unmeasured = torch.full((), float("nan"), device=device) if len(values) < len(self.names) else None
        step = torch.stack([values[name].detach().float() if name in values else unmeasured
                            for name in self.names]).double()
        measured = ~torch.isnan(step)
        self._latest = step
        self._sums += torch.where(measured, step, 0.0)
        self._counts += measured
        self._read_current = False

    def pending(self) -> torch.Tensor:
        """What a reader needs, as one float64 vector on the device: the latest step's values (NaN as 0) and how many
        processes measured each, then the epoch's sums and counts."""
        assert self._latest is not None and self._sums is not None and self._counts is not None
        measured = ~torch.isnan(self._latest)
        return torch.cat([torch.where(measured, self._latest, 0.0), measured.double(), self._sums, self._counts])

    def take(self, numbers: Sequence[float]) -> None:
        """The host copy of :meth:`pending` (summed over processes), read after the latest :meth:`add`."""
        self._read, self._read_current = list(numbers), True

    @property
    def up_to_date(self) -> bool:
        """Whether the host copy holds every step added (nothing added counts as read)."""
        return self._read_current

    def _part(self, index: int) -> List[float]:
        assert self._read is not None, "EpochMeans: nothing read yet (take() after add())"
        size = len(self.names)
        return self._read[index * size:(index + 1) * size]

    def latest(self) -> Dict[str, float]:
        """The latest step's values, averaged over the processes that measured them (NaN where none did)."""
        return {name: total / count if count else float("nan")
                for name, total, count in zip(self.names, self._part(0), self._part(1))}

    def running(self) -> Dict[str, float]:
        """The means so far this epoch (NaN-skipped), of every name measured at least once."""
        return {name: total / count for name, total, count in zip(self.names, self._part(2), self._part(3)) if count}

    def means(self) -> Dict[str, float]:
        """The epoch's record: means of the values, priors beside attribute losses, AITL agreement as ratios of sums."""
        if not self.names:
            return {}
        sums = dict(zip(self.names, self._part(2)))
        counted = (_ANCHORS, _AGREE, _CHANCE)  # per-batch counts: summed over the epoch, then divided below
        means = {name: value for name, value in self.running().items() if not name.startswith(counted)}
        for stream, prior in self.attribute_prior.items():
            if f"loss_attr_{stream}" in means:
                means[f"prior_attr_{stream}"] = prior
        for name in [n for n in self.names if n.startswith(_ANCHORS)]:
            stream, anchors = name[len(_ANCHORS):], sums[name]
            if anchors > 0:
                means[f"aitl_agreement_{stream}"] = sums[_AGREE + stream] / anchors
                means[_CHANCE + stream] = sums[_CHANCE + stream] / anchors
                means[name] = anchors
        return means

"""The five rows of the paper's Table 1 as config overrides on one shared experiment config.

Each variant differs from the others only in the keys listed here, so a row's result can be traced
to exactly what was switched on: the ASTA streams (attention fused into the Re-ID feature), the
attribute loss, and the intra-identity triplet with attribute (AITL) or feature (ITL) selection.
The switches are those of the MARS configs in configs/table1/ (a test keeps the two in step); only
the backbone differs (ResNet-18 by default, any torchreid backbone through :func:`table1_variants`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Variant:
    """One ablation row: its Table 1 label and the KEY VALUE overrides that define it."""

    label: str
    overrides: Tuple[str, ...]
    has_attribute_streams: bool  # the model predicts attributes, so attribute accuracy is reported
    uses_intra_identity_triplet: bool  # AITL or ITL is in the loss (the runs "with AITL" of Fig. 7)

    @property
    def slug(self) -> str:
        return slugify(self.label)


def slugify(label: str) -> str:
    """A folder-safe name: 'Baseline + ASTA + AITL' -> 'baseline_asta_aitl'."""
    return "_".join(part.strip().lower().replace(" ", "_") for part in label.split("+"))


_NO_INTRA = ("loss.aitl.enabled", "False")
_AITL = ("loss.aitl.enabled", "True", "loss.aitl.selection", "attribute")
_ITL = ("loss.aitl.enabled", "True", "loss.aitl.selection", "feature")
_FUSED = ("model.asta.fuse_attention", "True")
_STREAMS_ONLY = ("model.asta.fuse_attention", "False")  # streams predict attributes but add nothing to the feature


def table1_variants(backbone: str = "resnet18") -> Tuple[Variant, ...]:
    """The five Table 1 rows over torchreid backbone ``backbone`` (``tp_<backbone>`` / ``asta_<backbone>``)."""
    tp = ("model.name", f"tp_{backbone}", "loss.attribute.enabled", "False")  # temporal pooling, no attribute streams
    asta = ("model.name", f"asta_{backbone}", "loss.attribute.enabled", "True")
    return (
        Variant("Baseline", tp + _NO_INTRA, False, False),
        Variant("Baseline + ASTA", asta + _FUSED + _NO_INTRA, True, False),
        Variant("Baseline + ITL", tp + _ITL, False, True),
        Variant("Baseline + AITL", asta + _STREAMS_ONLY + _AITL, True, True),
        Variant("Baseline + ASTA + AITL", asta + _FUSED + _AITL, True, True),
    )


TABLE1_VARIANTS: Tuple[Variant, ...] = table1_variants()

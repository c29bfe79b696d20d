"""The five rows of the paper's Table 1 and the controls, as config overrides on one shared experiment config.

Each variant differs from the others only in the keys listed here, so a row's result can be traced
to exactly what was switched on: the ASTA streams (attention fused into the Re-ID feature), the
attribute loss, and the intra-identity triplet with attribute (AITL) or feature (ITL) selection.
The switches are those of the MARS configs in configs/table1/ (a test keeps the two in step); only
the backbone differs (ResNet-18 by default, any torchreid backbone through :func:`table1_variants`).

The controls ask whether the attributes' *guidance* is what helps: ASTA with its attribute losses
off (attention trained by Re-ID alone), ASTA whose streams learn attributes but add nothing to the
feature, and the full model with AITL choosing positives by the annotated attributes (oracle) or by
predicted attribute vectors shuffled among the batch's tracklets (placebo). The released design
(``released``) asks whether the authors' own implementation choices change the answer.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Dict, Sequence, Tuple

from ..config import RELEASED_CONFIG, own_sections


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
    """A folder-safe name: 'Baseline + ASTA + AITL' -> 'baseline_asta_aitl',
    'ASTA, attribute losses off [loss.aitl.weight=0.3]' -> 'asta_attribute_losses_off_loss.aitl.weight-0.3'."""
    parts = [part.strip().lower() for part in label.replace("[", "+").replace("]", "").split("+")]
    return "_".join("_".join(p.replace(",", " ").replace("=", "-").split()) for p in parts if p)


_NO_INTRA = ("loss.aitl.enabled", "False")
_AITL = ("loss.aitl.enabled", "True", "loss.aitl.selection", "attribute")
_ITL = ("loss.aitl.enabled", "True", "loss.aitl.selection", "feature")
_FUSED = ("model.asta.fuse_attention", "True")
_STREAMS_ONLY = ("model.asta.fuse_attention", "False")  # streams predict attributes but add nothing to the feature
_ORACLE = ("loss.aitl.enabled", "True", "loss.aitl.selection", "annotated")
_PLACEBO = ("loss.aitl.enabled", "True", "loss.aitl.selection", "shuffled")


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


def control_variants(backbone: str = "resnet18") -> Tuple[Variant, ...]:
    """The controls beside Table 1 (see the module docstring), over the same backbone."""
    asta = ("model.name", f"asta_{backbone}")
    with_attributes = asta + ("loss.attribute.enabled", "True")
    return (
        Variant("ASTA, attribute losses off", asta + ("loss.attribute.enabled", "False") + _FUSED + _NO_INTRA, True, False),
        Variant("ASTA, attention not fused", with_attributes + _STREAMS_ONLY + _NO_INTRA, True, False),
        Variant("ASTA + AITL oracle", with_attributes + _FUSED + _ORACLE, True, True),
        Variant("ASTA + AITL placebo", with_attributes + _FUSED + _PLACEBO, True, True),
    )


def released_variants(backbone: str = "resnet18") -> Tuple[Variant, ...]:
    """The full model as the authors' released code builds and trains it: the ``model.asta`` and ``loss`` switches
    of ``configs/released_code.yaml`` (checked against the released code by tests/test_released_parity.py) on
    the experiment's own data, schedule and backbone (a backbone other than a ResNet keeps its own stem)."""
    released = own_sections(RELEASED_CONFIG, ("model.asta", "loss"))
    if not backbone.startswith(("resnet", "resnext")):  # the released stem (no ReLU) is a ResNet's: others keep theirs
        at = released.index("model.asta.stem_relu")
        del released[at:at + 2]
    asta = ("model.name", f"asta_{backbone}", "loss.attribute.enabled", "True")
    return (Variant("Released ASTA + AITL", asta + _FUSED + _AITL + tuple(released), True, True),)


def all_variants(backbone: str = "resnet18") -> Tuple[Variant, ...]:
    """Table 1's rows, the controls, then the released design."""
    return table1_variants(backbone) + control_variants(backbone) + released_variants(backbone)


def select_variants(variants: Sequence[Variant], slugs: Sequence[str]) -> Tuple[Variant, ...]:
    """The variants named by slug, in the order given; an unknown slug is an error listing the known ones."""
    by_slug: Dict[str, Variant] = {v.slug: v for v in variants}
    unknown = [s for s in slugs if s not in by_slug]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; known: {', '.join(by_slug)}")
    return tuple(by_slug[s] for s in slugs)


def sweep(variants: Sequence[Variant], key: str, values: Sequence[str]) -> Tuple[Variant, ...]:
    """Each variant once per value of config ``key`` (the value overrides the variant's own, if any)."""
    return tuple(
        replace(v, label=f"{v.label} [{key}={value}]", overrides=v.overrides + (key, str(value)))
        for v in variants for value in values
    )


def sweep_from_own_setting(
    variants: Sequence[Variant], key: str, values: Sequence[str], setting: Callable[[Sequence[str]], object]
) -> Tuple[Variant, ...]:
    """:func:`sweep`, but a value the variant already has (``setting(overrides)``, the resolved config value
    of ``key``) is the variant itself: its runs are shared with it, and the swept rows are compared with it."""
    chosen = []
    for variant in variants:
        own = setting(variant.overrides)
        for swept in sweep((variant,), key, values):
            pick = variant if setting(swept.overrides) == own else swept
            if pick not in chosen:
                chosen.append(pick)
    return tuple(chosen)


def unswept_label(label: str) -> str:
    """The variant a swept label comes from: 'X [key=value]' -> 'X' (a plain label is returned as is)."""
    return label.split(" [", 1)[0]


TABLE1_VARIANTS: Tuple[Variant, ...] = table1_variants()

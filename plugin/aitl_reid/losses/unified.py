"""The unified loss (paper Eq. 4): L = L_BCE + L_tri + L_softmax + L_AITL, each term weighted.

Eq. 4 sums the terms with unit weights. The released code instead averages the three triplet terms
(batch-hard, AITL on the identity-relevant stream, AITL on the identity-irrelevant stream) before
adding cross-entropy and BCE; ``average_triplets`` reproduces that. AITL is computed once per
attribute stream the model outputs, from that stream's prediction vector. Two distances enter AITL:
the feature distance FD (``aitl_distance``) and the attribute distance AD that chooses the
positives (``attribute_distance``); the paper makes both cosine, the released code cosine FD and
Euclidean AD (``TripletLossAttrWeightes`` with ``DISTANCE = "cosine"``).

Every term is computed on ``output.features`` (pre-BNNeck) as in BNNeck practice, and returned
detached under a stable name for logging, together with the batch DVDP (Eq. 1, cosine, a
diagnostic for Fig. 7 that is never added to the total).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
from torch import nn

from .. import distributed
from ..schema import STREAM_GROUPS, AttributeSchema
from ..models.outputs import ReIDOutput
from .attribute import DEFAULT_ATTRIBUTE_LOSS, attribute_loss_per_stream, check_form, group_labels
from .cross_entropy import cross_entropy_label_smooth
from .distances import at_least_float32, check_batch, check_distance, pairwise_distance
from .intra_identity import dvdp, intra_identity_triplet, itl_loss, selection_agreement, true_attribute_distance
from .triplet import batch_hard_triplet_loss

# How AITL picks an anchor's far and near positive: by predicted attributes (the paper), by the annotated
# attributes (oracle control), by predicted attribute vectors shuffled among the batch's tracklets (placebo
# control: same vectors, no link to the tracklet), or by features (ITL, Table 1).
SELECTIONS = ("attribute", "annotated", "shuffled", "feature")
ATTRIBUTE_INPUTS = ("prob", "logits")
LABEL_SMOOTH_EPSILON = 0.1  # the paper's and torchreid's smoothing when loss.softmax.label_smooth is on


class UnifiedLoss(nn.Module):
    """Eq. 4 with a weight per term; ``forward`` returns ``(total, detached terms by name)``."""

    def __init__(
        self,
        schema: AttributeSchema,
        label_smooth: float = LABEL_SMOOTH_EPSILON,
        triplet_margin: float = 0.3,
        triplet_distance: str = "cosine",
        weight_t: float = 1.0,
        weight_x: float = 1.0,
        aitl_enabled: bool = True,
        aitl_weight: float = 1.0,
        aitl_margin: float = 0.0,
        aitl_selection: str = "attribute",
        aitl_distance: str = "cosine",
        attribute_distance: str = "cosine",
        attribute_input: str = "prob",
        include_anchor: bool = False,
        average_triplets: bool = False,
        attribute_enabled: bool = True,
        attribute_weight: float = 1.0,
        attribute_form: str = DEFAULT_ATTRIBUTE_LOSS,
    ) -> None:
        super().__init__()
        if aitl_selection not in SELECTIONS:
            raise ValueError(f"loss.aitl.selection must be one of {SELECTIONS}, got '{aitl_selection}'")
        if attribute_input not in ATTRIBUTE_INPUTS:
            raise ValueError(f"loss.aitl.attribute_input must be one of {ATTRIBUTE_INPUTS}, got '{attribute_input}'")
        self.schema = schema
        self.label_smooth = label_smooth
        self.triplet_margin = triplet_margin
        self.triplet_distance = check_distance(triplet_distance)
        self.weight_t = weight_t
        self.weight_x = weight_x
        self.aitl_enabled = aitl_enabled
        self.aitl_weight = aitl_weight
        self.aitl_margin = aitl_margin
        self.aitl_selection = aitl_selection
        self.aitl_distance = check_distance(aitl_distance)
        self.attribute_distance = check_distance(attribute_distance)
        self.attribute_input = attribute_input
        self.include_anchor = include_anchor
        self.average_triplets = average_triplets
        self.attribute_enabled = attribute_enabled
        self.attribute_weight = attribute_weight
        self.attribute_form = check_form(attribute_form)

    def forward(
        self, output: ReIDOutput, pids: torch.Tensor, attrs: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        terms = self.unweighted_terms(output, pids, attrs)
        intra = [value for name, value in terms.items() if name.startswith(("loss_aitl_", "loss_itl"))]
        triplets = [self.weight_t * terms["loss_t"]] + [self.aitl_weight * value for value in intra]
        triplet_part = torch.stack(triplets).sum()
        if self.average_triplets:
            triplet_part = triplet_part / len(triplets)
        total = self.weight_x * terms["loss_x"] + triplet_part
        if self.attribute_enabled:
            total = total + self.attribute_weight * terms["loss_attr"]
        terms["dvdp"] = dvdp(output.features, pids)
        return total, {name: value.detach() for name, value in terms.items()}

    def unweighted_terms(
        self, output: ReIDOutput, pids: torch.Tensor, attrs: Optional[torch.Tensor] = None
    ) -> Dict[str, torch.Tensor]:
        """Every enabled term before weighting, still attached to the graph (``loss_attr`` is the sum of
        the per-stream ``loss_attr_<stream>``, which are listed too)."""
        unknown = sorted(set(output.attr_logits) - set(STREAM_GROUPS))
        if unknown:
            raise ValueError(f"attr_logits has unknown stream(s) {unknown}, expected names from {STREAM_GROUPS}")
        terms: Dict[str, torch.Tensor] = {
            "loss_x": cross_entropy_label_smooth(output.logits, pids, self.label_smooth),
            "loss_t": self._batch_hard_term(output.features, pids),
        }
        terms.update(self._intra_identity_terms(output, pids, attrs))
        if self.attribute_enabled:
            per_stream = self._attribute_terms(output, attrs)
            terms["loss_attr"] = torch.stack(list(per_stream.values())).sum()
            terms.update({f"loss_attr_{stream}": value for stream, value in per_stream.items()})
        return terms

    def _batch_hard_term(self, features: torch.Tensor, pids: torch.Tensor) -> torch.Tensor:
        """Batch-hard triplet over the global batch: under torchrun the anchors are this process's rows and the
        candidates every process's (identities are disjoint across processes, so only negatives come from others)."""
        if distributed.world_size() == 1:
            return batch_hard_triplet_loss(features, pids, self.triplet_margin, self.triplet_distance)
        n, me = features.shape[0], distributed.rank()
        return batch_hard_triplet_loss(
            distributed.all_gather_with_grad(features), distributed.all_gather_tensor(pids),
            self.triplet_margin, self.triplet_distance, anchors=slice(me * n, (me + 1) * n),
        )

    def _intra_identity_terms(
        self, output: ReIDOutput, pids: torch.Tensor, attrs: Optional[torch.Tensor]
    ) -> Dict[str, torch.Tensor]:
        """AITL once per attribute stream ('loss_aitl_<stream>'), or ITL once ('loss_itl'), or nothing."""
        if not self.aitl_enabled:
            return {}
        if self.aitl_selection == "feature":
            return {"loss_itl": itl_loss(output.features, pids, self.aitl_margin, self.aitl_distance)}
        streams = self._aitl_streams(output, attrs)
        check_batch(output.features, pids)
        feature_dist = pairwise_distance(output.features, self.aitl_distance)
        return {
            f"loss_aitl_{stream}": intra_identity_triplet(
                feature_dist, self._selection_distance(output, attrs, stream), pids, self.aitl_margin, self.include_anchor
            )
            for stream in streams
        }

    def _aitl_streams(self, output: ReIDOutput, attrs: Optional[torch.Tensor]) -> Tuple[str, ...]:
        """The attribute groups AITL runs on: the model's streams, or for the oracle every annotated group."""
        if self.aitl_selection == "annotated":
            if attrs is None:
                raise ValueError("loss.aitl.selection='annotated' needs the batch's attribute labels (attrs), got None")
            return tuple(stream for stream in STREAM_GROUPS if self.schema.indices(stream))
        if not output.attr_logits:
            raise ValueError(
                f"loss.aitl.selection='{self.aitl_selection}' needs attribute predictions, but the model returned no "
                "attr_logits. Use a model with an attribute stream (model.asta.id_relevant_stream / "
                "model.asta.id_irrelevant_stream), or set loss.aitl.selection to 'annotated' (oracle) or "
                "'feature' (ITL), or loss.aitl.enabled=False."
            )
        return tuple(stream for stream in STREAM_GROUPS if stream in output.attr_logits)

    def _selection_distance(self, output: ReIDOutput, attrs: Optional[torch.Tensor], stream: str) -> torch.Tensor:
        """``[N, N]`` distance that picks one stream's far and near positives (never differentiated).

        The placebo permutes with torch's global generator, whose state checkpoints carry, so a
        resumed run draws the same permutations.
        """
        if self.aitl_selection == "annotated":
            assert attrs is not None  # checked by _aitl_streams
            return true_attribute_distance(group_labels(attrs, self.schema, stream)).to(output.features.device)
        vectors = self._attribute_vector(output.attr_logits[stream].detach(), stream)
        if self.aitl_selection == "shuffled":
            vectors = vectors[torch.randperm(vectors.shape[0]).to(vectors.device, non_blocking=True)]
        return pairwise_distance(vectors, self.attribute_distance)

    def _attribute_vector(self, logits: torch.Tensor, stream: str) -> torch.Tensor:
        """The prediction vector AITL compares: class probabilities (paper) or raw logits (released).

        Probabilities follow the head's loss: per-unit sigmoid for BCE, a softmax over each
        attribute's block of units for the softmax form.
        """
        if self.attribute_input == "logits":
            return logits
        x = at_least_float32(logits)
        if self.attribute_form == "bce":
            return torch.sigmoid(x)
        return torch.cat([x[:, block].softmax(1) for _, block in self.schema.blocks(stream)], 1)

    @torch.no_grad()
    def selection_diagnostics(self, output: ReIDOutput, pids: torch.Tensor, attrs: torch.Tensor
                              ) -> Dict[str, torch.Tensor]:
        """Does AITL pick, by predicted attributes, the positive the TRUE attributes would pick as farthest?

        Per stream: ``aitl_agree_<s>`` anchors whose chosen far positive is among the truly farthest,
        ``aitl_chance_<s>`` the expected count for a random choice, ``aitl_anchors_<s>`` the anchors
        whose candidates are not all equally far in true attributes (see :func:`selection_agreement`), each a
        0-dim tensor on the device.
        """
        out: Dict[str, torch.Tensor] = {}
        for stream, logits in output.attr_logits.items():
            predicted = pairwise_distance(self._attribute_vector(logits.detach(), stream), self.attribute_distance)
            true = true_attribute_distance(group_labels(attrs, self.schema, stream))
            agree, chance, anchors = selection_agreement(predicted, true, pids, self.include_anchor)
            out.update({f"aitl_agree_{stream}": agree, f"aitl_chance_{stream}": chance, f"aitl_anchors_{stream}": anchors})
        return out

    def _attribute_terms(self, output: ReIDOutput, attrs: Optional[torch.Tensor]) -> Dict[str, torch.Tensor]:
        if not output.attr_logits:
            raise ValueError(
                "loss.attribute.enabled=True, but the model returned no attr_logits; set "
                "loss.attribute.enabled=False for a model without attribute streams."
            )
        if attrs is None:
            raise ValueError("loss.attribute.enabled=True needs the batch's attribute labels (attrs), got None")
        return attribute_loss_per_stream(output.attr_logits, attrs, self.schema, self.attribute_form)


def unified_loss_kwargs(cfg: Any) -> Dict[str, Any]:
    """Keyword arguments of :class:`UnifiedLoss` from the config's ``loss`` section."""
    loss = cfg.loss
    return dict(
        label_smooth=LABEL_SMOOTH_EPSILON if loss.softmax.label_smooth else 0.0,
        triplet_margin=loss.triplet.margin,
        triplet_distance=loss.triplet.distance,
        weight_t=loss.triplet.weight_t,
        weight_x=loss.triplet.weight_x,
        aitl_enabled=loss.aitl.enabled,
        aitl_weight=loss.aitl.weight,
        aitl_margin=loss.aitl.margin,
        aitl_selection=loss.aitl.selection,
        aitl_distance=loss.aitl.distance,
        attribute_distance=loss.aitl.attribute_distance,
        attribute_input=loss.aitl.attribute_input,
        include_anchor=loss.aitl.include_anchor,
        average_triplets=loss.aitl.average_triplets,
        attribute_enabled=loss.attribute.enabled,
        attribute_weight=loss.attribute.weight,
        attribute_form=loss.attribute.type,
    )


def build_unified_loss(cfg: Any, schema: AttributeSchema) -> UnifiedLoss:
    """The unified loss configured by ``cfg.loss`` for attributes described by ``schema``."""
    return UnifiedLoss(schema, **unified_loss_kwargs(cfg))

"""Losses of the unified objective (paper Eq. 4): AITL / ITL, batch-hard triplet, label-smoothed
cross-entropy and the masked attribute BCE, plus the DVDP diagnostic (Eq. 1)."""
from .attribute import (
    ATTRIBUTE_LOSSES, AttributeLoss, attribute_loss, attribute_loss_per_stream, prior_attribute_loss,
    prior_logits,
)
from .cross_entropy import CrossEntropyLabelSmooth, cross_entropy_label_smooth
from .distances import DISTANCES, cosine_distance, euclidean_distance, pairwise_distance, same_identity_mask
from .intra_identity import (
    AITLLoss, ITLLoss, aitl_loss, dvdp, itl_loss, select_far_near, selection_agreement, true_attribute_distance,
)
from .triplet import BatchHardTripletLoss, batch_hard_triplet_loss
from .unified import UnifiedLoss, build_unified_loss, unified_loss_kwargs

__all__ = [
    "ATTRIBUTE_LOSSES", "AITLLoss", "AttributeLoss", "BatchHardTripletLoss", "CrossEntropyLabelSmooth", "DISTANCES", "ITLLoss",
    "UnifiedLoss", "aitl_loss", "attribute_loss", "attribute_loss_per_stream", "batch_hard_triplet_loss",
    "build_unified_loss", "cosine_distance", "cross_entropy_label_smooth", "dvdp", "euclidean_distance",
    "itl_loss", "pairwise_distance", "prior_attribute_loss", "prior_logits", "same_identity_mask", "select_far_near",
    "selection_agreement", "true_attribute_distance", "unified_loss_kwargs",
]

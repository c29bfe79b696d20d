"""Synthetic MARS: procedurally rendered pedestrians in torchreid's exact MARS layout, with attributes.

The built-in demo and benchmark: identities whose attribute labels (mars_v2 schema) are drawn
visibly, hidden per-identity detail that keeps look-alikes apart, and per-tracklet conditions
(action, angle, occlusion, cut, crowding, scale, target errors) that change appearance, seen
through cameras with their own scenes and colour response.
"""
from .generate import SyntheticSummary, ensure_synthetic_mars, generate_synthetic_mars, synthetic_kwargs_from_config, tree_status
from .palette import ACTION_NAMES, AGE_NAMES, ANGLE_NAMES, DOWN_COLOR_NAMES, UP_COLOR_NAMES

__all__ = [
    "SyntheticSummary", "ensure_synthetic_mars", "generate_synthetic_mars", "synthetic_kwargs_from_config", "tree_status",
    "ACTION_NAMES", "AGE_NAMES", "ANGLE_NAMES", "DOWN_COLOR_NAMES", "UP_COLOR_NAMES",
]

"""Class names and colours of the MARS attributes, and the label priors the generator samples from.

Colour lists (second-release MARS ``upcolor`` 9 classes, ``downcolor`` 10 classes) follow the MARS
attribute annotation papers as we recall them; no copy of the release's README is available here.
The order is supported by the real first-release CSV (``../shared/data/mars_meta``): its most
frequent top class is index 5 (white) then 0 (black), its most frequent bottom classes are 2
(black), 7 (blue, jeans) and 4 (gray), and bottom purple (1) is almost never used. The same CSV
fixes the binary conventions: ``hair`` 1 = long (81% of ``gender`` 1, 1% of ``gender`` 0), so
``gender`` 1 = female; ``btype`` 0 occurs only for females, so 0 = dress/skirt, 1 = trousers;
``up`` 1 covers 94% of the (summer) tracklets, so 1 = short sleeves, and ``down`` follows it.
The identity-irrelevant class names (``action``, ``angle``) are also recalled, not verified;
the renderer only needs them to be used consistently.
"""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

BGR = Tuple[int, int, int]

UP_COLOR_NAMES: Tuple[str, ...] = (
    "black", "purple", "green", "blue", "gray", "white", "yellow", "red", "complex",
)
DOWN_COLOR_NAMES: Tuple[str, ...] = (
    "white", "purple", "black", "green", "gray", "pink", "yellow", "blue", "brown", "complex",
)
AGE_NAMES: Tuple[str, ...] = ("child", "teenager", "adult", "old")
ACTION_NAMES: Tuple[str, ...] = ("walking", "running", "riding", "standing", "various")
ANGLE_NAMES: Tuple[str, ...] = ("front", "lateral-front", "lateral", "lateral-back", "back", "various")

COMPLEX = "complex"

# Base BGR colour of each named clothing colour; identities get a jittered shade of it.
COLOR_BGR: Dict[str, BGR] = {
    "black": (32, 30, 30),
    "white": (228, 230, 232),
    "red": (40, 36, 196),
    "purple": (130, 48, 118),
    "yellow": (44, 208, 226),
    "gray": (128, 126, 124),
    "blue": (168, 84, 34),
    "green": (58, 142, 52),
    "brown": (42, 74, 118),
    "pink": (178, 150, 238),
}

SKIN_BGR: Tuple[BGR, ...] = (
    (178, 200, 236), (150, 178, 222), (124, 158, 205), (96, 128, 178), (70, 96, 140), (52, 72, 104),
)
HAIR_BGR: Tuple[BGR, ...] = ((20, 20, 24), (28, 34, 52), (30, 52, 92), (60, 90, 140), (48, 44, 44))
OLD_HAIR_BGR: Tuple[BGR, ...] = ((170, 170, 172), (200, 202, 204), (140, 142, 146))
ACCESSORY_BGR: Tuple[BGR, ...] = (
    (20, 20, 20), (40, 60, 110), (120, 60, 30), (50, 50, 150), (70, 110, 60), (150, 150, 150),
    (30, 120, 190), (110, 40, 90), (200, 200, 200),
)

# Label counts of the first-release MARS attribute CSV (16360 tracklets), in class order.
_MARS_V1_COUNTS: Dict[str, Sequence[int]] = {
    "upcolor": (2861, 578, 1367, 1255, 1695, 4276, 1053, 1768, 1507),
    "downcolor": (1087, 15, 6573, 265, 2599, 487, 113, 2904, 1510, 807),
    "age": (104, 13161, 2837, 258),
    "up": (1026, 15334),
    "down": (6385, 9975),
    "bag": (12220, 4140),
    "backpack": (12267, 4093),
    "hat": (15808, 552),
    "handbag": (13820, 2540),
}


def _halfway_to_uniform(counts: Sequence[int]) -> Tuple[float, ...]:
    total = float(sum(counts))
    k = len(counts)
    return tuple(0.5 * c / total + 0.5 / k for c in counts)


# Real MARS label frequencies blended halfway towards uniform, so that rare classes (hat, child,
# purple trousers) still occur in a demo with a few dozen identities.
ATTRIBUTE_PRIORS: Dict[str, Tuple[float, ...]] = {
    name: _halfway_to_uniform(counts) for name, counts in _MARS_V1_COUNTS.items()
}
P_FEMALE = 0.42  # 6771 / 16360 in the real CSV
P_LONG_HAIR = {0: 0.08, 1: 0.8}  # by gender (real: 0.01 and 0.81)
P_SKIRT_FEMALE = 0.33  # btype 0 among females (real: 2249 / 6771); never for males

# Carried items that a person does not carry in every tracklet: the per-tracklet chance that the item
# is drawn afresh from its prior instead of taken from the identity. In the second MARS release the hand
# bag is the one identity-relevant attribute that changes within identities (within-identity ratio 0.17,
# `python -m aitl_reid.data.attribute_variation`); a fresh draw with chance c gives the ratio c(2 - c).
CARRY_CHANGE: Dict[str, float] = {"handbag": 0.089}  # keys: labels that are also the Look field drawing the item

# Priors of the identity-irrelevant labels: mostly clean, walking tracklets, as in MARS.
ACTION_PRIOR = (0.52, 0.12, 0.1, 0.16, 0.1)
ANGLE_PRIOR = (0.2, 0.16, 0.18, 0.14, 0.2, 0.12)
FLAG_PRIOR: Dict[str, float] = {
    "occlusion": 0.2,
    "cut": 0.14,
    "multi-person": 0.14,
    "back-dominant": 0.1,
    "target-change": 0.06,
    "target-miss": 0.06,
    "wrong-target": 0.06,
}

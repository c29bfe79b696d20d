"""Identities: their identity-relevant attribute labels and the full look the renderer draws.

A look holds more than the labels: the exact shade of each garment, skin and hair tone, body
proportions, a small chest emblem and the shoe colour. No attribute records these, so two
identities with identical labels still look different, as real people do.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Sequence, Tuple

import numpy as np

from ..schema import ID_RELEVANT, MARS_V2
from .palette import (
    ACCESSORY_BGR, ATTRIBUTE_PRIORS, BGR, CARRY_CHANGE, COLOR_BGR, COMPLEX, DOWN_COLOR_NAMES, HAIR_BGR,
    OLD_HAIR_BGR, P_FEMALE, P_LONG_HAIR, P_SKIRT_FEMALE, SKIN_BGR, UP_COLOR_NAMES,
)

ID_RELEVANT_NAMES: Tuple[str, ...] = tuple(MARS_V2.names[i] for i in MARS_V2.indices(ID_RELEVANT))
NUM_EMBLEM_SHAPES = 6  # circle, square, triangle, diamond, horizontal bar, vertical bar


@dataclass(frozen=True)
class Look:
    """How to draw one person. Lengths are fractions of the person's height."""

    top: Tuple[BGR, ...]  # one colour, or two for a 'complex' (striped) top
    bottom: Tuple[BGR, ...]  # one colour, or two for a 'complex' (two-tone) bottom
    long_sleeves: bool
    long_bottom: bool
    skirt: bool
    shoulder_bag: bool
    backpack: bool
    hat: bool
    handbag: bool
    long_hair: bool
    female: bool
    age: int
    skin: BGR
    hair: BGR
    shoes: BGR
    hat_color: BGR
    bag_color: BGR
    backpack_color: BGR
    emblem_shape: int
    emblem_color: BGR
    emblem_offset: float  # lateral position on the chest
    emblem_size: float
    head_r: float
    neck: float
    torso: float
    shoulder_hw: float
    hip_hw: float
    limb_w: float
    stature: float  # fraction of the detection box height the person fills
    stoop: float  # forward lean of the upper body, radians


@dataclass(frozen=True)
class Identity:
    """Identity-relevant labels (schema name -> class index) and the look they were drawn with."""

    labels: Dict[str, int]
    look: Look


def _choice(rng: np.random.Generator, probs: Sequence[float]) -> int:
    return int(rng.choice(len(probs), p=np.asarray(probs) / np.sum(probs)))


def _shade(rng: np.random.Generator, base: BGR) -> BGR:
    """A personal shade of a named colour: brightness and tint jitter that keep the name right."""
    gain = rng.uniform(0.82, 1.12)
    return tuple(int(np.clip(c * gain + rng.normal(0.0, 9.0), 0, 255)) for c in base)  # type: ignore[return-value]


def _garment(rng: np.random.Generator, names: Sequence[str], label: int) -> Tuple[BGR, ...]:
    name = names[label]
    if name != COMPLEX:
        return (_shade(rng, COLOR_BGR[name]),)
    plain = [n for n in names if n != COMPLEX]
    first, second = rng.choice(len(plain), size=2, replace=False)
    return (_shade(rng, COLOR_BGR[plain[first]]), _shade(rng, COLOR_BGR[plain[second]]))


def _pick(rng: np.random.Generator, colours: Sequence[BGR]) -> BGR:
    return _shade(rng, colours[int(rng.integers(len(colours)))])


def sample_labels(rng: np.random.Generator) -> Dict[str, int]:
    """Identity-relevant labels with the real dependencies: long hair and skirts go with gender."""
    labels = {name: _choice(rng, prior) for name, prior in ATTRIBUTE_PRIORS.items()}
    female = int(rng.random() < P_FEMALE)
    labels["gender"] = female
    labels["hair"] = int(rng.random() < P_LONG_HAIR[female])
    labels["btype"] = 0 if female and rng.random() < P_SKIRT_FEMALE else 1
    return {name: labels[name] for name in ID_RELEVANT_NAMES}


def look_for(labels: Dict[str, int], rng: np.random.Generator) -> Look:
    """Draw the hidden identity detail around fixed labels."""
    female = labels["gender"] == 1
    age = labels["age"]
    child = age == 0
    head_r = rng.uniform(0.08, 0.09) if child else rng.uniform(0.058, 0.07)
    build = rng.uniform(0.9, 1.1)
    hair_pool = OLD_HAIR_BGR if age == 3 else HAIR_BGR
    return Look(
        top=_garment(rng, UP_COLOR_NAMES, labels["upcolor"]),
        bottom=_garment(rng, DOWN_COLOR_NAMES, labels["downcolor"]),
        long_sleeves=labels["up"] == 0,
        long_bottom=labels["down"] == 0,
        skirt=labels["btype"] == 0,
        shoulder_bag=labels["bag"] == 1,
        backpack=labels["backpack"] == 1,
        hat=labels["hat"] == 1,
        handbag=labels["handbag"] == 1,
        long_hair=labels["hair"] == 1,
        female=female,
        age=age,
        skin=_pick(rng, SKIN_BGR),
        hair=_pick(rng, hair_pool),
        shoes=_pick(rng, ACCESSORY_BGR),
        hat_color=_pick(rng, ACCESSORY_BGR),
        bag_color=_pick(rng, ACCESSORY_BGR),
        backpack_color=_pick(rng, ACCESSORY_BGR),
        emblem_shape=int(rng.integers(NUM_EMBLEM_SHAPES)),
        emblem_color=tuple(int(c) for c in rng.integers(0, 256, 3)),  # type: ignore[arg-type]
        emblem_offset=rng.uniform(-0.05, 0.05),
        emblem_size=rng.uniform(0.028, 0.045),
        head_r=head_r,
        neck=rng.uniform(0.015, 0.03),
        torso=rng.uniform(0.27, 0.33),
        shoulder_hw=build * (rng.uniform(0.085, 0.1) if female else rng.uniform(0.105, 0.125)),
        hip_hw=build * (rng.uniform(0.085, 0.1) if female else rng.uniform(0.07, 0.082)),
        limb_w=build * rng.uniform(0.04, 0.05),
        stature=(rng.uniform(0.66, 0.76) if child else 1.0) * rng.uniform(0.92, 1.0),
        stoop=rng.uniform(0.12, 0.22) if age == 3 else rng.uniform(0.0, 0.05),
    )


def sample_identity(rng: np.random.Generator) -> Identity:
    """A new identity: labels from the MARS-like priors, then its look."""
    labels = sample_labels(rng)
    return Identity(labels, look_for(labels, rng))


def sample_carried(rng: np.random.Generator) -> Tuple[Tuple[str, int], ...]:
    """The carried items one tracklet draws afresh (``CARRY_CHANGE``), as ``(label, class)`` pairs."""
    out = []
    for name, change in CARRY_CHANGE.items():
        if rng.random() < change:
            out.append((name, _choice(rng, ATTRIBUTE_PRIORS[name])))
    return tuple(out)


def with_carried(look: Look, carried: Sequence[Tuple[str, int]]) -> Look:
    """The identity's look with the tracklet's own carried items (each label names the Look field that draws it)."""
    return replace(look, **{name: value == 1 for name, value in carried})

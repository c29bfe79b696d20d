"""Attribute schemas: which attributes an annotation release has, their classes and their stream.

A schema is the single source of truth shared by the CSV reader (column order and class checks),
the model (classifier sizes per stream), the attribute loss (one-hot targets per stream) and the
attribute metrics. It sits at the bottom of the package: it imports nothing from ``aitl_reid``, so
``data``, ``models``, ``losses`` and ``metrics`` all depend on it and not on each other.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import torch

ID_RELEVANT = "id_relevant"
ID_IRRELEVANT = "id_irrelevant"
STREAM_GROUPS: Tuple[str, str] = (ID_RELEVANT, ID_IRRELEVANT)
_SHOWN_HEADER = 200  # characters of a header quoted in a message (a broken file's "header" may be huge)


class SchemaError(ValueError):
    """A header or a schema definition does not describe a usable attribute release."""


def describe_header(header: Sequence[str]) -> str:
    """A header as a quoted CSV line for messages, cut after a few hundred characters."""
    line = ",".join(h.strip() for h in header)
    return repr(line if len(line) <= _SHOWN_HEADER else line[:_SHOWN_HEADER] + "...")


@dataclass(frozen=True)
class AttributeSchema:
    """Ordered attributes of one annotation release (CSV columns after the three key columns).

    ``columns`` are the attribute column names exactly as the release's CSV header spells them;
    ``names`` are the short names that reports, tables and the synthetic generator use (the paper's
    ``upcolor``, ``action``, ...). A schema given without ``columns`` uses its names as columns.
    """

    name: str
    names: Tuple[str, ...]
    num_classes: Tuple[int, ...]
    groups: Tuple[str, ...]
    key_columns: Tuple[str, str, str]
    columns: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.names)
        if not self.columns:
            object.__setattr__(self, "columns", tuple(self.names))
        if not (len(self.num_classes) == len(self.groups) == len(self.columns) == n):
            raise SchemaError(
                f"schema '{self.name}': names ({n}), columns ({len(self.columns)}), num_classes "
                f"({len(self.num_classes)}) and groups ({len(self.groups)}) must have the same length"
            )
        if len(self.key_columns) != 3:
            raise SchemaError(f"schema '{self.name}': key_columns must name 3 columns (person, camera, tracklet)")
        for column in list(self.key_columns) + list(self.columns) + list(self.names):
            if not isinstance(column, str):
                raise SchemaError(f"schema '{self.name}': column names must be strings, got {column!r}")
        for attr, group in zip(self.names, self.groups):
            if group not in STREAM_GROUPS:
                raise SchemaError(f"schema '{self.name}': attribute '{attr}' has group '{group}', expected one of {STREAM_GROUPS}")
        for attr, k in zip(self.names, self.num_classes):
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
                raise SchemaError(f"schema '{self.name}': attribute '{attr}' needs an integer of at least 2 classes, got {k!r}")

    @property
    def header(self) -> List[str]:
        """The CSV header this schema expects, as the release spells it."""
        return list(self.key_columns) + list(self.columns)

    def indices(self, group: str) -> List[int]:
        """Positions (in schema order) of the attributes of one stream group."""
        return [i for i, g in enumerate(self.groups) if g == group]

    def classes(self, group: str) -> List[int]:
        """Class counts of the attributes of one stream group, in schema order."""
        return [self.num_classes[i] for i in self.indices(group)]

    def total_classes(self, group: str) -> int:
        """Length of a stream's one-hot target / classifier output (0 if the group is empty)."""
        return sum(self.classes(group))

    def blocks(self, group: str) -> List[Tuple[int, slice]]:
        """``(column, slice of the stream's logits)`` per attribute of ``group``: its block of class units."""
        out, offset = [], 0
        for col in self.indices(group):
            k = self.num_classes[col]
            out.append((col, slice(offset, offset + k)))
            offset += k
        return out

    def predict(self, logits: torch.Tensor, group: str, form: str = "softmax") -> Tuple[torch.Tensor, torch.Tensor]:
        """Per-attribute predicted class and its probability, both ``[B, len(indices(group))]``.

        The class is the argmax of the attribute's block of logits; ``form`` is the loss the head was
        trained with and so says how a probability is read: ``"softmax"`` over the block, or
        ``"bce"``, the sigmoid of the winning unit.
        """
        classes, probs = [], []
        for _, block in self.blocks(group):
            part = logits[:, block].float()
            value, index = part.max(1)
            classes.append(index)
            probs.append(part.softmax(1).gather(1, index.unsqueeze(1)).squeeze(1) if form == "softmax" else value.sigmoid())
        if not classes:
            empty = logits.new_zeros((logits.shape[0], 0))
            return empty.long(), empty.float()
        return torch.stack(classes, 1), torch.stack(probs, 1)

    def one_hot(self, attrs: torch.Tensor, group: str) -> Tuple[torch.Tensor, torch.Tensor]:
        """One-hot targets ``[B, total_classes(group)]`` and a validity mask of the same shape.

        ``attrs`` is ``[B, len(names)]`` with -1 for a missing annotation; the mask is 0 over
        every output unit of a missing attribute, so it is never trained as class 0.
        """
        cols = self.indices(group)
        parts, masks = [], []
        for col in cols:
            k = self.num_classes[col]
            value = attrs[:, col]
            valid = value >= 0
            parts.append(torch.nn.functional.one_hot(value.clamp(min=0), k).to(torch.float32))
            masks.append(valid.unsqueeze(1).expand(-1, k).to(torch.float32))
        if not parts:
            empty = attrs.new_zeros((attrs.shape[0], 0), dtype=torch.float32)
            return empty, empty
        return torch.cat(parts, 1), torch.cat(masks, 1)

    def check_batch(self, attr_logits: Dict[str, torch.Tensor], attrs: torch.Tensor) -> None:
        """Raise a ValueError unless ``attrs`` is ``[B, len(names)]`` and each stream's logits ``[B, width]``."""
        if attrs.dim() != 2 or attrs.shape[1] != len(self.names):
            raise ValueError(
                f"attrs must be [B, {len(self.names)}] (one column per attribute of schema '{self.name}'), "
                f"got shape {tuple(attrs.shape)}"
            )
        for stream, logits in attr_logits.items():
            if stream not in STREAM_GROUPS:
                raise ValueError(f"unknown attribute stream '{stream}', expected one of {STREAM_GROUPS}")
            width = self.total_classes(stream)
            if tuple(logits.shape) != (attrs.shape[0], width):
                raise ValueError(
                    f"attr_logits['{stream}'] must be [{attrs.shape[0]}, {width}] for schema '{self.name}', "
                    f"got shape {tuple(logits.shape)}"
                )


# Released CSV column -> the paper's short name (NOTES.md). One mapping for every release, so the
# same attribute has the same name in reports whichever file it came from.
SHORT_NAMES: Dict[str, str] = {
    # identity-irrelevant (second release, MARS and Duke; Duke spells "muti-person")
    "motion": "action", "pose": "angle", "cut-out": "cut", "muti-person": "multi-person",
    "background-dominant": "back-dominant",
    # identity-relevant, second release
    "top color": "upcolor", "bottom color": "downcolor", "top length": "up", "bottom length": "down",
    "shoulder bag": "bag", "hand bag": "handbag", "bottom type": "btype",
    # identity-relevant, first MARS release
    "Tops.c": "upcolor", "Bottoms.c": "downcolor", "Age": "age", "Tops.l": "up", "Bottoms.l": "down",
    "Bottoms.t": "btype",
}


def short_name(column: str) -> str:
    """The paper's short name of a released column (the column itself when it has none)."""
    return SHORT_NAMES.get(column, column)


# Each release exactly as published (../shared/data/mars_meta/README.md): key columns, then
# (column, number of classes) per attribute group in file order.
_V2_KEYS = ("person_id", "camera_id", "tracklets_id")
_V2_IRRELEVANT = (
    ("motion", 5), ("pose", 6), ("occlusion", 2), ("cut-out", 2), ("multi-person", 2),
    ("background-dominant", 2), ("target-change", 2), ("target-miss", 2), ("wrong-target", 2),
)
_DUKE_V2_IRRELEVANT = tuple(("muti-person", k) if col == "multi-person" else (col, k) for col, k in _V2_IRRELEVANT)
_MARS_V2_RELEVANT = (
    ("top color", 9), ("bottom color", 10), ("age", 4), ("top length", 2), ("bottom length", 2),
    ("shoulder bag", 2), ("backpack", 2), ("hat", 2), ("hand bag", 2), ("hair", 2), ("gender", 2),
    ("bottom type", 2),
)
_DUKE_V2_RELEVANT = (
    ("backpack", 2), ("bag", 2), ("handbag", 2), ("boots", 2), ("gender", 2), ("hat", 2), ("shoes", 2),
    ("top", 2), ("bottom color", 8), ("top color", 9),
)
_MARS_V1_RELEVANT = (
    ("Tops.c", 9), ("Bottoms.c", 10), ("Age", 4), ("Tops.l", 2), ("Bottoms.l", 2),
    ("shoulder bag", 2), ("backpack", 2), ("hat", 2), ("handbag", 2), ("hair", 2),
    ("gender", 2), ("Bottoms.t", 2),
)


def _make(name: str, keys: Sequence[str], groups: Sequence[Tuple[str, Sequence[Tuple[str, int]]]]) -> AttributeSchema:
    columns, classes, group_of = [], [], []
    for group, attrs in groups:
        for column, k in attrs:
            columns.append(column)
            classes.append(k)
            group_of.append(group)
    names = tuple(short_name(c) for c in columns)
    return AttributeSchema(name, names, tuple(classes), tuple(group_of), tuple(keys), tuple(columns))  # type: ignore[arg-type]


# Second release: identity-irrelevant columns first, then identity-relevant (NOTES.md order).
MARS_V2 = _make("mars_v2", _V2_KEYS, [(ID_IRRELEVANT, _V2_IRRELEVANT), (ID_RELEVANT, _MARS_V2_RELEVANT)])
DUKE_V2 = _make("duke_v2", _V2_KEYS, [(ID_IRRELEVANT, _DUKE_V2_IRRELEVANT), (ID_RELEVANT, _DUKE_V2_RELEVANT)])
MARS_V1 = _make("mars_v1", ("person-id", "camera", "tracklet"), [(ID_RELEVANT, _MARS_V1_RELEVANT)])

BUILTIN_SCHEMAS: Dict[str, AttributeSchema] = {s.name: s for s in (MARS_V1, MARS_V2, DUKE_V2)}
DEFAULT_SCHEMA = MARS_V2


def get_schema(name: str) -> AttributeSchema:
    """A built-in schema by name."""
    if name not in BUILTIN_SCHEMAS:
        raise KeyError(f"unknown attribute schema '{name}'; built-in schemas: {sorted(BUILTIN_SCHEMAS)}")
    return BUILTIN_SCHEMAS[name]


def clean_header(header: Sequence[str]) -> List[str]:
    """Header cells as compared with a schema: a byte-order mark and surrounding spaces dropped."""
    return [h.replace("\ufeff", "").strip() for h in header]


def detect_schema(header: Sequence[str], source: str = "attribute CSV") -> AttributeSchema:
    """The built-in schema whose released header equals ``header`` (BOM and surrounding spaces ignored)."""
    cleaned = clean_header(header)
    for schema in BUILTIN_SCHEMAS.values():
        if cleaned == schema.header:
            return schema
    known = "\n".join(f"  {s.name}: {','.join(s.header)}" for s in BUILTIN_SCHEMAS.values())
    raise SchemaError(
        f"{source}: unknown header {describe_header(header)}. Known headers:\n{known}\n"
        "For another release set attributes.schema 'custom' and attributes.custom_* in the config."
    )

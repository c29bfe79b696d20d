"""Attribute search: rank the people of a run by the predicted probability of the asked attribute values.

A query is ``NAME=VALUE``: NAME an attribute as the released CSV column spells it (``top color``) or by its
short name (``upcolor``), VALUE a class index as released. The released CSVs carry no value names, so none
(no colour name) is guessed here. Several queries rank by the product of their probabilities (the values taken
as independent). Reads ``OUT/people.json``; no model is needed.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..inference.inputs import InputError
from .pipeline import PEOPLE_FILE


@dataclass(frozen=True)
class Query:
    """One asked value: the attribute's schema name and the class index."""

    name: str
    value: int


@dataclass(frozen=True)
class Match:
    """A person's place in the ranking."""

    person: int
    score: float
    probabilities: Tuple[float, ...]  # per query
    tracklets: Tuple[Tuple[str, int], ...]  # (camera, track)


def read_people(out: str) -> dict:
    path = os.path.join(out, PEOPLE_FILE)
    if not os.path.isfile(path):
        raise InputError(f"{path} not found: run aitl-reid-track with --out {out} first")
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
        payload["schema"]["names"], payload["people"]  # noqa: B018  (the keys search reads)
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"{path}: not a people file of aitl-reid-track ({err})") from None
    return payload


def parse_query(text: str, schema: dict) -> Query:
    """``NAME=VALUE`` -> :class:`Query`; an unknown name or value names the valid ones."""
    names, columns, classes = schema["names"], schema["columns"], schema["num_classes"]
    lookup: Dict[str, int] = {}
    for index, (name, column) in enumerate(zip(names, columns)):
        lookup[name.lower()] = lookup[column.lower()] = index
    if "=" not in text:
        raise InputError(f"query {text!r}: expected NAME=VALUE, e.g. '{columns[0]}=1'")
    name, _, value = (part.strip() for part in text.rpartition("="))
    if name.lower() not in lookup:
        valid = ", ".join(f"{c} ({n})" if c != n else n for n, c in zip(names, columns))
        raise InputError(f"query {text!r}: unknown attribute '{name}'. Attributes (released column (short name)): {valid}")
    index = lookup[name.lower()]
    if not value.isdigit() or int(value) >= classes[index]:
        raise InputError(f"query {text!r}: '{columns[index]}' takes a class index 0-{classes[index] - 1} as released "
                         f"(the released files name no values), got {value!r}")
    return Query(names[index], int(value))


def rank(payload: dict, queries: Sequence[Query]) -> List[Match]:
    """People by the product of the asked values' probabilities, most probable first (ties by person number)."""
    matches = []
    for person in payload["people"]:
        probs = tuple(float(person["attributes"][q.name][q.value]) for q in queries)
        tracklets = tuple((t["camera"], int(t["track"])) for t in person["tracklets"])
        matches.append(Match(int(person["person"]), float(np.prod(probs)), probs, tracklets))
    return sorted(matches, key=lambda m: (-m.score, m.person))

"""How often each attribute changes among the tracklets of one identity, from any attribute CSV.

The paper's premise is that identity-irrelevant attributes (pose, background, ...) vary within an
identity and so put its positives far apart, while identity-relevant ones (clothes, gender) do not.
This measures that premise on a file, so a synthetic set can be compared with the real release.
Two figures per attribute:

- the share of identities whose tracklets disagree on it (it grows with the number of tracklets
  per identity and with how balanced the classes are, so it compares files of alike size only);
- the within-identity ratio: the share of pairs of tracklets of one identity that disagree,
  divided by the share of pairs of any two tracklets that disagree. It does not depend on the
  number of tracklets or on the class frequencies: about 1 for a label drawn afresh per tracklet,
  0 for one fixed per identity.

    python -m aitl_reid.data.attribute_variation ../shared/data/mars_meta/mars_attributes_v2.csv \\
        datasets/synthetic/mars/mars_attributes.csv
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from ..process_exit import finish
from ..schema import STREAM_GROUPS
from .attributes_csv import MISSING, AttributeTable, read_attribute_csv
from .file_checks import DatasetFileError

MIN_TRACKLETS = 2  # an identity seen once cannot show a change


@dataclass(frozen=True)
class AttributeVariation:
    """One attribute: in how many identities (annotated on ``MIN_TRACKLETS``+ tracklets) it takes 2+ values."""

    name: str
    group: str
    varying: int
    identities: int
    within_ratio: float  # P(two tracklets of one identity disagree) / P(any two tracklets disagree)

    @property
    def share(self) -> float:
        """Fraction of the counted identities in which the attribute varies (NaN when none counted)."""
        return self.varying / self.identities if self.identities else float("nan")


def _disagreeing_pairs(counts: np.ndarray) -> Tuple[float, float]:
    """(pairs that disagree, all pairs) among values with these class counts."""
    n = float(counts.sum())
    pairs = n * (n - 1) / 2
    return pairs - float((counts * (counts - 1) / 2).sum()), pairs


def within_identity_ratio(values_by_identity: Sequence[Sequence[int]]) -> float:
    """Disagreement of same-identity tracklet pairs over that of all pairs (NaN when undefined)."""
    everything = np.bincount(np.concatenate([np.asarray(v, dtype=np.int64) for v in values_by_identity]))
    disagree, pairs = 0.0, 0.0
    for values in values_by_identity:
        d, p = _disagreeing_pairs(np.bincount(np.asarray(values, dtype=np.int64)))
        disagree, pairs = disagree + d, pairs + p
    overall_disagree, overall_pairs = _disagreeing_pairs(everything)
    if pairs == 0 or overall_disagree == 0:
        return float("nan")
    return (disagree / pairs) / (overall_disagree / overall_pairs)


def identity_variation(table: AttributeTable, min_tracklets: int = MIN_TRACKLETS) -> List[AttributeVariation]:
    """Per attribute, in schema order: identities whose annotated tracklets disagree, out of those with
    at least ``min_tracklets`` annotated tracklets (a ``-1`` cell is not a value)."""
    values: List[Dict[int, List[int]]] = [defaultdict(list) for _ in table.schema.names]
    for (pid, _, _), attrs in table.rows.items():
        for column, value in enumerate(attrs):
            if value != MISSING:
                values[column][pid].append(value)
    out = []
    for column, (name, group) in enumerate(zip(table.schema.names, table.schema.groups)):
        counted = [v for v in values[column].values() if len(v) >= min_tracklets]
        varying = sum(len(set(v)) > 1 for v in counted)
        ratio = within_identity_ratio(counted) if counted else float("nan")
        out.append(AttributeVariation(name, group, varying, len(counted), ratio))
    return out


def variation_markdown(tables: Sequence[Tuple[str, List[AttributeVariation]]]) -> str:
    """A markdown table, one row per attribute (short name; first file's order), one column per file."""
    order: List[Tuple[str, str]] = []
    known: Set[str] = set()
    for _, rows in tables:
        for row in rows:
            if row.name not in known:
                known.add(row.name)
                order.append((row.name, row.group))
    order.sort(key=lambda item: STREAM_GROUPS.index(item[1]), reverse=True)  # identity-irrelevant first
    lookup = [{row.name: row for row in rows} for _, rows in tables]
    lines = ["| attribute | stream | " + " | ".join(label for label, _ in tables) + " |",
             "| --- | --- | " + " | ".join("---:" for _ in tables) + " |"]
    for name, group in order:
        cells = []
        for rows in lookup:
            row = rows.get(name)
            if row is None or not row.identities:
                cells.append("—")
            else:
                ratio = "—" if math.isnan(row.within_ratio) else f"{row.within_ratio:.2f}"
                cells.append(f"{100 * row.share:.1f}% ({row.varying}/{row.identities}), {ratio}")
        lines.append(f"| {name} | {group} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", nargs="+", help="attribute CSVs (any release the schemas know)")
    parser.add_argument("--labels", nargs="+", default=None, help="column titles, one per CSV (default: file names)")
    parser.add_argument("--min-tracklets", type=int, default=MIN_TRACKLETS,
                        help=f"count identities with at least this many annotated tracklets (default {MIN_TRACKLETS})")
    args = parser.parse_args(argv)
    if args.labels is not None and len(args.labels) != len(args.csv):
        parser.error(f"--labels needs one title per CSV ({len(args.csv)}), got {len(args.labels)}")
    if args.min_tracklets < 2:
        parser.error("--min-tracklets must be at least 2: one tracklet cannot show a change")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the within-identity variation table; status 2 naming the file when one cannot be read."""
    args = parse_args(argv)
    labels = args.labels or [os.path.basename(path) for path in args.csv]
    try:
        tables = [(label, identity_variation(read_attribute_csv(path), args.min_tracklets))
                  for label, path in zip(labels, args.csv)]
    except (DatasetFileError, OSError) as err:
        print(f"error: {err}")
        return 2
    print(f"Per file: share of identities (with {args.min_tracklets}+ annotated tracklets) whose tracklets disagree on "
          "the attribute, then the within-identity ratio (1: varies as freely within an identity as across "
          "identities; 0: fixed per identity).\n")
    print(variation_markdown(tables))
    return 0


if __name__ == "__main__":
    sys.exit(finish(main()))

"""Per-epoch training record (loss terms, mean DVDP, mAP/R1 when evaluated) as a CSV file.

The file drives the DVDP/mAP figure (Fig. 7). It is rewritten atomically on every update, so a
crash never leaves a half-written row, and an evaluation can fill in the row of its epoch later.
"""
from __future__ import annotations

import csv
from typing import Dict, List, Optional

from ..run_folder import read_metrics
from ..serialization import atomic_write

FIRST_COLUMNS = ["epoch"]
LAST_COLUMNS = ["dvdp", "mAP", "rank1"]


class EpochLog:
    """Rows keyed by epoch (1-based), columns grown as new terms appear.

    ``writable`` False keeps the rows in memory only (processes other than rank 0 under torchrun, and
    evaluate-only runs, which never write into the training record).
    """

    def __init__(self, path: str, writable: bool = True) -> None:
        self.path = path
        self.writable = writable
        self.rows: Dict[int, Dict[str, float]] = read_metrics(path)

    def update(self, epoch: int, values: Dict[str, float]) -> None:
        """Merge ``values`` into the row of ``epoch`` and rewrite the file."""
        self.rows.setdefault(epoch, {}).update({k: float(v) for k, v in values.items()})
        self._write()

    def truncate_after(self, epoch: int) -> None:
        """Drop the rows of epochs after ``epoch``: a run resumed from the checkpoint of ``epoch`` (or restarted from
        epoch 0 by ``model.resume auto`` before its first checkpoint) rewrites them, so none is kept twice or half."""
        later = [e for e in self.rows if e > epoch]
        for e in later:
            del self.rows[e]
        if later:
            self._write()

    def columns(self) -> List[str]:
        names = sorted({k for row in self.rows.values() for k in row} - set(LAST_COLUMNS))
        tail = [c for c in LAST_COLUMNS if any(c in row for row in self.rows.values())]
        return FIRST_COLUMNS + names + tail

    def _write(self) -> None:
        if not self.writable:
            return
        columns = self.columns()
        with atomic_write(self.path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for epoch in sorted(self.rows):
                writer.writerow({"epoch": epoch, **{k: _fmt(v) for k, v in self.rows[epoch].items()}})

    def get(self, epoch: int) -> Optional[Dict[str, float]]:
        return self.rows.get(epoch)


def _fmt(value: float) -> str:
    return f"{value:.6g}"

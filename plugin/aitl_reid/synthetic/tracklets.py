"""Which tracklets exist: identities, cameras, tracklet numbers, frame counts, splits and queries.

Names follow MARS: ``<pid 4 digits>C<cam>T<tracklet 4 digits>F<frame 3 digits>.jpg`` in the folder
``<pid 4 digits>`` (``0000`` for distractors, ``00-1`` for junk). Tracklet numbers count per
folder in camera order, so sorting frame names sorts tracklets by (folder, camera, number), the
order of the ``.mat`` rows.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .identity import sample_carried
from .scene import conditions_for_role

DISTRACTOR_PID, JUNK_PID = 0, -1
# SeedSequence spawn keys: one independent stream per purpose, so a tracklet renders the same
# whatever the number of workers or the order of work.
STREAM_IDENTITY, STREAM_CAMERA, STREAM_IDENTITY_LAYOUT, STREAM_CONDITIONS, STREAM_RENDER, STREAM_EXTRA = range(6)


def role_of(pid: int) -> str:
    """'identity', 'distractor' (pid 0) or 'junk' (pid -1)."""
    return {DISTRACTOR_PID: "distractor", JUNK_PID: "junk"}.get(pid, "identity")


def rng_for(seed: int, *key: int) -> np.random.Generator:
    """The random generator of one purpose (``key``) under a dataset seed."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key)))


@dataclass(frozen=True)
class TrackletSpec:
    """One tracklet to render and list. ``pid`` > 0 is an identity, 0 a distractor, -1 junk."""

    split: str  # "train" or "test"
    pid: int
    cam: int  # 1-based, as in the names
    number: int  # the T#### field
    num_frames: int
    conditions: Tuple[Tuple[str, int], ...]  # identity-irrelevant labels, schema order
    carried: Tuple[Tuple[str, int], ...] = ()  # identity-relevant labels this tracklet has of its own (a hand bag)

    @property
    def folder(self) -> str:
        return "00-1" if self.pid == JUNK_PID else f"{self.pid:04d}"

    @property
    def role(self) -> str:
        return role_of(self.pid)

    def frame_names(self) -> List[str]:
        stem = f"{self.folder}C{self.cam}T{self.number:04d}F"
        return [f"{stem}{i:03d}.jpg" for i in range(1, self.num_frames + 1)]


def _identity_cameras(rng: np.random.Generator, num_cams: int, count: int) -> List[int]:
    """Cameras of an identity's tracklets: at least two distinct cameras, some seen twice."""
    spread = int(rng.integers(2, min(num_cams, count) + 1))
    chosen = sorted(int(c) + 1 for c in rng.choice(num_cams, size=spread, replace=False))
    extra = [int(c) for c in rng.choice(chosen, size=count - spread)]
    return sorted(chosen + extra)


def _numbered(split: str, pid: int, cams: Sequence[int], frames: Sequence[int], seed: int) -> List[TrackletSpec]:
    """Specs of one folder's tracklets, numbered 1.. in camera order, with their conditions."""
    specs = []
    for number, (cam, n) in enumerate(zip(cams, frames), start=1):
        rng = rng_for(seed, STREAM_CONDITIONS, pid + 1, number)  # pid + 1: keys must be >= 0
        conditions = conditions_for_role(role_of(pid), rng, n)
        carried = sample_carried(rng) if role_of(pid) == "identity" else ()
        specs.append(TrackletSpec(split, pid, cam, number, n, tuple(conditions.items()), carried))
    return specs


def plan_tracklets(seed: int, num_ids: int, num_cams: int, tracklets_per_id: int, min_frames: int,
                   max_frames: int, num_distractors: int, num_junk: int) -> Dict[str, List[TrackletSpec]]:
    """Train and test tracklets, each list sorted in name order (the ``.mat`` row order).

    Identities 1..num_ids//2 are train, the rest test; distractors and junk are test only.
    """
    splits: Dict[str, List[TrackletSpec]] = {"train": [], "test": []}
    num_train = num_ids // 2
    for pid in range(1, num_ids + 1):
        rng = rng_for(seed, STREAM_IDENTITY_LAYOUT, pid)
        cams = _identity_cameras(rng, num_cams, tracklets_per_id)
        frames = [int(f) for f in rng.integers(min_frames, max_frames + 1, size=tracklets_per_id)]
        split = "train" if pid <= num_train else "test"
        splits[split].extend(_numbered(split, pid, cams, frames, seed))
    for pid, count in ((DISTRACTOR_PID, num_distractors), (JUNK_PID, num_junk)):
        rng = rng_for(seed, STREAM_EXTRA, pid + 1)
        cams = sorted(int(c) + 1 for c in rng.integers(0, num_cams, size=count))
        frames = [int(f) for f in rng.integers(min_frames, max_frames + 1, size=count)]
        splits["test"].extend(_numbered("test", pid, cams, frames, seed))
    for specs in splits.values():
        specs.sort(key=lambda s: s.frame_names()[0])
    return splits


def select_queries(test: Sequence[TrackletSpec]) -> List[int]:
    """0-based rows of ``test`` used as queries.

    Per identity, at most one query per camera and at most half of its tracklets; a query is
    kept only if every query of that identity still has a gallery tracklet of the same identity
    in another camera (the standard protocol ignores same-camera matches).
    """
    by_pid: Dict[int, List[int]] = defaultdict(list)
    for row, spec in enumerate(test):
        if spec.pid > 0:
            by_pid[spec.pid].append(row)
    queries: List[int] = []
    for rows in by_pid.values():
        chosen: List[int] = []
        for cam in sorted({test[r].cam for r in rows}):
            if len(chosen) + 1 > len(rows) // 2:
                break
            candidate = next(r for r in rows if test[r].cam == cam)
            trial = chosen + [candidate]
            gallery = [r for r in rows if r not in trial]
            if all(any(test[g].cam != test[q].cam for g in gallery) for q in trial):
                chosen = trial
        queries.extend(chosen)
    return sorted(queries)

"""Tiny synthetic MARS-layout trees for the end-to-end tests (a few identities, a few frames each)."""
from pathlib import Path

from aitl_reid.synthetic import generate_synthetic_mars


def tiny_synthetic_tree(root: Path, num_ids: int = 8, height: int = 64, width: int = 32) -> Path:
    """``num_ids`` identities (half for training) with 4 tracklets of 4-8 frames on 2 cameras; returns ``root``."""
    generate_synthetic_mars(str(root), num_ids=num_ids, num_cams=2, tracklets_per_id=4, min_frames=4, max_frames=8,
                            height=height, width=width, num_distractors=1, num_junk=1)
    return root

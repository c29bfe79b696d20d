"""DukeMTMC-VideoReID with tracklet attributes, registered with torchreid as ``dukemtmcvidreid_attr``.

Same folders and protocol as torchreid's ``DukeMTMCVidReID`` (train ids relabelled, cameras 0-based,
frames in frame-number order), but each tracklet folder is listed once instead of globbed once per
frame, and every frame name is checked: a tracklet mixing identities or cameras is an error.
Attributes are keyed by (person id, camera number, tracklet folder number).
"""
from __future__ import annotations

import os
import os.path as osp
import re
from typing import List, Tuple

from ..registry import register_video_dataset
from .attributes_csv import SchemaSpec, attribute_csv_path, read_attribute_csv
from .dataset import RawTracklet, VideoAttributeDataset, annotate_splits, relabel_pids
from .file_checks import missing_error, require_paths

DUKE_LAYOUT = """  <root>/dukemtmc-vidreid/
    DukeMTMC-VideoReID/train/<pid>/<tracklet>/<frame>.jpg   e.g. train/0001/0001/0001_C1_F0001_X00001.jpg
    DukeMTMC-VideoReID/query/<pid>/<tracklet>/<frame>.jpg
    DukeMTMC-VideoReID/gallery/<pid>/<tracklet>/<frame>.jpg
    duke_attributes.csv                                      or the file given by attributes.csv"""

# new names 0001_C6_F0099_X30823.jpg and old names 0001C6F0099X30823.jpg: pid, camera, frame number
_FRAME_NAME = re.compile(r"^(\d{4})_?C([1-9])_?F(\d+)")
SPLITS = ("train", "query", "gallery")
DUKE_FRAMES_DIR = "DukeMTMC-VideoReID"  # the extracted zip's folder under <root>/dukemtmc-vidreid/


def _numbered_subfolders(folder: str) -> List[os.DirEntry]:
    """Sub-folders sorted by name; stray files (e.g. .DS_Store) are ignored, other names are errors."""
    entries = sorted((e for e in os.scandir(folder) if e.is_dir()), key=lambda e: e.name)
    for entry in entries:
        if not entry.name.isdigit():
            raise ValueError(f"{entry.path}: identity and tracklet folders must be numbers like 0001")
    return entries


def _tracklet(folder: str, pid: int, number: int, frames: List[str]) -> RawTracklet:
    """One tracklet with its frames in frame-number order, after checking every frame's name."""
    parsed = []
    for name in frames:
        match = _FRAME_NAME.match(name)
        if match is None:
            raise ValueError(
                f"{osp.join(folder, name)}: not a DukeMTMC-VideoReID frame name like 0001_C1_F0001_X00001.jpg"
            )
        parsed.append((int(match[1]), int(match[2]), int(match[3]), name))
    pids = sorted({p for p, _, _, _ in parsed})
    cams = sorted({c for _, c, _, _ in parsed})
    if pids != [pid]:
        raise ValueError(f"{folder}: a tracklet of identity {pid} holds frames named for identities {pids}")
    if len(cams) != 1:
        raise ValueError(f"{folder}: the tracklet mixes cameras {cams}; one tracklet comes from one camera")
    img_paths = tuple(osp.join(folder, name) for *_, name in sorted(parsed, key=lambda p: (p[2], p[3])))
    return img_paths, pid, cams[0] - 1, (pid, cams[0], number)


def list_split(split_dir: str) -> Tuple[List[RawTracklet], List[str]]:
    """Every tracklet of a split folder, one listing per folder, and the tracklet folders without frames."""
    tracklets: List[RawTracklet] = []
    empty: List[str] = []
    for pid_dir in _numbered_subfolders(split_dir):
        pid = int(pid_dir.name)
        for tracklet_dir in _numbered_subfolders(pid_dir.path):
            frames = [n for n in os.listdir(tracklet_dir.path) if n.lower().endswith(".jpg")]
            if not frames:
                empty.append(tracklet_dir.path)
                continue
            tracklets.append(_tracklet(tracklet_dir.path, pid, int(tracklet_dir.name), frames))
    return tracklets, empty


@register_video_dataset("dukemtmcvidreid_attr")
class DukeMTMCVidReIDAttr(VideoAttributeDataset):
    """DukeMTMC-VideoReID (Wu et al., CVPR 2018): 702 ids / 2196 train, 702 query, 2636 gallery tracklets."""

    dataset_dir = "dukemtmc-vidreid"
    default_csv = "duke_attributes.csv"

    @classmethod
    def check_files(cls, root: str, attributes_csv: str = "") -> None:
        """Raise :class:`DatasetNotFoundError` naming every file or folder of the layout missing under ``root``, reading
        nothing: the adapter's first step, and the trainer's check before anything slow."""
        dataset_dir = osp.join(osp.abspath(osp.expanduser(root)), cls.dataset_dir)
        split_dirs = [osp.join(dataset_dir, DUKE_FRAMES_DIR, split) for split in SPLITS]
        csv_path = attribute_csv_path(attributes_csv, dataset_dir, cls.default_csv)
        require_paths("dukemtmcvidreid_attr", [dataset_dir, *split_dirs, csv_path], DUKE_LAYOUT, "duke")

    def __init__(self, root: str = "", attributes_csv: str = "", schema: SchemaSpec = "auto", **kwargs) -> None:
        self.check_files(root, attributes_csv)
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        csv_path = attribute_csv_path(attributes_csv, self.dataset_dir, self.default_csv)
        split_dirs = [osp.join(self.dataset_dir, DUKE_FRAMES_DIR, split) for split in SPLITS]

        table = read_attribute_csv(csv_path, schema)
        walks = [list_split(d) for d in split_dirs]
        empty = [osp.join(d, "*.jpg") for _, folders in walks for d in folders]
        if empty:
            raise missing_error("dukemtmcvidreid_attr", empty, DUKE_LAYOUT, "duke", what="frames")
        train, query, gallery = (tracklets for tracklets, _ in walks)
        train, query, gallery = annotate_splits(table, "dukemtmcvidreid_attr", relabel_pids(train), query, gallery)
        super().__init__(train, query, gallery, schema=table.schema, **kwargs)

"""A torchreid video dataset whose tracklets carry attribute labels.

Tracklets are 5-tuples ``(img_paths, pid, camid, dsetid, attrs)``: torchreid's four fields plus one
class index per schema attribute (-1 = not annotated). torchreid's ``__add__`` and ``combine_all``
unpack exactly four fields, so both are overridden here to carry the attributes along.
"""
from __future__ import annotations

import os
from typing import Callable, List, Sequence, Tuple, Union

import numpy as np
import torch

from .. import _torchreid
from ..schema import AttributeSchema
from .attributes_csv import MISSING, AttributeTable, TrackletKey
from .identity_sampler import SampleKey
from .image_io import FrameReadError, read_frames
from .sampling import clip_sampler, dense_clip_indices
from .transforms import ERASE_KEY, as_clip_transform

BAD_FRAME_POLICIES = ("error", "skip")
SKIPPED_KEY = "skipped"  # per training item: clips replaced because of an unreadable frame (data.on_bad_frame skip)
BAD_FRAMES_KEY = "bad_frames"  # per training item: the unreadable files met, one per line

Tracklet = Tuple[Tuple[str, ...], int, int, int, Tuple[int, ...]]
RawTracklet = Tuple[Tuple[str, ...], int, int, TrackletKey]  # (img_paths, pid, camid, attribute CSV key)


def _torch_seeded_rng() -> np.random.Generator:
    """A numpy generator seeded from torch, so ``torch.manual_seed`` and worker seeding govern sampling."""
    return np.random.default_rng(int(torch.randint(0, 2**62, ())))


def relabel_pids(train: Sequence[RawTracklet]) -> List[RawTracklet]:
    """Train ids become 0..N-1 in increasing order of the original id (the CSV key keeps the original)."""
    label = {pid: i for i, pid in enumerate(sorted({pid for _, pid, _, _ in train}))}
    return [(paths, label[pid], camid, key) for paths, pid, camid, key in train]


def count_annotated(data: Sequence[Tracklet]) -> int:
    """How many tracklets have at least one attribute annotated."""
    return sum(1 for items in data if any(v != MISSING for v in items[4]))


def annotate_splits(
    table: AttributeTable, dataset: str, *splits: Sequence[RawTracklet]
) -> List[List[Tracklet]]:
    """Attach each tracklet's CSV attributes (dsetid 0); error if a non-empty CSV matches no tracklet,
    which means the CSV belongs to another dataset or its key columns are wrong."""
    annotated = [[(paths, pid, camid, 0, table.lookup(key)) for paths, pid, camid, key in split] for split in splits]
    if table.rows and not any(key in table.rows for split in splits for *_, key in split):
        example = next(iter(table.rows))
        raise ValueError(
            f"{table.path}: none of its {len(table.rows)} rows matches a tracklet of {dataset} "
            f"(first row's key (person, camera, tracklet) = {example}); check that the CSV belongs to this "
            "dataset (aitl-reid-check --layout mars|duke describes the key columns)"
        )
    return annotated


class VideoAttributeDataset(_torchreid.data.VideoDataset):
    """Video re-ID dataset with per-tracklet attributes.

    In ``train`` mode an item is one clip (``img`` ``[T, C, H, W]``) drawn by ``sample_method``; in
    ``query``/``gallery`` mode it is every dense clip of the tracklet (``img`` ``[n_clips, T, C, H, W]``).
    ``img`` is uint8, resized and augmented, with its erase box in ``erase`` (``[4]``); the engine
    normalises and erases where the batch lands (``ClipTransform.finish``). With a torchreid per-frame
    transform, ``img`` is the finished float clip instead. Every item also has ``attrs``, a
    LongTensor with one class index per attribute (-1 = missing).
    """

    def __init__(
        self,
        train: List[Tracklet],
        query: List[Tracklet],
        gallery: List[Tracklet],
        schema: AttributeSchema,
        seq_len: int = 4,
        sample_method: str = "consecutive",
        max_clips: int = 200,
        query_in_gallery: bool = False,
        on_bad_frame: str = "error",
        **kwargs,
    ) -> None:
        if on_bad_frame not in BAD_FRAME_POLICIES:
            raise ValueError(f"data.on_bad_frame must be one of {BAD_FRAME_POLICIES}, got {on_bad_frame!r}")
        self.on_bad_frame = on_bad_frame
        for split, data in (("train", train), ("query", query), ("gallery", gallery)):
            if not data:
                raise ValueError(f"{type(self).__name__}: the {split} split has no tracklets")
            widths = {len(items[4]) for items in data}
            if widths != {len(schema.names)}:
                raise ValueError(
                    f"{type(self).__name__}: {split} tracklets carry {sorted(widths)} attribute values, "
                    f"schema '{schema.name}' has {len(schema.names)}"
                )
        if max_clips < 1:
            raise ValueError(f"max_clips (test.max_clips) must be at least 1, got {max_clips}")
        self._schema = schema
        self._sample: Callable = clip_sampler(sample_method)
        self.max_clips = int(max_clips)
        if query_in_gallery:
            gallery = list(gallery) + list(query)
        super().__init__(train, query, gallery, seq_len=seq_len, sample_method=sample_method, **kwargs)
        self.transform = as_clip_transform(self.transform)

    @property
    def attribute_schema(self) -> AttributeSchema:
        """The attribute release describing ``attrs`` (names, classes, stream groups)."""
        return self._schema

    def __getitem__(self, key: Union[int, SampleKey]) -> dict:
        """Item ``key``: an index, or ``(index, seed)`` from :class:`IdentityShardSampler`, whose clip (frames and
        augmentation) is then a function of the seed alone, whichever worker, process or rank draws it."""
        if isinstance(key, tuple):
            index, seed = key
            with torch.random.fork_rng(devices=[]):
                torch.default_generator.manual_seed(seed)
                return self._item(index)
        return self._item(key)

    def _item(self, index: int) -> dict:
        img_paths, pid, camid, dsetid, attrs = self.data[index]
        bad: List[str] = []
        if self.mode == "train":
            img, erase = self._training_clip(img_paths, bad)
        else:
            img, erase = self._dense_clips(img_paths)
        attrs = torch.tensor(attrs, dtype=torch.long)
        return {"img": img, ERASE_KEY: erase, "pid": pid, "camid": camid, "dsetid": dsetid, "attrs": attrs,
                SKIPPED_KEY: len(bad), BAD_FRAMES_KEY: "\n".join(bad)}

    def _training_clip(self, img_paths: Sequence[str], bad: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """A training clip; with ``on_bad_frame`` "skip", a clip meeting an unreadable frame is replaced by another
        clip of the same tracklet drawn from its remaining frames (the frames that failed are added to ``bad``)."""
        rng = _torch_seeded_rng()
        usable = np.arange(len(img_paths))
        while True:
            indices = usable[self._sample(len(usable), self.seq_len, rng)]
            try:
                return self.transform.prepare(read_frames(img_paths, indices))
            except FrameReadError as err:
                if self.on_bad_frame != "skip":
                    raise
                bad.append(err.path)
                usable = usable[[img_paths[i] != err.path for i in usable]]
                if len(usable) == 0:
                    raise FrameReadError(f"no frame of the tracklet {os.path.dirname(err.path)} can be read "
                                         f"(data.on_bad_frame skip tried {len(bad)}): {err}", err.path) from err

    def _dense_clips(self, img_paths: Sequence[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """All dense clips of a tracklet (each used frame decoded and transformed once) and the erase box."""
        clips = dense_clip_indices(len(img_paths), self.seq_len, self.max_clips)
        used, position = np.unique(clips, return_inverse=True)
        frames, erase = self.transform.prepare(read_frames(img_paths, used))
        return frames[torch.from_numpy(position.reshape(clips.shape))], erase

    def __add__(self, other: "VideoAttributeDataset") -> "VideoAttributeDataset":
        """Train split of both datasets (ids, cameras and dataset ids of ``other`` offset), attributes kept."""
        if not isinstance(other, VideoAttributeDataset):
            raise TypeError(f"cannot add {type(other).__name__} to {type(self).__name__}: both need attributes")
        if other.attribute_schema != self.attribute_schema:
            raise ValueError(
                f"cannot combine {type(self).__name__} (schema '{self.attribute_schema.name}') with "
                f"{type(other).__name__} (schema '{other.attribute_schema.name}'): training sources must share "
                "one attribute schema"
            )
        train = list(self.train)
        pid_offset, cam_offset, dset_offset = self.num_train_pids, self.num_train_cams, self.num_datasets
        for img_paths, pid, camid, dsetid, attrs in other.train:
            train.append((img_paths, pid + pid_offset, camid + cam_offset, dsetid + dset_offset, attrs))
        return VideoAttributeDataset(
            train, self.query, self.gallery, schema=self.attribute_schema, transform=self.transform,
            mode=self.mode, combineall=False, verbose=False, seq_len=self.seq_len,
            sample_method=self.sample_method, max_clips=self.max_clips, on_bad_frame=self.on_bad_frame,
        )

    def __radd__(self, other: object) -> "VideoAttributeDataset":
        """Lets ``sum([d1, d2])`` start from 0, as torchreid's data managers do."""
        if isinstance(other, int) and other == 0:
            return self
        return self.__add__(other)  # type: ignore[arg-type]

    def combine_all(self) -> None:
        """Add query and gallery tracklets to training, ids relabelled after the train ids.

        Junk ids (``_junk_pids``, e.g. MARS distractors) are left out; ids are taken from query and
        gallery together (torchreid uses the gallery's only, which fails on MARS query-only ids), and a
        query tracklet also present in the gallery (``query_in_gallery``) is added once.
        """
        query_paths = {items[0] for items in self.query}
        test = list(self.query) + [items for items in self.gallery if items[0] not in query_paths]
        pids = sorted({items[1] for items in test if items[1] not in self._junk_pids})
        label = {pid: self.num_train_pids + i for i, pid in enumerate(pids)}
        self.train = list(self.train) + [
            (img_paths, label[pid], camid, dsetid, attrs)
            for img_paths, pid, camid, dsetid, attrs in test
            if pid in label
        ]
        self.num_train_pids = self.get_num_pids(self.train)

    def show_summary(self) -> None:
        super().show_summary()
        counts = ", ".join(
            f"{name} {count_annotated(data)}/{len(data)}"
            for name, data in (("train", self.train), ("query", self.query), ("gallery", self.gallery))
        )
        schema = self.attribute_schema
        print(f"  attributes: schema '{schema.name}' ({len(schema.names)} attributes); annotated {counts}")

"""Row 4: training clips per second, ours vs torchreid's ``VideoDataset`` with the same augmentations.

Ours: the ``mars_attr`` training set (OpenCV decoding, clip-consistent flip / pad-crop on uint8
tensors, the erase box drawn) read through a ``DataLoader`` (workers send uint8 clips), each batch
then normalised and erased as the engine does where it lands (here on the CPU). Reference: torchreid's ``VideoDataset`` over the same
tracklets with ``build_transforms(random_flip, random_crop, random_erase)``, which decodes with PIL
and augments and normalises each frame separately. Both are read through the same ``DataLoader``
settings (workers, batch, clip order), and also item by item in this process with one thread (the
work a loader worker does per clip, without the loader's transport).
"""
from __future__ import annotations

import contextlib
import io
from typing import List

import torch

from aitl_reid import _torchreid
from aitl_reid.data import VideoAttributeDataset, build_datamanager
from aitl_reid.data.transforms import ERASE_KEY

from .rows import Row
from .settings import Settings
from .synthetic_data import synthetic_config, synthetic_root
from .timing import interleaved, torch_threads

TORCHREID_TRANSFORMS = ["random_flip", "random_crop", "random_erase"]  # torchreid's names for flip, crop, erasing
BATCH = 16


def torchreid_video_dataset(trainset: VideoAttributeDataset, height: int, width: int) -> torch.utils.data.Dataset:
    """torchreid's VideoDataset over the same training tracklets (attributes dropped), 'random' sampling."""
    with contextlib.redirect_stdout(io.StringIO()):  # build_transforms prints every step
        transform, _ = _torchreid.data.transforms.build_transforms(height, width, transforms=TORCHREID_TRANSFORMS)
    tracklets = [items[:4] for items in trainset.train]
    return _torchreid.data.VideoDataset(tracklets, tracklets, tracklets, seq_len=trainset.seq_len,
                                        sample_method="random", transform=transform, mode="train", verbose=False)


def clip_loader(dataset: torch.utils.data.Dataset, clips: int, workers: int) -> torch.utils.data.DataLoader:
    """``clips`` items in a fixed order (cycling over the dataset), ``BATCH`` per batch, persistent workers."""
    order = [i % len(dataset) for i in range(clips)]
    return torch.utils.data.DataLoader(dataset, batch_size=BATCH, sampler=order, num_workers=workers,
                       persistent_workers=workers > 0, drop_last=True)


def drain(loader: torch.utils.data.DataLoader) -> None:
    for _ in loader:
        pass


def drain_finishing(loader: torch.utils.data.DataLoader, transform) -> None:
    """Our batches as the engine receives them: normalised and erased on arrival (the training device here: CPU)."""
    for batch in loader:
        transform.finish(batch["img"], batch[ERASE_KEY])


def read_items(dataset: torch.utils.data.Dataset, count: int) -> None:
    for index in range(count):
        dataset[index % len(dataset)]


def read_items_finishing(dataset: VideoAttributeDataset, count: int) -> None:
    """Our items and, for the same work as the reference's, each clip normalised and erased as the engine does."""
    for index in range(count):
        item = dataset[index % len(dataset)]
        dataset.transform.finish(item["img"], item[ERASE_KEY])


def run(settings: Settings) -> List[Row]:
    height, width = (64, 32) if settings.quick else (256, 128)
    clips = 2 * BATCH if settings.quick else 12 * BATCH
    root = synthetic_root(settings.workdir, 8 if settings.quick else 24, height, width)
    cfg = synthetic_config(root, height, width, settings.workers)
    with contextlib.redirect_stdout(io.StringIO()):
        ours_set = build_datamanager(cfg, use_gpu=False).train_loader.dataset
    reference_set = torchreid_video_dataset(ours_set, height, width)
    size = f"{height}x{width} JPEG frames, T={ours_set.seq_len}"
    common = dict(item="clips", items_per_run=clips, sense="speedup", goal=1.5)
    labels = ("aitl_reid VideoAttributeDataset (cv2, clip transforms on uint8), then ClipTransform.finish",
              "torchreid VideoDataset (PIL, per-frame transforms)")
    loader_labels = ("torch DataLoader over aitl_reid VideoAttributeDataset (uint8 clips between processes), "
                     "batches normalised and erased on arrival",
                     "torch DataLoader over torchreid VideoDataset")

    settings.log(f"loading: {clips} clips per run, in-process (1 thread) then DataLoader ({settings.workers} workers)")
    with torch_threads(1):
        item_times = interleaved(lambda: read_items_finishing(ours_set, clips), lambda: read_items(reference_set, clips),
                                 settings.runs)
    ours_loader = clip_loader(ours_set, clips, settings.workers)
    reference_loader = clip_loader(reference_set, clips, settings.workers)
    loader_times = interleaved(lambda: drain_finishing(ours_loader, ours_set.transform), lambda: drain(reference_loader),
                               settings.runs)
    augment = ("flip, crop and random erasing: ours pads by 10 and crops, torchreid (random_crop) enlarges by 1.125 "
               "and crops with probability 0.5; ours samples consecutive clips, torchreid 'random' frames")
    return [
        Row("loading", f"Clip loading per item, one thread, no loader ({size})", *labels, *item_times,
            notes=[augment], **common),
        Row("loading", f"Training DataLoader, {settings.workers} workers, batch {BATCH} ({size})", *loader_labels,
            *loader_times, notes=[augment, "persistent workers; 1 warm-up epoch; ours normalises and erases each "
                                  "batch on arrival (the engine does it on the training device; here the CPU), "
                                  "which is included in its time"], **common),
    ]

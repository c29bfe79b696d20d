"""Loaders for attribute-labelled video re-ID: P x K training clips and dense test clips.

Mirrors torchreid's ``VideoDataManager`` (same public attributes, so torchreid's engine and
ranking visualisation work) with four changes: clip-consistent transforms, test loaders that
batch dense clips across tracklets, uint8 clips from the workers (a quarter of the bytes between
processes; the engine normalises each batch on the training device), and each dataset parsed once (torchreid parses
a target three times: train, query and gallery), which matters for MARS's 1.19M frame names.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torchvision.transforms.v2.functional import pil_to_tensor
from yacs.config import CfgNode

from .. import _torchreid, distributed
from ..environment import available_cores
from ..schema import AttributeSchema
from .attributes_csv import SchemaSpec
from .clip_view import DenseClipView
from .dataset import Tracklet, VideoAttributeDataset
from .identity_sampler import IdentityShardSampler
from .transforms import build_clip_transforms

DEFAULT_TRANSFORMS = ("random_flip", "pad_crop", "random_erase")
AUTO_WORKERS = -1  # data.workers' default: as many loader workers as the machine gives this process cores
MAX_AUTO_WORKERS = 8


def loader_workers(setting: int = AUTO_WORKERS) -> int:
    """Loader worker processes for ``data.workers``: a setting >= 0 as given; ``-1`` (the default) one per available
    core, shared among torchrun's processes on the node, at most :data:`MAX_AUTO_WORKERS`. More workers than cores
    only compete with the training for them (and PyTorch warns about it on every run)."""
    if setting >= 0:
        return int(setting)
    if setting != AUTO_WORKERS:
        raise ValueError(f"data.workers must be {AUTO_WORKERS} (one per available core) or a number >= 0, got {setting}")
    processes = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, min(MAX_AUTO_WORKERS, available_cores() // processes))


def rank_share(tracklets: Sequence[Tracklet]) -> List[Tracklet]:
    """This process's contiguous share of a test split (all of it in a single process); the engine gathers the
    shares' features back in rank order, which is the split's order."""
    processes, me = distributed.world_size(), distributed.rank()
    bounds = np.linspace(0, len(tracklets), processes + 1).round().astype(int)
    return list(tracklets[bounds[me]:bounds[me + 1]])


def schema_from_config(attributes: CfgNode) -> SchemaSpec:
    """The ``attributes`` config section as a schema spec: a name, or the custom schema it describes."""
    if attributes.schema != "custom":
        return attributes.schema
    try:
        return AttributeSchema(
            name="custom",
            names=tuple(attributes.custom_names),
            num_classes=tuple(int(k) for k in attributes.custom_classes),
            groups=tuple(attributes.custom_groups),
            key_columns=tuple(attributes.custom_key_columns),  # type: ignore[arg-type]
        )
    except ValueError as e:
        raise ValueError(f"attributes.custom_* in the config: {e}") from e


class VideoAttributeDataManager(_torchreid.data.datamanager.DataManager):
    """Training and test loaders over ``VideoAttributeDataset`` sources and targets.

    ``test_loader[name]['query'|'gallery']`` iterates dense clips (``img`` ``[N, T, C, H, W]``,
    ``tracklet`` ``[N]``); its ``dataset`` (a :class:`DenseClipView`) holds the per-tracklet ``pids``,
    ``camids`` and ``attrs``. ``test_dataset[name]`` holds torchreid's tracklet tuples.
    """

    data_type = "video"

    def __init__(
        self,
        root: str = "",
        sources: Sequence[str] = ("mars_attr",),
        targets: Optional[Sequence[str]] = None,
        height: int = 256,
        width: int = 128,
        transforms: Sequence[str] = DEFAULT_TRANSFORMS,
        norm_mean: Sequence[float] = (0.485, 0.456, 0.406),
        norm_std: Sequence[float] = (0.229, 0.224, 0.225),
        use_gpu: bool = True,
        combineall: bool = False,
        batch_size_train: int = 32,
        batch_size_test: int = 64,
        workers: int = AUTO_WORKERS,
        num_instances: int = 4,
        num_cams: int = 1,
        num_datasets: int = 1,
        train_sampler: str = "RandomIdentitySampler",
        seq_len: int = 4,
        sample_method: str = "consecutive",
        max_clips: int = 200,
        query_in_gallery: bool = False,
        attributes_csv: str = "",
        schema: SchemaSpec = "auto",
        verbose: bool = True,
        seed: int = 0,
        identity_shards: int = 0,
        on_bad_frame: str = "error",
    ) -> None:
        # torchreid's DataManager.__init__ is not called: all it does is set the attributes below and
        # build per-image PIL transforms, which would be discarded for the clip transforms.
        self.sources = [sources] if isinstance(sources, str) else list(sources)
        self.targets = self.sources if not targets else ([targets] if isinstance(targets, str) else list(targets))
        if len(set(self.sources)) > 1 and attributes_csv:
            raise ValueError(
                f"attributes.csv names one file but data.sources has several datasets {self.sources}; "
                "leave it empty so that each dataset reads its own default CSV"
            )
        self.height, self.width = int(height), int(width)
        self.transform_tr, self.transform_te = build_clip_transforms(height, width, transforms, norm_mean, norm_std)
        self.use_gpu = torch.cuda.is_available() and use_gpu
        self._workers = loader_workers(workers)
        if workers == AUTO_WORKERS and verbose:
            print(f"Loader workers: {self._workers} ({available_cores()} cores available; data.workers sets the number)")
        common = dict(root=root, seq_len=seq_len, sample_method=sample_method, max_clips=max_clips,
                      query_in_gallery=query_in_gallery, verbose=verbose, on_bad_frame=on_bad_frame)
        # the configured CSV and schema describe the sources; a cross-dataset target reads its own
        # default CSV and has its schema detected from the header
        own = dict(attributes_csv=attributes_csv, schema=schema)
        other = dict(attributes_csv="", schema="auto")

        built: Dict[str, VideoAttributeDataset] = {}
        for name in self.sources:
            built[name] = _torchreid.data.datasets.init_video_dataset(
                name, transform=self.transform_tr, mode="train", combineall=combineall, **common, **own
            )
        trainset = sum(built[name] for name in self.sources)
        self._num_train_pids = trainset.num_train_pids
        self._num_train_cams = trainset.num_train_cams
        self.attribute_schema: AttributeSchema = trainset.attribute_schema
        # training labels, one row per tracklet: the label prior and majority baselines are read from them
        self.train_attrs = torch.tensor([items[4] for items in trainset.train], dtype=torch.long)
        sampler = self._train_sampler(trainset, train_sampler, batch_size_train, num_instances, num_cams, num_datasets,
                                      seed, identity_shards)
        self.train_loader = self._loader(trainset, batch_size_train, drop_last=True, sampler=sampler)

        self.test_loader: Dict[str, Dict[str, torch.utils.data.DataLoader]] = {}
        self.test_dataset: Dict[str, Dict[str, List[tuple]]] = {}
        self.target_schemas: Dict[str, AttributeSchema] = {}
        for name in self.targets:
            if name not in built:
                built[name] = _torchreid.data.datasets.init_video_dataset(
                    name, transform=self.transform_te, mode="query", combineall=False, **common, **other
                )
            dataset = built[name]
            self.target_schemas[name] = dataset.attribute_schema
            self.test_dataset[name] = {"query": dataset.query, "gallery": dataset.gallery}
            self.test_loader[name] = {
                split: self._loader(DenseClipView(rank_share(tracklets), self.transform_te, seq_len, max_clips),
                                    batch_size_test)
                for split, tracklets in self.test_dataset[name].items()
            }

    @staticmethod
    def _train_sampler(
        trainset: VideoAttributeDataset, name: str, batch_size: int, num_instances: int, num_cams: int,
        num_datasets: int, seed: int, identity_shards: int,
    ) -> torch.utils.data.Sampler:
        """``RandomIdentitySampler`` is served by :class:`IdentityShardSampler` (the same P x K algorithm, seeded by
        ``train.seed`` and the epoch, each process taking its own identities); other names go to torchreid."""
        processes, me = distributed.world_size(), distributed.rank()
        if name == "RandomIdentitySampler":
            shards = identity_shards or processes
            if shards % processes or batch_size % (shards // processes):
                raise ValueError(
                    f"sampler.identity_shards {shards} must be a multiple of the {processes} process(es), and "
                    f"train.batch_size {batch_size} divisible by the shards each process takes ({shards // processes})"
                )
            mine = shards // processes
            return IdentityShardSampler(
                trainset.train, batch_size // mine, num_instances, seed=seed, num_shards=shards,
                shards=range(me * mine, (me + 1) * mine),
            )
        if processes > 1:
            raise ValueError(f"sampler.train_sampler {name!r} cannot split identities across {processes} processes; "
                             "use RandomIdentitySampler under torchrun")
        return _torchreid.data.sampler.build_train_sampler(
            trainset.train, name, batch_size=batch_size, num_instances=num_instances,
            num_cams=num_cams, num_datasets=num_datasets,
        )

    def _loader(
        self, dataset: torch.utils.data.Dataset, batch_size: int, drop_last: bool = False,
        sampler: Optional[torch.utils.data.Sampler] = None,
    ) -> torch.utils.data.DataLoader:
        """Every loader is built here, so workers and memory pinning are set in one place. Batches hold
        uint8 clips and their erase boxes; the engine finishes them on the training device."""
        return torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=self._workers,
            pin_memory=self.use_gpu, drop_last=drop_last,
        )

    def preprocess_pil_img(self, img):
        """Test transform of one PIL image, as torchreid's ``DataManager`` offers: ``[C, H, W]``."""
        return self.transform_te([pil_to_tensor(img)])[0]


def check_dataset_files(cfg: CfgNode) -> None:
    """Raise :class:`~.file_checks.DatasetNotFoundError` when a file or folder of a dataset in ``data.sources`` or
    ``data.targets`` is missing, in a second, before any dataset is read (a dataset of another plugin is left to its
    own checks). The configured ``attributes.csv`` is the sources'; a target of its own reads its default CSV, as
    :class:`VideoAttributeDataManager` does."""
    registry = _torchreid.video_dataset_registry()
    sources = list(cfg.data.sources)
    for name in sources + [t for t in cfg.data.targets if t not in sources]:
        check = getattr(registry.get(name), "check_files", None)
        if check is not None:
            check(cfg.data.root, cfg.attributes.csv if name in sources else "")


def build_datamanager(cfg: CfgNode, use_gpu: Optional[bool] = None) -> VideoAttributeDataManager:
    """The data manager described by a config (``data``, ``sampler``, ``video``, ``attributes``, batch sizes).

    ``use_gpu`` defaults to ``cfg.use_gpu`` (it only decides whether loaders pin memory).
    """
    if cfg.data.type != "video":
        raise ValueError(f"data.type: this plugin handles video data only, got {cfg.data.type!r}")
    return VideoAttributeDataManager(
        root=cfg.data.root,
        sources=list(cfg.data.sources),
        targets=list(cfg.data.targets),
        height=cfg.data.height,
        width=cfg.data.width,
        transforms=list(cfg.data.transforms),
        norm_mean=list(cfg.data.norm_mean),
        norm_std=list(cfg.data.norm_std),
        use_gpu=cfg.use_gpu if use_gpu is None else use_gpu,
        combineall=cfg.data.combineall,
        batch_size_train=cfg.train.batch_size,
        batch_size_test=cfg.test.batch_size,
        workers=cfg.data.workers,
        num_instances=cfg.sampler.num_instances,
        num_cams=cfg.sampler.num_cams,
        num_datasets=cfg.sampler.num_datasets,
        train_sampler=cfg.sampler.train_sampler,
        seq_len=cfg.video.seq_len,
        sample_method=cfg.video.sample_method,
        max_clips=cfg.test.max_clips,
        query_in_gallery=cfg.data.query_in_gallery,
        attributes_csv=cfg.attributes.csv,
        schema=schema_from_config(cfg.attributes),
        seed=cfg.train.seed,
        identity_shards=cfg.sampler.identity_shards,
        on_bad_frame=cfg.data.on_bad_frame,
    )

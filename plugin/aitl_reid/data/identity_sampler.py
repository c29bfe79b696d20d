"""P x K identity sampling that is reproducible from (seed, epoch) and shards identities across ranks.

torchreid's ``RandomIdentitySampler`` draws from the global ``random``/numpy RNGs. Under
DistributedDataParallel every rank would then build its own independent P x K batches from all
identities, so ranks overlap (the same identity, even the same tracklet, in several ranks' batches
of one step), and a resumed run cannot reproduce an epoch's order because the global RNG state
depends on everything that ran before.

:class:`IdentityShardSampler` runs the same algorithm, but from a numpy ``Generator`` seeded with
``(seed, epoch)`` only. Each epoch the identities are shuffled and split into ``num_shards``
disjoint groups (one per rank), and every shard is truncated to the same batch count so all ranks
run the same number of iterations. The whole plan (all shards) is built in every process, so a
single process reading all shards sees exactly the global batches W ranks would see together.

Each key it yields is ``(dataset_index, sample_seed)``; the per-sample seed comes from the same
``(seed, epoch)`` stream and depends only on the sample's global position, so the dataset's frame
choice and augmentation do not depend on loader workers, process or rank either.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, Hashable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from torch.utils.data import Sampler

SampleKey = Tuple[int, int]

__all__ = ["IdentityShardSampler", "SampleKey"]


class IdentityShardSampler(Sampler[SampleKey]):
    """P x K identity batches, deterministic from ``(seed, epoch)``, with identities disjoint across shards.

    Args:
        data_source: tracklet tuples with the identity label at ``items[1]``.
        batch_size: batch of one shard (one rank), ``P * K``.
        num_instances: ``K``, tracklets per identity in a batch.
        seed: base seed; the epoch's plan is a pure function of ``(seed, epoch)``.
        num_shards: number of disjoint identity shards per epoch (normally the world size).
        shards: shard indices this sampler yields (rank ``r`` uses ``[r]``); ``None`` yields all
            shards, each global batch being the concatenation of the shards' batches in this order,
            so the loader's batch size must be ``len(shards) * batch_size``.
    """

    def __init__(
        self,
        data_source: Sequence[Sequence[object]],
        batch_size: int,
        num_instances: int,
        seed: int = 0,
        num_shards: int = 1,
        shards: Optional[Sequence[int]] = None,
    ) -> None:
        batch_size, num_instances = int(batch_size), int(num_instances)
        if num_instances < 1:
            raise ValueError(f"sampler.num_instances must be at least 1, got {num_instances}")
        if batch_size < num_instances or batch_size % num_instances != 0:
            raise ValueError(
                f"train.batch_size ({batch_size}) must be a positive multiple of "
                f"sampler.num_instances ({num_instances})"
            )
        num_shards = int(num_shards)
        if num_shards < 1:
            raise ValueError(f"num_shards (the number of processes) must be at least 1, got {num_shards}")
        if shards is None:
            shard_list = list(range(num_shards))
        else:
            shard_list = [int(s) for s in shards]
            if not shard_list:
                raise ValueError("shards must name at least one shard index (or be None for all)")
            bad = [s for s in shard_list if not 0 <= s < num_shards]
            if bad:
                raise ValueError(f"shard index {bad[0]} is out of range for num_shards={num_shards}")
            if len(set(shard_list)) != len(shard_list):
                raise ValueError(f"shards {shard_list} contains a shard index twice")

        index_by_pid: Dict[Hashable, List[int]] = defaultdict(list)
        for index, items in enumerate(data_source):
            index_by_pid[items[1]].append(index)
        try:
            pids = sorted(index_by_pid)
        except TypeError:  # labels of mixed types: keep first-appearance order, still deterministic
            pids = list(index_by_pid)

        self.batch_size = batch_size
        self.num_instances = num_instances
        self.num_pids_per_batch = batch_size // num_instances
        self.seed = int(seed)
        self.num_shards = num_shards
        self.shards = shard_list
        self.epoch = 0
        self._pid_indices = [np.asarray(index_by_pid[pid], dtype=np.int64) for pid in pids]

        # np.array_split gives the smallest shard len(pids) // num_shards identities.
        per_shard = len(pids) // num_shards
        if per_shard < self.num_pids_per_batch:
            raise ValueError(
                f"{len(pids)} identities split over {num_shards} process(es) leaves {per_shard} identities "
                f"per rank, but train.batch_size {batch_size} / sampler.num_instances {num_instances} needs "
                f"{self.num_pids_per_batch} identities per rank; lower train.batch_size or use fewer processes"
            )
        self._plan_epoch: Optional[int] = None
        self._plan: Optional[Tuple[np.ndarray, np.ndarray]] = None

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose plan the next ``__iter__``/``__len__`` use (as ``DistributedSampler``)."""
        self.epoch = int(epoch)

    def _shard_batches(self, shard_pids: np.ndarray, rng: np.random.Generator) -> List[np.ndarray]:
        """torchreid's RandomIdentitySampler on one shard's identities, drawing only from ``rng``."""
        k, p = self.num_instances, self.num_pids_per_batch
        chunks: Dict[int, List[np.ndarray]] = {}
        for pid in shard_pids.tolist():
            idxs = self._pid_indices[pid]
            if len(idxs) < k:
                idxs = rng.choice(idxs, size=k, replace=True)
            idxs = rng.permutation(idxs)
            n_full = len(idxs) // k
            chunks[pid] = [idxs[j * k:(j + 1) * k] for j in range(n_full)]
        available = [pid for pid in shard_pids.tolist() if chunks[pid]]
        next_chunk = dict.fromkeys(available, 0)
        batches: List[np.ndarray] = []
        while len(available) >= p:
            picked = [available[j] for j in rng.choice(len(available), size=p, replace=False)]
            batch = []
            for pid in picked:
                batch.append(chunks[pid][next_chunk[pid]])
                next_chunk[pid] += 1
                if next_chunk[pid] == len(chunks[pid]):
                    available.remove(pid)
            batches.append(np.concatenate(batch))
        return batches

    def _epoch_plan(self) -> Tuple[np.ndarray, np.ndarray]:
        """Indices and seeds of every shard, shape ``(num_batches, num_shards, batch_size)``, cached per epoch."""
        if self._plan is not None and self._plan_epoch == self.epoch:
            return self._plan
        rng = np.random.default_rng([self.seed, self.epoch])
        groups = np.array_split(rng.permutation(len(self._pid_indices)), self.num_shards)
        per_shard = [self._shard_batches(group, rng) for group in groups]
        num_batches = min(len(b) for b in per_shard)
        if num_batches == 0:
            raise ValueError(
                f"epoch {self.epoch} has no complete batch on some rank; lower train.batch_size or "
                "sampler.num_instances, or use fewer processes"
            )
        indices = np.stack([np.stack(b[:num_batches]) for b in per_shard], axis=1)
        seeds = rng.integers(0, 2**63, size=indices.size, dtype=np.int64).reshape(indices.shape)
        self._plan_epoch, self._plan = self.epoch, (indices, seeds)
        return self._plan

    def __iter__(self) -> Iterator[SampleKey]:
        indices, seeds = self._epoch_plan()
        for i in range(indices.shape[0]):
            for s in self.shards:
                for index, sample_seed in zip(indices[i, s].tolist(), seeds[i, s].tolist()):
                    yield index, sample_seed

    def __len__(self) -> int:
        indices, _ = self._epoch_plan()
        return indices.shape[0] * len(self.shards) * self.batch_size

"""IdentityShardSampler: P x K batches reproducible from (seed, epoch), identities disjoint across shards."""
from __future__ import annotations

import random
from collections import Counter
from typing import List, Sequence, Tuple

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from aitl_reid.data.identity_sampler import IdentityShardSampler

B, K = 8, 2  # P = 4 identities per shard batch


def toy_data(num_ids: int = 24, per_id: int = 4, short_ids: Sequence[int] = ()) -> List[Tuple[str, int, int]]:
    """Tracklet tuples (path, pid, camid); ``short_ids`` get a single tracklet."""
    data = []
    for pid in range(num_ids):
        for j in range(1 if pid in short_ids else per_id):
            data.append((f"p{pid}_t{j}", pid, j % 2))
    return data


def batches(sampler: IdentityShardSampler, size: int) -> List[List[Tuple[int, int]]]:
    keys = list(sampler)
    assert len(keys) % size == 0
    return [keys[i:i + size] for i in range(0, len(keys), size)]


def pids_of(data, keys) -> List[int]:
    return [data[i][1] for i, _ in keys]


def test_keys_are_pairs_of_python_ints_and_len_is_exact():
    data = toy_data()
    sampler = IdentityShardSampler(data, B, K, seed=3, num_shards=2, shards=[1])
    keys = list(sampler)
    assert len(keys) == len(sampler) > 0
    assert all(type(i) is int and type(s) is int and 0 <= s < 2**63 for i, s in keys)


def test_identities_disjoint_across_shards_within_epoch():
    data = toy_data(num_ids=30, per_id=5)
    for epoch in range(3):
        seen = []
        for r in range(3):
            sampler = IdentityShardSampler(data, B, K, seed=1, num_shards=3, shards=[r])
            sampler.set_epoch(epoch)
            seen.append(set(pids_of(data, sampler)))
        assert all(seen)
        assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])


def test_balanced_dataset_uses_every_identity():
    # 8 ids x 4 tracklets, K=2, 2 shards: each shard's P=4 ids have 2 chunks each, so every batch
    # takes all of them and nothing is left over, whatever the seed.
    data = toy_data(num_ids=8, per_id=4)
    for epoch in range(3):
        sampler = IdentityShardSampler(data, B, K, seed=5, num_shards=2)
        sampler.set_epoch(epoch)
        keys = list(sampler)
        assert set(pids_of(data, keys)) == set(range(8))
        assert sorted(i for i, _ in keys) == list(range(len(data)))


def test_every_shard_yields_same_number_of_batches():
    # Unequal tracklet counts make the untruncated shards differ in batch count.
    data = [(f"t{n}", pid, 0) for pid in range(21) for n in range(1 + pid % 7)]
    lengths = {len(IdentityShardSampler(data, B, K, seed=2, num_shards=3, shards=[r])) for r in range(3)}
    assert len(lengths) == 1 and lengths.pop() > 0


def test_all_shards_equals_per_global_batch_concatenation_of_rank_samplers():
    data = toy_data(num_ids=27, per_id=3, short_ids=(4, 9))
    world = 3
    full = IdentityShardSampler(data, B, K, seed=7, num_shards=world)
    ranks = [IdentityShardSampler(data, B, K, seed=7, num_shards=world, shards=[r]) for r in range(world)]
    for epoch in (0, 4):
        full.set_epoch(epoch)
        for r in ranks:
            r.set_epoch(epoch)
        global_batches = batches(full, world * B)
        rank_batches = [batches(r, B) for r in ranks]
        assert len(global_batches) == len(rank_batches[0])
        for i, gb in enumerate(global_batches):
            # Same dataset indices *and* same per-sample seeds at every position.
            assert gb == [key for r in range(world) for key in rank_batches[r][i]]


def test_deterministic_from_seed_and_epoch_only():
    data = toy_data()

    def keys(epoch: int, global_seed: int) -> List[Tuple[int, int]]:
        random.seed(global_seed)
        np.random.seed(global_seed)
        torch.manual_seed(global_seed)
        sampler = IdentityShardSampler(data, B, K, seed=11, num_shards=2, shards=[0])
        sampler.set_epoch(epoch)
        return list(sampler)

    assert keys(2, global_seed=0) == keys(2, global_seed=123)
    assert [i for i, _ in keys(2, 0)] != [i for i, _ in keys(3, 0)]
    other_seed = IdentityShardSampler(data, B, K, seed=12, num_shards=2, shards=[0])
    other_seed.set_epoch(2)
    assert [i for i, _ in other_seed] != [i for i, _ in keys(2, 0)]


def test_reiteration_and_set_epoch_roundtrip_reproduce_keys():
    data = toy_data()
    sampler = IdentityShardSampler(data, B, K, seed=0, num_shards=2)
    sampler.set_epoch(1)
    first = list(sampler)
    assert list(sampler) == first
    sampler.set_epoch(2)
    assert list(sampler) != first
    sampler.set_epoch(1)
    assert list(sampler) == first


def test_each_batch_has_p_identities_with_k_samples():
    data = toy_data(num_ids=20, per_id=5, short_ids=(3,))
    sampler = IdentityShardSampler(data, B, K, seed=4, num_shards=2, shards=[1])
    for batch in batches(sampler, B):
        counts = Counter(pids_of(data, batch))
        assert len(counts) == B // K
        assert set(counts.values()) == {K}


def test_identity_with_fewer_than_k_tracklets_is_used_with_repetition():
    k = 3
    data = toy_data(num_ids=6, per_id=3, short_ids=(2,))
    sampler = IdentityShardSampler(data, 2 * k, k, seed=0)
    short_index = [i for i, item in enumerate(data) if item[1] == 2]
    keys = list(sampler)
    used = [i for i, _ in keys if i in short_index]
    assert used == short_index * k


def test_identity_with_exactly_k_tracklets_gives_each_of_them_once():
    """As torchreid's sampler: only identities with fewer than K tracklets are drawn with repetition."""
    data = toy_data(num_ids=12, per_id=K)
    for batch in batches(IdentityShardSampler(data, B, K, seed=1), B):
        indices = [i for i, _ in batch]
        assert len(set(indices)) == B


def test_defaults_are_seed_0_one_shard_and_epoch_0():
    data = toy_data()
    explicit = IdentityShardSampler(data, B, K, seed=0, num_shards=1)
    explicit.set_epoch(0)
    assert list(IdentityShardSampler(data, B, K)) == list(explicit)


@pytest.mark.parametrize("batch_size, num_instances", [(B, 1), (K, K)])
def test_one_tracklet_per_identity_or_one_identity_per_batch_is_allowed(batch_size, num_instances):
    data = toy_data()
    for batch in batches(IdentityShardSampler(data, batch_size, num_instances), batch_size):
        assert set(Counter(pids_of(data, batch)).values()) == {num_instances}


def test_the_plan_follows_sorted_identities_not_the_order_tracklets_are_listed():
    data = toy_data(num_ids=12)
    listed_backwards = sorted(data, key=lambda item: -item[1])  # identities last to first, tracklets in order
    forwards, backwards = (IdentityShardSampler(d, B, K, seed=2) for d in (data, listed_backwards))
    assert [data[i][0] for i, _ in forwards] == [listed_backwards[i][0] for i, _ in backwards]


def test_identity_labels_of_mixed_types_are_sampled():
    data = [(f"t{j}", pid, 0) for pid in ("a", 1, "b", 2, "c", 3) for j in range(K)]
    for batch in batches(IdentityShardSampler(data, B, K, seed=0), B):
        assert set(Counter(pids_of(data, batch)).values()) == {K}


def test_seeds_differ_across_positions():
    sampler = IdentityShardSampler(toy_data(), B, K, seed=0, num_shards=2)
    seeds = [s for _, s in sampler]
    assert len(set(seeds)) == len(seeds)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(batch_size=2, num_instances=4), r"train\.batch_size.*sampler\.num_instances"),
        (dict(batch_size=6, num_instances=4), r"train\.batch_size.*sampler\.num_instances"),
        (dict(batch_size=8, num_instances=0), r"sampler\.num_instances"),
        (dict(batch_size=8, num_instances=2, num_shards=0), r"num_shards"),
        (dict(batch_size=8, num_instances=2, num_shards=2, shards=[2]), r"shard index 2.*out of range"),
        (dict(batch_size=8, num_instances=2, num_shards=2, shards=[-1]), r"out of range"),
        (dict(batch_size=8, num_instances=2, num_shards=2, shards=[0, 0]), r"twice"),
        (dict(batch_size=8, num_instances=2, num_shards=2, shards=[]), r"^shards must name at least one shard index \(or be None for all\)$"),
        (dict(batch_size=8, num_instances=2, num_shards=7), r"identities per rank; lower train\.batch_size"),
        (dict(batch_size=28, num_instances=2), r"needs 14 identities per rank"),
    ],
)
def test_errors_name_config_keys(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IdentityShardSampler(toy_data(num_ids=12), **kwargs)


def test_empty_truncated_epoch_is_an_error():
    sampler = IdentityShardSampler(toy_data(num_ids=8), B, K)
    sampler._shard_batches = lambda shard_pids, rng: []  # a plan with no batch must not train nothing silently
    with pytest.raises(ValueError, match="no complete batch on some rank; lower train.batch_size or "
                                         "sampler.num_instances, or use fewer processes"):
        len(sampler)


class KeyedToyDataset(Dataset):
    """Accepts the sampler's (index, seed) key, as the video dataset will."""

    def __init__(self, data):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key):
        index, seed = key
        noise = np.random.default_rng(seed).random()
        return torch.tensor(self.data[index][1]), torch.tensor(index), torch.tensor(noise, dtype=torch.float64)


def test_dataloader_with_keyed_dataset():
    data = toy_data()
    sampler = IdentityShardSampler(data, B, K, seed=9, num_shards=2, shards=[0])
    loader = DataLoader(KeyedToyDataset(data), batch_size=B, sampler=sampler, num_workers=0, drop_last=True)
    got = list(loader)
    assert len(got) == len(sampler) // B
    expected = batches(sampler, B)
    for (pids, idx, noise), keys in zip(got, expected):
        assert idx.tolist() == [i for i, _ in keys]
        assert Counter(pids.tolist()) == Counter(pids_of(data, keys))
        assert noise.tolist() == [np.random.default_rng(s).random() for _, s in keys]

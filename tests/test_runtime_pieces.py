"""Fast checks of the pieces under resume and torchrun: generator states, runtime settings, the batch norm over
processes, identity shards in the data manager, and the cluster script."""
import io
import random
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from aitl_reid import distributed
from aitl_reid.data import build_datamanager
from aitl_reid.data.identity_sampler import IdentityShardSampler
from aitl_reid.engine.rng_state import capture_rng_state, isolated_rng, restore_rng_state
from aitl_reid.launch import load_config, runtime_settings
from aitl_reid.models import SyncBatchNorm, convert_sync_batchnorm
from test_data_datamanager import tiny_config

REPO = Path(__file__).resolve().parents[1]


def draws():
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def test_generator_states_survive_a_weights_only_round_trip():
    state = capture_rng_state()
    expected = draws()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    restore_rng_state(torch.load(buffer, weights_only=True))
    assert draws() == expected


def test_isolated_rng_leaves_the_generators_as_they_were():
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    expected = draws()
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    with isolated_rng():
        draws()
    assert draws() == expected


def test_runtime_settings_apply_inside_the_block_and_are_restored_after():
    threads = torch.get_num_threads()
    cfg = load_config("", ["train.deterministic", "True", "train.num_threads", "1"])
    with runtime_settings(cfg):
        assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 1
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert not torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == threads


def test_sync_batchnorm_equals_batchnorm_over_the_whole_batch(monkeypatch):
    """One process standing in for all of them (the exchange is the identity): forward, running statistics
    and gradients are torch's BatchNorm's over the same batch."""
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "all_gather_with_grad", lambda tensor: tensor)
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                    torch.nn.Linear(4 * 6 * 6, 5), torch.nn.BatchNorm1d(5))
    reference[4].bias.requires_grad_(False)
    synced = convert_sync_batchnorm(torch.nn.Sequential(*[layer for layer in reference]))
    assert isinstance(synced[1], SyncBatchNorm) and isinstance(synced[4], SyncBatchNorm)
    assert synced[1].weight is reference[1].weight and not synced[4].bias.requires_grad
    reference.double()  # float64: batch norm's backward cancels large terms, float32 would blur the comparison
    x = torch.randn(8, 3, 8, 8, dtype=torch.float64) * 3 + 5
    target = torch.randn(8, 5, dtype=torch.float64)
    expected = torch.nn.functional.batch_norm(
        torch.nn.Flatten()(torch.nn.functional.batch_norm(reference[0](x), None, None, reference[1].weight,
                                                          reference[1].bias, training=True)) @ reference[3].weight.t()
        + reference[3].bias, None, None, reference[4].weight, reference[4].bias, training=True)
    out = synced(x)
    assert torch.allclose(out, expected, atol=1e-10)
    grad_ours = torch.autograd.grad((out * target).sum(), reference[0].weight, retain_graph=True)[0]
    grad_torch = torch.autograd.grad((expected * target).sum(), reference[0].weight)[0]
    assert torch.allclose(grad_ours, grad_torch, rtol=1e-8, atol=1e-10)
    assert synced[1].num_batches_tracked == 1 and float(synced[1].running_mean.abs().sum()) > 0


def test_sync_batchnorm_is_plain_batchnorm_in_one_process():
    layer = convert_sync_batchnorm(torch.nn.BatchNorm1d(3))
    x = torch.randn(6, 3)
    assert torch.allclose(layer(x), torch.nn.functional.batch_norm(x, None, None, training=True), atol=1e-6)
    with pytest.raises(ValueError, match="expected at least 2-D input"):
        layer(torch.randn(3))


def test_data_manager_serves_identity_shards_with_the_run_seed(tiny_mars_root):
    cfg = tiny_config(tiny_mars_root)
    cfg.sampler.identity_shards = 2
    cfg.sampler.num_instances = 1
    cfg.train.batch_size = 4
    manager = build_datamanager(cfg, use_gpu=False)
    sampler = manager.train_loader.sampler
    assert isinstance(sampler, IdentityShardSampler)
    assert (sampler.num_shards, sampler.shards, sampler.batch_size, sampler.seed) == (2, [0, 1], 2, cfg.train.seed)
    cfg.train.batch_size = 5
    with pytest.raises(ValueError, match="train.batch_size 5 divisible by the shards each process takes"):
        build_datamanager(cfg, use_gpu=False)


def test_cluster_script_is_valid_bash():
    script = REPO / "tools" / "slurm_torchrun.sbatch"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert "model.resume auto" in script.read_text()

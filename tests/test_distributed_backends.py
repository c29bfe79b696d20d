"""Which implementation serves which process group: torch's SyncBatchNorm and differentiable all-gather under NCCL
(GPUs), the plugin's own under gloo (CPUs) and in a single process; the step's one read and the broadcast of rank 0's
state in a real (one-process) gloo group."""
import pytest
import torch
import torch.distributed as dist
from torch import nn

from aitl_reid import distributed
from aitl_reid.models import SyncBatchNorm, convert_sync_batchnorm


def layers():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 5), nn.BatchNorm1d(5))


@pytest.fixture
def gloo_group():
    """A gloo process group of this one process, torn down after the test."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_under_nccl_batch_norm_and_the_gather_are_torchs(monkeypatch):
    monkeypatch.setattr(distributed, "backend", lambda: "nccl")
    monkeypatch.setattr(distributed, "is_distributed", lambda: True)
    model = layers()
    weight = model[1].weight
    synced = convert_sync_batchnorm(model)
    assert type(synced[1]) is nn.SyncBatchNorm and type(synced[4]) is nn.SyncBatchNorm
    assert synced[1].weight is weight  # the optimizer built before still holds the parameters

    gathered = []
    monkeypatch.setattr(distributed.dist_nn, "all_gather", lambda t: gathered.append(t) or (t, 2 * t))
    monkeypatch.setattr(distributed.dist, "all_reduce", lambda *a, **k: pytest.fail("gloo's all_reduce path taken"))
    x = torch.arange(6.0).reshape(3, 2)
    assert torch.equal(distributed.all_gather_with_grad(x), torch.cat([x, 2 * x])) and len(gathered) == 1


def test_under_gloo_batch_norm_and_the_gather_are_the_plugins(gloo_group):
    assert distributed.backend() == "gloo" and not distributed.uses_nccl()
    synced = convert_sync_batchnorm(layers())
    assert type(synced[1]) is SyncBatchNorm and type(synced[4]) is SyncBatchNorm
    x = torch.randn(3, 2, requires_grad=True)
    gathered = distributed.all_gather_with_grad(x)
    (gathered * torch.arange(6.0).reshape(3, 2)).sum().backward()
    assert torch.equal(gathered, x) and torch.equal(x.grad, torch.arange(6.0).reshape(3, 2))


def test_in_a_single_process_there_is_no_backend_and_batch_norm_is_the_plugins():
    assert distributed.backend() == "" and not distributed.uses_nccl()
    assert type(convert_sync_batchnorm(layers())[1]) is SyncBatchNorm


def test_the_steps_read_and_the_broadcast_of_rank_0s_state_in_a_gloo_group(gloo_group, monkeypatch):
    assert distributed.summed_to_host(torch.tensor([1.0, 0.5])) == [1.0, 0.5]
    model = layers()
    sent, broadcast = [], dist.broadcast
    monkeypatch.setattr(distributed.dist, "broadcast", lambda tensor, src: sent.append((tensor.data_ptr(), src))
                        or broadcast(tensor, src))
    distributed.broadcast_state(model)
    # every parameter and buffer (running statistics and batch counts included), received in place from rank 0
    assert sent == [(value.data_ptr(), 0) for value in model.state_dict().values()] and len(sent) == 14

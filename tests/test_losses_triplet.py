"""Batch-hard triplet loss: hand case, naive loop, and torchreid's Euclidean TripletLoss."""
import pytest
import torch

from aitl_reid import _torchreid
from aitl_reid.losses import BatchHardTripletLoss, batch_hard_triplet_loss


def test_batch_hard_cosine_hand_case():
    # id 0: e0, (.6,.8); id 1: e1, (-1,0). Cosine distances: d(0,1)=.4 d(0,2)=1 d(0,3)=2
    # d(1,2)=.2 d(1,3)=1.6 d(2,3)=1
    # anchor 0: pos .4, neg min(1, 2)=1   -> relu(.4-1+.3)=0
    # anchor 1: pos .4, neg min(.2,1.6)=.2 -> .4-.2+.3=.5
    # anchor 2: pos 1,  neg min(1,.2)=.2   -> 1-.2+.3=1.1
    # anchor 3: pos 1,  neg min(2,1.6)=1.6 -> 0
    feats = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]])
    pids = torch.tensor([0, 0, 1, 1])
    assert batch_hard_triplet_loss(feats, pids).item() == pytest.approx(1.6 / 4, abs=1e-6)


def test_batch_hard_cosine_matches_naive_loop_with_gradient():
    gen = torch.Generator().manual_seed(0)
    pids = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    feats = torch.randn(9, 5, generator=gen, dtype=torch.float64)
    unit = lambda x: x / x.norm(dim=1, keepdim=True)  # noqa: E731

    fast_in = feats.clone().requires_grad_()
    fast = batch_hard_triplet_loss(fast_in, pids, margin=0.3)
    fast.backward()
    slow_in = feats.clone().requires_grad_()
    d = 1 - unit(slow_in) @ unit(slow_in).t()
    terms = []
    for a in range(9):
        pos = max(d[a, j] if j != a else d.new_zeros(()) for j in range(9) if pids[j] == pids[a])
        neg = min(d[a, j] for j in range(9) if pids[j] != pids[a])
        terms.append(torch.relu(pos - neg + 0.3))
    slow = torch.stack(terms).mean()
    slow.backward()

    assert fast.item() > 0
    assert fast.item() == pytest.approx(slow.item(), abs=1e-12)
    assert torch.allclose(fast_in.grad, slow_in.grad, atol=1e-12)


def test_batch_hard_euclidean_matches_torchreid_tripletloss():
    gen = torch.Generator().manual_seed(1)
    pids = torch.tensor([5, 5, 5, 5, 8, 8, 8, 8, 2, 2, 2, 2])
    feats = torch.randn(12, 16, generator=gen)
    ours_in, ref_in = feats.clone().requires_grad_(), feats.clone().requires_grad_()
    ours = batch_hard_triplet_loss(ours_in, pids, margin=0.3, distance="euclidean")
    ref = _torchreid.losses.TripletLoss(margin=0.3)(ref_in, pids)
    ours.backward()
    ref.backward()
    assert ours.item() > 0
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)
    assert torch.allclose(ours_in.grad, ref_in.grad, atol=1e-5)


def test_single_identity_batch_gives_zero_not_nan():
    feats = torch.randn(4, 3, requires_grad=True)
    loss = batch_hard_triplet_loss(feats, torch.tensor([1, 1, 1, 1]))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(feats.grad, torch.zeros(4, 3))


def test_module_matches_function():
    feats = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]])
    pids = torch.tensor([0, 0, 1, 1])
    assert BatchHardTripletLoss(0.5, "euclidean")(feats, pids) == batch_hard_triplet_loss(feats, pids, 0.5, "euclidean")


def test_module_defaults_to_the_papers_margin_and_cosine_distance():
    loss = BatchHardTripletLoss()
    assert (loss.margin, loss.distance) == (0.3, "cosine")


def test_anchors_of_one_process_compute_only_their_rows_and_three_processes_make_the_whole_loss(monkeypatch):
    """Under torchrun each process's anchors are its rows of the global batch: three processes' losses over rows 0-3,
    4-7 and 8-11 of 12, each from a 4 x 12 block of distances, average to the loss of the whole batch, gradient
    included."""
    from aitl_reid.losses import triplet

    gen = torch.Generator().manual_seed(2)
    pids = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    feats = torch.randn(12, 6, generator=gen, dtype=torch.float64)
    shapes, distance = [], triplet.pairwise_distance

    def recorded(*args, **kwargs):
        dist = distance(*args, **kwargs)
        shapes.append(tuple(dist.shape))
        return dist

    monkeypatch.setattr(triplet, "pairwise_distance", recorded)
    for kind in ("cosine", "euclidean"):
        blocks_in, whole_in = feats.clone().requires_grad_(), feats.clone().requires_grad_()
        shapes.clear()
        blocks = sum(batch_hard_triplet_loss(blocks_in, pids, 0.3, kind, anchors=slice(a, a + 4)) for a in (0, 4, 8)) / 3
        assert shapes == [(4, 12)] * 3
        whole = batch_hard_triplet_loss(whole_in, pids, 0.3, kind)
        blocks.backward()
        whole.backward()
        assert whole.item() > 0 and blocks.item() == pytest.approx(whole.item(), abs=1e-12)
        assert torch.allclose(blocks_in.grad, whole_in.grad, atol=1e-12)


def test_distance_rows_are_the_rows_of_the_square_with_zero_to_themselves():
    from aitl_reid.losses import pairwise_distance

    feats = torch.randn(7, 5, dtype=torch.float64)
    for kind in ("cosine", "euclidean"):
        square = pairwise_distance(feats, kind)
        assert torch.allclose(pairwise_distance(feats, kind, slice(2, 5)), square[2:5], atol=1e-12)
        assert torch.equal(pairwise_distance(feats, kind, slice(2, 5))[[0, 1, 2], [2, 3, 4]], torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="consecutive rows"):
        pairwise_distance(feats, "cosine", slice(0, 6, 2))


def test_a_single_anchor_row_gives_that_anchors_term():
    """One anchor (a process holding one row under torchrun): hand values with cosine distance, margin 0.3."""
    feats = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]])
    pids = torch.tensor([0, 0, 1, 1])
    # anchor 0: hardest positive 1 - 0.6 = 0.4, hardest negative 1 - 0 = 1 -> relu(0.4 - 1 + 0.3) = 0
    # anchor 1: hardest positive 0.4, hardest negative 1 - 0.8 = 0.2 -> 0.4 - 0.2 + 0.3 = 0.5
    assert batch_hard_triplet_loss(feats, pids, 0.3, anchors=slice(1, 2)).item() == pytest.approx(0.5, abs=1e-6)
    assert batch_hard_triplet_loss(feats, pids, 0.3, anchors=slice(0, 1)).item() == pytest.approx(0.0, abs=1e-6)


def test_a_features_tensor_of_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"^features must be 2-D \[N, D\], got shape \(4,\)$"):
        batch_hard_triplet_loss(torch.zeros(4), torch.tensor([0, 0, 1, 1]))
    with pytest.raises(ValueError, match=r"^pids must be 1-D with 4 entries \(one per row of features\), got shape \(3,\)$"):
        batch_hard_triplet_loss(torch.zeros(4, 2), torch.tensor([0, 0, 1]))


def test_pairwise_distance_is_cosine_by_default_within_0_and_2_and_refuses_a_1d_tensor():
    from aitl_reid.losses.distances import pairwise_distance

    x = torch.tensor([[3.0, 4.0], [4.0, 3.0], [-3.0, -4.0]])
    expected = torch.tensor([[0.0, 1 - 24 / 25, 2.0], [1 - 24 / 25, 0.0, 1 + 24 / 25], [2.0, 1 + 24 / 25, 0.0]])
    assert torch.allclose(pairwise_distance(x), expected, atol=1e-6)
    for seed in range(50):  # rounding can put 1 - cos just below 0 or above 2: the distance is clamped to [0, 2]
        v = torch.randn(1, 7, generator=torch.Generator().manual_seed(seed))
        dist = pairwise_distance(torch.cat([v, 3 * v, -2 * v]))
        assert dist.min() >= 0.0 and dist.max() <= 2.0
    with pytest.raises(ValueError, match=r"^expected a 2-D \[N, D\] tensor, got shape \(3,\)$"):
        pairwise_distance(torch.zeros(3))

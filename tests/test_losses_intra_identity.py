"""AITL, ITL and DVDP (paper Eq. 1-3) against hand-computed cases and a naive per-anchor loop."""
import math

import pytest
import torch
import torch.nn.functional as F

from aitl_reid.losses import (
    AITLLoss, ITLLoss, aitl_loss, dvdp, itl_loss, select_far_near, selection_agreement, true_attribute_distance,
)

# Identity 0 has four tracklets, identity 1 two, identity 2 one. Feature cosine distances (FD) within
# identity 0, from unit vectors e0, (.6,.8), e1, (.8,.6):
#   FD(0,1)=.4  FD(0,2)=1  FD(0,3)=.2  FD(1,2)=.2  FD(1,3)=.04  FD(2,3)=.4
# Attribute distances (AD) of the one-hot attribute vectors, all exactly 0 or 1:
#   AD(0,1)=1 AD(0,2)=1 AD(0,3)=0 AD(1,2)=0 AD(1,3)=1 AD(2,3)=1   (so anchors 0..3 each see a tie)
FEATURES = [[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [0.8, 0.6], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]
ATTRIBUTES = [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
PIDS = [0, 0, 0, 0, 1, 1, 2]


def _case():
    return torch.tensor(FEATURES), torch.tensor(PIDS), torch.tensor(ATTRIBUTES)


def test_aitl_hand_case_with_ties_picks_first_index():
    # anchor 0: AN = 1 (tie 1/2 -> first), AP = 3: .4 - .2 = .2 (picking 2 would give .8)
    # anchor 1: AN = 0 (tie 0/3 -> first), AP = 2: .4 - .2 = .2 (picking 3 would give 0)
    # anchor 2: AN = 0, AP = 1: 1 - .2 = .8; anchor 3: AN = 1, AP = 0: .04 - .2 < 0 -> 0
    # identity 1 (K = 2: AN == AP) and identity 2 (alone) give 0; mean over the 7 anchors
    features, pids, attributes = _case()
    assert aitl_loss(features, pids, attributes).item() == pytest.approx(1.2 / 7, abs=1e-6)


def test_select_far_near_reports_ties_and_degenerate_anchors():
    _, pids, attributes = _case()
    ad = 1 - F.normalize(attributes) @ F.normalize(attributes).t()
    far, near, counts = select_far_near(ad, pids)
    assert far[:4].tolist() == [1, 0, 0, 1]
    assert near[:4].tolist() == [3, 2, 1, 0]
    assert counts.tolist() == [True, True, True, True, False, False, False]


def test_aitl_include_anchor_makes_the_anchor_its_own_attribute_positive():
    # the anchor (AD 0) is a candidate: AP is the anchor itself unless a lower index also has AD 0
    # anchor 0: AN 1, AP 0 -> .4; anchor 1: AN 0, AP 1 (self, before 2) -> .4; anchor 2: AP 1 -> 1-.2=.8
    # anchor 3: AN 1, AP 0 -> 0; identity 1: AN = the other, AP = self -> FD 1 each; identity 2: 0
    features, pids, attributes = _case()
    value = aitl_loss(features, pids, attributes, include_anchor=True)
    assert value.item() == pytest.approx(3.6 / 7, abs=1e-6)


def test_itl_and_dvdp_hand_case_select_by_feature_distance():
    # anchor 0: far 2 (1), near 3 (.2) -> .8; anchor 1: far 0 (.4), near 3 (.04) -> .36
    # anchor 2: far 0 (1), near 1 (.2) -> .8; anchor 3: far 2 (.4), near 1 (.04) -> .36
    features, pids, _ = _case()
    assert itl_loss(features, pids).item() == pytest.approx(2.32 / 7, abs=1e-6)
    assert dvdp(features, pids).item() == pytest.approx(2.32 / 7, abs=1e-6)


def test_margin_is_added_only_to_non_degenerate_anchors():
    features, pids, attributes = _case()
    # anchor 3 goes from -.16 to -.06 (still 0); identities 1 and 2 stay 0 (no constant margin)
    assert aitl_loss(features, pids, attributes, margin=0.1).item() == pytest.approx((0.3 + 0.3 + 0.9) / 7, abs=1e-6)


def test_identity_with_two_tracklets_or_one_gives_zero():
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]])
    attributes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    pids = torch.tensor([4, 4, 9])
    assert aitl_loss(features, pids, attributes, margin=0.5).item() == 0.0
    assert itl_loss(features, pids, margin=0.5).item() == 0.0
    assert dvdp(features, pids).item() == 0.0


def test_all_candidates_tied_gives_zero():
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    attributes = torch.ones(3, 2)
    assert aitl_loss(features, torch.zeros(3, dtype=torch.long), attributes, margin=0.3).item() == 0.0


def _naive_cosine(x, y):
    return 1 - torch.dot(x, y) / (x.norm() * y.norm())


def _naive_euclidean(x, y):
    return (x - y).norm()


def _naive_intra_identity(features, pids, selection, margin, dist, include_anchor=False):
    """Eq. 2-3 one anchor at a time, ties to the first index, as a reference."""
    total = features.new_zeros(())
    n = len(pids)
    for a in range(n):
        others = [j for j in range(n) if pids[j] == pids[a] and j != a]
        if not others:
            continue
        cands = others + ([a] if include_anchor else [])
        cands.sort()
        sel = [0.0 if j == a else dist(selection[a], selection[j]).item() for j in cands]
        far = cands[max(range(len(cands)), key=lambda i: (sel[i], -i))]
        near = cands[min(range(len(cands)), key=lambda i: (sel[i], i))]
        if far == near:
            continue
        d_far = dist(features[a], features[far]) if far != a else features.new_zeros(())
        d_near = dist(features[a], features[near]) if near != a else features.new_zeros(())
        total = total + torch.relu(d_far - d_near + margin)
    return total / n


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("include_anchor", [False, True])
def test_aitl_value_and_gradient_match_naive_loop(distance, include_anchor):
    gen = torch.Generator().manual_seed(0)
    pids = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 4, 4, 4, 4])  # uneven identities
    feats = torch.randn(len(pids), 6, generator=gen, dtype=torch.float64)
    attrs = torch.rand(len(pids), 5, generator=gen, dtype=torch.float64)
    dist = _naive_cosine if distance == "cosine" else _naive_euclidean

    fast_in = feats.clone().requires_grad_()
    fast = aitl_loss(fast_in, pids, attrs, margin=0.05, distance=distance, include_anchor=include_anchor)
    fast.backward()
    slow_in = feats.clone().requires_grad_()
    slow = _naive_intra_identity(slow_in, pids.tolist(), attrs, 0.05, dist, include_anchor)
    slow.backward()

    assert fast.item() > 0
    assert fast.item() == pytest.approx(slow.item(), abs=1e-12)
    assert torch.allclose(fast_in.grad, slow_in.grad, atol=1e-12)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_itl_value_and_gradient_match_naive_loop(distance):
    gen = torch.Generator().manual_seed(1)
    pids = torch.tensor([3, 3, 3, 7, 7, 7, 7, 7, 9, 9, 1])
    feats = torch.randn(len(pids), 4, generator=gen, dtype=torch.float64)
    dist = _naive_cosine if distance == "cosine" else _naive_euclidean

    fast_in = feats.clone().requires_grad_()
    fast = itl_loss(fast_in, pids, distance=distance)
    fast.backward()
    slow_in = feats.clone().requires_grad_()
    slow = _naive_intra_identity(slow_in, pids.tolist(), slow_in.detach(), 0.0, dist)
    slow.backward()

    assert fast.item() > 0
    assert fast.item() == pytest.approx(slow.item(), abs=1e-12)
    assert torch.allclose(fast_in.grad, slow_in.grad, atol=1e-12)
    assert dvdp(feats, pids, distance).item() == pytest.approx(slow.item(), abs=1e-12)


def test_aitl_gradient_matches_finite_differences():
    gen = torch.Generator().manual_seed(2)
    pids = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    feats = torch.randn(7, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    attrs = torch.rand(7, 4, generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda f: aitl_loss(f, pids, attrs, margin=1.0), (feats,))


def test_no_gradient_flows_through_the_selection():
    features, pids, attributes = _case()
    features.requires_grad_()
    attributes.requires_grad_()
    aitl_loss(features, pids, attributes).backward()
    assert attributes.grad is None
    assert features.grad.abs().sum() > 0
    assert not dvdp(features, pids).requires_grad


def test_euclidean_gradient_is_finite_for_identical_features():
    features = torch.tensor([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [3.0, 0.0]], requires_grad=True)
    pids = torch.tensor([0, 0, 0, 0])
    attrs = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    loss = aitl_loss(features, pids, attrs, margin=0.1, distance="euclidean", include_anchor=True)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(features.grad).all()


def test_autocast_bfloat16_features_give_the_float32_value():
    features, pids, attributes = _case()
    half = features.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = aitl_loss(half, pids, attributes.bfloat16())
    assert value.dtype == torch.float32
    assert value.item() == aitl_loss(half.float(), pids, attributes.bfloat16().float()).item()


def test_modules_match_functions():
    features, pids, attributes = _case()
    assert AITLLoss(0.1, "cosine", True)(features, pids, attributes) == aitl_loss(features, pids, attributes, 0.1, "cosine", True)
    assert ITLLoss(0.1)(features, pids) == itl_loss(features, pids, 0.1)
    # every setting passed on: euclidean attribute distance under cosine features (attribute vectors of
    # different lengths, which only the euclidean distance sees), euclidean ITL
    gen = torch.Generator().manual_seed(0)
    attributes = torch.rand(7, 3, generator=gen) * torch.tensor([0.2, 1.0, 3.0, 0.5, 1.0, 2.0, 1.0]).unsqueeze(1)
    aitl = AITLLoss(0.1, "cosine", attribute_distance="euclidean")(features, pids, attributes)
    assert aitl == aitl_loss(features, pids, attributes, 0.1, "cosine", attribute_distance="euclidean")
    assert aitl != aitl_loss(features, pids, attributes, 0.1, "cosine")  # the case tells the two apart
    assert ITLLoss(0.1, "euclidean")(features, pids) == itl_loss(features, pids, 0.1, "euclidean") != itl_loss(features, pids, 0.1)


def test_modules_default_to_the_papers_settings():
    """Eq. 2-3: no margin, cosine distances, positives among the other tracklets, attribute distance = feature distance."""
    aitl, itl = AITLLoss(), ITLLoss()
    assert (aitl.margin, aitl.distance, aitl.include_anchor, aitl.attribute_distance) == (0.0, "cosine", False, "")
    assert (itl.margin, itl.distance) == (0.0, "cosine")


def test_bad_inputs_raise_clear_errors():
    features, pids, attributes = _case()
    with pytest.raises(ValueError, match="pids must be 1-D with 7"):
        aitl_loss(features, pids[:5], attributes)
    with pytest.raises(ValueError, match="attributes must be 2-D"):
        aitl_loss(features, pids, attributes[:, 0])
    with pytest.raises(ValueError, match="unknown distance 'manhattan'"):
        itl_loss(features, pids, distance="manhattan")
    with pytest.raises(ValueError, match="integer"):
        dvdp(features, pids.float())


def test_zero_feature_vector_gives_finite_loss():
    features = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    loss = itl_loss(features, torch.tensor([0, 0, 0]))
    loss.backward()
    assert math.isfinite(loss.item()) and torch.isfinite(features.grad).all()


def test_true_attribute_distance_counts_differing_labels_over_those_annotated_in_both():
    labels = torch.tensor([[0, 1, 2], [0, 2, -1], [-1, -1, -1]])
    dist = true_attribute_distance(labels)
    assert dist[0, 1].item() == pytest.approx(1 / 2)  # columns 0 and 1 annotated in both; column 1 differs
    assert dist[0, 0].item() == 0.0 and dist[0, 2].item() == 0.0  # nothing in common: 0, never NaN
    one_in_common = true_attribute_distance(torch.tensor([[0, -1], [1, 5]]))
    assert one_in_common[0, 1].item() == 1.0  # the one attribute annotated in both differs: all of them


def test_selection_agreement_hand_case_with_ties_and_uninformative_anchors():
    # identity 0: tracklets 0-3; true distances from anchor 0: to 1 -> 1, to 2 -> 1, to 3 -> 0 (two tied farthest)
    # identity 1: tracklets 4-5 with equal true attributes: no informative anchor
    true = torch.tensor([[0, 1, 1, 0], [1, 0, 0, 1], [1, 0, 0, 1], [0, 1, 1, 0]], dtype=torch.float64)
    true = torch.block_diag(true, torch.zeros(2, 2, dtype=torch.float64))
    pids = torch.tensor([0, 0, 0, 0, 1, 1])
    # predicted distances: anchor 0 picks 3 (wrong), anchor 1 picks 3 (right), anchor 2 picks 0 (right), anchor 3 picks 1 (right)
    predicted = torch.zeros(6, 6)
    for anchor, far in ((0, 3), (1, 3), (2, 0), (3, 1), (4, 5), (5, 4)):
        predicted[anchor, far] = 1.0
    agree, chance, anchors = selection_agreement(predicted, true, pids)
    assert (agree, anchors) == (3.0, 4.0)
    assert chance == pytest.approx(4 * (2 / 3))  # each informative anchor: 2 of its 3 candidates are truly farthest


def test_selection_agreement_counts_tied_far_candidates_as_uninformative_unless_the_anchor_is_one():
    # one identity, true distances: anchor 0 -> 1 and 2 both 0.5 (tied, nonzero, above anchor 1's 0.25 to 0),
    # anchor 1 -> 2 farthest, anchor 2 -> 1 farthest
    true = torch.tensor([[0.0, 0.5, 0.5], [0.25, 0.0, 1.0], [0.5, 1.0, 0.0]], dtype=torch.float64)
    pids = torch.tensor([0, 0, 0])
    # predicted: anchor 0 sees all at 0 (far = its first candidate), anchor 1 picks 2 (right), anchor 2 picks 0 (wrong)
    predicted = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    # without the anchor: anchor 0's candidates are tied, so only anchors 1 and 2 count, 1 of 2 farthest each
    agree, chance, anchors = selection_agreement(predicted, true, pids)
    assert (agree.item(), anchors.item()) == (1, 2) and chance.item() == pytest.approx(1 / 2 + 1 / 2)
    # with it (released code): anchor 0 compares itself (0) with 1 and 2 (0.5) and picks itself, the nearest: wrong;
    # chance 2/3 for anchor 0 (1 and 2 of 0, 1, 2), 1/3 for the others
    agree, chance, anchors = selection_agreement(predicted, true, pids, include_anchor=True)
    assert (agree.item(), anchors.item()) == (1, 3) and chance.item() == pytest.approx(2 / 3 + 1 / 3 + 1 / 3)


def test_itl_margin_is_added_once_per_counted_anchor():
    """ITL picks the far positive by feature distance, so no term is clipped: the 4 anchors of identity 0 count
    (identity 1 has two tracklets, identity 2 one), and a margin m adds 4 m / 7."""
    features, pids, _ = _case()
    assert (itl_loss(features, pids, margin=0.5) - itl_loss(features, pids)).item() == pytest.approx(0.5 * 4 / 7, abs=1e-6)


def test_candidates_leave_out_the_anchor_by_default():
    from aitl_reid.losses.intra_identity import candidate_masks

    others, candidates = candidate_masks(torch.tensor([0, 0, 1]))
    assert others.tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    assert torch.equal(candidates, others)

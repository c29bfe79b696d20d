"""Label-smoothed identity cross-entropy against a hand value and torchreid's CrossEntropyLoss."""
import math
import re

import pytest
import torch

from aitl_reid import _torchreid
from aitl_reid.losses import CrossEntropyLabelSmooth, cross_entropy_label_smooth


def test_label_smoothing_hand_case():
    # softmax([0, ln 3]) = [.25, .75]; target 1 smoothed with eps .1 over 2 classes = [.05, .95]
    logits = torch.tensor([[0.0, math.log(3.0)]])
    expected = -(0.05 * math.log(0.25) + 0.95 * math.log(0.75))
    assert cross_entropy_label_smooth(logits, torch.tensor([1])).item() == pytest.approx(expected, abs=1e-6)


def test_uniform_logits_give_log_num_classes_for_any_epsilon():
    logits = torch.zeros(3, 4)
    for eps in (0.0, 0.1, 0.5):
        assert cross_entropy_label_smooth(logits, torch.tensor([0, 1, 3]), eps).item() == pytest.approx(math.log(4), abs=1e-6)


def test_matches_torchreid_crossentropyloss():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 10, generator=gen)
    pids = torch.tensor([0, 3, 3, 9, 2, 7])
    ref = _torchreid.losses.CrossEntropyLoss(num_classes=10, eps=0.1, use_gpu=False, label_smooth=True)(logits, pids)
    assert cross_entropy_label_smooth(logits, pids, 0.1).item() == pytest.approx(ref.item(), abs=1e-6)
    assert CrossEntropyLabelSmooth()(logits, pids).item() == pytest.approx(ref.item(), abs=1e-6)  # the paper's 0.1 by default
    ref_03 = _torchreid.losses.CrossEntropyLoss(num_classes=10, eps=0.3, use_gpu=False, label_smooth=True)(logits, pids)
    assert CrossEntropyLabelSmooth(0.3)(logits, pids).item() == pytest.approx(ref_03.item(), abs=1e-6)
    assert abs(ref_03.item() - ref.item()) > 0.02  # 0.04 apart: the tolerance tells them apart


def test_logits_and_labels_of_the_wrong_shape_are_refused_by_name():
    with pytest.raises(ValueError, match=r"^logits must be 2-D \[B, num_classes\], got shape \(4,\)$"):
        cross_entropy_label_smooth(torch.zeros(4), torch.tensor([1]))
    for pids, shape in ((torch.tensor([1, 2, 0]), "(3,)"), (torch.tensor([[1], [2]]), "(2, 1)")):
        with pytest.raises(ValueError, match="^" + re.escape(f"pids must be 1-D with 2 entries, got shape {shape}") + "$"):
            cross_entropy_label_smooth(torch.zeros(2, 4), pids)


@pytest.mark.parametrize("epsilon", [1.0, 1.5, -0.1])
def test_label_smoothing_epsilon_outside_0_to_1_is_refused(epsilon):
    with pytest.raises(ValueError, match="^" + re.escape(f"label smoothing epsilon must be in [0, 1), got {epsilon}") + "$"):
        cross_entropy_label_smooth(torch.zeros(2, 4), torch.tensor([1, 2]), epsilon)


def test_out_of_range_label_raises_clear_error():
    with pytest.raises(ValueError, match=r"identity labels must lie in \[0, 3\]"):
        cross_entropy_label_smooth(torch.zeros(2, 4), torch.tensor([1, 4]))


def smoothed_cross_entropy_float64(logits, pids, epsilon):
    """The loss written out in float64: -sum(smoothed target * log softmax), averaged over the batch."""
    logits = logits.double()
    log_probs = logits - logits.logsumexp(dim=1, keepdim=True)
    target = torch.full_like(log_probs, epsilon / logits.shape[1])
    target[torch.arange(len(pids)), pids] += 1.0 - epsilon
    return -(target * log_probs).sum(dim=1).mean().item()


def test_bfloat16_logits_are_computed_in_float32():
    """The value, not only the dtype: bf16 arithmetic over 625 classes is off by ~0.04; float32 within 1e-5."""
    gen = torch.Generator().manual_seed(0)
    logits = (4 * torch.randn(8, 625, generator=gen)).bfloat16()
    pids = torch.randint(0, 625, (8,), generator=gen)
    value = cross_entropy_label_smooth(logits, pids, 0.1)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(smoothed_cross_entropy_float64(logits, pids, 0.1), rel=1e-6)

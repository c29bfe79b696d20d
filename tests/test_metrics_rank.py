"""Vectorised evaluate_rank: hand case, and identical results to torchreid's Python loop."""
import numpy as np
import pytest
import torch

from aitl_reid import _torchreid
from aitl_reid.metrics import evaluate_rank
from aitl_reid.metrics import rank as rank_module


def _torchreid_rank(dist, qp, gp, qc, gc, max_rank):
    return _torchreid.metrics.evaluate_rank(dist, qp, gp, qc, gc, max_rank=max_rank, use_metric_cuhk03=False, use_cython=False)


def _random_case(seed, num_q, num_g, num_pids, num_cams, ties=False, dtype=np.float32):
    rng = np.random.default_rng(seed)
    dist = rng.random((num_q, num_g)).astype(dtype)
    if ties:
        dist = np.round(dist * 4) / 4  # five distinct values: many ties
    return (dist, rng.integers(0, num_pids, num_q), rng.integers(0, num_pids, num_g),
            rng.integers(0, num_cams, num_q), rng.integers(0, num_cams, num_g))


def test_hand_case_removes_same_camera_match_and_averages_precision():
    # gallery 0 is the query's identity in its camera (removed); kept order: g1 miss, g2 hit, g3 hit
    dist = np.array([[0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    cmc, mAP = evaluate_rank(dist, np.array([1]), np.array([1, 2, 1, 1]), np.array([0]), np.array([0, 1, 1, 1]), max_rank=3)
    assert cmc.tolist() == [0.0, 1.0, 1.0]
    assert mAP == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_cmc_keeps_max_rank_entries_when_removal_leaves_fewer_gallery_items():
    # torchreid fails here (ragged CMC rows); the hand case keeps 3 of 4 items, CMC stays 1 after the hit
    dist = np.array([[0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    cmc, _ = evaluate_rank(dist, np.array([1]), np.array([1, 2, 1, 1]), np.array([0]), np.array([0, 1, 1, 1]), max_rank=4)
    assert cmc.tolist() == [0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "seed, num_q, num_g, num_pids, num_cams, ties",
    [(0, 3, 100, 4, 2, False), (1, 40, 300, 25, 3, True), (2, 120, 500, 200, 6, False), (3, 200, 1000, 30, 2, True)],
)
def test_identical_to_torchreid_on_random_inputs(seed, num_q, num_g, num_pids, num_cams, ties):
    case = _random_case(seed, num_q, num_g, num_pids, num_cams, ties)
    ref_cmc, ref_map = _torchreid_rank(*case, max_rank=50)
    cmc, mAP = evaluate_rank(*case, max_rank=50)
    assert cmc.dtype == np.float32
    assert np.array_equal(cmc, ref_cmc)
    assert mAP == pytest.approx(ref_map, abs=1e-12)


def test_queries_without_a_valid_match_are_skipped_like_torchreid():
    dist, qp, gp, qc, gc = _random_case(4, 30, 80, 10, 2)
    qp[:5] = 99  # identity absent from the gallery
    gp[gp == qp[5]] = qp[5]
    gc[gp == qp[5]] = qc[5]  # query 5's identity only in its own camera: all matches removed
    ref = _torchreid_rank(dist, qp, gp, qc, gc, 20)
    cmc, mAP = evaluate_rank(dist, qp, gp, qc, gc, 20)
    assert np.array_equal(cmc, ref[0]) and mAP == pytest.approx(ref[1], abs=1e-12)


def test_chunking_over_queries_does_not_change_the_result(monkeypatch):
    case = _random_case(5, 50, 200, 20, 3, ties=True)
    whole = evaluate_rank(*case, max_rank=10)
    monkeypatch.setattr(rank_module, "_CHUNK_ELEMENTS", 7 * 200)  # 7 queries per chunk
    chunked = evaluate_rank(*case, max_rank=10)
    assert np.array_equal(whole[0], chunked[0]) and chunked[1] == pytest.approx(whole[1], abs=1e-12)


def test_accepts_torch_tensors():
    case = _random_case(6, 20, 100, 8, 2)
    expected = evaluate_rank(*case, max_rank=5)
    cmc, mAP = evaluate_rank(*(torch.from_numpy(np.ascontiguousarray(a)) for a in case), max_rank=5)
    assert np.array_equal(cmc, expected[0]) and mAP == expected[1]


def test_max_rank_above_gallery_size_is_capped_with_a_warning():
    case = _random_case(7, 10, 8, 3, 4)
    with pytest.warns(UserWarning, match="only 8 items"):
        cmc, _ = evaluate_rank(*case, max_rank=50)
    assert cmc.shape == (8,) and cmc[-1] == 1.0


def test_no_query_with_a_match_raises():
    dist = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="no query identity appears in the gallery"):
        evaluate_rank(dist, np.array([1, 2]), np.array([3, 3, 1]), np.array([0, 0]), np.array([0, 0, 0]), max_rank=3)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="g_pids must be 1-D with 3 entries"):
        evaluate_rank(np.zeros((2, 3)), np.array([1, 2]), np.array([1, 2]), np.array([0, 0]), np.array([0, 0, 0]))


@pytest.mark.slow
def test_identical_to_torchreid_at_mars_size():
    # MARS test split: 1980 queries, 9330 gallery tracklets (junk dropped), 6 cameras; ~15 s in torchreid
    rng = np.random.default_rng(8)
    q_pids, g_pids = rng.integers(1, 627, 1980), rng.integers(0, 627, 9330)
    q_cams, g_cams = rng.integers(1, 7, 1980), rng.integers(1, 7, 9330)
    centers = rng.normal(size=(627, 32)).astype(np.float32)
    q = centers[q_pids] + rng.normal(size=(1980, 32)).astype(np.float32)
    g = centers[g_pids] + rng.normal(size=(9330, 32)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    dist = 1 - q @ g.T  # cosine distance, float32
    ref = _torchreid_rank(dist, q_pids, g_pids, q_cams, g_cams, 50)
    cmc, mAP = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, 50)
    assert np.array_equal(cmc, ref[0])
    assert mAP == pytest.approx(ref[1], abs=1e-12)

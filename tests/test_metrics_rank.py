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


def _count_sorted_rows(monkeypatch):
    """Record how many rows go to the sorting fallback (ties that torchreid's sort decides)."""
    rows = []
    original = rank_module._rank_by_sorting

    def counting(dist, *args):
        rows.append(dist.shape[0])
        return original(dist, *args)

    monkeypatch.setattr(rank_module, "_rank_by_sorting", counting)
    return rows


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_identical_to_torchreid_when_matches_tie_with_other_identities(dtype):
    # three distinct distances over 400 items: every row is full of match / non-match ties,
    # which torchreid's unstable np.argsort orders in its own way
    rng = np.random.default_rng(9)
    dist = rng.integers(0, 3, (60, 400)).astype(dtype)
    case = (dist, rng.integers(0, 12, 60), rng.integers(0, 12, 400), rng.integers(0, 3, 60), rng.integers(0, 3, 400))
    ref_cmc, ref_map = _torchreid_rank(*case, max_rank=50)
    cmc, mAP = evaluate_rank(*case, max_rank=50)
    assert np.array_equal(cmc, ref_cmc)
    assert mAP == pytest.approx(ref_map, abs=1e-12)


def test_only_rows_where_a_match_ties_another_identity_are_sorted(monkeypatch):
    sorted_rows = _count_sorted_rows(monkeypatch)
    dist = np.array([[0.1, 0.5, 0.5, 0.9],    # match g1 ties non-match g2: sorted
                     [0.1, 0.5, 0.7, 0.9],    # no tie: counted
                     [0.5, 0.5, 0.3, 0.5]], dtype=np.float32)  # g0/g1 (match/junk) tie, g3 match ties g0: counted
    q_pids, g_pids = np.array([1, 1, 1]), np.array([1, 1, 2, 1])
    q_cams, g_cams = np.array([0, 0, 0]), np.array([0, 1, 1, 1])  # g0 is junk for every query
    ref = _torchreid_rank(dist, q_pids, g_pids, q_cams, g_cams, 3)
    cmc, mAP = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, 3)
    assert sorted_rows == [1]
    assert np.array_equal(cmc, ref[0]) and mAP == pytest.approx(ref[1], abs=1e-12)
    # by hand: row 1 ranks its matches 1st and 3rd, row 2 ranks g2 first and its matches 2nd and 3rd;
    # row 0 ranks g1 1st or 2nd (its tie with g2, as torchreid's sort orders it) and g3 3rd
    untied = (1 + 2 / 3) / 2 + (1 / 2 + 2 / 3) / 2
    assert mAP in (pytest.approx((untied + (1 + 2 / 3) / 2) / 3), pytest.approx((untied + (1 / 2 + 2 / 3) / 2) / 3))
    assert cmc[0] in (pytest.approx(2 / 3), pytest.approx(1 / 3))


def test_untied_rows_never_sort(monkeypatch):
    sorted_rows = _count_sorted_rows(monkeypatch)
    case = _random_case(10, 50, 300, 20, 3, dtype=np.float64)
    assert len(np.unique(case[0])) == case[0].size  # continuous random distances: no ties at all
    ref = _torchreid_rank(*case, max_rank=20)
    cmc, mAP = evaluate_rank(*case, max_rank=20)
    assert sorted_rows == [] and np.array_equal(cmc, ref[0]) and mAP == pytest.approx(ref[1], abs=1e-12)


def test_nan_distances_rank_as_torchreids_sort_puts_them_last():
    case = _random_case(11, 30, 120, 10, 3)
    dist = case[0].copy()
    dist[0, :5] = np.nan  # whatever identities: some matches, some not
    dist[3, 40:60] = np.nan
    ref = _torchreid_rank(dist, *case[1:], max_rank=10)
    cmc, mAP = evaluate_rank(dist, *case[1:], max_rank=10)
    assert np.array_equal(cmc, ref[0]) and mAP == pytest.approx(ref[1], abs=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_give_the_cpu_result():
    case = _random_case(12, 200, 1000, 30, 3, ties=True)
    expected = evaluate_rank(*case, max_rank=50)
    cmc, mAP = evaluate_rank(*(torch.from_numpy(np.ascontiguousarray(a)).cuda() for a in case), max_rank=50)
    assert np.array_equal(cmc, expected[0]) and mAP == pytest.approx(expected[1], abs=1e-12)


@pytest.mark.slow
def test_identical_to_torchreid_with_a_mars_size_gallery():
    # MARS's gallery: 9330 tracklets (junk dropped), 6 cameras; a quarter of its 1980 queries, since
    # torchreid's loop costs about 8 ms per query against it and each query is ranked on its own
    rng = np.random.default_rng(8)
    num_queries = 495
    q_pids, g_pids = rng.integers(1, 627, num_queries), rng.integers(0, 627, 9330)
    q_cams, g_cams = rng.integers(1, 7, num_queries), rng.integers(1, 7, 9330)
    centers = rng.normal(size=(627, 32)).astype(np.float32)
    q = centers[q_pids] + rng.normal(size=(num_queries, 32)).astype(np.float32)
    g = centers[g_pids] + rng.normal(size=(9330, 32)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    dist = 1 - q @ g.T  # cosine distance, float32
    ref = _torchreid_rank(dist, q_pids, g_pids, q_cams, g_cams, 50)
    cmc, mAP = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, 50)
    assert np.array_equal(cmc, ref[0])
    assert mAP == pytest.approx(ref[1], abs=1e-12)

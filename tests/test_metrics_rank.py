"""Vectorised evaluate_rank: hand case, and identical results to torchreid's Python loop."""
import warnings

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
    with pytest.raises(ValueError, match=r"^no query identity appears in the gallery \(after removing same-camera matches\); "
                                         r"CMC/mAP undefined$"):
        evaluate_rank(dist, np.array([1, 2]), np.array([3, 3, 1]), np.array([0, 0]), np.array([0, 0, 0]), max_rank=3)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="g_pids must be 1-D with 3 entries"):
        evaluate_rank(np.zeros((2, 3)), np.array([1, 2]), np.array([1, 2]), np.array([0, 0]), np.array([0, 0, 0]))


def _hand_ids():
    """Two queries, three gallery items: q_pids, g_pids, q_camids, g_camids."""
    return {"q_pids": np.array([1, 2]), "g_pids": np.array([1, 2, 3]), "q_camids": np.array([0, 0]), "g_camids": np.array([1, 1, 1])}


@pytest.mark.parametrize("name", ["q_pids", "g_pids", "q_camids", "g_camids"])
def test_each_id_array_of_the_wrong_length_or_type_is_named_in_the_error(name):
    ids = _hand_ids()
    n = len(ids[name])
    with pytest.raises(ValueError, match=rf"^{name} must be 1-D with {n} entries to match distmat \(2, 3\), got shape \({n + 1},\)$"):
        evaluate_rank(np.zeros((2, 3)), **{**ids, name: np.zeros(n + 1, dtype=int)})
    with pytest.raises(TypeError, match=rf"^{name} must be a numpy array or a torch tensor, got list$"):
        evaluate_rank(np.zeros((2, 3)), **{**ids, name: ids[name].tolist()})


def test_a_distmat_that_is_not_a_2d_array_is_refused_by_name():
    with pytest.raises(TypeError, match=r"^distmat must be a numpy array or a torch tensor, got list$"):
        evaluate_rank([[0.1, 0.2, 0.3]] * 2, **_hand_ids())
    with pytest.raises(ValueError, match=r"^distmat must be 2-D \[num_query, num_gallery\], got shape \(3,\)$"):
        evaluate_rank(np.zeros(3), **_hand_ids())


@pytest.mark.parametrize("shape", [(0, 3), (2, 0)])
def test_an_empty_distmat_is_refused(shape):
    ids = {"q_pids": np.zeros(shape[0], dtype=int), "q_camids": np.zeros(shape[0], dtype=int),
           "g_pids": np.zeros(shape[1], dtype=int), "g_camids": np.ones(shape[1], dtype=int)}
    with pytest.raises(ValueError, match=rf"^distmat \({shape[0]}, {shape[1]}\) is empty: no query or no gallery item; CMC/mAP undefined$"):
        evaluate_rank(np.zeros(shape, dtype=np.float32), **ids)


def test_max_rank_one_is_rank_1_and_zero_is_refused():
    dist = np.array([[0.2, 0.1, 0.3], [0.3, 0.1, 0.2]], dtype=np.float32)  # query 0's match (g0) second, query 1's (g1) first
    cmc, _ = evaluate_rank(dist, **_hand_ids(), max_rank=1)
    assert cmc.tolist() == [0.5]
    with pytest.raises(ValueError, match=r"^max_rank must be >= 1, got 0$"):
        evaluate_rank(dist, **_hand_ids(), max_rank=0)


def test_a_one_item_gallery_is_ranked():
    cmc, mAP = evaluate_rank(np.array([[0.4]], dtype=np.float32), np.array([5]), np.array([5]), np.array([0]), np.array([1]), max_rank=1)
    assert cmc.tolist() == [1.0] and mAP == 1.0


def test_max_rank_defaults_to_torchreids_50_and_a_gallery_of_exactly_max_rank_items_needs_no_warning():
    case = _random_case(13, 5, 60, 3, 2)
    assert evaluate_rank(*case)[0].shape == (50,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert evaluate_rank(*_random_case(13, 5, 20, 3, 2), max_rank=20)[0].shape == (20,)


def test_ids_may_mix_numpy_arrays_and_tensors():
    case = _random_case(14, 20, 100, 8, 2)
    expected = evaluate_rank(*case, max_rank=5)
    dist, q_pids, g_pids, q_camids, g_camids = case
    mixed = evaluate_rank(dist, q_pids, torch.from_numpy(g_pids), torch.from_numpy(q_camids), g_camids, max_rank=5)
    assert np.array_equal(mixed[0], expected[0]) and mixed[1] == expected[1]


def test_a_read_only_distmat_is_ranked_without_a_warning():
    case = _random_case(15, 10, 50, 5, 2)
    case[0].setflags(write=False)  # e.g. a memory-mapped .npy file
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cmc, mAP = evaluate_rank(*case, max_rank=5)
    ref = _torchreid_rank(*case, max_rank=5)
    assert np.array_equal(cmc, ref[0]) and mAP == pytest.approx(ref[1], abs=1e-12)


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


def test_a_match_tied_only_with_a_non_match_at_the_farthest_match_distance_is_ranked_as_torchreid(monkeypatch):
    # query 0: g1 (match, 0.1), then g0 (other identity) and g2 (match) both at 0.5: the farthest match's tie
    sorted_rows = _count_sorted_rows(monkeypatch)
    dist = np.array([[0.5, 0.1, 0.5]], dtype=np.float32)
    case = (dist, np.array([1]), np.array([2, 1, 1]), np.array([0]), np.array([1, 1, 1]))
    ref = _torchreid_rank(*case, 3)
    cmc, mAP = evaluate_rank(*case, max_rank=3)
    assert sorted_rows == [1]
    assert np.array_equal(cmc, ref[0]) and mAP == pytest.approx(ref[1], abs=1e-12)


def test_equal_distances_in_different_rows_are_not_ties(monkeypatch):
    # query 0's match is at 0.3; query 1 has a non-match at 0.3 nearer than its match (0.5): no tie in either row
    sorted_rows = _count_sorted_rows(monkeypatch)
    dist = np.array([[0.3, 0.9, 0.9], [0.9, 0.3, 0.5]], dtype=np.float32)
    case = (dist, np.array([1, 2]), np.array([1, 3, 2]), np.array([0, 0]), np.array([1, 1, 1]))
    cmc, mAP = evaluate_rank(*case, max_rank=3)
    assert sorted_rows == []
    assert cmc.tolist() == [0.5, 1.0, 1.0] and mAP == pytest.approx((1 + 1 / 2) / 2)


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


def test_a_match_at_a_nan_distance_ranks_last_as_in_torchreid():
    # g0 (match) NaN, g1 (other identity) 0.2, g2 (match) 0.1: order g2, g1, g0 -> AP (1 + 2/3) / 2
    case = (np.array([[np.nan, 0.2, 0.1]], dtype=np.float32), np.array([1]), np.array([1, 2, 1]), np.array([0]), np.array([1, 1, 1]))
    cmc, mAP = evaluate_rank(*case, max_rank=3)
    assert cmc.tolist() == [1.0, 1.0, 1.0] and mAP == pytest.approx((1 + 2 / 3) / 2)
    ref = _torchreid_rank(*case, 3)
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

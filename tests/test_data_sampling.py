import numpy as np
import pytest

from aitl_reid.data.sampling import clip_sampler, dense_clip_indices, random_clip_indices, train_clip_indices


def test_train_clip_is_consecutive_and_every_start_is_reachable():
    rng = np.random.default_rng(0)
    clips = [train_clip_indices(10, 4, rng) for _ in range(300)]
    assert all(np.array_equal(c, np.arange(c[0], c[0] + 4)) for c in clips)
    assert {int(c[0]) for c in clips} == set(range(7))  # starts 0..6 for 10 frames, T=4


def test_train_clip_of_short_tracklet_cycles_its_frames():
    assert train_clip_indices(3, 4, np.random.default_rng(0)).tolist() == [0, 1, 2, 0]
    assert train_clip_indices(1, 4, np.random.default_rng(0)).tolist() == [0, 0, 0, 0]


def test_random_clip_draws_distinct_frames_in_random_order():
    rng = np.random.default_rng(0)
    clips = [random_clip_indices(20, 4, rng) for _ in range(50)]
    assert all(len(set(c.tolist())) == 4 and c.max() < 20 for c in clips)
    assert any(not np.all(np.diff(c) > 0) for c in clips)  # not sorted: no temporal order


def test_random_clip_of_short_tracklet_uses_every_frame_then_repeats():
    clip = random_clip_indices(3, 5, np.random.default_rng(1))
    assert sorted(clip[:3].tolist()) == [0, 1, 2]
    assert clip[3:].tolist() == clip[:2].tolist()


def test_dense_clips_cover_the_tracklet_and_pad_the_last_by_cycling():
    assert dense_clip_indices(10, 4, 200).tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 8, 9]]
    assert dense_clip_indices(8, 4, 200).tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert dense_clip_indices(3, 4, 200).tolist() == [[0, 1, 2, 0]]


def test_dense_clip_cap_keeps_clips_spread_over_the_whole_tracklet():
    clips = dense_clip_indices(40, 4, 3)  # 10 clips, keep 3: first, middle, last
    assert clips.tolist() == [[0, 1, 2, 3], [20, 21, 22, 23], [36, 37, 38, 39]]
    starts = dense_clip_indices(4 * 401, 4, 200)[:, 0]
    assert len(starts) == 200 and len(set(starts.tolist())) == 200


@pytest.mark.parametrize("call, message", [
    (lambda: dense_clip_indices(5, 4, 0), "test.max_clips"),
    (lambda: dense_clip_indices(0, 4, 10), "at least one frame"),
    (lambda: train_clip_indices(5, 0, np.random.default_rng()), "video.seq_len"),
])
def test_invalid_sizes_are_rejected_with_the_config_key(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_unknown_sample_method_lists_the_choices():
    assert clip_sampler("consecutive") is train_clip_indices
    with pytest.raises(ValueError, match=r"video.sample_method.*'evenly'.*\['consecutive', 'random'\]"):
        clip_sampler("evenly")

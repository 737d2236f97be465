import numpy as np
import pytest

from arvideo_hf.data.sampling import DenseSampler, SegmentSampler, clip_starts, dense_indices, segment_indices


def test_dense_training_clips_are_strided_and_cover_every_start():
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(500):
        idx = dense_indices(100, 16, 4, rng)
        assert idx.dtype == np.int64 and idx.shape == (16,)
        assert np.all(np.diff(idx) == 4)
        starts.add(int(idx[0]))
    assert starts == set(range(0, 100 - 64 + 1))  # every start 0..36 is drawn, none beyond


def test_dense_test_clip_is_centered_and_multiclip_is_even():
    assert dense_indices(100, 8, 2).tolist() == list(range(42, 58, 2))  # (100 - 16) // 2 = 42
    assert clip_starts(100, 16, 5).tolist() == [0, 21, 42, 63, 84]
    last = dense_indices(100, 8, 2, clip_index=4, num_clips=5)
    assert last[-1] == 98  # the last clip ends at the end of the video
    with pytest.raises(ValueError):
        dense_indices(100, 8, 2, clip_index=5, num_clips=5)


def test_dense_pads_short_videos_with_the_last_frame():
    assert dense_indices(5, 4, 2).tolist() == [0, 2, 4, 4]
    rng = np.random.default_rng(1)
    for _ in range(20):
        assert dense_indices(5, 4, 2, rng).tolist() == [0, 2, 4, 4]
    assert dense_indices(1, 3, 4).tolist() == [0, 0, 0]
    assert clip_starts(5, 8, 3).tolist() == [0, 0, 0]


def test_segment_training_draws_one_frame_per_segment():
    rng = np.random.default_rng(0)
    seen = np.zeros(80, dtype=bool)
    independent = 0
    for _ in range(300):
        idx = segment_indices(80, 8, rng)
        assert np.array_equal(idx // 10, np.arange(8))  # frame k lies in segment k
        seen[idx] = True
        independent += len(set((idx % 10).tolist())) > 1
    assert seen.all()  # every frame of every segment is reachable
    assert independent == 300  # each segment draws its own offset


def test_segment_test_takes_the_middle_and_handles_short_videos():
    assert segment_indices(80, 8).tolist() == [5, 15, 25, 35, 45, 55, 65, 75]
    assert segment_indices(80, 8, clip_index=0, num_clips=2).tolist() == [2, 12, 22, 32, 42, 52, 62, 72]
    short = segment_indices(3, 8)
    assert short.min() >= 0 and short.max() <= 2 and np.all(np.diff(short) >= 0)
    assert set(segment_indices(3, 8, np.random.default_rng(0)).tolist()) <= {0, 1, 2}


def test_sampler_objects_match_functions():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    assert DenseSampler(8, 2)(50, rng_a).tolist() == dense_indices(50, 8, 2, rng_b).tolist()
    assert DenseSampler(8, 2).span == 16
    assert SegmentSampler(4, num_clips=2)(40, None, clip_index=1).tolist() == [7, 17, 27, 37]
    with pytest.raises(ValueError):
        dense_indices(0, 8, 2)

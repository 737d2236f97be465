import numpy as np
import pytest

from arvideo_hf.data import decoding
from arvideo_hf.data.decoding import (
    VideoDecodeError,
    available_backends,
    decode_frames,
    num_frames,
    open_video,
    probe_video,
)


@pytest.mark.parametrize("backend", ["decord", "pyav", "auto"])
def test_decodes_requested_frames_in_order(video_dir, read_frame_ids, backend):
    if backend != "auto":
        assert backend in available_backends(), f"{backend} is a `train` dependency that `make test` installs"
    indices = [7, 0, 39, 7, 12]
    frames = decode_frames(video_dir / "good_0.mp4", indices, backend=backend)
    assert frames.dtype == np.uint8
    assert frames.shape == (5, 48, 64, 3)
    assert read_frame_ids(frames).tolist() == indices


def test_backends_agree(video_dir):
    assert available_backends() == ["decord", "pyav"], "`make test` installs both backends"
    a = decode_frames(video_dir / "good_1.mp4", range(0, 40, 3), backend="decord")
    b = decode_frames(video_dir / "good_1.mp4", range(0, 40, 3), backend="pyav")
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2


def test_metadata(video_dir):
    meta = probe_video(video_dir / "good_0.mp4")
    assert (meta.num_frames, meta.height, meta.width) == (40, 48, 64)
    assert meta.fps == pytest.approx(25.0)
    assert num_frames(video_dir / "short.mp4") == 5
    with open_video(video_dir / "good_0.mp4") as video:
        assert video.metadata.num_frames == video.num_frames == 40
        assert (video.metadata.height, video.metadata.width) == (48, 64)


@pytest.mark.parametrize("backend", ["auto", "pyav"])
def test_broken_files_raise_one_error_type(video_dir, broken_names, backend):
    for name in broken_names:
        with pytest.raises(VideoDecodeError) as info:
            decode_frames(video_dir / name, [0, 10, 20, 30, 39], backend=backend)
        assert info.value.path.endswith(name)
    with pytest.raises(VideoDecodeError, match="empty file"):
        probe_video(video_dir / "empty.mp4")
    with pytest.raises(VideoDecodeError, match="not found"):
        num_frames(video_dir / "missing.mp4")


def test_partially_truncated_file_fails_only_past_the_cut(video_dir):
    with open_video(video_dir / "partial.mp4") as video:
        assert video.num_frames == 40  # what the header promises
        assert video.get_frames([0, 5]).shape == (2, 48, 64, 3)
    with pytest.raises(VideoDecodeError):
        decode_frames(video_dir / "partial.mp4", [0, 39])


def test_out_of_range_index_is_a_caller_error(video_dir):
    with open_video(video_dir / "short.mp4") as video:
        with pytest.raises(ValueError, match="out of range"):
            video.get_frames([5])
        with pytest.raises(ValueError, match="negative"):
            video.get_frames([-1])


def test_falls_back_to_pyav_when_decord_fails_on_a_file(video_dir, read_frame_ids, monkeypatch):
    assert available_backends() == ["decord", "pyav"], "`make test` installs both backends"

    def broken(self, indices):
        raise RuntimeError("simulated decord failure")

    monkeypatch.setattr(decoding._DecordReader, "get_frames", broken)
    with open_video(video_dir / "good_2.mp4") as video:
        assert video.backend == "decord"
        frames = video.get_frames([3, 4])
        assert video.backend == "pyav"
    assert read_frame_ids(frames).tolist() == [3, 4]


def test_falls_back_to_pyav_when_decord_is_missing(video_dir, read_frame_ids, monkeypatch):
    monkeypatch.setattr(decoding, "_import_decord", lambda: None)
    assert available_backends() == ["pyav"]
    with open_video(video_dir / "good_3.mp4") as video:
        assert video.backend == "pyav"
        assert read_frame_ids(video.get_frames([1, 38])).tolist() == [1, 38]

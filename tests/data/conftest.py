"""Tiny video files for the data tests, written once per session into a temporary directory.

Frame `i` of a "counter" video is a flat gray of brightness `BASE + STEP * i`, so a test can read
back which frames were decoded (H.264 keeps flat frames within a couple of levels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from arvideo_hf.data.demo_dataset import write_video


BASE, STEP = 16, 5


def counter_frames(num_frames: int, height: int = 48, width: int = 64) -> np.ndarray:
    levels = (BASE + STEP * np.arange(num_frames)).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (num_frames, height, width, 3)).copy()


def frame_ids(frames: np.ndarray) -> np.ndarray:
    """Recover the frame numbers of decoded counter frames."""
    return np.round((frames.reshape(len(frames), -1).mean(1) - BASE) / STEP).astype(np.int64)


def _write_faststart(path: Path, frames: np.ndarray) -> None:
    import av

    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=25)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> Path:
    """good_{0..3}.mp4 (40 frames), short.mp4 (5 frames), broken files of every kind, partial.mp4."""
    root = tmp_path_factory.mktemp("videos")
    for i in range(4):
        write_video(root / f"good_{i}.mp4", counter_frames(40))
    write_video(root / "short.mp4", counter_frames(5))
    (root / "empty.mp4").write_bytes(b"")
    (root / "garbage.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    data = (root / "good_0.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])  # moov atom at the end: unreadable
    # moov at the front: the header promises 40 frames, the data stops early.
    _write_faststart(root / "faststart.mp4", (np.random.default_rng(1).random((40, 48, 64, 3)) * 255).astype(np.uint8))
    data = (root / "faststart.mp4").read_bytes()
    (root / "cut.mp4").write_bytes(data[: int(len(data) * 0.1)])  # no frame survives
    (root / "partial.mp4").write_bytes(data[: int(len(data) * 0.5)])  # about the first 17 frames survive
    return root


@pytest.fixture(scope="session")
def broken_names() -> tuple[str, ...]:
    """Files in `video_dir` that no backend can decode (the last one does not exist)."""
    return ("empty.mp4", "garbage.mp4", "truncated.mp4", "cut.mp4", "missing.mp4")


@pytest.fixture(scope="session")
def read_frame_ids():
    return frame_ids


@pytest.fixture(scope="session")
def make_counter_video():
    """`make(path, num_frames, height=48, width=64)` writes a counter video."""

    def make(path: Path, num_frames: int, height: int = 48, width: int = 64) -> Path:
        write_video(path, counter_frames(num_frames, height, width))
        return path

    return make

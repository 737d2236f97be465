"""Which frames make a clip: dense (Kinetics) and segment/TSN (SSv2) sampling, and test clips.

All functions return int64 frame indices that are always valid for the video (`0 <= i < n`):
videos shorter than a clip are padded by repeating their last frame, as in VideoMAE. Random
choices come from an explicit `numpy.random.Generator`; `rng=None` means test-time sampling,
which is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


__all__ = [
    "dense_indices",
    "segment_indices",
    "clip_starts",
    "DenseSampler",
    "SegmentSampler",
    "FrameSampler",
]


def _check(num_video_frames: int, num_frames: int) -> None:
    if num_video_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {num_video_frames}")
    if num_frames < 1:
        raise ValueError(f"a clip needs at least one frame, got {num_frames}")


def clip_starts(num_video_frames: int, clip_span: int, num_clips: int) -> np.ndarray:
    """Start frames of `num_clips` evenly spaced clips of `clip_span` frames (multi-clip testing).

    The first clip starts at frame 0 and the last ends at the last frame; a single clip is
    centered. Videos shorter than a clip give start 0 for every clip.
    """
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    slack = max(num_video_frames - clip_span, 0)
    if num_clips == 1:
        return np.array([slack // 2], dtype=np.int64)
    return np.round(np.linspace(0, slack, num_clips)).astype(np.int64)


def dense_indices(
    num_video_frames: int,
    num_frames: int,
    stride: int,
    rng: np.random.Generator | None = None,
    *,
    clip_index: int = 0,
    num_clips: int = 1,
) -> np.ndarray:
    """`num_frames` frames `stride` apart (a clip spans `num_frames * stride` frames).

    Training (`rng` given): uniformly random start. Test (`rng=None`): clip `clip_index` of
    `num_clips` evenly spaced clips (centered when `num_clips == 1`).
    """
    _check(num_video_frames, num_frames)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    span = num_frames * stride
    if rng is not None:
        start = int(rng.integers(0, max(num_video_frames - span, 0) + 1))
    else:
        if not 0 <= clip_index < num_clips:
            raise ValueError(f"clip_index {clip_index} is not in [0, {num_clips})")
        start = int(clip_starts(num_video_frames, span, num_clips)[clip_index])
    indices = start + stride * np.arange(num_frames, dtype=np.int64)
    return np.minimum(indices, num_video_frames - 1)


def segment_indices(
    num_video_frames: int,
    num_frames: int,
    rng: np.random.Generator | None = None,
    *,
    clip_index: int = 0,
    num_clips: int = 1,
) -> np.ndarray:
    """TSN sampling (VideoMAE's SSv2 finetuning): one frame from each of `num_frames` segments.

    The video is cut into `num_frames` equal segments. Training (`rng` given): a uniformly random
    frame inside each segment. Test: clip `clip_index` of `num_clips` takes the frame at fraction
    `(clip_index + 0.5) / num_clips` of every segment (the middle for a single clip). Videos with
    fewer frames than segments are stretched, repeating frames.
    """
    _check(num_video_frames, num_frames)
    segment = num_video_frames / num_frames
    starts = segment * np.arange(num_frames)
    if rng is not None:
        offsets = rng.random(num_frames) * segment
    else:
        if not 0 <= clip_index < num_clips:
            raise ValueError(f"clip_index {clip_index} is not in [0, {num_clips})")
        offsets = np.full(num_frames, segment * (clip_index + 0.5) / num_clips)
    indices = np.floor(starts + offsets).astype(np.int64)
    return np.clip(indices, 0, num_video_frames - 1)


class FrameSampler(Protocol):
    """What a dataset needs from a sampler: frame indices for a video of `num_video_frames`."""

    def __call__(self, num_video_frames: int, rng: np.random.Generator | None, clip_index: int = 0) -> np.ndarray: ...


@dataclass(frozen=True)
class DenseSampler:
    """Callable form of [`dense_indices`] for a dataset: `sampler(n, rng, clip_index=0)`."""

    num_frames: int
    stride: int
    num_clips: int = 1

    @property
    def span(self) -> int:
        return self.num_frames * self.stride

    def __call__(self, num_video_frames: int, rng: np.random.Generator | None, clip_index: int = 0) -> np.ndarray:
        return dense_indices(
            num_video_frames, self.num_frames, self.stride, rng, clip_index=clip_index, num_clips=self.num_clips
        )


@dataclass(frozen=True)
class SegmentSampler:
    """Callable form of [`segment_indices`] for a dataset: `sampler(n, rng, clip_index=0)`."""

    num_frames: int
    num_clips: int = 1

    def __call__(self, num_video_frames: int, rng: np.random.Generator | None, clip_index: int = 0) -> np.ndarray:
        return segment_indices(num_video_frames, self.num_frames, rng, clip_index=clip_index, num_clips=self.num_clips)



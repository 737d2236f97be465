"""`VideoClipDataset`: records + frame sampler + transform, robust to bad video files.

A corrupt file among a million must not end a week-long pretraining run, yet a broken mount that
makes every file unreadable must stop it quickly. So a sample that fails to decode is replaced by
another deterministically chosen sample, logged once, and recorded in a [`BadVideoLog`] whose
storage is shared memory, so the counts written by DataLoader workers are visible to the main
process. Once more than `max_bad_fraction` of the distinct samples have failed, the dataset
raises [`TooManyBadVideosError`] listing the first bad paths.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .decoding import Backend, VideoDecodeError, VideoHandle, open_video
from .sampling import DenseSampler, FrameSampler, SegmentSampler
from .sources import VideoRecord, VideoSource, unpack_records
from .transforms import EvalTransform, PretrainingTransform


logger = logging.getLogger(__name__)

__all__ = ["BadVideoLog", "TooManyBadVideosError", "VideoClipDataset"]

Transform = Callable[[np.ndarray, np.random.Generator], torch.Tensor]


class TooManyBadVideosError(RuntimeError):
    """More than the allowed fraction of a dataset's videos could not be decoded."""


class BadVideoLog:
    """Which samples failed to decode, in shared memory so that DataLoader workers all write to it.

    The flags live in a `share_memory_()` tensor: forked workers share its pages and spawned workers
    receive a handle to it when the dataset is pickled, so `num_bad` read in the training loop
    counts failures from every worker of this process. (Across distributed ranks, all-reduce it.)
    """

    def __init__(self, num_samples: int) -> None:
        self.flags = torch.zeros(num_samples, dtype=torch.uint8).share_memory_()

    def __len__(self) -> int:
        return self.flags.numel()

    def mark(self, index: int) -> bool:
        """Flag sample `index`; returns whether it was newly flagged."""
        new = not bool(self.flags[index])
        self.flags[index] = 1
        return new

    def is_bad(self, index: int) -> bool:
        return bool(self.flags[index])

    @property
    def num_bad(self) -> int:
        return int(self.flags.sum())

    def bad_indices(self) -> list[int]:
        return self.flags.nonzero().flatten().tolist()

    def fraction(self) -> float:
        return self.num_bad / max(len(self), 1)

    def reset(self) -> None:
        self.flags.zero_()


MAX_CACHED_VIDEO_MB = 16  # larger decoded videos are never cached (a 32x32 demo clip of 32 frames is 0.1 MiB)


class VideoClipDataset(Dataset):
    """Clips from a list of videos: decode the sampled frames once, transform them `repeated_aug` times.

    Each item is a dict with
      - `pixel_values`: float32 `(T, C, H, W)`, or `(k, T, C, H, W)` when `repeated_aug=k > 1`;
      - `labels`: int64 scalar, present when every record has a label;
      - `index`: the record actually returned (differs from the requested one after a replacement).

    Args:
        records: [`VideoRecord`]s or a [`VideoSource`] (which also provides `id2label`).
        sampler: frame sampler, e.g. [`DenseSampler`] or [`SegmentSampler`].
        transform: `transform(frames_uint8_THWC, rng) -> (T, C, H, W)` tensor.
        train: random temporal sampling (else the sampler's deterministic test clip).
        repeated_aug: number of independently augmented clips per decoded video.
        seed: with a seed every sample is a pure function of `(seed, epoch, index)`, whatever the
            number of workers; `None` draws from torch's RNG, which DataLoader seeds per worker.
        max_bad_fraction: raise once more than this fraction of distinct samples failed.
        max_retries: replacement samples tried for one item before giving up.
        backend, num_threads: decoding backend and its threads (1 suits DataLoader workers).
        cache_mb: keep whole decoded videos of at most `MAX_CACHED_VIDEO_MB` each in memory, up to this many MiB in
            all (per process: with DataLoader workers each worker has its own, lost when it exits). For small clips,
            where opening and decoding a file costs more than the model's step, later epochs then skip decoding.
    """

    def __init__(
        self,
        records: Sequence[VideoRecord] | VideoSource,
        sampler: FrameSampler,
        transform: Transform,
        *,
        train: bool = True,
        repeated_aug: int = 1,
        seed: int | None = None,
        max_bad_fraction: float = 0.1,
        max_retries: int = 10,
        backend: Backend = "auto",
        num_threads: int = 1,
        cache_mb: float = 0,
    ) -> None:
        self.records: list[VideoRecord]
        self.records, self.id2label = unpack_records(records)
        if not self.records:
            raise ValueError("VideoClipDataset needs at least one record")
        if repeated_aug < 1:
            raise ValueError(f"repeated_aug must be >= 1, got {repeated_aug}")
        if not 0.0 <= max_bad_fraction <= 1.0:
            raise ValueError(f"max_bad_fraction must be in [0, 1], got {max_bad_fraction}")
        self.sampler = sampler
        self.transform = transform
        self.train = train
        self.repeated_aug = repeated_aug
        self.seed = seed
        self.max_bad_fraction = max_bad_fraction
        self.max_retries = max_retries
        self.backend = backend
        self.num_threads = num_threads
        self.has_labels = all(record.label is not None for record in self.records)
        self.bad_log = BadVideoLog(len(self.records))
        self.epoch = 0
        self.cache_bytes = int(cache_mb * 2**20)
        self._cache: dict[int, np.ndarray] = {}
        self._cached_bytes = 0

    @classmethod
    def for_pretraining(
        cls, records: Sequence[VideoRecord] | VideoSource, config: Any, *, stride: int = 4, **kwargs: Any
    ) -> VideoClipDataset:
        """Dense clips of `config.num_frames x stride` frames, multi-scale crop (docs/method.md, Pretraining recipe)."""
        transform = kwargs.pop("transform", None) or PretrainingTransform.from_config(config)
        return cls(records, DenseSampler(config.num_frames, stride), transform, train=True, **kwargs)

    @classmethod
    def for_evaluation(
        cls,
        records: Sequence[VideoRecord] | VideoSource,
        config: Any,
        *,
        sampling: str = "dense",
        stride: int = 4,
        **kwargs: Any,
    ) -> VideoClipDataset:
        """Deterministic center clips (`sampling="dense"`, or `"segment"` for SSv2) and center crops."""
        if sampling == "dense":
            sampler: FrameSampler = DenseSampler(config.num_frames, stride)
        elif sampling == "segment":
            sampler = SegmentSampler(config.num_frames)
        else:
            raise ValueError(f"sampling must be 'dense' or 'segment', got {sampling!r}")
        transform = kwargs.pop("transform", None) or EvalTransform.from_config(config)
        return cls(records, sampler, transform, train=False, **kwargs)

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Change the seeded augmentations; call before creating each epoch's DataLoader iterator."""
        self.epoch = int(epoch)

    @property
    def num_bad(self) -> int:
        """Distinct samples that failed to decode so far (from all DataLoader workers)."""
        return self.bad_log.num_bad

    def bad_paths(self) -> list[str]:
        return [self.records[index].path for index in self.bad_log.bad_indices()]

    def check_bad_fraction(self) -> None:
        """Raise [`TooManyBadVideosError`] when more than `max_bad_fraction` of samples are bad."""
        num_bad = self.bad_log.num_bad
        if num_bad > self.max_bad_fraction * len(self):
            paths = self.bad_paths()
            shown = "\n  ".join(paths[:10]) + (f"\n  ... and {len(paths) - 10} more" if len(paths) > 10 else "")
            raise TooManyBadVideosError(
                f"{num_bad} of {len(self)} videos ({num_bad / len(self):.1%}) could not be decoded, more than "
                f"max_bad_fraction={self.max_bad_fraction:g}. First bad files:\n  {shown}"
            )

    def _rng(self, index: int, attempt: int) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng([self.seed, self.epoch, index, attempt])
        return np.random.default_rng(int(torch.randint(0, 2**62, ())))

    def _replacement(self, index: int, attempt: int) -> int:
        """A fixed pseudo-random other sample for `(index, attempt)`, independent of the epoch."""
        draw = int(np.random.default_rng([self.seed or 0, index, attempt, 0xBAD]).integers(len(self) - 1))
        return draw + (draw >= index)

    def load(self, index: int, rng: np.random.Generator) -> torch.Tensor:
        """Decode and transform record `index` (no error handling); raises [`VideoDecodeError`]."""
        frames = self._sampled_frames(index, rng)
        clips = [self.transform(frames, rng) for _ in range(self.repeated_aug)]
        return clips[0] if self.repeated_aug == 1 else torch.stack(clips)

    def _fits_cache(self, video: VideoHandle) -> bool:
        if self._cached_bytes >= self.cache_bytes:  # (also: caching off) no need to read the frame size
            return False
        meta = video.metadata
        size = meta.num_frames * meta.height * meta.width * 3
        return size <= min(MAX_CACHED_VIDEO_MB * 2**20, self.cache_bytes - self._cached_bytes)

    def _sampled_frames(self, index: int, rng: np.random.Generator) -> np.ndarray:
        """The sampler's frames of record `index`, from the decoded-video cache when it holds the video."""
        sampler_rng = rng if self.train else None  # evaluation takes the sampler's deterministic clip
        video_frames = self._cache.get(index)
        if video_frames is not None:
            return video_frames[self.sampler(len(video_frames), sampler_rng)]
        with open_video(self.records[index].path, backend=self.backend, num_threads=self.num_threads) as video:
            indices = self.sampler(video.num_frames, sampler_rng)
            if not self._fits_cache(video):
                return video.get_frames(indices)
            try:
                video_frames = video.get_frames(np.arange(video.num_frames))
            except VideoDecodeError:  # e.g. a header promising frames the file lacks: the clip may still decode
                return video.get_frames(indices)
        self._cache[index] = video_frames
        self._cached_bytes += video_frames.nbytes
        return video_frames[indices]

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = int(index) + (len(self) if index < 0 else 0)
        current = index
        for attempt in range(self.max_retries + 1):
            if not self.bad_log.is_bad(current):
                try:
                    pixel_values = self.load(current, self._rng(current, attempt))
                except VideoDecodeError as err:
                    if self.bad_log.mark(current):
                        logger.warning("Skipping undecodable video (sample %d): %s", current, err)
                    self.check_bad_fraction()
                else:
                    item: dict[str, Any] = {"pixel_values": pixel_values, "index": current}
                    if self.has_labels:
                        item["labels"] = torch.tensor(self.records[current].label, dtype=torch.long)
                    return item
            if len(self) == 1:
                break
            current = self._replacement(index, attempt)
        raise TooManyBadVideosError(
            f"sample {index}: no decodable replacement within {self.max_retries} retries; "
            f"{self.num_bad} of {len(self)} videos are bad, e.g. {self.bad_paths()[:5]}"
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_videos={len(self)}, train={self.train}, sampler={self.sampler}, "
            f"transform={self.transform}, repeated_aug={self.repeated_aug}, seed={self.seed}, "
            f"max_bad_fraction={self.max_bad_fraction:g}, num_bad={self.num_bad})"
        )

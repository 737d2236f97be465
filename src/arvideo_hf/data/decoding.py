"""Frame-accurate video decoding: decord first, PyAV as the fallback.

Decord (`VideoReader.get_batch`) seeks to the nearest key frame and decodes only what a clip
needs, which is what makes video pretraining affordable. It is not installable everywhere and it
rejects some files PyAV reads, so every entry point here falls back to a sequential PyAV decode.
Any failure of both backends, and any missing, empty or truncated file, surfaces as one exception
type, [`VideoDecodeError`], which the datasets catch to skip bad samples.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np


logger = logging.getLogger(__name__)

Backend = Literal["auto", "decord", "pyav"]

__all__ = [
    "VideoDecodeError",
    "VideoMetadata",
    "VideoHandle",
    "available_backends",
    "open_video",
    "decode_frames",
    "probe_video",
    "num_frames",
    "FileCheck",
    "check_video",
    "video_worker_pool",
]


class VideoDecodeError(RuntimeError):
    """A video file is missing, empty, truncated or cannot be decoded by any backend."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class VideoMetadata:
    """Container-level facts about one video stream."""

    num_frames: int
    height: int
    width: int
    fps: float
    backend: str


def _import_decord():
    try:
        import decord  # noqa: PLC0415 - an optional backend: this probe is how its absence is found
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return decord


def _import_av():
    try:
        import av  # noqa: PLC0415 - an optional backend: this probe is how its absence is found
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return av


def available_backends() -> list[str]:
    """Names of the importable backends, in the order `backend="auto"` tries them."""
    return [name for name, mod in (("decord", _import_decord()), ("pyav", _import_av())) if mod is not None]


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise VideoDecodeError(path, "file not found")
    if not os.path.isfile(path):
        raise VideoDecodeError(path, "not a regular file")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(path, "empty file")


def _as_index_array(indices: Sequence[int] | np.ndarray, path: str) -> np.ndarray:
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        raise ValueError("at least one frame index is required")
    if idx.min() < 0:
        raise ValueError(f"negative frame index for {path}: {int(idx.min())}")
    return idx


class _DecordReader:
    name = "decord"

    def __init__(self, path: str, num_threads: int) -> None:
        decord = _import_decord()
        if decord is None:
            raise ImportError("decord is not installed")
        self.reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=num_threads)
        self.num_frames = len(self.reader)
        if self.num_frames == 0:
            raise VideoDecodeError(path, "no frames")
        self._metadata: VideoMetadata | None = None

    @property
    def metadata(self) -> VideoMetadata:
        # decord only reports the frame size by decoding a frame, so do it on demand.
        if self._metadata is None:
            height, width = self.get_frames(np.zeros(1, dtype=np.int64)).shape[1:3]
            fps = float(self.reader.get_avg_fps() or 0.0)
            self._metadata = VideoMetadata(self.num_frames, int(height), int(width), fps, "decord")
        return self._metadata

    def get_frames(self, indices: np.ndarray) -> np.ndarray:
        batch = self.reader.get_batch(indices.tolist())
        # A global `decord.bridge.set_bridge("torch")` elsewhere changes the return type.
        array = batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)
        return np.ascontiguousarray(array)

    def close(self) -> None:
        self.reader = None


class _PyAVReader:
    """Sequential decoding from the start: slower than decord for late clips of long videos."""

    name = "pyav"

    def __init__(self, path: str, num_threads: int) -> None:
        av = _import_av()
        if av is None:
            raise ImportError("PyAV is not installed")
        self.path = path
        self.num_threads = num_threads
        with av.open(path) as container:
            if not container.streams.video:
                raise VideoDecodeError(path, "no video stream")
            stream = container.streams.video[0]
            count = int(stream.frames or 0)
            if count <= 0:
                # Containers such as WebM/MKV do not store a frame count: count packets instead,
                # which demuxes the file but decodes nothing.
                count = sum(1 for packet in container.demux(stream) if packet.size > 0)
            rate = stream.average_rate or stream.guessed_rate or Fraction(0)
            width = int(stream.codec_context.width)
            height = int(stream.codec_context.height)
        if count <= 0:
            raise VideoDecodeError(path, "no frames")
        self.num_frames = count
        self.metadata = VideoMetadata(count, height, width, float(rate), "pyav")

    def get_frames(self, indices: np.ndarray) -> np.ndarray:
        av = _import_av()
        wanted = set(indices.tolist())
        last = int(indices.max())
        decoded: dict[int, np.ndarray] = {}
        with av.open(self.path) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = self.num_threads
            for position, frame in enumerate(container.decode(stream)):
                if position in wanted:
                    decoded[position] = frame.to_ndarray(format="rgb24")
                if position >= last:
                    break
        missing = sorted(wanted.difference(decoded))
        if missing:
            raise VideoDecodeError(
                self.path,
                f"truncated: decoded {len(decoded)} of the requested frames, frame {missing[0]} is missing "
                f"(header says {self.metadata.num_frames} frames)",
            )
        return np.stack([decoded[int(i)] for i in indices])

    def close(self) -> None:
        pass


_READERS = {"decord": _DecordReader, "pyav": _PyAVReader}


class VideoHandle:
    """An opened video: metadata now, frames on demand, with a per-file backend fallback.

    Opening once and then asking for frames lets a dataset read the frame count, choose indices
    and decode them with a single open of the file.
    """

    def __init__(self, path: str | os.PathLike, backend: Backend = "auto", num_threads: int = 1) -> None:
        self.path = os.fspath(path)
        self.num_threads = num_threads
        _check_file(self.path)
        if backend == "auto":
            self._candidates = available_backends()
            if not self._candidates:
                raise ImportError("no video backend: install `decord` or `av` (pip install arvideo_hf[train])")
        elif backend in _READERS:
            self._candidates = [backend]
        else:
            raise ValueError(f"unknown backend {backend!r}; expected 'auto', 'decord' or 'pyav'")
        self._errors: list[str] = []
        self._reader = self._open_next()

    def _open_next(self, start: int = 0):
        for name in self._candidates[start:]:
            try:
                reader = _READERS[name](self.path, self.num_threads)
            except VideoDecodeError as err:
                self._errors.append(f"{name}: {err.reason}")
            except Exception as err:  # backends raise assorted RuntimeError/ValueError subclasses
                self._errors.append(f"{name}: {type(err).__name__}: {_short(err, self.path)}")
            else:
                return reader
        raise VideoDecodeError(self.path, "; ".join(self._errors) or "undecodable")

    def _with_fallback(self, action):
        """Run `action(reader)`, moving on to the next backend each time the current one fails."""
        while True:
            try:
                return action(self._reader)
            except VideoDecodeError as err:
                self._errors.append(f"{self._reader.name}: {err.reason}")
            except Exception as err:
                self._errors.append(f"{self._reader.name}: {type(err).__name__}: {_short(err, self.path)}")
            logger.debug("%s failed on %s, trying the next backend", self._reader.name, self.path)
            position = self._candidates.index(self._reader.name) + 1
            self._reader.close()
            self._reader = self._open_next(position)

    @property
    def metadata(self) -> VideoMetadata:
        return self._with_fallback(lambda reader: reader.metadata)

    @property
    def num_frames(self) -> int:
        return self._reader.num_frames

    @property
    def backend(self) -> str:
        return self._reader.name

    def get_frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Decode the frames at `indices` (any order, repeats allowed) as uint8 `(T, H, W, 3)`."""
        idx = _as_index_array(indices, self.path)
        if idx.max() >= self.num_frames:
            raise ValueError(f"frame index {int(idx.max())} out of range for {self.path} ({self.num_frames} frames)")
        frames = self._with_fallback(lambda reader: reader.get_frames(idx))
        if frames.ndim != 4 or frames.shape[0] != idx.size or frames.shape[-1] != 3:
            raise VideoDecodeError(self.path, f"backend returned frames of shape {frames.shape}")
        return frames

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> VideoHandle:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _short(err: BaseException, path: str, limit: int = 200) -> str:
    """First line of a backend's error message, without the (already reported) file path."""
    text = str(err).replace(path, "<file>").strip().splitlines()
    return (text[0] if text else "")[:limit]


def open_video(path: str | os.PathLike, backend: Backend = "auto", num_threads: int = 1) -> VideoHandle:
    """Open `path` for frame access; raises [`VideoDecodeError`] when no backend can read it."""
    return VideoHandle(path, backend=backend, num_threads=num_threads)


def decode_frames(
    path: str | os.PathLike, indices: Sequence[int] | np.ndarray, backend: Backend = "auto", num_threads: int = 1
) -> np.ndarray:
    """Decode the frames at `indices` of `path` as a uint8 array `(T, H, W, 3)`."""
    with open_video(path, backend=backend, num_threads=num_threads) as video:
        return video.get_frames(indices)


def probe_video(path: str | os.PathLike) -> VideoMetadata:
    """Frame count, size and frame rate, read from the container header (PyAV) when possible.

    The header read decodes nothing, so it is much cheaper than building decord's frame index; the
    count can differ from decord's by a frame or two on files with broken timestamps.
    """
    path = os.fspath(path)
    _check_file(path)
    backend: Backend = "pyav" if _import_av() is not None else "auto"
    with open_video(path, backend=backend) as video:
        return video.metadata


def num_frames(path: str | os.PathLike) -> int:
    """Number of frames in `path` (see [`probe_video`])."""
    return probe_video(path).num_frames


@dataclass
class FileCheck:
    """The outcome of checking one video file."""

    path: str
    ok: bool
    num_frames: int = 0
    height: int = 0
    width: int = 0
    error: str = ""


def check_video(path: str, full: bool = False) -> FileCheck:
    """Open `path` and decode its first, middle and last frames (all frames when `full`)."""
    try:
        with open_video(path) as video:
            count = video.num_frames
            indices = np.arange(count) if full else np.unique([0, count // 2, count - 1])
            frames = video.get_frames(indices)
    except VideoDecodeError as err:
        return FileCheck(path, False, error=err.reason)
    return FileCheck(path, True, count, int(frames.shape[1]), int(frames.shape[2]))


def video_worker_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes for per-video jobs (checking, preparing). Spawned, not forked: a fork of a process whose other
    threads hold locks (torch, PyAV) can hang the worker, as it once hung a CI run."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

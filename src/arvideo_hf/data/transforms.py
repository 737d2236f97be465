"""Clip transforms in pure torch: VideoMAE's multi-scale crop for pretraining, resize+crop for eval.

Both take decoded uint8 frames `(T, H, W, 3)` (numpy or torch) and return float32 `(T, C, H, W)`
normalized with the processor's mean/std, the per-clip layout of transformers' VideoMAE
`pixel_values`. One crop is drawn per clip and applied to every frame. Randomness comes only from
the generator passed to `__call__`, so a seeded generator reproduces a clip exactly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..models.configuration_arvideo import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, pair
from ..recipes import MULTISCALE_CROP_SCALES


__all__ = [
    "IMAGENET_DEFAULT_MEAN",
    "IMAGENET_DEFAULT_STD",
    "MULTISCALE_CROP_SCALES",
    "as_numpy_rng",
    "GroupMultiScaleCrop",
    "PretrainingTransform",
    "EvalTransform",
]


RandomSource = np.random.Generator | torch.Generator | random.Random | int | None


def as_numpy_rng(rng: RandomSource) -> np.random.Generator:
    """A numpy Generator from a numpy/torch/stdlib generator or an int seed.

    A torch or stdlib generator is advanced by one draw, so a seeded one stays reproducible.
    `None` gives an unseeded generator (not reproducible).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, torch.Generator):
        return np.random.default_rng(int(torch.randint(0, 2**62, (), generator=rng)))
    if isinstance(rng, random.Random):
        return np.random.default_rng(rng.getrandbits(62))
    return np.random.default_rng(rng)


def _to_tchw_uint8(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """`(T, H, W, 3)` frames as a `(T, 3, H, W)` uint8 tensor view (no copy)."""
    tensor = torch.from_numpy(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    if tensor.ndim != 4 or tensor.shape[-1] != 3:
        raise ValueError(f"expected frames of shape (T, H, W, 3), got {tuple(tensor.shape)}")
    if tensor.dtype != torch.uint8:
        raise ValueError(f"expected uint8 frames, got {tensor.dtype}")
    return tensor.permute(0, 3, 1, 2)


class _Normalize:
    """`(x / 255 - mean) / std` fused into one multiply-add, on float32 `(T, C, H, W)`."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f"mean/std need 3 channels, got {mean} and {std}")
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        std_t = torch.tensor(self.std, dtype=torch.float32).view(1, 3, 1, 1)
        self.scale = 1.0 / (255.0 * std_t)
        self.shift = -torch.tensor(self.mean, dtype=torch.float32).view(1, 3, 1, 1) / std_t

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, pixels, self.scale).contiguous()


def _resize(clip: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a uint8 `(T, 3, h, w)` clip to float32 `(T, 3, *size)` in [0, 255].

    Resizing in uint8 (rounded like PIL's `resize(BILINEAR)` in the VideoMAE code, antialiased
    when downscaling) uses torch's channels-last uint8 kernel, 3-10x faster than float.
    """
    if tuple(clip.shape[-2:]) != size:
        downscale = clip.shape[-2] > size[0] or clip.shape[-1] > size[1]
        clip = F.interpolate(clip, size=size, mode="bilinear", align_corners=False, antialias=downscale)
    return clip.float()


class GroupMultiScaleCrop:
    """VideoMAE's `GroupMultiScaleCrop` crop choice: one `(top, left, height, width)` per clip.

    Crop sides are `int(min(H, W) * scale)` for each scale, snapped to the output size when within
    3 pixels; height and width scales differ by at most `max_distort` steps. With `fix_crop` the
    offset is one of 5 (or 13 with `more_fix_crop`) grid positions, else uniform.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        scales: Sequence[float] = MULTISCALE_CROP_SCALES,
        max_distort: int = 1,
        fix_crop: bool = True,
        more_fix_crop: bool = True,
    ) -> None:
        self.size = pair(size)
        self.scales = tuple(scales)
        self.max_distort = max_distort
        self.fix_crop = fix_crop
        self.more_fix_crop = more_fix_crop

    @staticmethod
    def fixed_offsets(
        image_h: int, image_w: int, crop_h: int, crop_w: int, more_fix_crop: bool = True
    ) -> list[tuple[int, int]]:
        """The `(top, left)` grid positions of the original `fill_fix_offset`."""
        w_step = (image_w - crop_w) // 4
        h_step = (image_h - crop_h) // 4
        steps = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2)]
        if more_fix_crop:
            steps += [(2, 0), (2, 4), (4, 2), (0, 2), (1, 1), (1, 3), (3, 1), (3, 3)]
        return [(h * h_step, w * w_step) for h, w in steps]

    def crop_sizes(self, image_h: int, image_w: int) -> list[tuple[int, int]]:
        """Every allowed `(crop_h, crop_w)` pair."""
        base = min(image_h, image_w)
        sides = [int(base * scale) for scale in self.scales]
        heights = [self.size[0] if abs(side - self.size[0]) < 3 else side for side in sides]
        widths = [self.size[1] if abs(side - self.size[1]) < 3 else side for side in sides]
        return [
            (h, w)
            for i, h in enumerate(heights)
            for j, w in enumerate(widths)
            if abs(i - j) <= self.max_distort and h <= image_h and w <= image_w
        ]

    def get_params(self, image_h: int, image_w: int, rng: RandomSource) -> tuple[int, int, int, int]:
        """Draw `(top, left, crop_h, crop_w)` for an `image_h x image_w` clip."""
        rng = as_numpy_rng(rng)
        pairs = self.crop_sizes(image_h, image_w)
        if not pairs:
            raise ValueError(f"no crop of scales {self.scales} fits a {image_h}x{image_w} frame")
        crop_h, crop_w = pairs[int(rng.integers(len(pairs)))]
        if self.fix_crop:
            offsets = self.fixed_offsets(image_h, image_w, crop_h, crop_w, self.more_fix_crop)
            top, left = offsets[int(rng.integers(len(offsets)))]
        else:
            top = int(rng.integers(0, image_h - crop_h + 1))
            left = int(rng.integers(0, image_w - crop_w + 1))
        return top, left, crop_h, crop_w

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(size={self.size}, scales={self.scales}, max_distort={self.max_distort}, "
            f"fix_crop={self.fix_crop}, more_fix_crop={self.more_fix_crop})"
        )


def _config_value(config: Any, name: str, default: Any) -> Any:
    value = getattr(config, name, None)
    return default if value is None else value


def _config_defaults(config: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` completed with the clip size and normalization of a VideoMAE/ARVideo config."""
    return {
        "size": _config_value(config, "image_size", 224),
        "mean": _config_value(config, "image_mean", IMAGENET_DEFAULT_MEAN),
        "std": _config_value(config, "image_std", IMAGENET_DEFAULT_STD),
        **kwargs,
    }


class PretrainingTransform:
    """Multi-scale crop, bilinear resize to `size`, optional horizontal flip, normalize.

    VideoMAE/ARVideo pretraining uses scales `(1, .875, .75, .66)` and no flip (docs/method.md, Pretraining recipe).
    """

    def __init__(
        self,
        size: int | Sequence[int] = 224,
        mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
        std: Sequence[float] = IMAGENET_DEFAULT_STD,
        scales: Sequence[float] = MULTISCALE_CROP_SCALES,
        max_distort: int = 1,
        fix_crop: bool = True,
        more_fix_crop: bool = True,
        flip_prob: float = 0.0,
    ) -> None:
        self.size = pair(size)
        self.crop = GroupMultiScaleCrop(self.size, scales, max_distort, fix_crop, more_fix_crop)
        self.normalize = _Normalize(mean, std)
        self.flip_prob = flip_prob

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> PretrainingTransform:
        """Size and mean/std from a VideoMAE/ARVideo config (`image_size`, `image_mean`, `image_std`)."""
        return cls(**_config_defaults(config, kwargs))

    def __call__(self, frames: np.ndarray | torch.Tensor, rng: RandomSource) -> torch.Tensor:
        rng = as_numpy_rng(rng)
        clip = _to_tchw_uint8(frames)
        top, left, crop_h, crop_w = self.crop.get_params(clip.shape[-2], clip.shape[-1], rng)
        pixels = _resize(clip[..., top : top + crop_h, left : left + crop_w], self.size)
        if self.flip_prob > 0 and rng.random() < self.flip_prob:
            pixels = pixels.flip(-1)
        return self.normalize(pixels)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(crop={self.crop!r}, mean={self.normalize.mean}, std={self.normalize.std}, "
            f"flip_prob={self.flip_prob})"
        )


class EvalTransform:
    """Deterministic: resize the short side to `resize_short` (default: the crop size), center crop.

    This matches transformers' `VideoMAEImageProcessor` (`shortest_edge` resize, `crop_size`
    center crop). `spatial_crops=3` with `crop_index` gives VideoMAE's 3-crop testing (left,
    center, right along the long side).
    """

    def __init__(
        self,
        size: int | Sequence[int] = 224,
        mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
        std: Sequence[float] = IMAGENET_DEFAULT_STD,
        resize_short: int | None = None,
        spatial_crops: int = 1,
    ) -> None:
        self.size = pair(size)
        self.resize_short = resize_short if resize_short is not None else min(self.size)
        if self.resize_short < max(self.size):
            raise ValueError(f"resize_short={self.resize_short} is smaller than the crop {self.size}")
        if spatial_crops not in (1, 3):
            raise ValueError(f"spatial_crops must be 1 or 3, got {spatial_crops}")
        self.spatial_crops = spatial_crops
        self.normalize = _Normalize(mean, std)

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> EvalTransform:
        """Size and mean/std from a VideoMAE/ARVideo config (`image_size`, `image_mean`, `image_std`)."""
        return cls(**_config_defaults(config, kwargs))

    def resized_shape(self, height: int, width: int) -> tuple[int, int]:
        """Output size of the short-side resize (long side truncated, as in transformers)."""
        if height <= width:
            return self.resize_short, int(self.resize_short * width / height)
        return int(self.resize_short * height / width), self.resize_short

    def __call__(
        self, frames: np.ndarray | torch.Tensor, rng: RandomSource = None, crop_index: int | None = None
    ) -> torch.Tensor:
        """`rng` is ignored (the transform is deterministic); `crop_index` picks one of 3 crops."""
        clip = _to_tchw_uint8(frames)
        pixels = _resize(clip, self.resized_shape(clip.shape[-2], clip.shape[-1]))
        height, width = pixels.shape[-2:]
        crop_h, crop_w = self.size
        top, left = (height - crop_h) // 2, (width - crop_w) // 2
        if crop_index is None:
            crop_index = self.spatial_crops // 2
        if not 0 <= crop_index < self.spatial_crops:
            raise ValueError(f"crop_index {crop_index} is not in [0, {self.spatial_crops})")
        if self.spatial_crops == 3:
            position = crop_index / 2  # 0, 0.5, 1 along the long side
            if height > width:
                top = int(round(position * (height - crop_h)))
            else:
                left = int(round(position * (width - crop_w)))
        return self.normalize(pixels[..., top : top + crop_h, left : left + crop_w])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(size={self.size}, resize_short={self.resize_short}, "
            f"spatial_crops={self.spatial_crops}, mean={self.normalize.mean}, std={self.normalize.std})"
        )

"""Finetuning augmentation (docs/method.md, Finetuning recipe): RandAugment, resized crop, flip, erasing per clip,
then mixup/cutmix with soft targets per batch.

[`FinetuneTransform`] runs kornia's maintained augmentations with *one set of parameters for every frame of a
clip* (a video is one scene; per-frame crops or rotations would invent motion). kornia draws from torch's global
generator, so the transform draws a seed from the dataset's numpy generator and runs kornia inside a forked,
seeded torch RNG: a seeded dataset reproduces every clip, and nothing leaks into the caller's RNG state.

[`mix_videos`] is timm's `Mixup` (batch mode) for `(B, T, C, H, W)` clips: mixup blends two clips, cutmix pastes
the same `H x W` box into every frame; labels become soft targets with label smoothing folded in, and every target
row sums to one. (kornia's mix augmentations return `(y_a, y_b, lambda)` triples and do not smooth labels, which is
why this one is written here; it is small and tested.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..models.configuration_arvideo import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, pair
from ..recipes import PAPER_CLIP_AUGMENTATION, PAPER_MIXUP
from .collate import stack_pixel_values
from .transforms import RandomSource, _to_tchw_uint8, as_numpy_rng


__all__ = ["FinetuneTransform", "MixupCollator", "mix_videos", "parse_rand_augment", "soft_targets"]


def parse_rand_augment(spec: str | None) -> tuple[int, int] | None:
    """`"rand-m7-n4"` (timm's spelling, also `"m7-n4"`) -> `(n, m) = (4, 7)`; `None`/`""`/`"none"` -> `None`."""
    if spec is None or spec.strip().lower() in ("", "none", "off"):
        return None
    fields = dict(re.findall(r"([mn])(\d+)", spec.lower()))
    if set(fields) != {"m", "n"}:
        raise ValueError(f"rand_augment must look like 'rand-m7-n4' (magnitude m, number of ops n), got {spec!r}.")
    return int(fields["n"]), int(fields["m"])


def _repeat_params(params: list[Any], frames: int) -> list[Any]:
    """kornia parameters drawn for a batch of one, repeated for `frames` frames (the same op, magnitude and sign)."""
    # kornia is imported where it is used: it takes seconds to import, and only the finetuning transform needs it.
    from kornia.augmentation.container.params import ParamItem

    repeated = []
    for item in params:
        if isinstance(item.data, list):
            repeated.append(ParamItem(item.name, _repeat_params(item.data, frames)))
            continue
        data = {}
        for key, value in item.data.items():
            if key == "forward_input_shape":
                value = value.clone()
                value[0] = frames
            elif torch.is_tensor(value) and value.ndim >= 1 and value.shape[0] == 1:
                value = value.expand(frames, *value.shape[1:]).clone()
            data[key] = value
        repeated.append(ParamItem(item.name, data))
    return repeated


class FinetuneTransform:
    """VideoMAE's finetuning clip augmentation: RandAugment (`rand_augment="rand-m7-n4"`), random resized crop
    (`scale`, `ratio`) to `size`, horizontal flip (`flip_prob`; set 0 for direction-sensitive labels such as SSv2 or
    the demo set), normalization, then random erasing (`erase_prob`, one box on every frame, filled with the mean
    color, i.e. 0 after normalization).

    Takes uint8 frames `(T, H, W, 3)` and a random source; returns float32 `(T, C, H, W)`.
    """

    def __init__(
        self,
        size: int | Sequence[int] = 224,
        mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
        std: Sequence[float] = IMAGENET_DEFAULT_STD,
        rand_augment: str | None = PAPER_CLIP_AUGMENTATION["rand_augment"],
        scale: tuple[float, float] = (PAPER_CLIP_AUGMENTATION["min_crop_scale"], 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        flip_prob: float = 0.5,
        erase_prob: float = PAPER_CLIP_AUGMENTATION["erase_prob"],
    ) -> None:
        # kornia is imported where it is used: it takes seconds to import, and only this transform needs it.
        import kornia.augmentation as K
        from kornia.augmentation.auto import RandAugment

        self.size = pair(size)
        self.rand_augment_spec = rand_augment
        n_m = parse_rand_augment(rand_augment)
        self.rand_augment = RandAugment(n=n_m[0], m=n_m[1]) if n_m is not None else None
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.crop = K.RandomResizedCrop(self.size, scale=self.scale, ratio=self.ratio, same_on_batch=True)
        self.flip_prob = float(flip_prob)
        self.flip = K.RandomHorizontalFlip(p=self.flip_prob, same_on_batch=True) if self.flip_prob > 0 else None
        self.erase_prob = float(erase_prob)
        self.erase = (
            K.RandomErasing(p=self.erase_prob, scale=(0.02, 1 / 3), ratio=(0.3, 3.3), value=0.0, same_on_batch=True)
            if self.erase_prob > 0
            else None
        )
        self.mean = torch.tensor([float(m) for m in mean]).view(1, 3, 1, 1)
        self.std = torch.tensor([float(s) for s in std]).view(1, 3, 1, 1)

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> FinetuneTransform:
        """Size and mean/std from an ARVideo/VideoMAE config (`image_size`, `image_mean`, `image_std`)."""
        kwargs.setdefault("size", getattr(config, "image_size", 224))
        kwargs.setdefault("mean", getattr(config, "image_mean", None) or IMAGENET_DEFAULT_MEAN)
        kwargs.setdefault("std", getattr(config, "image_std", None) or IMAGENET_DEFAULT_STD)
        return cls(**kwargs)

    def __call__(self, frames: np.ndarray | torch.Tensor, rng: RandomSource) -> torch.Tensor:
        seed = int(as_numpy_rng(rng).integers(0, 2**63 - 1))
        clip = _to_tchw_uint8(frames).float().div_(255.0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if self.rand_augment is not None:
                params = self.rand_augment.forward_parameters(torch.Size((1, *clip.shape[1:])))
                clip = self.rand_augment(clip, params=_repeat_params(params, clip.shape[0]))
            if not self._crop_is_identity(clip):
                clip = self.crop(clip)
            if self.flip is not None:
                clip = self.flip(clip)
            clip = (clip - self.mean) / self.std
            if self.erase is not None:
                clip = self.erase(clip)
        return clip.contiguous()

    def _crop_is_identity(self, clip: torch.Tensor) -> bool:
        """A full-area crop (`scale=(1, 1)`) of a frame already at `size` whose aspect lies in `ratio` is the whole
        frame, returned unchanged: skipping kornia there gives the same clip without its per-clip cost."""
        height, width = clip.shape[-2:]
        return (self.scale == (1.0, 1.0) and (height, width) == tuple(self.size)
                and self.ratio[0] <= width / height <= self.ratio[1])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(size={self.size}, rand_augment={self.rand_augment_spec!r}, scale={self.scale}, "
            f"ratio={tuple(round(r, 3) for r in self.ratio)}, flip_prob={self.flip_prob}, "
            f"erase_prob={self.erase_prob})"
        )


def soft_targets(labels: torch.Tensor, num_labels: int, smoothing: float = 0.0) -> torch.Tensor:
    """One-hot `(B, num_labels)` targets with label smoothing: `1 - smoothing + smoothing / K` on the true class,
    `smoothing / K` elsewhere (timm's convention; rows sum to one)."""
    off = smoothing / num_labels
    targets = torch.full((labels.shape[0], num_labels), off, dtype=torch.float32)
    return targets.scatter_(1, labels.long().view(-1, 1), 1.0 - smoothing + off)


def _cutmix_box(height: int, width: int, lam: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """timm's `rand_bbox`: a box of `sqrt(1 - lam)` of each side, centered uniformly, clipped to the frame."""
    cut = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * cut), int(width * cut)
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    top, bottom = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
    left, right = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
    return int(top), int(bottom), int(left), int(right)


def mix_videos(
    pixel_values: torch.Tensor,
    labels: torch.Tensor,
    num_labels: int,
    *,
    mixup_alpha: float = PAPER_MIXUP["mixup"],
    cutmix_alpha: float = PAPER_MIXUP["cutmix"],
    prob: float = PAPER_MIXUP["mixup_prob"],
    switch_prob: float = PAPER_MIXUP["mixup_switch_prob"],
    label_smoothing: float = PAPER_MIXUP["label_smoothing"],
    rng: RandomSource = None,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Mix a batch of clips `(B, T, C, H, W)` with its reverse (timm's batch mode) and build soft targets.

    With probability `prob` the batch is mixed: cutmix (with probability `switch_prob` when both alphas are positive)
    pastes one box of the partner clip into every frame and sets `lam` to the exact unpasted area; mixup blends
    `lam * x + (1 - lam) * partner`, `lam ~ Beta(alpha, alpha)`. Targets are `lam * y + (1 - lam) * y_partner` of
    label-smoothed one-hots. Returns the mixed clips (a new tensor), the targets and `{"mode", "lam", "box"}`.
    """
    if pixel_values.dim() != 5:
        raise ValueError(f"mix_videos needs clips (B, T, C, H, W), got shape {tuple(pixel_values.shape)}.")
    rng = as_numpy_rng(rng)
    targets = soft_targets(labels, num_labels, label_smoothing)
    mixed, lam, mode, box = pixel_values.clone(), 1.0, "none", None
    if (mixup_alpha > 0 or cutmix_alpha > 0) and rng.random() < prob:
        use_cutmix = cutmix_alpha > 0 and (mixup_alpha <= 0 or rng.random() < switch_prob)
        partner = pixel_values.flip(0)
        if use_cutmix:
            mode = "cutmix"
            height, width = pixel_values.shape[-2:]
            lam = float(rng.beta(cutmix_alpha, cutmix_alpha))
            top, bottom, left, right = box = _cutmix_box(height, width, lam, rng)
            mixed[..., top:bottom, left:right] = partner[..., top:bottom, left:right]
            lam = 1.0 - (bottom - top) * (right - left) / (height * width)
        else:
            mode = "mixup"
            lam = float(rng.beta(mixup_alpha, mixup_alpha))
            mixed = pixel_values * lam + partner * (1.0 - lam)
        targets = targets * lam + targets.flip(0) * (1.0 - lam)
    return mixed, targets, {"mode": mode, "lam": lam, "box": box}


class MixupCollator:
    """Training collator: stacks clips and returns `{"pixel_values", "labels"}` with soft `(B, num_labels)` labels
    (mixup/cutmix and label smoothing), which `ARVideoForVideoClassification` turns into a soft-target loss.

    Randomness comes from torch's generator, which DataLoader seeds per worker and epoch (and `Trainer` seeds).
    With both alphas 0 and no smoothing it returns hard labels.
    """

    def __init__(
        self,
        num_labels: int,
        mixup_alpha: float = PAPER_MIXUP["mixup"],
        cutmix_alpha: float = PAPER_MIXUP["cutmix"],
        prob: float = PAPER_MIXUP["mixup_prob"],
        switch_prob: float = PAPER_MIXUP["mixup_switch_prob"],
        label_smoothing: float = PAPER_MIXUP["label_smoothing"],
    ) -> None:
        self.num_labels = int(num_labels)
        self.mixup_alpha, self.cutmix_alpha = float(mixup_alpha), float(cutmix_alpha)
        self.prob, self.switch_prob, self.label_smoothing = float(prob), float(switch_prob), float(label_smoothing)

    @property
    def soft(self) -> bool:
        return self.mixup_alpha > 0 or self.cutmix_alpha > 0 or self.label_smoothing > 0

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        pixel_values, repeats = stack_pixel_values(samples)
        labels = torch.stack([torch.as_tensor(s["labels"], dtype=torch.long) for s in samples])
        labels = labels.repeat_interleave(repeats)
        if not self.soft:
            return {"pixel_values": pixel_values, "labels": labels}
        pixel_values, targets, _ = mix_videos(
            pixel_values, labels, self.num_labels, mixup_alpha=self.mixup_alpha, cutmix_alpha=self.cutmix_alpha,
            prob=self.prob, switch_prob=self.switch_prob, label_smoothing=self.label_smoothing,
            rng=torch.default_generator,
        )
        return {"pixel_values": pixel_values, "labels": targets}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_labels={self.num_labels}, mixup_alpha={self.mixup_alpha}, "
            f"cutmix_alpha={self.cutmix_alpha}, prob={self.prob}, switch_prob={self.switch_prob}, "
            f"label_smoothing={self.label_smoothing})"
        )

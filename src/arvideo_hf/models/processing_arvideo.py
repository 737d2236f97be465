"""The image processor that goes with every checkpoint: transformers' VideoMAE processor on the PIL backend."""

from __future__ import annotations

from typing import Any

from transformers import VideoMAEImageProcessorPil

from .configuration_arvideo import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, pair


def image_processor_for(config: Any) -> VideoMAEImageProcessorPil:
    """A VideoMAE image processor matching `config` (short-side resize and center crop to `image_size`, the
    config's mean/std), so `pipeline("video-classification")` and `from_pretrained` reproduce our eval transform."""
    height, width = pair(config.image_size)
    return VideoMAEImageProcessorPil(
        size={"shortest_edge": min(height, width)},
        crop_size={"height": height, "width": width},
        image_mean=list(getattr(config, "image_mean", IMAGENET_DEFAULT_MEAN)),
        image_std=list(getattr(config, "image_std", IMAGENET_DEFAULT_STD)),
    )


__all__ = ["image_processor_for"]

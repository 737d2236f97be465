"""The image processor that goes with every checkpoint: transformers' VideoMAE processor on the PIL backend."""

from __future__ import annotations

import os
from typing import Any

from transformers import (
    AutoImageProcessor,
    AutoModelForVideoClassification,
    BaseImageProcessor,
    Pipeline,
    VideoMAEImageProcessorPil,
    pipeline,
)

from .configuration_arvideo import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, pair


def image_processor_for(config: Any, like: BaseImageProcessor | None = None) -> BaseImageProcessor:
    """A VideoMAE image processor matching `config` (short-side resize and center crop to `image_size`, the
    config's mean/std), so `pipeline("video-classification")` and `from_pretrained` reproduce our eval transform.

    With `like` (a checkpoint's own processor) everything but the sizes is kept and the resize keeps its ratio to the
    crop: the processor of a checkpoint loaded at another `image_size`."""
    height, width = pair(config.image_size)
    if like is None:
        return VideoMAEImageProcessorPil(
            size={"shortest_edge": min(height, width)},
            crop_size={"height": height, "width": width},
            image_mean=list(getattr(config, "image_mean", IMAGENET_DEFAULT_MEAN)),
            image_std=list(getattr(config, "image_std", IMAGENET_DEFAULT_STD)),
        )
    settings = like.to_dict()
    old_short, old_crop = settings["size"].get("shortest_edge"), settings.get("crop_size") or {}
    if old_short is None or not old_crop:
        raise ValueError(f"{type(like).__name__} has no shortest_edge resize and center crop to scale: {settings}")
    scale = old_short / min(old_crop["height"], old_crop["width"])
    settings.update(size={"shortest_edge": round(min(height, width) * scale)},
                    crop_size={"height": height, "width": width})
    return type(like).from_dict(settings)


def video_classification_pipeline(
    model: str | os.PathLike, num_frames: int | None = None, image_size: int | None = None, **kwargs: Any
) -> Pipeline:
    """`pipeline("video-classification")` on a checkpoint, optionally at another clip geometry: the classifier loaded
    with `num_frames`/`image_size` overrides (positions rebuilt for them, docs/method.md, Clip geometry) and the
    checkpoint's processor following the new image size. `kwargs` go to `transformers.pipeline`."""
    overrides = {k: v for k, v in (("num_frames", num_frames), ("image_size", image_size)) if v is not None}
    classifier = AutoModelForVideoClassification.from_pretrained(model, **overrides)
    try:
        like = AutoImageProcessor.from_pretrained(model)
    except (OSError, ValueError):  # a folder without preprocessor_config.json: the default processor for the config
        like = None
    processor = image_processor_for(classifier.config, like=like)
    return pipeline("video-classification", model=classifier, image_processor=processor, **kwargs)


__all__ = ["image_processor_for", "video_classification_pipeline"]

"""Batch collators: stacking clips, and drawing ARVideo's per-sample randomness in the workers.

[`PretrainingCollator`] draws each batch's cluster order and masking noise inside the DataLoader
worker (as V-JEPA's mask collator does), so the training step only gathers. The draws are seeded
from `(seed, epoch, sample indices)`: the same batch in the same epoch always gets the same orders
and masks whatever the number of workers, and a new epoch gets new ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..models.clustering import ClusterGeometry, make_cluster_order
from ..models.configuration_arvideo import pair


__all__ = ["stack_pixel_values", "PretrainingCollator", "ClassificationCollator"]


def stack_pixel_values(samples: Sequence[dict[str, Any]]) -> tuple[torch.Tensor, int]:
    """Stack per-sample clips into `(B, T, C, H, W)`; returns it and the repeated-augmentation factor.

    Samples from `repeated_aug=k` datasets hold `(k, T, C, H, W)`; their clips are laid out sample
    by sample, so the batch holds `B * k` clips.
    """
    if not samples:
        raise ValueError("cannot collate an empty batch")
    clips = [sample["pixel_values"] for sample in samples]
    if clips[0].ndim == 4:
        return torch.stack(clips), 1
    if clips[0].ndim == 5:
        return torch.cat(clips), clips[0].shape[0]
    raise ValueError(f"pixel_values must be (T, C, H, W) or (k, T, C, H, W), got {tuple(clips[0].shape)}")


class PretrainingCollator:
    """`{"pixel_values": (B, T, C, H, W), "cluster_order": (B, C) long, "noise": (B, N) float}`.

    Args:
        config: an `ARVideoConfig` (geometry, `prediction_order`, clip size).
        order: prediction order; defaults to `config.prediction_order`.
        seed: base seed of the per-batch generator.

    Call `set_epoch(epoch)` before each epoch's DataLoader iterator is created (DataLoader copies
    the collator into its workers then; with `persistent_workers=True` it would not see the call).
    """

    def __init__(self, config: Any, *, order: str | None = None, seed: int = 0) -> None:
        self.geometry = ClusterGeometry.from_config(config)
        self.order = order if order is not None else config.prediction_order
        self.clip_shape = (int(config.num_frames), int(config.num_channels), *pair(config.image_size))
        self.seed = int(seed)
        self.epoch = 0
        self._unindexed_batches = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def generator(self, samples: Sequence[dict[str, Any]]) -> torch.Generator:
        """The batch's generator, seeded from `(seed, epoch, sample indices)`.

        Samples without an `"index"` fall back to a per-process batch counter, which is reproducible
        only with a fixed number of workers.
        """
        if all("index" in sample for sample in samples):
            key = [int(sample["index"]) for sample in samples]
        else:
            info = torch.utils.data.get_worker_info()
            key = [2**32 + (info.id if info is not None else 0), self._unindexed_batches]
            self._unindexed_batches += 1
        state = np.random.SeedSequence([self.seed, self.epoch, len(key), *key]).generate_state(2, dtype=np.uint32)
        return torch.Generator().manual_seed((int(state[0]) << 31) ^ int(state[1]))

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        pixel_values, _ = stack_pixel_values(samples)
        if tuple(pixel_values.shape[1:]) != self.clip_shape:
            raise ValueError(
                f"clips have shape {tuple(pixel_values.shape[1:])} but the config expects (T, C, H, W) = "
                f"{self.clip_shape}; check the sampler's num_frames and the transform's size"
            )
        batch_size = pixel_values.shape[0]
        generator = self.generator(samples)
        cluster_order = make_cluster_order(self.geometry, self.order, batch_size, generator=generator)
        noise = torch.rand(batch_size, self.geometry.num_tokens, generator=generator)
        return {"pixel_values": pixel_values, "cluster_order": cluster_order.long(), "noise": noise}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(order={self.order!r}, geometry={self.geometry}, seed={self.seed}, "
            f"epoch={self.epoch})"
        )


class ClassificationCollator:
    """`{"pixel_values": (B, T, C, H, W), "labels": (B,) long}`; labels follow repeated clips."""

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if any("labels" not in sample for sample in samples):
            raise KeyError("ClassificationCollator needs a 'labels' entry in every sample (are the records labeled?)")
        pixel_values, repeats = stack_pixel_values(samples)
        labels = torch.stack([torch.as_tensor(sample["labels"], dtype=torch.long) for sample in samples])
        return {"pixel_values": pixel_values, "labels": labels.repeat_interleave(repeats)}

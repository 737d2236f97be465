# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Cluster geometry, prediction orders, in-cluster masks, block-causal masks (docs/method.md, Pretraining objective).

The one place where ARVideo's sequence is defined. Pure torch, no transformers, so data workers can draw orders and
masks (`make_cluster_order`, `torch.rand` noise) and the model can turn them into gather indices (`plan_sequence`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch


def check_cluster_shape(cluster_size: Any, mask_ratio: float) -> None:
    """Raise `ValueError` naming the fix for a cluster shape or mask ratio that no clip geometry could use."""
    if len(cluster_size) != 3 or min(cluster_size) <= 0:
        raise ValueError(f"cluster_size must be three positive ints (K_T, K_H, K_W), got {cluster_size}.")
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(
            f"mask_ratio={mask_ratio} must be in [0, 1): at 1 a cluster keeps 0 visible tokens and the encoder has no "
            "input. ARVideo's default is 0.8."
        )


@dataclass(frozen=True)
class ClusterGeometry:
    """Token grid `(T', H', W')` cut into clusters of `(K_T, K_H, K_W)` tokens, `num_visible` of each kept."""

    grid: tuple[int, int, int]
    cluster_size: tuple[int, int, int]
    mask_ratio: float

    def __post_init__(self) -> None:
        check_cluster_shape(self.cluster_size, self.mask_ratio)
        for axis, n, k in zip(("time", "height", "width"), self.grid, self.cluster_size, strict=True):
            if n % k:
                divisors = [d for d in range(1, n + 1) if n % d == 0]
                raise ValueError(
                    f"The token grid {self.grid} (T/t, H/p, W/p) is not divisible by cluster_size "
                    f"{list(self.cluster_size)} along {axis} ({n} % {k} != 0); pick K along {axis} from {divisors}."
                )
        if self.num_clusters < 2:
            raise ValueError(
                f"cluster_size {list(self.cluster_size)} makes one cluster of the whole clip; autoregression needs "
                "at least 2 clusters, so use a smaller cluster_size."
            )

    @classmethod
    def from_config(cls, config: Any) -> ClusterGeometry:
        """Geometry of an `ARVideoConfig` (anything with `token_grid`, `cluster_size`, `mask_ratio`)."""
        return cls(tuple(config.token_grid), tuple(int(k) for k in config.cluster_size), float(config.mask_ratio))

    @property
    def blocks(self) -> tuple[int, int, int]:
        """Clusters along (time, height, width)."""
        return tuple(n // k for n, k in zip(self.grid, self.cluster_size, strict=True))  # type: ignore[return-value]

    @property
    def num_tokens(self) -> int:
        """N: tokens in a clip."""
        return self.grid[0] * self.grid[1] * self.grid[2]

    @property
    def num_clusters(self) -> int:
        """C: clusters in a clip."""
        return self.blocks[0] * self.blocks[1] * self.blocks[2]

    @property
    def cluster_tokens(self) -> int:
        """S: tokens in a cluster."""
        return self.cluster_size[0] * self.cluster_size[1] * self.cluster_size[2]

    @property
    def num_visible(self) -> int:
        """V: tokens of each cluster given to the encoder, S - int(mask_ratio * S)."""
        return self.cluster_tokens - int(self.mask_ratio * self.cluster_tokens)

    @property
    def num_inputs(self) -> int:
        """Encoder sequence length (C-1)*V: the last cluster in the order is never an input."""
        return (self.num_clusters - 1) * self.num_visible

    @property
    def num_queries(self) -> int:
        """Decoder queries (C-1)*S: every token of the clusters at steps 1..C-1."""
        return (self.num_clusters - 1) * self.cluster_tokens

    def cluster_token_index(self, device: torch.device | str | None = None) -> torch.Tensor:
        """`(C, S)` flat token indices of each cluster (ids lexicographic in block (t, h, w)), ascending per row."""
        (bt, bh, bw), (kt, kh, kw) = self.blocks, self.cluster_size
        ids = torch.arange(self.num_tokens, device=device).view(bt, kt, bh, kh, bw, kw)
        return ids.permute(0, 2, 4, 1, 3, 5).reshape(self.num_clusters, self.cluster_tokens)


def fit_cluster_size(grid: tuple[int, int, int], preferred: tuple[int, int, int] = (2, 7, 7)) -> list[int]:
    """The largest cluster shape <= `preferred` per axis that tiles `grid` and still gives at least 2 clusters
    (used when importing a VideoMAE model whose token grid the paper's 2x7x7 does not divide)."""
    sizes = [max(d for d in range(1, min(k, n) + 1) if n % d == 0) for n, k in zip(grid, preferred, strict=True)]
    while all(n == k for n, k in zip(grid, sizes, strict=True)) and max(sizes) > 1:  # one cluster: shrink an axis
        axis = sizes.index(max(sizes))
        sizes[axis] = max(d for d in range(1, sizes[axis]) if grid[axis] % d == 0)
    return sizes


def make_cluster_order(
    geometry: ClusterGeometry,
    order: str,
    batch_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """`(B, C)` cluster ids in prediction order: `random` (one permutation per sample), `spatial_first`/`raster`
    (lexicographic in (it, ih, iw)) or `temporal_first` (lexicographic in (ih, iw, it))."""
    num_clusters = geometry.num_clusters
    if order == "random":
        noise = torch.rand(
            batch_size, num_clusters, generator=generator, device=generator.device if generator else None
        )
        return noise.argsort(dim=1).to(device)
    if order in ("spatial_first", "raster"):
        fixed = torch.arange(num_clusters, device=device)
    elif order == "temporal_first":
        fixed = torch.arange(num_clusters, device=device).view(geometry.blocks).permute(1, 2, 0).reshape(-1)
    else:
        raise ValueError(f"Unknown prediction order {order!r}; use random, spatial_first or temporal_first.")
    return fixed.unsqueeze(0).expand(batch_size, -1).clone()


def noise_from_bool_masked_pos(geometry: ClusterGeometry, bool_masked_pos: torch.Tensor) -> torch.Tensor:
    """Turn a VideoMAE-style `(B, N)` mask (True = masked) into masking noise; every cluster must mask S - V tokens."""
    masked_per_cluster = bool_masked_pos[:, geometry.cluster_token_index(bool_masked_pos.device)].sum(-1)
    expected = geometry.cluster_tokens - geometry.num_visible
    if (masked_per_cluster != expected).any():
        bad = masked_per_cluster[masked_per_cluster != expected][:5].tolist()
        raise ValueError(
            f"bool_masked_pos must mask exactly {expected} of the {geometry.cluster_tokens} tokens of every cluster "
            f"(mask_ratio={geometry.mask_ratio}); some clusters mask {bad}. Draw it per cluster or pass `noise`."
        )
    return bool_masked_pos.float()


class SequencePlan(NamedTuple):
    """Flat token indices that build ARVideo's encoder input and decoder targets for a batch."""

    input_index: torch.Tensor  # (B, (C-1)*V): visible tokens of steps 0..C-2, step by step
    target_index: torch.Tensor  # (B, (C-1)*S): all tokens of steps 1..C-1, ascending within a step


def check_cluster_order(geometry: ClusterGeometry, cluster_order: torch.Tensor, batch_size: int) -> None:
    """Raise `ValueError` unless `cluster_order` is `(B, C)` with one permutation of the cluster ids per row."""
    expected = (batch_size, geometry.num_clusters)
    if cluster_order.dim() == 2 and cluster_order.shape[0] != batch_size:
        raise ValueError(
            f"cluster_order has {cluster_order.shape[0]} rows but the batch has {batch_size} clips: pass one row of "
            f"cluster ids per clip, shape {expected}."
        )
    if cluster_order.dim() != 2 or tuple(cluster_order.shape) != expected:
        raise ValueError(
            f"cluster_order must have shape {expected} (batch, clusters), got {tuple(cluster_order.shape)}."
        )
    if cluster_order.dtype.is_floating_point or cluster_order.dtype == torch.bool:
        raise ValueError("cluster_order must hold integer cluster ids (e.g. torch.long).")
    reference = torch.arange(geometry.num_clusters, device=cluster_order.device)
    if not torch.equal(cluster_order.sort(dim=1).values, reference.expand(batch_size, -1)):
        raise ValueError(f"Each row of cluster_order must be a permutation of 0..{geometry.num_clusters - 1}.")


def plan_sequence(geometry: ClusterGeometry, cluster_order: torch.Tensor, noise: torch.Tensor) -> SequencePlan:
    """In every cluster keep the V tokens of lowest `noise` (ViTMAE convention), then lay clusters out in order."""
    batch_size = cluster_order.shape[0]
    if tuple(noise.shape) != (batch_size, geometry.num_tokens):
        raise ValueError(f"noise must have shape {(batch_size, geometry.num_tokens)}, got {tuple(noise.shape)}.")
    check_cluster_order(geometry, cluster_order, batch_size)
    cluster_index = geometry.cluster_token_index(noise.device)  # (C, S)
    keep = noise[:, cluster_index].argsort(dim=-1, stable=True)[..., : geometry.num_visible].sort(dim=-1).values
    visible = cluster_index.expand(batch_size, -1, -1).gather(2, keep)  # (B, C, V), ascending within a cluster
    by_step = visible.gather(1, cluster_order.unsqueeze(-1).expand(-1, -1, geometry.num_visible))
    input_index = by_step[:, :-1].reshape(batch_size, geometry.num_inputs)
    target_index = cluster_index[cluster_order[:, 1:]].reshape(batch_size, geometry.num_queries)
    return SequencePlan(input_index, target_index)


def block_causal_mask(
    num_steps: int,
    queries_per_step: int,
    keys_per_step: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Additive `(1, 1, steps*q, steps*k)` mask: query block i sees key blocks 0..i (0 allowed, dtype-min blocked).

    The encoder (steps 0..C-2 over themselves), the decoder cross-attention (query block i = step i+1 over encoder
    steps <= i) and the optional decoder self-attention all use this one static pattern, shared by the batch.
    """
    query_step = torch.arange(num_steps, device=device).repeat_interleave(queries_per_step)
    key_step = torch.arange(num_steps, device=device).repeat_interleave(keys_per_step)
    allowed = key_step.unsqueeze(0) <= query_step.unsqueeze(1)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill(~allowed, torch.finfo(dtype).min)
    return mask[None, None]


__all__ = [
    "ClusterGeometry",
    "SequencePlan",
    "block_causal_mask",
    "check_cluster_order",
    "check_cluster_shape",
    "fit_cluster_size",
    "make_cluster_order",
    "noise_from_bool_masked_pos",
    "plan_sequence",
]

# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Figures for ARVideo: next-cluster predictions, prediction orders, attention rank and probes per layer, training
curves.

Every figure is drawn on a bare `matplotlib.figure.Figure` with the Agg canvas (never pyplot), so it runs headless
and never switches the backend of an interactive session. Functions return the path they wrote. Clips are the
model's `(B, T, C, H, W)` normalized `pixel_values`; pixels shown are un-normalized to [0, 1].
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch


try:
    from matplotlib import colormaps, patheffects
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    from PIL import Image
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "arvideo_hf.viz needs matplotlib and Pillow: pip install 'arvideo_hf[train]' (or pip install matplotlib)"
    ) from err

from ..data import EvalTransform, open_video, read_kinetics_list
from ..interop.loading import load_encoder
from ..models.clustering import ClusterGeometry, make_cluster_order
from ..models.configuration_arvideo import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, pair
from ..models.modeling_arvideo import NORM_PIX_EPS, tubelet_mean_scale, unnormalized_tubelets, unpatchify
from ..results import read_metrics


PathLike = str | os.PathLike
Curves = dict[str, tuple[np.ndarray, np.ndarray]]  # metric -> (steps, values)

GREY = 0.8  # pixel value of tokens the encoder never sees (and of tokens nothing predicts)
DEFAULT_RANK_RTOL = 1e-2  # singular values above 1% of the largest count towards the attention rank
LIST_SUFFIXES = (".txt", ".csv", ".list", ".lst")  # `read_video_list` reads these as annotation lists
VIT_B_GEOMETRY = ClusterGeometry(grid=(8, 14, 14), cluster_size=(2, 7, 7), mask_ratio=0.8)  # docs/method.md, Clusters
ORDERS = ("random", "spatial_first", "temporal_first")

__all__ = [
    "DEFAULT_RANK_RTOL",
    "GREY",
    "NextClusterPrediction",
    "ORDERS",
    "VIT_B_GEOMETRY",
    "animate_prediction_order",
    "attention_ranks",
    "layer_attention_ranks",
    "encoder_of",
    "load_video_clip",
    "logits_to_pixels",
    "numerical_rank",
    "plot_attention_ranks",
    "plot_layer_probes",
    "plot_prediction_grid",
    "plot_prediction_orders",
    "plot_training_curves",
    "predict_next_clusters",
    "read_metrics_jsonl",
    "read_tensorboard",
    "read_trainer_state",
    "read_training_logs",
    "read_video_list",
    "synthetic_clip",
    "token_steps",
    "denormalize_targets",
]


# ------------------------------------------------------------------------------------------------------ helpers
def _mean_std(config: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The clip normalization of `config` (ImageNet's when absent, as for a transformers VideoMAE config)."""
    mean = torch.tensor(getattr(config, "image_mean", None) or IMAGENET_DEFAULT_MEAN, dtype=torch.float32)
    std = torch.tensor(getattr(config, "image_std", None) or IMAGENET_DEFAULT_STD, dtype=torch.float32)
    return mean, std


def _new_figure(figsize: tuple[float, float], dpi: int) -> Figure:
    figure = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: PathLike) -> Path:
    """Write `figure` as PNG at its exact size (no tight bbox), creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=figure.dpi, format="png")
    return path


def _render(figure: Figure) -> np.ndarray:
    """Rasterize `figure` to an RGB uint8 array (for GIF frames)."""
    canvas = figure.canvas
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _wrap(text: str, width_inches: float, fontsize: float) -> str:
    """Wrap a title to the figure width (about 0.55 em per character)."""
    chars = max(20, int(width_inches * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(part, chars) for part in text.split("\n"))


def _outlined() -> list[Any]:
    """A black outline that keeps white labels readable on any color."""
    return [patheffects.withStroke(linewidth=2.0, foreground="black")]


# -------------------------------------------------------------------------------------------------------- clips
def synthetic_clip(config: Any, seed: int = 0) -> torch.Tensor:
    """A normalized `(1, T, C, H, W)` moving-pattern clip for `config`: drifting stripes, a square sliding right and a
    disc falling down, so every figure works without any video file and motion is visible across tubelets."""
    rng = np.random.default_rng(seed)
    height, width = pair(config.image_size)
    frames = int(config.num_frames)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    warm, cool = rng.uniform(0.6, 1.0, size=3).astype(np.float32), rng.uniform(0.0, 0.4, size=3).astype(np.float32)
    clip = np.empty((frames, height, width, 3), dtype=np.float32)
    for f in range(frames):
        phase = f / max(frames - 1, 1)
        stripes = 0.5 + 0.5 * np.sin(2 * math.pi * ((xx + yy) / (0.35 * width) - phase))
        image = stripes[..., None] * warm + (1 - stripes[..., None]) * cool
        side = max(height // 4, 2)
        top, left = height // 6, int(phase * (width - side))
        image[top : top + side, left : left + side] = (0.95, 0.2, 0.15)
        cy, cx, radius = phase * (height - 1), 0.7 * width, max(height / 8, 1.5)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = (0.1, 0.3, 0.95)
        clip[f] = image
    pixels = torch.from_numpy(clip).permute(0, 3, 1, 2)  # (T, C, H, W) in [0, 1]
    mean, std = _mean_std(config)
    return ((pixels - mean[:, None, None]) / std[:, None, None]).unsqueeze(0)


def read_video_list(items: Iterable[PathLike]) -> list[Path]:
    """Expand `items` (video files, or `path [label]` lists read with `arvideo_hf.data.read_kinetics_list`) into video
    paths; a relative path in a list is taken relative to the list's folder when it does not exist as given."""
    videos: list[Path] = []
    for item in map(Path, items):
        if item.suffix.lower() not in LIST_SUFFIXES:
            videos.append(item)
            continue
        for record in read_kinetics_list(item, labels=False).records:
            path = Path(record.path)
            videos.append(path if path.is_absolute() or path.exists() else item.parent / path)
    return videos


def load_video_clip(path: PathLike, config: Any) -> torch.Tensor:
    """`config.num_frames` frames spread uniformly over the whole video `path`, decoded and transformed by
    `arvideo_hf.data` like evaluation clips (short side resized to the model's image size, center crop, the config's
    mean/std): a `(1, T, C, H, W)` clip."""
    with open_video(path) as video:
        index = np.linspace(0, max(video.num_frames - 1, 0), int(config.num_frames)).round().astype(np.int64)
        frames = video.get_frames(index)
    transform = EvalTransform.from_config(config, resize_short=max(pair(config.image_size)))
    return transform(frames).unsqueeze(0)


# ------------------------------------------------------------------------------------------ pixels and targets
def denormalize_targets(normalized: torch.Tensor, reference: torch.Tensor, eps: float = NORM_PIX_EPS) -> torch.Tensor:
    """Invert VideoMAE's norm_pix_loss target (`ARVideoForPretraining.pixel_targets`): `normalized * scale + mean`,
    with `modeling_arvideo.tubelet_mean_scale` of the true tubelets `reference` `(B, L, t*p*p, C)`. `normalized` is
    `(B, L, t*p*p*C)` (a model's `logits` or `targets`) or `(B, L, t*p*p, C)`; returns `(B, L, t*p*p*C)` pixels.
    (`unnormalized_tubelets` of the modeling file undoes the input normalization instead.)"""
    mean, scale = tubelet_mean_scale(reference.float(), eps)
    return (normalized.float().reshape(reference.shape) * scale + mean).flatten(2)


def logits_to_pixels(
    logits: torch.Tensor, target_index: torch.Tensor, pixel_values: torch.Tensor, config: Any, fill: float = GREY
) -> torch.Tensor:
    """Put next-cluster predictions back into a `(B, T, C, H, W)` clip of pixels in the [0, 1] range: each prediction
    un-normalized with its true tubelet's statistics (when `norm_pix_loss`), tokens nothing predicts set to `fill`.
    A predicted frame difference becomes pixels by adding it to the true frame before; of the combined target, the
    pixel channels are shown, or the frame differences where the pixel term decays to 0 in pretraining."""
    target = getattr(config, "pretraining_target", "pixels")
    pixels = unnormalized_tubelets(pixel_values, config)  # (B, N, tpp, C)
    index = target_index.to(pixels.device)[..., None, None].expand(-1, -1, *pixels.shape[2:])
    predicted = logits.float().reshape(*index.shape[:-1], -1)
    channels = pixels.shape[-1]
    if target == "pixels_and_frame_difference" and getattr(config, "pixel_target_decay_steps", 0):
        target, predicted = "frame_difference", predicted[..., channels:]
    predicted = predicted[..., :channels]
    if target == "pixels_and_frame_difference":
        predicted = predicted / config.pixel_target_scale
    truth = pixels if target != "frame_difference" else unnormalized_tubelets(pixel_values, config, target)
    if getattr(config, "norm_pix_loss", True):
        predicted = denormalize_targets(predicted, truth.gather(1, index)).reshape(index.shape)
    if target == "frame_difference":
        predicted = predicted + (pixels - truth).gather(1, index)  # the true frame before, plus the predicted change
    canvas = torch.full_like(pixels, fill).scatter(1, index, predicted)
    return unpatchify(canvas, tuple(config.token_grid), config.tubelet_size, pair(config.patch_size)[0])


def _token_map(values: torch.Tensor, geometry: ClusterGeometry, tubelet: int, patch: int) -> torch.Tensor:
    """Expand a per-token `(N,)` map to per-pixel `(T, H, W)`."""
    grid = values.reshape(geometry.grid)
    return grid.repeat_interleave(tubelet, 0).repeat_interleave(patch, 1).repeat_interleave(patch, 2)


def token_steps(geometry: ClusterGeometry, cluster_order: torch.Tensor) -> torch.Tensor:
    """`(N,)` step in the prediction order of every token's cluster, for one `(C,)` order of cluster ids."""
    cluster_order = cluster_order.reshape(-1).cpu()
    step_of_cluster = torch.empty_like(cluster_order)
    step_of_cluster[cluster_order] = torch.arange(geometry.num_clusters)
    step = torch.empty(geometry.num_tokens, dtype=torch.long)
    step[geometry.cluster_token_index().reshape(-1)] = step_of_cluster.repeat_interleave(geometry.cluster_tokens)
    return step


@dataclass
class NextClusterPrediction:
    """One clip's pretraining pass, ready to draw: pixels in [0, 1] as `(T, H, W, C)` plus per-token bookkeeping."""

    target: torch.Tensor  # (T, H, W, C) the clip
    inputs: torch.Tensor  # (T, H, W, C) the clip with every token the encoder does not see set to grey
    prediction: torch.Tensor  # (T, H, W, C) un-normalized predictions; the step-0 cluster (never predicted) is grey
    step: torch.Tensor  # (N,) step in the prediction order of each token's cluster
    visible: torch.Tensor  # (N,) bool, encoder input tokens
    cluster_order: torch.Tensor  # (C,) cluster ids in prediction order
    geometry: ClusterGeometry
    tubelet_size: int
    patch_size: int
    loss: float


@torch.no_grad()
def predict_next_clusters(
    model: Any,
    pixel_values: torch.Tensor,
    cluster_order: torch.Tensor | None = None,
    order: str | None = None,
    seed: int = 0,
) -> NextClusterPrediction:
    """Run an `ARVideoForPretraining` (eval mode) on the first clip of `pixel_values` with a seeded order and mask
    (`cluster_order`, else `order`, else the config's `prediction_order`) and collect what the figures draw."""
    config, geometry = model.config, model.config.geometry
    if pixel_values.dim() == 4:
        pixel_values = pixel_values[None]
    parameter = next(model.parameters())
    pixel_values = pixel_values[:1].to(parameter.device, parameter.dtype)
    generator = torch.Generator().manual_seed(seed)
    if cluster_order is None:
        cluster_order = make_cluster_order(geometry, order or config.prediction_order, 1, generator=generator)
    cluster_order = cluster_order.reshape(1, -1)
    noise = torch.rand(1, geometry.num_tokens, generator=generator)
    was_training = model.training
    model.eval()
    try:
        outputs = model(pixel_values, cluster_order=cluster_order, noise=noise)
    finally:
        model.train(was_training)
    t, p = config.tubelet_size, pair(config.patch_size)[0]
    as_image = lambda clip: clip[0].permute(0, 2, 3, 1).clamp(0, 1).cpu()  # noqa: E731
    target = as_image(unpatchify(unnormalized_tubelets(pixel_values, config), tuple(geometry.grid), t, p))
    prediction = as_image(logits_to_pixels(outputs.logits, outputs.target_index, pixel_values, config))
    visible = torch.zeros(geometry.num_tokens, dtype=torch.bool)
    visible[outputs.input_index[0].cpu()] = True
    inputs = torch.where(_token_map(visible, geometry, t, p)[..., None], target, torch.full_like(target, GREY))
    order_cpu = outputs.cluster_order[0].cpu()
    return NextClusterPrediction(
        target=target,
        inputs=inputs,
        prediction=prediction,
        step=token_steps(geometry, order_cpu),
        visible=visible,
        cluster_order=order_cpu,
        geometry=geometry,
        tubelet_size=t,
        patch_size=p,
        loss=float(outputs.loss),
    )


# ------------------------------------------------------------------------------------------ prediction figures
def _draw_clusters(ax: Any, step_slice: np.ndarray, geometry: ClusterGeometry, scale: float, labels: bool,
                   color: str = "white") -> None:
    """Cluster borders and each cluster's step number on one `(H', W')` time slice drawn at `scale` px per token."""
    (_, kh, kw), (_, bh, bw) = geometry.cluster_size, geometry.blocks
    for i in range(1, bh):
        ax.axhline(i * kh * scale - 0.5, color=color, linewidth=0.8)
    for j in range(1, bw):
        ax.axvline(j * kw * scale - 0.5, color=color, linewidth=0.8)
    if not labels or bh * bw > 64:  # token-level clusters: a number per token would be unreadable
        return
    size = max(5.0, min(14.0, 60.0 / max(bh, bw)))
    for i in range(bh):
        for j in range(bw):
            ax.text((j + 0.5) * kw * scale - 0.5, (i + 0.5) * kh * scale - 0.5, str(int(step_slice[i * kh, j * kw])),
                    ha="center", va="center", color="white", fontsize=size, fontweight="bold",
                    path_effects=_outlined())


def plot_prediction_grid(
    result: NextClusterPrediction,
    path: PathLike,
    frame_in_tubelet: int = 0,
    panel_size: float = 1.6,
    dpi: int = 100,
    figsize: tuple[float, float] | None = None,
) -> Path:
    """Rows input (masked and last-cluster tokens grey) / target / prediction, one column per tubelet (frame
    `frame_in_tubelet` of each pair), cluster borders and every cluster's step in the order drawn on each panel."""
    geometry, t, p = result.geometry, result.tubelet_size, result.patch_size
    columns = geometry.grid[0]
    figsize = figsize or (panel_size * columns + 0.8, panel_size * 3 + 1.1)
    figure = _new_figure(figsize, dpi)
    steps = result.step.reshape(geometry.grid).numpy()
    rows = (("input", result.inputs), ("target", result.target), ("prediction", result.prediction))
    axes = figure.subplots(3, columns, squeeze=False)
    for r, (name, clip) in enumerate(rows):
        for c in range(columns):
            ax = axes[r][c]
            ax.imshow(clip[c * t + frame_in_tubelet].numpy(), interpolation="nearest")
            _draw_clusters(ax, steps[c], geometry, p, labels=True)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frames {c * t}-{c * t + t - 1}", fontsize=8)
            if c == 0:
                ax.set_ylabel(name, fontsize=10)
    kt, kh, kw = geometry.cluster_size
    title = _wrap(
        f"Next-cluster prediction, {kt}x{kh}x{kw} clusters; numbers = step in the prediction order (loss "
        f"{result.loss:.3f}).\nGrey: in the input, not seen by the encoder (masked, or in the last cluster); in the "
        "prediction, step 0 (never predicted). Predictions are un-normalized with the true tubelet mean/std.",
        figsize[0], 8,
    )
    figure.suptitle(title, fontsize=8, y=1 - 0.05 / figsize[1], va="top")
    top = 0.3 + 0.14 * (title.count("\n") + 1)
    figure.subplots_adjust(left=0.6 / figsize[0], right=1 - 0.2 / figsize[0], bottom=0.1 / figsize[1],
                           top=1 - top / figsize[1], wspace=0.05, hspace=0.08)
    return _save(figure, path)


def animate_prediction_order(
    result: NextClusterPrediction,
    path: PathLike,
    frame_in_tubelet: int = 0,
    panel_size: float = 1.4,
    dpi: int = 80,
    step_ms: int = 600,
) -> Path:
    """GIF of the prediction order filling in the clip: frame k shows the visible context of step 0 and the
    predictions of steps 1..k (top row) against the clip (bottom row), the cluster of step k boxed in red."""
    geometry, t, p = result.geometry, result.tubelet_size, result.patch_size
    (kt, kh, kw), columns = geometry.cluster_size, geometry.grid[0]
    step_pixels = _token_map(result.step, geometry, t, p)[..., None]  # (T, H, W, 1)
    first = torch.where(step_pixels == 0, result.inputs, result.prediction)
    grey = torch.full_like(result.target, GREY)
    figsize = (panel_size * columns + 0.8, panel_size * 2 + 0.6)
    figure = _new_figure(figsize, dpi)  # one figure, its images and box updated per step
    axes = figure.subplots(2, columns, squeeze=False)
    figure.subplots_adjust(left=0.5 / figsize[0], right=1 - 0.1 / figsize[0], bottom=0.05 / figsize[1],
                           top=1 - 0.45 / figsize[1], wspace=0.05, hspace=0.05)
    filled = []
    for r, clip in enumerate((grey, result.target)):
        for c in range(columns):
            image = axes[r][c].imshow(clip[c * t + frame_in_tubelet].numpy(), interpolation="nearest")
            axes[r][c].set_xticks([])
            axes[r][c].set_yticks([])
            if r == 0:
                filled.append(image)
        axes[r][0].set_ylabel(("filled in", "clip")[r], fontsize=8)
    boxes: list[Rectangle] = []
    title = figure.suptitle("", fontsize=8)
    frames: list[Image.Image] = []
    for k in range(geometry.num_clusters):
        canvas = torch.where(step_pixels <= k, first, grey)
        cluster = int(result.cluster_order[k])
        bt, bh, bw = (int(i) for i in np.unravel_index(cluster, geometry.blocks))
        for c, image in enumerate(filled):
            image.set_data(canvas[c * t + frame_in_tubelet].numpy())
        for box in boxes:
            box.remove()
        boxes = [  # the cluster spans the kt tubelets of its time block
            axes[0][bt * kt + j].add_patch(Rectangle((bw * kw * p - 0.5, bh * kh * p - 0.5), kw * p, kh * p,
                                                     fill=False, edgecolor="red", linewidth=2))
            for j in range(kt)
        ]
        title.set_text(f"step {k}/{geometry.num_clusters - 1}: cluster {cluster} (block t{bt} h{bh} w{bw})"
                       + ("  context, not predicted" if k == 0 else ""))
        frames.append(Image.fromarray(_render(figure)).convert("P", palette=Image.Palette.ADAPTIVE, colors=128))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    durations = [step_ms] * (len(frames) - 1) + [step_ms * 4]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0, optimize=True)
    return path


def plot_prediction_orders(
    path: PathLike,
    geometry: ClusterGeometry = VIT_B_GEOMETRY,
    orders: Sequence[str] = ORDERS,
    seed: int = 0,
    panel_size: float = 1.25,
    dpi: int = 100,
) -> Path:
    """The prediction orders on the token grid: one row per order, one panel per time slice (a tubelet = frame pair),
    each cluster colored and numbered by its step; dots mark the tokens the encoder sees (mask ratio applied inside
    every cluster, none in the last cluster). Defaults to ViT-B's 8x14x14 tokens in 2x7x7 clusters."""
    (gt, gh, gw), (kt, kh, kw) = geometry.grid, geometry.cluster_size
    num_clusters, num_blocks_t = geometry.num_clusters, geometry.blocks[0]
    gap, block_gap, label_w, row_gap = 0.06, 0.3, 0.45, 0.3
    panel_h = panel_size * gh / max(gh, gw)
    panel_w = panel_size * gw / max(gh, gw)
    width = label_w + gt * panel_w + (gt - num_blocks_t) * gap + (num_blocks_t - 1) * block_gap + 0.3
    title = _wrap(
        f"{kt}x{kh}x{kw} clusters on a {gt}x{gh}x{gw} token grid (T'xH'xW', one panel per tubelet = frame pair): "
        f"C={num_clusters} clusters of S={geometry.cluster_tokens} tokens. Color and number = step in the prediction "
        f"order.\nDots = the V={geometry.num_visible} tokens per cluster the encoder sees "
        f"(mask ratio {geometry.mask_ratio:g}); the last cluster in the order is never an input. "
        "Random: a fresh permutation per clip.",
        width, 8,
    )
    title_h = 0.35 + 0.14 * (title.count("\n") + 1)
    height = title_h + len(orders) * panel_h + (len(orders) - 1) * row_gap + 0.1
    width, height = math.ceil(width * 4) / 4, math.ceil(height * 4) / 4  # whole quarter inches: exact pixel sizes
    figure = _new_figure((width, height), dpi)
    cmap = ListedColormap(_step_colors(num_clusters))
    generator = torch.Generator().manual_seed(seed)
    cluster_index = geometry.cluster_token_index()
    edges = [[(x - 0.5, -0.5), (x - 0.5, gh - 0.5)] for x in range(1, gw)]
    edges += [[(-0.5, y - 0.5), (gw - 0.5, y - 0.5)] for y in range(1, gh)]
    token_lines = lambda: LineCollection(edges, colors="white", alpha=0.25, linewidths=0.4)  # noqa: E731
    for row, order in enumerate(orders):
        cluster_order = make_cluster_order(geometry, order, 1, generator=generator)[0]
        step = token_steps(geometry, cluster_order)
        noise = torch.rand(geometry.num_tokens, generator=generator)
        keep = noise[cluster_index].argsort(dim=-1)[:, : geometry.num_visible]
        visible = torch.zeros(geometry.num_tokens, dtype=torch.bool)
        visible[cluster_index.gather(1, keep)[cluster_order[:-1]].reshape(-1)] = True
        steps, visible_grid = step.reshape(geometry.grid).numpy(), visible.reshape(geometry.grid).numpy()
        bottom = height - title_h - (row + 1) * panel_h - row * row_gap
        x = label_w
        for slice_t in range(gt):
            ax = figure.add_axes((x / width, bottom / height, panel_w / width, panel_h / height))
            ax.imshow(steps[slice_t], cmap=cmap, vmin=-0.5, vmax=num_clusters - 0.5, interpolation="nearest")
            ys, xs = np.nonzero(visible_grid[slice_t])
            ax.scatter(xs, ys, s=max(1.0, 80.0 / max(gh, gw)), c="black", marker="o", linewidths=0)
            ax.add_collection(token_lines(), autolim=False)
            _draw_clusters(ax, steps[slice_t], geometry, 1.0, labels=True)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"t'={slice_t}", fontsize=7)
            if slice_t == 0:
                ax.set_ylabel(order.replace("_", "-"), fontsize=9)
            x += panel_w + (block_gap if (slice_t + 1) % kt == 0 else gap)
    figure.suptitle(title, fontsize=8, y=1 - 0.1 / height, va="top")
    return _save(figure, path)


def _step_colors(n: int) -> np.ndarray:
    """`n` light-to-dark colors (viridis, lightened) so black dots and white numbers stay readable."""
    colors = colormaps["viridis"](np.linspace(0.15, 0.95, max(n, 2)))[:n, :3]
    return 0.25 + 0.75 * colors


# ------------------------------------------------------------------------------------------------ attention rank
def numerical_rank(matrix: torch.Tensor, rtol: float = DEFAULT_RANK_RTOL) -> torch.Tensor:
    """Numerical rank of `(..., M, N)` matrices: singular values above `rtol` times the largest one, in float64
    (the same count as `torch.linalg.matrix_rank(matrix, rtol=rtol)`)."""
    singular = torch.linalg.svdvals(matrix.double())
    return (singular > rtol * singular.amax(dim=-1, keepdim=True)).sum(dim=-1)


class _RankAccumulator:
    """Per-layer rank over clips: of the head-and-clip mean attention (`matrix`), or the mean per-head rank (`rank`)."""

    def __init__(self, rtol: float, average: Literal["matrix", "rank"]) -> None:
        if average not in ("matrix", "rank"):
            raise ValueError(f"average must be 'matrix' or 'rank', got {average!r}")
        self.rtol, self.average = rtol, average
        self.sums: list[torch.Tensor] = []
        self.counts: list[int] = []

    def add(self, attentions: Sequence[torch.Tensor]) -> None:
        """Fold in one forward pass: a `(B, heads, L, L)` attention tensor per layer."""
        if not self.sums:
            self.sums, self.counts = [torch.zeros((), dtype=torch.float64)] * len(attentions), [0] * len(attentions)
        for i, attention in enumerate(attentions):
            if self.average == "matrix":
                self.sums[i] = self.sums[i] + attention.double().mean(dim=1).sum(dim=0)
                self.counts[i] += attention.shape[0]
            else:
                ranks = numerical_rank(attention, self.rtol)
                self.sums[i] = self.sums[i] + ranks.sum().double()
                self.counts[i] += ranks.numel()

    def ranks(self) -> list[float]:
        if self.average == "matrix":
            return [float(numerical_rank(s / n, self.rtol)) for s, n in zip(self.sums, self.counts, strict=True)]
        return [float(s / n) for s, n in zip(self.sums, self.counts, strict=True)]


def layer_attention_ranks(
    attentions: Sequence[torch.Tensor], rtol: float = DEFAULT_RANK_RTOL, average: Literal["matrix", "rank"] = "matrix"
) -> list[float]:
    """Rank per layer from `output_attentions` (a `(B, heads, L, L)` tensor per layer): by default the numerical rank
    of the attention matrix averaged over heads and clips; `average="rank"` averages the per-head, per-clip ranks."""
    accumulator = _RankAccumulator(rtol, average)
    accumulator.add(attentions)
    return accumulator.ranks()


def encoder_of(model: Any) -> Any:
    """The bidirectional ViT encoder of `model`: an ARVideo/VideoMAE model object (heads are stripped: `.arvideo`,
    `.videomae`), or a checkpoint folder loaded as an `ARVideoModel` by `arvideo_hf.interop.load_encoder` (a VideoMAE
    folder is imported with identical weights)."""
    if isinstance(model, (str, os.PathLike)):
        return load_encoder(model)
    for name in ("arvideo", "videomae"):
        if hasattr(model, name) and isinstance(getattr(model, name), torch.nn.Module):
            return getattr(model, name)
    return model


@torch.no_grad()
def attention_ranks(
    model: Any,
    clips: torch.Tensor | Sequence[torch.Tensor],
    rtol: float = DEFAULT_RANK_RTOL,
    average: Literal["matrix", "rank"] = "matrix",
) -> list[float]:
    """Attention rank per layer (paper Figure 3) of an ARVideo or VideoMAE encoder (object or folder) with full
    bidirectional attention over all tokens, one clip at a time (eager attention, `output_attentions=True`)."""
    encoder = encoder_of(model)
    clip_list = [c if c.dim() == 5 else c[None] for c in (clips if isinstance(clips, Sequence) else [clips])]
    previous = encoder.config._attn_implementation
    if previous != "eager":
        encoder.set_attn_implementation("eager")
    was_training = encoder.training
    encoder.eval()
    accumulator = _RankAccumulator(rtol, average)
    parameter = next(encoder.parameters())
    try:
        for batch in clip_list:
            for clip in batch.split(1):
                outputs = encoder(clip.to(parameter.device, parameter.dtype), output_attentions=True)
                if not outputs.attentions:
                    raise RuntimeError(f"{type(encoder).__name__} returned no attentions with output_attentions=True")
                accumulator.add([a.float().cpu() for a in outputs.attentions])
    finally:
        encoder.train(was_training)
        if previous != "eager":
            encoder.set_attn_implementation(previous)
    return accumulator.ranks()


def plot_attention_ranks(
    ranks: Mapping[str, Sequence[float]],
    path: PathLike,
    rtol: float = DEFAULT_RANK_RTOL,
    num_tokens: int | None = None,
    average: str = "matrix",
    figsize: tuple[float, float] = (6.0, 4.0),
    dpi: int = 100,
) -> Path:
    """One line per model of attention rank against layer (paper Figure 3), the tolerance stated on the axis."""
    figure = _new_figure(figsize, dpi)
    ax = figure.add_subplot(1, 1, 1)
    for (name, values), marker in zip(ranks.items(), "osD^v<>", strict=False):
        ax.plot(range(1, len(values) + 1), list(values), marker=marker, label=name)
    what = "rank of the head-and-clip mean attention" if average == "matrix" else "mean per-head attention rank"
    ax.set_xlabel("layer")
    ax.set_ylabel(f"{what}\n(singular values > {rtol:g} x largest)", fontsize=8)
    title = "Attention rank per layer, full attention over all tokens"
    ax.set_title(title + (f" (N={num_tokens})" if num_tokens else ""), fontsize=9)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, path)


def _line_styles(count: int) -> list[tuple[Any, str]]:
    """`count` distinct (color, marker) pairs: tab10's colors with a new marker for every ten lines, so a figure with
    more than ten encoders still tells each one apart (and none is dropped)."""
    markers = ("o", "s", "^", "D", "v", "P", "X", "*")
    colors = colormaps["tab10"].colors
    return [(colors[i % len(colors)], markers[(i // len(colors)) % len(markers)]) for i in range(count)]


def plot_layer_probes(
    results: Mapping[str, Mapping[str, Sequence[float]]],
    path: PathLike,
    chance: float | None = None,
    title: str | None = None,
    layers: Sequence[int] | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = 100,
) -> Path:
    """Probe top-1 against encoder layer (0 = the tubelet embedding; `layers`: the hidden-state index of each score,
    default 0, 1, ...): one panel per probe kind (`attentive`, `linear`), one line per encoder. `results` is
    `{encoder: {kind: [top-1 per layer]}}`; where an encoder also has `<kind>_train`, the probe's own training top-1
    is drawn dashed (a probe that cannot fit its training set reads features that do not hold the label)."""
    kinds = [kind for kind in ("attentive", "linear") if any(kind in row for row in results.values())]
    if not kinds:
        raise ValueError("results hold no 'attentive' or 'linear' probe scores")
    legend_height = 0.2 * (len(results) + (chance is not None)) + 0.2  # below the panels: long encoder names
    figure = _new_figure(figsize or (4.2 * len(kinds), 3.4 + legend_height), dpi)
    for index, kind in enumerate(kinds):
        ax = figure.add_subplot(1, len(kinds), index + 1)
        drawn: set[int] = set()
        for (name, row), (color, marker) in zip(results.items(), _line_styles(len(results)), strict=True):
            if kind not in row:
                continue
            xs = list(layers) if layers is not None else list(range(len(row[kind])))
            ax.plot(xs, list(row[kind]), marker=marker, color=color, label=name)
            if f"{kind}_train" in row:
                ax.plot(xs, list(row[f"{kind}_train"]), linestyle="--", color=color, alpha=0.5)
            drawn.update(xs)
        if chance is not None:
            ax.axhline(chance, color="grey", linestyle=":", label="chance")
        ax.set_xlabel("layer (0 = tubelet embedding)")
        ax.set_ylabel("top-1 (%)" + (" (dashed: probe's train)" if index == 0 else ""), fontsize=8)
        ax.set_title(f"{kind} probe", fontsize=9)
        ax.set_xticks(range(min(drawn, default=0), max(drawn, default=0) + 1))  # whole layers, a lone one too
        ax.grid(alpha=0.3)
        if index == 0:
            handles, labels = ax.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", fontsize=7, frameon=False)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout(rect=(0, legend_height / figure.get_figheight(), 1, 1))
    return _save(figure, path)


# ----------------------------------------------------------------------------------------------- training curves
_SUMMARY_KEYS = {"step", "epoch", "total_flos", "train_runtime", "train_samples_per_second",
                 "train_steps_per_second", "train_loss", "eval_runtime", "eval_samples_per_second",
                 "eval_steps_per_second"}
_METRIC_ORDER = ("loss", "lr", "clips_per_s", "grad_norm")


def _canonical(name: str) -> str:
    """One name per metric whatever the tracker: `train/learning_rate` and `learning_rate` become `lr`."""
    name = name[len("train/"):] if name.startswith("train/") else name
    name = name.replace("/", "_")
    return {"learning_rate": "lr"}.get(name, name)


def _curves_from_rows(rows: Iterable[tuple[float, str, float]]) -> Curves:
    collected: dict[str, list[tuple[float, float]]] = {}
    for step, name, value in rows:
        collected.setdefault(_canonical(name), []).append((step, value))
    curves = {}
    for name, points in collected.items():
        if _canonical(name) in _SUMMARY_KEYS or name in _SUMMARY_KEYS:
            continue
        points.sort(key=lambda point: point[0])
        curves[name] = (np.array([s for s, _ in points], dtype=np.float64), np.array([v for _, v in points]))
    return curves


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_metrics_jsonl(path: PathLike) -> Curves:
    """Curves from a JSON-lines log (one object per logged step, x = `step`, else `epoch`, else the record number); a
    torn last line is dropped, as on resume."""
    rows = []
    for number, record in enumerate(read_metrics(path)):
        x = record.get("step", record.get("epoch", number))
        rows.extend((float(x), key, float(value)) for key, value in record.items() if _numeric(value))
    return _curves_from_rows(rows)


def read_trainer_state(path: PathLike) -> Curves:
    """Curves from a transformers Trainer `trainer_state.json` (`log_history`, x = `step`)."""
    history = json.loads(Path(path).read_text()).get("log_history", [])
    rows = []
    for number, record in enumerate(history):
        x = record.get("step", number)
        rows.extend((float(x), key, float(value)) for key, value in record.items() if _numeric(value))
    return _curves_from_rows(rows)


def read_tensorboard(path: PathLike) -> Curves:
    """Scalar curves from tensorboard event files in `path` (a file, or a folder searched recursively), read
    offline with `EventAccumulator` (no tensorboard server)."""
    # Here, not at the top: tensorboard is optional for the figures and slow to import; only this reader needs it.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    path = Path(path)
    sources = [path] if path.is_file() else sorted({f.parent for f in path.rglob("events.out.tfevents.*")})
    rows = []
    for source in sources:
        accumulator = EventAccumulator(os.fspath(source), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags().get("scalars", []):
            rows.extend((float(event.step), tag, float(event.value)) for event in accumulator.Scalars(tag))
    return _curves_from_rows(rows)


def _latest_checkpoint_file(folder: Path, name: str) -> Path | None:
    candidates = [c / name for c in folder.glob("checkpoint-*") if (c / name).is_file()]
    number = lambda p: int(p.parent.name.rsplit("-", 1)[-1]) if p.parent.name.rsplit("-", 1)[-1].isdigit() else -1  # noqa: E731
    return max(candidates, key=number, default=None)


def read_training_logs(path: PathLike) -> tuple[Curves, str]:
    """Curves of one run and the tracker they came from. Tries, in order: `metrics.jsonl` (the pretraining script),
    `trainer_state.json` (transformers Trainer, top level or latest `checkpoint-*`), tensorboard event files."""
    path = Path(path)
    if path.is_file():
        if path.suffix == ".jsonl":
            return read_metrics_jsonl(path), "metrics.jsonl"
        if path.suffix == ".json":
            return read_trainer_state(path), "trainer_state.json"
        return read_tensorboard(path), "tensorboard"
    if not path.is_dir():
        raise FileNotFoundError(f"no training log at {path}")
    readers: list[tuple[str, Callable[[], Path | None], Callable[[Path], Curves]]] = [
        ("metrics.jsonl", lambda: next(iter(sorted(path.rglob("metrics.jsonl"))), None), read_metrics_jsonl),
        ("trainer_state.json",
         lambda: path / "trainer_state.json" if (path / "trainer_state.json").is_file()
         else _latest_checkpoint_file(path, "trainer_state.json"), read_trainer_state),
        ("tensorboard", lambda: path if any(path.rglob("events.out.tfevents.*")) else None, read_tensorboard),
    ]
    for source, find, read in readers:
        found = find()
        if found is not None:
            curves = read(found)
            if curves:
                return curves, source
    raise FileNotFoundError(f"{path}: no metrics.jsonl, trainer_state.json or tensorboard event files with scalars")


def plot_training_curves(
    runs: Mapping[str, Curves],
    path: PathLike,
    metrics: Sequence[str] | None = None,
    columns: int = 3,
    panel_size: tuple[float, float] = (4.0, 2.8),
    dpi: int = 100,
) -> Path:
    """One figure, one subplot per metric (loss, lr, clips/s, grad norm first, then any other), one line per run."""
    if metrics is None:
        found = {name for curves in runs.values() for name in curves}
        metrics = [m for m in _METRIC_ORDER if m in found] + sorted(found - set(_METRIC_ORDER))
    if not metrics:
        raise ValueError("no metrics to plot: the runs hold no numeric curves")
    columns = min(columns, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    figure = _new_figure((panel_size[0] * columns, panel_size[1] * rows), dpi)
    for i, metric in enumerate(metrics):
        ax = figure.add_subplot(rows, columns, i + 1)
        for label, curves in runs.items():
            if metric in curves:
                steps, values = curves[metric]
                ax.plot(steps, values, label=label, linewidth=1.2, marker="." if len(steps) < 30 else None)
        title = {"lr": "learning rate", "clips_per_s": "clips/s"}.get(metric, metric.replace("_", " "))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if metric == "lr":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        if len(runs) > 1:
            ax.legend(fontsize=7)
    figure.tight_layout()
    return _save(figure, path)

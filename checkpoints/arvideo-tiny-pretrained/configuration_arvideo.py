# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""ARVideo model configuration: VideoMAE's ViT fields plus clusters, prediction order, masking and decoder."""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Sequence
from typing import Any

from transformers.activations import ACT2CLS
from transformers.configuration_utils import PreTrainedConfig

from .clustering import ClusterGeometry, check_cluster_shape


# The clip normalization of every preset and of VideoMAE; the package's one definition (the data transforms, the image
# processor and the VideoMAE baseline import it from here, the file that ships with the model code).
IMAGENET_DEFAULT_MEAN = (0.485, 0.456, 0.406)
IMAGENET_DEFAULT_STD = (0.229, 0.224, 0.225)
PREDICTION_ORDERS = ("random", "spatial_first", "temporal_first", "raster")
PRETRAINING_TARGETS = ("pixels", "frame_difference", "pixels_and_frame_difference")
HEAD_NORMS = ("layer", "batch")

# Named sizes: VideoMAE's ViTs, decoder 4 x 512 (docs/method.md, Cross-attention decoder). "tiny" is the small-scale
# model that learns motion on small synthetic clips in CPU minutes (16x32x32 clips, 8x4x4 tokens; the measurements
# behind every choice are in reproduce/small_scale/RESULTS.md and reproduce/hard_set/RESULTS.md). It regresses the
# pixels and their frame differences, the pixels scaled by 0.1 and falling by a cosine to 0 over the first 800 steps,
# raw (not per-tubelet normalized), in 8x2x2 clusters (each spans the whole clip in time, so the encoder predicts the
# next patch of space, never a future frame from the past alone) with self-attention in the decoder. On full-contrast
# natural scenes the pixel target alone learns the scene and loses the motion (hard set, attentive probe 14.8 against
# random features' 28.4); with a constant pixel term the motion is kept for a short pretraining only (2800 steps: 16.8
# against random features' 24.3); frame differences alone keep it at every budget but finetune less reliably on the
# easy set. The decaying pixel term keeps both: hard-set lead over random features +15.2 at 400 steps (5 seeds), +16.7
# at 1600, +21.9 at 2800, +16.4 at 4000; easy 10%-label finetune +8.9 over random init at 400 steps (5 seeds; hard set
# sections 4.10 and 4.11). The paper-scale presets keep the paper's objective (norm-pix pixels, 2x7x7 clusters).
ARVIDEO_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        image_size=32, patch_size=8, num_frames=16, tubelet_size=2,
        hidden_size=96, num_hidden_layers=3, num_attention_heads=4, intermediate_size=384,
        cluster_size=[8, 2, 2], mask_ratio=0.8, norm_pix_loss=False,
        pretraining_target="pixels_and_frame_difference", pixel_target_scale=0.1, pixel_target_decay_steps=800,
        decoder_hidden_size=96, decoder_num_hidden_layers=2, decoder_num_attention_heads=4,
        decoder_intermediate_size=384, decoder_self_attention=True,
    ),
    "small": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
    "huge": dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, intermediate_size=5120),
}
# Integer fields that must be >= 1; the image/patch sizes (an int or a pair) are checked as well.
POSITIVE_INT_FIELDS = ("num_channels", "num_frames", "tubelet_size", "hidden_size", "num_hidden_layers",
                       "num_attention_heads", "intermediate_size", "decoder_hidden_size", "decoder_num_hidden_layers",
                       "decoder_num_attention_heads", "decoder_intermediate_size")
MAX_TOKENS = 2**20  # tokens per clip: far beyond any real clip (ViT-B, 16x224x224: 1568), far below memory errors
_PRESET_ALIASES = {"vit-s": "small", "vit-b": "base", "vit-l": "large", "vit-h": "huge",
                   "vits": "small", "vitb": "base", "vitl": "large", "vith": "huge", "demo": "tiny"}


def preset_name(name: str) -> str:
    """The canonical name of a model size (`vit-b` -> `base`, `demo` -> `tiny`); `ValueError` naming the choices."""
    key = _PRESET_ALIASES.get(name.lower(), name.lower())
    if key not in ARVIDEO_PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(ARVIDEO_PRESETS)} (or vit-s/b/l/h).")
    return key


def pair(value: int | Sequence[int]) -> tuple[int, int]:
    """`(height, width)` of an `image_size`/`patch_size`-style value: an int (square) or a pair; the one definition
    that the whole package uses (here because this file ships with the model code to the Hub)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise ValueError(f"Expected an int or a pair (height, width), got {value!r}.")
        return int(value[0]), int(value[1])
    return int(value), int(value)


class ARVideoConfig(PreTrainedConfig):
    r"""
    Configuration of an ARVideo model. `ARVideoConfig()` is the paper's setting (docs/method.md, Clusters): ViT-B on
    16x224x224 clips, 2x16x16 tubelets, 2x7x7 clusters in random order, 80% in-cluster masking, 4 x 512 decoder.

    Args:
        image_size, patch_size, num_channels, num_frames, tubelet_size, hidden_size, num_hidden_layers,
        num_attention_heads, intermediate_size, hidden_act, hidden_dropout_prob, attention_probs_dropout_prob,
        initializer_range, layer_norm_eps, use_mean_pooling:
            The ViT encoder, with VideoMAE's field names and meaning.
        head_norm (`str`, defaults to `"layer"`):
            The classifier's `fc_norm` over the mean-pooled tokens: `"layer"` (VideoMAE's LayerNorm) or `"batch"`
            (BatchNorm, as before MAE's linear probe: each channel standardized over the batch, running statistics
            at evaluation). Pretraining grows a vector shared by every token of every clip; LayerNorm keeps it, and
            then the head's input barely varies between clips; BatchNorm removes it.
        qkv_bias (`bool`, defaults to `True`):
            Bias on queries and values (keys have none), as in VideoMAE.
        drop_path_rate (`float`, defaults to 0.0):
            Stochastic depth rate of the encoder, linearly increasing over depth (finetuning uses 0.1).
        cluster_size (`list[int]`, defaults to `[2, 7, 7]`):
            Cluster shape `(K_T, K_H, K_W)` in tokens. `[1, 1, 1]` is the TokenGPT baseline.
        prediction_order (`str`, defaults to `"random"`):
            `random` (a fresh permutation per sample), `spatial_first`, `temporal_first` (or `raster`, which is
            spatial-first).
        mask_ratio (`float`, defaults to 0.8):
            Fraction of each cluster's tokens dropped from the encoder input.
        decoder_hidden_size, decoder_num_hidden_layers, decoder_num_attention_heads, decoder_intermediate_size:
            The cross-attention decoder used only for pretraining.
        decoder_self_attention (`bool`, defaults to `False`):
            Adds block-causal self-attention among decoder queries (paper Table 10 ablation).
        decoder_chunk_size (`int`, *optional*):
            Decode and score this many queries at a time with activation recomputation during training: same loss
            and gradients, a fraction of the decoder's activation memory, `logits` returned detached.
        norm_pix_loss (`bool`, defaults to `True`):
            Regress per-tubelet normalized pixels (VideoMAE's target) instead of raw pixels.
        pretraining_target (`str`, defaults to `"pixels"`):
            What the decoder regresses for each token of the next cluster: `"pixels"` (the paper's objective) or
            `"frame_difference"` (an opt-in motion target: each frame minus the frame before it, the first frame of a
            clip minus itself, cut into tubelets; a static scene gives zero targets, so the loss is spent on what
            moves), or `"pixels_and_frame_difference"` (both, side by side as 2 x num_channels target channels: the
            scene and what moves). `norm_pix_loss` then normalizes each target channel per tubelet.
        pixel_target_scale (`float`, defaults to 1.0):
            Multiplies the pixel channels of the `"pixels_and_frame_difference"` target (after `norm_pix_loss`), so
            their share of the squared error scales by its square: below 1, the motion channels weigh more.
        pixel_target_decay_steps (`int`, defaults to 0):
            With the combined target, the pixel channels' scale falls by a cosine from `pixel_target_scale` to 0 over
            this many optimizer steps (`pixel_target_scale_at`; the pretraining loop passes its step), then the
            target is the frame differences alone. 0 keeps the scale constant. Other targets ignore it, as they
            ignore `pixel_target_scale`.
        image_mean, image_std (`list[float]`):
            The processor's normalization, undone to build pixel targets.

    Example:

    ```python
    >>> from arvideo_hf import ARVideoConfig, ARVideoForPretraining
    >>> config = ARVideoConfig.from_preset("tiny")
    >>> model = ARVideoForPretraining(config)
    ```"""

    model_type = "arvideo"

    image_size: int | list[int] | tuple[int, int] = 224
    patch_size: int | list[int] | tuple[int, int] = 16
    num_channels: int = 3
    num_frames: int = 16
    tubelet_size: int = 2
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-6
    qkv_bias: bool = True
    drop_path_rate: float = 0.0
    use_mean_pooling: bool = True
    head_norm: str = "layer"
    cluster_size: list[int] | tuple[int, int, int] = (2, 7, 7)
    prediction_order: str = "random"
    mask_ratio: float = 0.8
    decoder_hidden_size: int = 512
    decoder_num_hidden_layers: int = 4
    decoder_num_attention_heads: int = 8
    decoder_intermediate_size: int = 2048
    decoder_self_attention: bool = False
    decoder_chunk_size: int | None = None
    norm_pix_loss: bool = True
    pretraining_target: str = "pixels"
    pixel_target_scale: float = 1.0
    pixel_target_decay_steps: int = 0
    image_mean: list[float] | tuple[float, ...] = IMAGENET_DEFAULT_MEAN
    image_std: list[float] | tuple[float, ...] = IMAGENET_DEFAULT_STD

    def __post_init__(self, **kwargs):
        if "qv_bias" in kwargs:  # VideoMAE's name for the same switch
            self.qkv_bias = kwargs.pop("qv_bias")
        self.cluster_size = [int(k) for k in self.cluster_size]
        self.image_mean = [float(m) for m in self.image_mean]
        self.image_std = [float(s) for s in self.image_std]
        if isinstance(self.image_size, tuple):
            self.image_size = list(self.image_size)
        if isinstance(self.patch_size, tuple):
            self.patch_size = list(self.patch_size)
        self.check_fields()  # before anything computes with them
        super().__post_init__(**kwargs)
        self.check_geometry()

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> ARVideoConfig:
        """Build a config from a named size (`tiny`, `small`/`vit-s`, `base`, `large`, `huge`) plus overrides."""
        return cls(**{**copy.deepcopy(ARVIDEO_PRESETS[preset_name(name)]), **overrides})

    # ----------------------------------------------------------------------------------------------- geometry
    @property
    def token_grid(self) -> tuple[int, int, int]:
        """Tokens along (time, height, width): (T/t, H/p, W/p)."""
        (height, width), (patch_h, patch_w) = pair(self.image_size), pair(self.patch_size)
        return self.num_frames // self.tubelet_size, height // patch_h, width // patch_w

    @property
    def num_tokens(self) -> int:
        """N: tokens in a clip, the length of the position table (any geometry; no clusters involved)."""
        time, height, width = self.token_grid
        return time * height * width

    @property
    def geometry(self) -> ClusterGeometry:
        """Token grid, cluster counts and visible tokens per cluster (see `clustering.ClusterGeometry`). Only
        pretraining needs clusters: raises `ValueError` naming the fix when they do not tile this clip geometry."""
        try:
            return ClusterGeometry.from_config(self)
        except ValueError as error:
            (patch_h, patch_w), (k_t, k_h, k_w) = pair(self.patch_size), self.cluster_size
            raise ValueError(
                f"{error} Pretraining needs clusters that tile the clip: num_frames a multiple of tubelet_size x K_T "
                f"= {self.tubelet_size * k_t} and image_size a multiple of patch_size x (K_H, K_W) = "
                f"({patch_h * k_h}, {patch_w * k_w}), with at least 2 clusters; or pass a cluster_size that divides "
                f"the token grid {tuple(self.token_grid)}. The encoder and the classifier run at any geometry."
            ) from None

    def pixel_target_scale_at(self, step: int) -> float:
        """The combined target's pixel scale at optimizer step `step`: `pixel_target_scale`, falling by a cosine to 0
        at `pixel_target_decay_steps` when that is set."""
        if not self.pixel_target_decay_steps:
            return self.pixel_target_scale
        progress = min(1.0, max(0, step) / self.pixel_target_decay_steps)
        return self.pixel_target_scale * 0.5 * (1.0 + math.cos(math.pi * progress))

    def check_fields(self) -> None:
        """Raise `ValueError` naming the field for a size or count that is not a positive integer, an unknown
        activation, a `layer_norm_eps` that is not a positive number, or dropout rates outside [0, 1)."""
        for name in POSITIVE_INT_FIELDS:
            _check_positive_int(name, getattr(self, name))
        for name in ("image_size", "patch_size"):
            value = getattr(self, name)
            values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
            if len(values) not in (1, 2):
                raise ValueError(f"{name} must be an int or a pair (height, width), got {value!r}.")
            for item in values:
                _check_positive_int(name, item)
        if not isinstance(self.hidden_act, str) or self.hidden_act not in ACT2CLS:
            raise ValueError(f"hidden_act {self.hidden_act!r} is not an activation transformers knows; use one of "
                             f"{sorted(ACT2CLS)[:12]} ... (e.g. 'gelu').")
        eps = self.layer_norm_eps
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not math.isfinite(eps) or eps <= 0:
            raise ValueError(f"layer_norm_eps must be a positive number (e.g. 1e-6), got {eps!r}.")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            rate = getattr(self, name)
            if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 <= rate < 1.0:
                raise ValueError(f"{name} must be a number in [0, 1), got {rate!r}.")
        (height, width), (patch_h, patch_w) = pair(self.image_size), pair(self.patch_size)
        tokens = (self.num_frames // self.tubelet_size) * (height // patch_h) * (width // patch_w)
        if tokens > MAX_TOKENS:
            raise ValueError(f"image_size {height}x{width}, patch_size {patch_h}x{patch_w} and num_frames "
                             f"{self.num_frames} give {tokens} tokens per clip, more than {MAX_TOKENS}; check "
                             "image_size and num_frames (ViT-B on 16x224x224 clips has 1568).")

    def check_geometry(self) -> None:
        """Raise `ValueError` naming the fix for every combination the model cannot run."""
        (height, width), (patch_h, patch_w) = pair(self.image_size), pair(self.patch_size)
        if min(height, width, patch_h, patch_w, self.num_frames, self.tubelet_size) <= 0:
            raise ValueError("image_size, patch_size, num_frames and tubelet_size must all be positive.")
        if height % patch_h or width % patch_w:
            raise ValueError(
                f"image_size {height}x{width} is not divisible by patch_size {patch_h}x{patch_w}; "
                f"use an image_size that is a multiple of the patch size (e.g. {height // patch_h * patch_h})."
            )
        if self.num_frames % self.tubelet_size:
            raise ValueError(
                f"num_frames={self.num_frames} is not divisible by tubelet_size={self.tubelet_size}; "
                f"use num_frames={self.num_frames // self.tubelet_size * self.tubelet_size} or another tubelet size."
            )
        # Clusters matter to pretraining only, so a grid they do not tile is refused where a model or collator needs
        # `geometry` (an encoder or classifier loaded at another clip size must keep a config that reloads); their
        # own shape and the mask ratio are checked here.
        check_cluster_shape(self.cluster_size, self.mask_ratio)
        for name, width, heads in (
            ("", self.hidden_size, self.num_attention_heads),
            ("decoder_", self.decoder_hidden_size, self.decoder_num_attention_heads),
        ):
            if heads <= 0 or width % heads:
                raise ValueError(
                    f"{name}hidden_size={width} is not divisible by {name}num_attention_heads={heads}; "
                    f"choose a head count that divides the width (e.g. {width // 64 or 1})."
                )
        if self.prediction_order not in PREDICTION_ORDERS:
            raise ValueError(f"prediction_order must be one of {PREDICTION_ORDERS}, got {self.prediction_order!r}.")
        if self.head_norm not in HEAD_NORMS:
            raise ValueError(f"head_norm must be one of {HEAD_NORMS}, got {self.head_norm!r}.")
        if self.head_norm == "batch" and not self.use_mean_pooling:
            raise ValueError("head_norm='batch' normalizes the mean-pooled tokens: it needs use_mean_pooling=True.")
        if self.pretraining_target not in PRETRAINING_TARGETS:
            raise ValueError(
                f"pretraining_target must be one of {PRETRAINING_TARGETS}, got {self.pretraining_target!r}."
            )
        if not (math.isfinite(self.pixel_target_scale) and self.pixel_target_scale > 0):
            raise ValueError(f"pixel_target_scale must be a positive finite number, got {self.pixel_target_scale!r}.")
        decay = self.pixel_target_decay_steps
        if not isinstance(decay, numbers.Integral) or isinstance(decay, bool) or decay < 0:
            raise ValueError(f"pixel_target_decay_steps must be an integer >= 0 (0: no decay), got {decay!r}.")
        if len(self.image_mean) != self.num_channels or len(self.image_std) != self.num_channels:
            raise ValueError(
                f"image_mean/image_std need one value per channel (num_channels={self.num_channels}), "
                f"got {len(self.image_mean)}/{len(self.image_std)}."
            )
        if self.decoder_chunk_size is not None and self.decoder_chunk_size < 1:
            raise ValueError(
                f"decoder_chunk_size must be a positive number of queries or None, got {self.decoder_chunk_size}."
            )
        if not 0.0 <= self.drop_path_rate < 1.0:
            raise ValueError(f"drop_path_rate must be in [0, 1), got {self.drop_path_rate}.")


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__}).")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}.")


__all__ = ["ARVideoConfig", "ARVIDEO_PRESETS", "IMAGENET_DEFAULT_MEAN", "IMAGENET_DEFAULT_STD", "pair", "preset_name"]

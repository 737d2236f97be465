# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""PyTorch ARVideo: autoregressive video pretraining over spatiotemporal token clusters (VideoMAE ViT backbone).

Self-contained on purpose (torch, transformers and sibling modules imported relatively) so that a Hub repo that
ships this file with `configuration_arvideo.py` and `clustering.py` loads with `trust_remote_code=True`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, ImageClassifierOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, PreTrainedModel
from transformers.utils import ModelOutput, logging
from transformers.utils.generic import can_return_tuple
from transformers.utils.output_capturing import capture_outputs

from .clustering import (
    ClusterGeometry,
    block_causal_mask,
    check_cluster_order,
    make_cluster_order,
    noise_from_bool_masked_pos,
    plan_sequence,
)
from .configuration_arvideo import ARVideoConfig, pair


logger = logging.get_logger(__name__)


@dataclass
class ARVideoForPreTrainingOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`):
        Mean squared error over all `(C-1)*S` next-cluster predictions.
    logits (`torch.FloatTensor` of shape `(batch_size, (C-1)*S, tubelet_size*patch_size**2*num_channels)`):
        Predicted pixels of every token of the clusters at steps 1..C-1, `logits[:, (i-1)*S:i*S]` being step i.
    targets (`torch.FloatTensor`, same shape as `logits`):
        The regression targets (per-tubelet normalized pixels when `norm_pix_loss`).
    cluster_order (`torch.LongTensor` of shape `(batch_size, C)`):
        The cluster ids in the prediction order used for each sample.
    input_index (`torch.LongTensor` of shape `(batch_size, (C-1)*V)`):
        Flat token index (into the `(t, h, w)` grid) of every encoder input token.
    target_index (`torch.LongTensor` of shape `(batch_size, (C-1)*S)`):
        Flat token index of every prediction in `logits`.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    targets: torch.FloatTensor | None = None
    cluster_order: torch.LongTensor | None = None
    input_index: torch.LongTensor | None = None
    target_index: torch.LongTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


def get_sinusoid_encoding_table(num_positions: int, dim: int) -> torch.Tensor:
    """VideoMAE's fixed 1-D sinusoid table `(num_positions, dim)`, computed in float64 like the original."""
    position = torch.arange(num_positions, dtype=torch.float64).unsqueeze(1)
    exponent = 2 * torch.div(torch.arange(dim), 2, rounding_mode="floor").to(torch.float64) / dim
    angles = position / torch.pow(10000.0, exponent)
    table = torch.empty_like(angles)
    table[:, 0::2], table[:, 1::2] = torch.sin(angles[:, 0::2]), torch.cos(angles[:, 1::2])
    return table.float()


def patchify(frames: torch.Tensor, tubelet_size: int, patch_size: int) -> torch.Tensor:
    """`(B, T, C, H, W)` -> `(B, N, t*p*p, C)` tubelets in flat `(t, h, w)` token order (VideoMAE's layout)."""
    batch, time, channels, height, width = frames.shape
    t, p = tubelet_size, patch_size
    frames = frames.view(batch, time // t, t, channels, height // p, p, width // p, p)
    frames = frames.permute(0, 1, 4, 6, 2, 5, 7, 3)
    return frames.reshape(batch, (time // t) * (height // p) * (width // p), t * p * p, channels)


def unpatchify(tubelets: torch.Tensor, grid: tuple[int, int, int], tubelet_size: int, patch_size: int) -> torch.Tensor:
    """Inverse of `patchify`: `(B, N, t*p*p, C)` (or flattened last dims) -> `(B, T, C, H, W)`."""
    batch, (gt, gh, gw), t, p = tubelets.shape[0], grid, tubelet_size, patch_size
    frames = tubelets.reshape(batch, gt, gh, gw, t, p, p, -1).permute(0, 1, 4, 7, 2, 5, 3, 6)
    return frames.reshape(batch, gt * t, -1, gh * p, gw * p)


def unnormalized_tubelets(pixel_values: torch.Tensor, config: Any, target: str = "pixels") -> torch.Tensor:
    """Undo the processor's normalization (`config.image_mean`/`image_std`) and cut tubelets `(B, N, t*p*p, C)`:
    the pixels that the pretraining targets are made of (`target="frame_difference"`: each frame minus the one
    before it, the first frame minus itself; `"pixels_and_frame_difference"`: both, as 2C channels)."""
    mean = torch.tensor(config.image_mean, device=pixel_values.device, dtype=torch.float32)[:, None, None]
    std = torch.tensor(config.image_std, device=pixel_values.device, dtype=torch.float32)[:, None, None]
    frames = pixel_values.float() * std + mean
    difference = frames - torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = {"pixels": frames, "frame_difference": difference,
              "pixels_and_frame_difference": torch.cat([frames, difference], dim=2)}[target]
    return patchify(frames, config.tubelet_size, pair(config.patch_size)[0])


NORM_PIX_EPS = 1e-6  # VideoMAE's norm_pix_loss epsilon


def tubelet_mean_scale(tubelets: torch.Tensor, eps: float = NORM_PIX_EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-tubelet, per-channel mean and scale (unbiased std + `eps`) over the t*p*p pixels of `(B, N, t*p*p, C)`
    tubelets: VideoMAE's norm_pix_loss target is `(tubelets - mean) / scale`."""
    return tubelets.mean(dim=-2, keepdim=True), tubelets.var(dim=-2, unbiased=True, keepdim=True).sqrt() + eps


class ARVideoPatchEmbeddings(nn.Module):
    """Tubelet embedding: `Conv3d(C, D, kernel=stride=(t, p, p))` over `(B, T, C, H, W)` clips."""

    def __init__(self, config: ARVideoConfig):
        super().__init__()
        self.image_size, self.patch_size = pair(config.image_size), pair(config.patch_size)
        self.num_frames, self.tubelet_size = config.num_frames, config.tubelet_size
        self.num_channels = config.num_channels
        self.num_patches = config.num_tokens
        self.projection = nn.Conv3d(
            config.num_channels,
            config.hidden_size,
            kernel_size=(config.tubelet_size, *self.patch_size),
            stride=(config.tubelet_size, *self.patch_size),
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        check_pixel_values(pixel_values, self.num_frames, self.num_channels, self.image_size)
        return self.projection(pixel_values.permute(0, 2, 1, 3, 4)).flatten(2).transpose(1, 2)


def check_pixel_values(
    pixel_values: torch.Tensor, num_frames: int, num_channels: int, image_size: tuple[int, int]
) -> None:
    """Raise a `ValueError` that names the fix when a clip is not `(B, num_frames, C, H, W)`."""
    expected = f"(batch, {num_frames}, {num_channels}, {image_size[0]}, {image_size[1]})"
    if pixel_values.dim() != 5:
        hint = " Add a batch dimension with pixel_values[None]." if pixel_values.dim() == 4 else ""
        raise ValueError(f"pixel_values must be 5-D {expected}, got shape {tuple(pixel_values.shape)}.{hint}")
    _, time, channels, height, width = pixel_values.shape
    if channels != num_channels and time == num_channels:
        raise ValueError(
            f"pixel_values looks channels-first {tuple(pixel_values.shape)}; ARVideo takes (B, T, C, H, W) like "
            "VideoMAE: use pixel_values.permute(0, 2, 1, 3, 4)."
        )
    if channels != num_channels:
        raise ValueError(f"pixel_values has {channels} channels, the config expects {num_channels}: shape {expected}.")
    if time != num_frames:
        raise ValueError(
            f"pixel_values has {time} frames, the model was built for num_frames={num_frames}; sample {num_frames} "
            "frames per clip (or build the model with a matching num_frames)."
        )
    if (height, width) != tuple(image_size):
        raise ValueError(
            f"Input size {height}x{width} does not match the model ({image_size[0]}x{image_size[1]}); resize or "
            "crop the clip with the model's image processor (for a model loaded at another image_size, "
            "arvideo_hf.processing.image_processor_for(model.config) makes it)."
        )


class ARVideoEmbeddings(nn.Module):
    """Tubelet embedding + fixed sinusoid positions, added before any gather (docs/method.md, Tokens and positions).
    The table is a function of the config's token count, never a weight: a checkpoint loaded at another `num_frames`
    or `image_size` gets the table a model built at that geometry has (docs/method.md, Clip geometry)."""

    def __init__(self, config: ARVideoConfig):
        super().__init__()
        self.patch_embeddings = ARVideoPatchEmbeddings(config)
        self.num_patches = self.patch_embeddings.num_patches
        # Non-persistent: never saved, refilled by `_init_weights` after meta-device loading.
        self.register_buffer(
            "position_embeddings", get_sinusoid_encoding_table(self.num_patches, config.hidden_size), persistent=False
        )

    def forward(
        self,
        pixel_values: torch.Tensor,
        token_index: torch.Tensor | None = None,
        bool_masked_pos: torch.BoolTensor | None = None,
    ) -> torch.Tensor:
        embeddings = self.patch_embeddings(pixel_values)
        embeddings = embeddings + self.position_embeddings.to(embeddings.dtype)
        if token_index is not None:
            embeddings = embeddings.gather(1, token_index.unsqueeze(-1).expand(-1, -1, embeddings.shape[-1]))
        elif bool_masked_pos is not None:
            counts = (~bool_masked_pos).sum(1)
            if (counts != counts[0]).any():
                raise ValueError(f"Every clip must keep the same number of visible tokens; got {counts.tolist()}.")
            embeddings = embeddings[~bool_masked_pos].reshape(embeddings.shape[0], -1, embeddings.shape[-1])
        return embeddings


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain softmax attention with an additive mask; returns `(B, L, heads, head_dim)` and the weights."""
    attn_weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = F.dropout(attn_weights, p=dropout, training=module.training)
    return torch.matmul(attn_weights, value).transpose(1, 2).contiguous(), attn_weights


class ARVideoSelfAttention(nn.Module):
    """Multi-head attention (VideoMAE's q/v bias, no k bias); attends to `key_value_states` when given (decoder)."""

    def __init__(self, config: ARVideoConfig, hidden_size: int | None = None, num_heads: int | None = None):
        super().__init__()
        self.config = config
        hidden_size = hidden_size or config.hidden_size
        self.num_attention_heads = num_heads or config.num_attention_heads
        self.attention_head_size = hidden_size // self.num_attention_heads
        self.scaling = self.attention_head_size**-0.5
        self.dropout_prob = config.attention_probs_dropout_prob
        self.is_causal = False
        self.query = nn.Linear(hidden_size, hidden_size, bias=config.qkv_bias)
        self.key = nn.Linear(hidden_size, hidden_size, bias=False)
        self.value = nn.Linear(hidden_size, hidden_size, bias=config.qkv_bias)
        for projection in (self.query, self.key, self.value):  # initialized as thirds of one fused qkv matrix
            projection.fused_qkv_part = True

    def project_key_value(self, key_value_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values `(B, heads, L, head_dim)`; the decoder computes them once per step and reuses them."""
        batch, kv_len = key_value_states.shape[:2]
        keys = self.key(key_value_states).view(batch, kv_len, -1, self.attention_head_size).transpose(1, 2)
        values = self.value(key_value_states).view(batch, kv_len, -1, self.attention_head_size).transpose(1, 2)
        return keys, values

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        key_value_states: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, q_len = hidden_states.shape[:2]
        queries = self.query(hidden_states).view(batch, q_len, -1, self.attention_head_size).transpose(1, 2)
        if isinstance(key_value_states, tuple):
            keys, values = key_value_states
        else:
            keys, values = self.project_key_value(hidden_states if key_value_states is None else key_value_states)
        if attention_mask is not None:
            attention_mask = attention_mask.to(queries.dtype)
        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        context, attn_weights = attention_interface(
            self,
            queries,
            keys,
            values,
            attention_mask,
            is_causal=False,
            scaling=self.scaling,
            dropout=0.0 if not self.training else self.dropout_prob,
        )
        return context.reshape(batch, q_len, -1), attn_weights


class ARVideoSelfOutput(nn.Module):
    """Attention output projection (the residual is added by the layer, after drop path)."""

    def __init__(self, config: ARVideoConfig, hidden_size: int | None = None):
        super().__init__()
        hidden_size = hidden_size or config.hidden_size
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden_states))


class ARVideoAttention(nn.Module):
    """Attention plus output projection; module names match VideoMAE so weights map one to one."""

    def __init__(self, config: ARVideoConfig, hidden_size: int | None = None, num_heads: int | None = None):
        super().__init__()
        self.attention = ARVideoSelfAttention(config, hidden_size, num_heads)
        self.output = ARVideoSelfOutput(config, hidden_size)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        key_value_states: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        context, _ = self.attention(hidden_states, attention_mask, key_value_states, **kwargs)
        return self.output(context)


class ARVideoIntermediate(nn.Module):
    """First MLP layer and activation."""

    def __init__(self, config: ARVideoConfig, hidden_size: int | None = None, intermediate_size: int | None = None):
        super().__init__()
        self.dense = nn.Linear(hidden_size or config.hidden_size, intermediate_size or config.intermediate_size)
        activation = config.hidden_act
        self.intermediate_act_fn = ACT2FN[activation] if isinstance(activation, str) else activation

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(hidden_states))


class ARVideoOutput(nn.Module):
    """Second MLP layer (the residual is added by the layer, after drop path)."""

    def __init__(self, config: ARVideoConfig, hidden_size: int | None = None, intermediate_size: int | None = None):
        super().__init__()
        self.dense = nn.Linear(intermediate_size or config.intermediate_size, hidden_size or config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden_states))


class ARVideoDropPath(nn.Module):
    """Stochastic depth per sample (identity at eval and when the rate is 0)."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return hidden_states
        keep = 1.0 - self.drop_prob
        shape = (hidden_states.shape[0],) + (1,) * (hidden_states.dim() - 1)
        return hidden_states * hidden_states.new_empty(shape).bernoulli_(keep).div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.drop_prob}"


class ARVideoLayer(GradientCheckpointingLayer):
    """Pre-norm ViT block (VideoMAE's), with drop path; `attention_mask` makes it cluster-causal for pretraining."""

    def __init__(self, config: ARVideoConfig, drop_path: float = 0.0):
        super().__init__()
        self.attention = ARVideoAttention(config)
        self.intermediate = ARVideoIntermediate(config)
        self.output = ARVideoOutput(config)
        self.layernorm_before = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layernorm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.drop_path = ARVideoDropPath(drop_path)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs: Any
    ) -> torch.Tensor:
        attention_output = self.attention(self.layernorm_before(hidden_states), attention_mask)
        hidden_states = hidden_states + self.drop_path(attention_output)
        mlp_output = self.output(self.intermediate(self.layernorm_after(hidden_states)))
        return hidden_states + self.drop_path(mlp_output)


class ARVideoEncoder(nn.Module):
    """Stack of `ARVideoLayer`s with linearly increasing drop path."""

    def __init__(self, config: ARVideoConfig):
        super().__init__()
        self.config = config
        depth = config.num_hidden_layers
        rates = [config.drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.layer = nn.ModuleList([ARVideoLayer(config, rate) for rate in rates])
        self.gradient_checkpointing = False

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs: Any
    ) -> BaseModelOutput:
        for layer_module in self.layer:
            hidden_states = layer_module(hidden_states, attention_mask, **kwargs)
        return BaseModelOutput(last_hidden_state=hidden_states)


class ARVideoPreTrainedModel(PreTrainedModel):
    """Weight init, attention dispatch and output capture shared by every ARVideo model."""

    config_class = ARVideoConfig
    config: ARVideoConfig
    base_model_prefix = "arvideo"
    main_input_name = "pixel_values"
    input_modalities = "video"
    supports_gradient_checkpointing = True
    _no_split_modules = ["ARVideoEmbeddings", "ARVideoLayer", "ARVideoDecoderLayer"]
    _supports_sdpa = True
    _supports_flash_attn = False  # the block-causal masks are arbitrary additive masks
    _supports_flex_attn = False
    _supports_attention_backend = True
    _can_record_outputs = {"hidden_states": ARVideoLayer, "attentions": ARVideoSelfAttention}
    # The pretraining head is expected to be left behind when an encoder or classifier loads a pretraining checkpoint.
    _keys_to_ignore_on_load_unexpected = [r"^decoder\.", r"^encoder_norm\.", r"^encoder_to_decoder\.", r"^query_token$"]

    def __init__(self, config: ARVideoConfig, *inputs: Any, **kwargs: Any):
        # `from_pretrained(..., num_frames=..., image_size=...)` sets overrides on the loaded config after its checks
        # ran: check the geometry again before any module is sized from it.
        config.check_geometry()
        super().__init__(config, *inputs, **kwargs)

    def _init_weights(self, module: nn.Module) -> None:
        """The official MAE/VideoMAE initialization, which the models need to train from scratch at small scale:
        xavier-uniform linear layers (q/k/v as the one fused `qkv` matrix of the original code), the tubelet
        embedding like a linear layer over its flattened `t*p*p*C` fan-in, LayerNorms at identity, the query token
        N(0, 0.02), and the fixed sinusoid tables. Loaded weights are never touched (`init` skips them)."""
        if isinstance(module, (nn.Linear, nn.Conv3d)):
            fan_in, fan_out = module.weight[0].numel(), module.weight.shape[0]
            uniform_linear_init(module.weight, fan_in, fan_out * (3 if getattr(module, "fused_qkv_part", False) else 1))
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d):  # its running statistics are buffers: refilled, never left to meta
            init.ones_(module.weight)
            init.zeros_(module.bias)
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
            init.zeros_(module.num_batches_tracked)
        elif isinstance(module, ARVideoEmbeddings):
            table = get_sinusoid_encoding_table(module.num_patches, self.config.hidden_size)
            init.copy_(module.position_embeddings, table)
        elif isinstance(module, ARVideoForPretraining):
            init.normal_(module.query_token, std=self.config.initializer_range)
            table = get_sinusoid_encoding_table(self.config.num_tokens, self.config.decoder_hidden_size)
            init.copy_(module.decoder_position_embeddings, table)


def uniform_linear_init(weight: torch.Tensor, fan_in: int, fan_out: int) -> None:
    """Xavier-uniform with explicit fans, so a conv kernel or one third of a fused qkv matrix gets the bound of the
    linear layer it stands for (`torch.nn.init.xavier_uniform_` would count a conv's receptive field twice)."""
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    init.uniform_(weight, -bound, bound)


class ARVideoModel(ARVideoPreTrainedModel):
    """The ARVideo encoder: a VideoMAE ViT. Bidirectional over all tokens by default; the pretraining model runs it
    over gathered tokens (`token_index`) with a block-causal `attention_mask`."""

    def __init__(self, config: ARVideoConfig):
        super().__init__(config)
        self.embeddings = ARVideoEmbeddings(config)
        self.encoder = ARVideoEncoder(config)
        self.layernorm = (
            None if config.use_mean_pooling else nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        )
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    @capture_outputs(tie_last_hidden_states=False)
    def forward(
        self,
        pixel_values: torch.Tensor,
        token_index: torch.LongTensor | None = None,
        bool_masked_pos: torch.BoolTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> BaseModelOutput:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`):
            Normalized clips, as produced by the VideoMAE image processor.
        token_index (`torch.LongTensor` of shape `(batch_size, L)`, *optional*):
            Flat token indices to keep, in this sequence order (position embeddings are added before the gather).
        bool_masked_pos (`torch.BoolTensor` of shape `(batch_size, N)`, *optional*):
            VideoMAE-style mask (True = dropped); every clip must keep the same number of tokens.
        attention_mask (`torch.FloatTensor` broadcastable to `(batch_size, heads, L, L)`, *optional*):
            Additive mask (0 = attend, dtype-min = blocked), e.g. `clustering.block_causal_mask`.
        """
        embedding_output = self.embeddings(pixel_values, token_index=token_index, bool_masked_pos=bool_masked_pos)
        sequence_output = self.encoder(embedding_output, attention_mask, **kwargs).last_hidden_state
        if self.layernorm is not None:
            sequence_output = self.layernorm(sequence_output)
        return BaseModelOutput(last_hidden_state=sequence_output)

    @classmethod
    def from_videomae(cls, videomae: PreTrainedModel | str, **config_overrides: Any) -> ARVideoPreTrainedModel:
        """Import a transformers VideoMAE model (object or folder/repo id) with identical weights."""
        return _convert_videomae(cls, videomae, **config_overrides)


class ARVideoDecoderLayer(GradientCheckpointingLayer):
    """`q = q + CrossAttn(LN(q), kv, mask); q = q + MLP(LN(q))`, with optional masked self-attention first."""

    def __init__(self, config: ARVideoConfig):
        super().__init__()
        width, heads = config.decoder_hidden_size, config.decoder_num_attention_heads
        self.self_attention = ARVideoAttention(config, width, heads) if config.decoder_self_attention else None
        self.layernorm_self = nn.LayerNorm(width, eps=config.layer_norm_eps) if config.decoder_self_attention else None
        self.layernorm_cross = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.cross_attention = ARVideoAttention(config, width, heads)
        self.layernorm_after = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.intermediate = ARVideoIntermediate(config, width, config.decoder_intermediate_size)
        self.output = ARVideoOutput(config, width, config.decoder_intermediate_size)

    def project_key_value(self, key_value_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """This layer's cross-attention keys and values; a method of the layer, so that FSDP2 (which gathers a
        layer's sharded weights around its forward) can be told to gather them for it too."""
        return self.cross_attention.attention.project_key_value(key_value_states)

    def forward(
        self,
        queries: torch.Tensor,
        key_value: tuple[torch.Tensor, torch.Tensor],
        cross_attention_mask: torch.Tensor,
        self_attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.self_attention is not None:
            queries = queries + self.self_attention(self.layernorm_self(queries), self_attention_mask)
        queries = queries + self.cross_attention(self.layernorm_cross(queries), cross_attention_mask, key_value)
        return queries + self.output(self.intermediate(self.layernorm_after(queries)))


class ARVideoDecoder(nn.Module):
    """Cross-attention decoder: position queries read the encoder's earlier steps and regress tubelet pixels."""

    def __init__(self, config: ARVideoConfig):
        super().__init__()
        self.layers = nn.ModuleList([ARVideoDecoderLayer(config) for _ in range(config.decoder_num_hidden_layers)])
        self.norm = nn.LayerNorm(config.decoder_hidden_size, eps=config.layer_norm_eps)
        channels = config.num_channels * (2 if config.pretraining_target == "pixels_and_frame_difference" else 1)
        tubelet_pixels = config.tubelet_size * pair(config.patch_size)[0] ** 2 * channels
        self.head = nn.Linear(config.decoder_hidden_size, tubelet_pixels)
        self.gradient_checkpointing = False

    def project_key_values(self, key_value_states: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each layer's cross-attention keys/values, computed once and shared by every query (chunk)."""
        return [layer.project_key_value(key_value_states) for layer in self.layers]

    def forward(
        self,
        queries: torch.Tensor,
        key_values: list[tuple[torch.Tensor, torch.Tensor]],
        cross_attention_mask: torch.Tensor,
        self_attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        for layer, key_value in zip(self.layers, key_values, strict=True):
            queries = layer(queries, key_value, cross_attention_mask, self_attention_mask)
        return self.head(self.norm(queries))

    def chunked_squared_error(
        self,
        queries: torch.Tensor,
        key_values: list[tuple[torch.Tensor, torch.Tensor]],
        cross_attention_mask: torch.Tensor,
        targets: torch.Tensor,
        chunk_size: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sum of squared errors and (detached) predictions, decoding `chunk_size` queries at a time under
        activation recomputation: without decoder self-attention queries are independent, so only one chunk's
        activations are ever alive. Loss and gradients equal the unchunked path."""
        total, predictions = queries.new_zeros((), dtype=torch.float32), []
        for start in range(0, queries.shape[1], chunk_size):
            end = min(start + chunk_size, queries.shape[1])
            chunk_error, chunk_logits = torch.utils.checkpoint.checkpoint(
                self._chunk_error,
                queries[:, start:end],
                key_values,
                cross_attention_mask[..., start:end, :],
                targets[:, start:end],
                use_reentrant=False,
            )
            total = total + chunk_error
            predictions.append(chunk_logits.detach())
        return total, torch.cat(predictions, dim=1)

    def _chunk_error(self, queries, key_values, cross_attention_mask, targets):
        logits = self(queries, key_values, cross_attention_mask)
        return ((logits.float() - targets) ** 2).sum(), logits


class ARVideoForPretraining(ARVideoPreTrainedModel):
    """ARVideo pretraining (docs/method.md, Pretraining objective): cluster-causal encoder over the first C-1
    clusters in a (random) order, cross-attention decoder predicting every token of the next cluster."""

    def __init__(self, config: ARVideoConfig):
        super().__init__(config)
        if pair(config.patch_size)[0] != pair(config.patch_size)[1]:
            raise ValueError("ARVideoForPretraining needs square patches (patch_size p x p) to build pixel targets.")
        try:
            self.geometry: ClusterGeometry = config.geometry
        except ValueError as error:
            raise ValueError(f"ARVideoForPretraining cannot run at this clip geometry: {error}") from None
        self.arvideo = ARVideoModel(config)
        self.encoder_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder_to_decoder = nn.Linear(config.hidden_size, config.decoder_hidden_size)
        self.query_token = nn.Parameter(torch.zeros(1, 1, config.decoder_hidden_size))
        self.register_buffer(
            "decoder_position_embeddings",
            get_sinusoid_encoding_table(self.geometry.num_tokens, config.decoder_hidden_size),
            persistent=False,
        )
        self.decoder = ARVideoDecoder(config)
        self.post_init()

    def pixel_targets(self, pixel_values: torch.Tensor, training_step: int | None = None) -> torch.Tensor:
        """Regression targets `(B, N, t*p*p*C)`: undo the input normalization, take the pixels, their frame-to-frame
        differences or both (`config.pretraining_target`), cut tubelets, (norm_pix_loss) normalize each tubelet per
        channel over its t*p*p values (mean, unbiased std + 1e-6), and scale the combined target's pixel channels by
        `config.pixel_target_scale_at(training_step)` (`config.pixel_target_scale` when no step is given)."""
        tubelets = unnormalized_tubelets(pixel_values, self.config, self.config.pretraining_target)
        if self.config.norm_pix_loss:
            mean, scale = tubelet_mean_scale(tubelets)
            tubelets = (tubelets - mean) / scale
        if self.config.pretraining_target == "pixels_and_frame_difference":
            tubelets[..., : self.config.num_channels] *= self.config.pixel_target_scale_at(training_step or 0)
        return tubelets.flatten(2)

    @can_return_tuple
    def forward(
        self,
        pixel_values: torch.Tensor,
        cluster_order: torch.LongTensor | None = None,
        noise: torch.Tensor | None = None,
        bool_masked_pos: torch.BoolTensor | None = None,
        training_step: int | None = None,
        **kwargs: Any,
    ) -> ARVideoForPreTrainingOutput:
        r"""
        cluster_order (`torch.LongTensor` of shape `(batch_size, C)`, *optional*):
            Cluster ids in prediction order, one permutation per sample; defaults to `config.prediction_order`.
        noise (`torch.FloatTensor` of shape `(batch_size, N)`, *optional*):
            In every cluster the V tokens of lowest noise are visible (ViTMAE convention); random when omitted.
        bool_masked_pos (`torch.BoolTensor` of shape `(batch_size, N)`, *optional*):
            Alternative to `noise`: True = masked; every cluster must mask exactly S - V tokens.
        training_step (`int`, *optional*):
            The optimizer step, for the pixel term's schedule (`config.pixel_target_decay_steps`); omitted, the
            schedule's start (`config.pixel_target_scale`).
        """
        geometry, batch, device = self.geometry, pixel_values.shape[0], pixel_values.device
        # 1. Order and masks: which clusters come in which step, which tokens of each cluster the encoder sees.
        if cluster_order is None:
            cluster_order = make_cluster_order(geometry, self.config.prediction_order, batch, device=device)
        else:
            check_cluster_order(geometry, cluster_order, batch)  # rows against clips, before noise is drawn for them
        if noise is None:
            noise = (
                noise_from_bool_masked_pos(geometry, bool_masked_pos)
                if bool_masked_pos is not None
                else torch.rand(batch, geometry.num_tokens, device=device)
            )
        cluster_order = cluster_order.to(device)
        plan = plan_sequence(geometry, cluster_order, noise.to(device))
        steps, dtype = geometry.num_clusters - 1, self.dtype
        # 2. Encoder: visible tokens of steps 0..C-2, each step attending to itself and every earlier step.
        encoder_mask = block_causal_mask(steps, geometry.num_visible, geometry.num_visible, dtype, device)
        encoder_outputs = self.arvideo(
            pixel_values, token_index=plan.input_index, attention_mask=encoder_mask, **kwargs
        )
        key_value_states = self.encoder_to_decoder(self.encoder_norm(encoder_outputs.last_hidden_state))
        # 3. Decoder: one query per token of steps 1..C-1; the queries of step i read encoder steps < i only.
        queries = self.query_token + self.decoder_position_embeddings.to(key_value_states.dtype)[plan.target_index]
        key_values = self.decoder.project_key_values(key_value_states)
        cross_mask = block_causal_mask(steps, geometry.cluster_tokens, geometry.num_visible, dtype, device)
        with torch.no_grad():
            targets = self.pixel_targets(pixel_values, training_step)
            targets = targets.gather(1, plan.target_index.unsqueeze(-1).expand(-1, -1, targets.shape[-1]))
        # 4. Loss: MSE against every token of each predicted cluster (visible ones too: no query ever saw them).
        chunk = self.config.decoder_chunk_size
        if chunk and not self.config.decoder_self_attention and torch.is_grad_enabled():
            squared_error, logits = self.decoder.chunked_squared_error(queries, key_values, cross_mask, targets, chunk)
            loss = squared_error / targets.numel()
        else:
            self_mask = None
            if self.config.decoder_self_attention:
                self_mask = block_causal_mask(steps, geometry.cluster_tokens, geometry.cluster_tokens, dtype, device)
            logits = self.decoder(queries, key_values, cross_mask, self_mask)
            loss = F.mse_loss(logits.float(), targets)
        return ARVideoForPreTrainingOutput(
            loss=loss,
            logits=logits,
            targets=targets,
            cluster_order=cluster_order,
            input_index=plan.input_index,
            target_index=plan.target_index,
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )


ARVideoForPreTraining = ARVideoForPretraining  # transformers' usual spelling


def head_norm(config: ARVideoConfig) -> nn.Module:
    """The norm over the mean-pooled tokens (`config.head_norm`): VideoMAE's LayerNorm, or a BatchNorm that removes
    the vector pretraining puts in every clip's tokens and scales each channel (MAE's linear-probe norm)."""
    if config.head_norm == "batch":
        return nn.BatchNorm1d(config.hidden_size)
    return nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)


class ARVideoForVideoClassification(ARVideoPreTrainedModel):
    """ARVideo encoder with full attention, mean pooling, `fc_norm` (`config.head_norm`) and a linear head (VideoMAE's
    recipe)."""

    def __init__(self, config: ARVideoConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.arvideo = ARVideoModel(config)
        self.fc_norm = head_norm(config) if config.use_mean_pooling else None
        self.classifier = nn.Linear(config.hidden_size, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> ImageClassifierOutput:
        r"""
        labels (`torch.LongTensor` of shape `(batch_size,)` or `torch.FloatTensor` of shape `(batch_size, num_labels)`):
            Class ids, or soft targets (mixup/cutmix) that give a soft-target cross-entropy.
        """
        outputs = self.arvideo(pixel_values, **kwargs)
        sequence_output = outputs.last_hidden_state
        pooled = self.fc_norm(sequence_output.mean(1)) if self.fc_norm is not None else sequence_output[:, 0]
        logits = self.classifier(pooled)
        loss = None
        if labels is not None:
            if labels.is_floating_point() and labels.shape == logits.shape:
                loss = torch.sum(-labels * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()
            else:
                loss = self.loss_function(labels, logits, self.config)
        return ImageClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )

    @classmethod
    def from_videomae(cls, videomae: PreTrainedModel | str, **config_overrides: Any) -> ARVideoPreTrainedModel:
        """Import a transformers VideoMAE model (object or folder/repo id); a classifier keeps its head."""
        return _convert_videomae(cls, videomae, **config_overrides)


# `from_videomae` converts with `arvideo_hf.interop.videomae`, which registers its converter here on import. This file
# never imports it: a Hub repo ships this file without the package, and the dependency runs one way, interop -> model.
_VIDEOMAE_CONVERTER: Callable[..., ARVideoPreTrainedModel] | None = None


def register_videomae_converter(converter: Callable[..., ARVideoPreTrainedModel]) -> None:
    """Set the function `from_videomae` calls as `converter(model_class, videomae, **config_overrides)`."""
    global _VIDEOMAE_CONVERTER
    _VIDEOMAE_CONVERTER = converter


def _convert_videomae(
    model_class: type[ARVideoPreTrainedModel], videomae: PreTrainedModel | str, **config_overrides: Any
) -> ARVideoPreTrainedModel:
    if _VIDEOMAE_CONVERTER is None:  # this file loaded as Hub remote code, without the package
        raise ImportError(
            "from_videomae converts with the arvideo_hf package: pip install arvideo_hf, then use "
            "arvideo_hf.ARVideoModel.from_videomae (or ARVideoForVideoClassification.from_videomae)."
        )
    return _VIDEOMAE_CONVERTER(model_class, videomae, **config_overrides)


__all__ = [
    "ARVideoForPreTrainingOutput",
    "ARVideoForPretraining",
    "ARVideoForPreTraining",
    "ARVideoForVideoClassification",
    "ARVideoModel",
    "ARVideoPreTrainedModel",
    "get_sinusoid_encoding_table",
    "patchify",
    "register_videomae_converter",
    "tubelet_mean_scale",
    "unnormalized_tubelets",
    "unpatchify",
]

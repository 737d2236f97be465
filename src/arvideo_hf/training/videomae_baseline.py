# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""The VideoMAE pretraining baseline ARVideo is compared with (`--method videomae`, the study, the benchmarks):
transformers' `VideoMAEForPreTraining` with VideoMAE's decoder for each width (`videomae_config_from`,
`VIDEOMAE_DECODERS`), 90% tube masking (`TubeMaskingCollator`), the official initialization, and the encoder
exported as an `ARVideoModel` (`export_videomae_encoder`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import VideoMAEConfig, VideoMAEForPreTraining, VideoMAEModel

from ..data.collate import PretrainingCollator, stack_pixel_values
from ..interop.videomae import from_videomae
from ..models.configuration_arvideo import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, ARVideoConfig
from ..models.modeling_arvideo import ARVideoModel, uniform_linear_init


VIDEOMAE_MASK_RATIO = 0.9
# VideoMAE's pretraining decoders by encoder width (ViT-S/B/L/H: 4 layers of 192/384/512/640). Any other width (the
# tiny preset, custom sizes) gets the ARVideo config's own decoder, so the two baselines stay comparable.
VIDEOMAE_DECODERS: dict[int, dict[str, int]] = {
    384: dict(decoder_hidden_size=192, decoder_num_hidden_layers=4, decoder_num_attention_heads=3,
              decoder_intermediate_size=768),
    768: dict(decoder_hidden_size=384, decoder_num_hidden_layers=4, decoder_num_attention_heads=6,
              decoder_intermediate_size=1536),
    1024: dict(decoder_hidden_size=512, decoder_num_hidden_layers=4, decoder_num_attention_heads=8,
               decoder_intermediate_size=2048),
    1280: dict(decoder_hidden_size=640, decoder_num_hidden_layers=4, decoder_num_attention_heads=8,
               decoder_intermediate_size=2560),
}


def videomae_config_from(config: ARVideoConfig) -> VideoMAEConfig:
    """A `VideoMAEConfig` with the same ViT encoder as `config` and VideoMAE's decoder for that width.

    The encoder keeps its final LayerNorm during pretraining (`use_mean_pooling=False`, as in VideoMAE's pretraining
    encoder); `export_videomae_encoder` drops it, as ARVideo drops its `encoder_norm`.
    """
    if not isinstance(config.image_size, int) or not isinstance(config.patch_size, int):
        raise ValueError("The VideoMAE baseline needs square clips and patches (int image_size and patch_size).")
    if tuple(config.image_mean) != IMAGENET_DEFAULT_MEAN or tuple(config.image_std) != IMAGENET_DEFAULT_STD:
        raise ValueError("VideoMAEForPreTraining un-normalizes with ImageNet mean/std; keep the default mean/std.")
    decoder = VIDEOMAE_DECODERS.get(config.hidden_size) or dict(
        decoder_hidden_size=config.decoder_hidden_size,
        decoder_num_hidden_layers=config.decoder_num_hidden_layers,
        decoder_num_attention_heads=config.decoder_num_attention_heads,
        decoder_intermediate_size=config.decoder_intermediate_size,
    )
    return VideoMAEConfig(
        image_size=config.image_size, patch_size=config.patch_size, num_channels=config.num_channels,
        num_frames=config.num_frames, tubelet_size=config.tubelet_size, hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers, num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size, hidden_act=config.hidden_act,
        hidden_dropout_prob=config.hidden_dropout_prob,
        attention_probs_dropout_prob=config.attention_probs_dropout_prob,
        initializer_range=config.initializer_range, layer_norm_eps=config.layer_norm_eps, qkv_bias=config.qkv_bias,
        use_mean_pooling=False, norm_pix_loss=config.norm_pix_loss, **decoder,
    )


class TubeMaskingCollator(PretrainingCollator):
    """VideoMAE's tube masking: `{"pixel_values": (B, T, C, H, W), "bool_masked_pos": (B, N) bool}` (True = masked).

    Each clip masks the same `int(mask_ratio * H' * W')` spatial positions in every time step. Draws are seeded from
    `(seed, epoch, sample indices)` exactly like [`PretrainingCollator`] (call `set_epoch` the same way).
    """

    def __init__(self, config: ARVideoConfig, *, mask_ratio: float = VIDEOMAE_MASK_RATIO, seed: int = 0) -> None:
        super().__init__(config, seed=seed)
        time_steps, height, width = self.geometry.grid
        self.num_masked = int(mask_ratio * height * width)
        if not 0 <= self.num_masked < height * width:
            raise ValueError(f"tube mask_ratio={mask_ratio} must leave at least one of {height * width} positions.")
        self.mask_ratio = float(mask_ratio)

    def __call__(self, samples: Any) -> dict[str, torch.Tensor]:
        pixel_values, _ = stack_pixel_values(samples)
        if tuple(pixel_values.shape[1:]) != self.clip_shape:
            raise ValueError(f"clips have shape {tuple(pixel_values.shape[1:])}, the config expects {self.clip_shape}")
        time_steps, height, width = self.geometry.grid
        noise = torch.rand(pixel_values.shape[0], height * width, generator=self.generator(samples))
        frame_mask = noise.argsort(dim=1).argsort(dim=1) < self.num_masked  # rank below num_masked: masked
        return {"pixel_values": pixel_values, "bool_masked_pos": frame_mask.repeat(1, time_steps)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mask_ratio={self.mask_ratio}, grid={self.geometry.grid}, seed={self.seed})"


@torch.no_grad()
def initialize_like_official_videomae(model: nn.Module) -> None:
    """Re-draw a fresh transformers VideoMAE with the official code's initialization (xavier-uniform linears, q/k/v as
    one fused qkv matrix, LayerNorms at identity), the one ARVideo uses: transformers' N(0, 0.02) would make the
    baseline differ from ARVideo by its initialization, not only by its objective. The mask token keeps N(0, .02)."""
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv3d)):
            fused_qkv = name.rsplit(".", 1)[-1] in ("query", "key", "value")
            fan_out = module.weight.shape[0] * (3 if fused_qkv else 1)
            uniform_linear_init(module.weight, module.weight[0].numel(), fan_out)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()


def build_videomae_pretraining(
    config: ARVideoConfig, attn_implementation: str | None = None, mask_ratio: float | None = None, seed: int = 0
) -> tuple[VideoMAEForPreTraining, TubeMaskingCollator]:
    """The baseline `--method videomae` trains: a fresh `VideoMAEForPreTraining` for `config` with the official
    initialization, and its tube-masking collator (`mask_ratio` defaults to VideoMAE's 90%)."""
    model = VideoMAEForPreTraining._from_config(videomae_config_from(config), attn_implementation=attn_implementation)
    initialize_like_official_videomae(model)
    mask_ratio = VIDEOMAE_MASK_RATIO if mask_ratio is None else mask_ratio
    return model, TubeMaskingCollator(config, mask_ratio=mask_ratio, seed=seed)


def export_videomae_encoder(model: VideoMAEForPreTraining, config: ARVideoConfig | None = None) -> ARVideoModel:
    """The pretrained VideoMAE encoder as an `ARVideoModel` (final pretraining norm dropped); `config`, when given,
    supplies the ARVideo-only fields (clusters, order, mask ratio, decoder, mean/std) of the exported config."""
    encoder_config = VideoMAEConfig.from_dict({**model.config.to_dict(), "use_mean_pooling": True})
    encoder = VideoMAEModel(encoder_config)
    state = {k: v for k, v in model.videomae.state_dict().items() if not k.startswith("layernorm.")}
    encoder.load_state_dict(state, strict=True)
    keep = ("cluster_size", "prediction_order", "mask_ratio", "drop_path_rate", "image_mean", "image_std",
            "decoder_hidden_size", "decoder_num_hidden_layers", "decoder_num_attention_heads",
            "decoder_intermediate_size", "norm_pix_loss")
    overrides = {name: getattr(config, name) for name in keep} if config is not None else {}
    return from_videomae(ARVideoModel, encoder, **overrides)


__all__ = [
    "TubeMaskingCollator",
    "VIDEOMAE_DECODERS",
    "VIDEOMAE_MASK_RATIO",
    "build_videomae_pretraining",
    "export_videomae_encoder",
    "initialize_like_official_videomae",
    "videomae_config_from",
]

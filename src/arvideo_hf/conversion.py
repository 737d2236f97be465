"""Read official VideoMAE/ARVideo-style `.pth` checkpoints (timm ViT names, fused qkv) into ARVideo models."""

from __future__ import annotations

import os
import re
from types import SimpleNamespace
from typing import Any

import torch
from transformers import VideoMAEConfig

from .configuration_arvideo import ARVideoConfig
from .modeling_arvideo import ARVideoForPretraining, ARVideoModel, ARVideoPreTrainedModel, config_from_videomae


_BLOCK_RENAMES = {
    "norm1": "layernorm_before",
    "norm2": "layernorm_after",
    "attn.proj": "attention.output.dense",
    "mlp.fc1": "intermediate.dense",
    "mlp.fc2": "output.dense",
}


def unwrap_state_dict(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Official checkpoints nest weights under `model` or `module`; strip that and a DDP `module.` prefix."""
    for key in ("model", "module", "state_dict"):
        if key in checkpoint and isinstance(checkpoint[key], dict):
            checkpoint = checkpoint[key]
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in checkpoint.items() if torch.is_tensor(v)}


def convert_official_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map official names (`[encoder.]blocks.i.attn.qkv`, `q_bias`/`v_bias`, `fc_norm`, `head`) to ARVideo's
    `arvideo.*` names; the pretraining decoder and mask token are dropped, `encoder.norm` becomes `encoder_norm`."""
    converted: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        name = key[len("encoder."):] if key.startswith("encoder.") else key
        if name.startswith("patch_embed.proj."):
            converted["arvideo.embeddings.patch_embeddings.projection." + name.rsplit(".", 1)[1]] = value
        elif match := re.match(r"blocks\.(\d+)\.(.+)", name):
            layer, rest = f"arvideo.encoder.layer.{match.group(1)}.", match.group(2)
            if rest == "attn.qkv.weight":
                for part, weight in zip(("query", "key", "value"), value.chunk(3, dim=0)):
                    converted[f"{layer}attention.attention.{part}.weight"] = weight
            elif rest == "attn.qkv.bias":  # a plain timm ViT: q/k/v biases fused
                for part, bias in zip(("query", "key", "value"), value.chunk(3, dim=0)):
                    if part != "key" or bias.abs().max() > 0:
                        converted[f"{layer}attention.attention.{part}.bias"] = bias
            elif rest in ("attn.q_bias", "attn.v_bias"):
                converted[f"{layer}attention.attention.{'query' if rest == 'attn.q_bias' else 'value'}.bias"] = value
            elif rest.startswith("gamma_"):
                raise ValueError(
                    f"{key}: layer-scale (gamma) weights are not part of the VideoMAE/ARVideo ViT; this checkpoint "
                    "comes from another architecture (e.g. a layer-scale ViT) and cannot be converted."
                )
            else:
                module, _, leaf = rest.rpartition(".")
                if module in _BLOCK_RENAMES:
                    converted[f"{layer}{_BLOCK_RENAMES[module]}.{leaf}"] = value
        elif name.startswith("norm.") and key.startswith("encoder."):
            converted["encoder_norm." + name[len("norm."):]] = value
        elif name.startswith("norm."):
            converted["arvideo.layernorm." + name[len("norm."):]] = value
        elif name.startswith("fc_norm."):
            converted[name] = value
        elif name.startswith("head."):
            converted["classifier." + name[len("head."):]] = value
    return converted


def config_from_official_state_dict(state_dict: dict[str, torch.Tensor], **overrides: Any) -> ARVideoConfig:
    """Infer the ViT size from an official state dict; pass what cannot be inferred (frames, image size, heads)."""
    weights = convert_official_state_dict(state_dict)
    projection = weights["arvideo.embeddings.patch_embeddings.projection.weight"]
    hidden_size, channels, tubelet, patch, _ = projection.shape
    layers = 1 + max(int(k.split(".")[3]) for k in weights if k.startswith("arvideo.encoder.layer."))
    fields: dict[str, Any] = dict(
        hidden_size=hidden_size,
        num_channels=channels,
        tubelet_size=tubelet,
        patch_size=patch,
        num_hidden_layers=layers,
        num_attention_heads=max(hidden_size // 64, 1),
        intermediate_size=weights["arvideo.encoder.layer.0.intermediate.dense.weight"].shape[0],
        qv_bias="arvideo.encoder.layer.0.attention.attention.query.bias" in weights,
        use_mean_pooling="arvideo.layernorm.weight" not in weights,
        layer_norm_eps=1e-6,  # the official code's norm_layer
    )
    if "classifier.weight" in weights:
        overrides.setdefault("num_labels", weights["classifier.weight"].shape[0])
    sizes = {k: overrides.pop(k) for k in ("image_size", "num_frames") if k in overrides}
    defaults = {k: v for k, v in VideoMAEConfig().to_dict().items() if k not in ("id2label", "label2id")}
    return config_from_videomae(SimpleNamespace(**{**defaults, **fields, **sizes}), **overrides)


def load_official_checkpoint(
    path: str | os.PathLike, model_class: type[ARVideoPreTrainedModel], **config_overrides: Any
) -> ARVideoPreTrainedModel:
    """Build `model_class` from an official `.pth` (loaded with `weights_only=True`, never unpickling code)."""
    state_dict = unwrap_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    config = config_from_official_state_dict(state_dict, **config_overrides)
    model = model_class(config)
    weights = convert_official_state_dict(state_dict)
    if model_class is ARVideoModel:
        weights = {k[len("arvideo."):]: v for k, v in weights.items() if k.startswith("arvideo.")}
    elif model_class is not ARVideoForPretraining:
        weights.pop("encoder_norm.weight", None), weights.pop("encoder_norm.bias", None)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    fresh = ("fc_norm.", "classifier.", "encoder_norm.", "encoder_to_decoder.", "decoder.", "query_token")
    missing = [k for k in missing if not k.startswith(fresh)]
    if missing or unexpected:
        raise ValueError(f"{path} does not map onto {model_class.__name__}: missing {missing}, unexpected {unexpected}")
    return model


__all__ = ["config_from_official_state_dict", "convert_official_state_dict", "load_official_checkpoint", "unwrap_state_dict"]

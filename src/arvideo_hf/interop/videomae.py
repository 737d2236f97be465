# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""VideoMAE weights in: transformers VideoMAE models and official `.pth` checkpoints become ARVideo models.

- transformers models: `config_from_videomae` (config mapping), `state_dict_from_videomae` (weight names) and
  `from_videomae`, which `ARVideoModel.from_videomae` and `ARVideoForVideoClassification.from_videomae` call.
- Official `.pth` checkpoints (timm ViT names, fused qkv, q/v biases): `read_official_state_dict`,
  `convert_official_state_dict`, `config_from_official_state_dict`, `load_official_checkpoint`, and
  `official_videomae_forward`, the official ViT in plain torch that a conversion is measured against.
- `convert_videomae_checkpoint`: either source into a checkpoint folder ready for `arvideo_hf.zoo.publish`
  (`examples/convert_videomae.py`).

The VideoMAE pretraining baseline ARVideo is compared with lives in `arvideo_hf.training.videomae_baseline`.

`has_classification_head` is the one answer to "does this VideoMAE source carry a classifier?".
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import torch
import torch.nn.functional as F
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForVideoClassification,
    PreTrainedModel,
    VideoMAEConfig,
)
from transformers.utils import IMAGE_PROCESSOR_NAME

from ..integrity import check_finite_module
from ..models.clustering import fit_cluster_size
from ..models.configuration_arvideo import ARVideoConfig, pair
from ..models.modeling_arvideo import (
    ARVideoForVideoClassification,
    ARVideoModel,
    ARVideoPreTrainedModel,
    get_sinusoid_encoding_table,
    register_videomae_converter,
)
from ..models.processing_arvideo import image_processor_for


ModelKind = Literal["encoder", "pretraining", "classification"]

# Modules an imported model may lack: they start fresh (a new head, ARVideo's pretraining decoder).
_FRESH_MODULES = ("fc_norm.", "classifier.", "encoder_norm.", "encoder_to_decoder.", "decoder.", "query_token")
_MODEL_KINDS: dict[str, ModelKind] = {
    "ARVideoModel": "encoder",
    "ARVideoForPretraining": "pretraining",
    "ARVideoForVideoClassification": "classification",
}


def model_kind(model_class: type[ARVideoPreTrainedModel]) -> ModelKind:
    """What an ARVideo class holds beside the encoder. By class name along the MRO, so that the classes of a Hub
    repo's remote code (same names, other objects) count like the package's."""
    for klass in model_class.__mro__:
        if klass.__name__ in _MODEL_KINDS:
            return _MODEL_KINDS[klass.__name__]
    raise TypeError(f"{model_class.__name__} is not an ARVideo model class")


def has_classification_head(source: Mapping[str, torch.Tensor] | Any) -> bool:
    """Whether a VideoMAE source carries a classification head: an official state dict holds `head.weight`; a
    transformers config, or the model folder / repo id it is read from, names a `...ForVideoClassification`."""
    if isinstance(source, Mapping):
        return "head.weight" in source
    config = source if hasattr(source, "architectures") else AutoConfig.from_pretrained(source)
    return any("ForVideoClassification" in name for name in config.architectures or [])


def _load_converted(model: ARVideoPreTrainedModel, weights: dict[str, torch.Tensor], failure: str) -> None:
    """Load `arvideo.*`-prefixed weights into `model` (an encoder takes them without the prefix and without any
    head; a classifier leaves the pretraining `encoder_norm` out); only `_FRESH_MODULES` may stay unloaded."""
    kind = model_kind(type(model))
    if kind == "encoder":
        weights = {k[len("arvideo."):]: v for k, v in weights.items() if k.startswith("arvideo.")}
    elif kind == "classification":
        weights = {k: v for k, v in weights.items() if not k.startswith("encoder_norm.")}
        if "fc_norm.weight" in weights and model.config.head_norm != "layer":  # LayerNorm weights, no statistics
            raise ValueError(
                f"{failure} {type(model).__name__} with head_norm={model.config.head_norm!r}: the source's head has "
                "VideoMAE's LayerNorm fc_norm. Convert it with head_norm='layer', or convert the encoder alone "
                "(ARVideoModel) and finetune a new head (examples/finetune.py --head_norm batch)."
            )
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not k.startswith(_FRESH_MODULES)]
    if missing or unexpected:
        raise ValueError(f"{failure} {type(model).__name__}: missing {missing}, unexpected {unexpected}")


# --------------------------------------------------------------------------------------- transformers VideoMAE models
_VIDEOMAE_FIELDS = (
    "image_size", "patch_size", "num_channels", "num_frames", "tubelet_size", "hidden_size", "num_hidden_layers",
    "num_attention_heads", "intermediate_size", "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
    "initializer_range", "layer_norm_eps", "use_mean_pooling", "id2label", "label2id",
)


def config_from_videomae(videomae_config: Any, **overrides: Any) -> ARVideoConfig:
    """ARVideo config with a VideoMAE config's ViT; the default 2x7x7 clusters shrink to divisors of the grid."""
    fields = {name: getattr(videomae_config, name) for name in _VIDEOMAE_FIELDS if hasattr(videomae_config, name)}
    fields["qkv_bias"] = getattr(videomae_config, "qv_bias", True)
    if "cluster_size" not in overrides:
        sizes = {k: v for k, v in fields.items() if k in ("image_size", "patch_size", "num_frames", "tubelet_size")}
        grid = ARVideoConfig(**sizes, cluster_size=[1, 1, 1]).token_grid
        fields["cluster_size"] = fit_cluster_size(grid)
    return ARVideoConfig(**{**fields, **overrides})


def state_dict_from_videomae(
    state_dict: Mapping[str, torch.Tensor], base_prefix: str = "arvideo."
) -> dict[str, torch.Tensor]:
    """Rename a transformers VideoMAE state dict to ARVideo's (decoder and mask-token weights are dropped)."""
    converted = {}
    for key, value in state_dict.items():
        if key.startswith("videomae."):
            converted[base_prefix + key[len("videomae."):]] = value
        elif key.startswith(("embeddings.", "encoder.", "layernorm.")):
            converted[base_prefix + key] = value
        elif key.startswith(("fc_norm.", "classifier.")):
            converted[key] = value
    return converted


def from_videomae(
    model_class: type[ARVideoPreTrainedModel], videomae: PreTrainedModel | str | os.PathLike, **overrides: Any
) -> ARVideoPreTrainedModel:
    """`model_class` with a transformers VideoMAE model's weights (the model, or a folder / repo id to load it from);
    a classifier keeps the source's head when it has one."""
    if isinstance(videomae, (str, bytes)) or hasattr(videomae, "__fspath__"):
        with_head = model_kind(model_class) == "classification" and has_classification_head(videomae)
        videomae = (AutoModelForVideoClassification if with_head else AutoModel).from_pretrained(videomae)
    model = model_class(config_from_videomae(videomae.config, **overrides))
    _load_converted(model, state_dict_from_videomae(videomae.state_dict()), "VideoMAE weights do not map onto")
    return model


# ----------------------------------------------------------------------------------------- official .pth checkpoints
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
    return {
        k[len("module."):] if k.startswith("module.") else k: v for k, v in checkpoint.items() if torch.is_tensor(v)
    }


def read_official_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The weights of an official `.pth`, loaded with `weights_only=True` (never unpickling code) and unwrapped."""
    return unwrap_state_dict(torch.load(path, map_location="cpu", weights_only=True))


def _convert_block(layer: str, key: str, rest: str, value: torch.Tensor) -> dict[str, torch.Tensor]:
    """One transformer block's official weight (`rest`, after `blocks.i.`) under ARVideo's names."""
    if rest == "attn.qkv.weight":
        return {f"{layer}attention.attention.{part}.weight": weight
                for part, weight in zip(("query", "key", "value"), value.chunk(3, dim=0), strict=True)}
    if rest == "attn.qkv.bias":  # a plain timm ViT: q/k/v biases fused
        return {f"{layer}attention.attention.{part}.bias": bias
                for part, bias in zip(("query", "key", "value"), value.chunk(3, dim=0), strict=True)
                if part != "key" or bias.abs().max() > 0}
    if rest in ("attn.q_bias", "attn.v_bias"):
        return {f"{layer}attention.attention.{'query' if rest == 'attn.q_bias' else 'value'}.bias": value}
    if rest.startswith("gamma_"):
        raise ValueError(
            f"{key}: layer-scale (gamma) weights are not part of the VideoMAE/ARVideo ViT; this checkpoint "
            "comes from another architecture (e.g. a layer-scale ViT) and cannot be converted."
        )
    module, _, leaf = rest.rpartition(".")
    return {f"{layer}{_BLOCK_RENAMES[module]}.{leaf}": value} if module in _BLOCK_RENAMES else {}


def convert_official_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map official names (`[encoder.]blocks.i.attn.qkv`, `q_bias`/`v_bias`, `fc_norm`, `head`) to ARVideo's
    `arvideo.*` names; the pretraining decoder and mask token are dropped, `encoder.norm` becomes `encoder_norm`."""
    converted: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        name = key[len("encoder."):] if key.startswith("encoder.") else key
        if name.startswith("patch_embed.proj."):
            converted["arvideo.embeddings.patch_embeddings.projection." + name.rsplit(".", 1)[1]] = value
        elif match := re.match(r"blocks\.(\d+)\.(.+)", name):
            converted.update(_convert_block(f"arvideo.encoder.layer.{match.group(1)}.", key, match.group(2), value))
        elif name.startswith("norm.") and key.startswith("encoder."):
            converted["encoder_norm." + name[len("norm."):]] = value
        elif name.startswith("norm."):
            converted["arvideo.layernorm." + name[len("norm."):]] = value
        elif name.startswith("fc_norm."):
            converted[name] = value
        elif name.startswith("head."):
            converted["classifier." + name[len("head."):]] = value
    return converted


def config_from_official_state_dict(state_dict: Mapping[str, torch.Tensor], **overrides: Any) -> ARVideoConfig:
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


def _model_from_official(
    state_dict: Mapping[str, torch.Tensor], model_class: type[ARVideoPreTrainedModel], source: Any, **overrides: Any
) -> ARVideoPreTrainedModel:
    model = model_class(config_from_official_state_dict(state_dict, **overrides))
    _load_converted(model, convert_official_state_dict(state_dict), f"{source} does not map onto")
    return model


def load_official_checkpoint(
    path: str | os.PathLike, model_class: type[ARVideoPreTrainedModel], **config_overrides: Any
) -> ARVideoPreTrainedModel:
    """Build `model_class` from an official `.pth` (loaded with `weights_only=True`, never unpickling code)."""
    return _model_from_official(read_official_state_dict(path), model_class, path, **config_overrides)


def official_videomae_forward(
    state_dict: Mapping[str, torch.Tensor], config: Any, pixel_values: torch.Tensor
) -> torch.Tensor:
    """The official VideoMAE ViT (fused qkv with q/v biases, timm names) written out in plain torch, as the reference
    for converted `.pth` files: logits when the state dict has a `head`, else the final token sequence."""
    sd = {k[len("encoder."):] if k.startswith("encoder.") else k: v.float() for k, v in state_dict.items()}
    eps = config.layer_norm_eps
    x = F.conv3d(pixel_values.permute(0, 2, 1, 3, 4), sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"],
                 stride=sd["patch_embed.proj.weight"].shape[2:])
    x = x.flatten(2).transpose(1, 2)
    x = x + get_sinusoid_encoding_table(x.shape[1], x.shape[2]).to(x)
    depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    for i in range(depth):
        x = _official_block(x, sd, f"blocks.{i}.", config.num_attention_heads, eps)
    if "norm.weight" in sd and "encoder.norm.weight" not in state_dict:  # finetuning models without mean pooling
        x = F.layer_norm(x, x.shape[-1:], sd["norm.weight"], sd["norm.bias"], eps)
    if not has_classification_head(sd):
        return x
    pooled = x[:, 0]
    if "fc_norm.weight" in sd:
        pooled = F.layer_norm(x.mean(1), x.shape[-1:], sd["fc_norm.weight"], sd["fc_norm.bias"], eps)
    return F.linear(pooled, sd["head.weight"], sd["head.bias"])


def _official_block(x: torch.Tensor, sd: Mapping[str, torch.Tensor], p: str, heads: int, eps: float) -> torch.Tensor:
    """One pre-norm block of the official ViT (prefix `p`), with layer scale when the weights have it."""
    h = F.layer_norm(x, x.shape[-1:], sd[p + "norm1.weight"], sd[p + "norm1.bias"], eps)
    bias = sd.get(p + "attn.qkv.bias")
    if bias is None and p + "attn.q_bias" in sd:
        bias = torch.cat([sd[p + "attn.q_bias"], torch.zeros_like(sd[p + "attn.v_bias"]), sd[p + "attn.v_bias"]])
    qkv = F.linear(h, sd[p + "attn.qkv.weight"], bias).reshape(x.shape[0], x.shape[1], 3, heads, -1)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)
    attn = ((q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
    h = F.linear((attn @ v).transpose(1, 2).reshape_as(x), sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"])
    x = x + h * sd[p + "gamma_1"] if p + "gamma_1" in sd else x + h
    h = F.layer_norm(x, x.shape[-1:], sd[p + "norm2.weight"], sd[p + "norm2.bias"], eps)
    h = F.gelu(F.linear(h, sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"]))
    h = F.linear(h, sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])
    return x + h * sd[p + "gamma_2"] if p + "gamma_2" in sd else x + h


# ------------------------------------------------------------------------------------- publishable checkpoint folders
@dataclass(frozen=True)
class ConversionReport:
    """What `convert_videomae_checkpoint` wrote and how closely it reproduces the source model."""

    output_dir: Path
    model_class: str
    compared: str
    max_abs_diff: float


def save_publishable_checkpoint(
    model: ARVideoPreTrainedModel, output_dir: str | os.PathLike, image_processor: Any | None = None
) -> Path:
    """`save_pretrained` plus an image processor config (the model's default one when none is given)."""
    output_dir = Path(output_dir)
    check_finite_module(model, f"Not saving {output_dir}", "The source checkpoint holds NaN/inf weights.")
    model.save_pretrained(output_dir)
    (image_processor or image_processor_for(model.config)).save_pretrained(output_dir)
    return output_dir


def _keeps_head(has_head: bool, task: str, source: Path) -> bool:
    """Whether the converted model is a classifier: `task="auto"` follows the source."""
    with_head = has_head if task == "auto" else task == "classification"
    if with_head and not has_head:
        raise ValueError(f"{source} has no classification head; use task='encoder' or 'auto'.")
    return with_head


# The converted model, the source model's forward (the reference) and the source's image processor (or None).
Converted = tuple[ARVideoPreTrainedModel, Callable[[torch.Tensor], torch.Tensor], Any]


def _convert_official(source: Path, task: str, overrides: dict[str, Any]) -> Converted:
    state_dict = read_official_state_dict(source)
    with_head = _keeps_head(has_classification_head(state_dict), task, source)
    model = _model_from_official(state_dict, ARVideoForVideoClassification if with_head else ARVideoModel, source,
                                 **overrides)
    weights = state_dict if with_head else {k: v for k, v in state_dict.items() if not k.startswith("head.")}
    return model, lambda pixels: official_videomae_forward(weights, model.config, pixels), None


def _convert_transformers(source: Path, task: str, overrides: dict[str, Any]) -> Converted:
    with_head = _keeps_head(has_classification_head(source), task, source)
    videomae = (AutoModelForVideoClassification if with_head else AutoModel).from_pretrained(source).eval()
    model = (ARVideoForVideoClassification if with_head else ARVideoModel).from_videomae(videomae, **overrides)
    processor = AutoImageProcessor.from_pretrained(source) if (source / IMAGE_PROCESSOR_NAME).is_file() else None

    def reference(pixels: torch.Tensor) -> torch.Tensor:
        out = videomae(pixel_values=pixels)
        return out.logits if with_head else out.last_hidden_state

    return model, reference, processor


def convert_videomae_checkpoint(
    source: str | os.PathLike,
    output_dir: str | os.PathLike,
    task: Literal["auto", "encoder", "classification"] = "auto",
    id2label: Mapping[int, str] | None = None,
    seed: int = 0,
    **config_overrides: Any,
) -> ConversionReport:
    """Convert an official VideoMAE `.pth` or a transformers VideoMAE folder into an ARVideo checkpoint folder ready for
    `push_checkpoint_to_hub`, and measure the max |difference| against the source model on a random clip.

    `task="auto"` keeps a classification head when the source has one. `.pth` files need what their weights do not
    encode (`image_size`, `num_frames`, `num_attention_heads` when not width/64) as `config_overrides`.
    """
    source = Path(source)
    if id2label is not None:
        labels = {int(k): v for k, v in id2label.items()}
        config_overrides.update(id2label=labels, label2id={v: k for k, v in labels.items()})
    convert = _convert_official if source.is_file() else _convert_transformers
    model, reference, image_processor = convert(source, task, config_overrides)
    compared = "logits" if model_kind(type(model)) == "classification" else "last_hidden_state"
    model.eval()
    config = model.config
    height, width = pair(config.image_size)
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randn(1, config.num_frames, config.num_channels, height, width, generator=generator)
    with torch.no_grad():
        diff = (getattr(model(pixels), compared) - reference(pixels)).abs().max().item()
    if not math.isfinite(diff):
        raise RuntimeError("the converted model produced non-finite outputs")
    save_publishable_checkpoint(model, output_dir, image_processor)
    return ConversionReport(Path(output_dir), type(model).__name__, compared, diff)


# `ARVideoModel.from_videomae` and `ARVideoForVideoClassification.from_videomae` convert with `from_videomae`.
register_videomae_converter(from_videomae)

__all__ = [
    "ConversionReport",
    "config_from_official_state_dict",
    "config_from_videomae",
    "convert_official_state_dict",
    "convert_videomae_checkpoint",
    "from_videomae",
    "has_classification_head",
    "load_official_checkpoint",
    "model_kind",
    "official_videomae_forward",
    "read_official_state_dict",
    "save_publishable_checkpoint",
    "state_dict_from_videomae",
    "unwrap_state_dict",
]

"""The one loader of encoders: any checkpoint folder an ARVideo encoder can come from, as an `ARVideoModel`.

Finetuning, evaluation, features, probes, the reproduction study and the figures (`arvideo_hf.viz`) all load through
`load_encoder`, so a folder that works for one works for all: an ARVideo encoder, pretraining or classifier folder
(the decoder and head are dropped), or a transformers VideoMAE folder (imported with `ARVideoModel.from_videomae`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from transformers import AutoConfig

from ..models.configuration_arvideo import ARVideoConfig
from ..models.modeling_arvideo import ARVideoModel
from .videomae import config_from_videomae


def checkpoint_model_type(path: str | os.PathLike) -> str | None:
    """The `model_type` in a folder's `config.json` (`arvideo`, `videomae`, ...), or None without one."""
    config_file = Path(path) / "config.json"
    return json.loads(config_file.read_text()).get("model_type") if config_file.is_file() else None


def finetuned_stride(path: str | os.PathLike) -> int | None:
    """The frame stride a finetuned folder was trained with (its `finetune_args.json`), so test clips match training;
    None for any other folder."""
    try:
        return json.loads((Path(path) / "finetune_args.json").read_text()).get("sampling_rate")
    except (OSError, ValueError):
        return None


def load_config(model_name_or_path: str | os.PathLike) -> ARVideoConfig:
    """The ARVideo config of a checkpoint; a VideoMAE folder's is mapped with `config_from_videomae`."""
    if checkpoint_model_type(model_name_or_path) == "videomae":
        return config_from_videomae(AutoConfig.from_pretrained(model_name_or_path))
    return ARVideoConfig.from_pretrained(model_name_or_path)


def load_encoder(model_name_or_path: str | os.PathLike) -> ARVideoModel:
    """The encoder of any checkpoint: an imported VideoMAE folder, or an ARVideo encoder/pretraining/classifier
    folder (decoder and head weights are dropped). Raises when encoder weights are missing from the checkpoint."""
    if checkpoint_model_type(model_name_or_path) == "videomae":
        return ARVideoModel.from_videomae(str(model_name_or_path))
    encoder, info = ARVideoModel.from_pretrained(model_name_or_path, output_loading_info=True)
    if info["missing_keys"]:
        raise ValueError(
            f"{model_name_or_path} lacks encoder weights {sorted(info['missing_keys'])[:5]}...; pass a folder written "
            "by pretraining (OUTPUT/encoder or OUTPUT/pretrain_model), a classifier, or a VideoMAE model."
        )
    return encoder


__all__ = ["checkpoint_model_type", "finetuned_stride", "load_config", "load_encoder"]

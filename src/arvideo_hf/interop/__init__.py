"""Encoders in from elsewhere: transformers and official VideoMAE weights (`videomae`), and the one loader that
turns any checkpoint folder an encoder can come from into an `ARVideoModel` (`loading`).

Importing this package connects `ARVideoModel.from_videomae` to the converter: the model code itself never imports
interop (it ships to the Hub without it), so the dependency runs one way, interop -> models.
"""

from .loading import checkpoint_model_type, load_config, load_encoder
from .videomae import (
    ConversionReport,
    config_from_official_state_dict,
    config_from_videomae,
    convert_official_state_dict,
    convert_videomae_checkpoint,
    from_videomae,
    load_official_checkpoint,
    official_videomae_forward,
    save_publishable_checkpoint,
    state_dict_from_videomae,
    unwrap_state_dict,
)


__all__ = [
    "ConversionReport",
    "checkpoint_model_type",
    "config_from_official_state_dict",
    "config_from_videomae",
    "convert_official_state_dict",
    "convert_videomae_checkpoint",
    "from_videomae",
    "load_config",
    "load_encoder",
    "load_official_checkpoint",
    "official_videomae_forward",
    "save_publishable_checkpoint",
    "state_dict_from_videomae",
    "unwrap_state_dict",
]

"""Official VideoMAE `.pth` checkpoints: moved to `arvideo_hf.videomae`, the one VideoMAE interop module. This name
stays so that `arvideo_hf.conversion.load_official_checkpoint` and the other imports of earlier releases keep
working."""

from .videomae import (
    config_from_official_state_dict,
    convert_official_state_dict,
    load_official_checkpoint,
    unwrap_state_dict,
)


__all__ = [
    "config_from_official_state_dict",
    "convert_official_state_dict",
    "load_official_checkpoint",
    "unwrap_state_dict",
]

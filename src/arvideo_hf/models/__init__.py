"""The shipped model code: what a Hub repository holds beside its weights.

`configuration_arvideo.py`, `modeling_arvideo.py` and `clustering.py` are self-contained (relative imports among
the three only), so the publish step copies them verbatim and `trust_remote_code=True` runs them without this
package. `processing_arvideo.py` pairs each config with transformers' VideoMAE image processor (and builds the
video-classification pipeline at any clip geometry); it is not shipped, as
`preprocessor_config.json` already describes that processor.
"""

from .clustering import ClusterGeometry, block_causal_mask, make_cluster_order, plan_sequence
from .configuration_arvideo import ARVIDEO_PRESETS, ARVideoConfig
from .modeling_arvideo import (
    ARVideoForPreTraining,
    ARVideoForPretraining,
    ARVideoForPreTrainingOutput,
    ARVideoForVideoClassification,
    ARVideoModel,
    ARVideoPreTrainedModel,
)
from .processing_arvideo import image_processor_for, video_classification_pipeline


__all__ = [
    "ARVIDEO_PRESETS",
    "ARVideoConfig",
    "ARVideoForPreTraining",
    "ARVideoForPreTrainingOutput",
    "ARVideoForPretraining",
    "ARVideoForVideoClassification",
    "ARVideoModel",
    "ARVideoPreTrainedModel",
    "ClusterGeometry",
    "block_causal_mask",
    "image_processor_for",
    "make_cluster_order",
    "plan_sequence",
    "video_classification_pipeline",
]

"""arvideo_hf: ARVideo (autoregressive video pretraining) models on the Hugging Face transformers API.

Importing the package registers the four classes with transformers' Auto classes.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForPreTraining,
    AutoModelForVideoClassification,
)

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


__version__ = "0.1.0"

AutoConfig.register("arvideo", ARVideoConfig, exist_ok=True)
AutoModel.register(ARVideoConfig, ARVideoModel, exist_ok=True)
AutoModelForPreTraining.register(ARVideoConfig, ARVideoForPretraining, exist_ok=True)
AutoModelForVideoClassification.register(ARVideoConfig, ARVideoForVideoClassification, exist_ok=True)

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
    "make_cluster_order",
    "plan_sequence",
]

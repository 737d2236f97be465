"""arvideo_hf: ARVideo (autoregressive video pretraining) models on the Hugging Face transformers API.

Importing the package registers the four classes with transformers' Auto classes and connects
`ARVideoModel.from_videomae` to the VideoMAE converter (`arvideo_hf.interop`).

Subpackages, from the bottom layer up (each imports only those before it):

- `models`: the shipped model code (configuration, modeling, clustering; the Hub copy is these files) and the
  image processor that goes with a config;
- `recipes`, `results`, `environment`: every preset and the paper's recipe, the one record of a measured number,
  the machine description printed with every number;
- `interop`: VideoMAE weights in, and the one loader of encoders from any checkpoint folder;
- `data`: video lists, decoding, sampling, transforms, collators, the embedded demo set (`arvideo-data`);
- `training`: pretraining (accelerate), finetuning (Trainer), evaluation, features and probes, the study;
- `zoo`: zoo entries, model cards and publishing to the Hub (`python -m arvideo_hf.zoo`);
- `viz`, `demo`: the figures, and `make demo`'s end-to-end run (`python -m arvideo_hf.demo`).
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForPreTraining,
    AutoModelForVideoClassification,
)

from . import interop  # noqa: F401 - registers the VideoMAE converter of from_videomae
from .models import *  # noqa: F403 - the model code's public names (models.__all__) are the package's
from .models import ARVideoConfig, ARVideoForPretraining, ARVideoForVideoClassification, ARVideoModel
from .models import __all__ as _model_names


__version__ = "0.1.0"

AutoConfig.register("arvideo", ARVideoConfig, exist_ok=True)
AutoModel.register(ARVideoConfig, ARVideoModel, exist_ok=True)
AutoModelForPreTraining.register(ARVideoConfig, ARVideoForPretraining, exist_ok=True)
AutoModelForVideoClassification.register(ARVideoConfig, ARVideoForVideoClassification, exist_ok=True)

__all__ = list(_model_names)

"""Training: pretraining with accelerate (`pretrain`), finetuning with transformers' Trainer (`finetune`), multi-view
evaluation (`evaluation`), frozen features and probes (`features`, `probes`), the small-scale study (`study`), and
the optimizer recipes of docs/method.md, Recipes (`optim`).

The arguments and optimizer helpers import at once; the names of the other submodules (`_LAZY`) are imported on
first use by `__getattr__`. Importing any one submodule runs this file first, so an eager import here would make
`arvideo_hf.training.optim` or `.pretrain` pay for all the others (transformers' Trainer, evaluation, probes).
"""

import importlib

from .arguments import PretrainArguments, parse_pretrain_args
from .optim import build_layer_decay_param_groups, build_param_groups, layer_depth, scaled_lr


__all__ = ["PretrainArguments", "build_param_groups", "parse_pretrain_args", "scaled_lr"]

# name -> submodule that defines it, imported by `__getattr__` on first use.
_LAZY = {
    "run_pretraining": "pretrain",
    "ARVideoTrainer": "finetune",
    "ARVideoTrainingArguments": "finetune",
    "FinetuneArguments": "finetune",
    "build_classifier": "finetune",
    "parse_finetune_args": "finetune",
    "run_finetuning": "finetune",
    "EvaluateArguments": "evaluation",
    "MultiViewDataset": "evaluation",
    "average_view_probabilities": "evaluation",
    "parse_evaluate_args": "evaluation",
    "predict_views": "evaluation",
    "run_evaluation": "evaluation",
    "extract_features": "features",
    "load_features": "features",
    "save_features": "features",
    "AttentiveProbe": "probes",
    "LinearProbe": "probes",
    "evaluate_probe": "probes",
    "train_probe": "probes",
}
__all__ += ["build_layer_decay_param_groups", "layer_depth", *_LAZY]


def __getattr__(name: str):
    """The lazily imported names of `_LAZY`, from their submodule."""
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)

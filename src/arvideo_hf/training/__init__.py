"""Training: every command's arguments (`arguments`), pretraining with accelerate (`pretrain`) and its VideoMAE
baseline (`videomae_baseline`), finetuning with transformers' Trainer (`finetune`), multi-view evaluation
(`evaluation`), frozen features and probes (`features`, `probes`), the held-out protocol and the small-scale study
(`protocol`, `study`), metrics (`metrics`), and the optimizer helpers of docs/method.md, Recipes (`optim`).

The arguments and optimizer helpers import at once; the names of the other submodules (`_LAZY`) are imported on
first use by `__getattr__`. Importing any one submodule runs this file first, so an eager import here would make
`arvideo_hf.training.optim` or `.pretrain` pay for all the others (transformers' Trainer, evaluation, probes).
"""

import importlib

from .arguments import (
    ARVideoTrainingArguments,
    EvaluateArguments,
    FeatureArguments,
    FinetuneArguments,
    PretrainArguments,
    ProbeArguments,
    parse_evaluate_args,
    parse_feature_args,
    parse_finetune_args,
    parse_pretrain_args,
    parse_probe_args,
)
from .optim import build_layer_decay_param_groups, build_param_groups, layer_depth, scaled_lr


__all__ = [
    "ARVideoTrainingArguments",
    "EvaluateArguments",
    "FeatureArguments",
    "FinetuneArguments",
    "PretrainArguments",
    "ProbeArguments",
    "build_param_groups",
    "parse_evaluate_args",
    "parse_feature_args",
    "parse_finetune_args",
    "parse_pretrain_args",
    "parse_probe_args",
    "scaled_lr",
]

# name -> submodule that defines it, imported by `__getattr__` on first use.
_LAZY = {
    "run_pretraining": "pretrain",
    "ARVideoTrainer": "finetune",
    "build_classifier": "finetune",
    "run_finetuning": "finetune",
    "MultiViewDataset": "evaluation",
    "average_view_probabilities": "evaluation",
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

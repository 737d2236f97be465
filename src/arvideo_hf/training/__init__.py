"""Training: ARVideo pretraining with accelerate, and the optimizer recipes of docs/method.md, Recipes."""

from .arguments import PretrainArguments, parse_pretrain_args
from .optim import build_layer_decay_param_groups, build_param_groups, layer_depth, scaled_lr


__all__ = ["PretrainArguments", "build_param_groups", "parse_pretrain_args", "scaled_lr"]

# Pretraining, finetuning, multi-view evaluation, features and probes (imported lazily: they pull transformers.Trainer,
# accelerate and the data stack).
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
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)

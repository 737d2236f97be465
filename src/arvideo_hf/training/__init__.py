"""Training: ARVideo pretraining with accelerate, and the optimizer recipes of SPEC.md section 9."""

from .arguments import PretrainArguments, parse_pretrain_args
from .optim import build_param_groups, scaled_lr


__all__ = ["PretrainArguments", "build_param_groups", "parse_pretrain_args", "run_pretraining", "scaled_lr"]


def __getattr__(name: str):
    if name == "run_pretraining":  # imported lazily: it pulls accelerate and the data stack
        from .pretrain import run_pretraining

        return run_pretraining
    raise AttributeError(name)

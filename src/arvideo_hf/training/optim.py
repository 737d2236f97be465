"""AdamW parameter groups and learning-rate scaling shared by pretraining and finetuning (docs/method.md, Recipes)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn


# Parameters that get no weight decay: norms, biases, position tables and learned query/mask/cls tokens.
NO_DECAY_NAMES = ("position_embeddings", "query_token", "mask_token", "cls_token")


def is_no_decay(name: str, param: nn.Parameter) -> bool:
    """True for biases, norm weights (every 1-D tensor) and the named tables/tokens."""
    return param.ndim <= 1 or name.endswith(".bias") or any(key in name for key in NO_DECAY_NAMES)


def build_param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups: `weight_decay` on matrices, none on norms, biases, position tables and query tokens."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if is_no_decay(name, param) else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def scaled_lr(base_lr: float, total_batch_size: int) -> float:
    """The linear scaling rule of MAE/VideoMAE: `base_lr * total_batch / 256`."""
    return base_lr * total_batch_size / 256


__all__ = ["NO_DECAY_NAMES", "build_param_groups", "is_no_decay", "scaled_lr"]


# ------------------------------------------------------------------------------------ layer-wise lr decay (finetuning)
def layer_depth(name: str, num_layers: int) -> int:
    """Depth of a classifier parameter for layer-wise lr decay (BEiT/VideoMAE): the embeddings (and any
    position/cls table) 0, encoder layer `i` `i + 1`, everything after the encoder (final norm, `fc_norm`, head)
    `num_layers + 1`."""
    parts = name.split(".")
    if "embeddings" in parts or any(key in name for key in NO_DECAY_NAMES):
        return 0
    for i, part in enumerate(parts[:-1]):
        if part == "layer" and i > 0 and parts[i - 1] == "encoder" and parts[i + 1].isdigit():
            return int(parts[i + 1]) + 1
    return num_layers + 1


def build_layer_decay_param_groups(
    model: nn.Module,
    weight_decay: float,
    layer_decay: float,
    learning_rate: float,
    num_layers: int | None = None,
) -> list[dict]:
    """AdamW groups for finetuning with layer-wise lr decay (docs/method.md, Finetuning recipe).

    A parameter at depth `d` (see `layer_depth`) gets `lr = learning_rate * layer_decay ** (L + 1 - d)`, so the head
    trains at the full rate and the embeddings at `layer_decay ** (L + 1)` of it. Norms, biases and tables get no
    weight decay (`is_no_decay`). One group per (depth, decay) pair, deepest first (so a trainer that logs the first
    group's lr logs the head's); each group also carries `lr_scale`, `depth` and `param_names`. The `lr` entries are
    the peak rates: a `LambdaLR` schedule (warmup, cosine) scales each group from its own.
    """
    if num_layers is None:
        num_layers = model.config.num_hidden_layers
    if not 0.0 < layer_decay <= 1.0:
        raise ValueError(f"layer_decay must be in (0, 1], got {layer_decay}.")
    groups: dict[tuple[int, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        depth = layer_depth(name, num_layers)
        no_decay = is_no_decay(name, param)
        if (depth, no_decay) not in groups:
            scale = layer_decay ** (num_layers + 1 - depth)
            groups[depth, no_decay] = {
                "params": [],
                "param_names": [],
                "weight_decay": 0.0 if no_decay else weight_decay,
                "lr": learning_rate * scale,
                "lr_scale": scale,
                "depth": depth,
            }
        groups[depth, no_decay]["params"].append(param)
        groups[depth, no_decay]["param_names"].append(name)
    return [groups[key] for key in sorted(groups, key=lambda key: (-key[0], key[1]))]


__all__ += ["build_layer_decay_param_groups", "layer_depth"]


# ------------------------------------------------------------------------------------- warmup + cosine, re-plannable
@dataclass
class WarmupCosine:
    """`LambdaLR` factor: linear warmup from 0, then cosine down to `min_ratio` of the peak at `total_steps`.

    The same curve as transformers' `get_cosine_with_min_lr_schedule_with_warmup`, but as a callable object: a
    wall-clock budget can set `total_steps` once it has measured the step time ([`WarmupCosine.plan_for_budget`]),
    and `LambdaLR.state_dict` saves the object's fields, so a resumed run keeps the horizon it planned.
    """

    warmup_steps: int
    total_steps: int
    min_ratio: float = 0.0
    budget_plans: int = 0  # how often a budget set the horizon (saved, so a resume knows)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return step / max(1, self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def plan_for_budget(
        self,
        steps_done: int,
        seconds_used: float,
        seconds_budget: float,
        warmup_fraction: float | None,
        seconds_per_step: float | None = None,
    ) -> None:
        """Fit the cosine into a wall-clock budget: the steps the remaining seconds allow at the step time
        (`seconds_per_step`, default the mean so far) become the horizon. Warmup is capped at `warmup_fraction` of it
        (it never goes below `steps_done`); `warmup_fraction=None` keeps the warmup, for a re-plan later in the run."""
        seconds_per_step = seconds_per_step or seconds_used / max(1, steps_done)
        remaining = max(0.0, seconds_budget - seconds_used)
        self.total_steps = max(steps_done + 1, steps_done + int(remaining / seconds_per_step))
        self.budget_plans += 1
        if warmup_fraction is not None:
            capped = min(self.warmup_steps, int(warmup_fraction * self.total_steps))
            self.warmup_steps = max(capped, min(steps_done, self.warmup_steps))


__all__ += ["WarmupCosine"]

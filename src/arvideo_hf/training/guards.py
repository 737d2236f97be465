# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""The finetuning side of the non-finite guard: a `Trainer` callback that stops a diverging run before the optimizer
step that would write NaN/inf into the weights (pretraining does the same in its own loop)."""

from __future__ import annotations

from typing import Any

import torch
from transformers import TrainerCallback

from ..integrity import NonFiniteError, nonfinite_names


NONFINITE_ADVICE = ("Lower --learning_rate/--base_lr or set --max_grad_norm; nothing of this step was saved and the "
                    "last checkpoint is intact.")


class NonFiniteGuard(TrainerCallback):
    """Raises `NonFiniteError` when the gradients of an optimizer step (after clipping) hold a NaN/inf, before the
    step, and again if a step left non-finite weights: a diverged finetune ends with an error, never a saved model."""

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, model: torch.nn.Module | None = None,
                              **kwargs: Any) -> None:
        if model is None:
            return
        bad = nonfinite_names((name, param.grad) for name, param in model.named_parameters())
        if bad:
            raise NonFiniteError(
                f"Step {state.global_step + 1}: non-finite gradients (NaN/inf; the loss diverged) in {len(bad)} "
                f"tensors, first: {bad[:3]}. Stopped before the optimizer step. {NONFINITE_ADVICE}"
            )

    def on_optimizer_step(self, args: Any, state: Any, control: Any, model: torch.nn.Module | None = None,
                          **kwargs: Any) -> None:
        if model is None:
            return
        bad = nonfinite_names(model.named_parameters())
        if bad:
            raise NonFiniteError(f"Step {state.global_step + 1}: the optimizer step made {len(bad)} weights "
                                 f"non-finite, first: {bad[:3]}. {NONFINITE_ADVICE}")


__all__ = ["NONFINITE_ADVICE", "NonFiniteGuard"]

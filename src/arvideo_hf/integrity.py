# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Checks that keep a diverged model out of every saved, evaluated or published folder: each names the tensor (and
file) it found non-finite, so the user knows what broke and that nothing was written."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors import safe_open


class NonFiniteError(FloatingPointError):
    """A NaN/inf loss, gradient or weight: raised before the step it would feed or the file it would spoil."""


def nonfinite_names(tensors: Iterable[tuple[str, torch.Tensor | None]]) -> list[str]:
    """Names of the floating-point tensors holding a NaN or an infinity (None entries, e.g. absent grads, skipped)."""
    return [name for name, tensor in tensors
            if tensor is not None and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]


def check_finite_module(model: torch.nn.Module, what: str, advice: str = "") -> None:
    """Raise `NonFiniteError` naming the first non-finite parameters or buffers of `model`."""
    bad = nonfinite_names(model.named_parameters()) + nonfinite_names(model.named_buffers())
    if bad:
        raise NonFiniteError(f"{what}: non-finite values (NaN/inf) in {len(bad)} tensors, first: {bad[:3]}. {advice}")


def check_finite_safetensors(paths: Iterable[str | os.PathLike], advice: str = "") -> None:
    """Raise `NonFiniteError` naming the file and tensor when a safetensors file holds a NaN or an infinity."""
    for path in paths:
        with safe_open(str(path), framework="pt") as handle:
            bad = [key for key in handle.keys() if nonfinite_names([(key, handle.get_tensor(key))])]
        if bad:
            raise NonFiniteError(
                f"{Path(path)} holds non-finite values (NaN/inf) in {len(bad)} tensors, first: {bad[:3]}: the model "
                f"diverged or the file is damaged. {advice}"
            )


__all__ = ["NonFiniteError", "check_finite_module", "check_finite_safetensors", "nonfinite_names"]

"""The end of a multi-process run (pretraining and finetuning alike): every rank leaves its process group cleanly."""

from __future__ import annotations

import time

from accelerate import Accelerator


def end_training(accelerator: Accelerator) -> None:
    """End the trackers and the process group, then give gloo's worker threads a moment with the GIL. A worker drops
    the last collective's work (a Python decref) after the waiting rank has moved on; when the DDP model is freed
    first, its process group's destructor joins that worker while holding the GIL, and the rank hangs at exit
    (torch 2.13 gloo, seen on a non-main rank, which has nothing to do between the last barrier and the end)."""
    accelerator.end_training()
    if accelerator.num_processes > 1:
        time.sleep(0.2)  # releases the GIL: the worker finishes its decref before the model and its Reducer go


__all__ = ["end_training"]

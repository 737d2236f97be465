# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Cluster preemption: SIGTERM (SLURM's `scancel` and time limit, Kubernetes, a spot instance's notice) asks a
pretraining run to stop at the end of its current optimizer step, save a checkpoint there, print the command that
continues it, and exit 0; the next `--resume latest` loses no step."""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from typing import Any

import torch
from transformers.utils import logging


logger = logging.get_logger(__name__)
PREEMPTION_SIGNALS = (signal.SIGTERM,)


class Preemption:
    """Records a preemption signal; `agreed()` tells every process at the end of a step whether any received it."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: dict[int, Any] = {}

    def install(self) -> Preemption:
        if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread only
            for sig in PREEMPTION_SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def uninstall(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        logger.warning(f"Received {signal.Signals(signum).name}: stopping after this step with a checkpoint.")

    def agreed(self, accelerator: Any) -> bool:
        """True on every process when any process was signalled (all stop at the same step, or DDP would hang)."""
        if accelerator.num_processes == 1:
            return self.requested
        flag = torch.tensor(float(self.requested), device=accelerator.device)
        return bool(accelerator.reduce(flag, reduction="sum").item() > 0)


def resume_command(argv: list[str] | None = None) -> str:
    """The command line that continues this run: the same arguments with `--resume latest`."""
    argv = list(sys.argv if argv is None else argv)
    args = argv[1:]
    for i, arg in enumerate(args):
        if arg == "--resume" and i + 1 < len(args):
            args = args[:i] + args[i + 2:]
            break
        if arg.startswith("--resume="):
            args = args[:i] + args[i + 1:]
            break
    return shlex.join(["accelerate", "launch", argv[0], *args, "--resume", "latest"])


__all__ = ["PREEMPTION_SIGNALS", "Preemption", "resume_command"]

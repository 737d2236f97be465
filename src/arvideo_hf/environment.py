"""One description of the machine, printed with every published number (benchmarks, the reproduction study)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(load: bool = True) -> str:
    """CPU, usable cores, torch threads, current load (`load`: only when said while the measurement runs), torch
    version and accelerator, in one line."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load_text = f", load avg {os.getloadavg()[0]:.1f}" if load and hasattr(os, "getloadavg") else ""
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu_model()}, {cores} cores usable, {torch.get_num_threads()} torch threads{load_text}, "
        f"torch {torch.__version__}, {device}"
    )


__all__ = ["cpu_model", "describe_machine"]

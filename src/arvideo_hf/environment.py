"""One description of the machine, printed with every published number (benchmarks, the reproduction study)."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Iterable
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


_LOAD = re.compile(r", load avg ([0-9.]+)")


def merge_machines(descriptions: Iterable[str]) -> str:
    """`describe_machine` lines of several runs in one: lines that differ only in their load become one line with the
    load's range (`load avg 2.3-2.7`); different machines are joined with "; "."""
    loads: dict[str, list[float]] = {}
    for line in descriptions:
        loads.setdefault(_LOAD.sub("{load}", line, count=1), []).extend(float(x) for x in _LOAD.findall(line)[:1])
    merged = []
    for line, values in sorted(loads.items()):
        low, high = (min(values), max(values)) if values else (None, None)
        load = "" if low is None else f", load avg {low:.1f}" + (f"-{high:.1f}" if high > low else "")
        merged.append(line.replace("{load}", load))
    return "; ".join(merged)


__all__ = ["cpu_model", "describe_machine", "merge_machines"]

# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""What a pretraining checkpoint holds besides accelerate's files, and how a resume checks it before trusting it.

- The learning-rate schedule (plan and position) is JSON (`schedule.json`), not a pickle registered with accelerate:
  accelerate unpickles registered objects with `weights_only=False`, which runs any code a shared checkpoint carries.
  The files accelerate itself loads (`optimizer.bin`, `random_states_*.pkl`) go through `torch.load(weights_only=True)`
  here first: a file that is truncated or carries code makes the checkpoint invalid, and nothing of it is loaded.
- `--resume latest` takes the newest checkpoint that validates, warns naming each one it skipped, and fails naming
  the file when none does.
- A changed schedule argument is re-planned from the current step (the log lists saved and new values); arguments
  that change what a step is (batch, accumulation, processes, wall-clock budget) are refused, listed.
- `metrics.jsonl` is read line by line: a torn last line (a run killed mid-write) is dropped with a warning.
- A checkpoint write that fails for lack of space says "No space left", names the folder and removes the half-written
  checkpoint.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import pickle
import shutil
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import load as accelerate_load
from safetensors import SafetensorError, safe_open

from .optim import WarmupCosine
from .sharded import MODEL_SHARDS, OPTIMIZER_SETTINGS, OPTIMIZER_SHARDS


logger = logging.getLogger(__name__)
SCHEDULE_FILE = "schedule.json"
REQUIRED_FILES = ("trainer_state.json", SCHEDULE_FILE, "model.safetensors", "optimizer.bin")
# An FSDP checkpoint (training/sharded.py) holds safetensors shards of the model and optimizer instead.
SHARDED_REQUIRED_FILES = ("trainer_state.json", SCHEDULE_FILE, MODEL_SHARDS, OPTIMIZER_SHARDS, OPTIMIZER_SETTINGS)
LOADED_PICKLES = ("*.bin", "random_states_*.pkl")  # what accelerate's load_state unpickles (weights_only=True)
# The same for a transformers Trainer checkpoint (finetuning): what `Trainer.train(resume_from_checkpoint=...)` loads.
TRAINER_REQUIRED_FILES = ("trainer_state.json", "model.safetensors", "optimizer.pt", "scheduler.pt")
TRAINER_LOADED_PICKLES = ("optimizer.pt", "scheduler.pt", "rng_state*.pth")
# Re-planned on resume when changed: the schedule and optimizer settings, all applied from the current step.
REPLANNED_ARGS = ("learning_rate", "base_lr", "min_lr", "warmup_epochs", "epochs", "max_steps", "weight_decay",
                  "adam_beta1", "adam_beta2", "max_grad_norm")
# Refused on resume when changed: they change what one step is, so the saved position would mean other data.
FIXED_ARGS = ("per_device_batch_size", "gradient_accumulation_steps", "max_seconds")


# ----------------------------------------------------------------------------------------------------- validation
def checkpoint_problem(folder: Path, required: tuple[str, ...] = REQUIRED_FILES,
                       pickles: tuple[str, ...] = LOADED_PICKLES) -> str | None:
    """Why `folder` cannot be resumed from (naming the file), or None when every file it needs is present and
    readable. Pickled files are test-loaded with `weights_only=True`, so one that carries code is rejected unrun."""
    if required == REQUIRED_FILES and (folder / MODEL_SHARDS).is_dir():
        required = SHARDED_REQUIRED_FILES
    for name in required:
        if not (folder / name).exists():
            return f"{folder / name} is missing"
    foreign = sorted(folder.glob("custom_checkpoint_*"))
    if foreign:  # accelerate would unpickle these with weights_only=False; this project never writes them
        return (f"{foreign[0]} is a pickle of registered state, which this project never writes and never loads "
                "(accelerate would unpickle it with weights_only=False)")
    for name in ("trainer_state.json", SCHEDULE_FILE, "training_args.json", OPTIMIZER_SETTINGS):
        path = folder / name
        if path.is_file():
            try:
                json.loads(path.read_text())
            except (OSError, ValueError) as err:
                return f"{path} is not readable JSON ({err})"
    for path in sorted(folder.rglob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as handle:
                for key in handle.keys():
                    handle.get_slice(key)
        except (OSError, SafetensorError, ValueError) as err:
            return f"{path} is not a readable safetensors file ({err})"
    for path in sorted({path for pattern in pickles for path in folder.glob(pattern)}):
        try:
            accelerate_load(path, map_location="cpu", weights_only=True)  # accelerate's loader: numpy RNG allowed
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as err:
            return f"{path} cannot be loaded as plain tensors with weights_only=True ({type(err).__name__}: " \
                   f"{str(err).splitlines()[0] if str(err) else ''})"
    return None


def newest_valid(candidates: list[Path], where: Path, trainer: bool = False) -> Path | None:
    """The first of `candidates` (newest first) that validates; a warning per skipped one; an error naming the
    problem of each when there are candidates and none validates. `trainer`: Trainer (finetuning) checkpoints."""
    problems = []
    for path in candidates:
        problem = (checkpoint_problem(path, TRAINER_REQUIRED_FILES, TRAINER_LOADED_PICKLES) if trainer
                   else checkpoint_problem(path))
        if problem is None:
            return path
        problems.append(problem)
        logger.warning(f"Skipping checkpoint {path.name}: {problem}.")
    if problems:
        raise FileNotFoundError(
            f"No checkpoint in {where} can be resumed from: {'; '.join(problems)}. Restore the file(s), or start "
            "afresh with --overwrite_output_dir or another --output_dir."
        )
    return None


# ------------------------------------------------------------------------------------------------------ schedule
def save_schedule(folder: Path, schedule: WarmupCosine, scheduler: torch.optim.lr_scheduler.LambdaLR,
                  num_processes: int) -> None:
    """The schedule's plan and position as JSON (what `LambdaLR.state_dict` would pickle)."""
    state = {"schedule": dataclasses.asdict(schedule), "last_epoch": scheduler.last_epoch,
             "base_lrs": list(scheduler.base_lrs), "last_lr": list(scheduler.get_last_lr()),
             "num_processes": num_processes}
    (folder / SCHEDULE_FILE).write_text(json.dumps(state, indent=2))


def changed_args(saved: dict[str, Any], now: dict[str, Any], names: tuple[str, ...]) -> dict[str, tuple[Any, Any]]:
    """`{argument: (saved, now)}` for the `names` whose values differ (absent in `saved`: not compared)."""
    return {name: (saved[name], now.get(name)) for name in names if name in saved and saved[name] != now.get(name)}


def restore_schedule(
    checkpoint: Path,
    saved_args: dict[str, Any],
    run_args: dict[str, Any],
    schedule: WarmupCosine,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    num_processes: int,
    step: int,
) -> dict[str, tuple[Any, Any]]:
    """Put the saved schedule back, or, when schedule arguments changed, re-plan it from `step` with the new ones
    (`schedule` and `scheduler` were built from them) and return the changes. Refuses changes of `FIXED_ARGS`."""
    saved = json.loads((checkpoint / SCHEDULE_FILE).read_text())
    fixed = changed_args(saved_args, run_args, FIXED_ARGS)
    if saved.get("num_processes", num_processes) != num_processes:
        fixed["number of processes"] = (saved["num_processes"], num_processes)
    if fixed:
        raise ValueError(
            f"--resume: {checkpoint} was written with other values of arguments that define a step; (saved, new): "
            f"{fixed}. Resume with the saved values, or start a new run in another --output_dir."
        )
    changes = changed_args(saved_args, run_args, REPLANNED_ARGS)
    optimizer = scheduler.optimizer
    if not changes:
        for name, value in saved["schedule"].items():
            setattr(schedule, name, value)
        scheduler.base_lrs = list(saved["base_lrs"])
    else:  # the new plan and peak rates (already in `schedule` and `scheduler`), and the optimizer settings now
        for group in optimizer.param_groups:
            group["betas"] = (run_args["adam_beta1"], run_args["adam_beta2"])
            if group["weight_decay"]:
                group["weight_decay"] = run_args["weight_decay"]
    scheduler.last_epoch = step
    for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["initial_lr"], group["lr"] = base, base * schedule(step)
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
    if changes:
        logger.warning(
            f"Resuming with changed schedule arguments (saved, new): {changes}. The schedule is re-planned from "
            f"step {step}: warmup {schedule.warmup_steps}, horizon {schedule.total_steps} steps, lr now "
            f"{scheduler._last_lr[0]:.3g} (saved plan: {saved['last_lr'][0]:.3g})."
        )
    return changes


# --------------------------------------------------------------------------------------------------- write errors
def is_out_of_space(error: BaseException, folder: Path) -> bool:
    """True for ENOSPC (as an errno or in a serializer's message), and for any other write error (torch's "unexpected
    pos") when the folder's filesystem has (almost) no space left: torch reports a full disk without its errno."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if "No space left" in str(error) or "os error 28" in str(error):  # safetensors' Rust error keeps the text
        return True
    try:
        return shutil.disk_usage(folder).free < 2**20
    except OSError:
        return False


def out_of_space_error(folder: Path, name: str) -> OSError:
    return OSError(
        errno.ENOSPC,
        f"No space left on device in {folder} while writing checkpoint {name}; the half-written checkpoint was "
        "removed and the earlier checkpoints are intact. Free space there (or lower --save_total_limit), then "
        "continue with --resume latest",
    )


__all__ = ["FIXED_ARGS", "REPLANNED_ARGS", "SCHEDULE_FILE", "changed_args", "checkpoint_problem", "is_out_of_space",
           "newest_valid", "out_of_space_error", "restore_schedule", "save_schedule"]

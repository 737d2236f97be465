# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""The `arvideo-tiny-pretrained` zoo entry's checkpoint folder, built from a finished pretraining run:

    python -m arvideo_hf.zoo pretrained RUN_DIR --out checkpoints/arvideo-tiny-pretrained \\
        --record src/arvideo_hf/zoo/pretrained_run.json --card model_cards/arvideo-tiny-pretrained.md

The folder is a Hub repository (`save_hub_folder`: the encoder's safetensors, refused when non-finite, its
preprocessor config, the remote code and a card) plus `pretraining_run.json`, the run's own record (command, steps,
wall time, machine) that the card states. Nothing in it is typed by hand: every fact is read from the run's
`summary.json`, `training_args.json` and `encoder/config.json`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..locking import check_deletable, claim_folder
from ..models.configuration_arvideo import ARVideoConfig
from .cards import DEFAULT_ORGANIZATION
from .entries import PRETRAINED_NAME, PretrainingRun, pretrained_entry
from .publish import save_hub_folder


RUN_RECORD = "pretraining_run.json"  # the run's record inside the checkpoint folder
OWNER = "zoo pretrained"  # the command name that marks a folder this builder made (arvideo_hf.locking)
_NOT_RUN_CONFIG = ("architectures", "auto_map", "transformers_version", "dtype", "torch_dtype", "_name_or_path")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A run file, or an error saying the folder is not a finished pretraining run."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: pass the --output_dir of a finished `examples/pretrain.py` run "
                                f"(it writes {what} when it ends).")
    return json.loads(path.read_text(encoding="utf-8"))


def preset_differences(config: ARVideoConfig, preset: str) -> dict[str, Any]:
    """The config fields of `config` that differ from `preset`'s: what the card's entry must apply to match it."""
    base, found = ARVideoConfig.from_preset(preset).to_dict(), config.to_dict()
    return {k: v for k, v in found.items() if k not in _NOT_RUN_CONFIG and k in base and base[k] != v}


def read_pretraining_run(run_dir: str | os.PathLike) -> PretrainingRun:
    """The record of a finished pretraining run, read from what it wrote; an error naming the fix for a run made
    before runs recorded their command and machine."""
    run_dir = Path(run_dir)
    summary = _read_json(run_dir / "summary.json", "summary.json")
    args = _read_json(run_dir / "training_args.json", "training_args.json")
    _read_json(run_dir / "encoder" / "config.json", "encoder/")
    if "command" not in summary:
        raise ValueError(f"{run_dir / 'summary.json'} records no command: the run predates runs recording their "
                         "command and machine. Rerun it with this version, so its card names what made it.")
    config = ARVideoConfig.from_pretrained(run_dir / "encoder")
    return PretrainingRun(
        command=summary["command"], steps=summary["steps"], wall_seconds=summary["wall_seconds"],
        machine=summary.get("machine"), method=summary["method"], model_preset=args["model_preset"],
        dataset="demo" if args.get("train_list") is None else args["train_list"], videos=summary.get("videos"),
        processes=summary.get("processes", 1), sampling_rate=args["sampling_rate"],
        config_overrides=preset_differences(config, args["model_preset"]),
    )


def _replace_folder(staged: Path, out_dir: Path) -> None:
    """Move the finished `staged` folder to `out_dir`, replacing a folder this builder made there earlier."""
    if out_dir.exists():
        print(f"Replacing the {PRETRAINED_NAME} folder this command built earlier in {out_dir}.")
        shutil.rmtree(out_dir)
    os.replace(staged, out_dir)


def build_pretrained_folder(
    run_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    organization: str = DEFAULT_ORGANIZATION,
    record_file: str | os.PathLike | None = None,
    card_file: str | os.PathLike | None = None,
) -> Path:
    """Write the `arvideo-tiny-pretrained` folder for the run in `run_dir` into `out_dir`; also the run's record to
    `record_file` (the package's committed copy) and the card to `card_file` (model_cards/), when given."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    run = read_pretraining_run(run_dir)
    if run.method != "arvideo":
        raise ValueError(f"{run_dir} was pretrained with --method {run.method}; {PRETRAINED_NAME} is an ARVideo "
                         "encoder: pass an ARVideo run.")
    found = sorted(out_dir.iterdir()) if out_dir.is_dir() else []
    check_deletable(out_dir, OWNER, found, "--out")  # never replace a folder this builder did not make
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Built beside `out_dir` and moved there once complete: a refusal (non-finite weights) or a crash midway leaves
    # the previous folder as it was.
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}-", dir=out_dir.parent) as staging:
        staged = Path(staging) / "folder"
        save_hub_folder(run_dir / "encoder", staged, f"{organization}/{PRETRAINED_NAME}", pretrained_entry(run))
        record = json.dumps(run.to_dict(), indent=2) + "\n"
        (staged / RUN_RECORD).write_text(record, encoding="utf-8")
        claim_folder(staged, OWNER)
        _replace_folder(staged, out_dir)
    if record_file is not None:
        Path(record_file).write_text(record, encoding="utf-8")
    if card_file is not None:
        shutil.copyfile(out_dir / "README.md", card_file)
    return out_dir


__all__ = ["OWNER", "RUN_RECORD", "build_pretrained_folder", "preset_differences", "read_pretraining_run"]

# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""The held-out protocol that scores an encoder, shared by the demo (`arvideo_hf.demo`) and the study (`study`).

An encoder folder is scored three ways, each through the same functions as the example scripts:

- a finetune on a small labeled subset (`examples/finetune.py --preset <preset>`), tested with multi-view testing
  (`examples/evaluate.py`); the random-init baseline finetunes with `--init random` (a fresh init per seed);
- an attentive and a linear probe on frozen features (`examples/probe.py`), trained on all labels.

Lists are "path label" files; relative names are read from `root` (the demo set's folder by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data import read_kinetics_list
from ..models.configuration_arvideo import ARVideoConfig
from ..models.modeling_arvideo import ARVideoModel
from ..models.processing_arvideo import image_processor_for
from .arguments import EvaluateArguments, ProbeArguments, parse_finetune_args
from .evaluation import run_evaluation
from .finetune import run_finetuning
from .pretrain import reset_accelerate_state
from .probes import run_probe


@dataclass
class HeldOutProtocol:
    """Where the labeled data is and how the held-out scores are made (the defaults are the demo set's)."""

    root: Path
    output_dir: Path
    low_label_list: str = "train_10pct.txt"
    train_list: str = "train.txt"
    test_list: str = "test.txt"
    class_names: str | None = "labels.txt"
    preset: str = "tiny"
    finetune_epochs: float | None = None
    probe_epochs: int = 50
    num_clips: int = 2
    num_crops: int = 1
    sampling_rate: int = 2
    num_workers: int = 1
    command: str = "python -m arvideo_hf.demo"  # what eval_results.json records as the command that made it
    dataset: str = "arvideo-demo"  # what eval_results.json records as the dataset (arvideo_hf.results.DATASETS)
    allow_outside_root: bool = False  # lists whose entries resolve outside `root` (--allow_outside_root)

    def path(self, name: str) -> Path:
        """A list or label file: absolute as given, else under `root`."""
        return Path(self.root) / name

    def list_sizes(self) -> dict[str, int]:
        """Videos in the low-label, train and test lists (what each score was trained or tested on)."""
        lists = {"low_label": self.low_label_list, "train": self.train_list, "test": self.test_list}
        return {name: len(read_kinetics_list(self.path(item), root=self.root).records) for name, item in lists.items()}


def save_random_encoder(config: ARVideoConfig, folder: Path, seed: int = 0) -> Path:
    """A freshly initialized encoder saved with its preprocessor, so probes read it like a pretrained one."""
    torch.manual_seed(seed)
    encoder = ARVideoModel(config)
    encoder.save_pretrained(folder)
    image_processor_for(config).save_pretrained(folder)
    return Path(folder)


def finetune(protocol: HeldOutProtocol, encoder: Path, name: str, seed: int, *, init: str = "pretrained",
             train_list: str | None = None, extra: list[str] | None = None) -> dict[str, Any]:
    """Finetune `encoder` (`init="random"`: its architecture, freshly initialized from `seed`) on `train_list`
    (default: the low-label list), then test it with `num_clips` x `num_crops` views; top-1, the views, the test size,
    the final training loss and the train seconds."""
    output_dir = Path(protocol.output_dir) / f"finetune-{name}-seed{seed}"
    epochs = [] if protocol.finetune_epochs is None else ["--num_train_epochs", f"{protocol.finetune_epochs:g}"]
    labeled = protocol.path(train_list or protocol.low_label_list)
    argv = ["--preset", protocol.preset, "--init", init, "--model_name_or_path", str(encoder),
            "--train_list", str(labeled), "--data_root", str(protocol.root), "--output_dir", str(output_dir),
            "--overwrite_output_dir", "True", "--seed", str(seed), "--save_strategy", "no", "--report_to", "none",
            "--dataloader_num_workers", str(protocol.num_workers), "--use_cpu", str(not torch.cuda.is_available()),
            *epochs, *(extra or [])]
    if protocol.class_names is not None:
        argv += ["--class_names", str(protocol.path(protocol.class_names))]
    argv += ["--allow_outside_root", "True"] if protocol.allow_outside_root else []
    reset_accelerate_state()  # before TrainingArguments, which captures the distributed state
    train_metrics = run_finetuning(*parse_finetune_args(argv))
    summary = run_evaluation(
        EvaluateArguments(model_name_or_path=str(output_dir), test_list=str(protocol.path(protocol.test_list)),
                          data_root=str(protocol.root), num_clips=protocol.num_clips, num_crops=protocol.num_crops,
                          num_workers=protocol.num_workers, sampling_rate=protocol.sampling_rate,
                          dataset=protocol.dataset, allow_outside_root=protocol.allow_outside_root),
        command=f"{protocol.command}  # {name}, seed {seed}",
    )
    return {"top1": summary["top1"], "views": summary["views"], "num_test": summary["num_videos"],
            "train_loss": train_metrics.get("train_loss"), "finetune_seconds": train_metrics.get("wall_seconds")}


def probes(protocol: HeldOutProtocol, encoder: Path, name: str) -> dict[str, float]:
    """Attentive and linear probes on frozen features of `encoder`, trained on all labels of `train_list`. The linear
    probe reads the attentive probe's token features (mean-pooling them is what its own extraction would do)."""
    output_dir = Path(protocol.output_dir) / f"probes-{name}"
    lists = {"train_list": str(protocol.path(protocol.train_list)), "test_list": str(protocol.path(protocol.test_list))}
    attentive = run_probe(ProbeArguments(
        probe="attentive", model_name_or_path=str(encoder), **lists, data_root=str(protocol.root),
        allow_outside_root=protocol.allow_outside_root, sampling_rate=protocol.sampling_rate,
        epochs=protocol.probe_epochs, output_dir=str(output_dir),
    ))
    features = {f"{split}_features": str(output_dir / f"{split}_features.safetensors") for split in ("train", "test")}
    linear = run_probe(ProbeArguments(probe="linear", **features, epochs=protocol.probe_epochs,
                                      output_dir=str(output_dir)))
    return {"attentive": attentive["top1"], "linear": linear["top1"]}


__all__ = ["HeldOutProtocol", "finetune", "probes", "save_random_encoder"]

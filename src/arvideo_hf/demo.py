# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""`python -m arvideo_hf.demo`: does ARVideo pretraining help? Finetune the demo encoder and a randomly initialized
twin with the same recipe and budget on the demo set's train split, test both with multi-view testing on its test
split, and print the table.

It expects the encoder written by `accelerate launch examples/pretrain.py --output_dir outputs/pretrain-demo`
(`make demo` runs that first) and runs that pretraining itself when the folder is missing (unless
`--pretrain_if_missing False`). Minutes on 2 CPU cores.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from transformers import HfArgumentParser


logger = logging.getLogger(__name__)

PRETRAIN_COMMAND = "accelerate launch --num_processes 1 examples/pretrain.py --output_dir outputs/pretrain-demo"


@dataclass
class DemoArguments:
    """The demo's knobs; the defaults are what the README's numbers were measured with."""

    pretrained: str = field(default="outputs/pretrain-demo/encoder", metadata={"help": "The pretrained encoder."})
    output_dir: str = field(default="outputs/finetune-demo", metadata={"help": "Both classifiers and the results."})
    demo_root: str | None = field(default=None, metadata={"help": "The demo set (default: $ARVIDEO_DEMO_DIR)."})
    pretrain_if_missing: bool = field(default=True, metadata={"help": "Pretrain first when --pretrained is missing."})
    epochs: float = field(default=10, metadata={"help": "Finetuning epochs (both runs)."})
    batch_size: int = field(default=16)
    learning_rate: float = field(
        default=1e-3,
        metadata={"help": "Absolute peak lr, as the tiny pretraining preset (base_lr x 16/256 barely moves)."},
    )
    warmup_epochs: float = field(default=1.0)
    layer_decay: float = field(default=0.75)
    drop_path: float = field(default=0.1)
    label_smoothing: float = field(default=0.1)
    mixup: float = field(default=0.8)
    cutmix: float = field(default=1.0)
    rand_augment: str = field(default="rand-m7-n4")
    erase_prob: float = field(default=0.25)
    num_clips: int = field(default=5, metadata={"help": "Test clips per video."})
    num_crops: int = field(default=3, metadata={"help": "Test crops per clip."})
    num_workers: int = field(default=1, metadata={"help": "DataLoader workers (decoding and augmentation)."})
    torch_threads: int | None = field(
        default=None, metadata={"help": "Threads of the training process (default: the cores the workers leave)."}
    )
    seed: int = field(default=0)


def ensure_encoder(args: DemoArguments) -> Path | None:
    """The encoder folder, pretraining it first when missing and allowed; `None` (after saying how) otherwise."""
    encoder = Path(args.pretrained)
    if (encoder / "config.json").is_file():
        return encoder
    print(f"No pretrained encoder at {encoder}. Create it with:\n    {PRETRAIN_COMMAND}\n(`make demo` runs it first).")
    if not args.pretrain_if_missing:
        return None
    if encoder.name != "encoder":
        print("--pretrained must end in /encoder to be created here (pretraining writes OUTPUT/encoder).")
        return None
    print("Running that pretraining now (the tiny preset, a few minutes on CPU)...")
    from .training import parse_pretrain_args, run_pretraining

    argv = ["--output_dir", str(encoder.parent), "--resume", "latest"]  # continues a killed run, never mixes two
    argv += ["--demo_root", args.demo_root] if args.demo_root else []
    run_pretraining(parse_pretrain_args(argv))
    _reset_accelerate_state()
    return encoder


def _reset_accelerate_state() -> None:
    """Forget the process-wide accelerate state, so the next run (Trainer, evaluation) configures it afresh."""
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def finetune_and_evaluate(args: DemoArguments, encoder: Path, init: str) -> dict[str, Any]:
    """One arm of the comparison: finetune (`init` = pretrained or random), then multi-view test."""
    from .training.evaluation import EvaluateArguments, run_evaluation
    from .training.finetune import ARVideoTrainingArguments, FinetuneArguments, run_finetuning

    output_dir = Path(args.output_dir) / init
    finetune_args = FinetuneArguments(
        model_name_or_path=str(encoder), init=init, demo_root=args.demo_root, base_lr=0.0,
        warmup_epochs=args.warmup_epochs, layer_decay=args.layer_decay, drop_path=args.drop_path,
        label_smoothing=args.label_smoothing, mixup=args.mixup, cutmix=args.cutmix, rand_augment=args.rand_augment,
        erase_prob=args.erase_prob, flip=False,
    )
    _reset_accelerate_state()  # before TrainingArguments, which captures the distributed state
    training_args = ARVideoTrainingArguments(
        output_dir=str(output_dir), num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        save_strategy="no", logging_steps=20, seed=args.seed, dataloader_num_workers=args.num_workers,
        use_cpu=not _cuda(), overwrite_output_dir=True,  # the demo's own arm folder: a re-run replaces (and logs) it
    )
    started = time.perf_counter()
    train_metrics = run_finetuning(finetune_args, training_args)
    finetuned = time.perf_counter()
    command = f"python -m arvideo_hf.demo  # {init} arm"
    summary = run_evaluation(
        EvaluateArguments(
            model_name_or_path=str(output_dir), demo_root=args.demo_root, num_clips=args.num_clips,
            num_crops=args.num_crops, batch_size=4, num_workers=args.num_workers,
        ),
        command=command,
    )
    done = time.perf_counter()
    return {
        "init": init, "top1": summary["top1"], "top5": summary["top5"],
        "mean_class_accuracy": summary["mean_class_accuracy"], "views": summary["views"],
        "num_videos": summary["num_videos"], "train_loss": train_metrics.get("train_loss"),
        "finetune_seconds": round(finetuned - started, 1), "eval_seconds": round(done - finetuned, 1),
        "model": str(output_dir),
    }


def set_torch_threads(args: DemoArguments) -> int:
    """Leave a core to each DataLoader worker: on a small CPU machine, intra-op threads that compete with the
    decoding/augmentation workers make every step several times slower (measured: 0.56 s vs 3.4 s per step of 16
    clips on 2 cores with one worker)."""
    import torch

    threads = args.torch_threads or max(1, (os.cpu_count() or 1) - args.num_workers)
    if not _cuda():
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def format_table(rows: list[dict[str, Any]]) -> str:
    """The markdown table printed at the end (and saved as `demo_results.md`)."""
    lines = [
        "| initialization | top-1 (%) | top-5 (%) | mean class acc. (%) | views | finetune (s) | eval (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {"pretrained": "ARVideo-pretrained", "random": "random init"}
    for row in rows:
        lines.append(
            f"| {names.get(row['init'], row['init'])} | {row['top1']:.1f} | {row['top5']:.1f} | "
            f"{row['mean_class_accuracy']:.1f} | {row['views']} | {row['finetune_seconds']:.0f} | "
            f"{row['eval_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run both arms and print the comparison; returns a process exit code."""
    (args,) = HfArgumentParser(DemoArguments).parse_args_into_dataclasses(args=sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING)
    import torch

    threads = torch.get_num_threads()
    started = time.perf_counter()
    try:
        encoder = ensure_encoder(args)
        if encoder is None:
            return 1
        set_torch_threads(args)
        rows = [finetune_and_evaluate(args, encoder, init) for init in ("pretrained", "random")]
        used_threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(threads)
    wall = time.perf_counter() - started
    table = format_table(rows)
    import platform

    machine = f"{platform.machine()}, {os.cpu_count()} cores, {used_threads} torch thread(s), " + (
        torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"
    )
    footer = (
        f"Demo test split ({rows[0]['num_videos']} videos, 6 motion classes, chance 16.7%); the same recipe and "
        f"{args.epochs:g} finetuning epochs for both; total wall time {wall / 60:.1f} min ({machine})."
    )
    print("\n" + table + "\n\n" + footer)
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "demo_results.md").write_text(table + "\n\n" + footer + "\n")
    (output_dir / "demo_results.json").write_text(
        json.dumps({"rows": rows, "wall_seconds": round(wall, 1), "machine": machine, "args": asdict(args)}, indent=2)
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

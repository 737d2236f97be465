# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Every command's arguments, as dataclasses `HfArgumentParser` reads from the command line or one YAML/JSON file.

Defaults come from `arvideo_hf.recipes`. The data-location arguments are declared once (`DataArguments`,
`LabeledDataArguments`) and shared by every command that reads videos. One parser (`parse_arguments`) serves every
command and applies one preset mechanism: a `--preset` (or a file's `preset` key) supplies values for every argument
the user did not give, so an explicit argument always wins, on the command line and in a file alike.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from transformers import HfArgumentParser, TrainingArguments
from transformers.trainer_utils import SaveStrategy, SchedulerType

from ..models.configuration_arvideo import HEAD_NORMS
from ..recipes import FINETUNE_PRESETS, PAPER_FINETUNING, PAPER_PRETRAINING, RUN_PRESETS, run_preset


# ------------------------------------------------------------------------------------------------------- the parser
def preset_argv(values: Mapping[str, Any]) -> list[str]:
    """A preset's values as command-line arguments (lists spread, `None` left out)."""
    argv: list[str] = []
    for name, value in values.items():
        if value is None:
            continue
        items = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
        argv += [f"--{name}", *items]
    return argv


def _preset_in_argv(argv: Sequence[str], default: str) -> str:
    preset = default
    for i, arg in enumerate(argv):
        if arg == "--preset" and i + 1 < len(argv):
            preset = argv[i + 1]
        elif arg.startswith("--preset="):
            preset = arg.split("=", 1)[1]
    return preset


def parse_arguments(
    types: type | tuple[type, ...],
    argv: Sequence[str] | None = None,
    presets: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[Any, ...]:
    """The dataclasses `types` from the command line, or from a single `.yaml`/`.yml`/`.json` file of arguments.

    With `presets`, the first type's `preset` field names one; its values fill every argument not given explicitly.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    types = types if isinstance(types, tuple) else (types,)
    parser = HfArgumentParser(types)
    default = types[0].__dataclass_fields__["preset"].default if presets else None
    if len(argv) == 1 and argv[0].endswith((".yaml", ".yml", ".json")):
        text = Path(argv[0]).read_text(encoding="utf-8")
        data = json.loads(text) if argv[0].endswith(".json") else yaml.safe_load(text) or {}
        if presets:
            data = {**run_preset(str(data.get("preset", default)), presets)[1], **data}
        return tuple(parser.parse_dict(data))
    if presets:
        argv = preset_argv(run_preset(_preset_in_argv(argv, default), presets)[1]) + argv
    return tuple(parser.parse_args_into_dataclasses(args=argv))


# ------------------------------------------------------------------------------------------------------------ data
@dataclass(kw_only=True)
class DataArguments:
    """Where videos come from: `path [label]` lists relative to `data_root`, or else the embedded demo set."""

    data_root: str | None = field(default=None, metadata={"help": "Root of relative paths in the lists."})
    demo_root: str | None = field(
        default=None, metadata={"help": "The demo set's folder, built on first use (used when no list is given)."}
    )
    allow_outside_root: bool = field(
        default=False, metadata={"help": "Accept list entries that resolve outside --data_root (../, absolute)."}
    )


@dataclass(kw_only=True)
class LabeledDataArguments(DataArguments):
    """`DataArguments` for labeled lists, whose label names may come from a file."""

    class_names: str | None = field(
        default=None, metadata={"help": "labels.txt or id2label.json naming the classes (default: the lists')."}
    )


# ----------------------------------------------------------------------------------------------------- pretraining
@dataclass(kw_only=True)
class PretrainArguments(DataArguments):
    """Everything `examples/pretrain.py` takes. `None` means "from the run preset" (`recipes.RUN_PRESETS`)."""

    preset: str = field(default="tiny", metadata={"help": "Run preset: tiny (demo), small, base, large."})
    output_dir: str = field(default="outputs/pretrain-demo", metadata={"help": "Checkpoints, models, logs."})
    method: str = field(
        default="arvideo", metadata={"help": "arvideo, or videomae (transformers' VideoMAEForPreTraining, tube masks)."}
    )
    # model
    model_preset: str | None = field(default=None, metadata={"help": "ARVideoConfig preset (default: the run's)."})
    config_overrides: str | None = field(default=None, metadata={"help": 'JSON, e.g. \'{"drop_path_rate": 0.1}\'.'})
    cluster_size: list[int] | None = field(default=None, metadata={"help": "K_T K_H K_W, e.g. 1 1 1 (TokenGPT)."})
    prediction_order: str | None = field(default=None, metadata={"help": "random, spatial_first, temporal_first."})
    mask_ratio: float | None = field(
        default=None, metadata={"help": "In-cluster mask ratio (ARVideo 0.8); tube mask ratio for videomae (0.9)."}
    )
    attn_implementation: str = field(default="sdpa", metadata={"help": "eager or sdpa."})
    gradient_checkpointing: bool = field(default=False)
    # data
    train_list: str | None = field(default=None, metadata={"help": "Kinetics-style list (path [label] per line)."})
    sampling_rate: int | None = field(default=None, metadata={"help": "Frame stride (4 for K400, 2 for SSv2)."})
    crop_scales: list[float] | None = field(
        default=None,
        metadata={"help": "Multi-scale crop sizes as fractions of the short side (VideoMAE: 1 .875 .75 .66; tiny: 1, "
                  "full frames, as its finetuning sees them)."},
    )
    repeated_aug: int | None = field(
        default=None,
        metadata={"help": "Augmented clips per decoded video (tiny: 4): a step holds videos x this many clips, which "
                  "the base_lr scaling counts."},
    )
    num_workers: int | None = field(default=None)
    cache_mb: float | None = field(
        default=None,
        metadata={"help": "Keep decoded small videos in memory, up to this many MiB per loader process (default 0: "
                  "off; only useful with --num_workers 0, as pretraining's workers restart each epoch)."},
    )
    max_bad_fraction: float = field(default=0.1, metadata={"help": "Stop when more videos than this fail."})
    # schedule
    epochs: int | None = field(default=None)
    max_steps: int | None = field(default=None, metadata={"help": "Optimizer steps; overrides epochs."})
    max_seconds: float | None = field(
        default=None,
        metadata={"help": "Wall-clock budget: stops and saves after it; without --max_steps the warmup + cosine "
                  "schedule is fitted to it (step time from steps 10-20 and again at a quarter and half of the "
                  "budget; warmup at most a tenth of the steps)."},
    )
    per_device_batch_size: int | None = field(default=None)
    gradient_accumulation_steps: int = field(default=1)
    base_lr: float | None = field(
        default=None, metadata={"help": f"Scaled by total batch / 256 (the paper's {PAPER_PRETRAINING['base_lr']})."}
    )
    learning_rate: float | None = field(default=None, metadata={"help": "Absolute peak lr; overrides base_lr."})
    min_lr: float | None = field(default=None)
    warmup_epochs: float | None = field(default=None)
    weight_decay: float = field(default=PAPER_PRETRAINING["weight_decay"])
    adam_beta1: float = field(default=PAPER_PRETRAINING["adam_beta1"])
    adam_beta2: float = field(default=PAPER_PRETRAINING["adam_beta2"])
    max_grad_norm: float | None = field(default=None, metadata={"help": "Clip gradients to this norm."})
    mixed_precision: str | None = field(default=None, metadata={"help": "no, bf16, fp16 (else accelerate's)."})
    seed: int = field(default=0)
    # checkpoints and logs
    save_steps: int | None = field(default=None)
    save_total_limit: int = field(default=2)
    resume: str | None = field(default=None, metadata={"help": "'latest' or a checkpoint folder."})
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Delete the previous run's checkpoints, models and logs in --output_dir."}
    )
    skip_nonfinite: int = field(
        default=0, metadata={"help": "Skip up to this many batches with a non-finite loss (default 0: stop at one)."}
    )
    logging_steps: int | None = field(default=None)
    report_to: str = field(default="auto", metadata={"help": "auto (tensorboard if installed), none, or a tracker."})

    def __post_init__(self) -> None:
        self.preset = run_preset(self.preset, RUN_PRESETS)[0]
        missing = [name for name in ("model_preset", "per_device_batch_size", "epochs") if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{missing} are unset: build the arguments with parse_pretrain_args, which applies the "
                             f"--preset, or pass them.")
        if self.base_lr is None and self.learning_rate is None:
            self.base_lr = PAPER_PRETRAINING["base_lr"]
        if self.method not in ("arvideo", "videomae"):
            raise ValueError(f"method must be arvideo or videomae, got {self.method!r}.")
        if self.per_device_batch_size < 1 or self.gradient_accumulation_steps < 1:
            raise ValueError("per_device_batch_size and gradient_accumulation_steps must be >= 1.")
        if self.resume and self.overwrite_output_dir:
            raise ValueError("--resume continues the run in --output_dir, --overwrite_output_dir deletes it; pick one.")
        if self.skip_nonfinite < 0:
            raise ValueError(f"skip_nonfinite must be >= 0, got {self.skip_nonfinite}.")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


def parse_pretrain_args(argv: list[str] | None = None) -> PretrainArguments:
    """Pretraining arguments from the command line or one `.yaml`/`.yml`/`.json` file, with the run preset applied."""
    return parse_arguments(PretrainArguments, argv, RUN_PRESETS)[0]


# Arguments about the output folder, not the run: a resumed or overwriting run trains the same model.
_FOLDER_ONLY_ARGUMENTS = ("resume", "overwrite_output_dir")


def _run_fields(args: PretrainArguments) -> dict[str, Any]:
    """The arguments that decide what a run trains (all but `_FOLDER_ONLY_ARGUMENTS`)."""
    return {k: v for k, v in dataclasses.asdict(args).items() if k not in _FOLDER_ONLY_ARGUMENTS}


def pretrain_command(args: PretrainArguments, processes: int = 1) -> str:
    """The shortest `examples/pretrain.py` command that parses to `args`: `--preset` and every argument that differs
    from it, checked by parsing it back (a run records it, so its model card names the command, not a retyping).
    Arguments no command line can express (a `null` from a file) fall back to the run's `training_args.json`."""
    preset = _run_fields(parse_pretrain_args(["--preset", args.preset]))
    argv = ["--preset", args.preset]
    for name, value in _run_fields(args).items():
        if name != "preset" and value != preset[name] and value is not None:
            argv += preset_argv({name: value})
    if _run_fields(parse_pretrain_args(argv)) != _run_fields(args):
        argv = [str(Path(args.output_dir) / "training_args.json")]
    launcher = ["python"] if processes == 1 else ["accelerate", "launch", "--num_processes", str(processes)]
    return shlex.join([*launcher, "examples/pretrain.py", *argv])


# ------------------------------------------------------------------------------------------------------ finetuning
@dataclass(kw_only=True)
class FinetuneArguments(LabeledDataArguments):
    """Model, data and recipe arguments of `examples/finetune.py` (Trainer's own come from `TrainingArguments`).
    The defaults are the paper's recipe (`arvideo_hf.recipes.PAPER_FINETUNING`)."""

    preset: str = field(
        default="paper",
        metadata={"help": "Recipe defaults: paper (VideoMAE's, for real data) or tiny (small clips and few labels: "
                  "no mixup/cutmix/RandAugment/erasing/smoothing/drop path, BatchNorm head, lr 1e-3, 30 epochs, batch "
                  "16, decoded videos kept in memory by persistent loader workers)."},
    )
    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "ARVideo checkpoint (pretraining output, its encoder/, a classifier) or a VideoMAE folder."},
    )
    init: str = field(default="pretrained", metadata={"help": "pretrained, or random (same architecture)."})
    model_preset: str = field(default="tiny", metadata={"help": "Preset for --init random without a model."})
    attn_implementation: str = field(default="sdpa", metadata={"help": "eager or sdpa."})
    num_frames: int | None = field(
        default=None, metadata={"help": "Finetune at this many frames instead of the checkpoint's (a multiple of "
                                "the tubelet size; docs/method.md, Clip geometry)."},
    )
    image_size: int | None = field(
        default=None, metadata={"help": "Finetune at this image size instead of the checkpoint's (a multiple of the "
                                "patch size)."},
    )
    # data
    train_list: str | None = field(default=None, metadata={"help": "'path label' list (default: the demo set)."})
    validation_list: str | None = field(default=None, metadata={"help": "Evaluated with --eval_strategy epoch/steps."})
    sampling: str = field(default="dense", metadata={"help": "dense (Kinetics) or segment (TSN, for SSv2)."})
    sampling_rate: int | None = field(default=None, metadata={"help": "Frame stride of dense clips (4 K400; demo 2)."})
    repeated_aug: int = field(default=1, metadata={"help": "Augmented clips per decoded video (VideoMAE K400: 2)."})
    cache_mb: float = field(
        default=0,
        metadata={"help": "Keep decoded small videos in memory, up to this many MiB per loader worker (tiny: 1024, "
                  "with persistent workers so the cache outlives the epoch)."},
    )
    # recipe (docs/method.md, Finetuning recipe)
    base_lr: float = field(
        default=PAPER_FINETUNING["base_lr"],
        metadata={"help": "Peak lr = base_lr x clips per step / 256; 0 uses --learning_rate as given."},
    )
    layer_decay: float = field(
        default=PAPER_FINETUNING["layer_decay"], metadata={"help": "Layer-wise lr decay (1 disables it)."}
    )
    drop_path: float = field(default=PAPER_FINETUNING["drop_path"], metadata={"help": "Encoder stochastic depth."})
    warmup_epochs: float = field(
        default=PAPER_FINETUNING["warmup_epochs"], metadata={"help": "Linear warmup (ignored when --warmup_steps > 0)."}
    )
    label_smoothing: float = field(default=PAPER_FINETUNING["label_smoothing"])
    mixup: float = field(default=PAPER_FINETUNING["mixup"], metadata={"help": "Mixup alpha (0 disables)."})
    cutmix: float = field(default=PAPER_FINETUNING["cutmix"], metadata={"help": "Cutmix alpha (0 disables)."})
    mixup_prob: float = field(
        default=PAPER_FINETUNING["mixup_prob"], metadata={"help": "Probability of mixing a batch."}
    )
    mixup_switch_prob: float = field(
        default=PAPER_FINETUNING["mixup_switch_prob"], metadata={"help": "Probability of cutmix when both are on."}
    )
    rand_augment: str = field(
        default=PAPER_FINETUNING["rand_augment"], metadata={"help": "RandAugment 'rand-m<M>-n<N>', or 'none'."}
    )
    min_crop_scale: float = field(
        default=PAPER_FINETUNING["min_crop_scale"], metadata={"help": "Smallest area of the random resized crop."}
    )
    flip: bool | None = field(default=None, metadata={"help": "Horizontal flip (default on, off for the demo set)."})
    erase_prob: float = field(default=PAPER_FINETUNING["erase_prob"], metadata={"help": "Random erasing probability."})
    head_norm: str = field(
        default=PAPER_FINETUNING["head_norm"],
        metadata={"help": "fc_norm over the pooled tokens: layer (VideoMAE's LayerNorm) or batch (BatchNorm: removes "
                  "the vector pretraining puts in every clip; tiny preset)."},
    )

    def __post_init__(self) -> None:
        self.preset = run_preset(self.preset, FINETUNE_PRESETS)[0]
        if self.init not in ("pretrained", "random"):
            raise ValueError(f"--init must be 'pretrained' or 'random', got {self.init!r}.")
        if self.init == "pretrained" and self.model_name_or_path is None:
            raise ValueError("--init pretrained needs --model_name_or_path (or use --init random --model_preset).")
        if self.sampling not in ("dense", "segment"):
            raise ValueError(f"--sampling must be 'dense' or 'segment', got {self.sampling!r}.")
        if self.head_norm not in HEAD_NORMS:
            raise ValueError(f"--head_norm must be one of {HEAD_NORMS} (layer: VideoMAE's), got {self.head_norm!r}.")

    @property
    def uses_demo(self) -> bool:
        return self.train_list is None


@dataclass
class ARVideoTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the finetuning recipe's defaults (AdamW weight decay 0.05, cosine, 2 workers)."""

    output_dir: str | None = field(default="outputs/finetune", metadata={"help": "Model, logs and checkpoints."})
    weight_decay: float = field(
        default=PAPER_FINETUNING["weight_decay"], metadata={"help": "AdamW weight decay (none on norms/biases)."}
    )
    adam_beta2: float = field(default=PAPER_FINETUNING["adam_beta2"])
    lr_scheduler_type: SchedulerType | str = field(
        default=PAPER_FINETUNING["lr_scheduler_type"], metadata={"help": "Schedule after warmup."}
    )
    dataloader_num_workers: int = field(default=2)
    remove_unused_columns: bool = field(default=False, metadata={"help": "Keep our collator's keys as they are."})
    save_strategy: SaveStrategy | str = field(default="epoch")
    save_total_limit: int | None = field(default=2)
    logging_steps: float = field(default=10)
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Delete the previous run's checkpoints, model and logs in --output_dir."}
    )

    def __post_init__(self) -> None:
        if self.dataloader_num_workers == 0:  # a preset's persistent workers: without workers there is none to keep
            self.dataloader_persistent_workers = False
        super().__post_init__()


def parse_finetune_args(argv: list[str] | None = None) -> tuple[FinetuneArguments, ARVideoTrainingArguments]:
    """Both argument groups from the command line or one `.json`/`.yaml` file, with the finetuning preset applied."""
    args, training_args = parse_arguments((FinetuneArguments, ARVideoTrainingArguments), argv, FINETUNE_PRESETS)
    if args.head_norm == "batch" and training_args.per_device_train_batch_size * args.repeated_aug < 2:
        raise ValueError(
            "--head_norm batch trains its BatchNorm on each batch, which needs at least 2 clips per device: raise "
            "--per_device_train_batch_size (--gradient_accumulation_steps keeps the effective batch) or "
            "--repeated_aug, or use --head_norm layer."
        )
    return args, training_args


# ------------------------------------------------------------------------------------------------------ evaluation
@dataclass(kw_only=True)
class EvaluateArguments(LabeledDataArguments):
    """What `examples/evaluate.py` takes."""

    model_name_or_path: str = field(metadata={"help": "A finetuned classifier folder (ARVideo or VideoMAE)."})
    test_list: str | None = field(default=None, metadata={"help": "'path label' list (default: the demo test)."})
    dataset: str | None = field(default=None, metadata={"help": "Dataset name for eval_results.json."})
    split: str = field(default="test", metadata={"help": "Split name for eval_results.json."})
    sampling: str = field(default="dense", metadata={"help": "dense (Kinetics) or segment (SSv2)."})
    sampling_rate: int | None = field(default=None, metadata={"help": "Dense frame stride (default 4; demo 2)."})
    num_clips: int | None = field(default=None, metadata={"help": "Temporal clips (default 5 dense, 2 segment)."})
    num_crops: int = field(default=3, metadata={"help": "Spatial crops: 3 or 1."})
    batch_size: int = field(default=4, metadata={"help": "Videos per process per forward (x clips x crops)."})
    view_chunk: int | None = field(default=None, metadata={"help": "Max clips per forward pass (memory cap)."})
    num_workers: int = field(default=2)
    output_dir: str | None = field(default=None, metadata={"help": "Where results go (default: the model folder)."})
    backend: str = field(default="auto", metadata={"help": "Video decoding: auto, decord or pyav."})
    num_frames: int | None = field(
        default=None, metadata={"help": "Test at this many frames per clip instead of the checkpoint's (recorded)."}
    )
    image_size: int | None = field(
        default=None, metadata={"help": "Test at this image size instead of the checkpoint's (recorded)."}
    )


def parse_evaluate_args(argv: list[str] | None = None) -> EvaluateArguments:
    return parse_arguments(EvaluateArguments, argv)[0]


# ------------------------------------------------------------------------------------------- features and probes
@dataclass(kw_only=True)
class FeatureArguments(DataArguments):
    """What `examples/extract_features.py` takes."""

    model_name_or_path: str = field(metadata={"help": "An ARVideo checkpoint of any kind, or a VideoMAE one."})
    output: str = field(default="features.safetensors", metadata={"help": "The safetensors file to write."})
    video_list: str | None = field(default=None, metadata={"help": "'path [label]' list (default: the demo split)."})
    demo_split: str = field(default="train", metadata={"help": "Demo split when no --video_list: train or test."})
    pooling: str = field(default="mean", metadata={"help": "mean or tokens."})
    layers: list[int] | None = field(default=None, metadata={"help": "Hidden states to keep, e.g. -1 -2."})
    sampling: str = field(default="dense", metadata={"help": "dense or segment."})
    sampling_rate: int | None = field(default=None, metadata={"help": "Dense frame stride (default 4; demo 2)."})
    batch_size: int = field(default=8)
    num_workers: int = field(default=2)
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, ... (default: cuda if available)."})


def parse_feature_args(argv: list[str] | None = None) -> FeatureArguments:
    return parse_arguments(FeatureArguments, argv)[0]


@dataclass(kw_only=True)
class ProbeArguments(DataArguments):
    """What `examples/probe.py` takes: features files, or a model and two video lists to extract them from."""

    probe: str = field(default="linear", metadata={"help": "linear or attentive."})
    model_name_or_path: str | None = field(default=None, metadata={"help": "Encoder to extract features with."})
    train_features: str | None = field(default=None, metadata={"help": "safetensors from extract_features.py."})
    test_features: str | None = field(default=None)
    train_list: str | None = field(default=None, metadata={"help": "'path label' list (default: demo train)."})
    test_list: str | None = field(default=None, metadata={"help": "'path label' list (default: demo test)."})
    layer: str = field(
        default="-1",
        metadata={"help": "Hidden state(s) to probe: 0 = embeddings, i = after block i, -1 = last; 'all' = every "
                  "layer, or a comma list such as '0,2': one probe per layer, per-layer results and a plot."},
    )
    sampling_rate: int | None = field(default=None, metadata={"help": "Dense frame stride (default 4; demo 2)."})
    epochs: int = field(default=50)
    batch_size: int = field(default=64)
    lr: float = field(default=1e-3)
    weight_decay: float = field(default=0.05)
    num_heads: int = field(default=8, metadata={"help": "Attention heads of the attentive probe."})
    seed: int = field(default=0)
    output_dir: str = field(default="outputs/probe")
    device: str | None = field(default=None)


def parse_probe_args(argv: list[str] | None = None) -> ProbeArguments:
    return parse_arguments(ProbeArguments, argv)[0]


# ------------------------------------------------------------------------------------------ the study and the demo
@dataclass(kw_only=True)
class ReproduceArguments(LabeledDataArguments):
    """What `examples/reproduce.py` takes. Defaults are the README's demo study."""

    results_dir: str = field(default="reproduce", metadata={"help": "Table, plot, JSON and runs/*.json (committed)."})
    work_dir: str = field(default="outputs/reproduce", metadata={"help": "Pretraining and evaluation outputs."})
    runs: list[str] | None = field(
        default=None, metadata={"help": "Subset of the study's runs (arvideo_hf.training.study.STUDY_RUNS; all)."}
    )
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2], metadata={"help": "Seeds of the low-label finetunes."})
    pretrain_seed: int = field(default=0, metadata={"help": "Seed of each run's one pretraining (and random init)."})
    # pretraining (shared by every run): the run preset of examples/pretrain.py, for a number of steps
    preset: str = field(default="tiny", metadata={"help": "Run preset of examples/pretrain.py and finetune.py."})
    config_overrides: str | None = field(default=None, metadata={"help": "JSON model overrides for every run."})
    pretrain_steps: int = field(default=600, metadata={"help": "Optimizer steps per pretraining run."})
    pretrain_seconds: float | None = field(default=None, metadata={"help": "Wall-clock budget per run instead."})
    pretrain_batch_size: int | None = field(default=None, metadata={"help": "Videos per step (the preset's)."})
    num_workers: int = field(default=1)
    # data (default: the embedded demo set: unlabeled pool, 10% labels, all labels, test split)
    unlabeled_list: str | None = field(default=None, metadata={"help": "Pretraining list (paths; labels ignored)."})
    low_label_list: str | None = field(default=None, metadata={"help": "'path label' list: the finetunes."})
    train_list: str | None = field(default=None, metadata={"help": "'path label' list: the probes (all labels)."})
    test_list: str | None = field(default=None, metadata={"help": "'path label' list: every reported top-1."})
    dataset: str | None = field(
        default=None, metadata={"help": "Dataset name in eval_results.json (default: demo's, or the lists' folder)."}
    )
    # evaluation (the held-out protocol of arvideo_hf.training.protocol)
    finetune_epochs: float | None = field(default=None, metadata={"help": "Low-label finetune epochs (preset's)."})
    probe_epochs: int = field(default=50)
    num_clips: int = field(default=2, metadata={"help": "Test clips per video."})
    num_crops: int = field(default=1, metadata={"help": "Test crops per clip."})
    sampling_rate: int = field(default=2, metadata={"help": "Frame stride of probe and test clips (tiny: 2)."})
    keep_checkpoints: bool = field(default=False, metadata={"help": "Keep optimizer checkpoints after a run."})
    readme: str | None = field(default=None, metadata={"help": "Rewrite the study-table block of this README."})

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("Give at least one seed.")
        lists = (self.unlabeled_list, self.low_label_list, self.train_list, self.test_list)
        if any(item is None for item in lists) and any(item is not None for item in lists):
            raise ValueError("Pass all of --unlabeled_list, --low_label_list, --train_list and --test_list, or none "
                             "(the demo set).")

    def settings(self) -> dict[str, Any]:
        """Every setting that changes a run's result (not where results go, nor which runs/seeds are selected)."""
        skip = {"results_dir", "work_dir", "runs", "seeds", "keep_checkpoints", "num_workers", "readme", "dataset",
                "allow_outside_root"}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


def parse_reproduce_args(argv: list[str] | None = None) -> ReproduceArguments:
    return parse_arguments(ReproduceArguments, argv)[0]


@dataclass(kw_only=True)
class DemoArguments:
    """What `python -m arvideo_hf.demo` takes; the defaults are what the README's numbers were measured with."""

    output_dir: str = field(default="outputs/demo", metadata={"help": "Every run and the results (overwritten)."})
    demo_root: str | None = field(default=None, metadata={"help": "The demo set (default: $ARVIDEO_DEMO_DIR)."})
    pretrain_steps: int = field(
        default=400, metadata={"help": "Optimizer steps of each pretraining: the same result on any machine (a quiet "
                               "2-core machine ran 397 in the former 60 s budget)."})
    pretrain_seconds: float | None = field(
        default=None, metadata={"help": "A wall-clock budget instead of --pretrain_steps (the result then depends on "
                                "the machine's speed and load)."})
    pretrain_batch_size: int | None = field(default=None, metadata={"help": "Pretraining videos per step (tiny's)."})
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2], metadata={"help": "Seeds of the low-label finetunes."})
    low_label_list: str = field(default="train_10pct.txt", metadata={"help": "Labeled subset for the finetunes."})
    supervised_epochs: float = field(default=4, metadata={"help": "Epochs of the all-labels supervised reference."})
    finetune_epochs: float | None = field(default=None, metadata={"help": "Low-label finetune epochs (tiny's)."})
    probe_epochs: int = field(default=50)
    num_clips: int = field(default=2, metadata={"help": "Test clips per video."})
    num_crops: int = field(default=1, metadata={"help": "Test crops per clip (the demo's frames are the crop)."})
    num_workers: int = field(default=1, metadata={"help": "DataLoader workers (decoding and augmentation)."})
    results_file: str | None = field(default=None, metadata={"help": "Also write results.json here."})
    readme: str | None = field(default=None, metadata={"help": "Rewrite the demo table block of this README."})
    skip_pretraining: bool = field(default=False, metadata={"help": "Reuse the pretrained encoders in output_dir."})
    zoo_checkpoint: str = field(
        default="checkpoints/arvideo-tiny-pretrained",
        metadata={"help": "The zoo's pretrained encoder, finetuned and probed as a fourth row (skipped, saying so, "
                  "when the folder is missing; '' or 'none' leaves it out)."})


def parse_demo_args(argv: list[str] | None = None) -> DemoArguments:
    return parse_arguments(DemoArguments, argv)[0]


__all__ = [
    "ARVideoTrainingArguments",
    "DataArguments",
    "DemoArguments",
    "EvaluateArguments",
    "FeatureArguments",
    "FinetuneArguments",
    "LabeledDataArguments",
    "PretrainArguments",
    "ProbeArguments",
    "ReproduceArguments",
    "parse_arguments",
    "parse_demo_args",
    "parse_evaluate_args",
    "parse_feature_args",
    "parse_finetune_args",
    "parse_pretrain_args",
    "parse_probe_args",
    "parse_reproduce_args",
    "preset_argv",
    "pretrain_command",
]

# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Finetuning an ARVideo (or VideoMAE) encoder for video classification with `transformers.Trainer`.

VideoMAE's recipe (docs/method.md, Finetuning recipe) is the default: AdamW, layer-wise lr decay 0.75, drop path 0.1,
label smoothing 0.1 folded into mixup 0.8 / cutmix 1.0 soft targets, RandAugment m7-n4, random resized crop, flip
(off for direction-sensitive labels such as SSv2 and the demo set), random erasing 0.25, warmup then cosine, base lr
scaled by batch / 256. The saved folder holds the classifier, its `preprocessor_config.json` and `id2label`, so
`from_pretrained` and `pipeline("video-classification")` work on it directly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from transformers import Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..data import (
    ClassificationCollator,
    DenseSampler,
    SegmentSampler,
    VideoClipDataset,
    open_demo_dataset,
    read_kinetics_list,
)
from ..data.finetune_transforms import FinetuneTransform, MixupCollator
from ..integrity import check_finite_module
from ..interop.loading import load_config, load_encoder
from ..locking import check_deletable, claim_folder, delete_outputs, hold_output_dir
from ..models.configuration_arvideo import ARVideoConfig
from ..models.modeling_arvideo import ARVideoForVideoClassification
from ..models.processing_arvideo import image_processor_for
from ..zoo import publish  # push_checkpoint_to_hub is looked up at call time (tests stand in for the upload)
from .arguments import ARVideoTrainingArguments, FinetuneArguments, parse_finetune_args
from .checkpointing import newest_valid
from .guards import NONFINITE_ADVICE, NonFiniteGuard
from .metrics import compute_metrics
from .optim import build_layer_decay_param_groups, scaled_lr
from .processes import end_training
from .sharded import consolidated_model, fsdp_on_cpu, is_fsdp


logger = logging.getLogger(__name__)
ARGS_FILE = "finetune_args.json"
# What finetuning (and evaluation into the model folder) writes under --output_dir, besides `checkpoint-*` folders.
FINETUNE_OUTPUTS = ("model.safetensors", "config.json", "training_args.bin", "preprocessor_config.json", ARGS_FILE,
                    "all_results.json", "train_results.json", "eval_results.json", "eval_details.json",
                    "confusion_matrix.png", "trainer_state.json", "runs")
# The arguments that make a finetuning run's model and data: `--resume_from_checkpoint latest` checks them.
FINETUNE_IDENTITY = ("model_name_or_path", "init", "model_preset", "train_list", "validation_list", "data_root",
                     "class_names", "demo_root", "sampling", "sampling_rate", "repeated_aug", "num_frames",
                     "image_size", "head_norm")
FINETUNE_PATHS = ("train_list", "validation_list", "data_root", "class_names", "demo_root")


# -------------------------------------------------------------------------------------------------- output folder
def previous_finetune_files(output_dir: Path) -> list[Path]:
    """What an earlier finetuning run wrote in `output_dir` (checkpoints, model, metrics, logs)."""
    found = [output_dir / name for name in FINETUNE_OUTPUTS if (output_dir / name).exists()]
    return found + sorted(output_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*"))


def finetune_identity(run_args: dict[str, Any]) -> dict[str, Any]:
    """The model and data arguments of a finetuning run, data paths made absolute."""
    identity = {name: run_args.get(name) for name in FINETUNE_IDENTITY}
    identity["head_norm"] = identity["head_norm"] or "layer"  # runs from before the option had VideoMAE's head
    for name in FINETUNE_PATHS:
        if identity[name] is not None:
            identity[name] = os.path.abspath(identity[name])
    return identity


def latest_finetune_checkpoint(output_dir: Path, args: FinetuneArguments) -> str | None:
    """The newest complete `checkpoint-*` (its `trainer_state.json` is written last) of a run with these model and
    data arguments; None when there is none, an error when the folder's run had other ones."""
    checkpoints = output_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*")
    complete = [path for path in checkpoints if (path / "trainer_state.json").exists()]
    if not complete:
        logger.warning(f"--resume_from_checkpoint latest: no complete checkpoint in {output_dir}; starting afresh.")
        return None
    saved_file = output_dir / ARGS_FILE
    if saved_file.is_file():
        saved, now = finetune_identity(json.loads(saved_file.read_text())), finetune_identity(dataclasses.asdict(args))
        mismatches = {name: (saved[name], now[name]) for name in FINETUNE_IDENTITY if saved[name] != now[name]}
        if mismatches:
            raise ValueError(
                f"--resume_from_checkpoint latest: the checkpoints in {output_dir} were written with other model or "
                f"data arguments (saved, now): {mismatches}. Resume with the same arguments, or start afresh with "
                "--overwrite_output_dir or another --output_dir."
            )
    newest_first = sorted(complete, key=lambda path: int(path.name.rsplit("-", 1)[-1]), reverse=True)
    return str(newest_valid(newest_first, output_dir, trainer=True))  # warns naming each one it skips


def prepare_finetune_output_dir(args: FinetuneArguments, training_args: ARVideoTrainingArguments) -> str | None:
    """Refuse a new run over an earlier one unless it resumes or overwrites it (transformers' convention), so two
    runs never share checkpoints and logs; returns the checkpoint to resume from (`latest` resolved), or None."""
    output_dir = Path(training_args.output_dir)
    previous = previous_finetune_files(output_dir)
    resume, overwrite = training_args.resume_from_checkpoint, training_args.overwrite_output_dir
    if resume and overwrite:
        raise ValueError("--resume_from_checkpoint continues the run in --output_dir, --overwrite_output_dir deletes "
                         "it; pick one.")
    if previous and not resume and not overwrite:
        raise FileExistsError(
            f"{output_dir} already holds a finetuning run ({', '.join(path.name for path in previous)}). Continue it "
            "with --resume_from_checkpoint latest, delete it with --overwrite_output_dir, or choose another "
            "--output_dir."
        )
    if previous and overwrite:
        check_deletable(output_dir, "finetune", previous, "--overwrite_output_dir")
    with training_args.main_process_first(desc="clearing the output folder"):
        if previous and overwrite and training_args.process_index == 0:
            logger.warning(f"--overwrite_output_dir: deleting the previous run in {output_dir}: "
                           f"{[path.name for path in previous]}")
            delete_outputs(previous)
        if training_args.process_index == 0 and (overwrite or not previous):  # a fresh run: the folder is its own
            claim_folder(output_dir, "finetune")
    return latest_finetune_checkpoint(output_dir, args) if resume == "latest" else resume


def save_finetune_args(args: FinetuneArguments, training_args: ARVideoTrainingArguments) -> None:
    """`finetune_args.json`, written before training so `--resume_from_checkpoint latest` can compare with it."""
    if training_args.process_index == 0:
        output_dir = Path(training_args.output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / ARGS_FILE).write_text(json.dumps(dataclasses.asdict(args), indent=2, sort_keys=True))


# ---------------------------------------------------------------------------------------------------------- model
def build_classifier(
    model_name_or_path: str | os.PathLike | None,
    id2label: dict[int, str],
    *,
    init: str = "pretrained",
    model_preset: str = "tiny",
    drop_path: float = 0.1,
    head_norm: str = "layer",
    attn_implementation: str = "sdpa",
    num_frames: int | None = None,
    image_size: int | None = None,
) -> ARVideoForVideoClassification:
    """`ARVideoForVideoClassification` with a fresh `fc_norm` (`head_norm`: layer or batch) and head for `id2label`,
    and the checkpoint's encoder weights (`init="pretrained"`) or the same architecture randomly initialized
    (`init="random"`, the baseline), at the checkpoint's clip geometry or at `num_frames`/`image_size` (weights do
    not depend on it)."""
    encoder = None
    if init == "pretrained":
        if model_name_or_path is None:
            raise ValueError("init='pretrained' needs model_name_or_path.")
        encoder = load_encoder(model_name_or_path)
        config = encoder.config
    elif model_name_or_path is not None:
        config = load_config(model_name_or_path)
    else:
        config = ARVideoConfig.from_preset(model_preset)
    config = ARVideoConfig.from_dict(config.to_dict())  # a copy: the encoder keeps its own
    config.id2label = {int(i): str(name) for i, name in id2label.items()}
    config.label2id = {name: i for i, name in config.id2label.items()}
    config.num_labels = len(id2label)
    config.drop_path_rate = drop_path
    config.head_norm = head_norm
    config.num_frames = num_frames or config.num_frames
    config.image_size = image_size or config.image_size
    config.architectures = ["ARVideoForVideoClassification"]
    model = ARVideoForVideoClassification._from_config(config, attn_implementation=attn_implementation)
    if encoder is not None:
        model.arvideo.load_state_dict(encoder.state_dict())
    return model


# ----------------------------------------------------------------------------------------------------------- data
def read_sources(args: FinetuneArguments) -> tuple[Any, Any | None, dict[int, str]]:
    """Train and validation (`None` without `--validation_list`) `VideoSource`s, and `id2label`."""
    if args.uses_demo:  # the demo set has no validation split: its test split is for the final test only
        root = open_demo_dataset(args.demo_root)
        train = read_kinetics_list(root / "train.txt", root=root, label_names=root / "labels.txt")
        validation = None
    else:
        lists = dict(root=args.data_root, labels=True, label_names=args.class_names,
                     allow_outside_root=args.allow_outside_root)
        train = read_kinetics_list(args.train_list, **lists)
        validation = (
            read_kinetics_list(args.validation_list, **lists)
            if args.validation_list
            else None
        )
    id2label = train.id2label
    if id2label is None:
        num_classes = max(r.label for source in (train, validation) if source for r in source.records) + 1
        id2label = {i: str(i) for i in range(num_classes)}
    return train, validation, id2label


def default_sampling_rate(args: FinetuneArguments) -> int:
    """The frame stride: explicit, else 2 on the demo set (its pretraining stride) and 4 (Kinetics) otherwise."""
    return args.sampling_rate if args.sampling_rate is not None else (2 if args.uses_demo else 4)


def build_datasets(args: FinetuneArguments, config: ARVideoConfig, train_source: Any, validation_source: Any | None):
    """Augmented training clips and single-view (center clip, center crop) validation clips."""
    stride = default_sampling_rate(args)
    flip = args.flip if args.flip is not None else not args.uses_demo
    transform = FinetuneTransform.from_config(
        config,
        rand_augment=args.rand_augment,
        scale=(args.min_crop_scale, 1.0),
        flip_prob=0.5 if flip else 0.0,
        erase_prob=args.erase_prob,
    )
    dense = args.sampling == "dense"
    sampler = DenseSampler(config.num_frames, stride) if dense else SegmentSampler(config.num_frames)
    # seed=None: clips come from torch's generator, which Trainer seeds and DataLoader reseeds per worker and epoch.
    train = VideoClipDataset(train_source, sampler, transform, train=True, repeated_aug=args.repeated_aug, seed=None,
                             cache_mb=args.cache_mb)
    validation = None
    if validation_source is not None:
        validation = VideoClipDataset.for_evaluation(validation_source, config, sampling=args.sampling, stride=stride)
    return train, validation


# -------------------------------------------------------------------------------------------------------- trainer
class ARVideoTrainer(Trainer):
    """`Trainer` with AdamW over layer-wise lr decay groups (`optim.build_layer_decay_param_groups`), and a separate
    collator for evaluation (training batches are mixed into soft targets; evaluation needs the hard labels)."""

    def __init__(
        self, *args: Any, layer_decay: float = 0.75, eval_data_collator: Any | None = None, **kwargs: Any
    ) -> None:
        self.layer_decay = layer_decay
        self.eval_data_collator = eval_data_collator
        super().__init__(*args, **kwargs)
        self.add_callback(NonFiniteGuard())
        # The model averages its loss over the batch itself: Trainer must not pass `num_items_in_batch` down (the
        # forward's **kwargs would otherwise make it look like a loss-kwargs model) and must scale for accumulation.
        self.model_accepts_loss_kwargs = False

    def create_accelerator_and_postprocess(self) -> None:
        super().create_accelerator_and_postprocess()
        fsdp_on_cpu(self.accelerator)  # an FSDP launch on CPU processes trains under FSDP, as it does on GPUs
        self.is_fsdp_enabled = is_fsdp(self.accelerator)

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        """Every save (checkpoint or final model) checks the weights first: no saved model holds a NaN/inf."""
        check_finite_module(self.model, f"Not saving to {output_dir}", NONFINITE_ADVICE)
        super()._save(output_dir, state_dict)

    def create_optimizer(self, model: torch.nn.Module | None = None) -> torch.optim.Optimizer:
        if self.optimizer is None:
            model = self.model if model is None else model
            groups = build_layer_decay_param_groups(
                model, self.args.weight_decay, self.layer_decay, self.args.learning_rate
            )
            self.optimizer = torch.optim.AdamW(
                groups, lr=self.args.learning_rate, betas=(self.args.adam_beta1, self.args.adam_beta2),
                eps=self.args.adam_epsilon,
            )
        return self.optimizer

    @contextlib.contextmanager
    def _eval_collator(self) -> Iterator[None]:
        training_collator = self.data_collator
        if self.eval_data_collator is not None:
            self.data_collator = self.eval_data_collator
        try:
            yield
        finally:
            self.data_collator = training_collator

    def get_eval_dataloader(self, eval_dataset: Any = None) -> DataLoader:
        with self._eval_collator():
            return super().get_eval_dataloader(eval_dataset)

    def get_test_dataloader(self, test_dataset: Any) -> DataLoader:
        with self._eval_collator():
            return super().get_test_dataloader(test_dataset)


def _steps_per_epoch(num_videos: int, training_args: TrainingArguments) -> int:
    """Optimizer steps per epoch (repeated augmentation enlarges each batch, not the number of batches)."""
    per_step = training_args.per_device_train_batch_size * training_args.world_size
    batches = num_videos // per_step if training_args.dataloader_drop_last else math.ceil(num_videos / per_step)
    return max(batches // training_args.gradient_accumulation_steps, 1)


def avoid_single_clip_batches(args: FinetuneArguments, training_args: TrainingArguments, num_videos: int) -> None:
    """A BatchNorm head cannot train on a batch of one clip (one value per channel has no variance; a per-device
    batch of one is refused with the arguments): drop an epoch's last batch when it would hold one clip (each epoch
    reshuffles, so no video is left out for good)."""
    if args.head_norm != "batch" or args.repeated_aug > 1:
        return
    per_device = training_args.per_device_train_batch_size
    per_process = math.ceil(num_videos / training_args.world_size)  # the distributed sampler's share
    if per_process % per_device == 1 and not training_args.dataloader_drop_last:
        logger.warning(f"{num_videos} videos in batches of {per_device} leave a last batch of one clip, which a "
                       "BatchNorm head cannot train on: each epoch's last batch is dropped (--dataloader_drop_last).")
        training_args.dataloader_drop_last = True


def run_finetuning(args: FinetuneArguments, training_args: ARVideoTrainingArguments) -> dict[str, Any]:
    """Finetune, save the classifier with its image processor (and optionally publish it); returns the metrics.
    The output folder is locked for the whole run: one writer per folder."""
    training_args.process_index  # noqa: B018 - sets up the processes (Trainer's way) before the lock asks for them
    with hold_output_dir(training_args.output_dir, "finetune"):
        return _run_finetuning(args, training_args)


def _run_finetuning(args: FinetuneArguments, training_args: ARVideoTrainingArguments) -> dict[str, Any]:
    started = time.perf_counter()
    # `--push_to_hub --hub_model_id org/name` publishes with publish.push_checkpoint_to_hub (model card, remote code,
    # eval results) once training is done, instead of Trainer's own uploads.
    push_repo = None
    if training_args.push_to_hub:
        push_repo = training_args.hub_model_id or Path(training_args.output_dir).name
    training_args.push_to_hub = False
    resume_from = prepare_finetune_output_dir(args, training_args)
    save_finetune_args(args, training_args)
    train_source, validation_source, id2label = read_sources(args)
    # --seed fixes the fresh weights (fc_norm and head; the whole encoder with --init random): Trainer seeds itself
    # only once the model exists, which left them to whatever state the process's generator was in.
    set_seed(training_args.seed)
    model = build_classifier(
        args.model_name_or_path, id2label, init=args.init, model_preset=args.model_preset, drop_path=args.drop_path,
        head_norm=args.head_norm, attn_implementation=args.attn_implementation, num_frames=args.num_frames,
        image_size=args.image_size,
    )
    train_dataset, eval_dataset = build_datasets(args, model.config, train_source, validation_source)

    per_device, accumulation = training_args.per_device_train_batch_size, training_args.gradient_accumulation_steps
    total_batch = per_device * training_args.world_size * accumulation
    if args.base_lr > 0:
        training_args.learning_rate = scaled_lr(args.base_lr, total_batch * args.repeated_aug)
    avoid_single_clip_batches(args, training_args, len(train_dataset))
    steps_per_epoch = _steps_per_epoch(len(train_dataset), training_args)
    if training_args.warmup_steps == 0 and args.warmup_epochs > 0:
        training_args.warmup_steps = int(round(args.warmup_epochs * steps_per_epoch))
    if eval_dataset is None and training_args.eval_strategy != "no":
        logger.warning("No validation data: evaluation during training is turned off.")
        training_args.eval_strategy = "no"

    trainer = ARVideoTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=MixupCollator(
            model.config.num_labels, mixup_alpha=args.mixup, cutmix_alpha=args.cutmix, prob=args.mixup_prob,
            switch_prob=args.mixup_switch_prob, label_smoothing=args.label_smoothing,
        ),
        eval_data_collator=ClassificationCollator(),
        compute_metrics=compute_metrics,
        layer_decay=args.layer_decay,
    )
    logger.warning(
        f"Finetuning ({args.init} init) on {len(train_dataset)} videos, {len(id2label)} classes: "
        f"{training_args.num_train_epochs:g} epochs x {steps_per_epoch} steps, batch {total_batch}, "
        f"peak lr {training_args.learning_rate:.3g} (layer decay {args.layer_decay}), "
        f"warmup {training_args.warmup_steps} steps."
    )
    if resume_from and trainer.is_fsdp_enabled:
        raise ValueError(
            f"Resuming {resume_from} under FSDP is refused: Trainer's FSDP checkpoints go through "
            "torch.distributed.checkpoint, whose .metadata file is a pickle. Start afresh (--overwrite_output_dir), "
            "or finetune under DDP, whose checkpoints resume."
        )
    train_result = trainer.train(resume_from_checkpoint=resume_from)
    metrics: dict[str, Any] = dict(train_result.metrics)
    if eval_dataset is not None:
        metrics.update(trainer.evaluate())
    save_classifier(trainer, training_args.output_dir)
    metrics["wall_seconds"] = round(time.perf_counter() - started, 1)
    if trainer.is_world_process_zero():
        trainer.save_metrics("all", metrics)
        if push_repo:
            metrics["hub_url"] = publish.push_checkpoint_to_hub(
                training_args.output_dir, push_repo, private=bool(training_args.hub_private_repo),
                token=training_args.hub_token,
            )
    end_training(trainer.accelerator)  # an FSDP/DDP rank that exits with gloo's threads alive aborts or hangs
    return metrics


def save_classifier(trainer: Trainer, output_dir: str | os.PathLike) -> None:
    """The final model, with the VideoMAE image processor that `pipeline`/`AutoImageProcessor` load. Under FSDP the
    shards are gathered into an ordinary model first (Trainer's own save would write sharded, pickled files)."""
    if trainer.is_fsdp_enabled:
        model = consolidated_model(trainer.accelerator, trainer.model)
        if model is not None:
            model.save_pretrained(output_dir)
    else:
        trainer.save_model(str(output_dir))
    if trainer.is_world_process_zero():
        image_processor_for(trainer.model.config).save_pretrained(output_dir)


__all__ = [
    "ARVideoTrainer",
    "ARVideoTrainingArguments",
    "FinetuneArguments",
    "build_classifier",
    "build_datasets",
    "load_encoder",
    "parse_finetune_args",
    "prepare_finetune_output_dir",
    "read_sources",
    "run_finetuning",
    "save_classifier",
]

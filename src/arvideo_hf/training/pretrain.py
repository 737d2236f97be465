"""ARVideo pretraining with accelerate: one loop from a 2-core laptop to multi-node GPUs (docs/method.md, Recipes).

`--method videomae` trains transformers' `VideoMAEForPreTraining` (90% tube masking, its decoder) as a baseline in the
same loop: same data, augmentation, schedule, budget and seeding, with a same-size encoder exported for finetuning.

Every source of randomness is a function of (seed, epoch, sample index): augmentation in the dataset, cluster orders
and masks in the collator, the shuffle in accelerate's seedable sampler. A run resumed from a checkpoint therefore
replays exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import gather_object, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import PreTrainedModel, VideoMAEForPreTraining
from transformers.utils import logging

from ..data import PretrainingCollator, PretrainingTransform, VideoClipDataset, open_demo_dataset, read_kinetics_list
from ..environment import describe_machine
from ..integrity import NonFiniteError
from ..locking import check_deletable, claim_folder, delete_outputs, hold_output_dir
from ..models.configuration_arvideo import ARVideoConfig
from ..models.modeling_arvideo import ARVideoForPretraining
from ..models.processing_arvideo import image_processor_for
from ..results import read_metrics
from ..viz.reports import plot_loss_curve
from .arguments import PretrainArguments, pretrain_command
from .checkpointing import (
    is_out_of_space,
    newest_valid,
    out_of_space_error,
    restore_schedule,
    save_schedule,
)
from .optim import WarmupCosine, build_param_groups, scaled_lr
from .preemption import Preemption, resume_command
from .processes import end_training
from .sharded import (
    any_process,
    check_engine,
    consolidated_model,
    describe_shards,
    fsdp_on_cpu,
    is_fsdp,
    load_training_state,
    local_tensor,
    register_forward_methods,
    save_training_state,
)
from .videomae_baseline import build_videomae_pretraining, export_videomae_encoder


logger = logging.get_logger(__name__)
CHECKPOINT_PREFIX = "step_"
STATE_FILE = "trainer_state.json"  # written last: its presence marks a complete checkpoint
ARGS_FILE = "training_args.json"  # the run's arguments, beside its outputs and inside every checkpoint
TRACKER_PROJECT = "arvideo-pretrain"  # accelerate's trackers log under OUTPUT/<this>
# What a run writes under --output_dir: a folder holding any of these holds a run.
RUN_OUTPUTS = ("checkpoints", "metrics.jsonl", ARGS_FILE, "summary.json", "loss_curve.png", "pretrain_model",
               "encoder", TRACKER_PROJECT)
# The arguments that make a run's model and data: `--resume latest` only continues a checkpoint that agrees on them.
RUN_IDENTITY = ("method", "model_preset", "config_overrides", "cluster_size", "prediction_order", "mask_ratio",
                "train_list", "data_root", "demo_root", "sampling_rate", "crop_scales", "repeated_aug", "seed")
INDEX_KEY = "video_index"  # dataset indices of a batch's videos, added by `IndexedCollator`


@dataclass
class TrainState:
    """Counters saved with every checkpoint, so a resumed run continues where it stopped."""

    global_step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0  # optimizer steps already taken in `epoch`
    clips_seen: int = 0
    elapsed_seconds: float = 0.0
    skipped_nonfinite: int = 0  # batches with a non-finite loss skipped under --skip_nonfinite


def build_config(args: PretrainArguments) -> ARVideoConfig:
    """The model config: the preset, then `config_overrides`, then the explicit ablation switches."""
    overrides: dict[str, Any] = json.loads(args.config_overrides) if args.config_overrides else {}
    for name in ("cluster_size", "prediction_order", "mask_ratio"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    return ARVideoConfig.from_preset(args.model_preset, **overrides)


def build_model_and_collator(
    args: PretrainArguments, config: ARVideoConfig
) -> tuple[PreTrainedModel, PretrainingCollator]:
    """`ARVideoForPretraining` with its cluster collator, or (`--method videomae`) VideoMAE with tube masks."""
    if args.method == "videomae":
        return build_videomae_pretraining(config, args.attn_implementation, args.mask_ratio, args.seed)
    model = ARVideoForPretraining._from_config(config, attn_implementation=args.attn_implementation)
    return model, PretrainingCollator(config, seed=args.seed)


def build_train_dataset(args: PretrainArguments, config: ARVideoConfig) -> VideoClipDataset:
    """The user's list file, or the embedded demo set's unlabeled pool (built on first use) when no data is given."""
    if args.train_list is None:
        root = open_demo_dataset(args.demo_root)
        source = read_kinetics_list(root / "unlabeled.txt", root=root, labels=False)
    else:
        source = read_kinetics_list(args.train_list, root=args.data_root, labels=False,
                                    allow_outside_root=args.allow_outside_root)
    return VideoClipDataset.for_pretraining(
        source,
        config,
        stride=args.sampling_rate,
        transform=PretrainingTransform.from_config(config, scales=args.crop_scales),
        repeated_aug=args.repeated_aug,
        seed=args.seed,
        max_bad_fraction=args.max_bad_fraction,
        cache_mb=args.cache_mb,
    )


BUDGET_CALIBRATION_STEPS = 20  # steps timed before a --max_seconds budget fixes the schedule's horizon
BUDGET_REPLAN_FRACTIONS = (0.25, 0.5)  # fractions of the budget at which the horizon is re-fitted to the step time


class BudgetPlanner:
    """Fits warmup + cosine into `--max_seconds`, so a budgeted run decays to `min_lr` as the clock runs out.

    The first plan (after `BUDGET_CALIBRATION_STEPS`) times the second half of those steps, leaving out start-up
    (DataLoader workers, first allocations); later plans at `BUDGET_REPLAN_FRACTIONS` of the budget re-time the steps
    since the previous plan and keep the warmup. The count of plans lives in the schedule, so a resume goes on."""

    def __init__(self, schedule: WarmupCosine, max_seconds: float, progress: Any) -> None:
        self.schedule, self.max_seconds, self.progress = schedule, max_seconds, progress
        self.origin: tuple[int, float] | None = None  # (step, elapsed seconds) the next plan times from

    def after_step(self, step: int, elapsed: float) -> None:
        plans = self.schedule.budget_plans
        if self.origin is None or (plans == 0 and step == BUDGET_CALIBRATION_STEPS // 2):
            self.origin = (step, elapsed)
        due = step == BUDGET_CALIBRATION_STEPS if plans == 0 else (
            plans <= len(BUDGET_REPLAN_FRACTIONS) and elapsed >= BUDGET_REPLAN_FRACTIONS[plans - 1] * self.max_seconds)
        if not due or step <= self.origin[0]:
            return
        seconds_per_step = (elapsed - self.origin[1]) / (step - self.origin[0])
        self.schedule.plan_for_budget(step, elapsed, self.max_seconds, warmup_fraction=0.1 if plans == 0 else None,
                                      seconds_per_step=seconds_per_step)
        self.origin = (step, elapsed)
        self.progress.total = self.schedule.total_steps
        logger.warning(f"--max_seconds {self.max_seconds:g}: schedule fitted to {self.schedule.total_steps} steps "
                       f"({self.schedule.warmup_steps} warmup) at {seconds_per_step:.3f} s/step.")


class IndexedCollator:
    """A collator that also returns the batch's dataset indices (`video_index`), so a bad batch can name its videos."""

    def __init__(self, collator: PretrainingCollator) -> None:
        self.collator = collator

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = self.collator(samples)
        batch[INDEX_KEY] = torch.tensor([int(sample["index"]) for sample in samples])
        return batch


def previous_run_files(output_dir: Path) -> list[Path]:
    """What an earlier run wrote in `output_dir` (checkpoints, models, logs); empty for a new or unrelated folder."""
    return [output_dir / name for name in RUN_OUTPUTS if (output_dir / name).exists()]


def prepare_output_dir(accelerator: Accelerator, args: PretrainArguments, output_dir: Path) -> None:
    """Refuse a new run over an earlier one unless it resumes or overwrites it (transformers' Trainer convention):
    two runs in one folder would share `metrics.jsonl` and checkpoint rotation, and `--resume latest` could pick
    the wrong one. `--overwrite_output_dir` deletes only what a run writes, never other files in the folder."""
    previous = previous_run_files(output_dir)
    if previous and not args.resume and not args.overwrite_output_dir:
        raise FileExistsError(
            f"{output_dir} already holds a pretraining run ({', '.join(path.name for path in previous)}). Continue "
            "it with --resume latest, delete it with --overwrite_output_dir, or choose another --output_dir."
        )
    if previous and args.overwrite_output_dir:
        check_deletable(output_dir, "pretrain", previous, "--overwrite_output_dir")
    if previous and args.overwrite_output_dir and accelerator.is_main_process:
        logger.warning(f"--overwrite_output_dir: deleting the previous run in {output_dir}: "
                       f"{[path.name for path in previous]}")
        delete_outputs(previous)
    if accelerator.is_main_process and (args.overwrite_output_dir or not previous):  # a fresh run: its own folder
        claim_folder(output_dir, "pretrain")
    accelerator.wait_for_everyone()


def run_identity(run_args: dict[str, Any]) -> dict[str, Any]:
    """The model and data arguments of a run (`RUN_IDENTITY`), paths made absolute and JSON overrides parsed."""
    identity = {name: run_args.get(name) for name in RUN_IDENTITY}
    for name in ("train_list", "data_root", "demo_root"):
        if identity[name] is not None:
            identity[name] = os.path.abspath(identity[name])
    if identity["config_overrides"]:
        identity["config_overrides"] = json.loads(identity["config_overrides"])
    return identity


def identity_mismatches(saved_args: dict[str, Any], run_args: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """`{argument: (saved, now)}` for each model or data argument on which two runs differ."""
    saved, now = run_identity(saved_args), run_identity(run_args)
    return {name: (saved[name], now[name]) for name in RUN_IDENTITY if saved[name] != now[name]}


def saved_run_args(checkpoint: Path) -> dict[str, Any]:
    """The arguments saved in a checkpoint; for checkpoints written before they were, the run's own beside them."""
    for path in (checkpoint / ARGS_FILE, checkpoint.parent.parent / ARGS_FILE):
        if path.is_file():
            return json.loads(path.read_text())
    return {}


def find_checkpoint(output_dir: str | os.PathLike, resume: str, run_args: dict[str, Any] | None = None) -> Path | None:
    """`resume="latest"`: the newest complete checkpoint under `output_dir/checkpoints` whose saved model and data
    arguments match `run_args` (None if there is no checkpoint; an error if none matches); else the folder `resume`."""
    if resume != "latest":
        path = Path(resume)
        if not (path / STATE_FILE).exists():
            raise FileNotFoundError(f"{path} is not a complete checkpoint (no {STATE_FILE}); use --resume latest.")
        newest_valid([path], path.parent)  # raises naming the file that does not validate
        mismatches = identity_mismatches(saved_run_args(path), run_args) if run_args is not None else {}
        if mismatches:
            logger.warning(f"Resuming {path}, written with other model or data arguments (saved, now): {mismatches}")
        return path
    folder = Path(output_dir) / "checkpoints"
    complete = sorted((p for p in folder.glob(f"{CHECKPOINT_PREFIX}*") if (p / STATE_FILE).exists()), reverse=True)
    if run_args is None or not complete:
        return newest_valid(complete, folder)  # warns naming each newer one that does not validate
    rejected = {path.name: identity_mismatches(saved_run_args(path), run_args) for path in complete}
    matching = [path for path in complete if not rejected[path.name]]
    if not matching:
        raise ValueError(
            f"--resume latest: no checkpoint in {folder} was written with this run's model and data; "
            f"(saved, now) per checkpoint: {rejected}. Resume with the same arguments, or start afresh with "
            "--overwrite_output_dir or another --output_dir."
        )
    return newest_valid(matching, folder)


def check_finite_weights(model: torch.nn.Module, step: int) -> None:
    """Raise `NonFiniteError` when any weight is NaN/inf, so no checkpoint or saved model ever holds a diverged one."""
    bad = [name for name, param in model.named_parameters() if not bool(torch.isfinite(local_tensor(param)).all())]
    device = next(model.parameters()).device
    if any_process(bool(bad), device):  # under FSDP each process checks its own shards; all of them stop together
        raise NonFiniteError(
            f"Step {step}: non-finite weights in {len(bad)} tensors here (first: {bad[:3]}); nothing was saved. "
            "The last checkpoint is intact: resume from it with a lower learning rate or --max_grad_norm."
        )


def save_checkpoint(
    accelerator: Accelerator,
    model: torch.nn.Module,
    output_dir: Path,
    state: TrainState,
    keep: int,
    run_args: dict[str, Any],
    scheduler: torch.optim.lr_scheduler.LambdaLR | None = None,
) -> Path:
    """Check the weights are finite, then `accelerator.save_state` into a temporary folder, the run's arguments, the
    schedule (JSON), the state file (last: it marks the checkpoint complete) and an atomic rename. A failed write
    removes the temporary folder (and says "No space left" when that is why)."""
    check_finite_weights(model, state.global_step)
    folder = output_dir / "checkpoints"
    final = folder / f"{CHECKPOINT_PREFIX}{state.global_step:08d}"
    partial = folder / f".partial-{final.name}"
    if accelerator.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
    accelerator.wait_for_everyone()
    try:
        save_training_state(accelerator, partial)  # accelerate's save_state; under FSDP, shards without pickle
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            (partial / ARGS_FILE).write_text(json.dumps(run_args, indent=2, sort_keys=True))
            if scheduler is not None:
                save_schedule(partial, scheduler.lr_lambdas[0], scheduler, accelerator.num_processes)
            (partial / STATE_FILE).write_text(json.dumps(state.__dict__, indent=2))
            shutil.rmtree(final, ignore_errors=True)
            os.replace(partial, final)
    except Exception as err:  # any failed write (safetensors raises its own type): no half checkpoint stays
        full = is_out_of_space(err, folder)  # before the removal frees the space that tells a full disk
        shutil.rmtree(partial, ignore_errors=True)
        if full:
            raise out_of_space_error(folder, final.name) from err
        raise
    if accelerator.is_main_process:
        for old in sorted(p for p in folder.glob(f"{CHECKPOINT_PREFIX}*") if p != final)[: -keep + 1 or None]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def truncate_metrics(metrics_path: Path, last_step: int) -> None:
    """Keep only the log records up to `last_step`, so a resumed run's log has each step once."""
    if metrics_path.exists():
        kept = [record for record in read_metrics(metrics_path) if record["step"] <= last_step]
        metrics_path.write_text("".join(json.dumps(record) + "\n" for record in kept))


def peak_memory_mb(device: torch.device) -> float:
    """Peak accelerator memory, or this process's peak resident set size on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def restore_state(
    accelerator: Accelerator, args: PretrainArguments, output_dir: Path, scheduler: torch.optim.lr_scheduler.LambdaLR
) -> TrainState:
    """A fresh state, or (`--resume`) the checkpoint's, with its schedule (re-planned if schedule arguments changed)
    and the log lines written after that checkpoint dropped."""
    state = TrainState()
    if not args.resume:
        return state
    checkpoint = find_checkpoint(output_dir, args.resume, dataclasses.asdict(args))
    if checkpoint is not None:
        load_training_state(accelerator, checkpoint)
        state = TrainState(**json.loads((checkpoint / STATE_FILE).read_text()))
        restore_schedule(checkpoint, saved_run_args(checkpoint), dataclasses.asdict(args), scheduler.lr_lambdas[0],
                         scheduler, accelerator.num_processes, state.global_step)
        logger.warning(f"Resumed from {checkpoint} at step {state.global_step} (epoch {state.epoch}).")
    if accelerator.is_main_process:  # no checkpoint: the run starts over, so no earlier line stays
        truncate_metrics(output_dir / "metrics.jsonl", state.global_step)
    return state


def nonfinite_videos(
    accelerator: Accelerator, loss: torch.Tensor, video_index: torch.Tensor, dataset: VideoClipDataset
) -> list[str] | None:
    """The videos of the batch when its loss is NaN/inf on any process, else None; every process gets the same
    answer, so all of them stop or skip together (one process alone would leave the others waiting in DDP)."""
    local_bad = not bool(torch.isfinite(loss.detach()).all())
    flag = torch.tensor(float(local_bad), device=accelerator.device)
    if accelerator.reduce(flag, reduction="sum").item() == 0:
        return None
    return gather_object([dataset.records[i].path for i in video_index.tolist()] if local_bad else [])


def register_nonfinite(args: PretrainArguments, state: TrainState, loss: torch.Tensor, videos: list[str]) -> None:
    """Count a batch with a non-finite loss as skipped, or raise `NonFiniteError` once `--skip_nonfinite` are used."""
    message = (
        f"Non-finite loss ({loss.detach().float().item()} on this process) at step {state.global_step + 1} "
        f"(epoch {state.epoch}); the batch's videos: {videos}."
    )
    if state.skipped_nonfinite >= args.skip_nonfinite:
        raise NonFiniteError(
            f"{message} Stopped before its optimizer step, so no checkpoint holds it. Check those videos "
            "(`python -m arvideo_hf.data check LIST`), lower the learning rate or set --max_grad_norm; "
            f"--skip_nonfinite N skips up to N such batches ({state.skipped_nonfinite} skipped so far)."
        )
    state.skipped_nonfinite += 1
    logger.warning(f"{message} Skipped its optimizer step ({state.skipped_nonfinite} of --skip_nonfinite "
                   f"{args.skip_nonfinite}).")


def train_micro_batch(
    accelerator: Accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    args: PretrainArguments,
    state: TrainState,
    dataset: VideoClipDataset,
    drop_step: bool,
) -> torch.Tensor | None:
    """Forward and backward one micro-batch; on the last of an optimizer step, step unless a micro-batch of it
    (`drop_step`, or this one) had a non-finite loss. Returns the detached loss, or None for a skipped one."""
    video_index = batch.pop(INDEX_KEY)
    with accelerator.accumulate(model):
        loss = model(**batch, training_step=state.global_step).loss  # the step drives the pixel term's schedule
        videos = nonfinite_videos(accelerator, loss, video_index, dataset)
        if videos is not None:
            register_nonfinite(args, state, loss, videos)  # raises unless this batch may be skipped
        accelerator.backward(loss)  # a skipped loss too: every DDP process must run the same collectives
        if videos is None and not drop_step:
            if accelerator.sync_gradients and args.max_grad_norm:
                accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return loss.detach() if videos is None else None


def _trackers(report_to: str) -> list[str] | None:
    if report_to == "none":
        return None
    if report_to == "auto":
        try:  # a probe, not a dependency: tensorboard logs are written only when it is installed
            import tensorboard  # noqa: F401

            return ["tensorboard"]
        except ImportError:
            return None
    return [report_to]


def reset_accelerate_state() -> None:
    """Forget the process-wide accelerate state, so that the next run in this process (another pretraining, a
    Trainer, an evaluation) configures it afresh: the demo and the reproduction study run many in one process."""
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


@dataclass
class LogWindow:
    """What happened since the last log record, on this process (reduced over processes when logged)."""

    loss: torch.Tensor  # sum of finite losses, each weighted 1 / gradient_accumulation_steps
    weight: torch.Tensor  # optimizer steps' worth of finite losses in `loss`
    clips: int = 0
    start: float = field(default_factory=time.perf_counter)

    @classmethod
    def empty(cls, device: torch.device) -> LogWindow:
        return cls(torch.zeros((), device=device), torch.zeros((), device=device))

    def reset(self) -> None:
        self.loss.zero_()
        self.weight.zero_()
        self.clips, self.start = 0, time.perf_counter()


@dataclass
class PretrainingRun:
    """One pretraining run as `build_run` sets it up: what the loop steps, logs, checkpoints and finally saves."""

    args: PretrainArguments
    output_dir: Path
    accelerator: Accelerator
    config: ARVideoConfig
    dataset: VideoClipDataset
    collator: PretrainingCollator
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    dataloader: DataLoader
    schedule: WarmupCosine  # stepped once per optimizer step, through `scheduler`
    scheduler: torch.optim.lr_scheduler.LambdaLR
    steps_per_epoch: int
    step_limit: int  # sys.maxsize when the wall clock (--max_seconds) ends the run
    fit_to_budget: bool
    state: TrainState = field(default_factory=TrainState)
    progress: Any = None
    planner: BudgetPlanner | None = None  # fits the schedule to --max_seconds (without --max_steps)
    run_start: float = 0.0  # perf_counter() at the start, minus the time of the run before a resume
    drop_step: bool = False  # this optimizer step holds a skipped non-finite micro-batch
    preemption: Preemption = field(default_factory=Preemption)  # SIGTERM: checkpoint at the step's end, exit 0

    @property
    def metrics_path(self) -> Path:
        return self.output_dir / "metrics.jsonl"

    @property
    def num_epochs(self) -> int:
        return math.ceil(self.step_limit / self.steps_per_epoch)

    def seconds(self) -> float:
        """Wall-clock seconds of the run so far, resumed parts included."""
        return time.perf_counter() - self.run_start


def run_pretraining(args: PretrainArguments) -> dict[str, Any]:
    """Pretrain, checkpoint every `save_steps`, save the final pretraining model, encoder and processor. The output
    folder is locked for the whole run (one writer per folder); SIGTERM ends it after a checkpoint (`end_preempted`)."""
    with hold_output_dir(args.output_dir, "pretrain"):
        run = build_run(args)
        run.preemption.install()
        try:
            start_run(run)
            train_epochs(run)
        finally:
            run.preemption.uninstall()
        return end_preempted(run) if run.preemption.requested else finish_run(run)


def end_preempted(run: PretrainingRun) -> dict[str, Any]:
    """After a preemption signal: the checkpoint of the last step is saved; say how to continue, end cleanly."""
    state = run.state
    logger.warning(f"Preempted at step {state.global_step}: checkpoint saved in {run.output_dir / 'checkpoints'}. "
                   f"Continue with: {resume_command()}")
    end_training(run.accelerator)
    return {"steps": state.global_step, "clips_seen": state.clips_seen, "preempted": True,
            "resume_command": resume_command()}


# ------------------------------------------------------------------------------------------------------------ build
def build_dataloader(args: PretrainArguments, dataset: VideoClipDataset, collator: PretrainingCollator) -> DataLoader:
    """Shuffled full batches; the collator (orders and masks, seeded per sample) runs in the workers."""
    return DataLoader(
        dataset,
        batch_size=args.per_device_batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.num_workers,
        collate_fn=IndexedCollator(collator),
        pin_memory=torch.cuda.is_available(),
    )


def build_optimizer(
    args: PretrainArguments, model: torch.nn.Module, total_batch: int
) -> tuple[torch.optim.Optimizer, float, float]:
    """AdamW over the recipe's parameter groups, with its peak and final learning rates (`--learning_rate` as given,
    else `--base_lr` and `--min_lr` scaled by the clips of a step: videos of the total batch x repeated crops)."""
    total_clips = total_batch * args.repeated_aug  # what the linear lr scaling counts (as finetuning does)
    peak_lr = args.learning_rate if args.learning_rate is not None else scaled_lr(args.base_lr, total_clips)
    min_lr = args.min_lr if args.learning_rate is not None else scaled_lr(args.min_lr, total_clips)
    optimizer = torch.optim.AdamW(
        build_param_groups(model, args.weight_decay), lr=peak_lr, betas=(args.adam_beta1, args.adam_beta2)
    )
    return optimizer, peak_lr, min_lr


def build_run(args: PretrainArguments) -> PretrainingRun:
    """Accelerator, data, model, optimizer and schedule, prepared for the processes, and the state to start from."""
    output_dir = Path(args.output_dir)
    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=_trackers(args.report_to),
        project_dir=str(output_dir),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    fsdp_on_cpu(accelerator)
    check_engine(accelerator, args.resume)
    prepare_output_dir(accelerator, args, output_dir)
    set_seed(args.seed)
    config = build_config(args)
    with accelerator.main_process_first():  # the demo set is built once, by the main process
        dataset = build_train_dataset(args, config)
    model, collator = build_model_and_collator(args, config)
    if args.gradient_checkpointing:
        model.activation_checkpointing_enable()  # transformers 5 name of gradient checkpointing
    total_batch = args.per_device_batch_size * args.gradient_accumulation_steps * accelerator.num_processes
    optimizer, peak_lr, min_lr = build_optimizer(args, model, total_batch)
    model, optimizer, dataloader = accelerator.prepare(model, optimizer, build_dataloader(args, dataset, collator))
    if is_fsdp(accelerator):
        register_forward_methods(model)
        logger.warning(f"FSDP2 over {accelerator.num_processes} processes; shard units: {describe_shards(model)}")
    steps_per_epoch = math.ceil(len(dataloader) / args.gradient_accumulation_steps)
    if steps_per_epoch == 0:
        raise ValueError(
            f"{len(dataset)} videos give no full batch of {total_batch}; lower per_device_batch_size or add data."
        )
    total_steps = args.max_steps or args.epochs * steps_per_epoch  # the schedule's horizon
    # Under a wall-clock budget (and no --max_steps) the clock, not --epochs, ends the run, and the schedule's horizon
    # is fitted to the budget once the first steps are timed.
    fit_to_budget = args.max_seconds is not None and args.max_steps is None
    # Stepped once per optimizer step by us (not prepared, which would step it once per process). A callable schedule
    # so that a wall-clock budget can set its horizon after measuring the step time, and a resume restores it.
    schedule = WarmupCosine(int(args.warmup_epochs * steps_per_epoch), total_steps, min_ratio=min_lr / peak_lr)
    # Saved as JSON with each checkpoint (checkpointing.save_schedule), not registered with accelerate, which would
    # pickle it and unpickle it on resume with weights_only=False.
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    run = PretrainingRun(
        args, output_dir, accelerator, config, dataset, collator, model, optimizer, dataloader, schedule, scheduler,
        steps_per_epoch, sys.maxsize if fit_to_budget else total_steps, fit_to_budget,
    )
    run.state = restore_state(accelerator, args, output_dir, scheduler)
    logger.warning(
        f"Pretraining {config.hidden_size}-wide {args.method} on {len(dataset)} videos: "
        f"{f'{args.max_seconds:g} s' if fit_to_budget else f'{run.num_epochs} epochs'} of {steps_per_epoch} steps "
        f"per epoch, batch {total_batch} videos x {args.repeated_aug} crops over {accelerator.num_processes} "
        f"process(es), lr {peak_lr:.3g}."
    )
    return run


def start_run(run: PretrainingRun) -> None:
    """Write the run's arguments, open the trackers and the progress bar, and start the clock."""
    accelerator, args = run.accelerator, run.args
    if accelerator.is_main_process:
        run.output_dir.mkdir(parents=True, exist_ok=True)
        (run.output_dir / ARGS_FILE).write_text(args.to_json())
    accelerator.init_trackers(TRACKER_PROJECT, config={k: str(v) for k, v in vars(args).items()})
    run.progress = tqdm(total=run.schedule.total_steps, initial=run.state.global_step,
                        disable=not accelerator.is_local_main_process, desc="pretrain", dynamic_ncols=True)
    run.run_start = time.perf_counter() - run.state.elapsed_seconds
    if run.fit_to_budget:
        run.planner = BudgetPlanner(run.schedule, args.max_seconds, run.progress)


# ------------------------------------------------------------------------------------------------------------- loop
def train_epochs(run: PretrainingRun) -> None:
    """The epochs from where the state says (mid-epoch after a resume) until the step limit or the budget."""
    window = LogWindow.empty(run.accelerator.device)
    stop = run.state.global_step >= run.step_limit
    run.model.train()
    for epoch in range(run.state.epoch, run.num_epochs):
        if stop:
            break
        stop = train_epoch(run, epoch, window)
    run.progress.close()


def train_epoch(run: PretrainingRun, epoch: int, window: LogWindow) -> bool:
    """One epoch, or what a resumed run has left of it; True when the run must stop."""
    state = run.state
    if epoch != state.epoch:
        state.epoch, state.step_in_epoch = epoch, 0
    run.dataset.set_epoch(epoch)
    run.collator.set_epoch(epoch)
    run.dataloader.set_epoch(epoch)
    skip = state.step_in_epoch * run.args.gradient_accumulation_steps
    for batch in run.accelerator.skip_first_batches(run.dataloader, skip) if skip else run.dataloader:
        train_batch(run, batch, window)
        if run.accelerator.sync_gradients and end_optimizer_step(run, epoch, window):
            return True
    return False


def train_batch(run: PretrainingRun, batch: dict[str, torch.Tensor], window: LogWindow) -> None:
    """One micro-batch (the optimizer steps on the last of a step) and its loss and clips in the log window."""
    accelerator, accumulation = run.accelerator, run.args.gradient_accumulation_steps
    loss = train_micro_batch(accelerator, run.model, run.optimizer, batch, run.args, run.state, run.dataset,
                             run.drop_step)
    run.drop_step = (run.drop_step or loss is None) and not accelerator.sync_gradients
    if loss is not None:
        window.loss += loss / accumulation
        window.weight += 1 / accumulation
    batch_clips = batch["pixel_values"].shape[0] * accelerator.num_processes
    window.clips += batch_clips
    run.state.clips_seen += batch_clips


def end_optimizer_step(run: PretrainingRun, epoch: int, window: LogWindow) -> bool:
    """After an optimizer step: the schedule and counters advance, then a log record and a checkpoint when due.
    True when this step ends the run (step limit or wall-clock budget)."""
    state, args = run.state, run.args
    run.scheduler.step()
    state.global_step += 1
    state.step_in_epoch += 1
    run.progress.update(1)
    if run.planner is not None:
        run.planner.after_step(state.global_step, run.seconds())
    stop = state.global_step >= run.step_limit or (args.max_seconds is not None and run.seconds() >= args.max_seconds)
    if run.preemption.agreed(run.accelerator):  # every process asks, so all of them stop at this step
        run.preemption.requested = stop = True
    if state.global_step % args.logging_steps == 0 or stop:
        log_window(run, epoch, window)
    if state.global_step % args.save_steps == 0 or stop:
        state.elapsed_seconds = run.seconds()
        save_checkpoint(run.accelerator, run.model, run.output_dir, state, args.save_total_limit,
                        dataclasses.asdict(args), run.scheduler)
    return stop


def log_window(run: PretrainingRun, epoch: int, window: LogWindow) -> None:
    """One `metrics.jsonl` record (and tracker log) of the window: mean finite loss, lr, clips/s, peak memory."""
    accelerator, state = run.accelerator, run.state
    logged_steps = accelerator.reduce(window.weight, reduction="sum").item()
    record = {
        "step": state.global_step,
        "epoch": round(epoch + state.step_in_epoch / run.steps_per_epoch, 4),
        "loss": accelerator.reduce(window.loss, reduction="sum").item() / logged_steps
        if logged_steps else float("nan"),
        "lr": run.scheduler.get_last_lr()[0],
        "clips_per_s": window.clips / max(time.perf_counter() - window.start, 1e-9),
        "peak_memory_mb": peak_memory_mb(accelerator.device),
    }
    accelerator.log(record, step=state.global_step)
    if accelerator.is_main_process:
        with run.metrics_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
    run.progress.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{record['lr']:.2e}")
    window.reset()


# ----------------------------------------------------------------------------------------------------------- finish
def finish_run(run: PretrainingRun) -> dict[str, Any]:
    """Count bad videos over processes, check the weights, save the models, the summary and the loss curve."""
    accelerator, state, args = run.accelerator, run.state, run.args
    bad = int(accelerator.reduce(torch.tensor(run.dataset.num_bad, device=accelerator.device), reduction="sum").item())
    summary = {
        "steps": state.global_step,
        "clips_seen": state.clips_seen,
        "wall_seconds": round(run.seconds(), 1),
        "clips_per_s": round(state.clips_seen / max(run.seconds(), 1e-9), 2),
        "peak_memory_mb": round(peak_memory_mb(accelerator.device), 1),
        "bad_videos": bad,
        "skipped_nonfinite_batches": state.skipped_nonfinite,
        "processes": accelerator.num_processes,
        "method": args.method,
        "videos": len(run.dataset),
        # what a model card of this run states: the command that makes it again, and the machine that made it
        "command": pretrain_command(args, accelerator.num_processes),
        "machine": describe_machine(),
    }
    if bad:
        logger.warning(f"{bad} videos could not be decoded and were replaced; first: {run.dataset.bad_paths()[:5]}")
    check_finite_weights(run.model, state.global_step)
    accelerator.wait_for_everyone()
    # Under FSDP every process gathers the shards; the main process saves an ordinary one-process model.
    final = consolidated_model(accelerator, run.model) if is_fsdp(accelerator) else accelerator.unwrap_model(run.model)
    if accelerator.is_main_process:
        save_final_models(final, run.output_dir, run.config)
        (run.output_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        plot_loss_curve(read_metrics(run.metrics_path), run.output_dir / "loss_curve.png",
                        title=f"{args.method} pretraining loss")
        logger.warning(f"Done: {json.dumps(summary)}; models in {run.output_dir}")
    end_training(accelerator)
    return summary


def save_final_models(model: PreTrainedModel, output_dir: Path, config: ARVideoConfig | None = None) -> None:
    """`pretrain_model/` (encoder + decoder) and `encoder/` (an `ARVideoModel`, ready for finetuning), each with its
    processor. A VideoMAE model is saved as is, its encoder converted with `ARVideoModel.from_videomae` (`config`
    gives the exported encoder's geometry fields)."""
    encoder = export_videomae_encoder(model, config) if isinstance(model, VideoMAEForPreTraining) else model.arvideo
    processor = image_processor_for(encoder.config)
    for folder, module in (("pretrain_model", model), ("encoder", encoder)):
        module.save_pretrained(output_dir / folder)
        processor.save_pretrained(output_dir / folder)


__all__ = [
    "TrainState",
    "build_config",
    "build_model_and_collator",
    "build_train_dataset",
    "find_checkpoint",
    "NonFiniteError",
    "prepare_output_dir",
    "reset_accelerate_state",
    "run_pretraining",
]

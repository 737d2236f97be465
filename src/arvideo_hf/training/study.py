# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Does it learn? A small-scale reproduction of the paper's comparisons (Tables 2, 3, 6, 8, 9) in one pipeline.

Every run pretrains with `run_pretraining` (ARVideo ablations through `--cluster_size/--prediction_order/--mask_ratio`,
the VideoMAE baseline through `--method videomae`) on the same data, augmentation, schedule and budget, then scores
the frozen encoder with a linear probe and a short full finetune on the test split. A random-init encoder of the
same architecture is the floor. One JSON per (run, seed), named by a hash of every setting that affects it, so an
interrupted study resumes where it stopped and a changed setting never mixes with old results.

    python examples/reproduce.py                                   # the demo study (tiny preset, 3 seeds)
    python examples/reproduce.py --runs arvideo videomae --seeds 0  # a subset
    python examples/reproduce.py --train_list k400/train.txt --test_list k400/val.txt --data_root k400 --preset base

Outputs under `results_dir`: `RESULTS.md` (tables shaped like the paper's, paper numbers beside ours), `results.png`
(bar plot), `results.json` (aggregates, ordering checks, environment) and `runs/*.json` (raw per-run results).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import transformers
from torch.utils.data import DataLoader, Dataset
from transformers import HfArgumentParser

from ..configuration_arvideo import pair
from ..data import VideoClipDataset, open_demo_dataset, read_kinetics_list
from ..environment import cpu_model
from ..loading import load_encoder
from ..modeling_arvideo import ARVideoModel
from ..processing import image_processor_for
from . import pretrain as pretraining  # run_pretraining is looked up at call time (tests stand in for it)
from .arguments import parse_pretrain_args
from .features import extract_features
from .finetune import build_classifier
from .optim import build_layer_decay_param_groups
from .pretrain import build_config, reset_accelerate_state
from .probes import LinearProbe, evaluate_probe, train_probe


# ------------------------------------------------------------------------------------------------ what is compared
@dataclass(frozen=True)
class StudyRun:
    """One pretraining configuration of the study (`method="random"`: no pretraining, random-init encoder)."""

    name: str
    label: str
    method: str = "arvideo"
    cluster_size: tuple[int, int, int] | None = None
    prediction_order: str | None = None
    mask_ratio: float | None = None

    def pretrain_argv(self) -> list[str]:
        """The `examples/pretrain.py` switches that make this run differ from the default."""
        argv = ["--method", "arvideo" if self.method == "random" else self.method]
        if self.cluster_size is not None:
            argv += ["--cluster_size", *map(str, self.cluster_size)]
        if self.prediction_order is not None:
            argv += ["--prediction_order", self.prediction_order]
        if self.mask_ratio is not None:
            argv += ["--mask_ratio", str(self.mask_ratio)]
        return argv


@dataclass(frozen=True)
class StudyTable:
    """A table of the report: rows are run names, each with the paper's numbers (ViT-B) for `paper_columns`."""

    key: str
    title: str
    paper_columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[float | None, ...]], ...]
    note: str = ""


# Tiny preset: 8 frames 64x64, tubelet 2, patch 8 -> token grid 4x8x8; default clusters 2x4x4, random order, 80% mask.
STUDY_RUNS: dict[str, StudyRun] = {
    run.name: run
    for run in (
        StudyRun("arvideo", "ARVideo (2x4x4, random, 80%)"),
        StudyRun("videomae", "VideoMAE (tube 90%)", method="videomae"),
        StudyRun("token", "TokenGPT / token 1x1x1", cluster_size=(1, 1, 1)),
        StudyRun("spatial", "spatial 1x4x4 (whole frame)", cluster_size=(1, 4, 4)),
        StudyRun("temporal", "temporal 8x1x1 (whole clip)", cluster_size=(8, 1, 1)),
        StudyRun("st444", "spatiotemporal 4x4x4", cluster_size=(4, 4, 4)),
        StudyRun("st244", "spatiotemporal 2x4x4", cluster_size=(2, 4, 4)),
        StudyRun("spatial_first", "spatial-first order", prediction_order="spatial_first"),
        StudyRun("temporal_first", "temporal-first order", prediction_order="temporal_first"),
        StudyRun("mask75", "mask 75%", mask_ratio=0.75),
        StudyRun("mask90", "mask 90%", mask_ratio=0.9),
        StudyRun("random", "random init (no pretraining)", method="random"),
    )
}

_ABLATION = ("paper SSv2 top-1 (ViT-B, 200 ep)",)
STUDY_TABLES: tuple[StudyTable, ...] = (
    StudyTable(
        "methods", "Tables 2 and 3: ARVideo vs VideoMAE vs TokenGPT",
        ("paper K400 top-1 (ViT-B, 800 ep)", "paper SSv2 top-1 (ViT-B, 800 ep)"),
        (("arvideo", (80.1, 69.8)), ("videomae", (80.0, 69.6)), ("token", (74.2, 66.4)), ("random", (None, None))),
    ),
    StudyTable(
        "clusters", "Table 6: cluster shape", _ABLATION,
        (("token", (64.0,)), ("spatial", (66.0,)), ("temporal", (65.2,)), ("st444", (65.5,)), ("st244", (None,)),
         ("arvideo", (66.8,))),
        note="Paper grid 8x14x14 with clusters 1x1x1, 1x14x14, 8x1x1, 4x7x7, -, 2x7x7 (ARVideo). Ours is 4x8x8, so "
        "the default 2x4x4 spans half the clip in time (the paper's 2x7x7 a quarter) and 4x4x4 stands for the "
        "paper's 'K_T doubled' 4x7x7.",
    ),
    StudyTable(
        "order", "Table 8: prediction order", _ABLATION,
        (("spatial_first", (65.6,)), ("temporal_first", (66.0,)), ("arvideo", (66.8,))),
    ),
    StudyTable(
        "mask", "Table 9: mask ratio", _ABLATION,
        (("mask75", (66.0,)), ("arvideo", (66.8,)), ("mask90", (65.6,))),
    ),
)

# The paper's orderings, checked on the linear probe and the finetune: (description, better run, worse run).
PAPER_CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("ARVideo >= VideoMAE (paper: +0.1 K400, +0.2 SSv2, i.e. a tie)", "arvideo", "videomae"),
    ("ARVideo > TokenGPT by a wide margin (paper: +5.9 K400, +3.4 SSv2)", "arvideo", "token"),
    ("spatial cluster > token (paper +2.0)", "spatial", "token"),
    ("temporal cluster > token (paper +1.2)", "temporal", "token"),
    ("ARVideo 2x-cluster > spatial cluster (paper +0.8)", "arvideo", "spatial"),
    ("ARVideo 2x-cluster > temporal cluster (paper +1.6)", "arvideo", "temporal"),
    ("ARVideo 2x-cluster > K_T-doubled cluster (paper +1.3)", "arvideo", "st444"),
    ("random order > spatial-first (paper +1.2)", "arvideo", "spatial_first"),
    ("random order > temporal-first (paper +0.8)", "arvideo", "temporal_first"),
    ("temporal-first > spatial-first (paper +0.4)", "temporal_first", "spatial_first"),
    ("mask 80% > 75% (paper +0.8)", "arvideo", "mask75"),
    ("mask 80% > 90% (paper +1.2)", "arvideo", "mask90"),
    ("ARVideo pretraining > random init", "arvideo", "random"),
    ("VideoMAE pretraining > random init", "videomae", "random"),
)
METRICS = ("linear_probe_top1", "finetune_top1")


# ------------------------------------------------------------------------------------------------------ arguments
@dataclass
class ReproduceArguments:
    """What `examples/reproduce.py` takes. Defaults are the README's demo study."""

    results_dir: str = field(default="reproduce", metadata={"help": "Table, plot, JSON and runs/*.json (committed)."})
    work_dir: str = field(default="outputs/reproduce", metadata={"help": "Pretraining outputs (models, checkpoints)."})
    runs: list[str] | None = field(default=None, metadata={"help": f"Subset of {list(STUDY_RUNS)} (default: all)."})
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    # pretraining (shared by every run)
    preset: str = field(default="tiny", metadata={"help": "Run preset of examples/pretrain.py."})
    config_overrides: str | None = field(default=None, metadata={"help": "JSON model overrides for every run."})
    pretrain_steps: int = field(default=200, metadata={"help": "Optimizer steps per pretraining run."})
    pretrain_seconds: float | None = field(default=None, metadata={"help": "Wall-clock budget per run instead."})
    batch_size: int = field(default=8)
    learning_rate: float = field(default=1e-3, metadata={"help": "Peak pretraining lr (absolute)."})
    warmup_steps: int = field(default=10)
    num_workers: int = field(default=1)
    torch_threads: int = field(
        default=1, metadata={"help": "torch threads (1 is fastest on a small shared CPU; 0 keeps torch's default)."}
    )
    # data (default: the embedded demo set's train/test split)
    train_list: str | None = field(default=None, metadata={"help": "'path label' list: pretraining, probe training."})
    test_list: str | None = field(default=None, metadata={"help": "'path label' list: the reported top-1."})
    data_root: str | None = field(default=None)
    demo_root: str | None = field(default=None)
    sampling_rate: int = field(default=2, metadata={"help": "Frame stride for pretraining and evaluation clips."})
    cache_eval_clips: bool = field(default=True, metadata={"help": "Decode evaluation clips once (small data only)."})
    # evaluation
    probe_epochs: int = field(default=100)
    probe_lr: float = field(default=1e-2)
    probe_batch_size: int = field(default=64)
    finetune_epochs: int = field(default=3, metadata={"help": "0 skips the finetune."})
    finetune_lr: float = field(default=2e-3, metadata={"help": "Peak lr of the head (layer decay below it)."})
    finetune_batch_size: int = field(default=16)
    layer_decay: float = field(default=0.75)
    drop_path: float = field(default=0.1)
    label_smoothing: float = field(default=0.1)
    keep_checkpoints: bool = field(default=False, metadata={"help": "Keep optimizer checkpoints after a run."})

    def __post_init__(self) -> None:
        unknown = sorted(set(self.runs or ()) - set(STUDY_RUNS))
        if unknown:
            raise ValueError(f"Unknown runs {unknown}; choose from {list(STUDY_RUNS)}.")
        if not self.seeds:
            raise ValueError("Give at least one seed.")
        if (self.train_list is None) != (self.test_list is None):
            raise ValueError("Pass both --train_list and --test_list, or neither (the demo set).")

    @property
    def selected_runs(self) -> list[StudyRun]:
        return [STUDY_RUNS[name] for name in (self.runs or STUDY_RUNS)]

    def settings(self) -> dict[str, Any]:
        """Every setting that changes a run's result (not where results go, nor which runs/seeds are selected)."""
        skip = {"results_dir", "work_dir", "runs", "seeds", "keep_checkpoints", "num_workers", "cache_eval_clips",
                "torch_threads"}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


def parse_reproduce_args(argv: list[str] | None = None) -> ReproduceArguments:
    """Command line, or one `.json`/`.yaml` file of arguments."""
    argv = sys.argv[1:] if argv is None else argv
    parser = HfArgumentParser(ReproduceArguments)
    if len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        return parser.parse_yaml_file(argv[0])[0]
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(argv[0])[0]
    return parser.parse_args_into_dataclasses(args=argv)[0]


def run_key(args: ReproduceArguments, run: StudyRun, seed: int) -> str:
    """Stable hash of the run's configuration, the shared settings and the seed."""
    payload = json.dumps({"run": dataclasses.asdict(run), "settings": args.settings(), "seed": seed}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def result_path(args: ReproduceArguments, run: StudyRun, seed: int) -> Path:
    return Path(args.results_dir) / "runs" / f"{run.name}-seed{seed}-{run_key(args, run, seed)}.json"


# ---------------------------------------------------------------------------------------------------------- data
def eval_sources(args: ReproduceArguments) -> tuple[Any, Any, dict[int, str]]:
    """Labeled train and test `VideoSource`s (the demo split by default) and `id2label`."""
    if args.train_list is None:
        root = open_demo_dataset(args.demo_root)
        names = root / "labels.txt"
        train = read_kinetics_list(root / "train.txt", root=root, labels=True, label_names=names)
        test = read_kinetics_list(root / "test.txt", root=root, labels=True, label_names=names)
    else:
        train = read_kinetics_list(args.train_list, root=args.data_root, labels=True)
        test = read_kinetics_list(args.test_list, root=args.data_root, labels=True)
    id2label = train.id2label or {i: str(i) for i in range(1 + max(r.label for r in train.records + test.records))}
    return train, test, id2label


class CachedClips(Dataset):
    """A dataset's items decoded once and kept in memory (for the small evaluation splits of the demo study)."""

    def __init__(self, dataset: Dataset) -> None:
        self.items = [dataset[i] for i in range(len(dataset))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]


def eval_datasets(args: ReproduceArguments, config: Any) -> tuple[Dataset, Dataset, dict[int, str]]:
    """Single center clip per video for the train and test splits (`VideoClipDataset.for_evaluation`)."""
    train_source, test_source, id2label = eval_sources(args)
    sources = (train_source, test_source)
    datasets = [VideoClipDataset.for_evaluation(source, config, stride=args.sampling_rate) for source in sources]
    if args.cache_eval_clips:
        datasets = [CachedClips(d) for d in datasets]
    return datasets[0], datasets[1], id2label


# ------------------------------------------------------------------------------------------------------ pretraining
def pretrain_argv(args: ReproduceArguments, run: StudyRun, seed: int, output_dir: Path) -> list[str]:
    """The full `examples/pretrain.py` command line of one study run."""
    argv = [
        "--preset", args.preset, "--output_dir", str(output_dir), "--seed", str(seed),
        "--per_device_batch_size", str(args.batch_size), "--learning_rate", str(args.learning_rate),
        "--sampling_rate", str(args.sampling_rate), "--num_workers", str(args.num_workers),
        "--report_to", "none", "--resume", "latest", *run.pretrain_argv(),
    ]
    if args.pretrain_seconds is not None:
        argv += ["--max_seconds", str(args.pretrain_seconds), "--max_steps", str(10**9)]
    else:
        argv += ["--max_steps", str(args.pretrain_steps)]
    if args.config_overrides:
        argv += ["--config_overrides", args.config_overrides]
    if args.train_list is not None:
        argv += ["--train_list", args.train_list] + (["--data_root", args.data_root] if args.data_root else [])
    elif args.demo_root is not None:
        argv += ["--demo_root", args.demo_root]
    return argv


def pretrain(args: ReproduceArguments, run: StudyRun, seed: int, output_dir: Path) -> dict[str, Any]:
    """Pretrain one run (resuming a killed one), or build the seeded random-init encoder; returns the summary."""
    pretrain_args = parse_pretrain_args(pretrain_argv(args, run, seed, output_dir))
    if run.method == "random":
        torch.manual_seed(seed)
        config = build_config(pretrain_args)
        encoder = ARVideoModel._from_config(config)
        encoder.save_pretrained(output_dir / "encoder")
        image_processor_for(config).save_pretrained(output_dir / "encoder")
        return {"steps": 0, "wall_seconds": 0.0}
    if (output_dir / "summary.json").exists() and (output_dir / "encoder" / "config.json").exists():
        return json.loads((output_dir / "summary.json").read_text())  # pretrained already (killed while evaluating)
    if not any((output_dir / "checkpoints").glob("step_*/trainer_state.json")):
        shutil.rmtree(output_dir, ignore_errors=True)  # nothing to resume: start clean (no stale log lines)
    # Without a warmup in epochs, the schedule would warm up for the preset's whole first epoch.
    steps_per_epoch = max(_num_train_videos(args) // args.batch_size, 1)
    pretrain_args.warmup_epochs = args.warmup_steps / steps_per_epoch
    pretrain_args.save_steps = max(args.pretrain_steps // 2, 1)
    pretrain_args.logging_steps = max(min(pretrain_args.logging_steps, args.pretrain_steps // 4), 1)
    reset_accelerate_state()  # one process runs many pretrainings
    summary = pretraining.run_pretraining(pretrain_args)
    records = [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    summary["first_loss"], summary["final_loss"] = records[0]["loss"], records[-1]["loss"]
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if not args.keep_checkpoints:
        shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)
    return summary


def _num_train_videos(args: ReproduceArguments) -> int:
    return len(eval_sources(args)[0].records)


# ------------------------------------------------------------------------------------------------------- evaluation
def linear_probe(
    encoder: torch.nn.Module, train: Dataset, test: Dataset, args: ReproduceArguments, seed: int
) -> dict[str, float]:
    """Mean-pooled last-layer features of the frozen encoder, a standardized linear probe, top-1 on `test`."""
    train_features = extract_features(encoder, train, progress=False)
    test_features = extract_features(encoder, test, progress=False)
    torch.manual_seed(seed)
    num_classes = int(max(train_features["labels"].max(), test_features["labels"].max())) + 1
    probe = LinearProbe(train_features["features"].shape[-1], num_classes)
    history = train_probe(
        probe, train_features["features"], train_features["labels"], epochs=args.probe_epochs,
        batch_size=args.probe_batch_size, lr=args.probe_lr, seed=seed, progress=False,
    )
    test_acc = evaluate_probe(probe, test_features["features"], test_features["labels"])
    train_acc = evaluate_probe(probe, train_features["features"], train_features["labels"])
    return {"linear_probe_top1": test_acc["top1"], "linear_probe_train_top1": train_acc["top1"],
            "linear_probe_final_loss": history[-1]}


def short_finetune(
    encoder_dir: Path, train: Dataset, test: Dataset, id2label: dict[int, str], args: ReproduceArguments, seed: int
) -> dict[str, float]:
    """Full finetune of the encoder (fresh `fc_norm` + head, layer-wise lr decay, drop path, label smoothing, warmup +
    cosine) for `finetune_epochs` over single center clips, then top-1 on `test`. A short, cheap version of the
    finetuning recipe (no mixup/RandAugment: their benefit needs far more epochs than this budget)."""
    torch.manual_seed(seed)
    model = build_classifier(encoder_dir, id2label, drop_path=args.drop_path)
    groups = build_layer_decay_param_groups(model, 0.05, args.layer_decay, args.finetune_lr)
    optimizer = torch.optim.AdamW(groups, lr=args.finetune_lr, betas=(0.9, 0.999))
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(train, args.finetune_batch_size, shuffle=True, generator=generator, collate_fn=_stack)
    total, warmup = args.finetune_epochs * len(loader), max(len(loader) // 2, 1)  # half an epoch of warmup

    def warmup_cosine(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine)
    model.train()
    for _ in range(args.finetune_epochs):
        for batch in loader:
            logits = model(pixel_values=batch["pixel_values"]).logits
            loss = F.cross_entropy(logits, batch["labels"], label_smoothing=args.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for batch in DataLoader(test, batch_size=32, collate_fn=_stack):
            correct += int((model(pixel_values=batch["pixel_values"]).logits.argmax(-1) == batch["labels"]).sum())
    return {"finetune_top1": 100.0 * correct / len(test), "finetune_final_loss": float(loss.item())}


def _stack(samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    return {"pixel_values": torch.stack([s["pixel_values"] for s in samples]),
            "labels": torch.stack([torch.as_tensor(s["labels"]) for s in samples]).long()}


def evaluate_run(
    encoder_dir: Path, data: tuple[Dataset, Dataset, dict[int, str]], args: ReproduceArguments, seed: int
) -> dict[str, Any]:
    """Linear probe and (unless `finetune_epochs=0`) short finetune of one encoder folder."""
    train, test, id2label = data
    started = time.perf_counter()
    results: dict[str, Any] = linear_probe(load_encoder(encoder_dir), train, test, args, seed)
    results["probe_seconds"] = round(time.perf_counter() - started, 1)
    if args.finetune_epochs > 0:
        started = time.perf_counter()
        results.update(short_finetune(encoder_dir, train, test, id2label, args, seed))
        results["finetune_seconds"] = round(time.perf_counter() - started, 1)
    return results


# ---------------------------------------------------------------------------------------------------------- the study
def run_study(args: ReproduceArguments, log: Any = print) -> dict[str, Any]:
    """Run every missing (run, seed) of the study, then write the report; returns `results.json`'s content."""
    results_dir, work_dir = Path(args.results_dir), Path(args.work_dir)
    (results_dir / "runs").mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    try:
        return _run_study(args, log, results_dir, work_dir)
    finally:
        torch.set_num_threads(threads)


def _run_study(args: ReproduceArguments, log: Any, results_dir: Path, work_dir: Path) -> dict[str, Any]:
    todo = [(seed, run) for seed in args.seeds for run in args.selected_runs]
    data = None
    study_started = time.perf_counter()
    for number, (seed, run) in enumerate(todo, 1):
        path = result_path(args, run, seed)
        if path.exists():
            log(f"[{number}/{len(todo)}] {run.name} seed {seed}: done already ({path.name})")
            continue
        if data is None:  # decoded once, only when something is left to run
            config = build_config(parse_pretrain_args(pretrain_argv(args, STUDY_RUNS["arvideo"], 0, work_dir)))
            data = eval_datasets(args, config)
        output_dir = work_dir / f"{run.name}-seed{seed}-{run_key(args, run, seed)}"
        started = time.perf_counter()
        summary = pretrain(args, run, seed, output_dir)
        pretrain_seconds = time.perf_counter() - started
        scores = evaluate_run(output_dir / "encoder", data, args, seed)
        record = {
            "run": run.name, "label": run.label, "seed": seed, "key": run_key(args, run, seed),
            "spec": dataclasses.asdict(run), "settings": args.settings(),
            "pretrain": {**summary, "seconds": round(pretrain_seconds, 1)}, **scores,
            "total_seconds": round(time.perf_counter() - started, 1),
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(tmp, path)
        log(f"[{number}/{len(todo)}] {run.name} seed {seed}: probe {scores['linear_probe_top1']:.1f} "
            f"finetune {scores.get('finetune_top1', float('nan')):.1f} in {record['total_seconds']:.0f}s")
        write_report(args, plot=False)
    report = write_report(args)
    log(f"Study finished in {time.perf_counter() - study_started:.0f}s this session; see {results_dir / 'RESULTS.md'}")
    return report


# ------------------------------------------------------------------------------------------------------- the report
def load_results(args: ReproduceArguments) -> list[dict[str, Any]]:
    """The per-run JSONs of the current settings (results of other settings in the folder are ignored)."""
    records = []
    for run in STUDY_RUNS.values():
        for seed in args.seeds:
            path = result_path(args, run, seed)
            if path.exists():
                records.append(json.loads(path.read_text()))
    return records


def aggregate(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per run: mean, sample std and values of each metric over seeds, and the mean pretraining seconds."""
    stats: dict[str, dict[str, Any]] = {}
    for name in STUDY_RUNS:
        mine = [r for r in records if r["run"] == name]
        if not mine:
            continue
        entry: dict[str, Any] = {"label": STUDY_RUNS[name].label, "seeds": sorted(r["seed"] for r in mine)}
        for metric in METRICS:
            values = [r[metric] for r in mine if metric in r]
            if values:
                spread = statistics.stdev(values) if len(values) > 1 else 0.0
                entry[metric] = {"mean": statistics.fmean(values), "std": spread, "values": values}
        entry["pretrain_seconds"] = statistics.fmean(r["pretrain"]["seconds"] for r in mine)
        entry["total_seconds"] = sum(r["total_seconds"] for r in mine)
        losses = [r["pretrain"].get("final_loss") for r in mine if r["pretrain"].get("final_loss") is not None]
        if losses:
            entry["final_pretrain_loss"] = statistics.fmean(losses)
        stats[name] = entry
    return stats


def check_claims(stats: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each paper ordering on each metric: the mean difference, and whether it holds (and beyond one pooled std)."""
    checks = []
    for description, better, worse in PAPER_CLAIMS:
        if better not in stats or worse not in stats:
            continue
        for metric in METRICS:
            if metric not in stats[better] or metric not in stats[worse]:
                continue
            a, b = stats[better][metric], stats[worse][metric]
            diff = a["mean"] - b["mean"]
            spread = math.sqrt((a["std"] ** 2 + b["std"] ** 2) / 2)
            tie_claim = "tie" in description
            if len(a["values"]) < 2 or len(b["values"]) < 2:
                verdict = ("held" if diff >= 0 else "did not hold") + " (one seed: no spread)"
            elif tie_claim and abs(diff) <= spread:
                verdict = "held (within noise)"
            elif tie_claim:
                verdict = "held" if diff > 0 else "did not hold"
            else:
                verdict = "did not hold" if diff <= 0 else ("held" if diff > spread else "held, within noise")
            checks.append({"claim": description, "metric": metric, "better": better, "worse": worse,
                           "difference": round(diff, 2), "pooled_std": round(spread, 2), "verdict": verdict})
    return checks


def _cell(entry: dict[str, Any] | None, metric: str) -> str:
    if not entry or metric not in entry:
        return "-"
    stat = entry[metric]
    return f"{stat['mean']:.1f} ± {stat['std']:.1f}" if len(stat["values"]) > 1 else f"{stat['mean']:.1f}"


def render_markdown(args: ReproduceArguments, stats: dict[str, dict[str, Any]], claims: list[dict[str, Any]],
                    environment: dict[str, Any]) -> str:
    """The tables (ours beside the paper's), the ordering checks, and how the numbers were made."""
    seeds = sorted({seed for entry in stats.values() for seed in entry["seeds"]})
    budget = f"{args.pretrain_seconds:g} s" if args.pretrain_seconds is not None else f"{args.pretrain_steps} steps"
    lines = [
        "# Does it reproduce? Small-scale ARVideo study",
        "",
        f"Ours: `{args.preset}` preset encoder, top-1 (%) on the {'demo' if args.train_list is None else 'given'} test "
        f"split, mean ± sample std over seeds {seeds} (n={len(seeds)}). Every run pretrains for {budget} at "
        f"batch {args.batch_size} (lr {args.learning_rate:g}) on the same data and augmentation. Linear probe: frozen "
        f"mean-pooled features, {args.probe_epochs} epochs. Finetune: full network, {args.finetune_epochs} epochs, "
        f"single center clip, no mixup. Chance is {environment['chance_top1']:.1f}%; one of the "
        f"{environment['num_test_videos']} test videos is {100 / environment['num_test_videos']:.1f} points. The "
        "paper's "
        "numbers are ViT-B on Kinetics-400 / Something-Something V2 (finetuned): they show the paper's ordering, not a "
        "scale to compare values with.",
        "",
    ]
    for table in STUDY_TABLES:
        lines += [f"## {table.title}", ""]
        header = ["case", "ours: linear probe", "ours: finetune", *table.paper_columns]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name, paper in table.rows:
            entry = stats.get(name)
            paper_cells = [f"{value:.1f}" if value is not None else "-" for value in paper]
            lines.append("| " + " | ".join([STUDY_RUNS[name].label, _cell(entry, METRICS[0]), _cell(entry, METRICS[1]),
                                            *paper_cells]) + " |")
        if table.note:
            lines += ["", table.note]
        lines.append("")
    if claims:
        lines += ["## The paper's orderings at this scale", "",
                  "`held`: our mean difference has the paper's sign and exceeds one pooled std over seeds (weak "
                  "evidence at n=3); `held, within noise`: the paper's sign, smaller than one pooled std; for the "
                  "ARVideo-VideoMAE tie, `held (within noise)` means |difference| <= one pooled std.", "",
                  "| claim | metric | ours: difference | pooled std | verdict |", "|---|---|---|---|---|"]
        for c in claims:
            cells = [c["claim"], c["metric"], f"{c['difference']:+.1f}", f"{c['pooled_std']:.1f}", c["verdict"]]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    pending = [r.name for r in args.selected_runs if len(stats.get(r.name, {}).get("seeds", [])) < len(args.seeds)]
    if pending:
        lines += [f"Incomplete: {', '.join(pending)} lack some of seeds {list(args.seeds)} (the study resumes).", ""]
    lines += [
        "## How these numbers were made", "",
        f"- Command: `{environment['command']}`",
        f"- Machine: {environment['machine']}; torch {environment['torch']}, "
        f"transformers {environment['transformers']}",
        f"- Compute: {environment['total_seconds'] / 60:.1f} min summed over the {environment['num_results']} runs "
        "(pretraining + probe + finetune)",
        "",
        "| run | pretraining s (mean) | final pretraining loss |", "|---|---|---|",
    ]
    if environment.get("zero_prediction_loss") is not None:
        lines.insert(-2, f"Predicting all zeros scores a pretraining loss of {environment['zero_prediction_loss']:.4f} "
                         "(norm-pix targets): a run has learned to predict only as far as it gets below that.\n")
    for entry in stats.values():
        loss = f"{entry['final_pretrain_loss']:.4f}" if "final_pretrain_loss" in entry else "-"
        lines.append(f"| {entry['label']} | {entry['pretrain_seconds']:.0f} | {loss} |")
    return "\n".join(lines) + "\n"


def plot_results(stats: dict[str, dict[str, Any]], path: Path, chance: float | None = None) -> None:
    """One panel per table: linear probe and finetune top-1 (mean, std error bars), random init and chance as lines."""
    # Here, not at the top: pyplot is slow to import and must only ever be asked for the Agg backend when plotting.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, len(STUDY_TABLES), figsize=(4.2 * len(STUDY_TABLES), 4.2), squeeze=False)
    for ax, table in zip(axes[0], STUDY_TABLES, strict=True):
        names = [name for name, _ in table.rows if name in stats and name != "random"]
        for offset, metric, color in ((-0.2, METRICS[0], "tab:blue"), (0.2, METRICS[1], "tab:orange")):
            means = [stats[n][metric]["mean"] if metric in stats[n] else float("nan") for n in names]
            stds = [stats[n][metric]["std"] if metric in stats[n] else 0.0 for n in names]
            ax.bar([i + offset for i in range(len(names))], means, 0.4, yerr=stds, capsize=3, color=color,
                   label=metric.replace("_top1", "").replace("_", " "))
            if "random" in stats and metric in stats["random"]:
                ax.axhline(stats["random"][metric]["mean"], color=color, linestyle="--", linewidth=1)
        if chance is not None:
            ax.axhline(chance, color="gray", linestyle=":", linewidth=1)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([STUDY_RUNS[n].label.split(" (")[0] for n in names], rotation=35, ha="right", fontsize=8)
        ax.set_title(table.title, fontsize=9)
        ax.set_ylabel("top-1 (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles += [Line2D([], [], color="black", linestyle="--"), Line2D([], [], color="gray", linestyle=":")]
    labels += ["random init (same colour: same metric)", "chance"]
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def zero_prediction_loss(args: ReproduceArguments) -> float | None:
    """The pretraining loss of predicting all zeros: `(n-1)/n` under norm-pix targets (each tubelet channel of n pixels
    normalized with its unbiased std), the level a run has to get below to have learned anything."""
    config = build_config(parse_pretrain_args(pretrain_argv(args, STUDY_RUNS["arvideo"], 0, Path(args.work_dir))))
    if not config.norm_pix_loss:
        return None
    patch = pair(config.patch_size)[0]
    pixels = config.tubelet_size * patch * patch
    return round((pixels - 1) / pixels, 4)


def reproduce_command(args: ReproduceArguments) -> str:
    """The `examples/reproduce.py` command line that gives these results (the arguments that differ from defaults)."""
    argv = ["python", "examples/reproduce.py"]
    defaults = ReproduceArguments()
    for item in dataclasses.fields(ReproduceArguments):
        value = getattr(args, item.name)
        if value == getattr(defaults, item.name):
            continue
        argv.append(f"--{item.name}")
        argv += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return shlex.join(argv)


def environment_info(args: ReproduceArguments, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    device = f"{os.cpu_count()} CPU cores ({cpu_model()}), no GPU"
    if torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    return {"machine": device, "torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version(), "command": reproduce_command(args),
            "total_seconds": round(sum(r["total_seconds"] for r in records), 1), "num_results": len(records)}


def write_report(args: ReproduceArguments, plot: bool = True) -> dict[str, Any]:
    """`RESULTS.md`, `results.json` and (`plot`) `results.png` from the per-run JSONs of the current settings."""
    results_dir = Path(args.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    records = load_results(args)
    stats = aggregate(records)
    claims = check_claims(stats)
    environment = environment_info(args, records)
    _, test_source, id2label = eval_sources(args)
    environment.update(chance_top1=round(100.0 / len(id2label), 2), num_test_videos=len(test_source.records))
    environment["zero_prediction_loss"] = zero_prediction_loss(args)
    report = {"settings": args.settings(), "seeds": list(args.seeds), "environment": environment,
              "aggregates": stats, "claims": claims,
              "tables": [dataclasses.asdict(table) for table in STUDY_TABLES],
              "runs": sorted((r["run"], r["seed"], r["key"]) for r in records)}
    (results_dir / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (results_dir / "RESULTS.md").write_text(render_markdown(args, stats, claims, environment))
    if stats and plot:
        plot_results(stats, results_dir / "results.png", chance=environment["chance_top1"])
    return report


__all__ = [
    "METRICS",
    "PAPER_CLAIMS",
    "STUDY_RUNS",
    "STUDY_TABLES",
    "ReproduceArguments",
    "StudyRun",
    "StudyTable",
    "aggregate",
    "check_claims",
    "evaluate_run",
    "linear_probe",
    "load_results",
    "parse_reproduce_args",
    "pretrain",
    "reproduce_command",
    "pretrain_argv",
    "render_markdown",
    "run_key",
    "run_study",
    "short_finetune",
    "write_report",
]

# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""The zoo's entries: each named checkpoint's model size, dataset, recipe and every result known for it (the paper's,
and this project's measurements). The demo entry's numbers are read from `demo_results.json`, the reference
`make demo` run committed beside this file; the pretrained encoder entry's facts from `pretrained_run.json`, what its
pretraining run recorded (`python -m arvideo_hf.zoo pretrained` writes both it and the checkpoint folder)."""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..models.configuration_arvideo import ARVIDEO_PRESETS, ARVideoConfig, pair
from ..results import PAPER_RESULTS, PAPER_TABLES, DatasetInfo, Result, dataset_info


@dataclass(frozen=True)
class Recipe:
    """How an entry is (to be) trained and tested; `None` means not fixed for this entry."""

    pretrain_epochs: int | None
    num_frames: int
    sampling_stride: int | None
    image_size: int
    test_clips: int | None
    test_crops: int | None
    pretrain_budget: str | None = None  # a wall-clock budget, for entries pretrained by time rather than epochs

    @property
    def pretraining_length(self) -> str | None:
        """How long pretraining ran: epochs, or the wall-clock budget; None when not recorded."""
        return f"{self.pretrain_epochs} epochs" if self.pretrain_epochs else self.pretrain_budget

    @property
    def views(self) -> str | None:
        """Test views as `clips x crops` (e.g. `5x3`)."""
        return None if self.test_clips is None or self.test_crops is None else f"{self.test_clips}x{self.test_crops}"


@dataclass(frozen=True)
class PretrainingRun:
    """What a finished pretraining run recorded (`summary.json`, `training_args.json`, its encoder's config): the
    facts a pretrained entry's card states, committed as JSON so the card renders without the run."""

    command: str  # the `examples/pretrain.py` command that makes the run again (recorded by the run itself)
    steps: int
    wall_seconds: float
    machine: str | None  # `arvideo_hf.environment.describe_machine()` as the run recorded it
    method: str
    model_preset: str
    dataset: str  # "demo" (the demo set's unlabeled pool) or the run's --train_list
    videos: int | None  # unlabeled videos in the pool
    processes: int
    sampling_rate: int  # frame stride of the pretraining clips
    config_overrides: dict[str, Any] = field(default_factory=dict)  # the encoder's config fields unlike its preset's

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainingRun:
        """From `to_dict()`'s JSON; an error naming the missing or unknown keys."""
        fields = cls.__dataclass_fields__.values()
        known = {f.name for f in fields}
        required = {f.name for f in fields if f.default is MISSING and f.default_factory is MISSING}
        if set(data) - known or required - set(data):
            raise ValueError(f"not a pretraining run record: keys {sorted(data)}, expected {sorted(known)}.")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ZooEntry:
    """A named checkpoint: preset size, dataset, recipe, and every result known for it. `architecture` is what the
    checkpoint holds: a classifier finetuned on `dataset`, or (`ARVideoModel`) an encoder pretrained on it."""

    name: str
    preset: str | None
    dataset: str
    recipe: Recipe
    summary: str
    results: tuple[Result, ...] = field(default_factory=tuple)
    architecture: str = "ARVideoForVideoClassification"
    pretraining: PretrainingRun | None = None  # the recorded run, for entries this project pretrained itself

    @property
    def is_classifier(self) -> bool:
        return self.architecture == "ARVideoForVideoClassification"

    def __post_init__(self) -> None:
        if self.preset is not None and self.preset not in ARVIDEO_PRESETS:
            raise ValueError(f"{self.name}: unknown preset {self.preset!r}.")
        for result in self.results:
            if result.source == "paper" and result.reference not in PAPER_TABLES:
                raise ValueError(f"{self.name}: paper results must cite one of {sorted(PAPER_TABLES)}.")

    @property
    def dataset_info(self) -> DatasetInfo:
        return dataset_info(self.dataset)

    @property
    def measured_results(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.source == "measured")

    @property
    def paper_results(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.source == "paper")

    def config(self, **overrides: Any) -> ARVideoConfig:
        """The checkpoint's config: the preset at the recipe's frames and resolution, with the recorded run's own
        config fields, and one label per class for a classifier."""
        if self.preset is None:
            raise ValueError(f"{self.name} has no preset; it describes an external checkpoint.")
        fields: dict[str, Any] = dict(num_frames=self.recipe.num_frames, image_size=self.recipe.image_size)
        if self.pretraining is not None:
            fields.update(self.pretraining.config_overrides)
        if self.dataset_info.num_labels and self.is_classifier:
            fields["num_labels"] = self.dataset_info.num_labels
        fields["architectures"] = [self.architecture]
        return ARVideoConfig.from_preset(self.preset, **{**fields, **overrides})


# The reference `make demo` run (python -m arvideo_hf.demo --results_file src/arvideo_hf/zoo/demo_results.json --readme
# README.md): the demo entry, its card and the README's demo table are all generated from this one file
# (tests/test_zoo.py checks both); its `finetune-arvideo-seed0` folder is published as checkpoints/arvideo-tiny-demo.
DEMO_RESULTS_FILE = Path(__file__).with_name("demo_results.json")


def load_demo_results() -> dict[str, Any] | None:
    """The reference demo run's results, or None when the file is absent (a source tree before the first run)."""
    return json.loads(DEMO_RESULTS_FILE.read_text()) if DEMO_RESULTS_FILE.is_file() else None


def pretraining_budget(args: dict[str, Any]) -> str:
    """The demo's pretraining budget in words from its recorded arguments: "400 steps", or "60 s" for a wall-clock
    run (reference runs made before step budgets record only `pretrain_seconds`)."""
    if args.get("pretrain_seconds") is not None:
        return f"{args['pretrain_seconds']:g} s"
    return f"{args['pretrain_steps']} steps"


def demo_entry() -> ZooEntry:
    """`arvideo-tiny-demo`: the ARVideo-pretrained tiny encoder finetuned on 10% of the demo labels (seed 0 run)."""
    results = load_demo_results()
    wall_clock = results is not None and results["args"].get("pretrain_seconds") is not None
    budget = None if results is None else (
        f"{pretraining_budget(results['args'])}{' of wall clock' if wall_clock else ''} on 2 CPU cores")
    recipe = Recipe(pretrain_epochs=None, num_frames=16, sampling_stride=2, image_size=32, test_clips=2, test_crops=1,
                    pretrain_budget=budget)
    summary = (
        "A tiny ARVideo (3 layers, width 96, 16x32x32 clips) pretrained for a minute of CPU time on the demo set's "
        "unlabeled pool and finetuned on 10% of its labels (120 clips): the demo of the method at laptop scale, "
        "not a general video model."
    )
    if results is None:
        return ZooEntry("arvideo-tiny-demo", "tiny", "demo", recipe, summary)
    rows = results["rows"]
    low = {name: rows[name]["low_label"] for name in ("arvideo", "random", "videomae")}
    summary += (
        f" The reference `make demo` run ({len(low['arvideo']['values'])} finetune seeds, one pretraining of "
        f"{pretraining_budget(results['args'])} per method) measured on the test split: ARVideo "
        f"{low['arvideo']['mean']:.1f} ± {low['arvideo']['std']:.1f}% top-1, the same recipe from random init "
        f"{low['random']['mean']:.1f} ± {low['random']['std']:.1f}%, from the VideoMAE baseline pretrained for the "
        f"{'same wall clock' if wall_clock else 'same number of steps'} "
        f"{low['videomae']['mean']:.1f} ± {low['videomae']['std']:.1f}% (chance 16.7%); this "
        "checkpoint is the seed-0 finetune. At this budget the gain over random init is smaller than random init's "
        "seed-to-seed spread."
    )
    # The seed-0 finetune's own eval_results.json: the published checkpoint's measurement, word for word.
    measured = Result.from_dict(results["checkpoint_result"], source=f"{DEMO_RESULTS_FILE.name}: checkpoint_result")
    return ZooEntry("arvideo-tiny-demo", "tiny", "demo", recipe, summary, results=(measured,))


PRETRAINED_NAME = "arvideo-tiny-pretrained"
# The pretraining run behind checkpoints/arvideo-tiny-pretrained, as it recorded itself; written with the folder by
# `python -m arvideo_hf.zoo pretrained RUN_DIR ... --record src/arvideo_hf/zoo/pretrained_run.json`.
PRETRAINED_RUN_FILE = Path(__file__).with_name("pretrained_run.json")


def load_pretrained_run() -> PretrainingRun | None:
    """The committed pretraining record of `arvideo-tiny-pretrained`, or None before its checkpoint is built."""
    if not PRETRAINED_RUN_FILE.is_file():
        return None
    return PretrainingRun.from_dict(json.loads(PRETRAINED_RUN_FILE.read_text()))


def _zoo_row_text(run: PretrainingRun) -> str:
    """What the reference `make demo` run measured when finetuning this checkpoint, when it finetuned this one."""
    results = load_demo_results()
    zoo = None if results is None else results["rows"].get("zoo")
    if zoo is None or results["pretraining"].get("zoo", {}).get("steps") != run.steps:
        return ""
    low, own = zoo["low_label"], results["rows"]["arvideo"]["low_label"]
    return (
        f" In the reference `make demo` run, finetuning it on {results['dataset']['train_10pct']} labels gave "
        f"{low['mean']:.1f} ± {low['std']:.1f}% top-1 over {len(low['values'])} seeds, against {own['mean']:.1f} ± "
        f"{own['std']:.1f}% from the demo's own {pretraining_budget(results['args'])} pretraining (chance 16.7%)."
    )


# The committed checkpoint finetuned as the demo does with 5 seeds, with each head norm (reproduce/hard_set/
# head-norm.jsonl, top-1 % per seed; tests/test_zoo.py checks them against that file).
PRETRAINED_FIVE_SEED_FINETUNE = {"steps": 4000, "batch": (63.0, 60.7, 64.7, 62.7, 63.7),
                                 "layer": (50.3, 62.3, 59.3, 19.3, 50.0)}


def _five_seed_text(run: PretrainingRun) -> str:
    if run.steps != PRETRAINED_FIVE_SEED_FINETUNE["steps"]:
        return ""
    batch, layer = PRETRAINED_FIVE_SEED_FINETUNE["batch"], PRETRAINED_FIVE_SEED_FINETUNE["layer"]
    return (
        f" Finetuned with 5 seeds in the same way it gave {', '.join(f'{v:.1f}' for v in batch)}. Keep the tiny "
        "recipe's BatchNorm head (`--head_norm batch`): with VideoMAE's LayerNorm head the same seeds gave "
        f"{', '.join(f'{v:.1f}' for v in layer)}, and at {min(layer):.1f}% the training loss stayed at chance, "
        "because the vector pretraining adds to every clip's tokens fills a LayerNorm'd head input "
        "(`reproduce/hard_set/RESULTS.md`, section 4.12, in the arvideo_hf repository)."
    )


def pretrained_entry(run: PretrainingRun | None = None) -> ZooEntry:
    """`arvideo-tiny-pretrained`: the tiny encoder pretrained on the demo set's unlabeled pool for a long, fixed step
    budget (`run`, default: the committed record); no labels, no classifier: the zoo's starting point for finetuning."""
    run = run or load_pretrained_run()
    preset = run.model_preset if run else "tiny"
    config = ARVideoConfig.from_preset(preset, **(run.config_overrides if run else {}))
    height, width = pair(config.image_size)
    recipe = Recipe(pretrain_epochs=None, num_frames=config.num_frames, image_size=height,
                    sampling_stride=run.sampling_rate if run else 2,
                    test_clips=2, test_crops=1, pretrain_budget=f"{run.steps} steps" if run else None)
    summary = (
        f"A tiny ARVideo encoder ({config.num_hidden_layers} layers, width {config.hidden_size}, "
        f"{config.num_frames}x{height}x{width} clips) {'pretrained' if run else 'to be pretrained'} self-supervised "
        "on the demo set's unlabeled pool, no labels used, for a long fixed step budget: the zoo's starting point for "
        "finetuning at the demo's scale, not a general video model. It has no classifier; `make demo` finetunes it "
        "on 10% of the demo labels beside its own short pretraining."
    )
    if run is None:
        summary += " Not built yet: `python -m arvideo_hf.zoo pretrained RUN_DIR` makes it from a finished run."
    else:
        summary += _zoo_row_text(run) + _five_seed_text(run)
    return ZooEntry(PRETRAINED_NAME, preset, "demo", recipe, summary, architecture="ARVideoModel", pretraining=run)


def _k400(pretrain_epochs: int | None = 800) -> Recipe:
    return Recipe(pretrain_epochs, num_frames=16, sampling_stride=4, image_size=224, test_clips=5, test_crops=3)


ZOO: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        demo_entry(),
        pretrained_entry(),
        ZooEntry(
            "arvideo-vits-k400", "small", "k400", _k400(),
            "ARVideo ViT-S/16 pretrained and finetuned on Kinetics-400. The paper reports no ViT-S results.",
        ),
        ZooEntry(
            "arvideo-vitb-k400", "base", "k400", _k400(), "ARVideo ViT-B/16 pretrained and finetuned on Kinetics-400.",
            results=PAPER_RESULTS["k400"],
        ),
        ZooEntry(
            "arvideo-vitb-ssv2", "base", "ssv2",
            Recipe(pretrain_epochs=800, num_frames=16, sampling_stride=2, image_size=224, test_clips=2, test_crops=3),
            "ARVideo ViT-B/16 pretrained and finetuned on Something-Something V2.",
            results=PAPER_RESULTS["ssv2"],
        ),
        ZooEntry(
            "arvideo-vitl-k400", "large", "k400", _k400(),
            "ARVideo ViT-L/16 pretrained and finetuned on Kinetics-400. The paper reports no ViT-L results.",
        ),
    )
}


def get_entry(name: str) -> ZooEntry:
    """A zoo entry by name (a `org/` prefix is ignored)."""
    key = name.rsplit("/", 1)[-1]
    if key not in ZOO:
        raise KeyError(f"No zoo entry {key!r}; known entries: {sorted(ZOO)}.")
    return ZOO[key]


__all__ = ["DEMO_RESULTS_FILE", "PRETRAINED_NAME", "PRETRAINED_RUN_FILE", "ZOO", "PretrainingRun", "Recipe",
           "ZooEntry", "demo_entry", "get_entry", "load_demo_results", "load_pretrained_run", "pretrained_entry",
           "pretraining_budget"]

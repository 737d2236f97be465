# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""The ARVideo model zoo: named checkpoints, their recipes, their known results, and their model cards.

Every number a card shows comes from a `ZooResult`, which says where it came from: `source="paper"` (the ARVideo
paper, a table named in `reference`; never these weights) or `source="measured"` (this project, with the exact
command in `reference`). Entries without measured results say "not yet trained/measured".

Cards are generated from one template (`CARD_TEMPLATE`) and committed under `model_cards/`:

    python -m arvideo_hf.zoo write-cards model_cards/            # regenerate
    python -m arvideo_hf.zoo write-cards model_cards/ --check    # exit 1 when the committed cards are stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .configuration_arvideo import ARVIDEO_PRESETS, ARVideoConfig, pair
from .modeling_arvideo import ARVideoForVideoClassification, ARVideoModel
from .training.arguments import FINETUNE_PRESETS, RUN_PRESETS


DEFAULT_ORGANIZATION = "arvideo-hf"
PAPER_URL = "https://arxiv.org/abs/2405.15160"
CITATION = """@article{ren2024arvideo,
  title   = {ARVideo: Autoregressive Pretraining for Self-Supervised Video Representation Learning},
  author  = {Ren, Sucheng and Zhu, Hongru and Wei, Chen and Li, Yijiang and Yuille, Alan and Xie, Cihang},
  journal = {arXiv preprint arXiv:2405.15160},
  year    = {2024}
}"""
NOT_MEASURED = "not yet trained/measured by this project"
TASK = "video-classification"


# --------------------------------------------------------------------------------------------------------- datasets
@dataclass(frozen=True)
class DatasetInfo:
    """A finetuning dataset: display name, the `model-index` dataset type, and its label count (if known)."""

    key: str
    name: str
    hub_type: str
    num_labels: int | None = None
    split: str = "validation"


DATASETS: dict[str, DatasetInfo] = {
    "k400": DatasetInfo("k400", "Kinetics-400", "kinetics-400", 400),
    "ssv2": DatasetInfo("ssv2", "Something-Something V2", "something-something-v2", 174),
    "demo": DatasetInfo("demo", "ARVideo moving-digits demo", "arvideo-demo", 6, split="test"),
}
_DATASET_ALIASES = {
    "kinetics-400": "k400", "kinetics400": "k400", "kinetics": "k400", "k-400": "k400",
    "something-something-v2": "ssv2", "something-something v2": "ssv2", "sthsthv2": "ssv2", "ssv2": "ssv2",
    "arvideo-demo": "demo",
}


def dataset_info(name: str) -> DatasetInfo:
    """Look a dataset up by key or common spelling (`k400`, `Kinetics-400`, `ssv2`, ...); unknown names pass through."""
    key = name.strip().lower()
    key = _DATASET_ALIASES.get(key, key)
    if key in DATASETS:
        return DATASETS[key]
    slug = re.sub(r"[^a-z0-9]+", "-", key).strip("-") or "custom"
    return DatasetInfo(slug, name.strip(), slug)


# ---------------------------------------------------------------------------------------------------------- entries
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
class ZooResult:
    """One top-1 (and optional top-5) number, with its provenance.

    `source="paper"`: reported by the ARVideo paper (`reference` names the table); not a measurement of these weights.
    `source="measured"`: produced by this project; `reference` is the exact command that produced it.
    """

    dataset: str
    top1: float
    source: Literal["paper", "measured"]
    reference: str
    pretrain_epochs: int | None = None
    views: str | None = None
    top5: float | None = None
    num_videos: int | None = None
    split: str | None = None

    def __post_init__(self) -> None:
        if self.source not in ("paper", "measured"):
            raise ValueError(f"ZooResult.source must be 'paper' or 'measured', got {self.source!r}.")
        if not self.reference.strip():
            raise ValueError("ZooResult.reference must name the paper table or the command that measured it.")
        for name, value in (("top1", self.top1), ("top5", self.top5)):
            if value is not None and not 0.0 <= value <= 100.0:
                raise ValueError(f"{name} is a percentage in [0, 100], got {value}.")
        if self.views is not None and not re.fullmatch(r"\d+x\d+", self.views):
            raise ValueError(f"views must look like '5x3' (clips x crops), got {self.views!r}.")

    @property
    def dataset_info(self) -> DatasetInfo:
        return dataset_info(self.dataset)

    @property
    def source_label(self) -> str:
        return "paper-reported" if self.source == "paper" else "measured (this project)"


@dataclass(frozen=True)
class ZooEntry:
    """A named checkpoint: preset size, finetuning dataset, recipe, and every result known for it."""

    name: str
    preset: str | None
    dataset: str
    recipe: Recipe
    summary: str
    results: tuple[ZooResult, ...] = field(default_factory=tuple)

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
    def measured_results(self) -> tuple[ZooResult, ...]:
        return tuple(r for r in self.results if r.source == "measured")

    @property
    def paper_results(self) -> tuple[ZooResult, ...]:
        return tuple(r for r in self.results if r.source == "paper")

    def config(self, **overrides: Any) -> ARVideoConfig:
        """The finetuned classifier's config: the preset at the recipe's frames and resolution, one label per class."""
        if self.preset is None:
            raise ValueError(f"{self.name} has no preset; it describes an external checkpoint.")
        fields: dict[str, Any] = dict(num_frames=self.recipe.num_frames, image_size=self.recipe.image_size)
        if self.dataset_info.num_labels:
            fields["num_labels"] = self.dataset_info.num_labels
        fields["architectures"] = ["ARVideoForVideoClassification"]
        return ARVideoConfig.from_preset(self.preset, **{**fields, **overrides})


# Paper numbers exist only for ViT-B (docs/method.md, Paper results). Keys: the `reference` strings paper results use.
# Views are as printed in the tables' GFLOPs column ("180 x 2 x 3") for both datasets.
PAPER_TABLES = {
    "ARVideo paper, Table 2 (Kinetics-400)": "k400",
    "ARVideo paper, Table 3 (Something-Something V2)": "ssv2",
}
_K400_TABLE, _SSV2_TABLE = PAPER_TABLES
PAPER_RESULTS: dict[str, tuple[ZooResult, ...]] = {
    "k400": (
        ZooResult("k400", 80.1, "paper", _K400_TABLE, pretrain_epochs=800, views="2x3"),
        ZooResult("k400", 81.2, "paper", _K400_TABLE, pretrain_epochs=1600, views="2x3"),
    ),
    "ssv2": (
        ZooResult("ssv2", 69.8, "paper", _SSV2_TABLE, pretrain_epochs=800, views="2x3"),
        ZooResult("ssv2", 70.9, "paper", _SSV2_TABLE, pretrain_epochs=2400, views="2x3"),
    ),
}


# The reference `make demo` run (python -m arvideo_hf.demo --results_file src/arvideo_hf/demo_results.json): the demo
# entry, its card and the README's demo table are all generated from this one file (tests/test_zoo.py checks both).
DEMO_RESULTS_FILE = Path(__file__).with_name("demo_results.json")
DEMO_CHECKPOINT = "checkpoints/arvideo-tiny-demo"  # the committed Hub-ready folder of the demo entry (repo root)


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
    run, rows = results["rows"]["arvideo"]["low_label_runs"][0], results["rows"]
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
    command = "make demo  (= python -m arvideo_hf.demo; this checkpoint is its finetune-arvideo-seed0 folder)"
    measured = ZooResult("demo", round(run["top1"], 2), "measured", command, views=run["views"],
                         num_videos=run["num_test"], split="test")
    return ZooEntry("arvideo-tiny-demo", "tiny", "demo", recipe, summary, results=(measured,))


def _k400(pretrain_epochs: int | None = 800) -> Recipe:
    return Recipe(pretrain_epochs, num_frames=16, sampling_stride=4, image_size=224, test_clips=5, test_crops=3)


ZOO: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        demo_entry(),
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


# ------------------------------------------------------------------------------------------------------- model cards
_SIZE_NAMES = {"tiny": "tiny", "small": "ViT-S", "base": "ViT-B", "large": "ViT-L", "huge": "ViT-H"}
_ARCH_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
_SHAPE_FIELDS = ("image_size", "patch_size", "num_frames", "tubelet_size", "num_channels")


def size_name(config: ARVideoConfig) -> str:
    """`ViT-B` etc. when the encoder matches a preset's widths and depth, else `custom`."""
    defaults = ARVideoConfig().to_dict()
    for preset, fields in ARVIDEO_PRESETS.items():
        if all(getattr(config, f) == fields.get(f, defaults[f]) for f in _ARCH_FIELDS):
            return _SIZE_NAMES[preset]
    return "custom"


def config_mismatches(entry: ZooEntry, config: ARVideoConfig) -> dict[str, tuple[Any, Any]]:
    """Fields where `config` differs from what `entry` promises: `{field: (expected, found)}`."""
    expected = entry.config()
    out = {}
    for name in _ARCH_FIELDS + _SHAPE_FIELDS:
        if getattr(expected, name) != getattr(config, name):
            out[name] = (getattr(expected, name), getattr(config, name))
    if expected.num_labels != config.num_labels and config.architectures == ["ARVideoForVideoClassification"]:
        out["num_labels"] = (expected.num_labels, config.num_labels)
    return out


def count_parameters(config: ARVideoConfig, with_head: bool = True) -> int:
    """Exact parameter count of the encoder (+ classifier), built on the meta device (no memory, milliseconds)."""
    with torch.device("meta"):
        model = ARVideoForVideoClassification(config) if with_head else ARVideoModel(config)
    return sum(p.numel() for p in model.parameters())


def _fmt(value: Any, missing: str = "not recorded") -> str:
    return missing if value is None else str(value)


def _pct(value: float | None) -> str:
    """A percentage with one or two decimals, as precise as it was recorded (80.1, 71.25)."""
    if value is None:
        return "–"
    text = f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text


CARD_TEMPLATE = """\
---
{{ card_data }}
---

# {{ title }}

{{ summary }}

**Status:** {{ status }}

ARVideo ([paper]({{ paper_url }})) pretrains a VideoMAE ViT autoregressively: the clip's tokens are grouped into
spatiotemporal clusters, the clusters are put in a random order, and a cross-attention decoder predicts the pixels of
each next cluster from the visible tokens of the clusters before it. For finetuning the decoder is dropped and the
encoder runs with full attention, mean pooling and a linear head, exactly like VideoMAE. This checkpoint comes from
`arvideo_hf`, an independent implementation on the transformers API: no official ARVideo code or weights exist.

## Model details

| | |
|---|---|
| Architecture | {{ architecture }} |
| Input | `pixel_values` `(batch, {{ num_frames }}, {{ num_channels }}, {{ height }}, {{ width }})`, normalized with the processor's mean/std |
| Tokens | tubelets of {{ tubelet }}, {{ num_tokens }} tokens per clip |
| Parameters | {{ parameters }} |
| Classes | {{ classes }} |

## How to use

With the `arvideo_hf` package installed (importing it registers ARVideo with the transformers Auto classes):

```python
import numpy as np
import torch
import arvideo_hf  # noqa: F401
from transformers import {% if finetuned %}AutoImageProcessor, AutoModelForVideoClassification{% else %}AutoImageProcessor, AutoModel{% endif %}

processor = AutoImageProcessor.from_pretrained("{{ repo_id }}")
model = {% if finetuned %}AutoModelForVideoClassification{% else %}AutoModel{% endif %}.from_pretrained("{{ repo_id }}").eval()
frames = [np.zeros(({{ height }}, {{ width }}, 3), dtype=np.uint8)] * {{ num_frames }}  # {{ num_frames }} RGB frames{{ stride_comment }}
inputs = processor(frames, return_tensors="pt")
with torch.no_grad():
{%- if finetuned %}
    logits = model(**inputs).logits
print(model.config.id2label[logits.argmax(-1).item()])
{%- else %}
    features = model(**inputs).last_hidden_state.mean(1)  # one vector per clip
{%- endif %}
```

Without the package, the repository's own code (`configuration_arvideo.py`, `modeling_arvideo.py`, `clustering.py`)
runs with `trust_remote_code=True`:

```python
from transformers import AutoModel{% if finetuned %}, pipeline

classifier = pipeline("video-classification", model="{{ repo_id }}", trust_remote_code=True)
classifier("video.mp4", frame_sampling_rate={{ pipeline_rate }})  # PyAV decoding, {{ num_frames }} frames, one center crop{% endif %}
encoder = AutoModel.from_pretrained("{{ repo_id }}", trust_remote_code=True)  # the ViT encoder alone
```
{%- if finetuned %}

The pipeline needs `av` (PyAV) and Pillow, not torchvision: without torchvision the VideoMAE image processor runs on
its PIL backend.
{%- endif %}

## Training recipe

{{ recipe_intro }}

| | |
|---|---|
| Pretraining | {{ pretraining }} |
| Clips | {{ num_frames }} frames, sampling stride {{ stride }}, {{ height }}x{{ width }} |
| Clusters | {{ cluster }} tokens ({{ num_clusters }} per clip), {{ order }} order, {{ mask_pct }}% of each cluster's tokens dropped from the encoder input |
| Decoder | {{ decoder }} (pretraining only) |
| Finetuning | {{ finetune_data }} |
| Test views | {{ views }} |

{{ hyperparameters }}

## Evaluation protocol

Top-1 (and top-5) accuracy over {{ eval_data }}. A video is cut into clips of {{ num_frames }} frames; each clip is
resized to a short side of {{ height }} and cropped to {{ height }}x{{ width }} (several clips x crops = views), the
softmax is taken per view and the probabilities are averaged. The views of each number are listed with it.

## Results

{{ results_intro }}

| Source | Dataset | Pretraining epochs | Views | Top-1 | Top-5 | Videos | Reference |
|---|---|---|---|---|---|---|---|
{{ results_rows }}

{{ results_note }}

## Limitations

- Paper-reported numbers describe the ARVideo authors' unreleased models, never this checkpoint.
- The `video-classification` pipeline scores one clip with one center crop; multi-view numbers are usually higher.
- The model sees {{ num_frames }} frames per clip{{ window }}; longer actions are judged from that window alone.
- The weights inherit the biases and licence terms of their training data ({{ data_terms }}).

## Citation

```bibtex
{{ citation }}
```
"""  # noqa: E501 - table rows and code lines of the card, rendered as written


def _results_rows(results: Iterable[ZooResult]) -> str:
    rows = []
    for r in results:
        split = f" ({r.split})" if r.split else ""
        rows.append(
            f"| {r.source_label} | {r.dataset_info.name}{split} | {_fmt(r.pretrain_epochs)} | {_fmt(r.views)} | "
            f"{_pct(r.top1)} | {_pct(r.top5)} | {_fmt(r.num_videos, '–')} | {r.reference} |"
        )
    return "\n".join(rows)


def card_data(repo_id: str, measured: Sequence[ZooResult], finetuned: bool) -> ModelCardData:
    """Card metadata; `model-index` carries only results measured on these weights, never the paper's."""
    eval_results = []
    for r in measured:
        info = r.dataset_info
        views = f" ({r.views} views)" if r.views else ""
        common: dict[str, Any] = dict(
            task_type=TASK, task_name="Video Classification", dataset_type=info.hub_type, dataset_name=info.name,
            dataset_split=r.split or info.split,
        )
        for metric_type, label, value in (("accuracy", "Top-1", r.top1), ("top_5_accuracy", "Top-5", r.top5)):
            if value is not None:
                eval_results.append(EvalResult(
                    metric_type=metric_type, metric_name=f"{label} accuracy{views}", metric_value=value, **common
                ))
    return ModelCardData(
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag=TASK if finetuned else None,
        tags=["arvideo", "video-classification", "self-supervised-learning", "vision", "custom_code"],
        model_name=repo_id.rsplit("/", 1)[-1] if eval_results else None,
        eval_results=eval_results or None,
    )


def _status_and_results_intro(entry: ZooEntry, measured: Sequence[ZooResult]) -> tuple[str, str]:
    """The card's status line, and the sentence that introduces its results table."""
    if measured:
        headline = measured[0]
        status = f"measured by this project: {headline.dataset_info.name} top-1 {_pct(headline.top1)}" + (
            f" with {headline.views} views." if headline.views else "."
        )
        results_intro = "Measured rows come from this checkpoint" + (
            "; paper rows are the ARVideo authors' numbers." if entry.paper_results else "."
        )
    else:
        status = f"{NOT_MEASURED}; no number on this card is a measurement of these weights."
        results_intro = f"This checkpoint is {NOT_MEASURED}." + (
            " The paper's numbers for the same architecture are listed as targets." if entry.paper_results else ""
        )
    return status, results_intro


def _results_rows_and_note(entry: ZooEntry, measured: Sequence[ZooResult]) -> tuple[str, str]:
    """The results table's rows (measured, then the paper's) and the note under it."""
    info = entry.dataset_info
    rows = _results_rows(tuple(measured) + entry.paper_results)
    rows = rows or f"| – | {info.name} | – | – | – | – | – | {NOT_MEASURED} |"
    if entry.paper_results:
        note = (
            "Paper rows: ViT-B, 16 frames, 224x224; views as printed in the paper's GFLOPs column (180 x 2 x 3) "
            "for both datasets, although VideoMAE, whose protocol the paper follows, tests Kinetics-400 with 5x3 "
            "views."
        )
    elif info.key == "demo" or entry.preset is None:
        note = "The ARVideo paper has no number for this setting."
    else:
        note = "The ARVideo paper reports ViT-B only; it has no number for this model size."
    return rows, note


def _model_fields(entry: ZooEntry, config: ARVideoConfig, finetuned: bool) -> dict[str, Any]:
    """What the card says about the model: title, architecture, input, clusters, decoder."""
    info, size = entry.dataset_info, size_name(config)
    (height, width), (patch_h, patch_w) = pair(config.image_size), pair(config.patch_size)
    return dict(
        title=f"ARVideo {size}" + (f"/{patch_h}" if size.startswith("ViT") else "")
        + (f" · {info.name}" if info.key != "unspecified" else "") + f" ({entry.name})",
        finetuned=finetuned,
        architecture=(
            f"{size} encoder: width {config.hidden_size}, {config.num_hidden_layers} layers, "
            f"{config.num_attention_heads} heads, MLP {config.intermediate_size}"
        ),
        num_frames=config.num_frames,
        num_channels=config.num_channels,
        height=height,
        width=width,
        tubelet=f"{config.tubelet_size}x{patch_h}x{patch_w}",
        num_tokens=config.geometry.num_tokens,
        parameters=f"{count_parameters(config, finetuned) / 1e6:.1f}M ({'encoder + head' if finetuned else 'encoder'})",
        classes=f"{config.num_labels} ({info.name})" if finetuned else "none (a pretrained encoder, no classifier)",
        cluster="x".join(str(k) for k in config.cluster_size),
        num_clusters=config.geometry.num_clusters,
        order=config.prediction_order.replace("_", "-"),
        mask_pct=round(config.mask_ratio * 100),
        decoder=f"{config.decoder_num_hidden_layers} x {config.decoder_hidden_size} cross-attention blocks"
        + (" with masked self-attention" if config.decoder_self_attention else ""),
    )


PAPER_RECIPE_TEXT = (
    "Reference hyperparameters (the paper's ViT-B recipe, inherited from VideoMAE). Pretraining: AdamW (0.9, 0.95), "
    "weight decay 0.05, base learning rate 1.5e-4 x batch/256, 40 warmup epochs then cosine, multi-scale crop, no "
    "flip, per-tubelet normalized pixel targets with a mean squared error. Finetuning: AdamW (0.9, 0.999), weight "
    "decay 0.05, layer-wise lr decay 0.75, drop path 0.1, label smoothing 0.1, mixup 0.8 / cutmix 1.0, RandAugment "
    "m7-n4, random erasing 0.25, 5 warmup epochs, base learning rate 5e-4..1e-3 x batch/256, horizontal flip except "
    "on direction-sensitive labels (Something-Something V2, the demo)."
)


def _tiny_recipe_text() -> str:
    """The small-scale recipe this entry was trained with, read from the `tiny` run presets it ran."""
    pre, fine = RUN_PRESETS["tiny"], FINETUNE_PRESETS["tiny"]
    return (
        "Hyperparameters: the `tiny` run presets (`examples/pretrain.py --preset tiny`, `examples/finetune.py "
        "--preset tiny`), the small-scale recipe, not the paper's ViT-B one. Pretraining: AdamW (0.9, 0.95), weight "
        f"decay 0.05, learning rate {pre['learning_rate']:g} (absolute) with {pre['warmup_epochs']:g} warmup epochs "
        f"then cosine to {pre['min_lr']:g}, fitted to the wall-clock budget; {pre['per_device_batch_size']} videos x "
        f"{pre['repeated_aug']} clips per step, full-frame crops (scale {pre['crop_scales']}), no flip, raw-pixel "
        f"targets (no per-tubelet normalization) with a mean squared error. Finetuning: AdamW, learning rate "
        f"{fine['learning_rate']:g}, no layer decay, {fine['warmup_epochs']:g} warmup epochs then cosine, "
        f"{fine['num_train_epochs']} epochs at batch {fine['per_device_train_batch_size']}, full-frame crops, no "
        "flip (direction is the label), no mixup, cutmix, RandAugment, erasing, label smoothing or drop path."
    )


TINY_RECIPE_TEXT = _tiny_recipe_text()


def _recipe_fields(entry: ZooEntry, finetuned: bool) -> dict[str, Any]:
    """What the card says about the training and evaluation recipe (or that the checkpoint does not record it)."""
    recipe, info, stride = entry.recipe, entry.dataset_info, entry.recipe.sampling_stride
    recorded = entry.preset is not None
    pretrain_data = "the demo videos" if info.key == "demo" else info.name
    if not recorded:
        recipe_intro = (
            "The clip and cluster settings below are read from this checkpoint's config; its training run is not "
            "recorded in the checkpoint folder."
        )
    elif any(v is None for v in (recipe.pretraining_length, stride, recipe.views)):
        recipe_intro = 'This entry\'s recipe; settings marked "not recorded" are chosen by the script that trains it.'
    else:
        recipe_intro = "This entry's recipe (pretraining and finetuning on the same dataset):"
    return dict(
        hyperparameters=textwrap.fill(TINY_RECIPE_TEXT if info.key == "demo" else PAPER_RECIPE_TEXT, width=120,
                                      break_on_hyphens=False),
        stride_comment=f", {stride} apart" if stride else "",
        pipeline_rate=stride or 1,
        recipe_intro=recipe_intro,
        pretraining="not recorded" if not recorded else f"{pretrain_data}, self-supervised, "
        + (recipe.pretraining_length or "length not recorded"),
        stride=_fmt(stride),
        finetune_data=("not recorded" if not recorded else f"{info.name}, labeled")
        if finetuned else "none (pretrained encoder)",
        views=_fmt(recipe.views),
        eval_data=f"the {info.name} {info.split} set" if recorded else "the evaluation set",
        window=f" ({stride} apart, a {recipe.num_frames * stride}-frame window)" if stride else "",
        data_terms="not recorded" if not recorded else info.name,
    )


def render_model_card(
    entry: ZooEntry,
    repo_id: str | None = None,
    config: ARVideoConfig | None = None,
    measured: Sequence[ZooResult] | None = None,
) -> ModelCard:
    """The card of `entry` published as `repo_id`, describing `config` (default: the entry's) and its results.

    `measured` replaces the entry's measured results (a published checkpoint passes its own `eval_results.json`);
    the entry's paper results are always shown, labeled as the paper's and kept out of `model-index`.
    """
    config = config or entry.config()
    repo_id = repo_id or f"{DEFAULT_ORGANIZATION}/{entry.name}"
    measured = tuple(entry.measured_results if measured is None else measured)
    finetuned = "ARVideoForVideoClassification" in (config.architectures or [])
    status, results_intro = _status_and_results_intro(entry, measured)
    results_rows, results_note = _results_rows_and_note(entry, measured)
    context = dict(
        summary=entry.summary,
        status=status,
        paper_url=PAPER_URL,
        repo_id=repo_id,
        results_intro=results_intro,
        results_rows=results_rows,
        results_note=results_note,
        citation=CITATION,
        **_model_fields(entry, config, finetuned),
        **_recipe_fields(entry, finetuned),
    )
    data = card_data(repo_id, measured, finetuned)
    return ModelCard.from_template(card_data=data, template_str=CARD_TEMPLATE, **context)


# ------------------------------------------------------------------------------------------------- committed cards
def card_filename(entry: ZooEntry) -> str:
    return f"{entry.name}.md"


def write_cards(out_dir: str | Path, organization: str = DEFAULT_ORGANIZATION) -> list[Path]:
    """Render every zoo entry's card into `out_dir/<name>.md`; returns the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for entry in ZOO.values():
        path = out_dir / card_filename(entry)
        path.write_text(str(render_model_card(entry, f"{organization}/{entry.name}")) + "\n", encoding="utf-8")
        written.append(path)
    return written


def stale_cards(out_dir: str | Path, organization: str = DEFAULT_ORGANIZATION) -> list[str]:
    """Names of cards in `out_dir` that are missing, differ from a fresh render, or belong to no entry."""
    out_dir = Path(out_dir)
    stale = []
    for entry in ZOO.values():
        path = out_dir / card_filename(entry)
        expected = str(render_model_card(entry, f"{organization}/{entry.name}")) + "\n"
        if not path.is_file() or path.read_text(encoding="utf-8") != expected:
            stale.append(path.name)
    known = {card_filename(e) for e in ZOO.values()}
    stale += sorted(p.name for p in out_dir.glob("*.md") if p.name not in known)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m arvideo_hf.zoo {list, write-cards DIR [--check]}`."""
    parser = argparse.ArgumentParser(prog="python -m arvideo_hf.zoo", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="print the zoo entries and their results")
    write = commands.add_parser("write-cards", help="(re)generate the committed model cards")
    write.add_argument("out_dir", type=Path)
    write.add_argument("--organization", default=DEFAULT_ORGANIZATION, help="Hub namespace used in the cards")
    write.add_argument("--check", action="store_true", help="write nothing; exit 1 if any card is stale")
    args = parser.parse_args(argv)
    if args.command == "list":
        for entry in ZOO.values():
            results = "; ".join(f"{r.top1:.1f} top-1 {r.dataset_info.name} ({r.source_label})" for r in entry.results)
            print(f"{entry.name:20s} {entry.preset:6s} {entry.dataset_info.name:24s} {results or NOT_MEASURED}")
        return 0
    if args.check:
        stale = stale_cards(args.out_dir, args.organization)
        if stale:
            print(f"stale model cards in {args.out_dir}: {', '.join(stale)}; run: python -m arvideo_hf.zoo write-cards "
                  f"{args.out_dir}", file=sys.stderr)
            return 1
        print(f"{len(ZOO)} model cards in {args.out_dir} are up to date")
        return 0
    for path in write_cards(args.out_dir, args.organization):
        print(path)
    return 0


__all__ = [
    "CARD_TEMPLATE",
    "DATASETS",
    "DEFAULT_ORGANIZATION",
    "PAPER_RESULTS",
    "Recipe",
    "ZOO",
    "ZooEntry",
    "ZooResult",
    "config_mismatches",
    "count_parameters",
    "dataset_info",
    "get_entry",
    "main",
    "render_model_card",
    "stale_cards",
    "write_cards",
]


if __name__ == "__main__":
    sys.exit(main())

# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Model cards: one template (`CARD_TEMPLATE`) rendered for a zoo entry (`arvideo_hf.zoo.entries`) or a published
checkpoint, with its recipe text rendered from `arvideo_hf.recipes`.

Every number a card shows comes from a `Result`, which says where it came from: `source="paper"` (the ARVideo
paper, a table named in `reference`; never these weights) or `source="measured"` (this project, with the exact
command in `reference`). Entries without measured results say "not yet trained/measured".

The cards of the zoo's entries are committed under `model_cards/`:

    python -m arvideo_hf.zoo write-cards model_cards/            # regenerate
    python -m arvideo_hf.zoo write-cards model_cards/ --check    # exit 1 when the committed cards are stale
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..models.configuration_arvideo import ARVIDEO_PRESETS, ARVideoConfig, pair
from ..models.modeling_arvideo import ARVideoForVideoClassification, ARVideoModel
from ..recipes import MULTISCALE_CROP_SCALES, PAPER_FINETUNING, PAPER_PRETRAINING, finetuning_recipe, pretraining_recipe
from ..results import Result
from .entries import ZOO, ZooEntry


DEFAULT_ORGANIZATION = "arvideo-hf"
PAPER_URL = "https://arxiv.org/abs/2405.15160"
CITATION = """@article{ren2024arvideo,
  title   = {ARVideo: Autoregressive Pretraining for Self-Supervised Video Representation Learning},
  author  = {Ren, Sucheng and Zhu, Hongru and Wei, Chen and Li, Yijiang and Yuille, Alan and Xie, Cihang},
  journal = {arXiv preprint arXiv:2405.15160},
  year    = {2024}
}"""
NOT_MEASURED = "not yet trained/measured by this project"
ENCODER_NOT_MEASURED = "an encoder without a classifier: accuracy is measured on finetunes of it, not on these weights"
TASK = "video-classification"


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
| Clusters | {{ cluster }} tokens ({{ cluster_count }}), {{ order }} order, {{ mask_pct }}% of each cluster's tokens dropped from the encoder input |
| Decoder | {{ decoder }} (pretraining only) |
| Finetuning | {{ finetune_data }} |
| Test views | {{ views }} |

{{ hyperparameters }}
{%- if pretraining_command %}

{{ pretraining_run }}

```bash
{{ pretraining_command }}
```
{%- endif %}

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
{% if target_limit %}- {{ target_limit }}
{% endif %}
## Citation

```bibtex
{{ citation }}
```
"""  # noqa: E501 - table rows and code lines of the card, rendered as written


def _results_rows(results: Iterable[Result]) -> str:
    rows = []
    for r in results:
        split = f" ({r.split})" if r.split else ""
        rows.append(
            f"| {r.source_label} | {r.dataset_info.name}{split} | {_fmt(r.pretrain_epochs)} | {_fmt(r.views)} | "
            f"{_pct(r.top1)} | {_pct(r.top5)} | {_fmt(r.num_videos, '–')} | {r.reference_text} |"
        )
    return "\n".join(rows)


def card_data(repo_id: str, measured: Sequence[Result], finetuned: bool) -> ModelCardData:
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


def _status_and_results_intro(entry: ZooEntry, measured: Sequence[Result]) -> tuple[str, str]:
    """The card's status line, and the sentence that introduces its results table."""
    if measured:
        headline = measured[0]
        status = f"measured by this project: {headline.dataset_info.name} top-1 {_pct(headline.top1)}" + (
            f" with {headline.views} views." if headline.views else "."
        )
        results_intro = "Measured rows come from this checkpoint" + (
            "; paper rows are the ARVideo authors' numbers." if entry.paper_results else "."
        )
    elif entry.pretraining is not None:
        status = f"pretrained by this project ({entry.pretraining.steps} steps, no labels); {ENCODER_NOT_MEASURED}."
        results_intro = f"This checkpoint is {ENCODER_NOT_MEASURED}."
    else:
        status = f"{NOT_MEASURED}; no number on this card is a measurement of these weights."
        results_intro = f"This checkpoint is {NOT_MEASURED}." + (
            " The paper's numbers for the same architecture are listed as targets." if entry.paper_results else ""
        )
    return status, results_intro


def _results_rows_and_note(entry: ZooEntry, measured: Sequence[Result]) -> tuple[str, str]:
    """The results table's rows (measured, then the paper's) and the note under it."""
    info = entry.dataset_info
    rows = _results_rows(tuple(measured) + entry.paper_results)
    missing = ENCODER_NOT_MEASURED if entry.pretraining is not None else NOT_MEASURED
    rows = rows or f"| – | {info.name} | – | – | – | – | – | {missing} |"
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


def _cluster_count(config: ARVideoConfig) -> str:
    """Clusters per clip, or why there are none: a classifier finetuned at another clip size than its pretraining
    (docs/method.md, Clip geometry) may hold clusters that do not tile its clips."""
    try:
        return f"{config.geometry.num_clusters} per clip"
    except ValueError:
        return f"they do not tile this model's {config.num_frames}-frame clips: it was pretrained at another clip size"


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
        num_tokens=config.num_tokens,
        parameters=f"{count_parameters(config, finetuned) / 1e6:.1f}M ({'encoder + head' if finetuned else 'encoder'})",
        classes=f"{config.num_labels} ({info.name})" if finetuned else "none (a pretrained encoder, no classifier)",
        cluster="x".join(str(k) for k in config.cluster_size),
        cluster_count=_cluster_count(config),
        order=config.prediction_order.replace("_", "-"),
        mask_pct=round(config.mask_ratio * 100),
        decoder=f"{config.decoder_num_hidden_layers} x {config.decoder_hidden_size} cross-attention blocks"
        + (" with masked self-attention" if config.decoder_self_attention else ""),
        target_limit=target_limit(config),
    )


# What the hard set measured (reproduce/hard_set/RESULTS.md, 4.10 and 4.11; tests/test_zoo.py checks these numbers
# against the committed runs): the attentive probe's lead over random features by pretraining budget, for the shipped
# `tiny` recipe (its pixel term falls to 0 by step 800), with the seeds behind each, and for the same recipe with a
# constant pixel term, shipped before it (400 and 1600 steps: 5 seeds; 2800: seed 0; 4000: seeds 0 and 1).
TINY_HARD_SET_LEAD = {400: 15.2, 1600: 16.7, 2800: 21.9, 4000: 16.4}
TINY_HARD_SET_SEEDS = {400: 5, 1600: 2, 2800: 2, 4000: 2}
CONSTANT_PIXEL_LEAD = {400: 14.4, 1600: 5.0, 2800: -7.5, 4000: -14.3}
# The hard set's 10%-label finetune with the `tiny` finetune preset (reproduce/hard_set/head-norm.jsonl, 400-step
# encoders, 5 seeds; tests/test_zoo.py checks them): it leaves chance only with the preset's BatchNorm head.
TINY_HARD_FINETUNE = {"arvideo": 21.2, "random": 14.5, "seeds": 5}
HARD_FINETUNE_NOTE = (
    "10%-label finetunes on the hard set leave chance (8.3%) only with the `tiny` finetune's BatchNorm head "
    f"(`head_norm`): {TINY_HARD_FINETUNE['arvideo']:.1f}% after 400 pretraining steps against random init's "
    f"{TINY_HARD_FINETUNE['random']:.1f}% ({TINY_HARD_FINETUNE['seeds']} seeds); with VideoMAE's LayerNorm head "
    "every encoder stays at chance"
)


def target_limit(config: ARVideoConfig) -> str:
    """What the card must say about a pretraining target measured on natural video: how long the shipped recipe keeps
    the motion, or where a constant pixel term loses it ("" for targets without pixels)."""
    if config.pretraining_target != "pixels_and_frame_difference":
        return ""
    tiny = ARVIDEO_PRESETS["tiny"]
    if all(getattr(config, key) == tiny[key] for key in ("cluster_size", "pixel_target_scale",
                                                         "decoder_self_attention")):
        if config.pixel_target_decay_steps == tiny["pixel_target_decay_steps"]:
            return _decaying_pixels_text(config.pixel_target_decay_steps)
        if not config.pixel_target_decay_steps:
            return _constant_pixels_text()
    if config.pixel_target_decay_steps:
        return (f"The pixel term falls to 0 over the first {config.pixel_target_decay_steps} pretraining steps. The "
                "arvideo_hf hard set (full-contrast natural video, labels defined by motion) measured such a schedule "
                f"for the `tiny` recipe only (8x2x2 clusters, pixels x0.1 falling to 0 by step "
                f"{tiny['pixel_target_decay_steps']}: it keeps the motion at every budget measured, "
                f"{TINY_HARD_SET_LEAD[4000]:+.1f} over random features after 4000 steps); this combination is "
                "unmeasured (`reproduce/hard_set/RESULTS.md`, section 4.11, in the arvideo_hf repository).")
    return ("With pixels in the target, the features keep the motion of full-contrast natural video only for short "
            "pretraining: on the arvideo_hf hard set the pixel term takes over (by 1600 steps with 2x2x2 clusters and "
            "the pixels at x0.25) and the last layer falls below random features for an attentive probe "
            "(`reproduce/hard_set/RESULTS.md`, section 4.6, in the arvideo_hf repository). Do not read these weights "
            "as a motion encoder for natural scenes.")


def _decaying_pixels_text(decay_steps: int) -> str:
    leads = [f"{lead:+.1f} after {steps} steps ({_seeds(TINY_HARD_SET_SEEDS[steps])})"
             for steps, lead in TINY_HARD_SET_LEAD.items()]
    return (f"The pixel term falls to 0 over the first {decay_steps} pretraining steps, then the target is the frame "
            "differences alone: on the arvideo_hf hard set (full-contrast natural video, labels defined by motion) an "
            f"attentive probe on the last layer leads random features by {', '.join(leads[:-1])} and {leads[-1]}, "
            f"where a constant pixel term falls below them ({CONSTANT_PIXEL_LEAD[4000]:+.1f} after 4000 steps). "
            f"{HARD_FINETUNE_NOTE} (`reproduce/hard_set/RESULTS.md`, sections 4.10-4.12, in the arvideo_hf "
            "repository).")


def _seeds(count: int) -> str:
    return "one seed" if count == 1 else f"{count} seeds"


def _constant_pixels_text() -> str:
    lead = {steps: f"{value:+.1f}" for steps, value in CONSTANT_PIXEL_LEAD.items()}
    return ("With a constant pixel term in the target, the features keep the motion of full-contrast natural video "
            "only for a short pretraining: on the arvideo_hf hard set an attentive probe on the last layer leads "
            f"random features by {lead[400]} points after 400 steps, {lead[1600]} after 1600 (5 seeds, one of them "
            f"below random features), {lead[2800]} after 2800 (one seed) and {lead[4000]} after 4000 (two seeds): "
            "the pixel term takes over. The `tiny` preset now lets it fall to 0 by step "
            f"{ARVIDEO_PRESETS['tiny']['pixel_target_decay_steps']} (`pixel_target_decay_steps`), which keeps the "
            f"motion ({TINY_HARD_SET_LEAD[4000]:+.1f} after 4000 steps); {HARD_FINETUNE_NOTE} "
            "(`reproduce/hard_set/RESULTS.md`, sections 4.10-4.12, in the arvideo_hf repository). Do not read "
            "these weights as a motion encoder for natural scenes.")


def _num(value: float) -> str:
    """A recipe number as people write it: 0.05, 40, 1.5e-4 (not 0.00015), 3e-6."""
    if value == 0 or 1e-2 <= abs(value) < 1e4:
        return f"{value:g}"
    mantissa, exponent = f"{value:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def _paper_recipe_text() -> str:
    """The paper's ViT-B recipe, read from `arvideo_hf.recipes` (what the `small`/`base`/`large` presets run)."""
    pre = {k: _num(v) for k, v in PAPER_PRETRAINING.items() if isinstance(v, float | int)}
    fine = {k: _num(v) if isinstance(v, float | int) else v for k, v in PAPER_FINETUNING.items()}
    targets = "per-tubelet normalized" if ARVideoConfig().norm_pix_loss else "raw"
    return (
        "Reference hyperparameters (the paper's ViT-B recipe, inherited from VideoMAE). Pretraining: AdamW "
        f"({pre['adam_beta1']}, {pre['adam_beta2']}), weight decay {pre['weight_decay']}, base learning rate "
        f"{pre['base_lr']} x batch/256, {pre['warmup_epochs']} warmup epochs then cosine to {pre['min_lr']}, "
        f"multi-scale crop (scales {list(MULTISCALE_CROP_SCALES)}), no flip, {targets} pixel targets with a mean "
        f"squared error. Finetuning: AdamW ({fine['adam_beta1']}, {fine['adam_beta2']}), weight decay "
        f"{fine['weight_decay']}, layer-wise lr decay {fine['layer_decay']}, drop path {fine['drop_path']}, label "
        f"smoothing {fine['label_smoothing']}, mixup {fine['mixup']} / cutmix {fine['cutmix']}, RandAugment "
        f"{fine['rand_augment'].removeprefix('rand-')}, random erasing {fine['erase_prob']}, {fine['warmup_epochs']} "
        f"warmup epochs then {fine['lr_scheduler_type']}, base learning rate {fine['base_lr']} x batch/256, "
        "horizontal flip except on direction-sensitive labels (Something-Something V2, the demo)."
    )


PAPER_RECIPE_TEXT = _paper_recipe_text()


def target_text(config: ARVideoConfig) -> str:
    """The pretraining target of `config` in words, e.g. "raw pixel and frame-difference targets, the pixels scaled by
    0.25 (1/16 of their squared error)"."""
    norm = "per-tubelet normalized" if config.norm_pix_loss else "raw (no per-tubelet normalization)"
    what = {"pixels": "pixel targets", "frame_difference": "frame-difference targets (each frame minus the one before)",
            "pixels_and_frame_difference": "pixel and frame-difference targets side by side"}[config.pretraining_target]
    text = f"{norm} {what}"
    scale, decay = config.pixel_target_scale, config.pixel_target_decay_steps
    if config.pretraining_target == "pixels_and_frame_difference" and (scale != 1 or decay):
        schedule = f"; the scale falls by a cosine to 0 over the first {decay} steps" if decay else ""
        text += f", the pixels scaled by {_num(scale)} ({_num(scale * scale)} of their squared error{schedule})"
    return text


HEAD_NORM_NAMES = {"layer": "LayerNorm", "batch": "BatchNorm"}


def _tiny_recipe_text() -> str:
    """The small-scale recipe this entry was trained with, read from the `tiny` run presets it ran."""
    pre = {k: _num(v) if isinstance(v, float) else v for k, v in pretraining_recipe("tiny").items()}
    fine = {k: _num(v) if isinstance(v, float) else v for k, v in finetuning_recipe("tiny").items()}
    return (
        "Hyperparameters: the `tiny` run presets (`examples/pretrain.py --preset tiny`, `examples/finetune.py "
        "--preset tiny`), the small-scale recipe, not the paper's ViT-B one. Pretraining: AdamW "
        f"({pre['adam_beta1']}, {pre['adam_beta2']}), weight decay {pre['weight_decay']}, learning rate "
        f"{pre['learning_rate']} (absolute) with {pre['warmup_epochs']} warmup epochs then cosine to {pre['min_lr']}, "
        f"fitted to the run's budget (steps, or wall clock); {pre['per_device_batch_size']} videos x "
        f"{pre['repeated_aug']} clips per step, full-frame crops (scale {pre['crop_scales']}), no flip, "
        f"{target_text(ARVideoConfig.from_preset('tiny'))} with a mean squared error. Finetuning: AdamW, learning rate "
        f"{fine['learning_rate']}, no layer decay, {fine['warmup_epochs']} warmup epochs then cosine, "
        f"{fine['num_train_epochs']} epochs at batch {fine['per_device_train_batch_size']}, full-frame crops, no "
        "flip (direction is the label), no mixup, cutmix, RandAugment, erasing, label smoothing or drop path, "
        f"{HEAD_NORM_NAMES[fine['head_norm']]} over the pooled tokens before the head (`head_norm`)."
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
    elif not finetuned:
        recipe_intro = "This entry's pretraining recipe; the test views are those its finetunes are tested with:"
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


def _pretraining_fields(entry: ZooEntry, config: ARVideoConfig) -> dict[str, Any]:
    """The recorded pretraining run of an entry this project pretrained: its command, length, machine, objective."""
    run = entry.pretraining
    if run is None:
        return dict(pretraining_command=None, pretraining_run=None)
    data = "the demo set's unlabeled pool" if run.dataset == "demo" else f"`{run.dataset}`"
    videos = f" ({run.videos} videos)" if run.videos else ""
    text = (
        f"This checkpoint's pretraining ran {run.steps} optimizer steps of `{run.method}` on {data}{videos}, no "
        f"labels, in {run.wall_seconds / 60:.1f} min of wall clock over {run.processes} process(es) on "
        f"{run.machine or 'a machine the run did not record'}. Objective: {target_text(config)} of each next "
        "cluster's tokens, mean squared error. The "
        "run recorded the command that makes it (arguments it names override the preset's):"
    )
    return dict(pretraining_command=run.command, pretraining_run=textwrap.fill(text, width=120,
                                                                               break_on_hyphens=False))


def render_model_card(
    entry: ZooEntry,
    repo_id: str | None = None,
    config: ARVideoConfig | None = None,
    measured: Sequence[Result] | None = None,
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
        **_pretraining_fields(entry, config),
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


__all__ = [
    "CARD_TEMPLATE",
    "DEFAULT_ORGANIZATION",
    "ENCODER_NOT_MEASURED",
    "NOT_MEASURED",
    "PAPER_RECIPE_TEXT",
    "TINY_RECIPE_TEXT",
    "card_data",
    "config_mismatches",
    "count_parameters",
    "render_model_card",
    "size_name",
    "stale_cards",
    "write_cards",
]

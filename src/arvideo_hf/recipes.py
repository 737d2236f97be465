# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Every recipe in one place: the paper's pretraining and finetuning recipes, the run presets that
`examples/pretrain.py --preset` and `examples/finetune.py --preset` apply, and the augmentation defaults.

The argument dataclasses (`arvideo_hf.training.arguments`) take their defaults from here, the data transforms take
their augmentation defaults from here, and the model cards render their recipe text from here: changing a recipe
means changing this file. Model sizes (`ARVIDEO_PRESETS`) stay in `models/configuration_arvideo.py`, because that
file ships to the Hub with the model code and must stand alone; a run preset names its model size.
"""

from __future__ import annotations

from typing import Any

from .models.configuration_arvideo import ARVIDEO_PRESETS, preset_name


# ------------------------------------------------------------------------------------------------- augmentation
MULTISCALE_CROP_SCALES: tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)  # VideoMAE's pretraining crop sizes
# VideoMAE's (and timm's) finetuning mixup: mixup alpha, cutmix alpha, the chance of mixing a batch, the chance of
# cutmix when both are on, and the label smoothing folded into the soft targets.
PAPER_MIXUP: dict[str, float] = dict(mixup=0.8, cutmix=1.0, mixup_prob=1.0, mixup_switch_prob=0.5,
                                     label_smoothing=0.1)
# VideoMAE's finetuning clip augmentation: RandAugment m7-n4, random resized crop from 8% of the area, flip (off on
# direction-sensitive labels), random erasing 25%.
PAPER_CLIP_AUGMENTATION: dict[str, Any] = dict(rand_augment="rand-m7-n4", min_crop_scale=0.08, erase_prob=0.25)

# ---------------------------------------------------------------------------------------------- the paper's recipe
# Pretraining (docs/method.md, Pretraining recipe; VideoMAE's): AdamW (0.9, 0.95), weight decay 0.05, base lr 1.5e-4 x
# batch/256, 40 warmup epochs then cosine to 1e-5, multi-scale crops, no flip, 800 epochs.
PAPER_PRETRAINING: dict[str, Any] = dict(
    epochs=800, base_lr=1.5e-4, min_lr=1e-5, warmup_epochs=40.0, weight_decay=0.05, adam_beta1=0.9, adam_beta2=0.95,
    sampling_rate=4, crop_scales=list(MULTISCALE_CROP_SCALES), repeated_aug=1, num_workers=8, cache_mb=0,
    save_steps=2000, logging_steps=50,
)
# Finetuning (docs/method.md, Finetuning recipe; VideoMAE's): AdamW (0.9, 0.999), weight decay 0.05, base lr 1e-3 x
# batch/256 with layer-wise decay 0.75, 5 warmup epochs then cosine, drop path 0.1, mixup/cutmix, RandAugment, erasing.
PAPER_FINETUNING: dict[str, Any] = dict(
    base_lr=1e-3, layer_decay=0.75, drop_path=0.1, warmup_epochs=5.0, weight_decay=0.05, adam_beta1=0.9,
    adam_beta2=0.999, lr_scheduler_type="cosine", head_norm="layer", **PAPER_MIXUP, **PAPER_CLIP_AUGMENTATION,
)

# ------------------------------------------------------------------------------------------------------ run presets
# Pretraining presets: a model size plus the recipe that suits it. Explicit arguments always win.
RUN_PRESETS: dict[str, dict[str, Any]] = {
    # The small-scale recipe (reproduce/small_scale/RESULTS.md): minutes on 2 CPU cores, e.g. the embedded demo set's
    # unlabeled pool. Full-frame crops: on 32x32 frames the multi-scale crop's zoom is a blur and scale change that
    # finetuning never sees (-9.5 points on the 10%-label finetune). Each decoded video gives 4 clips (repeated
    # augmentation, as in MAE-ST), which differ in temporal offset, prediction order and masks: decoding, not the
    # model, bounds small clips on CPU, so 8 videos x 4 clips make 32 clips per step at ~1.6x the steps per second of
    # 32 decoded videos. lr 3e-4: at 1e-3 the features got worse the longer the run (600 s: 38.7 on the 10%-label
    # finetune), at 3e-4 3000 steps gave 60.3.
    "tiny": dict(
        model_preset="tiny", epochs=4, per_device_batch_size=8, repeated_aug=4, learning_rate=3e-4, min_lr=3e-6,
        warmup_epochs=0.25, sampling_rate=2, crop_scales=[1.0], num_workers=1, cache_mb=0, save_steps=200,
        logging_steps=20,
    ),
    "small": dict(PAPER_PRETRAINING, model_preset="small", per_device_batch_size=32),
    "base": dict(PAPER_PRETRAINING, model_preset="base", per_device_batch_size=32),
    "large": dict(PAPER_PRETRAINING, model_preset="large", per_device_batch_size=16),
}
# Finetuning presets: "paper" is the paper's recipe (the argument defaults), for real data. "tiny" is the small-scale
# recipe measured in reproduce/small_scale: a few hundred labeled clips and minutes of CPU, where mixup/cutmix/
# RandAugment/erasing/smoothing/drop path and strong crops keep a tiny ViT from fitting at all; it also fixes the
# frame stride the tiny pretraining preset reads.
FINETUNE_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # BatchNorm head: pretraining grows a vector shared by every clip, which VideoMAE's LayerNorm head keeps, so the
    # head's input barely varies and a finetune can stay at chance (the zoo checkpoint: 1 seed of 5 at 19.3%). With
    # BatchNorm every encoder finetunes better (5 seeds, demo set: zoo 48.3 -> 62.9, 400-step ARVideo 61.9 -> 65.7,
    # VideoMAE 54.4 -> 62.8, random init 50.9 -> 63.1; hard set, where the LayerNorm head leaves every encoder at
    # chance: ARVideo 21.2, random init 14.5; reproduce/hard_set/RESULTS.md 4.12).
    "tiny": dict(
        model_preset="tiny", base_lr=0.0, learning_rate=1e-3, head_norm="batch", layer_decay=1.0, drop_path=0.0,
        label_smoothing=0.0,
        mixup=0.0, cutmix=0.0, rand_augment="none", erase_prob=0.0, min_crop_scale=1.0, flip=False,
        sampling_rate=2, warmup_epochs=3.0, num_train_epochs=30, per_device_train_batch_size=16, cache_mb=1024,
        dataloader_persistent_workers=True,
    ),
}


def run_preset(name: str, presets: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """`(canonical name, values)` of a preset in `presets`; model-size aliases (`vit-b`, `demo`) resolve as the model
    presets do. Raises `ValueError` naming the choices."""
    try:
        key = preset_name(name)
    except ValueError:
        key = name.lower()
    if key not in presets:
        raise ValueError(f"Unknown run preset {name!r}: --preset must be one of {sorted(presets)}.")
    return key, presets[key]


def pretraining_recipe(name: str) -> dict[str, Any]:
    """Everything a pretraining preset sets, the paper's optimizer settings included where the preset is silent."""
    return {**{k: PAPER_PRETRAINING[k] for k in ("weight_decay", "adam_beta1", "adam_beta2")},
            **run_preset(name, RUN_PRESETS)[1]}


def finetuning_recipe(name: str) -> dict[str, Any]:
    """Everything a finetuning preset sets over the paper's recipe."""
    return {**PAPER_FINETUNING, **run_preset(name, FINETUNE_PRESETS)[1]}


__all__ = [
    "ARVIDEO_PRESETS",
    "FINETUNE_PRESETS",
    "MULTISCALE_CROP_SCALES",
    "PAPER_CLIP_AUGMENTATION",
    "PAPER_FINETUNING",
    "PAPER_MIXUP",
    "PAPER_PRETRAINING",
    "RUN_PRESETS",
    "finetuning_recipe",
    "pretraining_recipe",
    "run_preset",
]

"""Pretraining arguments as a dataclass (command line, YAML or JSON through `HfArgumentParser`) and run presets."""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from transformers import HfArgumentParser

from ..data.transforms import MULTISCALE_CROP_SCALES


# Paper recipe (docs/method.md, Pretraining recipe): base lr 1.5e-4 x batch/256, 40 warmup epochs, cosine to 1e-5,
# VideoMAE's multi-scale crop.
_PAPER_RECIPE: dict[str, Any] = dict(
    epochs=800, base_lr=1.5e-4, min_lr=1e-5, warmup_epochs=40.0, sampling_rate=4,
    crop_scales=list(MULTISCALE_CROP_SCALES), repeated_aug=1, num_workers=8, cache_mb=0, save_steps=2000,
    logging_steps=50,
)
# Run presets: the model preset plus the recipe that suits it. Explicit arguments always win.
RUN_PRESETS: dict[str, dict[str, Any]] = {
    # The small-scale recipe (reproduce/small_scale/RESULTS.md): minutes on 2 CPU cores, e.g. the embedded demo set's
    # unlabeled pool. With --max_seconds the warmup + cosine schedule is fitted to the budget. Full-frame crops: on
    # 32x32 frames the multi-scale crop's zoom is a blur and scale change that finetuning never sees (-9.5 points on
    # the 10%-label finetune). Each decoded video gives 4 clips (repeated augmentation, as in MAE-ST), which differ in
    # temporal offset, prediction order and masks: decoding, not the model, bounds small clips on CPU, so 8 videos x 4
    # clips make 32 clips per step at ~1.6x the steps per second of 32 decoded videos. lr 3e-4: at 1e-3 the features
    # got worse the longer the run (600 s: 38.7 on the 10%-label finetune), at 3e-4 3000 steps gave 60.3.
    "tiny": dict(
        model_preset="tiny", epochs=4, per_device_batch_size=8, repeated_aug=4, learning_rate=3e-4, min_lr=3e-6,
        warmup_epochs=0.25, sampling_rate=2, crop_scales=[1.0], num_workers=1, cache_mb=0, save_steps=200,
        logging_steps=20,
    ),
    "small": dict(_PAPER_RECIPE, model_preset="small", per_device_batch_size=32),
    "base": dict(_PAPER_RECIPE, model_preset="base", per_device_batch_size=32),
    "large": dict(_PAPER_RECIPE, model_preset="large", per_device_batch_size=16),
}
# Finetuning presets (examples/finetune.py): command-line defaults that any explicit argument overrides. "paper" is
# VideoMAE's recipe (FinetuneArguments' own defaults), for real data. "tiny" is the small-scale recipe measured in
# reproduce/small_scale: a few hundred labeled clips and minutes of CPU, where mixup/cutmix/RandAugment/erasing/
# smoothing/drop path and strong crops keep a tiny ViT from fitting at all; it also fixes the frame stride the tiny
# pretraining preset reads.
FINETUNE_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "tiny": dict(
        model_preset="tiny", base_lr=0.0, learning_rate=1e-3, layer_decay=1.0, drop_path=0.0, label_smoothing=0.0,
        mixup=0.0, cutmix=0.0, rand_augment="none", erase_prob=0.0, min_crop_scale=1.0, flip=False,
        sampling_rate=2, warmup_epochs=3.0, num_train_epochs=30, per_device_train_batch_size=16, cache_mb=1024,
        dataloader_persistent_workers=True,
    ),
}
_ALIASES = {"demo": "tiny", "vit-s": "small", "vit-b": "base", "vit-l": "large"}


@dataclass
class PretrainArguments:
    """Everything `examples/pretrain.py` takes. `None` means "from the run preset"."""

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
    data_root: str | None = field(default=None, metadata={"help": "Root for relative paths in the list."})
    demo_root: str | None = field(default=None, metadata={"help": "Where the demo set is built when no list is given."})
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
    allow_outside_root: bool = field(
        default=False, metadata={"help": "Accept list entries that resolve outside --data_root (../, absolute)."}
    )
    max_bad_fraction: float = field(default=0.1, metadata={"help": "Stop when more videos than this fail."})
    # schedule
    epochs: int | None = field(default=None)
    max_steps: int | None = field(default=None, metadata={"help": "Optimizer steps; overrides epochs."})
    max_seconds: float | None = field(
        default=None,
        metadata={"help": "Wall-clock budget: stops and saves after it; without --max_steps the warmup + cosine "
                  "schedule is fitted to it (step time measured over steps 10-20 and again at 25% and 50% of the "
                  "budget, warmup <= 10%)."},
    )
    per_device_batch_size: int | None = field(default=None)
    gradient_accumulation_steps: int = field(default=1)
    base_lr: float | None = field(default=None, metadata={"help": "Scaled by total batch / 256."})
    learning_rate: float | None = field(default=None, metadata={"help": "Absolute peak lr; overrides base_lr."})
    min_lr: float | None = field(default=None)
    warmup_epochs: float | None = field(default=None)
    weight_decay: float = field(default=0.05)
    adam_beta1: float = field(default=0.9)
    adam_beta2: float = field(default=0.95)
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
        key = _ALIASES.get(self.preset.lower(), self.preset.lower())
        if key not in RUN_PRESETS:
            raise ValueError(f"Unknown run preset {self.preset!r}; choose one of {sorted(RUN_PRESETS)}.")
        self.preset = key
        for name, value in RUN_PRESETS[key].items():
            if getattr(self, name) is None:
                setattr(self, name, list(value) if isinstance(value, list) else value)
        if self.base_lr is None and self.learning_rate is None:
            self.base_lr = 1.5e-4
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
    """Parse the command line, or a single `.yaml`/`.yml`/`.json` file of arguments."""
    argv = sys.argv[1:] if argv is None else argv
    parser = HfArgumentParser(PretrainArguments)
    if len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        (args,) = parser.parse_yaml_file(argv[0])
    elif len(argv) == 1 and argv[0].endswith(".json"):
        (args,) = parser.parse_json_file(argv[0])
    else:
        (args,) = parser.parse_args_into_dataclasses(args=argv)
    return args


__all__ = ["PretrainArguments", "RUN_PRESETS", "parse_pretrain_args"]

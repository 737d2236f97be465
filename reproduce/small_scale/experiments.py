#!/usr/bin/env python
"""Controlled small-scale experiments behind the `tiny` presets and the demo (results in RESULTS.md).

Everything runs in memory on clips rendered with the demo set's own renderer (no decoding, no augmentation), so one
change at a time can be measured in a minute or two on 2 CPU cores:

    python reproduce/small_scale/experiments.py supervised --model arvideo --digit_scale 1.5 --halo 2 --speed 3 5
    python reproduce/small_scale/experiments.py supervised --model plain     # a few-line PyTorch ViT reference
    python reproduce/small_scale/experiments.py supervised --model cnn       # a 3-layer 3D CNN reference
    python reproduce/small_scale/experiments.py pretrain --method arvideo --seconds 120 --finetune_seeds 0 1 2
    python reproduce/small_scale/experiments.py pretrain --method videomae --seconds 120
    python reproduce/small_scale/experiments.py pretrain --method none       # random init, same evaluation

`supervised` trains from scratch on `--num_train` labeled clips and reports test top-1. `pretrain` pretrains on a
`--num_pool` unlabeled pool for `--seconds` of wall clock (warmup + cosine fitted to the budget, as
`examples/pretrain.py --max_seconds` does), then reports the attentive and linear probes on all labels and finetunes
on the first `--num_low` labels (10%). Each run prints one JSON line. Speeds are in pixels per frame at the 80-pixel
reference size (the renderer scales them to `--size`).
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import VideoMAEForPreTraining

from arvideo_hf import ARVideoConfig, ARVideoForPretraining, ARVideoForVideoClassification
from arvideo_hf.data.demo_dataset import load_backgrounds, load_digits, render_demo_video
from arvideo_hf.models.configuration_arvideo import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from arvideo_hf.training.optim import WarmupCosine
from arvideo_hf.training.probes import build_probe, predict_probe, train_probe
from arvideo_hf.training.videomae_baseline import (
    export_videomae_encoder,
    initialize_like_official_videomae,
    videomae_config_from,
)


MEAN = torch.tensor(IMAGENET_DEFAULT_MEAN)[None, :, None, None]
STD = torch.tensor(IMAGENET_DEFAULT_STD)[None, :, None, None]
SPLITS = {"train": 0, "test": 1, "pool": 2}


def render(args: argparse.Namespace, count: int, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` normalized clips `(B, T, C, H, W)` of the demo renderer with this run's data settings, and labels."""
    backgrounds, (digits, _) = load_backgrounds(), load_digits()
    pool = digits[np.arange(len(digits)) % 5 == 0] if split == "test" else digits[np.arange(len(digits)) % 5 != 0]
    clips, labels = [], []
    for i in range(count):
        label = i % args.classes
        frames = render_demo_video(
            label, np.random.default_rng([0, SPLITS[split], i]), pool, backgrounds, args.frames, args.size,
            background_contrast=args.contrast, speed_range=tuple(args.speed), spin_range=tuple(args.spin),
            digit_scale=args.digit_scale, halo_width=args.halo,
        )
        clips.append(torch.from_numpy(frames))
        labels.append(label)
    pixels = torch.stack(clips).permute(0, 1, 4, 2, 3).float() / 255
    return (pixels - MEAN) / STD, torch.tensor(labels)


def model_config(args: argparse.Namespace) -> ARVideoConfig:
    return ARVideoConfig(
        image_size=args.size, patch_size=args.patch, num_frames=args.frames, tubelet_size=args.tubelet,
        hidden_size=args.width, num_hidden_layers=args.depth, num_attention_heads=args.heads,
        intermediate_size=4 * args.width, cluster_size=args.cluster, mask_ratio=args.mask,
        prediction_order=args.order, decoder_hidden_size=args.width, decoder_num_hidden_layers=2,
        decoder_num_attention_heads=args.heads, decoder_intermediate_size=4 * args.width,
        norm_pix_loss=args.norm_pix, num_labels=args.classes,
    )


class Logits:
    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits


class PlainViT(nn.Module):
    """A few-line PyTorch ViT (learned positions, nn.TransformerEncoder, mean pooling): the reference."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        kernel = (args.tubelet, args.patch, args.patch)
        self.embed = nn.Conv3d(3, args.width, kernel, kernel)
        tokens = (args.frames // args.tubelet) * (args.size // args.patch) ** 2
        self.pos = nn.Parameter(torch.randn(1, tokens, args.width) * 0.02)
        layer = nn.TransformerEncoderLayer(args.width, args.heads, 4 * args.width, 0.0, "gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, args.depth, enable_nested_tensor=False)
        self.norm, self.head = nn.LayerNorm(args.width), nn.Linear(args.width, args.classes)

    def forward(self, x: torch.Tensor) -> Logits:
        tokens = self.embed(x.permute(0, 2, 1, 3, 4)).flatten(2).transpose(1, 2) + self.pos
        return Logits(self.head(self.norm(self.encoder(tokens).mean(1))))


class CNN3d(nn.Module):
    """Three 3x3x3 conv layers with pooling: a reference with a locality prior."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2), nn.Conv3d(32, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool3d(2), nn.Conv3d(64, 96, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1),
        )
        self.head = nn.Linear(96, args.classes)

    def forward(self, x: torch.Tensor) -> Logits:
        return Logits(self.head(self.features(x.permute(0, 2, 1, 3, 4)).flatten(1)))


def batches(count: int, batch_size: int, generator: torch.Generator):
    order = torch.randperm(count, generator=generator)
    for start in range(0, count - batch_size + 1, batch_size):
        yield order[start : start + batch_size]


def finetune(model: nn.Module, data: tuple, test: tuple, epochs: int, lr: float, batch_size: int, seed: int) -> float:
    """AdamW (wd 0.05), 10% warmup then cosine, no augmentation; test top-1 in percent."""
    (x, y), generator = data, torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    steps = epochs * (len(x) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupCosine(max(1, steps // 10), steps))
    model.train()
    for _ in range(epochs):
        for index in batches(len(x), batch_size, generator):
            loss = F.cross_entropy(model(x[index]).logits, y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return accuracy(model, *test)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = sum((model(x[i : i + 64]).logits.argmax(-1) == y[i : i + 64]).sum().item() for i in range(0, len(x), 64))
    return 100.0 * correct / len(x)


def videomae_loss(model: VideoMAEForPreTraining, x: torch.Tensor, ratio: float = 0.9) -> torch.Tensor:
    """VideoMAE's tube masking: the same spatial positions masked in every time step."""
    config = model.config
    steps, side = config.num_frames // config.tubelet_size, config.image_size // config.patch_size
    rank = torch.rand(x.shape[0], side * side).argsort(1).argsort(1)
    return model(x, bool_masked_pos=(rank < int(ratio * side * side)).repeat(1, steps)).loss


def pretrain(model: nn.Module, pool: torch.Tensor, args: argparse.Namespace) -> dict:
    """`--seconds` of AdamW (0.9, 0.95), lr 1e-3, batch 32; the schedule is fitted to the budget after 20 steps."""
    torch.manual_seed(args.pretrain_seed)
    generator = torch.Generator().manual_seed(args.pretrain_seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05)
    schedule = WarmupCosine(50, 10**9, 1e-5 / 1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    started, losses = time.perf_counter(), []
    model.train()
    while time.perf_counter() - started < args.seconds:
        for index in batches(len(pool), 32, generator):
            if time.perf_counter() - started >= args.seconds:
                break
            loss = model(pool[index]).loss if args.method == "arvideo" else videomae_loss(model, pool[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            if len(losses) == 20:
                schedule.plan_for_budget(20, time.perf_counter() - started, args.seconds, 0.1)
    return {"pretrain_steps": len(losses), "loss_first": round(float(np.mean(losses[:10])), 4),
            "loss_last": round(float(np.mean(losses[-10:])), 4)}


@torch.no_grad()
def features(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    encoder.eval()
    return torch.cat([encoder(x[i : i + 64]).last_hidden_state for i in range(0, len(x), 64)])


def probe(encoder: nn.Module, train: tuple, test: tuple, kind: str) -> float:
    """Attentive (on tokens) or linear (on mean-pooled tokens) probe; test top-1 in percent."""
    train_features, test_features = features(encoder, train[0]), features(encoder, test[0])
    if kind == "linear":
        train_features, test_features = train_features.mean(1), test_features.mean(1)
    head = build_probe(kind, train_features.shape[-1], int(train[1].max()) + 1)
    train_probe(head, train_features, train[1], epochs=50 if kind == "attentive" else 100, lr=1e-3, progress=False)
    return 100.0 * (predict_probe(head, test_features).argmax(-1) == test[1]).float().mean().item()


def run_supervised(args: argparse.Namespace) -> dict:
    train, test = render(args, args.num_train, "train"), render(args, args.num_test, "test")
    results = []
    for seed in args.finetune_seeds:
        torch.manual_seed(seed)
        model = {"arvideo": lambda: ARVideoForVideoClassification(model_config(args)), "plain": lambda: PlainViT(args),
                 "cnn": lambda: CNN3d(args)}[args.model]()
        results.append(finetune(model, train, test, args.epochs, args.lr, 32, seed))
    return {"top1": results}


def run_pretrain(args: argparse.Namespace) -> dict:
    pool, _ = render(args, args.num_pool, "pool")
    train, test = render(args, args.num_train, "train"), render(args, args.num_test, "test")
    config, report, encoder_state = model_config(args), {}, None
    torch.manual_seed(args.pretrain_seed)
    if args.method == "arvideo":
        model = ARVideoForPretraining(copy.deepcopy(config))
        report = pretrain(model, pool, args)
        encoder_state = model.arvideo.state_dict()
    elif args.method == "videomae":
        model = VideoMAEForPreTraining(videomae_config_from(config))
        initialize_like_official_videomae(model)
        report = pretrain(model, pool, args)
        encoder_state = export_videomae_encoder(model, config).state_dict()

    def classifier() -> ARVideoForVideoClassification:
        model = ARVideoForVideoClassification(copy.deepcopy(config))
        if encoder_state is not None:
            model.arvideo.load_state_dict(encoder_state)
        return model

    for kind in ("attentive", "linear"):
        torch.manual_seed(0)
        report[f"{kind}_probe"] = round(probe(classifier().arvideo, train, test, kind), 1)
    low = (train[0][: args.num_low], train[1][: args.num_low])
    report["low_label_finetune"] = []
    for seed in args.finetune_seeds:
        torch.manual_seed(seed)
        report["low_label_finetune"].append(round(finetune(classifier(), low, test, 30, args.lr, 16, seed), 1))
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=("supervised", "pretrain"))
    data = parser.add_argument_group("data (the demo set's settings by default)")
    data.add_argument("--size", type=int, default=32)
    data.add_argument("--frames", type=int, default=16)
    data.add_argument("--classes", type=int, default=6)
    data.add_argument("--contrast", type=float, default=0.25)
    data.add_argument("--speed", type=float, nargs=2, default=[3.0, 5.0])
    data.add_argument("--spin", type=float, nargs=2, default=[5.0, 10.0])
    data.add_argument("--digit_scale", type=float, default=1.5)
    data.add_argument("--halo", type=int, default=2)
    data.add_argument("--num_pool", type=int, default=2400)
    data.add_argument("--num_train", type=int, default=1200)
    data.add_argument("--num_low", type=int, default=120)
    data.add_argument("--num_test", type=int, default=300)
    model = parser.add_argument_group("model (the tiny preset by default)")
    model.add_argument("--model", choices=("arvideo", "plain", "cnn"), default="arvideo")
    model.add_argument("--patch", type=int, default=8)
    model.add_argument("--tubelet", type=int, default=2)
    model.add_argument("--width", type=int, default=96)
    model.add_argument("--depth", type=int, default=3)
    model.add_argument("--heads", type=int, default=4)
    model.add_argument("--cluster", type=int, nargs=3, default=[2, 2, 2])
    model.add_argument("--mask", type=float, default=0.8)
    model.add_argument("--order", default="random")
    model.add_argument("--norm_pix", action="store_true")
    run = parser.add_argument_group("run")
    run.add_argument("--method", choices=("arvideo", "videomae", "none"), default="arvideo")
    run.add_argument("--seconds", type=float, default=120.0)
    run.add_argument("--pretrain_seed", type=int, default=0)
    run.add_argument("--epochs", type=int, default=8)
    run.add_argument("--lr", type=float, default=1e-3)
    run.add_argument("--finetune_seeds", type=int, nargs="+", default=[0])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(2)
    started = time.perf_counter()
    report = run_supervised(args) if args.experiment == "supervised" else run_pretrain(args)
    print(json.dumps({**vars(args), **report, "wall_seconds": round(time.perf_counter() - started)}), flush=True)


if __name__ == "__main__":
    main()

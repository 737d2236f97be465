#!/usr/bin/env python
"""The recipe search on the easy (demo) and the hard set at fixed step budgets (results in RESULTS.md, runs.jsonl).

Three steps, each a short process, so that many run side by side on a shared machine and nothing depends on the wall
clock (the same numbers on any machine, only slower or faster):

    python reproduce/hard_set/experiments.py cache --root ~/.cache/arvideo_hf/hard-v1 --set hard --work /tmp/search
    python reproduce/hard_set/experiments.py pretrain --set hard --work /tmp/search --method arvideo --steps 400
    python reproduce/hard_set/experiments.py pretrain --set hard --work /tmp/search --target frame_difference
    python reproduce/hard_set/experiments.py pretrain --set hard --work /tmp/search --method videomae
    python reproduce/hard_set/experiments.py pretrain --set hard --work /tmp/search --tube_mask --noncausal
    python reproduce/hard_set/experiments.py probe --set hard --work /tmp/search --run <name> --layer 2
    python reproduce/hard_set/experiments.py collect --work /tmp/search --out reproduce/hard_set/runs.jsonl

`cache` decodes a built set once (the mp4 files the pipeline reads: `build-demo`, `build-hard`) into uint8 arrays.
`pretrain` trains the `tiny` model at the search's base (`SEARCH_BASE`) for `--steps` optimizer steps with the
`tiny` run preset's recipe (AdamW (0.9, 0.95), weight decay 0.05, peak lr 3e-4, 5% warmup then cosine to 3e-6, 32
clips per step = 8 videos x 4 repeated clips of 16 frames at stride 2, random temporal offset, full frames, no flip)
and saves the encoder; `--method random` saves the seed's fresh encoder; ablations of the objective (RESULTS.md,
4.7) are `--tube_mask` and `--noncausal`, VideoMAE's masking `--mask` and `--random_mask`. `probe` trains an attentive
probe (on the layer's tokens), a linear probe (on its mean-pooled tokens) and a diagnostic linear probe on
per-time-step means with `arvideo_hf.training.probes` on all labels of `train.txt` and scores `test.txt`. `collect`
writes one JSON line per encoder with every layer's scores, which `python -m arvideo_hf.training.recipe_search` turns
into the README tables and figures.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import VideoMAEForPreTraining

from arvideo_hf import ARVideoConfig, ARVideoForPretraining, ARVideoForVideoClassification, ARVideoModel
from arvideo_hf.data import open_video, read_kinetics_list
from arvideo_hf.environment import describe_machine
from arvideo_hf.models.configuration_arvideo import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PRETRAINING_TARGETS
from arvideo_hf.recipes import finetuning_recipe
from arvideo_hf.training.optim import WarmupCosine, build_layer_decay_param_groups
from arvideo_hf.training.probes import build_probe, predict_probe, train_probe
from arvideo_hf.training.videomae_baseline import (
    export_videomae_encoder,
    initialize_like_official_videomae,
    videomae_config_from,
)


MEAN = torch.tensor(IMAGENET_DEFAULT_MEAN)[None, None, :, None, None]
STD = torch.tensor(IMAGENET_DEFAULT_STD)[None, None, :, None, None]
STRIDE = 2  # the tiny presets read 16 frames at stride 2 out of each 32-frame clip
# The search varies one knob at a time from the `tiny` preset as it was when the search began (2x2x2 clusters, a
# cross-attention decoder), so that every record keeps its meaning after the preset adopted the search's result. The
# shipped recipe is `--target pixels_and_frame_difference --pixel_weight 0.1 --pixel_decay_steps 800 --config
# '{"cluster_size": [8, 2, 2], "decoder_self_attention": true}' --tag c822-dsa`.
SEARCH_BASE: dict[str, Any] = {"cluster_size": [2, 2, 2], "decoder_self_attention": False}


def decode_list(root: Path, name: str, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Every frame of the first `limit` videos of a list: uint8 `(N, 32, H, W, 3)`, and labels (-1: unlabeled)."""
    source = read_kinetics_list(root / name, root=root, labels=None if name != "unlabeled.txt" else False)
    clips, labels = [], []
    for record in source.records[:limit]:
        with open_video(record.path) as video:
            clips.append(video.get_frames(np.arange(32)))
        labels.append(-1 if record.label is None else record.label)
    return np.stack(clips), np.array(labels, dtype=np.int64)


def to_pixels(clips: np.ndarray | torch.Tensor, offset: int = 0) -> torch.Tensor:
    """uint8 `(B, 32, H, W, 3)` -> normalized `(B, 16, 3, H, W)`: 16 frames at stride 2 from `offset`."""
    frames = torch.as_tensor(np.ascontiguousarray(clips[:, offset::STRIDE][:, :16])).permute(0, 1, 4, 2, 3)
    return (frames.float() / 255.0 - MEAN) / STD


def run_name(args: argparse.Namespace) -> str:
    if args.method != "arvideo":  # VideoMAE names its masking where it is not the 90% tube; both name a --tag
        extra = "" if args.method != "videomae" or args.mask == 0.9 else f"-mask{args.mask:g}"
        extra += ("-random" if args.random_mask else "") + (f"-{args.tag}" if args.tag else "")
        return f"{args.method}{extra}-s{args.seed}-{args.steps}"
    extra = ("-normpix" if args.norm_pix else "") + (f"-mask{args.mask:g}" if args.mask != 0.8 else "")
    extra += (f"-pw{args.pixel_weight:g}" if args.pixel_weight != 1.0 else "")
    extra += f"-pdecay{args.pixel_decay_steps}" if args.pixel_decay_steps else ""
    extra += (f"-lr{args.lr:g}" if args.lr != 3e-4 else "") + ("-mw" if args.motion_weighted else "")
    extra += ("-tube" if args.tube_mask else "") + ("-noncausal" if args.noncausal else "")
    extra += f"-{args.tag}" if args.tag else ""
    return f"arvideo-{args.target}{extra}-s{args.seed}-{args.steps}"


def model_config(args: argparse.Namespace) -> ARVideoConfig:
    """The search's model: the `tiny` preset at the search's base (`SEARCH_BASE`) with the run's changes."""
    return ARVideoConfig.from_preset("tiny", **{
        **SEARCH_BASE, "norm_pix_loss": args.norm_pix, "pretraining_target": args.target, "mask_ratio": args.mask,
        "pixel_target_scale": args.pixel_weight, "pixel_target_decay_steps": args.pixel_decay_steps,
        **json.loads(args.config)})


def videomae_loss(
    model: VideoMAEForPreTraining, x: torch.Tensor, ratio: float = 0.9, tube: bool = True
) -> torch.Tensor:
    """VideoMAE's tube masking (the same spatial positions masked in every time step), or with `tube=False` MAE-ST's
    random masking of `ratio` of all tokens."""
    config = model.config
    steps, side = config.num_frames // config.tubelet_size, config.image_size // config.patch_size
    if not tube:
        rank = torch.rand(x.shape[0], steps * side * side).argsort(1).argsort(1)
        return model(x, bool_masked_pos=rank < int(ratio * steps * side * side)).loss
    rank = torch.rand(x.shape[0], side * side).argsort(1).argsort(1)
    return model(x, bool_masked_pos=(rank < int(ratio * side * side)).repeat(1, steps)).loss


def cmd_cache(args: argparse.Namespace) -> None:
    root, work = Path(args.root).expanduser(), Path(args.work) / args.set
    work.mkdir(parents=True, exist_ok=True)
    for name, limit in (("train", None), ("test", None), ("unlabeled", args.num_unlabeled)):
        clips, labels = decode_list(root, f"{name}.txt", limit)
        np.save(work / f"{name}_clips.npy", clips)
        np.save(work / f"{name}_labels.npy", labels)
    (work / "source.json").write_text(json.dumps({"root": str(root), "num_unlabeled": args.num_unlabeled}) + "\n")


def cmd_pretrain(args: argparse.Namespace) -> None:
    combined_only = {"--motion_weighted weights": args.motion_weighted,
                     "--pixel_decay_steps decays": args.pixel_decay_steps}
    for flag, used in combined_only.items():
        if used and args.target != "pixels_and_frame_difference":
            raise SystemExit(f"{flag} the combined target's pixels: use it with --target pixels_and_frame_difference")
    work = Path(args.work) / args.set
    config, name = model_config(args), run_name(args)
    torch.manual_seed(args.seed)
    report: dict = {"steps": 0}
    if args.method == "random":
        state = ARVideoModel(copy.deepcopy(config)).state_dict()
    else:
        pool = np.load(work / "unlabeled_clips.npy", mmap_mode="r")
        if args.method == "arvideo":
            model = ARVideoForPretraining(copy.deepcopy(config))
            if args.noncausal:
                full_attention_encoder(model)
        else:
            model = VideoMAEForPreTraining(videomae_config_from(config))
            initialize_like_official_videomae(model)
        report = pretrain(model, pool, args)
        state = (model.arvideo if args.method == "arvideo" else export_videomae_encoder(model, config)).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(work / f"{name}.safetensors"))
    record = {"set": args.set, "method": args.method, "target": args.target, "norm_pix": args.norm_pix,
              "mask": args.mask, "cluster": list(config.cluster_size), "config": json.loads(args.config),
              "pixel_target_scale": args.pixel_weight, "pixel_decay_steps": args.pixel_decay_steps,
              "motion_weighted": args.motion_weighted,
              "tube_mask": args.tube_mask, "random_mask": args.random_mask, "noncausal": args.noncausal,
              "lr": args.lr,
              "seed": args.seed, "steps": args.steps,
              **report, "pretrain_machine": describe_machine()}
    (work / f"{name}.json").write_text(json.dumps(record) + "\n")


def pretrain(model: torch.nn.Module, pool: np.ndarray, args: argparse.Namespace) -> dict:
    """`--steps` optimizer steps of 32 clips (8 videos x 4 clips, as the tiny preset)."""
    generator = torch.Generator().manual_seed(args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.05)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, WarmupCosine(max(1, args.steps // 20), args.steps, 3e-6 / args.lr))
    losses, started = [], time.perf_counter()
    model.train()
    for step in range(args.steps):
        videos = torch.randint(len(pool), (8,), generator=generator).sort().values
        clips = np.asarray(pool[videos.numpy()]).repeat(4, axis=0)
        x = to_pixels(clips, int(torch.randint(STRIDE, (1,), generator=generator)))
        if args.method != "arvideo":
            loss = videomae_loss(model, x, args.mask, tube=not args.random_mask)
        else:
            noise = tube_noise(model.config, len(x)) if args.tube_mask else None
            output = model(x, noise=noise, training_step=step)  # the step drives a decaying pixel term
            loss = motion_weighted_loss(output, model.config) if args.motion_weighted else output.loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return {"loss_first": round(float(np.mean(losses[:10])), 5), "loss_last": round(float(np.mean(losses[-20:])), 5),
            "pretrain_seconds": round(time.perf_counter() - started)}


def encoder_config(work: Path, run: str, **extra: Any) -> ARVideoConfig:
    """The `tiny` encoder with the run's own config overrides (`--config` at pretraining, e.g. a wider model)."""
    record = json.loads((work / f"{run}.json").read_text())
    return ARVideoConfig.from_preset("tiny", **{**SEARCH_BASE, **record.get("config", {}), **extra})


def tube_noise(config: ARVideoConfig, batch: int) -> torch.Tensor:
    """Masking noise `(batch, N)` that depends on the spatial position only (`--tube_mask`): in every cluster the
    visible tokens are the same spatial positions at every time step, as VideoMAE's tube masking, so a masked position
    of a static scene is never visible at another time for the decoder to copy."""
    steps, height, width = config.token_grid
    return torch.rand(batch, 1, height * width).expand(-1, steps, -1).reshape(batch, -1)


def full_attention_encoder(model: ARVideoForPretraining) -> None:
    """A screening ablation (`--noncausal`): the pretraining encoder attends over all visible tokens instead of the
    block-causal mask, so the decoder's reads of earlier steps carry the later clusters' visible tokens too: masked
    prediction from the whole clip, as VideoMAE's, with ARVideo's clusters, targets and decoder."""
    encode = model.arvideo.forward
    model.arvideo.forward = lambda *args, attention_mask=None, **kwargs: encode(*args, **kwargs)


def motion_weighted_loss(output: Any, config: ARVideoConfig) -> torch.Tensor:
    """A screening variant of the combined target's loss (`--motion_weighted`): each predicted token's pixel error is
    weighted by how much that tubelet moves (the RMS of its frame-difference target over the batch mean of it), so
    a static scene's pixels count little and a moving object's count more; the difference channels keep weight 1.
    Same normalization as the model's MSE (the sum over every target value / their number)."""
    channels = config.num_channels
    logits = output.logits.float().unflatten(-1, (-1, 2 * channels))
    targets = output.targets.unflatten(-1, (-1, 2 * channels))
    error = (logits - targets).pow(2)
    motion = targets[..., channels:].pow(2).mean((-2, -1)).sqrt()  # (B, tokens): RMS frame difference per tubelet
    weight = (motion / (motion.mean() + 1e-6)).detach()[..., None, None]
    return ((weight * error[..., :channels]).sum() + error[..., channels:].sum()) / error.numel()


@torch.no_grad()
def layer_tokens(encoder: ARVideoModel, clips: np.ndarray, layer: int) -> torch.Tensor:
    """Token features `(N, tokens, D)` of hidden state `layer` (0 = embeddings) of center clips."""
    encoder.eval()
    return torch.cat([encoder(to_pixels(clips[i : i + 64]), output_hidden_states=True).hidden_states[layer]
                      for i in range(0, len(clips), 64)])


def per_time_step(tokens: torch.Tensor, config: ARVideoConfig) -> torch.Tensor:
    """`(N, T*H*W, D)` tokens -> `(N, 1, T*D)`: each time step's spatial mean, concatenated in time order. A linear
    probe on this sees the order of events (a direction of motion), which the mean over all tokens erases."""
    return tokens.view(tokens.shape[0], config.token_grid[0], -1, tokens.shape[-1]).mean(2).flatten(1)[:, None]


def cmd_probe(args: argparse.Namespace) -> None:
    """Probes of one layer (`--probes`), merged into the layer's record: `attentive` (every token), `linear` (mean of
    all tokens) and `linear_per_time` (a diagnostic: the linear probe on `per_time_step` features)."""
    work = Path(args.work) / args.set
    config = encoder_config(work, args.run)
    encoder = ARVideoModel(config)
    encoder.load_state_dict(load_file(str(work / f"{args.run}.safetensors")))
    data = {split: (np.load(work / f"{split}_clips.npy", mmap_mode="r"),
                    torch.from_numpy(np.load(work / f"{split}_labels.npy"))) for split in ("train", "test")}
    tokens = {split: layer_tokens(encoder, clips, args.layer) for split, (clips, _) in data.items()}
    num_classes = int(max(data["train"][1].max(), data["test"][1].max())) + 1
    path = work / f"{args.run}.layer{args.layer}.json"
    scores = json.loads(path.read_text()) if path.is_file() else {}
    scores.update(layer=args.layer, probe_epochs=args.probe_epochs)
    for kind in args.probes.split(","):
        features = tokens if kind != "linear_per_time" else {k: per_time_step(v, config) for k, v in tokens.items()}
        torch.manual_seed(0)
        head = build_probe(kind.split("_")[0], features["train"].shape[-1], num_classes)
        train_probe(head, features["train"], data["train"][1], epochs=args.probe_epochs, lr=1e-3, progress=False)
        for split, suffix in (("test", ""), ("train", "_train")):
            top1 = (predict_probe(head, features[split]).argmax(-1) == data[split][1]).float().mean().item()
            scores[kind + suffix] = round(100.0 * top1, 1)
    scores["probe_machine"] = describe_machine()
    path.write_text(json.dumps(scores) + "\n")


def labeled_subset(work: Path, name: str) -> np.ndarray:
    """Indices into the cached `train` arrays of the videos listed in the set's `name` (e.g. `train_10pct.txt`)."""
    root = Path(json.loads((work / "source.json").read_text())["root"])
    order = {line.split()[0]: i for i, line in enumerate((root / "train.txt").read_text().splitlines()) if line}
    return np.array([order[line.split()[0]] for line in (root / name).read_text().splitlines() if line])


@torch.no_grad()
def center_output(encoder: ARVideoModel, clips: np.ndarray) -> None:
    """Subtract the mean last-layer token of `clips` from the last block's output bias: the encoder's output is
    centered on that data, every token shifted by the same vector (no information lost)."""
    mean = layer_tokens(encoder, clips, encoder.config.num_hidden_layers).flatten(0, 1).mean(0)
    encoder.encoder.layer[-1].output.dense.bias -= mean


def cmd_finetune(args: argparse.Namespace) -> None:
    """The `tiny` finetuning preset (`arvideo_hf.recipes.finetuning_recipe("tiny")`: AdamW, its lr, weight decay and
    betas, warmup epochs then cosine to 0, its epochs and batch, no augmentation, random temporal offset) with
    gradients clipped to norm 1 as transformers' Trainer does, on `train_10pct.txt`, scored on `test.txt` with the
    center clip. One difference from `examples/finetune.py`: weight decay applies to every parameter (the Trainer
    spares norms and biases), unless `--ft_layer_decay` builds the Trainer's layer-decay groups. `--ft_seed` seeds
    the head and the batch order."""
    work = Path(args.work) / args.set
    subset = labeled_subset(work, "train_10pct.txt")
    clips = np.asarray(np.load(work / "train_clips.npy", mmap_mode="r")[subset])
    labels = torch.from_numpy(np.load(work / "train_labels.npy"))[subset]
    test_clips, test_labels = np.load(work / "test_clips.npy", mmap_mode="r"), np.load(work / "test_labels.npy")
    config = encoder_config(work, args.run, num_labels=int(labels.max()) + 1)
    torch.manual_seed(args.ft_seed)
    model = ARVideoForVideoClassification(config)
    model.arvideo.load_state_dict(load_file(str(work / f"{args.run}.safetensors")))
    if args.center:
        center_output(model.arvideo, np.load(work / "unlabeled_clips.npy", mmap_mode="r")[:256])
    recipe = finetuning_recipe("tiny")
    batch_size, epochs = recipe["per_device_train_batch_size"], recipe["num_train_epochs"]
    epoch_steps = -(-len(clips) // batch_size)
    lr = args.ft_lr or recipe["learning_rate"]
    parameters = model.parameters() if args.ft_layer_decay is None else build_layer_decay_param_groups(
        model, recipe["weight_decay"], args.ft_layer_decay, lr)  # the Trainer's groups: norms and biases undecayed
    optimizer = torch.optim.AdamW(parameters, lr=lr, betas=(recipe["adam_beta1"], recipe["adam_beta2"]),
                                  weight_decay=recipe["weight_decay"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, WarmupCosine(round(recipe["warmup_epochs"] * epoch_steps), epochs * epoch_steps, 0.0))
    generator = torch.Generator().manual_seed(args.ft_seed)
    model.train()
    for epoch in range(epochs):
        for batch in torch.randperm(len(clips), generator=generator).split(batch_size):
            x = to_pixels(clips[batch.sort().values.numpy()], int(torch.randint(STRIDE, (1,), generator=generator)))
            loss = model(x, labels=labels[batch.sort().values]).loss
            optimizer.zero_grad()
            loss.backward()
            if epoch < args.ft_head_epochs:  # the head alone first (LP-FT): AdamW skips parameters without a grad
                for parameter in model.arvideo.parameters():
                    parameter.grad = None
            if args.ft_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.ft_clip)
            optimizer.step()
            scheduler.step()
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(to_pixels(test_clips[i : i + 64])).logits.argmax(-1)
                                 for i in range(0, len(test_clips), 64)])
    top1 = round(100.0 * (predictions.numpy() == test_labels).mean(), 1)
    record = {"finetune_top1": top1, "ft_seed": args.ft_seed, "train_videos": len(clips), "center": args.center,
              "head_epochs": args.ft_head_epochs, "layer_decay": args.ft_layer_decay,
              "machine": describe_machine()}
    suffix = ("c" if args.center else "") + (f"-lr{args.ft_lr:g}" if args.ft_lr else "")
    suffix += f"-clip{args.ft_clip:g}" if args.ft_clip != 1.0 else ""
    suffix += f"-head{args.ft_head_epochs}" if args.ft_head_epochs else ""
    suffix += f"-ld{args.ft_layer_decay:g}" if args.ft_layer_decay is not None else ""
    (work / f"{args.run}.ft{args.ft_seed}{suffix}.json").write_text(json.dumps(record) + "\n")


def cmd_collect(args: argparse.Namespace) -> None:
    """One line per pretrained (or random) encoder whose last layer is probed, written to `--out`: every probed
    layer's scores (`null` for a layer not probed) and the finetune with `ft_seed` = the pretraining seed (variants,
    e.g. another `--ft_lr`, under `finetune_variants` by file suffix)."""
    lines = []
    for record_path in sorted(Path(args.work).glob("*/*-s*-*.json")):
        if ".layer" in record_path.name or ".ft" in record_path.name:
            continue
        record = json.loads(record_path.read_text())
        if "-pw" in record_path.stem:  # records written before the scale was recorded name it in the run name
            record.setdefault("pixel_target_scale", float(record_path.stem.split("-pw")[1].split("-")[0]))
        layers = [record_path.with_name(f"{record_path.stem}.layer{layer}.json") for layer in range(4)]
        if not layers[-1].is_file():
            continue
        scores = [json.loads(path.read_text()) if path.is_file() else {} for path in layers]
        record["probes"] = {key: [row.get(key) for row in scores]
                            for key in ("attentive", "linear", "attentive_train", "linear_train", "linear_per_time")}
        record["probe_epochs"], record["machine"] = scores[-1]["probe_epochs"], scores[-1]["probe_machine"]
        record["probe"] = "standardized"  # arvideo_hf.training.probes standardizes every probe's input
        finetunes = {}
        for path in sorted(record_path.parent.glob(f"{record_path.stem}.ft*.json")):
            top1 = json.loads(path.read_text())
            suffix = path.name[len(f"{record_path.stem}.ft{top1['ft_seed']}"):-len(".json")]
            other_seed = f"ft_seed{top1['ft_seed']}" if top1["ft_seed"] != record["seed"] else ""
            finetunes[other_seed + suffix] = top1["finetune_top1"]
        if "" in finetunes:  # the tiny finetuning preset itself, head and batch order seeded like the pretraining
            record["finetune"] = finetunes.pop("")
        if finetunes:  # one change each, named by file suffix: "-lr0.0003" (peak lr), "ft_seed2" (another seed), ...
            record["finetune_variants"] = finetunes
        lines.append(json.dumps(record))
    Path(args.out).write_text("".join(line + "\n" for line in lines))
    print(f"{len(lines)} runs -> {args.out}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("cache", "pretrain", "probe", "finetune", "collect"))
    parser.add_argument("--root", help="cache: a built set (build-demo or build-hard output)")
    parser.add_argument("--set", default="hard", help="name of the set (demo or hard)")
    parser.add_argument("--work", default="outputs/hard_set_search")
    parser.add_argument("--num_unlabeled", type=int, default=None, help="cache: the first N of the unlabeled pool")
    parser.add_argument("--method", choices=("arvideo", "videomae", "random"), default="arvideo")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0, help="pretraining seed (and the random encoder's)")
    parser.add_argument("--target", choices=PRETRAINING_TARGETS, default="pixels")
    parser.add_argument("--norm_pix", action="store_true")
    parser.add_argument("--mask", type=float, default=None,
                        help="ARVideo: in-cluster mask ratio (default 0.8); VideoMAE: mask ratio (default 0.9)")
    parser.add_argument("--random_mask", action="store_true",
                        help="VideoMAE: MAE-ST's random masking of --mask of all tokens instead of tube masking")
    parser.add_argument("--tube_mask", action="store_true",
                        help="pretrain: the same visible spatial positions at every time step of a cluster")
    parser.add_argument("--noncausal", action="store_true",
                        help="pretrain: the encoder attends over every visible token (an ablation of causality)")
    parser.add_argument("--motion_weighted", action="store_true",
                        help="pretrain: weight each token's pixel error by its motion (combined target only)")
    parser.add_argument("--config", default="{}", help="pretrain: more ARVideoConfig fields as JSON (name: --tag)")
    parser.add_argument("--tag", default="", help="pretrain: a suffix naming --config's change in the run name")
    parser.add_argument("--run", help="probe: the run name (a pretrain output's stem)")
    parser.add_argument("--layer", type=int, default=3)
    parser.add_argument("--probe_epochs", type=int, default=20)
    parser.add_argument("--probes", default="attentive,linear,linear_per_time",
                        help="probe: which probes to train (comma-separated); others already recorded are kept")
    parser.add_argument("--ft_seed", type=int, default=0, help="finetune: seed of the head and the batch order")
    parser.add_argument("--pixel_weight", type=float, default=1.0,
                        help="pretrain: pixel_target_scale, the combined target's pixel channels' scale")
    parser.add_argument("--pixel_decay_steps", type=int, default=0,
                        help="pretrain: pixel_target_decay_steps, the pixel term falls by a cosine to 0 over this many "
                             "steps (0: constant)")
    parser.add_argument("--ft_lr", type=float, default=None,
                        help="finetune: peak learning rate (default: the tiny finetuning preset's)")
    parser.add_argument("--ft_clip", type=float, default=1.0, help="finetune: clip gradients to this norm (0: off)")
    parser.add_argument("--ft_head_epochs", type=int, default=0,
                        help="finetune: train only the head for this many epochs first (linear probe, then finetune)")
    parser.add_argument("--ft_layer_decay", type=float, default=None,
                        help="finetune: layer-wise lr decay over the Trainer's parameter groups (norms and biases "
                             "without weight decay); default: one group, every parameter decayed")
    parser.add_argument("--center", action="store_true", help="finetune: center the encoder output first")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: several steps side by side)")
    parser.add_argument("--out", default="reproduce/hard_set/runs.jsonl")
    args = parser.parse_args(argv)
    if args.mask is None:
        args.mask = 0.9 if args.method == "videomae" else 0.8
    if args.random_mask and args.method != "videomae":
        parser.error("--random_mask is VideoMAE's masking: ARVideo masks inside clusters (--tube_mask for tubes)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    commands = {"cache": cmd_cache, "pretrain": cmd_pretrain, "probe": cmd_probe, "finetune": cmd_finetune,
                "collect": cmd_collect}
    commands[args.command](args)


if __name__ == "__main__":
    main()

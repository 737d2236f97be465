#!/usr/bin/env python
# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Every ARVideo figure in one command (PNG/GIF files in --out), a thin layer over `arvideo_hf.viz`.

    python examples/visualize.py --checkpoint outputs/pretrain-demo/pretrain_model \\
        [--videomae DIR] [--videos LIST_OR_MP4 ...] [--logs DIR ...] --out outputs/viz

Writes `orders.png` (ViT-B's 2x7x7 clusters in the three orders; `orders_model.png` too when the checkpoint's
geometry differs), `predictions_<video>.png/.gif` (next-cluster predictions), `attention_rank.png` (per layer,
ARVideo and, with --videomae, VideoMAE on the same clips) and `training_curves.png` (with --logs). Without --videos
a synthetic moving-pattern clip is used, so the command always works; `--preset tiny` replaces the checkpoint by a
randomly initialised model (a smoke test, and how the README images are made before a demo checkpoint exists).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from arvideo_hf import ARVideoConfig, ARVideoForPretraining, viz


logger = logging.getLogger("visualize")
FIGURES = ("orders", "predictions", "rank", "curves")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--checkpoint", type=Path, help="ARVideo model folder (a pretraining one for predictions)")
    model.add_argument("--preset", help="randomly initialised ARVideo of this preset (e.g. tiny) instead")
    parser.add_argument("--videomae", type=Path, help="transformers VideoMAE folder for the attention-rank comparison")
    parser.add_argument("--videos", nargs="*", default=[], help="video files and/or annotation lists (path label)")
    parser.add_argument("--logs", nargs="*", type=Path, default=[], help="run folders or log files for the curves")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--figures", nargs="+", choices=FIGURES, help="only these figures (default: all that apply)")
    parser.add_argument("--order", choices=viz.ORDERS, help="prediction order (default: the checkpoint's)")
    parser.add_argument("--max-videos", type=int, default=4, help="clips drawn as predictions and used for the rank")
    parser.add_argument("--rank-rtol", type=float, default=viz.DEFAULT_RANK_RTOL, help="rank tolerance vs sigma_max")
    parser.add_argument("--rank-average", choices=("matrix", "rank"), default="matrix",
                        help="rank of the head/clip mean attention (matrix) or mean per-head rank (rank)")
    parser.add_argument("--no-gif", action="store_true", help="skip the prediction-order animations")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def load_model(args: argparse.Namespace) -> tuple[torch.nn.Module | None, ARVideoConfig | None]:
    """The ARVideo model to draw: a pretraining model when the checkpoint has a decoder, else its encoder."""
    if args.preset:
        torch.manual_seed(args.seed)
        config = ARVideoConfig.from_preset(args.preset, attn_implementation="eager")
        return ARVideoForPretraining(config).eval(), config
    if args.checkpoint is None:
        return None, None
    from transformers import AutoConfig

    architectures = AutoConfig.from_pretrained(args.checkpoint).architectures or []
    if any(name.endswith(("ForPretraining", "ForPreTraining")) for name in architectures):
        model = ARVideoForPretraining.from_pretrained(args.checkpoint, attn_implementation="eager")
    else:
        logger.warning("%s has no pretraining decoder (%s): no prediction figures", args.checkpoint, architectures)
        model = viz.encoder_of(args.checkpoint)
    return model.eval(), model.config


def load_clips(videos: list[Path], config: object, limit: int, seed: int) -> list[tuple[str, torch.Tensor]]:
    """`(name, clip)` for up to `limit` decodable videos, or one synthetic clip when there are none."""
    clips: list[tuple[str, torch.Tensor]] = []
    for video in videos[:limit]:
        try:
            clips.append((video.stem, viz.load_video_clip(video, config)))
        except Exception as err:  # a bad file should not cost the other figures
            logger.warning("skipping %s: %s", video, err)
    names = [name for name, _ in clips]
    clips = [(f"{n}_{i}" if names.count(n) > 1 else n, c) for i, (n, c) in enumerate(clips)]
    return clips or [("synthetic", viz.synthetic_clip(config, seed))]


def main(argv: list[str] | None = None) -> list[Path]:
    """Make the figures; returns the files written."""
    args = parse_args(argv)
    model, config = load_model(args)
    wanted = set(args.figures or FIGURES)
    if model is None and wanted & {"predictions", "rank"} and args.figures:
        raise SystemExit("--figures predictions/rank need --checkpoint (or --preset)")
    written: list[Path] = []
    videos = viz.read_video_list(args.videos)
    if "orders" in wanted:
        written.append(viz.plot_prediction_orders(args.out / "orders.png", seed=args.seed))
        if config is not None and config.geometry != viz.VIT_B_GEOMETRY:
            written.append(viz.plot_prediction_orders(args.out / "orders_model.png", config.geometry, seed=args.seed))
    clips = load_clips(videos, config, args.max_videos, args.seed) if model is not None else []
    if "predictions" in wanted and isinstance(model, ARVideoForPretraining):
        for name, clip in clips:
            result = viz.predict_next_clusters(model, clip, order=args.order, seed=args.seed)
            written.append(viz.plot_prediction_grid(result, args.out / f"predictions_{name}.png"))
            if not args.no_gif:
                written.append(viz.animate_prediction_order(result, args.out / f"predictions_{name}.gif"))
    if "rank" in wanted and model is not None:
        ranks = {"ARVideo": viz.attention_ranks(model, [c for _, c in clips], args.rank_rtol, args.rank_average)}
        if args.videomae is not None:
            videomae = viz.encoder_of(args.videomae)
            vconfig = videomae.config
            same = all(getattr(vconfig, k) == getattr(config, k) for k in ("num_frames", "image_size", "tubelet_size",
                                                                             "patch_size"))
            if not same:
                logger.warning("VideoMAE expects other clip shapes: decoding the same videos at its geometry")
            vclips = [c for _, c in clips] if same else [c for _, c in load_clips(videos, vconfig, args.max_videos,
                                                                                  args.seed)]
            ranks["VideoMAE"] = viz.attention_ranks(videomae, vclips, args.rank_rtol, args.rank_average)
        written.append(viz.plot_attention_ranks(ranks, args.out / "attention_rank.png", args.rank_rtol,
                                                config.geometry.num_tokens, args.rank_average))
    if "curves" in wanted and args.logs:
        runs = {}
        for log in args.logs:
            curves, source = viz.read_training_logs(log)
            runs[f"{log.name} ({source})"] = curves
        written.append(viz.plot_training_curves(runs, args.out / "training_curves.png"))
    for path in written:
        print(path)
    return written


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    main(sys.argv[1:])

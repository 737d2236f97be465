"""Is a set's label in single frames? A per-frame classifier, against a two-frame one as the positive control.

A motion-defined set is only a test of video understanding when no single frame tells its classes apart. `frame_check`
trains the same small CNN twice on a set's `train.txt` and scores it on `test.txt`: once on single frames, once on two
frames four apart stacked on the channels (which see motion). Single frames at chance and frame pairs well above it
show the label lives in the motion, and that the classifier was able to find it when it is there.

    python -m arvideo_hf.data frame-check ~/.cache/arvideo_hf/hard-v1
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .decoding import open_video
from .sources import read_kinetics_list


__all__ = ["FrameClassifier", "frame_check", "load_split_frames"]

PAIR_GAP = 4  # frames between the two frames of the control (two sampled frames at the tiny presets' stride 2)


class FrameClassifier(nn.Module):
    """Three conv-pool stages and a linear head over the flattened map (position and size stay visible)."""

    def __init__(self, in_channels: int, num_classes: int, size: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for channels_in, channels_out in ((in_channels, 32), (32, 64), (64, 128)):
            layers += [nn.Conv2d(channels_in, channels_out, 3, padding=1), nn.BatchNorm2d(channels_out), nn.ReLU(),
                       nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(128 * (size // 8) ** 2, num_classes)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(pixels).flatten(1))


def load_split_frames(root: str | os.PathLike, list_name: str, limit: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Every frame of the first `limit` (default: all) videos of a labeled list: uint8 `(videos, T, H, W, 3)` and the
    labels."""
    source = read_kinetics_list(Path(root) / list_name, root=root, labels=True)
    source.records = source.records[:limit]
    clips = []
    for record in source.records:
        with open_video(record.path) as video:
            clips.append(video.get_frames(np.arange(video.num_frames)))
    length = min(len(clip) for clip in clips)
    return np.stack([clip[:length] for clip in clips]), np.array([r.label for r in source.records], dtype=np.int64)


def _samples(clips: np.ndarray, labels: np.ndarray, per_video: int, pair: bool, rng: np.random.Generator):
    """`per_video` inputs per clip: one frame (3 channels) or frames t and t+PAIR_GAP (6 channels), as float."""
    starts = rng.integers(0, clips.shape[1] - (PAIR_GAP if pair else 0), size=(len(clips), per_video))
    videos = np.repeat(np.arange(len(clips)), per_video)
    first = clips[videos, starts.ravel()]
    frames = np.concatenate([first, clips[videos, starts.ravel() + PAIR_GAP]], axis=-1) if pair else first
    pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0 - 0.5
    return pixels, torch.from_numpy(np.repeat(labels, per_video))


def _train_and_score(train, test, num_classes: int, epochs: int, seed: int) -> dict[str, float]:
    torch.manual_seed(seed)
    model = FrameClassifier(train[0].shape[1], num_classes, size=train[0].shape[-1])
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    steps = epochs * ((len(train[1]) + 127) // 128)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(train[1]), generator=generator)
        for start in range(0, len(order), 128):
            index = order[start : start + 128]
            loss = F.cross_entropy(model(train[0][index]), train[1][index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        scores = {}
        for name, (pixels, labels) in (("train", train), ("test", test)):
            predictions = torch.cat([model(chunk).argmax(-1) for chunk in pixels.split(512)])
            scores[name] = round(100.0 * (predictions == labels).float().mean().item(), 2)
    return scores


def frame_check(root: str | os.PathLike, *, epochs: int = 15, seed: int = 0, frames_per_video: int = 4,
                train_list: str = "train.txt", test_list: str = "test.txt", max_train_videos: int | None = None
                ) -> dict[str, Any]:
    """Top-1 (%) of the per-frame and the frame-pair classifier on `test_list` (and on their own training frames),
    with chance and the sizes; the test frames are drawn once from `seed` like the training frames. The training
    frames come from the first `max_train_videos` videos of `train_list` (default: all)."""
    started = time.perf_counter()
    train_clips, train_labels = load_split_frames(root, train_list, max_train_videos)
    test_clips, test_labels = load_split_frames(root, test_list)
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    result: dict[str, Any] = {"root": os.fspath(root), "num_classes": num_classes,
                              "chance_top1": round(100.0 / num_classes, 2), "num_train_videos": len(train_labels),
                              "num_test_videos": len(test_labels), "frames_per_video": frames_per_video,
                              "epochs": epochs, "seed": seed, "pair_gap": PAIR_GAP}
    for name, pair in (("single_frame", False), ("frame_pair", True)):
        rng = np.random.default_rng(seed)
        train = _samples(train_clips, train_labels, frames_per_video, pair, rng)
        test = _samples(test_clips, test_labels, frames_per_video, pair, rng)
        scores = _train_and_score(train, test, num_classes, epochs, seed)
        result[f"{name}_top1"], result[f"{name}_train_top1"] = scores["test"], scores["train"]
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result

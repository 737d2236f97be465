# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Multi-view video classification testing (docs/method.md, Test protocol), single- or multi-process through accelerate.

Every test video is seen as `num_clips` evenly spaced temporal clips x `num_crops` spatial crops (5x3 for
Kinetics-like data, 2x3 for SSv2-like data); each view is classified, softmaxed, and the probabilities are averaged.
Results are gathered across processes with `accelerator.gather_for_metrics` (which drops the samples that
padding duplicated at the end of an uneven split), then checked by video index: every video is counted exactly once.

Outputs: `eval_results.json` (the `arvideo_hf.zoo.publish` schema, read by model cards), `eval_details.json` (per-class
accuracy, confusion matrix, per-video predictions) and `confusion_matrix.png`.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm
from transformers import AutoImageProcessor, AutoModelForVideoClassification

from ..data import DenseSampler, EvalTransform, SegmentSampler, open_demo_dataset, open_video, read_kinetics_list
from ..data.decoding import VideoDecodeError
from ..data.sources import unpack_records
from ..integrity import check_finite_module
from ..interop.loading import finetuned_stride as finetuned_stride_of
from ..models.configuration_arvideo import pair
from ..models.processing_arvideo import image_processor_for
from ..results import Result
from ..viz.reports import plot_confusion_matrix
from .arguments import EvaluateArguments, parse_evaluate_args
from .metrics import compute_topk, confusion_matrix, per_class_accuracy


logger = logging.getLogger(__name__)

DEFAULT_NUM_CLIPS = {"dense": 5, "segment": 2}
BLANK_LENGTH, BLANK_SIZE = 1000, 8  # the stand-in (frames, pixels) for a video that does not decode


def average_view_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """`(B, V, K)` logits of `V` views per video -> `(B, K)`: softmax each view, then average (not the reverse)."""
    if logits.dim() != 3:
        raise ValueError(f"expected (videos, views, classes) logits, got shape {tuple(logits.shape)}")
    return logits.float().softmax(dim=-1).mean(dim=1)


class MultiViewDataset(Dataset):
    """All test views of each video: item `i` is `{"pixel_values": (clips*crops, T, C, H, W), "labels", "index"}`.

    Views are ordered clip-major (clip 0 crop 0, clip 0 crop 1, ...). The frames of all clips are decoded in one
    pass. `transform(frames, None, crop_index=k)` must give crop `k` (see `data.EvalTransform`).
    """

    def __init__(
        self,
        records: Any,
        sampler: Any,
        transform: Any,
        *,
        num_clips: int,
        num_crops: int,
        backend: str = "auto",
        num_threads: int = 1,
    ) -> None:
        self.records, self.id2label = unpack_records(records)
        if any(record.label is None for record in self.records):
            raise ValueError("evaluation needs a label on every test video.")
        self.sampler, self.transform = sampler, transform
        self.num_clips, self.num_crops = int(num_clips), int(num_crops)
        self.backend, self.num_threads = backend, num_threads

    @classmethod
    def from_config(
        cls,
        records: Any,
        config: Any,
        *,
        num_clips: int | None = None,
        num_crops: int = 3,
        sampling: str = "dense",
        stride: int = 4,
        image_processor: Any | None = None,
        **kwargs: Any,
    ) -> MultiViewDataset:
        """Samplers and crops for `config` (`num_frames`, `image_size`, mean/std); an `image_processor` (e.g. the
        checkpoint's `preprocessor_config.json`) overrides size, short-side resize and mean/std."""
        num_clips = DEFAULT_NUM_CLIPS[sampling] if num_clips is None else num_clips
        if sampling == "dense":
            sampler: Any = DenseSampler(config.num_frames, stride, num_clips=num_clips)
        elif sampling == "segment":
            sampler = SegmentSampler(config.num_frames, num_clips=num_clips)
        else:
            raise ValueError(f"sampling must be 'dense' or 'segment', got {sampling!r}")
        transform_kwargs: dict[str, Any] = {"spatial_crops": num_crops}
        if image_processor is not None:
            crop = image_processor.crop_size
            transform_kwargs.update(
                size=(crop["height"], crop["width"]),
                resize_short=image_processor.size.get("shortest_edge"),
                mean=list(image_processor.image_mean),
                std=list(image_processor.image_std),
            )
        transform = EvalTransform.from_config(config, **transform_kwargs)
        return cls(records, sampler, transform, num_clips=num_clips, num_crops=num_crops, **kwargs)

    @property
    def views(self) -> str:
        """`"CLIPSxCROPS"`, as `eval_results.json` records it."""
        return f"{self.num_clips}x{self.num_crops}"

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """The views of video `index`; a video that does not decode gives black views and `valid` False, so that the
        batch keeps its shape across processes and the video is counted as skipped, not scored."""
        record = self.records[index]
        try:
            with open_video(record.path, backend=self.backend, num_threads=self.num_threads) as video:
                clips = [self.sampler(video.num_frames, None, clip_index=c) for c in range(self.num_clips)]
                wanted = np.unique(np.concatenate(clips))
                frames = video.get_frames(wanted)
            valid = True
        except (VideoDecodeError, OSError, ValueError, IndexError) as err:
            logger.warning("Skipping test video %s: %s", record.path, err)
            clips = [self.sampler(BLANK_LENGTH, None, clip_index=c) for c in range(self.num_clips)]
            wanted = np.unique(np.concatenate(clips))
            frames, valid = np.zeros((len(wanted), BLANK_SIZE, BLANK_SIZE, 3), dtype=np.uint8), False
        position = {int(frame): i for i, frame in enumerate(wanted)}
        views = []
        for indices in clips:
            clip = frames[[position[int(i)] for i in indices]]
            views.extend(self.transform(clip, None, crop_index=k) for k in range(self.num_crops))
        return {"pixel_values": torch.stack(views), "labels": torch.tensor(record.label), "index": torch.tensor(index),
                "valid": torch.tensor(valid)}


def collate_views(samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """`{"pixel_values": (B, V, T, C, H, W), "labels": (B,), "index": (B,), "valid": (B,)}`."""
    keys = ("pixel_values", "labels", "index", "valid")
    return {key: torch.stack([sample.get(key, torch.tensor(True)) if key == "valid" else sample[key]
                              for sample in samples]) for key in keys}


@dataclass
class MultiViewPredictions:
    """Per-video averaged probabilities `(N, K)`, labels and dataset indices, sorted by index, each video once; the
    videos that could not be decoded are left out and listed by index in `skipped`."""

    probabilities: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    skipped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@torch.no_grad()
def predict_views(
    model: torch.nn.Module,
    dataset: MultiViewDataset,
    accelerator: Any | None = None,
    *,
    batch_size: int = 4,
    num_workers: int = 0,
    view_chunk: int | None = None,
    progress: bool = True,
) -> MultiViewPredictions:
    """Run every view of every video (split across processes), average softmaxes per video, gather everything.

    `batch_size` counts videos per process; `view_chunk` caps the clips per forward pass (default: all views of
    the batch). Returns the same `MultiViewPredictions` on every process.
    """
    accelerator = accelerator or Accelerator()
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=collate_views
    )
    loader = accelerator.prepare(loader)  # shards videos over processes; no DDP wrapper needed for inference
    model = model.to(accelerator.device).eval()
    probabilities, labels, indices, valid = [], [], [], []
    show = progress and accelerator.is_local_main_process
    for batch in tqdm(loader, desc=f"eval {dataset.views} views", disable=not show):
        videos, views = batch["pixel_values"].shape[:2]
        clips = batch["pixel_values"].flatten(0, 1)
        chunk = view_chunk or clips.shape[0]
        logits = torch.cat([model(pixel_values=clips[i : i + chunk]).logits for i in range(0, clips.shape[0], chunk)])
        probs = average_view_probabilities(logits.view(videos, views, -1))
        probs, batch_labels, batch_index, batch_valid = accelerator.gather_for_metrics(
            (probs, batch["labels"], batch["index"], batch["valid"]))
        probabilities.append(probs.cpu())
        labels.append(batch_labels.cpu())
        indices.append(batch_index.cpu())
        valid.append(batch_valid.cpu())
    everything = _dedupe(
        torch.cat(probabilities).numpy(), torch.cat(labels).numpy(), torch.cat(indices).numpy(), len(dataset)
    )
    scored = torch.cat(valid).numpy()[_first_positions(torch.cat(indices).numpy())]
    if not scored.any() and len(scored):
        raise RuntimeError(f"None of the {len(scored)} test videos could be decoded; check the list and --data_root.")
    return MultiViewPredictions(everything.probabilities[scored], everything.labels[scored],
                                everything.indices[scored], everything.indices[~scored])


def _first_positions(indices: np.ndarray) -> np.ndarray:
    """Where each distinct index first occurs (the order `_dedupe` keeps)."""
    return np.unique(indices, return_index=True)[1]


def _dedupe(
    probabilities: np.ndarray, labels: np.ndarray, indices: np.ndarray, num_videos: int
) -> MultiViewPredictions:
    """Keep the first result of each video index and check that every video of the dataset is there exactly once."""
    unique, first = np.unique(indices, return_index=True)
    if len(unique) != len(indices):
        logger.warning("Dropped %d duplicated results after gathering.", len(indices) - len(unique))
    if len(unique) != num_videos or (num_videos and (unique[0] != 0 or unique[-1] != num_videos - 1)):
        raise RuntimeError(f"gathered results for {len(unique)} distinct videos, expected {num_videos}")
    return MultiViewPredictions(probabilities[first], labels[first], unique)


def summarize(predictions: MultiViewPredictions, id2label: dict[int, str]) -> dict[str, Any]:
    """Top-1/top-5 (percent), mean class accuracy, per-class accuracy and the confusion matrix."""
    num_classes = predictions.probabilities.shape[1]
    topk = compute_topk(predictions.probabilities, predictions.labels, (1, 5))
    matrix = confusion_matrix(predictions.probabilities.argmax(1), predictions.labels, num_classes)
    per_class = per_class_accuracy(matrix)
    names = [id2label.get(i, str(i)) for i in range(num_classes)]
    return {
        "top1": topk["top1"],
        "top5": topk["top5"],
        "mean_class_accuracy": float(np.nanmean(per_class)) if len(per_class) else 0.0,
        "per_class_accuracy": {
            name: (None if np.isnan(acc) else float(acc)) for name, acc in zip(names, per_class, strict=True)
        },
        "confusion_matrix": matrix.tolist(),
        "class_names": names,
        "num_videos": int(len(predictions.labels)),
        "skipped_videos": int(len(predictions.skipped)),
    }




# ------------------------------------------------------------------------------------------------------- the script


def finetuned_stride(args: EvaluateArguments) -> int | None:
    """The frame stride the classifier was finetuned with (its `finetune_args.json`), so test clips match training."""
    return finetuned_stride_of(args.model_name_or_path)


def run_evaluation(
    args: EvaluateArguments, accelerator: Any | None = None, command: str | None = None
) -> dict[str, Any]:
    """Evaluate a classifier folder with multi-view testing; the main process writes the result files.

    Returns the summary (top1/top5 in percent, per-class accuracy, ...) on every process (the Auto classes know
    ARVideo: importing this module imported the `arvideo_hf` package, which registers it).
    """
    started = time.perf_counter()
    accelerator = accelerator or Accelerator()
    # --num_frames/--image_size: the checkpoint at another clip geometry (docs/method.md, Clip geometry).
    overrides = {key: value for key in ("num_frames", "image_size") if (value := getattr(args, key)) is not None}
    model = AutoModelForVideoClassification.from_pretrained(args.model_name_or_path, **overrides)
    check_finite_module(model, f"Refusing to evaluate {args.model_name_or_path}",
                        "Its accuracy would mean nothing: retrain it (lower learning rate) or use another checkpoint.")
    try:
        image_processor = AutoImageProcessor.from_pretrained(args.model_name_or_path)
    except (OSError, ValueError):
        image_processor = None  # the transform then follows the model config
    if image_processor is not None and "image_size" in overrides:
        image_processor = image_processor_for(model.config, like=image_processor)
    if args.test_list is None:
        with accelerator.main_process_first():
            root = open_demo_dataset(args.demo_root)
        source = read_kinetics_list(root / "test.txt", root=root, label_names=root / "labels.txt")
        dataset_name, stride = args.dataset or "arvideo-demo", args.sampling_rate or finetuned_stride(args) or 2
    else:
        source = read_kinetics_list(args.test_list, root=args.data_root, labels=True, label_names=args.class_names,
                                    allow_outside_root=args.allow_outside_root)
        dataset_name = args.dataset or Path(args.test_list).stem
        stride = args.sampling_rate or finetuned_stride(args) or 4
    check_labels_against_model(source, model.config, args.class_names)
    dataset = MultiViewDataset.from_config(
        source, model.config, num_clips=args.num_clips, num_crops=args.num_crops, sampling=args.sampling,
        stride=stride, image_processor=image_processor, backend=args.backend,
    )
    predictions = predict_views(
        model, dataset, accelerator, batch_size=args.batch_size, num_workers=args.num_workers,
        view_chunk=args.view_chunk,
    )
    id2label = {int(k): v for k, v in (source.id2label or model.config.id2label).items()}
    summary = summarize(predictions, id2label)
    height, width = pair(model.config.image_size)
    summary.update(views=dataset.views, clip=f"{model.config.num_frames}x{height}x{width}", dataset=dataset_name,
                   split=args.split, wall_seconds=round(time.perf_counter() - started, 1),
                   processes=accelerator.num_processes,
                   skipped_paths=[dataset.records[int(i)].path for i in predictions.skipped])
    if len(predictions.skipped):
        logger.warning("Scored %d of %d test videos: %d could not be decoded (first: %s).", summary["num_videos"],
                       len(dataset), len(predictions.skipped), summary["skipped_paths"][:5])
    if accelerator.is_main_process:
        command = command or "python " + " ".join(shlex.quote(a) for a in sys.argv)
        write_results(summary, predictions, dataset, Path(args.output_dir or args.model_name_or_path), command)
    accelerator.wait_for_everyone()
    return summary


def check_labels_against_model(source: Any, config: Any, class_names: str | None) -> None:
    """Before any inference: every test label must be one of the model's classes, and `--class_names` (when given)
    must name them as the model's `id2label` does."""
    num_labels = int(config.num_labels)
    outside = [record for record in source.records if not 0 <= int(record.label) < num_labels]
    if outside:
        raise ValueError(
            f"{len(outside)} test videos have labels outside the model's {num_labels} classes (0..{num_labels - 1}), "
            f"first: {[(r.path, r.label) for r in outside[:3]]}. Evaluate with the list of the classes it was "
            "finetuned on."
        )
    if class_names is not None and source.id2label is not None:
        model_names = {int(i): str(name) for i, name in config.id2label.items()}
        differ = {i: (model_names.get(i), name) for i, name in source.id2label.items() if model_names.get(i) != name}
        if differ or len(source.id2label) != len(model_names):
            raise ValueError(
                f"--class_names {class_names} disagrees with the model's id2label; {{id: (model, file)}}: "
                f"{dict(list(differ.items())[:5])} ({len(source.id2label)} names in the file, {len(model_names)} in "
                "the model). Pass the class list the model was finetuned with, or leave --class_names out."
            )


def write_results(
    summary: dict[str, Any],
    predictions: MultiViewPredictions,
    dataset: MultiViewDataset,
    output_dir: Path,
    command: str,
) -> None:
    """`eval_results.json` (validated against the hub schema), `eval_details.json` and `confusion_matrix.png`."""
    output_dir.mkdir(parents=True, exist_ok=True)
    Result(
        dataset=summary["dataset"], top1=round(summary["top1"], 2), top5=round(summary["top5"], 2),
        num_videos=summary["num_videos"], views=summary["views"], clip=summary["clip"], split=summary["split"],
        reference=command,
    ).write(output_dir)
    names = summary["class_names"]
    videos = [
        {"path": dataset.records[i].path, "label": names[label], "prediction": names[int(probs.argmax())],
         "top5": [names[j] for j in np.argsort(-probs, kind="stable")[:5]], "confidence": round(float(probs.max()), 4)}
        for i, label, probs in zip(
            predictions.indices.tolist(), predictions.labels.tolist(), predictions.probabilities, strict=True
        )
    ]
    details = {**summary, "command": command, "videos": videos}
    (output_dir / "eval_details.json").write_text(json.dumps(details, indent=2) + "\n")
    plot_confusion_matrix(
        summary["confusion_matrix"], names, output_dir / "confusion_matrix.png",
        title=f"{summary['dataset']} {summary['split']}: top-1 {summary['top1']:.1f}% ({summary['views']} views)",
    )


__all__ = [
    "EvaluateArguments",
    "MultiViewDataset",
    "MultiViewPredictions",
    "average_view_probabilities",
    "collate_views",
    "parse_evaluate_args",
    "predict_views",
    "run_evaluation",
    "summarize",
    "write_results",
]

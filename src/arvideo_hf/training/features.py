# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Frozen encoder features for a list of videos, saved to safetensors (for probes, retrieval, analysis).

    >>> from arvideo_hf.training.features import extract_features, save_features
    >>> features = extract_features(encoder, dataset, pooling="mean", layers=[-1, 2])   # (N, 2, D)
    >>> save_features("train.safetensors", features, {"model": "outputs/pretrain-demo/encoder"})

`pooling="mean"` averages the tokens of each clip (`(N, D)`), `"tokens"` keeps them (`(N, tokens, D)`, for the
attentive probe); `layers` picks hidden states (0 = embeddings, `i` = after layer `i`, negative from the end) and
stacks them on a new axis 1. One center clip per video (`VideoClipDataset.for_evaluation`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..data import VideoClipDataset, open_demo_dataset, read_kinetics_list
from ..interop.loading import load_encoder
from .arguments import FeatureArguments, parse_feature_args


POOLINGS = ("mean", "tokens")
METADATA_KEY = "arvideo_features"


def _encoder(model: torch.nn.Module) -> torch.nn.Module:
    """The bare encoder of a classifier or pretraining model (`base_model`), or the model itself."""
    return getattr(model, "base_model", model)


def _collate(samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    batch = {"pixel_values": torch.stack([s["pixel_values"] for s in samples])}
    batch["index"] = torch.tensor([int(s["index"]) for s in samples])
    if all("labels" in s for s in samples):
        batch["labels"] = torch.stack([torch.as_tensor(s["labels"]) for s in samples])
    return batch


@torch.no_grad()
def extract_features(
    model: torch.nn.Module,
    dataset: Dataset,
    *,
    pooling: str = "mean",
    layers: Sequence[int] | None = None,
    batch_size: int = 8,
    num_workers: int = 0,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    progress: bool = True,
) -> dict[str, torch.Tensor]:
    """`{"features", "index", "labels" (when the dataset is labeled)}` for every item of `dataset`, in order.

    `features` is `(N, D)` / `(N, tokens, D)` for the last layer, with a layer axis after N when `layers` is given.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    encoder = _encoder(model).eval()
    device = torch.device(device) if device is not None else next(encoder.parameters()).device
    encoder.to(device)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=_collate)
    features, indices, labels = [], [], []
    for batch in tqdm(loader, desc=f"features ({pooling})", disable=not progress):
        outputs = encoder(pixel_values=batch["pixel_values"].to(device), output_hidden_states=layers is not None)
        if layers is None:
            states = outputs.last_hidden_state
        else:
            states = torch.stack([outputs.hidden_states[layer] for layer in layers], dim=1)
        if pooling == "mean":
            states = states.mean(dim=-2)
        features.append(states.to(dtype).cpu())
        indices.append(batch["index"])
        if "labels" in batch:
            labels.append(batch["labels"])
    result = {"features": torch.cat(features).contiguous(), "index": torch.cat(indices)}
    if labels and len(labels) == len(indices):
        result["labels"] = torch.cat(labels)
    return result


def save_features(
    path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None
) -> Path:
    """Write tensors to safetensors with JSON `metadata` (model, pooling, layers, video paths, id2label...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    contiguous = {k: v.contiguous() for k, v in tensors.items()}
    save_file(contiguous, str(path), metadata={METADATA_KEY: json.dumps(metadata or {})})
    return path


def load_features(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata written by `save_features`."""
    with safe_open(str(path), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        metadata = json.loads((handle.metadata() or {}).get(METADATA_KEY, "{}"))
    return tensors, metadata


# ------------------------------------------------------------------------------------------------------- the script
def build_feature_dataset(
    config: Any,
    video_list: str | None,
    *,
    data_root: str | None = None,
    demo_root: str | None = None,
    demo_split: str = "train",
    sampling: str = "dense",
    sampling_rate: int | None = None,
    allow_outside_root: bool = False,
) -> Any:
    """Center clips of a list (labels optional) or of a demo split, for `config`'s clip size."""
    if video_list is None:
        root = open_demo_dataset(demo_root)
        source = read_kinetics_list(root / f"{demo_split}.txt", root=root, label_names=root / "labels.txt")
        stride = sampling_rate or 2
    else:
        source = read_kinetics_list(video_list, root=data_root, allow_outside_root=allow_outside_root)
        stride = sampling_rate or 4
    return VideoClipDataset.for_evaluation(source, config, sampling=sampling, stride=stride)


def run_feature_extraction(args: FeatureArguments) -> Path:
    """Extract features for `args` and write them (with the video paths and labels) to `args.output`."""
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    encoder = load_encoder(args.model_name_or_path)
    dataset = build_feature_dataset(
        encoder.config, args.video_list, data_root=args.data_root, demo_root=args.demo_root,
        demo_split=args.demo_split, sampling=args.sampling, sampling_rate=args.sampling_rate,
        allow_outside_root=args.allow_outside_root,
    )
    tensors = extract_features(
        encoder, dataset, pooling=args.pooling, layers=args.layers, batch_size=args.batch_size,
        num_workers=args.num_workers, device=device,
    )
    metadata = {
        "model": args.model_name_or_path, "pooling": args.pooling, "layers": args.layers,
        "paths": [record.path for record in dataset.records], "id2label": dataset.id2label,
    }
    return save_features(args.output, tensors, metadata)


__all__ = [
    "FeatureArguments",
    "POOLINGS",
    "build_feature_dataset",
    "extract_features",
    "load_features",
    "parse_feature_args",
    "run_feature_extraction",
    "save_features",
]

# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Frozen-encoder probes: a linear probe and an attentive probe, trained on extracted features.

- `LinearProbe`: features standardized with fixed statistics of the training features (no BatchNorm, so the
  probe is a plain affine map of the features at train and test time alike), then one linear layer. Token features
  are mean-pooled first.
- `AttentiveProbe` (V-JEPA, AIM): one cross-attention block in which a learned query attends over the frozen
  tokens (`q = q + attn(q, LN(x)); q = q + MLP(LN(q))`), then LayerNorm and a linear head.

`train_probe` runs AdamW with a cosine schedule over in-memory features; `evaluate_probe` reports top-1/top-5.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from tqdm.auto import tqdm

from ..integrity import check_finite_module
from ..interop.loading import load_encoder
from .arguments import ProbeArguments, parse_probe_args
from .features import build_feature_dataset, extract_features, load_features, save_features
from .metrics import topk_accuracy


class LinearProbe(nn.Module):
    """`logits = W (x - mean) / std + b` on `(B, D)` features (or `(B, N, D)` tokens, mean-pooled)."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.linear = nn.Linear(dim, num_classes)
        nn.init.zeros_(self.linear.bias)
        nn.init.trunc_normal_(self.linear.weight, std=0.01)

    @torch.no_grad()
    def fit_normalization(self, features: torch.Tensor) -> LinearProbe:
        """Fix the standardization to the training features' per-dimension mean and std."""
        pooled = features.mean(dim=1) if features.dim() == 3 else features
        self.mean.copy_(pooled.float().mean(0))
        self.std.copy_(pooled.float().std(0).clamp_min(1e-6))
        return self

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() == 3:
            features = features.mean(dim=1)
        return self.linear((features - self.mean) / self.std)


class AttentiveProbe(nn.Module):
    """A learned query cross-attends over `(B, N, D)` frozen tokens; the pooled query is classified."""

    def __init__(self, dim: int, num_classes: int, num_heads: int = 8, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}.")
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        self.norm_tokens = nn.LayerNorm(dim, eps=1e-6)
        self.attention = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm_mlp = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.norm_out = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.query, std=0.02)
        nn.init.zeros_(self.head.bias)
        nn.init.trunc_normal_(self.head.weight, std=0.01)

    def pool(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pooled `(B, D)` representation and the attention weights `(B, N)` of the query over the tokens."""
        if tokens.dim() == 2:
            tokens = tokens.unsqueeze(1)
        keys = self.norm_tokens(tokens)
        query = self.query.expand(tokens.shape[0], -1, -1)
        attended, weights = self.attention(query, keys, keys, need_weights=True)
        query = query + attended
        query = query + self.mlp(self.norm_mlp(query))
        return query[:, 0], weights[:, 0]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm_out(self.pool(tokens)[0]))


def build_probe(kind: str, dim: int, num_classes: int, **kwargs: Any) -> nn.Module:
    """`"linear"` or `"attentive"`."""
    if kind == "linear":
        return LinearProbe(dim, num_classes)
    if kind == "attentive":
        return AttentiveProbe(dim, num_classes, **kwargs)
    raise ValueError(f"probe must be 'linear' or 'attentive', got {kind!r}")


def train_probe(
    probe: nn.Module,
    features: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int = 50,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    warmup_epochs: float = 0.0,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> list[float]:
    """Cross-entropy with AdamW and a per-step warmup + cosine schedule; returns the mean loss of every epoch.

    A `LinearProbe` first fixes its standardization to `features`. The features stay frozen (they are inputs).
    """
    if isinstance(probe, LinearProbe):
        probe.fit_normalization(features)
    generator = torch.Generator().manual_seed(seed)
    probe.to(device).train()
    decay = [p for n, p in probe.named_parameters() if p.ndim > 1 and n != "query"]
    no_decay = [p for n, p in probe.named_parameters() if p.ndim <= 1 or n == "query"]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr
    )
    steps_per_epoch = math.ceil(len(labels) / batch_size)
    total, warmup = epochs * steps_per_epoch, int(warmup_epochs * steps_per_epoch)
    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    history = []
    for _ in tqdm(range(epochs), desc=f"{type(probe).__name__}", disable=not progress):
        order = torch.randperm(len(labels), generator=generator)
        running = 0.0
        for start in range(0, len(labels), batch_size):
            index = order[start : start + batch_size]
            logits = probe(features[index].to(device).float())
            loss = F.cross_entropy(logits, labels[index].to(device).long())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            running += loss.item() * len(index)
        history.append(running / len(labels))
    probe.eval()
    return history


@torch.no_grad()
def predict_probe(probe: nn.Module, features: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Logits `(N, K)` of a trained probe."""
    device = next(probe.parameters()).device
    probe.eval()
    chunks = (features[i : i + batch_size] for i in range(0, len(features), batch_size))
    return torch.cat([probe(chunk.to(device).float()).cpu() for chunk in chunks])


def evaluate_probe(probe: nn.Module, features: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Top-1/top-5 accuracy (percent) of a probe."""
    return topk_accuracy(predict_probe(probe, features).numpy(), labels.numpy(), (1, 5))


# ------------------------------------------------------------------------------------------------------- the script
def _features_for(args: ProbeArguments, split: str, encoder: Any, device: str) -> dict[str, torch.Tensor]:
    dataset = build_feature_dataset(
        encoder.config, getattr(args, f"{split}_list"), data_root=args.data_root, demo_root=args.demo_root,
        demo_split=split, sampling_rate=args.sampling_rate, allow_outside_root=args.allow_outside_root,
    )
    pooling = "tokens" if args.probe == "attentive" else "mean"
    tensors = extract_features(encoder, dataset, pooling=pooling, layers=[args.layer], device=device)
    tensors["features"] = tensors["features"][:, 0]
    save_features(Path(args.output_dir) / f"{split}_features.safetensors", tensors,
                  {"model": args.model_name_or_path, "pooling": pooling, "layers": [args.layer],
                   "paths": [r.path for r in dataset.records], "id2label": dataset.id2label})
    return tensors


def run_probe(args: ProbeArguments) -> dict[str, Any]:
    """Extract (or load) features, train the probe on the train split, report top-1/top-5 on the test split."""
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.train_features and args.test_features:
        train, _ = load_features(args.train_features)
        test, _ = load_features(args.test_features)
    elif args.model_name_or_path:
        encoder = load_encoder(args.model_name_or_path)
        train, test = (_features_for(args, split, encoder, device) for split in ("train", "test"))
    else:
        raise ValueError("pass --train_features and --test_features, or --model_name_or_path to extract them.")
    if args.probe == "attentive" and train["features"].dim() != 3:
        raise ValueError("the attentive probe needs token features (extract them with --pooling tokens).")
    num_classes = int(max(train["labels"].max(), test["labels"].max())) + 1
    torch.manual_seed(args.seed)
    kwargs = {"num_heads": args.num_heads} if args.probe == "attentive" else {}
    probe = build_probe(args.probe, train["features"].shape[-1], num_classes, **kwargs)
    history = train_probe(probe, train["features"], train["labels"], epochs=args.epochs, batch_size=args.batch_size,
                          lr=args.lr, weight_decay=args.weight_decay, seed=args.seed, device=device)
    results = {"probe": args.probe, "layer": args.layer, **evaluate_probe(probe, test["features"], test["labels"]),
               "train": evaluate_probe(probe, train["features"], train["labels"]), "final_loss": history[-1],
               "num_train": len(train["labels"]), "num_test": len(test["labels"]), "model": args.model_name_or_path}
    check_finite_module(probe, f"The {args.probe} probe diverged; nothing written",
                        "Lower --lr or check the features for NaN/inf.")
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{args.probe}_probe_results.json").write_text(json.dumps(results, indent=2) + "\n")
    weights = {k: v.contiguous() for k, v in probe.state_dict().items()}
    save_file(weights, str(output_dir / f"{args.probe}_probe.safetensors"))
    return results


__all__ = [
    "AttentiveProbe",
    "LinearProbe",
    "ProbeArguments",
    "build_probe",
    "evaluate_probe",
    "parse_probe_args",
    "predict_probe",
    "run_probe",
    "train_probe",
]

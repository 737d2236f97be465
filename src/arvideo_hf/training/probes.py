# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Frozen-encoder probes: a linear probe and an attentive probe, trained on extracted features.

Both probes first standardize every feature dimension with fixed statistics of the training features (MAE's
BatchNorm without affine before its linear probe, frozen so that train and test see the same map). Self-supervised
residual streams carry a large offset shared by every token of every clip: after 400 pretraining steps on the hard
set it is 97% of each LayerNorm'd last-layer token of the tiny encoder (random init: 20%), so that a probe reading
raw tokens cannot even fit its training set (reproduce/hard_set/RESULTS.md, section 4).

- `LinearProbe`: standardized features, then one linear layer. Token features are mean-pooled first.
- `AttentiveProbe` (V-JEPA, AIM): one cross-attention block in which a learned query attends over the standardized
  frozen tokens (`q = q + attn(q, LN(x)); q = q + MLP(LN(q))`), then LayerNorm and a linear head.

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
from ..viz import plot_layer_probes
from .arguments import ProbeArguments
from .features import build_feature_dataset, extract_features, load_features, save_features
from .metrics import topk_accuracy


class StandardizedProbe(nn.Module):
    """Holds per-dimension `mean`/`std` buffers, fixed once from the training features by `fit_normalization`."""

    pool_tokens: bool = False  # standardize what the probe reads: mean-pooled tokens (linear) or every token

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def pooled(self, features: torch.Tensor) -> torch.Tensor:
        """`(B, N, D)` tokens mean-pooled if the probe pools; anything else as given."""
        return features.mean(dim=1) if self.pool_tokens and features.dim() == 3 else features

    def probe_input(self, features: torch.Tensor) -> torch.Tensor:
        """`features` as the probe reads them: mean-pooled if it pools, then standardized."""
        return (self.pooled(features) - self.mean) / self.std

    @torch.no_grad()
    def fit_normalization(self, features: torch.Tensor) -> StandardizedProbe:
        """Fix the standardization to the training features' per-dimension mean and std."""
        features = self.pooled(features)
        flat = features.float().reshape(-1, features.shape[-1])
        self.mean.copy_(flat.mean(0))
        self.std.copy_(flat.std(0).clamp_min(1e-6))
        return self


class LinearProbe(StandardizedProbe):
    """`logits = W (x - mean) / std + b` on `(B, D)` features (or `(B, N, D)` tokens, mean-pooled)."""

    pool_tokens = True

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__(dim)
        self.linear = nn.Linear(dim, num_classes)
        nn.init.zeros_(self.linear.bias)
        nn.init.trunc_normal_(self.linear.weight, std=0.01)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(self.probe_input(features))


class AttentiveProbe(StandardizedProbe):
    """A learned query cross-attends over `(B, N, D)` standardized frozen tokens; the pooled query is classified."""

    def __init__(self, dim: int, num_classes: int, num_heads: int = 8, mlp_ratio: float = 4.0) -> None:
        super().__init__(dim)
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
        keys = self.norm_tokens(self.probe_input(tokens))
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

    A `StandardizedProbe` first fixes its standardization to `features`. The features stay frozen (inputs).
    """
    if isinstance(probe, StandardizedProbe):
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
def parse_layers(spec: str | int, num_hidden_layers: int) -> list[int]:
    """Hidden-state indices from `--layer`: `all` (0 = embeddings ... `num_hidden_layers`), an int, or a comma list;
    negative indices count from the end and come back as their positive index."""
    text = str(spec).strip().lower()
    if text == "all":
        return list(range(num_hidden_layers + 1))
    try:
        layers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--layer takes 'all', an int or a comma list of ints, got {spec!r}.") from None
    resolved = [layer + num_hidden_layers + 1 if layer < 0 else layer for layer in layers]
    if not layers or any(not 0 <= layer <= num_hidden_layers for layer in resolved):
        raise ValueError(f"--layer {spec!r}: this encoder has hidden states 0..{num_hidden_layers} (0 = embeddings).")
    return resolved


def _features_for(args: ProbeArguments, split: str, encoder: Any, device: str, layers: list[int]
                  ) -> dict[str, torch.Tensor]:
    """Extract and save one split's features; `features` has a layer axis after N when several layers are asked."""
    dataset = build_feature_dataset(
        encoder.config, getattr(args, f"{split}_list"), data_root=args.data_root, demo_root=args.demo_root,
        demo_split=split, sampling_rate=args.sampling_rate, allow_outside_root=args.allow_outside_root,
    )
    pooling = "tokens" if args.probe == "attentive" else "mean"
    tensors = extract_features(encoder, dataset, pooling=pooling, layers=layers, device=device)
    if len(layers) == 1:
        tensors["features"] = tensors["features"][:, 0]
    save_features(Path(args.output_dir) / f"{split}_features.safetensors", tensors,
                  {"model": args.model_name_or_path, "pooling": pooling, "layers": layers,
                   "paths": [r.path for r in dataset.records], "id2label": dataset.id2label})
    return tensors


def _layers_of_files(args: ProbeArguments, metadata: dict[str, Any]) -> tuple[list[int], list[int] | None]:
    """The layers to probe in a features file and their positions on its layer axis (None: the file has no layer
    axis, one layer)."""
    stored = metadata.get("layers") or []
    if len(stored) <= 1:
        if str(args.layer).strip() not in ("-1", *map(str, stored)):
            raise ValueError(f"--layer {args.layer!r}: these features hold one layer ({stored or 'the last'}); "
                             "extract several with examples/extract_features.py --layers, or pass "
                             "--model_name_or_path to extract them here.")
        return list(stored) or [-1], None
    if str(args.layer).strip().lower() == "all":
        return list(stored), list(range(len(stored)))
    wanted = [int(part) for part in str(args.layer).split(",")]
    missing = [layer for layer in wanted if layer not in stored]
    if missing:
        raise ValueError(f"--layer {args.layer!r}: layers {missing} are not in the features file (it holds {stored}).")
    return wanted, [stored.index(layer) for layer in wanted]


def _inputs(args: ProbeArguments, device: str) -> tuple[dict, dict, list[int], list[int] | None]:
    """Train and test tensors, the layers to probe and their positions on the features' layer axis (or None)."""
    if args.train_features and args.test_features:
        train, metadata = load_features(args.train_features)
        test, _ = load_features(args.test_features)
        layers, positions = _layers_of_files(args, metadata)
    elif args.model_name_or_path:
        encoder = load_encoder(args.model_name_or_path)
        layers = parse_layers(args.layer, encoder.config.num_hidden_layers)
        train, test = (_features_for(args, split, encoder, device, layers) for split in ("train", "test"))
        positions = list(range(len(layers))) if len(layers) > 1 else None
    else:
        raise ValueError("pass --train_features and --test_features, or --model_name_or_path to extract them.")
    return train, test, layers, positions


def _fit(args: ProbeArguments, train: torch.Tensor, labels: torch.Tensor, num_classes: int, device: str
         ) -> tuple[nn.Module, list[float]]:
    """One probe of `args.probe` trained on `(train, labels)`."""
    if args.probe == "attentive" and train.dim() != 3:
        raise ValueError("the attentive probe needs token features (extract them with --pooling tokens).")
    torch.manual_seed(args.seed)
    kwargs = {"num_heads": args.num_heads} if args.probe == "attentive" else {}
    probe = build_probe(args.probe, train.shape[-1], num_classes, **kwargs)
    history = train_probe(probe, train, labels, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          weight_decay=args.weight_decay, seed=args.seed, device=device)
    return probe, history


def run_probe(args: ProbeArguments) -> dict[str, Any]:
    """Extract (or load) features, train the probe on the train split, report top-1/top-5 on the test split; with
    several layers, one probe per layer (`per_layer`, the top level reporting the last one) and a plot."""
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    train, test, layers, positions = _inputs(args, device)
    num_classes = int(max(train["labels"].max(), test["labels"].max())) + 1
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    per_layer = []
    for index, layer in enumerate(layers):
        train_x = train["features"] if positions is None else train["features"][:, positions[index]]
        test_x = test["features"] if positions is None else test["features"][:, positions[index]]
        probe, history = _fit(args, train_x, train["labels"], num_classes, device)
        check_finite_module(probe, f"The {args.probe} probe (layer {layer}) diverged; nothing written",
                            "Lower --lr or check the features for NaN/inf.")
        per_layer.append({"layer": layer, **evaluate_probe(probe, test_x, test["labels"]),
                          "train": evaluate_probe(probe, train_x, train["labels"]), "final_loss": history[-1]})
        suffix = "" if positions is None else f"_layer{layer}"
        weights = {k: v.contiguous() for k, v in probe.state_dict().items()}
        save_file(weights, str(output_dir / f"{args.probe}_probe{suffix}.safetensors"))
    results = {"probe": args.probe, **per_layer[-1], "num_train": len(train["labels"]),
               "num_test": len(test["labels"]), "model": args.model_name_or_path}
    if positions is not None:
        results["per_layer"] = per_layer
        _plot_layers(args, per_layer, num_classes, output_dir / f"{args.probe}_per_layer.png")
    (output_dir / f"{args.probe}_probe_results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def _plot_layers(args: ProbeArguments, per_layer: list[dict[str, Any]], num_classes: int, path: Path) -> Path:
    name = args.model_name_or_path or Path(args.train_features).parent.name
    scores = {args.probe: [row["top1"] for row in per_layer], f"{args.probe}_train": [row["train"]["top1"]
                                                                                       for row in per_layer]}
    return plot_layer_probes({name: scores}, path, chance=100.0 / num_classes, title=f"{args.probe} probe per layer",
                             layers=[row["layer"] for row in per_layer])


__all__ = [
    "AttentiveProbe",
    "LinearProbe",
    "build_probe",
    "evaluate_probe",
    "parse_layers",
    "predict_probe",
    "run_probe",
    "train_probe",
]

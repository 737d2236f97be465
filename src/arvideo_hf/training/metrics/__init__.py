# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Classification metrics: top-k through our own `evaluate` metric (loaded by path, no network), with the same
numbers computed locally whenever `evaluate` cannot load it, plus per-class accuracy and the confusion matrix."""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


logger = logging.getLogger(__name__)

METRIC_PATH = str(Path(__file__).with_name("video_accuracy.py"))


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, top_k: Sequence[int] = (1, 5)) -> dict[str, float]:
    """`{"top1": ..., "top5": ...}` in percent; k is capped at the number of classes, ties go to the lower id."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    order = np.argsort(-scores, axis=1, kind="stable")
    results = {}
    for k in top_k:
        hits = (order[:, : min(int(k), scores.shape[1])] == labels[:, None]).any(axis=1)
        results[f"top{k}"] = float(hits.mean() * 100.0) if len(labels) else 0.0
    return results


def import_evaluate() -> Any:
    """The `evaluate` package, even when the running script's folder holds an `evaluate.py` (`python
    examples/evaluate.py` puts `examples/` first on `sys.path`, where that script would stand in for the package)."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    shadow_dir = os.path.dirname(os.path.abspath(main_file)) if main_file else None
    if shadow_dir is None or not os.path.isfile(os.path.join(shadow_dir, "evaluate.py")):
        import evaluate  # noqa: PLC0415 - slow and optional: only when a metric is needed

        return evaluate
    loaded = sys.modules.get("evaluate")
    if loaded is not None and os.path.dirname(os.path.abspath(getattr(loaded, "__file__", "") or "")) == shadow_dir:
        del sys.modules["evaluate"]  # the script, imported under the package's name
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != shadow_dir]
    try:
        return importlib.import_module("evaluate")
    finally:
        sys.path[:] = saved


@functools.lru_cache(maxsize=1)
def load_accuracy_metric() -> Any | None:
    """Our `evaluate` metric loaded by path (cached), or `None` when `evaluate` is missing or cannot load it."""
    try:  # evaluate (and the datasets stack it imports) is slow to load and may fail: only here, and guarded
        return import_evaluate().load(METRIC_PATH, keep_in_memory=True)
    except Exception as err:  # any failure here must not end a training run
        logger.warning("evaluate could not load %s (%s); computing accuracy locally.", METRIC_PATH, err)
        return None


def compute_topk(scores: np.ndarray, labels: np.ndarray, top_k: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Top-k accuracy through `evaluate` when it works, else `topk_accuracy` (the same numbers)."""
    metric = load_accuracy_metric()
    if metric is not None:
        try:
            return metric.compute(predictions=np.asarray(scores), references=np.asarray(labels), top_k=list(top_k))
        except Exception as err:
            logger.warning("evaluate failed to compute accuracy (%s); computing it locally.", err)
    return topk_accuracy(scores, labels, top_k)


def compute_metrics(eval_pred: Any) -> dict[str, float]:
    """`Trainer(compute_metrics=...)`: top-1 and top-5 (percent) from an `EvalPrediction`."""
    logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
    return compute_topk(np.asarray(logits), np.asarray(eval_pred.label_ids))


def confusion_matrix(predictions: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """`matrix[true, predicted]` counts."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), np.asarray(predictions, dtype=np.int64)), 1)
    return matrix


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Recall of each class in percent (NaN for a class without test videos)."""
    totals = matrix.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(matrix) / totals * 100.0, np.nan)


__all__ = [
    "METRIC_PATH",
    "compute_metrics",
    "compute_topk",
    "confusion_matrix",
    "import_evaluate",
    "load_accuracy_metric",
    "per_class_accuracy",
    "topk_accuracy",
]

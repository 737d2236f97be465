# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Top-k accuracy for video classification, as an `evaluate` metric loadable by path, offline.

    >>> import evaluate
    >>> from arvideo_hf.training.metrics import METRIC_PATH
    >>> metric = evaluate.load(METRIC_PATH)
    >>> metric.compute(predictions=[[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]], references=[1, 2], top_k=[1, 2])
    {'top1': 50.0, 'top2': 50.0}

`predictions` are per-class scores (logits or probabilities, one row per video); accuracies are percentages.
This file is self-contained (evaluate copies it into its module cache) and matches `arvideo_hf.training.metrics.
topk_accuracy`, which computes the same numbers without `evaluate`.
"""

import datasets
import evaluate
import numpy as np


_DESCRIPTION = "Top-k accuracy (percent): a video counts as correct when its label is among its k highest scores."
_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `float`): per-class scores, one row per sample.
    references (`list` of `int`): the true class ids.
    top_k (`list` of `int`, defaults to `[1, 5]`): the k values; each is capped at the number of classes.
Returns:
    `{"top1": float, "top5": float}` (one `top{k}` key per requested k), in percent.
"""


class VideoAccuracy(evaluate.Metric):
    """Top-1/top-5 accuracy from score matrices (ties broken towards the lower class id, like `argmax`)."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Sequence(datasets.Value("float32")), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, top_k=(1, 5)):
        scores, labels = np.asarray(predictions, dtype=np.float64), np.asarray(references, dtype=np.int64)
        # Stable descending order: equal scores rank by class id, exactly like torch.topk/argmax on CPU.
        order = np.argsort(-scores, axis=1, kind="stable")
        results = {}
        for k in top_k:
            k_eff = min(int(k), scores.shape[1])
            hits = (order[:, :k_eff] == labels[:, None]).any(axis=1)
            results[f"top{k}"] = float(hits.mean() * 100.0) if len(labels) else 0.0
        return results

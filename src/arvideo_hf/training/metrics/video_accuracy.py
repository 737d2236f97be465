# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Top-k accuracy for video classification, as an `evaluate` metric loadable by path, offline.

    >>> import evaluate
    >>> from arvideo_hf.training.metrics import METRIC_PATH
    >>> metric = evaluate.load(METRIC_PATH)
    >>> metric.compute(predictions=[[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]], references=[1, 2], top_k=[1, 2])
    {'top1': 50.0, 'top2': 50.0}

`predictions` are per-class scores (logits or probabilities, one row per video); accuracies are percentages.
evaluate copies this file into its module cache, so it imports the package absolutely: the numbers come from
`arvideo_hf.training.metrics.topk_accuracy`, the one implementation, which also serves when `evaluate` cannot load.
"""

import datasets
import evaluate

from arvideo_hf.training.metrics import topk_accuracy


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
        return topk_accuracy(predictions, references, top_k)

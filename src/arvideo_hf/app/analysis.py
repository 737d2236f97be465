"""What the app shows for one checkpoint and one video, without any UI: labels, next-cluster predictions, attention
ranks, and a plain statement of what the checkpoint cannot do. The figures are `arvideo_hf.viz`'s."""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, pipeline

from .. import viz
from ..data import probe_video
from ..interop.loading import finetuned_stride
from ..models.configuration_arvideo import ARVideoConfig, pair
from ..models.modeling_arvideo import ARVideoForPretraining, ARVideoModel


CLASSIFIER, PRETRAINING = "ARVideoForVideoClassification", "ARVideoForPretraining"
DEFAULT_FRAME_STRIDE = 2  # the tiny recipe's stride (the default demo checkpoint); a finetuned folder says its own


@dataclass
class Analysis:
    """One video seen by one checkpoint: the app's outputs, `None` where the checkpoint cannot produce them."""

    labels: dict[str, float] | None
    predictions: Path | None  # input / clip / prediction per tubelet, step numbers on every cluster
    order_animation: Path | None  # GIF: the clip filled in step by step in the prediction order
    order: str | None  # the prediction order used, as text
    attention_ranks: Path
    notes: list[str] = field(default_factory=list)


class CheckpointViewer:
    """Loads an ARVideo checkpoint (folder or Hub id) once and answers for any video: a classifier gives labels
    (through `pipeline("video-classification")`), a pretraining checkpoint gives next-cluster predictions, every
    checkpoint gives the attention rank per layer of its encoder."""

    def __init__(self, model: str | os.PathLike, frame_stride: int | None = None, seed: int = 0) -> None:
        self.model_name = str(model)
        self.display_name = Path(model).name if Path(model).is_dir() else self.model_name  # a folder, or a Hub id
        config = AutoConfig.from_pretrained(self.model_name)
        if not isinstance(config, ARVideoConfig):
            raise ValueError(
                f"{self.model_name} holds a {config.model_type!r} model, not ARVideo; convert VideoMAE weights with "
                "examples/convert_videomae.py first."
            )
        self.architecture = (config.architectures or ["ARVideoModel"])[0]
        self.frame_stride = frame_stride or finetuned_stride(self.model_name) or DEFAULT_FRAME_STRIDE
        self.seed = seed
        self.classifier = self.pretraining = None
        if self.architecture == CLASSIFIER:
            self.classifier = pipeline("video-classification", model=self.model_name, device="cpu")
            self.encoder = self.classifier.model.arvideo
        elif self.architecture == PRETRAINING:
            self.pretraining = ARVideoForPretraining.from_pretrained(self.model_name).eval()
            self.encoder = self.pretraining.arvideo
        else:
            self.encoder = ARVideoModel.from_pretrained(self.model_name).eval()
        self.config = self.encoder.config
        self._figures = tempfile.TemporaryDirectory(prefix="arvideo-app-")

    @property
    def cannot(self) -> list[str]:
        """What this checkpoint cannot show, and where to get it."""
        notes = []
        if self.classifier is None:
            notes.append(
                "No labels: this checkpoint has no classifier head (it is a pretrained "
                f"{'model' if self.pretraining else 'encoder'}). Finetune it with examples/finetune.py to get one."
            )
        if self.pretraining is None:
            notes.append(
                "No next-cluster predictions: this checkpoint has no pretraining decoder (finetuned classifiers and "
                "exported encoders drop it). Load a pretraining checkpoint (OUTPUT/pretrain_model) to see them."
            )
        return notes

    def describe(self) -> str:
        """One paragraph on the checkpoint: what it is, its clip geometry, what it shows."""
        (height, width), config = pair(self.config.image_size), self.config
        shows = ["top-5 labels"] * (self.classifier is not None) + ["next-cluster predictions and their order"] * (
            self.pretraining is not None) + ["attention rank per layer"]
        return (f"**{self.display_name}**: {self.architecture}, {config.num_hidden_layers} layers x "
                f"{config.hidden_size} wide, clips of {config.num_frames} frames at stride {self.frame_stride}, "
                f"{height}x{width} pixels. Shows: {', '.join(shows)}.")

    def labels(self, video: str | os.PathLike, top_k: int = 5) -> dict[str, float] | None:
        """`{label: score}` of the top `top_k` classes, exactly what the pipeline returns; None without a head."""
        if self.classifier is None:
            return None
        # The pipeline reads num_frames frames `frame_stride` apart from the start; a shorter video would reach the
        # model with fewer frames.
        frames, length = probe_video(video).num_frames, self.config.num_frames
        if frames < length * self.frame_stride:
            fix = (f"upload a longer video, or start the app with --frame-stride {frames // length}"
                   if frames >= length else f"upload a video of at least {length} frames")
            raise ValueError(f"the video has {frames} frames; the labels need {length} frames {self.frame_stride} "
                             f"apart ({length * self.frame_stride}): {fix}.")
        predictions = self.classifier(str(video), top_k=top_k, frame_sampling_rate=self.frame_stride)
        return {p["label"]: float(p["score"]) for p in predictions}

    def _path(self, suffix: str) -> Path:
        return Path(self._figures.name) / f"{uuid.uuid4().hex}{suffix}"

    def next_cluster_predictions(self, clip: torch.Tensor) -> tuple[Path, Path, str] | None:
        """Prediction grid, order animation and the order as text; None without a decoder."""
        if self.pretraining is None:
            return None
        result = viz.predict_next_clusters(self.pretraining, clip, seed=self.seed)
        grid = viz.plot_prediction_grid(result, self._path(".png"))
        animation = viz.animate_prediction_order(result, self._path(".gif"))
        blocks = result.geometry.blocks
        steps = [f"{step}: cluster {int(c)} (t{int(c) // (blocks[1] * blocks[2])}, "
                 f"h{int(c) // blocks[2] % blocks[1]}, w{int(c) % blocks[2]})" for step, c in
                 enumerate(result.cluster_order)]
        order = (f"{self.config.prediction_order.replace('_', '-')} order, seed {self.seed}; step 0 is context "
                 f"only, each later cluster is predicted from the steps before it.\n" + "; ".join(steps))
        return grid, animation, order

    def attention_rank_figure(self, clip: torch.Tensor) -> Path:
        """Attention rank per layer of this checkpoint's encoder on the clip (paper Figure 3)."""
        ranks = viz.attention_ranks(self.encoder, clip)
        return viz.plot_attention_ranks({self.display_name: ranks}, self._path(".png"),
                                        num_tokens=self.config.num_tokens)

    def analyze(self, video: str | os.PathLike) -> Analysis:
        """Everything the app shows for one video."""
        if not Path(video).is_file():
            raise FileNotFoundError(f"No video at {video}.")
        clip = viz.load_video_clip(video, self.config)  # num_frames spread over the whole video
        predictions = self.next_cluster_predictions(clip)
        grid, animation, order = predictions if predictions else (None, None, None)
        return Analysis(labels=self.labels(video), predictions=grid, order_animation=animation, order=order,
                        attention_ranks=self.attention_rank_figure(clip), notes=self.cannot)

    def close(self) -> None:
        self._figures.cleanup()

    def __enter__(self) -> CheckpointViewer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["Analysis", "CheckpointViewer", "DEFAULT_FRAME_STRIDE"]

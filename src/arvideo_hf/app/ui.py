"""The Gradio app: a video in; top-5 labels, next-cluster predictions in their order, attention ranks out."""

from __future__ import annotations

import os
from typing import Any

from ..data import VideoDecodeError
from .analysis import CheckpointViewer


try:
    import gradio as gr
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("The app needs Gradio: pip install 'arvideo_hf[app]'") from err


API_NAME = "analyze"  # the endpoint gradio_client calls: /analyze
TITLE = "ARVideo: what the model sees"


def analyze_outputs(viewer: CheckpointViewer, video: str | None) -> tuple[Any, ...]:
    """The app's outputs for one uploaded video, in the order of `build_app`'s output components."""
    if not video:
        raise gr.Error("Upload a video first (mp4, webm, avi or any file PyAV reads).")
    try:
        analysis = viewer.analyze(video)
    except (VideoDecodeError, FileNotFoundError, ValueError) as error:
        raise gr.Error(f"Could not analyze this video: {error}") from error
    return (analysis.labels, analysis.predictions and str(analysis.predictions),
            analysis.order_animation and str(analysis.order_animation), analysis.order,
            str(analysis.attention_ranks))


def build_app(model: str | os.PathLike, frame_stride: int | None = None, viewer: CheckpointViewer | None = None
              ) -> gr.Blocks:
    """The app for one checkpoint (folder or Hub id); components the checkpoint cannot fill are hidden and the
    reason is written at the top."""
    viewer = viewer or CheckpointViewer(model, frame_stride=frame_stride)
    has_labels, has_predictions = viewer.classifier is not None, viewer.pretraining is not None
    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(f"# {TITLE}\n{viewer.describe()}")
        if viewer.cannot:
            gr.Markdown("\n".join(f"- {note}" for note in viewer.cannot), elem_id="cannot")
        with gr.Row():
            with gr.Column(scale=1):
                video = gr.Video(label="Video", sources=["upload"], elem_id="video")
                button = gr.Button("Analyze", variant="primary", elem_id="analyze")
            with gr.Column(scale=1):
                labels = gr.Label(num_top_classes=5, label="Top-5 labels", visible=has_labels, elem_id="labels")
                # The figures carry their own titles, which a label badge would cover.
                ranks = gr.Image(label="Attention rank per layer", show_label=False, type="filepath", elem_id="ranks")
        predictions = gr.Image(label="Next-cluster predictions (input / clip / prediction; numbers = step)",
                               show_label=False, type="filepath", visible=has_predictions)
        with gr.Row(visible=has_predictions):
            animation = gr.Image(label="The prediction order filling in the clip", type="filepath")
            order = gr.Textbox(label="Prediction order used", lines=4)
        button.click(lambda path: analyze_outputs(viewer, path), inputs=video,
                     outputs=[labels, predictions, animation, order, ranks], api_name=API_NAME)
    return app


__all__ = ["API_NAME", "analyze_outputs", "build_app"]

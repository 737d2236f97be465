"""`python -m arvideo_hf.app [MODEL]`: a Gradio app that shows what an ARVideo checkpoint sees in a video (labels,
next-cluster predictions and their order, attention ranks), and the Space-ready folder that serves it on the Hub.
Needs the `app` extra (`pip install 'arvideo_hf[app]'`)."""

from .analysis import Analysis, CheckpointViewer
from .space import write_space
from .ui import API_NAME, build_app


__all__ = ["API_NAME", "Analysis", "CheckpointViewer", "build_app", "write_space"]

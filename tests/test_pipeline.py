"""`pipeline("video-classification")` on a finetuned folder: labels, scores, and the same numbers as our eval path."""

import numpy as np
import pytest
import torch
from transformers import AutoImageProcessor, pipeline

import arvideo_hf  # noqa: F401  (registers ARVideo with the Auto classes)
from arvideo_hf import ARVideoForVideoClassification
from arvideo_hf.data import EvalTransform, decode_frames

from .conftest import DEMO_LABELS, write_noise_video


@pytest.fixture(scope="module")
def video_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipeline") / "clip.mp4"
    return write_noise_video(path, frames=20, height=72, width=96)


def test_pipeline_returns_labels_and_scores_like_a_direct_forward(small_classifier_dir, video_path):
    classifier = pipeline("video-classification", model=str(small_classifier_dir), device="cpu")
    assert isinstance(classifier.model, ARVideoForVideoClassification)
    assert type(classifier.image_processor).__name__.startswith("VideoMAEImageProcessor")
    predictions = classifier(str(video_path), top_k=6)
    assert [p["label"] for p in predictions] and {p["label"] for p in predictions} == set(DEMO_LABELS)
    scores = [p["score"] for p in predictions]
    assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1.0, abs=1e-5)

    # The same frames (the first num_frames, stride 1), processor and model by hand give the same scores.
    model = ARVideoForVideoClassification.from_pretrained(small_classifier_dir).eval()
    frames = decode_frames(video_path, np.arange(model.config.num_frames), backend="pyav")
    inputs = AutoImageProcessor.from_pretrained(small_classifier_dir)(list(frames), return_tensors="pt")
    with torch.no_grad():
        probs = model(**inputs).logits.softmax(-1)[0]
    by_hand = {model.config.id2label[i]: float(p) for i, p in enumerate(probs)}
    for prediction in predictions:
        assert prediction["score"] == pytest.approx(by_hand[prediction["label"]], abs=1e-5)

    # Our evaluation transform (torch resize + center crop) preprocesses like the saved processor.
    ours = EvalTransform.from_config(model.config)(frames)
    assert torch.allclose(ours, inputs["pixel_values"][0], atol=0.1)
    assert (ours - inputs["pixel_values"][0]).abs().mean() < 0.02

    top2 = classifier(str(video_path), top_k=2, frame_sampling_rate=2)
    assert len(top2) == 2 and all(p["label"] in DEMO_LABELS for p in top2)

"""Multi-view testing: view merge math, view layout, metrics (evaluate and local), result files, 2-process gather."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from arvideo_hf.data import DenseSampler, EvalTransform, VideoRecord, decode_frames, probe_video
from arvideo_hf.results import Result
from arvideo_hf.training.evaluation import (
    EvaluateArguments,
    MultiViewDataset,
    _dedupe,
    average_view_probabilities,
    run_evaluation,
)
from arvideo_hf.training.metrics import (
    compute_topk,
    confusion_matrix,
    load_accuracy_metric,
    per_class_accuracy,
    topk_accuracy,
)
from arvideo_hf.training.pretrain import reset_accelerate_state

from .conftest import tiny_config, write_noise_video


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_views_are_softmaxed_then_averaged():
    logits = torch.tensor([[[4.0, 0.0, 0.0], [0.0, 3.0, 0.0]], [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]])
    merged = average_view_probabilities(logits)
    expected = (logits[:, 0].softmax(-1) + logits[:, 1].softmax(-1)) / 2
    assert torch.allclose(merged, expected)
    assert torch.allclose(merged.sum(-1), torch.ones(2))
    assert not torch.allclose(merged[0], logits[0].mean(0).softmax(-1), atol=1e-3)  # not softmax of mean logits
    assert torch.allclose(merged[1], logits[1, 0].softmax(-1))  # identical views change nothing
    with pytest.raises(ValueError, match="views"):
        average_view_probabilities(logits[0])


def test_topk_metrics_local_and_evaluate_agree():
    scores = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5], [0.4, 0.35, 0.25]])
    labels = np.array([1, 2, 0, 1])
    local = topk_accuracy(scores, labels, (1, 2, 5))
    assert local == {"top1": 25.0, "top2": 75.0, "top5": 100.0}  # k capped at the 3 classes
    assert load_accuracy_metric() is not None, "our evaluate metric must load offline, by path"
    assert compute_topk(scores, labels, (1, 2, 5)) == local
    matrix = confusion_matrix(scores.argmax(1), labels, 3)
    assert matrix.tolist() == [[0, 0, 1], [1, 1, 0], [1, 0, 0]]
    assert per_class_accuracy(matrix).tolist() == [0.0, 50.0, 0.0]


def test_dedupe_keeps_each_video_once_and_checks_coverage():
    probs = np.eye(3)[[0, 1, 2, 0]]
    result = _dedupe(probs, np.array([0, 1, 2, 0]), np.array([0, 1, 2, 0]), 3)
    assert result.indices.tolist() == [0, 1, 2] and len(result.probabilities) == 3
    with pytest.raises(RuntimeError, match="expected 4"):
        _dedupe(probs, np.zeros(4), np.array([0, 1, 2, 0]), 4)


@pytest.fixture(scope="module")
def wide_video(tmp_path_factory):
    """A 40-frame 48x80 video of noise (wide, so the three spatial crops differ)."""
    path = tmp_path_factory.mktemp("wide") / "wide.mp4"
    return write_noise_video(path, frames=40, height=48, width=80)


def test_multiview_dataset_lays_out_clips_then_crops(wide_video):
    config = tiny_config(image_size=32, patch_size=8, num_frames=4, cluster_size=[1, 1, 1])
    dataset = MultiViewDataset.from_config(
        [VideoRecord(str(wide_video), 1)], config, num_clips=3, num_crops=3, stride=2
    )
    item = dataset[0]
    assert dataset.views == "3x3" and item["pixel_values"].shape == (9, 4, 3, 32, 32) and int(item["labels"]) == 1
    sampler, transform = DenseSampler(4, 2, num_clips=3), EvalTransform(32, spatial_crops=3)
    num_frames = probe_video(wide_video).num_frames
    for clip in range(3):
        frames = decode_frames(wide_video, sampler(num_frames, None, clip_index=clip))
        for crop in range(3):
            expected = transform(frames, None, crop_index=crop)
            assert torch.allclose(item["pixel_values"][clip * 3 + crop], expected), (clip, crop)
    assert not torch.allclose(item["pixel_values"][0], item["pixel_values"][2])  # left and right crops differ
    assert not torch.allclose(item["pixel_values"][0], item["pixel_values"][6])  # first and last clips differ


def _odd_test_list(small_demo_root, tmp_path, count=5):
    lines = (small_demo_root / "test.txt").read_text().splitlines()[:count]
    path = tmp_path / "odd.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _eval_argv(model_dir, test_list, root, output_dir):
    return ["--model_name_or_path", str(model_dir), "--test_list", str(test_list), "--data_root", str(root),
            "--class_names", str(root / "labels.txt"), "--sampling_rate", "2", "--num_clips", "2", "--num_crops", "3",
            "--batch_size", "2", "--num_workers", "0", "--dataset", "arvideo-demo", "--output_dir", str(output_dir)]


def test_evaluation_writes_hub_results_details_and_confusion_matrix(tmp_path, small_demo_root, small_classifier_dir):
    from transformers import HfArgumentParser

    reset_accelerate_state()
    test_list = _odd_test_list(small_demo_root, tmp_path)
    (args,) = HfArgumentParser(EvaluateArguments).parse_args_into_dataclasses(
        _eval_argv(small_classifier_dir, test_list, small_demo_root, tmp_path / "single"))
    summary = run_evaluation(args, command="python examples/evaluate.py ...")
    results = Result.read(tmp_path / "single")  # validates the hub schema
    assert results.num_videos == 5 and results.views == "2x3" and results.dataset == "arvideo-demo"
    assert results.top1 == pytest.approx(round(summary["top1"], 2)) and results.top5 >= results.top1
    details = json.loads((tmp_path / "single" / "eval_details.json").read_text())
    assert len(details["videos"]) == 5 and sum(map(sum, details["confusion_matrix"])) == 5
    assert set(details["per_class_accuracy"]) == set(details["class_names"])
    assert (tmp_path / "single" / "confusion_matrix.png").stat().st_size > 1000


def test_two_process_evaluation_counts_every_video_once(tmp_path, small_demo_root, small_classifier_dir):
    """5 videos over 2 processes (batch 2): the padded duplicate must not be counted; results match 1 process."""
    from transformers import HfArgumentParser

    test_list = _odd_test_list(small_demo_root, tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
        str(EXAMPLES / "evaluate.py"), *_eval_argv(small_classifier_dir, test_list, small_demo_root, tmp_path / "ddp"),
    ]
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    distributed = json.loads((tmp_path / "ddp" / "eval_details.json").read_text())
    assert distributed["processes"] == 2 and distributed["num_videos"] == 5

    reset_accelerate_state()
    (args,) = HfArgumentParser(EvaluateArguments).parse_args_into_dataclasses(
        _eval_argv(small_classifier_dir, test_list, small_demo_root, tmp_path / "single"))
    run_evaluation(args, command="single")
    single = json.loads((tmp_path / "single" / "eval_details.json").read_text())
    assert [v["path"] for v in distributed["videos"]] == [v["path"] for v in single["videos"]]
    assert len({v["path"] for v in distributed["videos"]}) == 5
    for a, b in zip(distributed["videos"], single["videos"]):
        assert a["prediction"] == b["prediction"] and a["confidence"] == pytest.approx(b["confidence"], abs=1e-4)
    assert distributed["confusion_matrix"] == single["confusion_matrix"]


def test_evaluation_samples_with_the_stride_the_classifier_was_finetuned_with(tmp_path):
    from arvideo_hf.training.evaluation import EvaluateArguments, finetuned_stride

    assert finetuned_stride(EvaluateArguments(model_name_or_path=str(tmp_path))) is None
    (tmp_path / "finetune_args.json").write_text(json.dumps({"sampling_rate": 2}))
    assert finetuned_stride(EvaluateArguments(model_name_or_path=str(tmp_path))) == 2

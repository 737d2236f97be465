"""Issue 21, trust: no command loses a user's data, publishes a broken model or runs code from a checkpoint. Each test
plays the careful user or the adversary of one promise in the README's reliability section."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from arvideo_hf import ARVideoForVideoClassification
from arvideo_hf.hub import save_hub_folder
from arvideo_hf.integrity import NonFiniteError
from arvideo_hf.processing import image_processor_for
from arvideo_hf.training.evaluation import parse_evaluate_args, run_evaluation

from .conftest import DEMO_LABELS, SMALL_ENCODER, tiny_config


ROOT = Path(__file__).resolve().parents[1]


def run_script(tmp_path, script, *argv, timeout=300):
    """An example script in a subprocess (one thread, offline, its own HF_HOME); returns the CompletedProcess."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home")}
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), *map(str, argv)], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=tmp_path)


def nan_classifier(folder):
    """A classifier folder whose weights are all NaN except none (as a diverged finetune used to save it)."""
    id2label = dict(enumerate(DEMO_LABELS))
    config = tiny_config(**SMALL_ENCODER, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    model = ARVideoForVideoClassification(config)
    with torch.no_grad():
        model.classifier.weight.fill_(float("nan"))
    model.save_pretrained(folder)
    image_processor_for(config).save_pretrained(folder)
    return folder


# ---------------------------------------------------------------------------------------- 1. non-finite guard
def test_diverged_finetune_fails_and_saves_nothing(tmp_path, small_demo_root, small_encoder_dir):
    """A learning rate of 1e8 used to 'succeed' with loss 0 and an all-NaN classifier; now the run stops before the
    step that would spoil the weights, exits non-zero naming the tensors, and no model or checkpoint is written."""
    out = tmp_path / "ft"
    result = run_script(
        tmp_path, "finetune.py", "--preset", "tiny", "--model_name_or_path", small_encoder_dir,
        "--demo_root", small_demo_root, "--output_dir", out, "--learning_rate", "1e8", "--base_lr", "0",
        "--max_steps", "8", "--save_steps", "1", "--save_strategy", "steps", "--per_device_train_batch_size", "4",
        "--dataloader_num_workers", "0", "--cache_mb", "0", "--use_cpu", "True", "--report_to", "none",
    )
    assert result.returncode != 0, result.stderr[-2000:]
    assert "NonFiniteError" in result.stderr and "non-finite" in result.stderr, result.stderr[-2000:]
    for path in out.rglob("*.safetensors"):
        bad = [key for key, tensor in load_file(path).items() if not torch.isfinite(tensor).all()]
        assert not bad, f"{path} holds non-finite {bad[:3]}"
    assert not (out / "model.safetensors").exists()


def test_evaluate_refuses_a_nonfinite_model_naming_the_tensor(tmp_path, small_demo_root):
    folder = nan_classifier(tmp_path / "nan")
    args = parse_evaluate_args(["--model_name_or_path", str(folder), "--demo_root", str(small_demo_root),
                                "--num_workers", "0"])
    with pytest.raises(NonFiniteError, match="classifier.weight"):
        run_evaluation(args)
    assert not (folder / "eval_results.json").exists()


def test_publish_refuses_a_nonfinite_model_naming_the_tensor(tmp_path):
    folder = nan_classifier(tmp_path / "nan")
    result = run_script(tmp_path, "publish.py", folder, "--repo-id", "org/x", "--dry-run", tmp_path / "upload")
    assert result.returncode != 0
    assert "classifier.weight" in result.stderr and "non-finite" in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "upload" / "model.safetensors").exists()


# ---------------------------------------------------------------------------- 8. publish copies only its own files
@pytest.fixture
def sharded_checkpoint(tmp_path):
    """A classifier saved as two safetensors shards with their index."""
    id2label = dict(enumerate(DEMO_LABELS))
    config = tiny_config(**SMALL_ENCODER, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    folder = tmp_path / "ckpt"
    ARVideoForVideoClassification(config).save_pretrained(folder, max_shard_size="100KB")
    assert (folder / "model.safetensors.index.json").is_file()
    return folder


@pytest.mark.parametrize("attack", ["outside_path", "absolute_path", "symlink_out"])
def test_publish_never_copies_a_file_from_outside_the_checkpoint(sharded_checkpoint, tmp_path, attack):
    secret = tmp_path / "secret.safetensors"
    save_file({"private": torch.ones(2)}, secret)
    index_path = sharded_checkpoint / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    victim = sorted(set(index["weight_map"].values()))[0]
    if attack == "symlink_out":
        (sharded_checkpoint / victim).unlink()
        (sharded_checkpoint / victim).symlink_to(secret)
    else:
        name = "../secret.safetensors" if attack == "outside_path" else str(secret)
        index["weight_map"] = {key: (name if value == victim else value) for key, value in index["weight_map"].items()}
        index_path.write_text(json.dumps(index))
    with pytest.raises(ValueError, match="plain file names|not a regular file inside"):
        save_hub_folder(sharded_checkpoint, tmp_path / "upload", "org/x")
    assert not any(path.name == "secret.safetensors" for path in (tmp_path / "upload").rglob("*"))

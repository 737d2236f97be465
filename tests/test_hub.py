"""Publishing: the exact upload folder, offline loading from a Hub cache (with and without the package), the card's
model-index and the upload calls (VideoMAE conversion: test_videomae.py). No network: a hand-built cache and
HF_HUB_OFFLINE=1."""

import importlib.util
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard
from transformers import AutoImageProcessor, VideoMAEConfig, VideoMAEModel

import arvideo_hf
from arvideo_hf import ARVideoForPretraining, ARVideoForVideoClassification
from arvideo_hf.models.processing_arvideo import image_processor_for
from arvideo_hf.results import Result
from arvideo_hf.zoo import ZOO
from arvideo_hf.zoo.publish import (
    AUTO_MAP,
    install_in_hub_cache,
    push_checkpoint_to_hub,
    save_hub_folder,
)

from .conftest import BLOCK_PACKAGE, clip, tiny_config


ROOT = Path(__file__).resolve().parents[1]
REPO_ID = "org/arvideo-vitb-k400"  # a tiny model under the flagship's name: fast, and the card must not borrow ViT-B's
LABELS = {0: "walk", 1: "run", 2: "jump"}
EVAL = {"top1": 71.25, "top5": 93.5, "num_videos": 240, "views": "5x3", "dataset": "kinetics-400",
        "command": "python examples/evaluate.py ckpt --views 5x3"}
UPLOAD_FILES = {"config.json", "model.safetensors", "preprocessor_config.json", "configuration_arvideo.py",
                "modeling_arvideo.py", "clustering.py", "README.md", "eval_results.json"}


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_mp4(path: Path, frames: int = 12, height: int = 72, width: int = 96) -> None:
    """A short random-noise video, encoded with PyAV (mpeg4, yuv420p)."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A tiny finetuned checkpoint with training leftovers and eval_results.json, dry-run published by the CLI."""
    root = tmp_path_factory.mktemp("publish")
    torch.manual_seed(0)
    config = tiny_config(id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    model = ARVideoForVideoClassification(config).eval()
    checkpoint = root / "checkpoint"
    model.save_pretrained(checkpoint)
    (checkpoint / "eval_results.json").write_text(json.dumps(EVAL))
    (checkpoint / "training_args.bin").write_bytes(b"not for upload")
    (checkpoint / "optimizer.pt").write_bytes(b"not for upload")
    out = root / "upload"
    assert load_example("publish").main([str(checkpoint), "--repo-id", REPO_ID, "--dry-run", str(out)]) == 0
    return SimpleNamespace(root=root, model=model, checkpoint=checkpoint, out=out)


def test_dry_run_writes_exactly_the_upload(published):
    out = published.out
    assert {p.name for p in out.iterdir()} == UPLOAD_FILES  # no optimizer states, no pickled training arguments
    config = json.loads((out / "config.json").read_text())
    assert config["auto_map"] == AUTO_MAP and config["model_type"] == "arvideo"
    assert config["architectures"] == ["ARVideoForVideoClassification"]
    package = Path(arvideo_hf.__file__).parent / "models"
    for name in ("configuration_arvideo.py", "modeling_arvideo.py", "clustering.py"):
        assert (out / name).read_bytes() == (package / name).read_bytes()
    assert (out / "model.safetensors").read_bytes() == (published.checkpoint / "model.safetensors").read_bytes()
    processor = json.loads((out / "preprocessor_config.json").read_text())
    assert processor["image_processor_type"] == "VideoMAEImageProcessor"
    assert processor["crop_size"] == {"height": 64, "width": 64} and processor["size"] == {"shortest_edge": 64}
    assert processor["image_mean"] == pytest.approx([0.485, 0.456, 0.406])


def test_card_parses_back_with_measured_model_index(published):
    card = ModelCard.load(published.out / "README.md")
    assert card.data.pipeline_tag == "video-classification" and card.data.library_name == "transformers"
    results = {r.metric_type: r for r in card.data.eval_results}
    assert set(results) == {"accuracy", "top_5_accuracy"}
    for result in results.values():
        assert (result.task_type, result.dataset_type, result.dataset_name, result.dataset_split) == (
            "video-classification", "kinetics-400", "Kinetics-400", "validation")
    assert results["accuracy"].metric_value == 71.25 and results["top_5_accuracy"].metric_value == 93.5
    assert "5x3" in results["accuracy"].metric_name
    text = card.text
    assert "| 71.25 | 93.5 | 240 |" in text and EVAL["command"] in text and "top-1 71.25 with 5x3 views" in text
    # a small custom model named like the ViT-B entry gets a card about itself, without the paper's ViT-B numbers
    assert "80.1" not in text and "81.2" not in text and "custom encoder: width 128" in text
    assert 'pipeline("video-classification", model="org/arvideo-vitb-k400", trust_remote_code=True)' in text


def test_matching_zoo_entry_gets_its_card_and_mismatch_is_refused(tmp_path):
    config = ZOO["arvideo-tiny-demo"].config()
    ARVideoForVideoClassification(config).save_pretrained(tmp_path / "ckpt")
    save_hub_folder(tmp_path / "ckpt", tmp_path / "out", "someone/arvideo-tiny-demo")
    card = ModelCard.load(tmp_path / "out" / "README.md")
    assert "moving-digits demo" in card.text and card.data.eval_results is None  # nothing measured: no model-index
    with pytest.raises(ValueError, match="does not match zoo entry 'arvideo-vitb-k400'"):
        save_hub_folder(tmp_path / "ckpt", tmp_path / "out2", "someone/x", zoo_entry="arvideo-vitb-k400")


def test_folder_checks(published, tmp_path):
    with pytest.raises(FileExistsError):
        save_hub_folder(published.checkpoint, published.out, REPO_ID)  # never mixes with old files
    VideoMAEModel(VideoMAEConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                 image_size=32, patch_size=16)).save_pretrained(tmp_path / "videomae")
    with pytest.raises(ValueError, match="convert_videomae"):
        save_hub_folder(tmp_path / "videomae", tmp_path / "out", REPO_ID)


def test_bin_checkpoint_is_resaved_as_safetensors(tmp_path):
    config = tiny_config(architectures=["ARVideoForPretraining"])
    model = ARVideoForPretraining(config)
    (tmp_path / "ckpt").mkdir()
    config.save_pretrained(tmp_path / "ckpt")
    torch.save(model.state_dict(), tmp_path / "ckpt" / "pytorch_model.bin")
    out = save_hub_folder(tmp_path / "ckpt", tmp_path / "out", "org/pretrained")
    assert not list(out.glob("*.bin")) and (out / "model.safetensors").is_file()
    loaded = ARVideoForPretraining.from_pretrained(out)
    assert torch.equal(loaded.decoder.head.weight, model.decoder.head.weight)
    card = ModelCard.load(out / "README.md")
    assert card.data.pipeline_tag is None and "no classifier" in card.text


@pytest.mark.parametrize(
    "data, message",
    [
        ({"dataset": "k400"}, "missing required"),
        ({"top1": 0.8, "dataset": "k400", "top5": 0.5}, "cannot be below"),
        ({"top1": 180.0, "dataset": "k400"}, r"percentage in \[0, 100\]"),
        ({"top1": 80.0, "dataset": "k400", "views": "five"}, "CLIPSxCROPS"),
        ({"top1": 80.0, "dataset": "k400", "num_videos": -3}, "positive integer"),
        ({"top1": 80.0, "dataset": "k400", "accuracy": 80.0}, "unknown key"),
    ],
)
def test_eval_results_schema_is_validated(data, message):
    with pytest.raises(ValueError, match=message):
        Result.from_dict(data)


def test_result_read_from_a_checkpoint(published, tmp_path):
    assert Result.read(tmp_path) is None
    results = Result.read(published.checkpoint)
    assert (results.top1, results.top5, results.num_videos, results.views) == (71.25, 93.5, 240, "5x3")
    assert results.split == "validation" and results.source == "measured"


class FakeApi:
    """Records the calls `push_checkpoint_to_hub` makes, and the files present at upload time."""

    def __init__(self):
        self.calls = []

    def create_repo(self, **kwargs):
        self.calls.append(("create_repo", kwargs))

    def create_branch(self, **kwargs):
        self.calls.append(("create_branch", kwargs))

    def upload_folder(self, **kwargs):
        files = sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())
        self.calls.append(("upload_folder", {**kwargs, "files": files}))
        return SimpleNamespace(commit_url=f"https://huggingface.co/{kwargs['repo_id']}/commit/abc")


def test_push_uploads_the_dry_run_folder(published, caplog, capsys):
    api = FakeApi()
    with caplog.at_level(logging.DEBUG):
        url = push_checkpoint_to_hub(published.checkpoint, REPO_ID, private=True, revision="v1", token="hf_SECRET",
                                     api=api)
    assert url == f"https://huggingface.co/{REPO_ID}/commit/abc"
    names = [name for name, _ in api.calls]
    assert names == ["create_repo", "create_branch", "upload_folder"]
    assert api.calls[0][1] == dict(repo_id=REPO_ID, private=True, exist_ok=True, repo_type="model")
    assert api.calls[1][1]["branch"] == "v1" and api.calls[2][1]["revision"] == "v1"
    assert set(api.calls[2][1]["files"]) == UPLOAD_FILES
    assert "hf_SECRET" not in caplog.text + "".join(capsys.readouterr())


def test_image_processor_round_trip(tmp_path):
    config = tiny_config(image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25])
    image_processor_for(config).save_pretrained(tmp_path)
    processor = AutoImageProcessor.from_pretrained(tmp_path)
    frames = [np.full((80, 100, 3), 191, dtype=np.uint8)] * config.num_frames
    pixels = processor(frames, return_tensors="pt").pixel_values
    assert pixels.shape == (1, 8, 3, 64, 64)
    assert torch.allclose(pixels, torch.full_like(pixels, (191 / 255 - 0.5) / 0.25), atol=1e-5)


# ----------------------------------------------------------------------------------- offline Hub cache, fresh processes
_WITH_PACKAGE = """
import sys, torch
import arvideo_hf
from transformers import AutoModel, AutoModelForVideoClassification
kwargs = {}
"""
_WITHOUT_PACKAGE = BLOCK_PACKAGE + """
import torch
from transformers import AutoModel, AutoModelForVideoClassification, pipeline
kwargs = {"trust_remote_code": True}
"""
_LOAD_AND_RUN = """
repo, pixels_path, out_path = sys.argv[1:4]
pixels = torch.load(pixels_path)
encoder = AutoModel.from_pretrained(repo, **kwargs).eval()
classifier = AutoModelForVideoClassification.from_pretrained(repo, **kwargs).eval()
with torch.no_grad():
    result = {"hidden": encoder(pixels).last_hidden_state, "logits": classifier(pixels).logits}
longer = AutoModelForVideoClassification.from_pretrained(repo, num_frames=2 * classifier.config.num_frames, **kwargs)
with torch.no_grad():  # the same checkpoint on twice the frames: positions rebuilt by the shipped code
    result["logits_longer"] = longer.eval()(pixels.repeat_interleave(2, dim=1)).logits
result["classes"] = [type(encoder).__module__ + "." + type(encoder).__name__,
                     type(classifier).__module__ + "." + type(classifier).__name__]
if "pipeline" in globals():
    result["pipeline"] = pipeline("video-classification", model=repo, **kwargs)(sys.argv[4], top_k=3)
result["package_loaded"] = "arvideo_hf" in sys.modules
torch.save(result, out_path)
"""


@pytest.fixture(scope="module")
def offline_runs(published):
    """Install the dry-run folder in a fresh Hub cache, then load it in two fresh processes at once (2 cores):
    one with `arvideo_hf` imported, one where importing it fails (trust_remote_code)."""
    root = published.root
    install_in_hub_cache(published.out, REPO_ID, root / "hub")
    pixels = clip(published.model.config, batch=2, seed=1)
    torch.save(pixels, root / "pixels.pt")
    write_mp4(root / "video.mp4")
    runs = {}
    for name, script in (("package", _WITH_PACKAGE), ("remote_code", _WITHOUT_PACKAGE)):
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(root / "hub"),
               "HF_HOME": str(root / f"home-{name}"), "TRANSFORMERS_VERBOSITY": "error"}
        command = [sys.executable, "-c", textwrap.dedent(script + _LOAD_AND_RUN), REPO_ID, str(root / "pixels.pt"),
                   str(root / f"{name}.pt"), str(root / "video.mp4")]
        runs[name] = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True)
    outputs = {}
    for name, process in runs.items():
        log, _ = process.communicate(timeout=240)
        assert process.returncode == 0, f"{name} run failed:\n{log}"
        outputs[name] = torch.load(root / f"{name}.pt", weights_only=False)
    config = published.model.config.to_dict()
    config["num_frames"] *= 2
    longer = type(published.model)(type(published.model.config).from_dict(config)).eval()
    longer.load_state_dict(published.model.state_dict())
    with torch.no_grad():
        reference = {
            "hidden": published.model.arvideo(pixels).last_hidden_state,
            "logits": published.model(pixels).logits,
            "logits_longer": longer(pixels.repeat_interleave(2, dim=1)).logits,
        }
    return SimpleNamespace(outputs=outputs, reference=reference, root=root)


def test_hub_cache_layout(offline_runs):
    repo_dir = offline_runs.root / "hub" / "models--org--arvideo-vitb-k400"
    commit = (repo_dir / "refs" / "main").read_text()
    assert len(commit) == 40 and {p.name for p in (repo_dir / "snapshots" / commit).iterdir()} == UPLOAD_FILES


def test_auto_model_with_package_offline(offline_runs):
    out = offline_runs.outputs["package"]
    assert out["classes"] == ["arvideo_hf.models.modeling_arvideo.ARVideoModel",
                              "arvideo_hf.models.modeling_arvideo.ARVideoForVideoClassification"]
    assert torch.equal(out["hidden"], offline_runs.reference["hidden"])
    assert torch.equal(out["logits"], offline_runs.reference["logits"])
    assert (out["logits_longer"] - offline_runs.reference["logits_longer"]).abs().max() <= 1e-5


def test_trust_remote_code_without_package_offline(offline_runs):
    out = offline_runs.outputs["remote_code"]
    assert not out["package_loaded"]
    assert all(name.startswith("transformers_modules.") for name in out["classes"]), out["classes"]
    assert [name.rsplit(".", 1)[1] for name in out["classes"]] == ["ARVideoModel", "ARVideoForVideoClassification"]
    assert torch.equal(out["hidden"], offline_runs.reference["hidden"])
    assert torch.equal(out["logits"], offline_runs.reference["logits"])
    assert (out["logits_longer"] - offline_runs.reference["logits_longer"]).abs().max() <= 1e-5


def test_pipeline_without_package_offline(offline_runs, published):
    """PyAV decoding of the first num_frames frames, the VideoMAE PIL image processor, softmax over the logits."""
    with av.open(str(offline_runs.root / "video.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)][: published.model.config.num_frames]
    processor = AutoImageProcessor.from_pretrained(published.out)
    with torch.no_grad():
        probs = published.model(**processor(frames, return_tensors="pt")).logits[0].softmax(-1)
    scores, ids = probs.topk(3)
    got = offline_runs.outputs["remote_code"]["pipeline"]
    assert [r["label"] for r in got] == [LABELS[i] for i in ids.tolist()]
    assert [r["score"] for r in got] == pytest.approx(scores.tolist(), abs=1e-6)

"""The base install (no extras) is enough for inference: a fresh venv built from the package's wheel, without decord
or any extra, loads the committed demo checkpoint with the Auto classes and runs `pipeline("video-classification")`
on an mp4, giving the scores of the full development install."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import pipeline

import arvideo_hf  # noqa: F401  (registers ARVideo with the Auto classes)
from arvideo_hf.app.__main__ import DEMO_CHECKPOINT

from .conftest import write_noise_video


ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / DEMO_CHECKPOINT
WHEELS = Path(os.environ.get("WHEELS", "/opt/wheels"))  # the Makefile's local torch wheels, when present
# `make install` puts uv into the venv; it reuses the wheels that install cached, so the venv takes seconds.
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")

INFERENCE = r"""
import importlib.util, json, sys
from transformers import AutoImageProcessor, AutoModel, AutoModelForVideoClassification, pipeline
import arvideo_hf

checkpoint, video = sys.argv[1:3]
missing = [name for name in ("decord", "accelerate", "datasets", "matplotlib", "gradio")
           if importlib.util.find_spec(name) is not None]
encoder = AutoModel.from_pretrained(checkpoint)
processor = AutoImageProcessor.from_pretrained(checkpoint)
classifier = pipeline("video-classification", model=checkpoint, device="cpu")
print(json.dumps({
    "extras_present": missing,
    "encoder": type(encoder).__name__,
    "processor": type(processor).__name__,
    "classifier": type(classifier.model).__name__,
    "predictions": classifier(video, top_k=6, frame_sampling_rate=2),
}))
"""


def _run(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def build_wheel(out: Path) -> Path:
    """The package's wheel, built from a copy of its sources (a build writes `build/` next to them)."""
    source = out / "source"
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    _run(UV, "build", "--wheel", "--quiet", "--out-dir", str(out / "dist"), str(source))
    (wheel,) = (out / "dist").glob("arvideo_hf-*.whl")
    return wheel


@pytest.mark.skipif(UV is None, reason="uv is not installed (make install puts it into .venv)")
def test_base_install_from_the_wheel_runs_the_pipeline_without_decord(tmp_path):
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    _run(UV, "venv", "--quiet", str(venv), "--python", sys.executable)
    python = venv / "bin" / "python"
    find_links = ["--find-links", str(WHEELS)] if WHEELS.is_dir() else []
    torch_pin = f"torch=={torch.__version__.split('+')[0]}"  # the same torch (a CPU build), not whatever resolves
    _run(UV, "pip", "install", "--quiet", "--python", str(python), *find_links, torch_pin, str(wheel))

    video = write_noise_video(tmp_path / "clip.mp4", frames=40, height=48, width=64)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home")}
    env.pop("PYTHONPATH", None)
    result = subprocess.run([str(python), "-c", INFERENCE, str(CHECKPOINT), str(video)], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["extras_present"] == [], "the venv should hold the base install only"
    assert (report["encoder"], report["classifier"]) == ("ARVideoModel", "ARVideoForVideoClassification")
    assert report["processor"].startswith("VideoMAEImageProcessor")

    # The development install (decord, every extra) gives the same labels and scores.
    reference = pipeline("video-classification", model=str(CHECKPOINT), device="cpu")(
        str(video), top_k=6, frame_sampling_rate=2
    )
    assert [p["label"] for p in report["predictions"]] == [p["label"] for p in reference]
    for ours, theirs in zip(report["predictions"], reference):
        assert ours["score"] == pytest.approx(theirs["score"], abs=1e-5)

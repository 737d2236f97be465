"""The app (`python -m arvideo_hf.app`): served on 127.0.0.1 and called through `gradio_client` (labels equal to
`pipeline`'s), driven in headless Debian chromium (upload a clip, wait for the labels), what each kind of checkpoint
shows or says it cannot, and the Space-ready folder the publish step writes."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from huggingface_hub import SpaceCard
from playwright.sync_api import sync_playwright
from transformers import pipeline

import arvideo_hf  # noqa: F401  (registers ARVideo with the Auto classes)
from arvideo_hf import ARVideoForPretraining, ARVideoModel
from arvideo_hf.app import API_NAME, CheckpointViewer, write_space
from arvideo_hf.app.__main__ import DEMO_CHECKPOINT

from .conftest import SMALL_ENCODER, tiny_config, write_noise_video
from .test_hub import load_example


ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / DEMO_CHECKPOINT
CHROMIUM = shutil.which("chromium")  # Debian's browser: .ci/run installs it; never a downloaded one
SCREENSHOT = os.environ.get("ARVIDEO_APP_SCREENSHOT")  # set to docs/images/app.png to refresh the README's picture


@pytest.fixture(scope="module")
def demo_clip(small_demo_root):
    return small_demo_root / "test" / "move_down" / "00000.mp4"


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    """`python -m arvideo_hf.app` with its default model (the committed demo checkpoint), on a free local port.
    Yields a function that waits until it answers and returns its URL, so a test's other fixtures are built while
    it starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("app") / "app.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "GRADIO_TEMP_DIR": str(log.parent / "gradio")}
    with open(log, "w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "arvideo_hf.app", "--port", str(port)], stdout=handle,
                                   stderr=subprocess.STDOUT, env=env, cwd=log.parent)
    url = f"http://127.0.0.1:{port}/"

    def wait_for_url(timeout: float = 240) -> str:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, f"the app exited:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return url
            except OSError:
                assert time.monotonic() < deadline, f"no answer in {timeout} s:\n{log.read_text()[-3000:]}"
                time.sleep(0.5)

    try:
        yield wait_for_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def pipeline_labels(video):
    classifier = pipeline("video-classification", model=str(CHECKPOINT), device="cpu")
    return {p["label"]: p["score"] for p in classifier(str(video), top_k=5, frame_sampling_rate=2)}


def test_gradio_client_gets_the_pipelines_labels(served_app, demo_clip):
    labels, predictions, animation, order, ranks = Client(served_app(), verbose=False).predict(
        handle_file(str(demo_clip)), api_name=f"/{API_NAME}"
    )
    confidences = {c["label"]: c["confidence"] for c in labels["confidences"]}
    expected = pipeline_labels(demo_clip)
    assert list(confidences) == list(expected) and len(confidences) == 5
    for label, score in expected.items():
        assert confidences[label] == pytest.approx(score, abs=1e-6)
    assert labels["label"] == next(iter(expected))
    assert (predictions, animation, order) == (None, None, None)  # a classifier has no decoder
    assert Path(ranks).is_file() and Path(ranks).stat().st_size > 5000


def test_a_too_short_video_gets_a_message_naming_the_fix(served_app, tmp_path):
    short = write_noise_video(tmp_path / "short.mp4", frames=20, height=32, width=32)  # 16 frames x stride 2 = 32
    client = Client(served_app(), verbose=False)
    with pytest.raises(AppError, match=r"the video has 20 frames.*--frame-stride 1"):
        client.predict(handle_file(str(short)), api_name=f"/{API_NAME}")
    shorter = write_noise_video(tmp_path / "shorter.mp4", frames=10, height=32, width=32)
    with pytest.raises(AppError, match=r"the video has 10 frames.*a video of at least 16 frames"):
        client.predict(handle_file(str(shorter)), api_name=f"/{API_NAME}")


@pytest.mark.skipif(CHROMIUM is None, reason="no browser: Debian's chromium is not installed (apt-get install "
                    "chromium; .ci/run installs it)")
def test_headless_chromium_uploads_a_clip_and_sees_the_labels(served_app, demo_clip, tmp_path):
    expected = pipeline_labels(demo_clip)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(served_app())
            page.locator("#video input[type=file]").set_input_files(str(demo_clip))
            # A click before the upload lands sends no video (the app says "Upload a video first"): a user sees
            # the player appear first, and so does the test.
            page.locator("#video video").first.wait_for(timeout=60_000)
            page.locator("#analyze").click()
            top = next(iter(expected))
            page.locator("#labels").get_by_text(f"{round(expected[top] * 100)}%").first.wait_for(timeout=60_000)
            page.locator("#ranks img").wait_for(timeout=60_000)
            shown = page.locator("#labels").inner_text()
            cannot = page.locator("#cannot").inner_text()
            screenshot = Path(SCREENSHOT or tmp_path / "app.png")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert all(label in shown for label in expected), shown
    assert "No next-cluster predictions" in cannot
    assert screenshot.stat().st_size > 20_000


@pytest.fixture(scope="module")
def pretraining_dir(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("pretraining")
    config = tiny_config(**SMALL_ENCODER, decoder_hidden_size=32, decoder_num_attention_heads=2,
                         decoder_intermediate_size=64, image_size=32, cluster_size=[2, 2, 2])
    ARVideoForPretraining(config).save_pretrained(folder)
    return folder


def test_a_pretraining_checkpoint_shows_its_predictions_in_order_and_says_it_has_no_labels(pretraining_dir, demo_clip):
    with CheckpointViewer(pretraining_dir) as viewer:
        analysis = viewer.analyze(demo_clip)
        assert analysis.labels is None and "No labels" in " ".join(analysis.notes)
        assert analysis.predictions.stat().st_size > 5000 and analysis.order_animation.suffix == ".gif"
        assert analysis.attention_ranks.is_file()
        steps = analysis.order.splitlines()[1].split("; ")
        assert len(steps) == viewer.pretraining.geometry.num_clusters == 8 and steps[0].startswith("0: cluster ")


def test_an_encoder_says_what_it_cannot_show_and_other_models_are_refused(pretraining_dir, tmp_path, demo_clip):
    encoder = ARVideoModel.from_pretrained(pretraining_dir)
    encoder.save_pretrained(tmp_path / "encoder")
    with CheckpointViewer(tmp_path / "encoder") as viewer:
        analysis = viewer.analyze(demo_clip)
        assert analysis.attention_ranks.is_file()
    assert not analysis.attention_ranks.exists(), "the viewer's figures go with it"
    assert (analysis.labels, analysis.predictions, analysis.order) == (None, None, None)
    assert [note.split(":")[0] for note in analysis.notes] == ["No labels", "No next-cluster predictions"]
    (tmp_path / "videomae").mkdir()
    (tmp_path / "videomae" / "config.json").write_text('{"model_type": "videomae"}')
    with pytest.raises(ValueError, match="convert_videomae.py"):
        CheckpointViewer(tmp_path / "videomae")


def test_publish_writes_a_space_for_the_model(tmp_path):
    """`examples/publish.py --space-dir` writes app.py, requirements.txt and a card with the Space metadata."""
    publish = load_example("publish")
    assert publish.main([str(CHECKPOINT), "--repo-id", "someone/arvideo-tiny", "--dry-run", str(tmp_path / "model"),
                         "--space-dir", str(tmp_path / "space")]) == 0
    space = tmp_path / "space"
    assert sorted(p.name for p in space.iterdir()) == ["README.md", "app.py", "requirements.txt"]
    app_py = (space / "app.py").read_text()
    compile(app_py, "app.py", "exec")
    assert "build_app('someone/arvideo-tiny').launch()" in app_py
    assert (space / "requirements.txt").read_text().startswith(f"arvideo_hf[app]=={arvideo_hf.__version__}")
    card = SpaceCard.load(space / "README.md")
    assert (card.data.sdk, card.data.app_file, card.data.models) == ("gradio", "app.py", ["someone/arvideo-tiny"])
    assert len(card.data.short_description) <= 60 and len(card.data.title) <= 60  # the Hub refuses longer ones
    with pytest.raises(FileExistsError, match="not empty"):
        write_space("someone/arvideo-tiny", space)

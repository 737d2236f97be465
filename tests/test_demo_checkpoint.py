"""The committed `arvideo-tiny-demo` checkpoint: a Hub-ready folder that `pipeline` loads as it is, and that reproduces
the top-1 its card and the zoo publish on the demo test split."""

from pathlib import Path

import pytest
from transformers import pipeline

import arvideo_hf  # noqa: F401  (registers ARVideo with the Auto classes)
from arvideo_hf.data import build_demo_dataset
from arvideo_hf.training.evaluation import EvaluateArguments, run_evaluation
from arvideo_hf.zoo import get_entry
from arvideo_hf.zoo.publish import remote_code_files, save_hub_folder


CHECKPOINT = Path(__file__).parents[1] / "checkpoints" / "arvideo-tiny-demo"  # committed, Hub-ready


@pytest.fixture(scope="module")
def demo_test_split(tmp_path_factory):
    """The demo's full test split (its clips depend only on the seed and their index, not on the other splits)."""
    return build_demo_dataset(tmp_path_factory.mktemp("demo-test"), seed=0, num_train=0, num_test=300, num_unlabeled=0)


def test_folder_is_hub_ready():
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "README.md", "eval_results.json",
                 "configuration_arvideo.py", "modeling_arvideo.py", "clustering.py"):
        assert (CHECKPOINT / name).is_file(), name
    assert not list(CHECKPOINT.glob("*.bin")) and not list(CHECKPOINT.glob("*.pt"))


def test_remote_code_is_the_package_code():
    """The folder's copies of the model code (for trust_remote_code) are today's; republish it with
    `python examples/publish.py ... --dry-run checkpoints/arvideo-tiny-demo` after changing them."""
    for source in remote_code_files():
        assert (CHECKPOINT / source.name).read_text() == source.read_text(), source.name


def test_folder_is_what_publishing_writes_and_its_card_is_the_zoo_card(tmp_path):
    """Every file equals a fresh dry-run publish of the folder (so its README is the card the zoo renders from its own
    eval_results.json), and that card is the committed model_cards/arvideo-tiny-demo.md, dataset name included."""
    fresh = save_hub_folder(CHECKPOINT, tmp_path / "repo", "arvideo-hf/arvideo-tiny-demo")
    assert sorted(p.name for p in fresh.iterdir()) == sorted(p.name for p in CHECKPOINT.iterdir())
    for path in fresh.iterdir():
        assert (CHECKPOINT / path.name).read_bytes() == path.read_bytes(), f"{path.name}: republish the checkpoint"
    card = (CHECKPOINT / "README.md").read_text()
    assert card == (CHECKPOINT.parents[1] / "model_cards" / "arvideo-tiny-demo.md").read_text()
    assert "ARVideo moving-digits demo" in card and "name: test" not in card


def test_checkpoint_reproduces_the_published_top1(demo_test_split, tmp_path):
    published = get_entry("arvideo-tiny-demo").measured_results[0]
    summary = run_evaluation(EvaluateArguments(
        model_name_or_path=str(CHECKPOINT), demo_root=str(demo_test_split), num_clips=2, num_crops=1,
        num_workers=0, output_dir=str(tmp_path),
    ))
    assert summary["num_videos"] == published.num_videos == 300 and summary["views"] == published.views
    assert summary["top1"] == pytest.approx(published.top1, abs=0.01)


def test_pipeline_classifies_a_demo_video(demo_test_split):
    classifier = pipeline("video-classification", model=str(CHECKPOINT), device="cpu")
    predictions = classifier(str(demo_test_split / "test" / "move_down" / "00000.mp4"), top_k=6, frame_sampling_rate=2)
    assert len(predictions) == 6 and abs(sum(p["score"] for p in predictions) - 1.0) < 1e-4
    assert {p["label"] for p in predictions} == {"move_down", "move_left", "move_right", "move_up", "rotate_ccw",
                                                  "rotate_cw"}

"""Shared fixtures: offline hub settings and tiny ARVideo configs (seconds per test on 2 CPU cores)."""

import copy
import os

import pytest
import torch


os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_hf_home(tmp_path_factory, monkeypatch):
    """Every test gets its own HF_HOME so nothing reads or writes a user cache."""
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf_home")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# The geometry most tests are written for (8x64x64 clips, 4x8x8 tokens, 2x4x4 clusters, C=8, S=32, V=7), kept apart
# from the `tiny` preset, which is tuned for learning on small clips and may change with the measurements.
TEST_GEOMETRY = dict(
    image_size=64, patch_size=8, num_frames=8, tubelet_size=2,
    hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512,
    cluster_size=[2, 4, 4], mask_ratio=0.8, norm_pix_loss=True,
    decoder_hidden_size=128, decoder_num_hidden_layers=2, decoder_num_attention_heads=4, decoder_intermediate_size=512,
)


def tiny_config(**overrides):
    """A small test config (`TEST_GEOMETRY`) with overrides; a fresh object each call."""
    from arvideo_hf import ARVideoConfig

    return ARVideoConfig(**{**copy.deepcopy(TEST_GEOMETRY), **copy.deepcopy(overrides)})


def write_noise_video(path, frames, height, width, seed=0):
    """A `frames x height x width` video of uniform noise, written with the demo set's mp4 writer; returns `path`."""
    import numpy as np

    from arvideo_hf.data.demo_dataset import write_video

    write_video(path, np.random.default_rng(seed).integers(0, 256, (frames, height, width, 3), dtype=np.uint8))
    return path


def clip(config, batch=2, seed=0):
    """Random normalized clips `(B, T, C, H, W)` for `config`."""
    generator = torch.Generator().manual_seed(seed)
    size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
    return torch.randn(batch, config.num_frames, config.num_channels, size, size, generator=generator)


@pytest.fixture(scope="session")
def small_demo_root(tmp_path_factory):
    """A 12-train / 6-test build of the embedded demo set, shared by the training tests."""
    from arvideo_hf.data import build_demo_dataset

    return build_demo_dataset(tmp_path_factory.mktemp("demo"), seed=0, num_train=12, num_test=6, num_unlabeled=12)


# ------------------------------------------------------------------ finetuning / evaluation / pipeline fixtures
SMALL_ENCODER = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
DEMO_LABELS = ("move_down", "move_left", "move_right", "move_up", "rotate_ccw", "rotate_cw")


@pytest.fixture(scope="session")
def small_encoder_dir(tmp_path_factory):
    """A 2-layer, 32-wide ARVideo encoder folder (8x64x64 clips) with its preprocessor config, as pretraining saves
    it."""
    from arvideo_hf import ARVideoModel
    from arvideo_hf.models.processing_arvideo import image_processor_for

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("small_encoder")
    encoder = ARVideoModel(tiny_config(**SMALL_ENCODER))
    encoder.save_pretrained(folder)
    image_processor_for(encoder.config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def small_classifier_dir(tmp_path_factory):
    """A 2-layer ARVideo classifier over the demo's 6 labels, saved with its image processor (a finetuned folder)."""
    from arvideo_hf import ARVideoForVideoClassification
    from arvideo_hf.models.processing_arvideo import image_processor_for

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("small_classifier")
    id2label = dict(enumerate(DEMO_LABELS))
    config = tiny_config(**SMALL_ENCODER, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    model = ARVideoForVideoClassification(config)
    model.save_pretrained(folder)
    image_processor_for(config).save_pretrained(folder)
    return folder


# ------------------------------------------------------------------------------- the zoo's pretrained encoder entry
@pytest.fixture(scope="session")
def zoo_pretraining_run(small_demo_root, tmp_path_factory):
    """A finished 2-step `tiny` ARVideo pretraining run on the small demo build (its output folder)."""
    from arvideo_hf.training import parse_pretrain_args, run_pretraining
    from arvideo_hf.training.pretrain import reset_accelerate_state

    output_dir = tmp_path_factory.mktemp("zoo-run") / "run"
    reset_accelerate_state()
    run_pretraining(parse_pretrain_args([
        "--output_dir", str(output_dir), "--demo_root", str(small_demo_root), "--max_steps", "2",
        "--per_device_batch_size", "2", "--repeated_aug", "1", "--num_workers", "0", "--report_to", "none",
    ]))
    reset_accelerate_state()
    return output_dir


@pytest.fixture(scope="session")
def zoo_pretrained_folder(zoo_pretraining_run, tmp_path_factory):
    """The `arvideo-tiny-pretrained` folder that `python -m arvideo_hf.zoo pretrained` builds from that run."""
    from arvideo_hf.zoo.__main__ import main

    out = tmp_path_factory.mktemp("zoo-folder") / "arvideo-tiny-pretrained"
    assert main(["pretrained", str(zoo_pretraining_run), "--out", str(out)]) == 0
    return out


# A prelude for a fresh Python process in which `import arvideo_hf` fails: what loads there runs the Hub copy of the
# model code (trust_remote_code), never the installed package.
BLOCK_PACKAGE = """
import sys
class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name == "arvideo_hf" or name.startswith("arvideo_hf."):
            raise ImportError("arvideo_hf is blocked in this process")
sys.meta_path.insert(0, _Blocker())
try:
    import arvideo_hf
    raise SystemExit("the blocker failed: arvideo_hf imported")
except ImportError:
    pass
"""

"""Checkpoints at another clip geometry: `from_pretrained(ckpt, num_frames=..., image_size=...)` gives exactly the
model built natively at that geometry with the same weights (the sinusoid positions are rebuilt from the config,
never loaded), for the encoder, the classifier, the pipeline and, where its clusters tile the clip, pretraining."""

import json
import shutil

import numpy as np
import pytest
import torch
from transformers import AutoImageProcessor, AutoModel, pipeline

import arvideo_hf  # noqa: F401  (registers ARVideo with the Auto classes)
from arvideo_hf import ARVideoForPretraining, ARVideoForVideoClassification, ARVideoModel
from arvideo_hf.data import decode_frames
from arvideo_hf.models.modeling_arvideo import get_sinusoid_encoding_table
from arvideo_hf.models.processing_arvideo import image_processor_for, video_classification_pipeline
from arvideo_hf.results import Result
from arvideo_hf.training.evaluation import EvaluateArguments, run_evaluation
from arvideo_hf.training.finetune import parse_finetune_args, run_finetuning
from arvideo_hf.training.pretrain import reset_accelerate_state
from arvideo_hf.zoo.publish import save_hub_folder

from .conftest import SMALL_ENCODER, clip, tiny_config, write_noise_video


# Checkpoints are 8x64x64 (patch 8, tubelet 2: 4x8x8 tokens, 2x4x4 clusters). 16x96x96 (8x12x12 tokens) is tiled by
# the clusters; 6x40x40 (3x5x5 tokens) is not, which only pretraining cares about.
TILED = dict(num_frames=16, image_size=96)
UNTILED = dict(num_frames=6, image_size=40)


@pytest.fixture(scope="module")
def pretraining_dir(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("pretraining")
    ARVideoForPretraining(tiny_config(**SMALL_ENCODER, decoder_hidden_size=32, decoder_num_attention_heads=2,
                                      decoder_intermediate_size=64)).save_pretrained(folder)
    return folder


def native(cls, folder, **geometry):
    """`cls` built at `geometry` from the checkpoint's config, then given the checkpoint's weights."""
    reference = cls.from_pretrained(folder)
    config = reference.config.to_dict()
    config.update(geometry)
    model = cls(type(reference.config).from_dict(config))
    model.load_state_dict(reference.state_dict())  # weights only: the position tables are not in a state dict
    return model.eval()


def assert_positions_rebuilt(model, num_tokens):
    table = model.embeddings.position_embeddings
    assert table.shape == (num_tokens, model.config.hidden_size)
    assert torch.equal(table, get_sinusoid_encoding_table(num_tokens, model.config.hidden_size))


@pytest.mark.parametrize("geometry", [TILED, UNTILED], ids=["16x96x96", "6x40x40"])
def test_encoder_and_classifier_loaded_at_another_geometry_equal_native_models(
    pretraining_dir, small_classifier_dir, geometry
):
    num_tokens = geometry["num_frames"] // 2 * (geometry["image_size"] // 8) ** 2
    for loader, cls, folder in ((AutoModel, ARVideoModel, pretraining_dir),
                                (ARVideoForVideoClassification, ARVideoForVideoClassification, small_classifier_dir)):
        loaded = loader.from_pretrained(folder, **geometry).eval()
        assert isinstance(loaded, cls)
        assert (loaded.config.num_frames, loaded.config.image_size) == (geometry["num_frames"], geometry["image_size"])
        assert_positions_rebuilt(loaded if cls is ARVideoModel else loaded.arvideo, num_tokens)
        pixels = clip(loaded.config, batch=2, seed=1)
        with torch.no_grad():
            ours, theirs = loaded(pixels), native(cls, folder, **geometry)(pixels)
        key = "last_hidden_state" if cls is ARVideoModel else "logits"
        assert (ours[key] - theirs[key]).abs().max() <= 1e-5


def test_pretraining_loads_where_its_clusters_tile_the_clip_and_names_the_fix_elsewhere(pretraining_dir):
    loaded = ARVideoForPretraining.from_pretrained(pretraining_dir, **TILED).eval()
    assert loaded.geometry.grid == (8, 12, 12) and loaded.geometry.num_clusters == 36
    assert torch.equal(loaded.decoder_position_embeddings, get_sinusoid_encoding_table(1152, 32))
    reference = native(ARVideoForPretraining, pretraining_dir, **TILED)
    pixels = clip(loaded.config, batch=2, seed=2)
    generator = torch.Generator().manual_seed(0)
    order = torch.stack([torch.randperm(36, generator=generator) for _ in range(2)])
    noise = torch.rand(2, 1152, generator=generator)
    with torch.no_grad():
        ours = loaded(pixels, cluster_order=order, noise=noise)
        theirs = reference(pixels, cluster_order=order, noise=noise)
    assert (ours.logits - theirs.logits).abs().max() <= 1e-5 and abs(float(ours.loss - theirs.loss)) <= 1e-6

    with pytest.raises(ValueError, match="ARVideoForPretraining cannot run at this clip geometry") as error:
        ARVideoForPretraining.from_pretrained(pretraining_dir, **UNTILED)
    message = str(error.value)
    assert "along time" in message and "num_frames a multiple of tubelet_size x K_T = 4" in message
    assert "image_size a multiple of patch_size x (K_H, K_W) = (32, 32)" in message and "pass a cluster_size" in message


def test_a_model_saved_at_another_geometry_reloads_with_it(small_classifier_dir, tmp_path):
    """The config keeps clusters that do not tile the new clip (the classifier never uses them) and still loads."""
    model = ARVideoForVideoClassification.from_pretrained(small_classifier_dir, **UNTILED).eval()
    model.save_pretrained(tmp_path)
    reloaded = ARVideoForVideoClassification.from_pretrained(tmp_path).eval()
    assert (reloaded.config.num_frames, reloaded.config.image_size) == (6, 40)
    pixels = clip(model.config, batch=1)
    with torch.no_grad():
        assert torch.equal(model(pixels).logits, reloaded(pixels).logits)


@pytest.mark.parametrize(
    "geometry,match",
    [(dict(num_frames=15), "num_frames=15 is not divisible by tubelet_size=2"),
     (dict(image_size=100), "image_size 100x100 is not divisible by patch_size 8x8")],
)
def test_impossible_geometry_overrides_name_the_fix(small_classifier_dir, geometry, match):
    with pytest.raises(ValueError, match=match):
        ARVideoForVideoClassification.from_pretrained(small_classifier_dir, **geometry)


def test_pipeline_at_another_geometry_equals_the_native_model_with_a_processor_that_follows(
    small_classifier_dir, tmp_path
):
    video = write_noise_video(tmp_path / "clip.mp4", frames=20, height=72, width=96)
    classifier = video_classification_pipeline(small_classifier_dir, device="cpu", **TILED)
    assert classifier.model.config.num_frames == 16
    processor = classifier.image_processor
    assert processor.crop_size["height"] == 96 and processor.size["shortest_edge"] == 96
    predictions = classifier(str(video), top_k=6)

    model = native(ARVideoForVideoClassification, small_classifier_dir, **TILED)
    processor = image_processor_for(model.config, like=AutoImageProcessor.from_pretrained(small_classifier_dir))
    frames = decode_frames(video, np.arange(16), backend="pyav")
    with torch.no_grad():
        probs = model(**processor(list(frames), return_tensors="pt")).logits.softmax(-1)[0]
    for prediction in predictions:
        assert prediction["score"] == pytest.approx(float(probs[model.config.label2id[prediction["label"]]]), abs=1e-5)

    # transformers' own pipeline with the checkpoint's processor crops to the old size: a clear error names the fix.
    plain = pipeline("video-classification", model=str(small_classifier_dir), model_kwargs=TILED, device="cpu")
    with pytest.raises(ValueError, match="image_processor_for"):
        plain(str(video))


def test_finetune_and_evaluate_at_another_geometry_record_it_in_the_folder_and_the_card(
    tmp_path, small_demo_root, small_encoder_dir
):
    """`--num_frames 4 --image_size 32` on an 8x64x64 encoder: the classifier, its processor and its arguments are at
    4x32x32; evaluation at yet another geometry records it in eval_results.json and the published card."""
    output = tmp_path / "finetuned"
    reset_accelerate_state()
    args, training_args = parse_finetune_args([
        "--preset", "tiny", "--model_name_or_path", str(small_encoder_dir), "--demo_root", str(small_demo_root),
        "--num_frames", "4", "--image_size", "32", "--output_dir", str(output), "--max_steps", "1",
        "--per_device_train_batch_size", "4", "--dataloader_num_workers", "0", "--save_strategy", "no",
        "--use_cpu", "True", "--disable_tqdm", "True", "--report_to", "none",
    ])
    run_finetuning(args, training_args)
    config = json.loads((output / "config.json").read_text())
    assert (config["num_frames"], config["image_size"]) == (4, 32)
    assert AutoImageProcessor.from_pretrained(output).crop_size == {"height": 32, "width": 32}
    finetune_args = json.loads((output / "finetune_args.json").read_text())
    assert (finetune_args["num_frames"], finetune_args["image_size"]) == (4, 32)

    reset_accelerate_state()
    summary = run_evaluation(EvaluateArguments(
        model_name_or_path=str(output), demo_root=str(small_demo_root), num_clips=1, num_crops=1, num_workers=0,
        num_frames=8, image_size=48, output_dir=str(tmp_path / "eval"),
    ), command="python examples/evaluate.py --num_frames 8 --image_size 48 ...")
    assert summary["clip"] == "8x48x48" and Result.read(tmp_path / "eval").clip == "8x48x48"
    shutil.copy2(tmp_path / "eval" / "eval_results.json", output / "eval_results.json")
    card = (save_hub_folder(output, tmp_path / "hub", "someone/arvideo-at-8x48") / "README.md").read_text()
    assert "on 8x48x48 clips" in card

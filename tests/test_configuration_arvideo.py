"""ARVideoConfig: the paper default, presets, serialization, and every impossible combination raising clearly."""

import pytest

from arvideo_hf import ARVIDEO_PRESETS, ARVideoConfig


def test_default_is_paper_setting():
    config = ARVideoConfig()
    assert (config.hidden_size, config.num_hidden_layers, config.num_frames, config.image_size) == (768, 12, 16, 224)
    assert config.cluster_size == [2, 7, 7] and config.mask_ratio == 0.8 and config.prediction_order == "random"
    assert (config.decoder_hidden_size, config.decoder_num_hidden_layers) == (512, 4)
    geometry = config.geometry
    assert geometry.grid == (8, 14, 14)
    assert (geometry.num_clusters, geometry.cluster_tokens, geometry.num_visible) == (16, 98, 20)
    assert (geometry.num_inputs, geometry.num_queries) == (300, 1470)


@pytest.mark.parametrize("name,width", [("tiny", 96), ("vit-s", 384), ("base", 768), ("vit-l", 1024), ("huge", 1280)])
def test_presets(name, width):
    config = ARVideoConfig.from_preset(name)
    assert config.hidden_size == width
    assert set(ARVIDEO_PRESETS) == {"tiny", "small", "base", "large", "huge"}


def test_unknown_preset():
    with pytest.raises(ValueError, match="Unknown preset"):
        ARVideoConfig.from_preset("gigantic")


def test_round_trip(tmp_path):
    config = ARVideoConfig.from_preset("tiny", prediction_order="temporal_first", num_labels=3)
    config.save_pretrained(tmp_path)
    loaded = ARVideoConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == config.to_dict()
    assert loaded.cluster_size == [8, 2, 2] and loaded.prediction_order == "temporal_first"
    assert loaded.decoder_self_attention and loaded.pixel_target_scale == 0.1
    assert loaded.pixel_target_decay_steps == 800


def test_pixel_target_scale_falls_by_a_cosine_to_zero_then_stays():
    config = ARVideoConfig(pretraining_target="pixels_and_frame_difference", pixel_target_scale=0.1,
                           pixel_target_decay_steps=800)
    scales = [config.pixel_target_scale_at(step) for step in (0, 200, 400, 800, 5000)]
    assert scales == pytest.approx([0.1, 0.1 * (1 + 2**-0.5) / 2, 0.05, 0.0, 0.0], abs=1e-12)
    assert ARVideoConfig(pixel_target_scale=0.3).pixel_target_scale_at(10**6) == 0.3  # no decay: constant
    # Another target ignores the schedule as it ignores the scale, so the preset takes a target override alone.
    assert ARVideoConfig.from_preset("tiny", pretraining_target="frame_difference").pixel_target_decay_steps == 800


def test_videomae_qv_bias_alias():
    assert ARVideoConfig(qv_bias=False).qkv_bias is False


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(image_size=225), "not divisible by patch_size"),
        (dict(num_frames=15), "not divisible by tubelet_size"),
        (dict(cluster_size=[2, 7]), "three positive ints"),
        (dict(mask_ratio=1.0), "keeps 0 visible tokens"),
        (dict(mask_ratio=-0.1), r"must be in \[0, 1\)"),
        (dict(num_attention_heads=7), "not divisible by num_attention_heads"),
        (dict(decoder_num_attention_heads=7), "decoder_hidden_size=512 is not divisible"),
        (dict(prediction_order="zigzag"), "prediction_order must be one of"),
        (dict(image_mean=[0.5, 0.5]), "one value per channel"),
        (dict(pixel_target_decay_steps=-1), "pixel_target_decay_steps must be an integer >= 0"),
        (dict(pixel_target_decay_steps=0.5), "pixel_target_decay_steps must be an integer >= 0"),
    ],
)
def test_impossible_configs_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ARVideoConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(cluster_size=[3, 7, 7]), "along time"),
        (dict(cluster_size=[2, 5, 7]), "along height"),
        (dict(cluster_size=[8, 14, 14]), "at least 2 clusters"),
    ],
)
def test_clusters_that_do_not_tile_the_clip_are_refused_where_pretraining_needs_them(kwargs, match):
    """The encoder and the classifier run at any clip geometry, so such a config is valid; its cluster geometry (what
    pretraining and its collator use) raises, naming both fixes: another cluster size or another clip size."""
    config = ARVideoConfig(**kwargs)
    with pytest.raises(ValueError, match=match) as error:
        _ = config.geometry
    assert "a multiple of tubelet_size x K_T" in str(error.value) and "pass a cluster_size" in str(error.value)

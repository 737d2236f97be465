"""VideoMAE interop (arvideo_hf.interop): transformers VideoMAE models and official `.pth` checkpoints load with
identical outputs, conversion to publishable folders measures itself, and the baseline's tube masks are seeded."""

import json
from types import SimpleNamespace

import pytest
import torch
from huggingface_hub import ModelCard
from transformers import VideoMAEConfig, VideoMAEForVideoClassification, VideoMAEModel

from arvideo_hf import ARVideoConfig, ARVideoForVideoClassification, ARVideoModel
from arvideo_hf.interop import videomae
from arvideo_hf.interop.videomae import (
    convert_official_state_dict,
    convert_videomae_checkpoint,
    load_official_checkpoint,
    official_videomae_forward,
)
from arvideo_hf.models.processing_arvideo import image_processor_for
from arvideo_hf.training import parse_pretrain_args, videomae_baseline
from arvideo_hf.zoo.publish import save_hub_folder

from .conftest import tiny_config
from .test_hub import load_example


# ------------------------------------------------------------------------------------------ official .pth checkpoints
def official_state_dict(model: VideoMAEForVideoClassification, prefix: str = "") -> dict:
    """Write a transformers VideoMAE classifier under the official repo's names (the inverse mapping, by hand)."""
    sd, out = model.state_dict(), {}
    out[prefix + "patch_embed.proj.weight"] = sd["videomae.embeddings.patch_embeddings.projection.weight"]
    out[prefix + "patch_embed.proj.bias"] = sd["videomae.embeddings.patch_embeddings.projection.bias"]
    for i in range(model.config.num_hidden_layers):
        src, dst = f"videomae.encoder.layer.{i}.", f"{prefix}blocks.{i}."
        att = src + "attention.attention."
        out[dst + "attn.qkv.weight"] = torch.cat([sd[att + p + ".weight"] for p in ("query", "key", "value")])
        out[dst + "attn.q_bias"], out[dst + "attn.v_bias"] = sd[att + "query.bias"], sd[att + "value.bias"]
        out[dst + "attn.proj.weight"] = sd[src + "attention.output.dense.weight"]
        out[dst + "attn.proj.bias"] = sd[src + "attention.output.dense.bias"]
        for a, b in (("norm1", "layernorm_before"), ("norm2", "layernorm_after"), ("mlp.fc1", "intermediate.dense"),
                     ("mlp.fc2", "output.dense")):
            out[f"{dst}{a}.weight"], out[f"{dst}{a}.bias"] = sd[f"{src}{b}.weight"], sd[f"{src}{b}.bias"]
    out["fc_norm.weight"], out["fc_norm.bias"] = sd["fc_norm.weight"], sd["fc_norm.bias"]
    out["head.weight"], out["head.bias"] = sd["classifier.weight"], sd["classifier.bias"]
    return out


def test_official_finetuned_checkpoint(tmp_path):
    torch.manual_seed(0)
    config = VideoMAEConfig(image_size=32, patch_size=8, num_frames=16, hidden_size=64, num_hidden_layers=2,
                            num_attention_heads=4, intermediate_size=128, num_labels=3, layer_norm_eps=1e-6)
    reference = VideoMAEForVideoClassification(config).eval()
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    path = tmp_path / "checkpoint.pth"
    torch.save({"module": official_state_dict(reference)}, path)
    ours = load_official_checkpoint(
        path, ARVideoForVideoClassification, image_size=32, num_frames=16, num_attention_heads=4
    ).eval()
    pixels = torch.randn(2, 16, 3, 32, 32)
    with torch.no_grad():
        assert (ours(pixels).logits - reference(pixels).logits).abs().max() < 1e-4
    encoder = load_official_checkpoint(path, ARVideoModel, image_size=32, num_frames=16, num_attention_heads=4).eval()
    with torch.no_grad():
        assert (encoder(pixels).last_hidden_state - reference.videomae(pixels).last_hidden_state).abs().max() < 1e-4


def test_pretraining_prefix_and_norm():
    weights = {"encoder.patch_embed.proj.weight": torch.zeros(8, 3, 2, 4, 4), "encoder.norm.weight": torch.ones(8),
               "decoder.blocks.0.norm1.weight": torch.ones(4), "mask_token": torch.zeros(1, 1, 4)}
    converted = convert_official_state_dict(weights)
    assert set(converted) == {"arvideo.embeddings.patch_embeddings.projection.weight", "encoder_norm.weight"}


def test_layer_scale_checkpoint_is_rejected():
    with pytest.raises(ValueError, match="layer-scale"):
        convert_official_state_dict({"blocks.0.gamma_1": torch.ones(8)})


# ---------------------------------------------------------------------------------------- transformers VideoMAE models
def _parity_config(**kw):
    return VideoMAEConfig(
        image_size=32, patch_size=8, num_frames=16, tubelet_size=2, hidden_size=64, num_hidden_layers=3,
        num_attention_heads=4, intermediate_size=128, **kw,
    )


@pytest.mark.parametrize("use_mean_pooling", [True, False])
def test_encoder_matches_videomae(use_mean_pooling):
    torch.manual_seed(0)
    reference = VideoMAEModel(_parity_config(use_mean_pooling=use_mean_pooling)).eval()
    with torch.no_grad():  # non-trivial biases and norms so a mis-mapped weight shows
        for param in reference.parameters():
            param.add_(torch.randn_like(param) * 0.02)
    ours = ARVideoModel.from_videomae(reference).eval()
    pixels = torch.randn(2, 16, 3, 32, 32)
    with torch.no_grad():
        expected = reference(pixels).last_hidden_state
        actual = ours(pixels).last_hidden_state
    assert actual.shape == expected.shape == (2, 128, 64)
    assert (actual - expected).abs().max() < 1e-4


def test_classifier_matches_videomae(tmp_path):
    torch.manual_seed(1)
    reference = VideoMAEForVideoClassification(_parity_config(num_labels=5)).eval()
    reference.save_pretrained(tmp_path)
    ours = ARVideoForVideoClassification.from_videomae(str(tmp_path)).eval()  # from a folder
    assert ours.config.num_labels == 5
    pixels = torch.randn(2, 16, 3, 32, 32)
    with torch.no_grad():
        assert (ours(pixels).logits - reference(pixels).logits).abs().max() < 1e-4
    # a BatchNorm head cannot take VideoMAE's LayerNorm weights (it would run without statistics): refused
    with pytest.raises(ValueError, match="head_norm='layer'"):
        ARVideoForVideoClassification.from_videomae(reference, head_norm="batch")
    encoder_only = ARVideoModel.from_videomae(reference, head_norm="batch")  # the encoder has no head to lose
    assert encoder_only.config.head_norm == "batch"


# ------------------------------------------------------------------------------------------ publishable folders
def _conversion_config(**kwargs):
    return VideoMAEConfig(image_size=32, patch_size=8, num_frames=8, tubelet_size=2, hidden_size=32,
                          num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, layer_norm_eps=1e-6,
                          **kwargs)


def _perturbed(model):
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model.eval()


def test_convert_transformers_videomae_folder(tmp_path, capsys):
    source = tmp_path / "videomae"
    _perturbed(VideoMAEForVideoClassification(_conversion_config(num_labels=3))).save_pretrained(source)
    image_processor_for(tiny_config(image_size=32, patch_size=8, cluster_size=[2, 2, 2])).save_pretrained(source)
    convert = load_example("convert_videomae")
    assert convert.main([str(source), str(tmp_path / "cls")]) == 0
    printed = capsys.readouterr().out
    assert "ARVideoForVideoClassification" in printed and "logits" in printed
    assert float(printed.rsplit("source model: ", 1)[1].split()[0]) < 1e-4
    model = ARVideoForVideoClassification.from_pretrained(tmp_path / "cls").eval()
    reference = VideoMAEForVideoClassification.from_pretrained(source).eval()
    pixels = torch.randn(2, 8, 3, 32, 32)
    with torch.no_grad():
        assert (model(pixels).logits - reference(pixels).logits).abs().max() < 1e-4
    assert (tmp_path / "cls" / "preprocessor_config.json").is_file()
    # the encoder alone, ready to publish
    assert convert.main([str(source), str(tmp_path / "enc"), "--task", "encoder"]) == 0
    assert json.loads((tmp_path / "enc" / "config.json").read_text())["architectures"] == ["ARVideoModel"]
    save_hub_folder(tmp_path / "enc", tmp_path / "upload", "org/converted")
    assert ModelCard.load(tmp_path / "upload" / "README.md").data.pipeline_tag is None


def test_convert_official_pth_against_reference_forward(tmp_path, capsys, monkeypatch):
    reference = _perturbed(VideoMAEForVideoClassification(_conversion_config(num_labels=3)))
    state_dict = official_state_dict(reference)
    pixels = torch.randn(2, 8, 3, 32, 32)
    config = SimpleNamespace(num_attention_heads=4, layer_norm_eps=1e-6)
    with torch.no_grad():  # the plain-torch official forward is itself checked against transformers' VideoMAE
        assert (official_videomae_forward(state_dict, config, pixels) - reference(pixels).logits).abs().max() < 1e-5
    torch.save({"model": state_dict}, tmp_path / "official.pth")
    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    args = [str(tmp_path / "official.pth"), str(tmp_path / "out"), "--image-size", "32", "--num-frames", "8",
            "--num-attention-heads", "4", "--labels", str(tmp_path / "labels.txt")]
    assert load_example("convert_videomae").main(args) == 0
    assert "logits" in capsys.readouterr().out
    model = ARVideoForVideoClassification.from_pretrained(tmp_path / "out")
    assert model.config.id2label == {0: "a", 1: "b", 2: "c"}
    # the check catches a wrong conversion: a mapping that reverses one layer's MLP output bias
    correct = videomae.convert_official_state_dict

    def wrong(weights):
        out = correct(weights)
        out["arvideo.encoder.layer.0.output.dense.bias"] = out["arvideo.encoder.layer.0.output.dense.bias"].flip(0)
        return out

    monkeypatch.setattr(videomae, "convert_official_state_dict", wrong)
    assert load_example("convert_videomae").main(args[:1] + [str(tmp_path / "wrong")] + args[2:]) == 1
    assert "above --tolerance" in capsys.readouterr().err


def test_official_pretraining_checkpoint_converts_to_encoder(tmp_path):
    reference = _perturbed(VideoMAEForVideoClassification(_conversion_config(num_labels=3)))
    state_dict = {f"encoder.{k}": v for k, v in official_state_dict(reference).items()
                  if not k.startswith(("head.", "fc_norm."))}
    state_dict["encoder.norm.weight"], state_dict["encoder.norm.bias"] = torch.ones(32), torch.zeros(32)
    state_dict["decoder.blocks.0.norm1.weight"] = torch.ones(16)
    torch.save({"model": state_dict}, tmp_path / "pretrain.pth")
    report = convert_videomae_checkpoint(tmp_path / "pretrain.pth", tmp_path / "out", image_size=32, num_frames=8,
                                         num_attention_heads=4)
    assert (report.model_class, report.compared) == ("ARVideoModel", "last_hidden_state") and report.max_abs_diff < 1e-4
    with torch.no_grad():
        expected = reference.videomae(pixels := torch.randn(1, 8, 3, 32, 32)).last_hidden_state
        assert (ARVideoModel.from_pretrained(tmp_path / "out")(pixels).last_hidden_state - expected).abs().max() < 1e-4


# ------------------------------------------------------------------------------------------ pretraining baseline
def test_tube_masking_collator_is_seeded_like_arvideo():
    config = tiny_config()
    samples = [{"pixel_values": torch.zeros(8, 3, 64, 64), "index": i} for i in range(3)]
    collator = videomae_baseline.TubeMaskingCollator(config, mask_ratio=0.9, seed=5)
    batch = collator(samples)
    mask = batch["bool_masked_pos"]
    assert mask.shape == (3, 256) and mask.dtype == torch.bool
    assert (mask.sum(1) == 4 * 57).all()  # int(0.9 * 64) positions per time step, 4 time steps
    assert (mask.view(3, 4, 64) == mask.view(3, 4, 64)[:, :1]).all()  # tubes: the same positions at every step
    assert torch.equal(collator(samples)["bool_masked_pos"], mask)
    collator.set_epoch(1)
    assert not torch.equal(collator(samples)["bool_masked_pos"], mask)
    base = videomae_baseline.videomae_config_from(ARVideoConfig.from_preset("base"))
    assert (base.decoder_hidden_size, base.decoder_num_hidden_layers, base.use_mean_pooling) == (384, 4, False)
    with pytest.raises(ValueError, match="method must be"):
        parse_pretrain_args(["--method", "bert"])


# ------------------------------------------------------------------------------------------ one answer to each question
def test_has_classification_head_of_a_state_dict_a_config_and_a_folder(tmp_path):
    assert videomae.has_classification_head({"head.weight": torch.zeros(1)})
    assert not videomae.has_classification_head({"blocks.0.norm1.weight": torch.zeros(1)})
    VideoMAEForVideoClassification(_conversion_config(num_labels=3)).save_pretrained(tmp_path / "cls")
    VideoMAEModel(_conversion_config()).save_pretrained(tmp_path / "enc")
    assert videomae.has_classification_head(tmp_path / "cls")
    assert not videomae.has_classification_head(str(tmp_path / "enc"))
    assert not videomae.has_classification_head(_conversion_config())


def test_model_kind_counts_remote_code_classes_by_name():
    """A Hub repo's remote code defines its own classes of the same names; they convert like the package's."""
    remote = type("ARVideoForVideoClassification", (torch.nn.Module,), {})
    assert videomae.model_kind(remote) == "classification"
    assert videomae.model_kind(type("Sub", (ARVideoModel,), {})) == "encoder"
    with pytest.raises(TypeError, match="not an ARVideo model class"):
        videomae.model_kind(torch.nn.Linear)

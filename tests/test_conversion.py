"""Official VideoMAE `.pth` checkpoints (fused qkv, q_bias/v_bias) load into ARVideo with identical outputs."""

import torch
from transformers import VideoMAEConfig, VideoMAEForVideoClassification

from arvideo_hf import ARVideoForVideoClassification, ARVideoModel
from arvideo_hf.conversion import convert_official_state_dict, load_official_checkpoint


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
        for a, b in (("norm1", "layernorm_before"), ("norm2", "layernorm_after"), ("mlp.fc1", "intermediate.dense"), ("mlp.fc2", "output.dense")):
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
    ours = load_official_checkpoint(path, ARVideoForVideoClassification, image_size=32, num_frames=16, num_attention_heads=4).eval()
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
    import pytest

    with pytest.raises(ValueError, match="layer-scale"):
        convert_official_state_dict({"blocks.0.gamma_1": torch.ones(8)})

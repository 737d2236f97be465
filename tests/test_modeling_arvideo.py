"""ARVideo models: round trips, no autoregressive leak, attention backends (VideoMAE weight parity:
test_videomae.py)."""

import copy

import pytest
import torch
import torch.nn.functional as F
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForPreTraining,
    AutoModelForVideoClassification,
)

from arvideo_hf import (
    ARVideoConfig,
    ARVideoForPreTraining,
    ARVideoForPretraining,
    ARVideoForVideoClassification,
    ARVideoModel,
    make_cluster_order,
)
from arvideo_hf.models.modeling_arvideo import get_sinusoid_encoding_table, patchify, unpatchify

from .conftest import clip, tiny_config


def fixed_inputs(config, batch=2, seed=0):
    geometry = config.geometry
    generator = torch.Generator().manual_seed(seed)
    order = make_cluster_order(geometry, "random", batch, generator=generator)
    noise = torch.rand(batch, geometry.num_tokens, generator=generator)
    return clip(config, batch, seed), order, noise


def test_pretraining_shapes_and_alias():
    assert ARVideoForPreTraining is ARVideoForPretraining
    config = tiny_config()
    model = ARVideoForPretraining(config).eval()
    pixels, order, noise = fixed_inputs(config)
    out = model(pixels, cluster_order=order, noise=noise)
    g = config.geometry  # C=8, S=32, V=7
    assert out.logits.shape == (2, (g.num_clusters - 1) * g.cluster_tokens, 2 * 8 * 8 * 3)
    assert out.input_index.shape == (2, (g.num_clusters - 1) * g.num_visible)
    assert torch.equal(out.cluster_order, order) and out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert torch.allclose(out.loss, torch.nn.functional.mse_loss(out.logits, out.targets))


def test_sinusoid_table_matches_videomae():
    from transformers.models.videomae.modeling_videomae import get_sinusoid_encoding_table as reference

    assert torch.allclose(get_sinusoid_encoding_table(50, 24), reference(50, 24)[0], atol=1e-7)


def test_patchify_round_trip_and_target_layout():
    config = tiny_config()
    frames = torch.randn(2, 8, 3, 64, 64)
    tubelets = patchify(frames, 2, 8)
    assert tubelets.shape == (2, 256, 128, 3)
    assert torch.equal(unpatchify(tubelets, config.geometry.grid, 2, 8), frames)
    # token 1 = (t=0, h=0, w=1): pixel rows 0..7, cols 8..15 of frames 0..1
    assert torch.equal(tubelets[0, 1, :, 0].view(2, 8, 8), frames[0, 0:2, 0, 0:8, 8:16])


def test_pixel_targets_match_videomae_formula():
    config = tiny_config(norm_pix_loss=True)
    model = ARVideoForPretraining(config)
    pixels = clip(config)
    mean = torch.tensor(config.image_mean)[:, None, None]
    std = torch.tensor(config.image_std)[:, None, None]
    tub = patchify(pixels * std + mean, 2, 8)
    expected = (tub - tub.mean(-2, keepdim=True)) / (tub.var(-2, unbiased=True, keepdim=True).sqrt() + 1e-6)
    assert torch.allclose(model.pixel_targets(pixels), expected.flatten(2), atol=1e-6)
    raw = ARVideoForPretraining(tiny_config(norm_pix_loss=False)).pixel_targets(pixels)
    assert torch.allclose(raw, tub.flatten(2), atol=1e-6)


def test_frame_difference_target_is_the_motion_and_zero_on_a_static_scene(tmp_path):
    """The opt-in motion target: each frame minus the one before (the first minus itself), cut into tubelets; a clip
    whose frames are all the same gives all-zero targets, so the loss only pays for what moves."""
    config = tiny_config(norm_pix_loss=False, pretraining_target="frame_difference")
    model = ARVideoForPretraining(config)
    pixels = clip(config)
    mean = torch.tensor(config.image_mean)[:, None, None]
    std = torch.tensor(config.image_std)[:, None, None]
    frames = pixels * std + mean
    difference = frames - torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    assert torch.allclose(model.pixel_targets(pixels), patchify(difference, 2, 8).flatten(2), atol=1e-6)
    static = pixels[:, :1].expand_as(pixels).contiguous()
    assert model.pixel_targets(static).abs().max() == 0
    assert not torch.allclose(model.pixel_targets(pixels),
                              ARVideoForPretraining(tiny_config(norm_pix_loss=False)).pixel_targets(pixels))
    out = model(pixels)
    out.loss.backward()
    assert torch.isfinite(out.loss) and torch.allclose(out.loss, torch.nn.functional.mse_loss(out.logits, out.targets))
    model.save_pretrained(tmp_path)
    assert ARVideoConfig.from_pretrained(tmp_path).pretraining_target == "frame_difference"
    assert ARVideoConfig().pretraining_target == "pixels"  # the paper's objective stays the default
    with pytest.raises(ValueError, match="pretraining_target must be one of"):
        tiny_config(pretraining_target="flow")


def test_pixels_and_frame_difference_target_is_both_side_by_side(tmp_path):
    """The combined target: the pixel tubelet's C channels, then the frame difference's C channels, per tubelet pixel;
    the decoder regresses 2C channels, and a saved model rebuilds with that head."""
    config = tiny_config(norm_pix_loss=False, pretraining_target="pixels_and_frame_difference")
    model = ARVideoForPretraining(config)
    pixels = clip(config)
    both = model.pixel_targets(pixels).unflatten(-1, (-1, 6))
    for target, channels in (("pixels", slice(0, 3)), ("frame_difference", slice(3, 6))):
        alone = ARVideoForPretraining(tiny_config(norm_pix_loss=False, pretraining_target=target))
        assert torch.allclose(both[..., channels].flatten(2), alone.pixel_targets(pixels), atol=1e-6)
    scaled = ARVideoForPretraining(tiny_config(norm_pix_loss=False, pretraining_target="pixels_and_frame_difference",
                                               pixel_target_scale=0.25)).pixel_targets(pixels).unflatten(-1, (-1, 6))
    assert torch.allclose(scaled[..., :3], both[..., :3] * 0.25) and torch.equal(scaled[..., 3:], both[..., 3:])
    with pytest.raises(ValueError, match="pixel_target_scale must be a positive"):
        tiny_config(pixel_target_scale=0.0)
    decaying = ARVideoForPretraining(tiny_config(norm_pix_loss=False, pretraining_target="pixels_and_frame_difference",
                                                 pixel_target_scale=0.25, pixel_target_decay_steps=100))
    decaying.load_state_dict(model.state_dict())
    for step, factor in ((None, 0.25), (0, 0.25), (50, 0.125), (100, 0.0), (10**6, 0.0)):
        targets = decaying.pixel_targets(pixels, step).unflatten(-1, (-1, 6))
        assert torch.allclose(targets[..., :3], both[..., :3] * factor) and torch.equal(targets[..., 3:], both[..., 3:])
    order = torch.arange(config.geometry.num_clusters).expand(2, -1)
    early, late = (decaying(pixels, cluster_order=order, noise=torch.zeros(2, config.num_tokens), training_step=step)
                   for step in (0, 100))
    assert torch.equal(late.logits, early.logits)  # only the target changed: its pixel channels are 0 at the end
    assert late.targets.unflatten(-1, (-1, 6))[..., :3].abs().max() == 0 < early.targets.abs().max()
    assert torch.allclose(late.loss, F.mse_loss(late.logits, late.targets)) and late.loss != early.loss
    out = model(pixels)
    out.loss.backward()
    assert out.logits.shape[-1] == 2 * 2 * 8 * 8 * 3 and torch.isfinite(out.loss)
    model.save_pretrained(tmp_path)
    reloaded = ARVideoForPretraining.from_pretrained(tmp_path)
    assert torch.equal(reloaded.decoder.head.weight, model.decoder.head.weight)


@pytest.mark.parametrize("cls", [ARVideoModel, ARVideoForPretraining, ARVideoForVideoClassification])
def test_save_load_round_trip_is_bit_exact(tmp_path, cls):
    config = tiny_config(num_labels=4)
    model = cls(config).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    loaded = cls.from_pretrained(tmp_path).eval()
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    # non-persistent tables are rebuilt after meta-device loading, not left as garbage
    base = loaded if cls is ARVideoModel else loaded.arvideo
    assert torch.equal(base.embeddings.position_embeddings, get_sinusoid_encoding_table(256, 128))
    pixels, order, noise = fixed_inputs(config)
    kwargs = dict(cluster_order=order, noise=noise) if cls is ARVideoForPretraining else {}
    with torch.no_grad():
        out_a, out_b = model(pixels, **kwargs), loaded(pixels, **kwargs)
    first = "loss" if cls is ARVideoForPretraining else (
        "logits" if cls is ARVideoForVideoClassification else "last_hidden_state"
    )
    assert torch.equal(out_a[first], out_b[first])


def test_auto_classes_resolve(tmp_path):
    config = tiny_config(num_labels=3)
    ARVideoForPretraining(config).save_pretrained(tmp_path / "pre")
    ARVideoForVideoClassification(config).save_pretrained(tmp_path / "cls")
    assert isinstance(AutoConfig.from_pretrained(tmp_path / "pre"), ARVideoConfig)
    assert type(AutoModelForPreTraining.from_pretrained(tmp_path / "pre")) is ARVideoForPretraining
    assert type(AutoModelForVideoClassification.from_pretrained(tmp_path / "cls")) is ARVideoForVideoClassification
    encoder = AutoModel.from_pretrained(tmp_path / "pre")  # the encoder alone out of a pretraining checkpoint
    assert type(encoder) is ARVideoModel
    full = ARVideoForPretraining.from_pretrained(tmp_path / "pre")
    assert torch.equal(encoder.encoder.layer[0].attention.attention.query.weight,
                       full.arvideo.encoder.layer[0].attention.attention.query.weight)


def test_no_leak_by_perturbation():
    """Changing the cluster at step k changes no prediction for steps <= k; the last cluster changes nothing."""
    config = tiny_config(decoder_self_attention=True)
    model = ARVideoForPretraining(config).eval()
    g = config.geometry
    pixels, order, noise = fixed_inputs(config, batch=1, seed=3)
    index = g.cluster_token_index()
    with torch.no_grad():
        base = model(pixels, cluster_order=order, noise=noise).logits[0]
    for step in (0, 3, g.num_clusters - 1):
        cluster_tokens = index[order[0, step]]
        mask = torch.zeros(g.num_tokens, dtype=torch.bool)
        mask[cluster_tokens] = True
        token_mask = unpatchify(mask.view(1, -1, 1, 1).expand(1, -1, 2 * 8 * 8, 3).float(), g.grid, 2, 8)
        perturbed = pixels + 5.0 * token_mask * torch.randn_like(pixels)
        with torch.no_grad():
            logits = model(perturbed, cluster_order=order, noise=noise).logits[0]
        changed = (logits - base).abs().amax(-1).view(g.num_clusters - 1, g.cluster_tokens).amax(-1) > 1e-6
        # prediction block j is step j+1: steps <= k are blocks < k
        assert not changed[:step].any(), f"leak from step {step}"
        if step < g.num_clusters - 1:
            assert changed[step:].all(), "later steps should see the perturbed cluster"
        else:
            assert not changed.any()


def test_batch_independence_and_determinism():
    config = tiny_config()
    model = ARVideoForPretraining(config).eval()
    pixels, order, noise = fixed_inputs(config, batch=3)
    with torch.no_grad():
        full = model(pixels, cluster_order=order, noise=noise)
        single = model(pixels[1:2], cluster_order=order[1:2], noise=noise[1:2])
    assert torch.allclose(full.logits[1], single.logits[0], atol=1e-5)
    per_sample = ((full.logits - full.targets) ** 2).mean(dim=(1, 2))
    assert torch.allclose(per_sample[1], single.loss, atol=1e-5)
    torch.manual_seed(7)
    a = model(pixels)
    torch.manual_seed(7)
    b = model(pixels)
    assert torch.equal(a.cluster_order, b.cluster_order) and torch.equal(a.loss, b.loss)
    assert not torch.equal(model(pixels).input_index, a.input_index)  # fresh order/mask otherwise


def test_configured_fixed_orders_are_used():
    config = tiny_config(prediction_order="temporal_first")
    out = ARVideoForPretraining(config)(clip(config))
    assert torch.equal(out.cluster_order, make_cluster_order(config.geometry, "temporal_first", 2))


@pytest.mark.parametrize("cls", [ARVideoModel, ARVideoForPretraining])
def test_eager_and_sdpa_agree(cls):
    config = tiny_config()
    torch.manual_seed(0)
    eager = cls._from_config(copy.deepcopy(config), attn_implementation="eager").eval()
    sdpa = cls._from_config(copy.deepcopy(config), attn_implementation="sdpa").eval()
    sdpa.load_state_dict(eager.state_dict())
    assert eager.config._attn_implementation == "eager" and sdpa.config._attn_implementation == "sdpa"
    pixels, order, noise = fixed_inputs(config)
    kwargs = dict(cluster_order=order, noise=noise) if cls is ARVideoForPretraining else {}
    with torch.no_grad():
        a, b = eager(pixels, **kwargs), sdpa(pixels, **kwargs)
    key = "logits" if cls is ARVideoForPretraining else "last_hidden_state"
    assert (a[key] - b[key]).abs().max() < 1e-5


def test_gradient_checkpointing_same_gradients():
    config = tiny_config()
    model = ARVideoForPretraining(config)
    pixels, order, noise = fixed_inputs(config)
    model(pixels, cluster_order=order, noise=noise).loss.backward()
    reference = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    model.activation_checkpointing_enable()  # the transformers 5 name of gradient_checkpointing_enable
    model.train()
    assert model.arvideo.encoder.layer[0].gradient_checkpointing
    model(pixels, cluster_order=order, noise=noise).loss.backward()
    for name, grad in reference.items():
        assert torch.allclose(dict(model.named_parameters())[name].grad, grad, atol=1e-6), name


def test_outputs_hidden_states_and_attentions():
    config = tiny_config()
    model = ARVideoModel._from_config(config, attn_implementation="eager").eval()
    out = model(clip(config), output_hidden_states=True, output_attentions=True)
    assert len(out.hidden_states) == config.num_hidden_layers + 1 and len(out.attentions) == config.num_hidden_layers
    assert out.attentions[0].shape == (2, 4, 256, 256)
    pre = ARVideoForPretraining._from_config(tiny_config(), attn_implementation="eager").eval()
    attn = pre(clip(config), output_attentions=True).attentions[0]
    steps = torch.arange(7).repeat_interleave(7)
    assert (attn[:, :, steps[:, None] < steps[None, :]] == 0).all()  # cluster-causal: no look-ahead


def test_classification_losses():
    config = tiny_config(num_labels=4)
    model = ARVideoForVideoClassification(config)
    pixels = clip(config)
    hard = model(pixels, labels=torch.tensor([0, 3]))
    soft = model(pixels, labels=torch.nn.functional.one_hot(torch.tensor([0, 3]), 4).float())
    assert torch.allclose(hard.loss, soft.loss, atol=1e-5) and hard.logits.shape == (2, 4)


def test_batch_head_norm_removes_the_shared_vector_and_reloads_its_statistics(tmp_path):
    """head_norm='batch': a vector in every token of every clip (what pretraining grows) is gone from the head's input
    in training (zero mean per channel over the batch, where LayerNorm keeps it); a fresh model's running statistics
    start at 0 and 1, and trained ones survive a save/load round trip (buffers, not meta-device garbage)."""
    config = tiny_config(num_labels=3, head_norm="batch")
    model = ARVideoForVideoClassification(config).train()
    assert torch.equal(model.fc_norm.running_mean, torch.zeros(128)) and torch.equal(model.fc_norm.running_var,
                                                                                    torch.ones(128))
    with torch.no_grad():
        model.arvideo.encoder.layer[-1].output.dense.bias += 20 * torch.randn(128)
        pixels = clip(config, batch=8)
        pooled = model.arvideo(pixels).last_hidden_state.mean(1)
        assert model.fc_norm(pooled).mean(0).abs().max() < 1e-4
        layer = torch.nn.functional.layer_norm(pooled, (128,))
        assert layer.mean(0).norm() > 5 * (layer - layer.mean(0)).norm(dim=1).mean()  # LayerNorm keeps it
        model(pixels)  # another training step's statistics
    model.eval().save_pretrained(tmp_path)
    loaded = AutoModelForVideoClassification.from_pretrained(tmp_path).eval()
    assert isinstance(loaded.fc_norm, torch.nn.BatchNorm1d) and loaded.fc_norm.num_batches_tracked.item() == 2
    for name in ("running_mean", "running_var"):
        assert torch.equal(getattr(loaded.fc_norm, name), getattr(model.fc_norm, name)), name
    with torch.no_grad():
        assert torch.equal(loaded(pixels).logits, model(pixels).logits)
    with pytest.raises(ValueError, match="head_norm must be one of"):
        tiny_config(head_norm="group")
    with pytest.raises(ValueError, match="use_mean_pooling=True"):
        tiny_config(head_norm="batch", use_mean_pooling=False)


@pytest.mark.parametrize(
    "shape,match",
    [
        ((8, 3, 64, 64), "Add a batch dimension"),
        ((2, 3, 8, 64, 64), "channels-first"),
        ((2, 6, 3, 64, 64), "num_frames=8"),
        ((2, 8, 3, 32, 32), "does not match the model"),
        ((2, 8, 1, 64, 64), "1 channels"),
    ],
)
def test_wrong_input_shapes(shape, match):
    model = ARVideoForPretraining(tiny_config())
    with pytest.raises(ValueError, match=match):
        model(torch.randn(*shape))


def test_bad_order_and_noise_raise():
    config = tiny_config()
    model = ARVideoForPretraining(config)
    with pytest.raises(ValueError, match="permutation"):
        model(clip(config), cluster_order=torch.zeros(2, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="noise must have shape"):
        model(clip(config), noise=torch.rand(2, 10))
    with pytest.raises(ValueError, match="exactly 25 of the 32"):
        model(clip(config), bool_masked_pos=torch.zeros(2, 256, dtype=torch.bool))


def test_cluster_order_for_fewer_clips_names_rows_and_clips():
    """A cluster_order of batch 1 for 2 clips is reported as that mismatch, not as a noise shape (with or without
    noise)."""
    config = tiny_config()
    model = ARVideoForPretraining(config)
    one_row = torch.arange(8)[None]
    for noise in (None, torch.rand(2, 256)):
        with pytest.raises(ValueError, match=r"cluster_order has 1 rows but the batch has 2 clips") as info:
            model(clip(config), cluster_order=one_row, noise=noise)
        assert "noise" not in str(info.value)


def test_chunked_decoder_same_loss_and_gradients():
    """The memory-saving chunked decoder path gives the unchunked loss and gradients (fp32 tolerance)."""
    config = tiny_config()
    reference = ARVideoForPretraining(config)
    chunked = ARVideoForPretraining(tiny_config(decoder_chunk_size=50))  # 224 queries: uneven chunks
    chunked.load_state_dict(reference.state_dict())
    pixels, order, noise = fixed_inputs(config)
    out_ref = reference(pixels, cluster_order=order, noise=noise)
    out_chunk = chunked(pixels, cluster_order=order, noise=noise)
    assert torch.allclose(out_ref.loss, out_chunk.loss, atol=1e-6, rtol=1e-6)
    assert torch.allclose(out_ref.logits, out_chunk.logits, atol=1e-5)
    out_ref.loss.backward()
    out_chunk.loss.backward()
    grads = dict(chunked.named_parameters())
    for name, param in reference.named_parameters():
        assert torch.allclose(param.grad, grads[name].grad, atol=1e-6, rtol=1e-4), name


# ------------------------------------------------------------------------------------------------ initialization
def _uniform_bound(fan_in, fan_out):
    return (6.0 / (fan_in + fan_out)) ** 0.5


def test_fresh_weights_follow_the_official_mae_initialization():
    """MAE/VideoMAE code: the tubelet embedding initialized like a linear layer over its flattened fan-in, linear
    layers xavier-uniform (q/k/v as one fused qkv matrix), zero biases, identity LayerNorms, query token N(0, .02)."""
    torch.manual_seed(0)
    config = tiny_config(hidden_size=128, num_hidden_layers=1, decoder_num_hidden_layers=1)
    model = ARVideoForPretraining(config)
    patch = model.arvideo.embeddings.patch_embeddings.projection
    bound = _uniform_bound(patch.weight[0].numel(), config.hidden_size)  # 384 inputs -> 128: 0.108
    assert patch.weight.abs().max() <= bound and patch.weight.abs().max() > 0.95 * bound
    assert torch.count_nonzero(patch.bias) == 0
    attention = model.arvideo.encoder.layer[0].attention.attention
    qkv_bound = _uniform_bound(config.hidden_size, 3 * config.hidden_size)
    for projection in (attention.query, attention.key, attention.value):
        assert qkv_bound * 0.95 < projection.weight.abs().max() <= qkv_bound
    mlp = model.arvideo.encoder.layer[0].intermediate.dense
    assert _uniform_bound(128, 512) * 0.95 < mlp.weight.abs().max() <= _uniform_bound(128, 512)
    norm = model.arvideo.encoder.layer[0].layernorm_before
    assert torch.equal(norm.weight, torch.ones_like(norm.weight)) and torch.count_nonzero(norm.bias) == 0
    assert 0.015 < model.query_token.std() < 0.025
    # The content of a token is not drowned by its fixed position code, as it was with N(0, 0.02) everywhere.
    embeddings = model.arvideo.embeddings.patch_embeddings(clip(config, batch=4))
    assert embeddings.std() > 0.5 * model.arvideo.embeddings.position_embeddings.std()


def test_loading_keeps_weights_and_initializes_only_the_new_head(tmp_path):
    """`from_pretrained` must not re-initialize loaded weights; the new classifier head gets the xavier init."""
    torch.manual_seed(0)
    encoder = ARVideoModel(tiny_config())
    encoder.save_pretrained(tmp_path)
    classifier = ARVideoForVideoClassification.from_pretrained(tmp_path, num_labels=5)
    for name, tensor in encoder.state_dict().items():
        assert torch.equal(classifier.arvideo.state_dict()[name], tensor), name
    head = classifier.classifier.weight
    assert 0.95 * _uniform_bound(128, 5) < head.abs().max() <= _uniform_bound(128, 5)


def _moving_squares(count, seed):
    """4x4-pixel squares moving left (0) or right (1) by 2 pixels a frame over noise: only motion separates them."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 2
    clips = 0.3 * torch.randn(count, 8, 3, 16, 16, generator=generator)
    for i, label in enumerate(labels.tolist()):
        row, col = torch.randint(0, 16, (2,), generator=generator).tolist()
        for t in range(8):
            rows = [(row + d) % 16 for d in range(4)]
            cols = [(col + (2 if label else -2) * t + d) % 16 for d in range(4)]
            for r in rows:
                clips[i, t, :, r, cols] = 2.0
    return clips, labels


def test_fresh_tiny_classifier_learns_a_motion_task():
    """From scratch, with the default init and a plain AdamW loop, a tiny classifier separates left from right
    motion on clips it never saw (positions are random, so no single frame tells the class)."""
    torch.manual_seed(0)
    config = ARVideoConfig(
        image_size=16, patch_size=4, num_frames=8, tubelet_size=2, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, cluster_size=[1, 1, 1], num_labels=2,
    )
    model = ARVideoForVideoClassification(config)
    (train, labels), (test, test_labels) = _moving_squares(64, 0), _moving_squares(64, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(40):
        loss = model(train, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = (model.eval()(test).logits.argmax(-1) == test_labels).float().mean().item()
    assert loss.item() < 0.1 and accuracy >= 0.9, (loss.item(), accuracy)

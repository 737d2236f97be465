import numpy as np
import pytest
import torch

from arvideo_hf.data.transforms import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    EvalTransform,
    GroupMultiScaleCrop,
    PretrainingTransform,
    as_numpy_rng,
)


def random_clip(t=4, h=96, w=128, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)


def test_pretraining_output_shape_dtype_and_layout():
    out = PretrainingTransform(64)(random_clip(), np.random.default_rng(0))
    assert out.shape == (4, 3, 64, 64) and out.dtype == torch.float32 and out.is_contiguous()
    rect = PretrainingTransform((32, 48))(random_clip(), np.random.default_rng(0))
    assert rect.shape == (4, 3, 32, 48)


def test_normalization_uses_mean_and_std():
    frames = np.zeros((2, 80, 80, 3), dtype=np.uint8)
    frames[..., 0], frames[..., 1], frames[..., 2] = 0, 128, 255
    out = PretrainingTransform(64)(frames, np.random.default_rng(0))
    expected = [(v / 255 - m) / s for v, m, s in zip((0, 128, 255), IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)]
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.tensor(expected), atol=1e-5)
    custom = EvalTransform(64, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))(frames)
    assert torch.allclose(custom[:, 2], torch.ones(2, 64, 64)) and torch.allclose(custom[:, 0], -torch.ones(2, 64, 64))


def test_same_seed_same_clip_and_seeds_vary():
    clip = random_clip()
    transform = PretrainingTransform(64)
    a = transform(clip, np.random.default_rng(7))
    b = transform(clip, np.random.default_rng(7))
    assert torch.equal(a, b)
    torch_a = transform(clip, torch.Generator().manual_seed(3))
    torch_b = transform(clip, torch.Generator().manual_seed(3))
    assert torch.equal(torch_a, torch_b)
    outs = {transform(clip, np.random.default_rng(seed)).sum().item() for seed in range(20)}
    assert len(outs) > 5


def test_one_crop_for_all_frames():
    frame = random_clip(t=1)
    clip = np.repeat(frame, 5, axis=0)
    out = PretrainingTransform(48)(clip, np.random.default_rng(1))
    assert all(torch.equal(out[0], out[i]) for i in range(5))


def test_multiscale_crop_matches_videomae_choices():
    crop = GroupMultiScaleCrop(224)
    # VideoMAE on a 320x426 frame: sides int(320 * s) = 320, 280, 240, 211 (snapped? no: |211-224| >= 3)
    sizes = set(crop.crop_sizes(320, 426))
    assert sizes == {(h, w) for i, h in enumerate((320, 280, 240, 211)) for j, w in enumerate((320, 280, 240, 211))
                     if abs(i - j) <= 1}
    # sides within 3 pixels of the output are snapped to it
    assert (224, 224) in GroupMultiScaleCrop(224).crop_sizes(256, 256) and (225, 225) not in crop.crop_sizes(
        256, 256
    )
    offsets = GroupMultiScaleCrop.fixed_offsets(320, 426, 240, 280)
    assert len(offsets) == 13 and offsets[:5] == [(0, 0), (0, 144), (80, 0), (80, 144), (40, 72)]
    assert len(GroupMultiScaleCrop.fixed_offsets(320, 426, 240, 280, more_fix_crop=False)) == 5
    rng = np.random.default_rng(0)
    drawn = {crop.get_params(320, 426, rng) for _ in range(3000)}
    expected = {(top, left, h, w) for h, w in sizes for top, left in GroupMultiScaleCrop.fixed_offsets(320, 426, h, w)}
    assert drawn == expected  # every size with every grid offset, nothing else


def test_flip_and_generator_conversion():
    frames = np.zeros((1, 64, 64, 3), dtype=np.uint8)
    frames[:, :, :32] = 255
    flipped = PretrainingTransform(64, scales=(1.0,), flip_prob=1.0)(frames, 0)
    plain = PretrainingTransform(64, scales=(1.0,))(frames, 0)
    assert torch.equal(flipped, plain.flip(-1)) and not torch.equal(flipped, plain)
    assert as_numpy_rng(5).integers(1000) == np.random.default_rng(5).integers(1000)


def test_eval_transform_resizes_short_side_and_center_crops():
    frames = np.zeros((2, 60, 120, 3), dtype=np.uint8)
    frames[:, :, 24:96] = 255  # white center (a little wider than the 60x60 crop), black sides
    transform = EvalTransform(30, mean=(0, 0, 0), std=(1, 1, 1))
    assert transform.resized_shape(60, 120) == (30, 60)
    out = transform(frames)
    assert out.shape == (2, 3, 30, 30)
    assert out.min() > 0.99  # only the white center survives
    three = EvalTransform(30, mean=(0, 0, 0), std=(1, 1, 1), spatial_crops=3)
    left, right = three(frames, crop_index=0), three(frames, crop_index=2)
    assert left[..., 0].max() < 0.01 and right[..., -1].max() < 0.01  # side crops reach the black borders
    assert torch.equal(three(frames, crop_index=1), out)
    with pytest.raises(ValueError):
        EvalTransform(64, resize_short=32)


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        PretrainingTransform(32)(np.zeros((2, 40, 40, 3), dtype=np.float32), 0)
    with pytest.raises(ValueError, match="shape"):
        PretrainingTransform(32)(np.zeros((2, 3, 40, 40), dtype=np.uint8), 0)

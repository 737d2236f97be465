import logging

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from arvideo_hf.data import dataset as dataset_module
from arvideo_hf.data.dataset import TooManyBadVideosError, VideoClipDataset
from arvideo_hf.data.sampling import DenseSampler, SegmentSampler
from arvideo_hf.data.sources import VideoRecord, VideoSource
from arvideo_hf.data.transforms import EvalTransform, PretrainingTransform


def records(video_dir, names, labels=True):
    return [VideoRecord(str(video_dir / name), i % 3 if labels else None) for i, name in enumerate(names)]


GOOD = [f"good_{i}.mp4" for i in range(4)] + ["short.mp4"]


def ids_of(pixel_values):
    """Frame numbers of normalized counter frames (see conftest): invert the normalization first."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    levels = ((pixel_values * std + mean) * 255).mean(dim=(-3, -2, -1))
    return torch.round((levels - 16) / 5).long().tolist()


def test_items_and_labels(video_dir):
    source = VideoSource(records(video_dir, GOOD), id2label={0: "a", 1: "b", 2: "c"})
    dataset = VideoClipDataset(source, DenseSampler(4, 3), PretrainingTransform(32), seed=0)
    assert len(dataset) == 5 and dataset.id2label == {0: "a", 1: "b", 2: "c"}
    item = dataset[1]
    assert set(item) == {"pixel_values", "labels", "index"}
    assert item["pixel_values"].shape == (4, 3, 32, 32) and item["pixel_values"].dtype == torch.float32
    assert item["labels"].dtype == torch.long and item["labels"].item() == 1 and item["index"] == 1
    frames = ids_of(item["pixel_values"])
    assert np.all(np.diff(frames) == 3) and 0 <= frames[0] <= 40 - 12
    assert ids_of(dataset[4]["pixel_values"]) == [0, 3, 4, 4]  # 5-frame video padded with its last frame
    unlabeled = VideoClipDataset(records(video_dir, GOOD, labels=False), DenseSampler(4, 3), PretrainingTransform(32))
    assert "labels" not in unlabeled[0]


def test_eval_mode_is_deterministic(video_dir):
    dataset = VideoClipDataset(records(video_dir, GOOD), SegmentSampler(4), EvalTransform(32), train=False)
    assert ids_of(dataset[0]["pixel_values"]) == [5, 15, 25, 35]
    assert torch.equal(dataset[0]["pixel_values"], dataset[0]["pixel_values"])


def test_seeded_samples_depend_on_seed_epoch_and_index_only(video_dir):
    def make(seed):
        return VideoClipDataset(records(video_dir, GOOD), DenseSampler(4, 2), PretrainingTransform(32), seed=seed)

    a, b = make(0), make(0)
    assert all(torch.equal(a[i]["pixel_values"], b[i]["pixel_values"]) for i in range(4))
    epoch0 = [a[i]["pixel_values"] for i in range(4)]
    a.set_epoch(1)
    assert not all(torch.equal(epoch0[i], a[i]["pixel_values"]) for i in range(4))
    a.set_epoch(0)
    assert all(torch.equal(epoch0[i], a[i]["pixel_values"]) for i in range(4))


def test_repeated_augmentation_decodes_once(video_dir, monkeypatch):
    from arvideo_hf.data import dataset as dataset_module

    opened, seen = [], []
    real_open = dataset_module.open_video
    monkeypatch.setattr(dataset_module, "open_video", lambda path, **kw: opened.append(path) or real_open(path, **kw))

    def transform(frames, rng):  # records its input, returns a clip filled with one random draw
        seen.append(frames)
        return torch.full((len(frames), 3, 2, 2), float(rng.random()))

    dataset = VideoClipDataset(records(video_dir, GOOD), DenseSampler(4, 2), transform, repeated_aug=3, seed=0)
    clips = dataset[0]["pixel_values"]
    assert len(opened) == 1 and len(seen) == 3
    assert seen[0] is seen[1] is seen[2]  # one decoded clip ...
    assert clips.shape == (3, 4, 3, 2, 2) and len({clip[0, 0, 0, 0].item() for clip in clips}) == 3  # ... 3 draws
    real = VideoClipDataset(records(video_dir, GOOD), DenseSampler(4, 2), PretrainingTransform(32), repeated_aug=2)
    assert real[0]["pixel_values"].shape == (2, 4, 3, 32, 32)


def test_bad_videos_are_replaced_counted_and_logged(video_dir, broken_names, caplog):
    names = GOOD * 4 + ["garbage.mp4", "missing.mp4"]  # 2 bad of 22 (9%)
    dataset = VideoClipDataset(records(video_dir, names), DenseSampler(4, 2), PretrainingTransform(32), seed=0)
    with caplog.at_level(logging.WARNING, logger="arvideo_hf.data.dataset"):
        first = dataset[20]
        again = dataset[20]
    assert first["index"] != 20 and first["index"] == again["index"]  # deterministic replacement
    assert names[first["index"]] in GOOD
    assert torch.equal(first["pixel_values"], again["pixel_values"])
    assert caplog.text.count("Skipping undecodable video (sample 20)") == 1  # warned once, then skipped
    dataset[21]
    assert dataset.num_bad == 2 and dataset.bad_log.bad_indices() == [20, 21]
    assert dataset.bad_paths() == [str(video_dir / "garbage.mp4"), str(video_dir / "missing.mp4")]
    dataset.check_bad_fraction()  # 9% <= 10%: fine


def test_too_many_bad_videos_raise_with_paths(video_dir, broken_names):
    names = GOOD[:3] + list(broken_names)  # 5 bad of 8
    dataset = VideoClipDataset(records(video_dir, names), DenseSampler(4, 2), PretrainingTransform(32),
                               max_bad_fraction=0.25)
    with pytest.raises(TooManyBadVideosError) as info:
        for index in range(len(dataset)):
            dataset[index]
    assert dataset.num_bad == 3  # raised as soon as 3 of 8 (> 25%) had failed
    message = str(info.value)
    assert "3 of 8 videos" in message and all(path in message for path in dataset.bad_paths())
    lenient = VideoClipDataset(records(video_dir, names), DenseSampler(4, 2), PretrainingTransform(32),
                               max_bad_fraction=0.7)
    assert all(names[lenient[i]["index"]] in GOOD for i in range(len(names)))
    assert lenient.num_bad == 5


def test_bad_counts_reach_the_main_process_from_workers(video_dir, broken_names):
    names = GOOD * 8 + ["empty.mp4", "cut.mp4", "garbage.mp4"]
    dataset = VideoClipDataset(records(video_dir, names), DenseSampler(4, 2), PretrainingTransform(32), seed=0)
    loader = DataLoader(dataset, batch_size=4, num_workers=2, multiprocessing_context="fork")
    indices = torch.cat([batch["index"] for batch in loader])
    assert len(indices) == len(names) and not set(indices.tolist()) & {40, 41, 42}
    assert dataset.num_bad == 3 and dataset.bad_log.bad_indices() == [40, 41, 42]


def test_factories_follow_the_config(video_dir):
    class Config:
        num_frames, image_size = 4, 32
        image_mean, image_std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)

    train = VideoClipDataset.for_pretraining(records(video_dir, GOOD), Config, stride=2, seed=0)
    assert isinstance(train.transform, PretrainingTransform) and train.sampler == DenseSampler(4, 2)
    assert train[0]["pixel_values"].shape == (4, 3, 32, 32)
    test = VideoClipDataset.for_evaluation(records(video_dir, GOOD), Config, sampling="segment")
    assert not test.train and test.sampler == SegmentSampler(4)
    assert test[0]["pixel_values"].min() >= -1 and test[0]["pixel_values"].max() <= 1


def test_decoded_video_cache_gives_the_same_clips_and_stops_decoding(video_dir, monkeypatch):
    """`cache_mb`: the first epoch decodes whole small videos into memory, later epochs read them from there; every
    clip equals the one decoding gives, and a file whose header promises missing frames still yields its clip."""
    names = [*GOOD, "partial.mp4"]

    def make(cache_mb):
        return VideoClipDataset(records(video_dir, names), DenseSampler(4, 2), PretrainingTransform(32), seed=0,
                                cache_mb=cache_mb, max_bad_fraction=1.0)

    plain, cached = make(0), make(64)
    expected = {}
    for epoch in (0, 1):
        plain.set_epoch(epoch)
        expected[epoch] = [plain[i]["pixel_values"] for i in range(len(names))]
    first = [cached[i]["pixel_values"] for i in range(len(names))]
    assert sorted(cached._cache) == [0, 1, 2, 3, 4]  # partial.mp4 is read clip by clip, never cached
    assert all(torch.equal(a, b) for a, b in zip(first, expected[0]))

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cached video was decoded again")

    monkeypatch.setattr(dataset_module, "open_video", no_decoding)
    cached.set_epoch(1)
    assert all(torch.equal(cached[i]["pixel_values"], expected[1][i]) for i in range(5))
    tight = make(0.01)  # smaller than one decoded video: nothing is cached
    monkeypatch.undo()
    tight[0]
    assert tight._cache == {} and tight._cached_bytes == 0

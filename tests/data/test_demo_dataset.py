import json
from collections import Counter

import numpy as np
import pytest

from arvideo_hf.data.decoding import decode_frames
from arvideo_hf.data.demo_dataset import (
    DEMO_CLASSES,
    build_demo_dataset,
    default_demo_root,
    load_backgrounds,
    load_digits,
    render_demo_video,
)
from arvideo_hf.data.sources import read_class_folder, read_kinetics_list


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
    return build_demo_dataset(tmp_path_factory.mktemp("demo") / "a", seed=3, num_train=12, num_test=6, num_unlabeled=12)


def decode_all(root, list_name):
    source = read_kinetics_list(root / list_name, root)
    return [decode_frames(record.path, range(32)) for record in source.records]


def test_layout_lists_and_balance(demo_root):
    train = read_kinetics_list(demo_root / "train.txt", demo_root, label_names=demo_root / "labels.txt")
    test = read_kinetics_list(demo_root / "test.txt", demo_root, label_names=demo_root / "id2label.json")
    assert len(train) == 12 and len(test) == 6 and not train.bad_lines and not test.bad_lines
    assert train.id2label == test.id2label == dict(enumerate(DEMO_CLASSES))
    assert Counter(r.label for r in train.records) == {label: 2 for label in range(6)}
    assert Counter(r.label for r in test.records) == {label: 1 for label in range(6)}
    first = (demo_root / "train.txt").read_text().splitlines()[0]
    assert first == "train/move_down/00000.mp4 0"  # relative path, single space
    assert read_class_folder(demo_root / "train").id2label == train.id2label
    unlabeled = read_kinetics_list(demo_root / "unlabeled.txt", demo_root, labels=False)
    low = read_kinetics_list(demo_root / "train_10pct.txt", demo_root, label_names=demo_root / "labels.txt")
    assert len(unlabeled) == 12 and (demo_root / "unlabeled.txt").read_text().splitlines()[0] == "unlabeled/00000.mp4"
    assert [r.path for r in low.records] == [r.path for r in train.records[:6]]  # the first 10%, at least a class each
    assert Counter(r.label for r in low.records) == {label: 1 for label in range(6)}
    frames = decode_frames(train.records[0].path, range(32))
    assert frames.shape == (32, 32, 32, 3)
    assert json.loads((demo_root / ".complete.json").read_text())["seed"] == 3


def test_same_seed_same_frames_other_seed_other_frames(demo_root, tmp_path):
    again = build_demo_dataset(tmp_path / "b", seed=3, num_train=12, num_test=6, num_unlabeled=12)
    for name in ("train.txt", "test.txt"):
        assert (again / name).read_text() == (demo_root / name).read_text()
        assert all(np.array_equal(a, b) for a, b in zip(decode_all(demo_root, name), decode_all(again, name)))
    other = build_demo_dataset(tmp_path / "c", seed=4, num_train=6, num_test=0, num_unlabeled=12)
    assert not np.array_equal(decode_all(other, "train.txt")[0], decode_all(demo_root, "train.txt")[0])


def test_idempotent_and_interrupted_builds_are_redone(tmp_path):
    root = build_demo_dataset(tmp_path / "d", seed=0, num_train=6, num_test=0, num_unlabeled=12)
    video = root / "train" / "move_down" / "00000.mp4"
    stamp = video.stat().st_mtime_ns
    assert build_demo_dataset(root, seed=0, num_train=6, num_test=0, num_unlabeled=12) == root
    assert video.stat().st_mtime_ns == stamp  # reused, not rebuilt
    video.write_bytes(b"half-written")
    (root / ".complete.json").unlink()  # as if the build had been interrupted
    build_demo_dataset(root, seed=0, num_train=6, num_test=0, num_unlabeled=12)
    assert decode_frames(video, [0, 31]).shape == (2, 32, 32, 3)
    build_demo_dataset(root, seed=0, num_train=12, num_test=0, num_unlabeled=12)  # other parameters: rebuilt
    assert len((root / "train.txt").read_text().splitlines()) == 12


def test_a_single_frame_does_not_reveal_the_class():
    """With the same random draws every class renders the same first frame; only motion differs."""
    digits, _ = load_digits()
    backgrounds = load_backgrounds()
    clips = [render_demo_video(label, np.random.default_rng(11), digits, backgrounds) for label in range(6)]
    assert all(np.array_equal(clips[0][0], clip[0]) for clip in clips)
    assert all(not np.array_equal(clips[0][-1], clip[-1]) for clip in clips[1:])
    assert clips[0].shape == (32, 32, 32, 3) and clips[0].dtype == np.uint8


def test_default_root_honors_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ARVIDEO_DEMO_DIR", str(tmp_path / "x"))
    assert default_demo_root() == tmp_path / "x"
    monkeypatch.delenv("ARVIDEO_DEMO_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_demo_root() == tmp_path / "cache" / "arvideo_hf" / "demo-v2"

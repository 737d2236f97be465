import json
from collections import Counter

import numpy as np
import pytest

from arvideo_hf.data.__main__ import main as data_main
from arvideo_hf.data.decoding import decode_frames
from arvideo_hf.data.frame_check import frame_check
from arvideo_hf.data.hard_dataset import (
    HARD_CLASSES,
    SOURCES,
    _draw,
    _trajectory,
    build_hard_dataset,
    default_hard_root,
    load_sources,
    render_hard_video,
)
from arvideo_hf.data.sources import read_class_folder, read_kinetics_list


@pytest.fixture(scope="module")
def hard_root(tmp_path_factory):
    return build_hard_dataset(tmp_path_factory.mktemp("hard") / "a", seed=3, num_train=48, num_test=24,
                              num_unlabeled=6)


def test_layout_lists_and_balance(hard_root):
    train = read_kinetics_list(hard_root / "train.txt", hard_root, label_names=hard_root / "labels.txt")
    test = read_kinetics_list(hard_root / "test.txt", hard_root, label_names=hard_root / "id2label.json")
    assert len(HARD_CLASSES) >= 10 and list(HARD_CLASSES) == sorted(HARD_CLASSES)
    assert train.id2label == test.id2label == dict(enumerate(HARD_CLASSES))
    assert Counter(r.label for r in train.records) == {label: 4 for label in range(12)}
    assert Counter(r.label for r in test.records) == {label: 2 for label in range(12)}
    assert read_class_folder(hard_root / "train").id2label == train.id2label
    low = read_kinetics_list(hard_root / "train_10pct.txt", hard_root)
    assert Counter(r.label for r in low.records) == {label: 1 for label in range(12)}  # at least a class each
    assert len(read_kinetics_list(hard_root / "unlabeled.txt", hard_root, labels=False)) == 6
    assert decode_frames(train.records[0].path, range(32)).shape == (32, 32, 32, 3)
    assert json.loads((hard_root / ".complete.json").read_text())["num_train"] == 48


def test_same_seed_same_frames_and_reuse(hard_root, tmp_path):
    again = build_hard_dataset(tmp_path / "b", seed=3, num_train=12, num_test=0, num_unlabeled=0)
    first = read_kinetics_list(again / "train.txt", again).records[0].path
    assert np.array_equal(decode_frames(first, range(32)),
                          decode_frames(read_kinetics_list(hard_root / "train.txt", hard_root).records[0].path,
                                        range(32)))
    stamp = (again / "train.txt").stat().st_mtime_ns
    build_hard_dataset(again, seed=3, num_train=12, num_test=0, num_unlabeled=0)
    assert (again / "train.txt").stat().st_mtime_ns == stamp  # a finished build is reused


def test_backgrounds_are_full_contrast_natural_video_from_few_sources():
    sources = load_sources()
    assert len(sources) == len(SOURCES) <= 8
    for clip in sources:
        assert clip.shape[0] >= 32
        assert clip.std() > 25  # full contrast (the demo set's background is dimmed to 25%)
        # a fixed camera: consecutive frames stay close (no shot cuts inside a source)
        assert np.abs(np.diff(clip, axis=0)).mean(axis=(1, 2, 3)).max() < 30


def _best_shift(first: np.ndarray, last: np.ndarray) -> tuple[int, int]:
    """The wrap-around `(rows, columns)` shift that best maps frame `first` onto frame `last`."""
    shifts = [(dy, dx) for dy in range(-20, 21) for dx in range(-20, 21)]
    errors = [np.abs(np.roll(first, shift, axis=(0, 1)).astype(np.float32) - last).mean() for shift in shifts]
    return shifts[int(np.argmin(errors))]


def test_only_the_motion_differs_between_classes():
    """The same random draws give every class the same object, background and first frame (approach/recede: the same
    object at another point of the size range); the classes differ in how it moves."""
    clips = {name: render_hard_video(label, np.random.default_rng(5), load_sources())
             for label, name in enumerate(HARD_CLASSES)}
    still = clips["still"]
    for name, clip in clips.items():
        if name not in ("approach", "recede"):
            assert np.array_equal(clip[0], still[0]), name
        if name != "still":
            assert not np.array_equal(clip[8], still[8]), name
    # on a plain background the object moves the way its class says (wrapping around the edges)
    gray = {name: render_hard_video(label, np.random.default_rng(9), None, num_frames=9, size=64)
            for label, name in enumerate(HARD_CLASSES)}
    shifts = {name: _best_shift(gray[name][0], gray[name][-1]) for name in ("move_right", "move_left", "move_down",
                                                                             "move_up", "move_left_return", "still")}
    assert shifts["move_right"][1] > 5 and shifts["move_left"][1] < -5 and shifts["move_right"][0] == 0
    assert shifts["move_down"][0] > 5 and shifts["move_up"][0] < -5 and shifts["move_up"][1] == 0
    assert shifts["move_left_return"] == shifts["still"] == (0, 0)  # back where it started
    area = {name: (np.abs(gray[name].astype(np.float32) - 128).sum(-1) > 30).sum((1, 2)) for name in gray}
    assert area["approach"][-1] > 1.5 * area["approach"][0] and area["recede"][-1] < area["recede"][0] / 1.5


def test_every_frame_size_is_distributed_alike_in_every_class():
    """A single frame cannot tell approach from recede or from a still object by its size."""
    t = np.arange(32, dtype=np.float32)
    samples = {name: np.concatenate([_trajectory(name, _draw(np.random.default_rng(i), 32), t, 32)[3]
                                     for i in range(400)]) for name in ("approach", "recede", "still", "move_up")}
    quantiles = {name: np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95]) for name, values in samples.items()}
    for name in ("recede", "still", "move_up"):
        assert np.abs(quantiles[name] - quantiles["approach"]).max() < 0.05, name


def test_frame_check_and_cli(hard_root, tmp_path, capsys):
    result = frame_check(hard_root, epochs=1, frames_per_video=2)
    assert result["num_classes"] == 12 and result["chance_top1"] == pytest.approx(8.33)
    assert result["num_train_videos"] == 48 and result["num_test_videos"] == 24
    for key in ("single_frame_top1", "frame_pair_top1", "single_frame_train_top1"):
        assert 0.0 <= result[key] <= 100.0
    assert data_main(["build-hard", "--root", str(tmp_path / "c"), "--num-train", "12", "--num-test", "12",
                      "--num-unlabeled", "0"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "c")
    assert len((tmp_path / "c" / "test.txt").read_text().splitlines()) == 12


def test_default_root_honors_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ARVIDEO_HARD_DIR", str(tmp_path / "x"))
    assert default_hard_root() == tmp_path / "x"
    monkeypatch.delenv("ARVIDEO_HARD_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_hard_root() == tmp_path / "cache" / "arvideo_hf" / "hard-v1"

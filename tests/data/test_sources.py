import json
import os

import datasets
import pytest

from arvideo_hf.data.sources import (
    AnnotationError,
    VideoRecord,
    read_class_folder,
    read_kinetics_list,
    read_label_names,
    read_ssv2_json,
    records_from_hf_dataset,
)


def test_kinetics_list_with_labels_and_bad_lines(tmp_path, caplog):
    list_file = tmp_path / "train.txt"
    list_file.write_text(
        "abseiling/a.mp4 0\n"
        "\n"
        "air drumming/b c.mp4 1\n"  # spaces in the path are fine when the label is last
        "abseiling/d.mp4 x\n"  # line 4: label is not an integer
        "abseiling/e.mp4  2\n"  # line 5: two spaces
        "abseiling/f.mp4\t2\n"  # line 6: tab
        "abseiling/g.mp4\n"  # line 7: missing label
        "/abs/h.mp4 3\n"
    )
    with pytest.raises(AnnotationError, match=r"(?s)train.txt:8: resolves outside the root .*--allow_outside_root"):
        read_kinetics_list(list_file, root=tmp_path / "videos")  # the absolute path of line 8
    source = read_kinetics_list(list_file, root=tmp_path / "videos", allow_outside_root=True)
    assert source.records == [
        VideoRecord(os.path.join(tmp_path, "videos", "abseiling", "a.mp4"), 0),
        VideoRecord(os.path.join(tmp_path, "videos", "air drumming", "b c.mp4"), 1),
        VideoRecord("/abs/h.mp4", 3),
    ]
    assert [bad.line_number for bad in source.bad_lines] == [4, 5, 6, 7]
    assert "not a non-negative integer" in source.bad_lines[0].reason
    assert source.bad_lines[3].reason == "missing label"
    assert source.has_labels and source.num_classes == 4
    assert "train.txt:4" in caplog.text
    with pytest.raises(AnnotationError, match="4 bad line"):
        read_kinetics_list(list_file, root=tmp_path, strict=True, allow_outside_root=True)


def test_kinetics_list_without_labels(tmp_path):
    list_file = tmp_path / "pretrain.txt"
    list_file.write_text("v/a.mp4\nv/b.mp4\nv/c.mp4 5\n")
    source = read_kinetics_list(list_file, root="/data")
    assert [r.path for r in source.records] == ["/data/v/a.mp4", "/data/v/b.mp4"]
    assert all(r.label is None for r in source.records) and not source.has_labels
    assert [b.line_number for b in source.bad_lines] == [3]
    # Pretraining (labels=False): labels are optional and dropped; a non-integer last field is part of the path.
    list_file.write_text("v/a.mp4\nv/b.mp4 3\nv/my clip.mp4\nv/c.mp4  5\n")
    source = read_kinetics_list(list_file, labels=False)
    assert source.records == [VideoRecord("v/a.mp4"), VideoRecord("v/b.mp4"), VideoRecord("v/my clip.mp4")]
    assert [b.line_number for b in source.bad_lines] == [4]
    with pytest.raises(AnnotationError, match="missing label"):
        read_kinetics_list(list_file, labels=True, strict=True)


def test_label_names_in_both_formats(tmp_path):
    (tmp_path / "labels.txt").write_text("cat\ndog\n")
    (tmp_path / "id2label.json").write_text(json.dumps({"1": "dog", "0": "cat"}))
    assert read_label_names(tmp_path / "labels.txt") == read_label_names(tmp_path / "id2label.json") == {
        0: "cat",
        1: "dog",
    }
    (tmp_path / "list.txt").write_text("a.mp4 1\nb.mp4 2\n")
    with pytest.raises(AnnotationError, match=r"list.txt:2: label 2 is not in .*labels.txt \(2 classes\)"):
        read_kinetics_list(tmp_path / "list.txt", label_names=tmp_path / "labels.txt")  # an error, not a new class
    (tmp_path / "list.txt").write_text("a.mp4 1\nb.mp4 0\n")
    source = read_kinetics_list(tmp_path / "list.txt", label_names=tmp_path / "labels.txt")
    assert source.id2label == {0: "cat", 1: "dog"} and source.label2id == {"cat": 0, "dog": 1}
    assert len(source) == 2 and not source.bad_lines


def test_ssv2_json(tmp_path):
    labels = {"Holding something next to something": "1", "Pushing something from left to right": "0"}
    items = [
        {"id": "78687", "label": "holding potato next to vicks", "template": "Holding [something] next to [something]"},
        {"id": "42326", "template": "Pushing [something] from left to right"},
        {"id": "9", "template": "Dancing with [something]"},  # unknown template
        {"template": "Pushing [something] from left to right"},  # no id
    ]
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    (tmp_path / "train.json").write_text(json.dumps(items))
    (tmp_path / "test.json").write_text(json.dumps([{"id": "5"}]))
    source = read_ssv2_json(tmp_path / "train.json", tmp_path / "labels.json", root="/ssv2")
    assert source.records == [VideoRecord("/ssv2/78687.webm", 1), VideoRecord("/ssv2/42326.webm", 0)]
    assert source.id2label == {0: "Pushing something from left to right", 1: "Holding something next to something"}
    assert [b.line_number for b in source.bad_lines] == [3, 4]
    test = read_ssv2_json(tmp_path / "test.json", tmp_path / "labels.json", root="/ssv2", video_extension=".mp4")
    assert test.records == [VideoRecord("/ssv2/5.mp4", None)]


def test_class_folder(tmp_path):
    for name in ("walk", "jump", ".hidden"):
        (tmp_path / name).mkdir()
    (tmp_path / "walk" / "b.mp4").write_bytes(b"x")
    (tmp_path / "walk" / "a.MP4").write_bytes(b"x")
    (tmp_path / "walk" / "notes.txt").write_text("not a video")
    (tmp_path / "jump" / "sub").mkdir()
    (tmp_path / "jump" / "sub" / "c.webm").write_bytes(b"x")
    source = read_class_folder(tmp_path)
    assert source.id2label == {0: "jump", 1: "walk"}
    assert [(os.path.relpath(r.path, tmp_path), r.label) for r in source.records] == [
        ("jump/sub/c.webm", 0),
        ("walk/a.MP4", 1),
        ("walk/b.mp4", 1),
    ]
    with pytest.raises(AnnotationError):
        read_class_folder(tmp_path / "walk")


def test_hf_dataset_columns(tmp_path):
    features = datasets.Features(
        {"video_path": datasets.Value("string"), "label": datasets.ClassLabel(names=["a", "b", "c"])}
    )
    ds = datasets.Dataset.from_dict({"video_path": ["x.mp4", "y.mp4", ""], "label": [2, 0, 1]}, features=features)
    source = records_from_hf_dataset(ds, "video_path", "label", root="/r")
    assert source.records == [VideoRecord("/r/x.mp4", 2), VideoRecord("/r/y.mp4", 0)]
    assert source.id2label == {0: "a", 1: "b", 2: "c"}
    assert [b.line_number for b in source.bad_lines] == [2]
    unlabeled = records_from_hf_dataset(ds, "video_path")
    assert unlabeled.records[0] == VideoRecord("x.mp4", None) and unlabeled.id2label is None
    with pytest.raises(AnnotationError, match="no column"):
        records_from_hf_dataset(ds, "video")


def test_hf_video_feature_is_not_decoded(video_dir):
    if not hasattr(datasets, "Video"):
        pytest.skip("datasets without a Video feature")
    path = str(video_dir / "good_0.mp4")
    ds = datasets.Dataset.from_dict({"video": [path]}).cast_column("video", datasets.Video())
    source = records_from_hf_dataset(ds)
    assert source.records == [VideoRecord(path, None)]

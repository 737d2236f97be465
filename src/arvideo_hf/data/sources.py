"""Where the videos are: one record type and readers for the usual annotation formats.

Every reader returns a [`VideoSource`]: the `(path, label)` records, `id2label` when the format
names its classes, and the lines it could not parse, so that a bad annotation line is reported
with its line number instead of silently dropped or crashing a run halfway through an epoch.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".webm", ".avi", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".ogv")

__all__ = [
    "VIDEO_EXTENSIONS",
    "VideoRecord",
    "BadLine",
    "VideoSource",
    "AnnotationError",
    "read_kinetics_list",
    "read_label_names",
    "read_ssv2_json",
    "read_class_folder",
    "records_from_hf_dataset",
]


class AnnotationError(ValueError):
    """An annotation file cannot be used at all (or has bad lines and `strict=True`)."""


@dataclass(frozen=True)
class VideoRecord:
    """One video: an absolute (or root-resolved) path and its class id, `None` when unlabeled."""

    path: str
    label: int | None = None


@dataclass(frozen=True)
class BadLine:
    """An annotation line that could not be parsed (1-based `line_number`)."""

    source: str
    line_number: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line_number}: {self.reason}: {self.text!r}"


@dataclass
class VideoSource:
    """The result of reading an annotation source."""

    records: list[VideoRecord]
    id2label: dict[int, str] | None = None
    bad_lines: list[BadLine] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def has_labels(self) -> bool:
        return bool(self.records) and all(record.label is not None for record in self.records)

    @property
    def label2id(self) -> dict[str, int] | None:
        return None if self.id2label is None else {name: idx for idx, name in self.id2label.items()}

    @property
    def num_classes(self) -> int | None:
        if self.id2label is not None:
            return len(self.id2label)
        labels = [record.label for record in self.records if record.label is not None]
        return max(labels) + 1 if labels else None


def unpack_records(records: Sequence[VideoRecord] | VideoSource) -> tuple[list[VideoRecord], dict[int, str] | None]:
    """Records and `id2label` (None for a bare list) from whatever a reader or a user passed to a dataset."""
    if isinstance(records, VideoSource):
        return list(records.records), records.id2label
    return list(records), None


def _resolve(root: str | os.PathLike | None, path: str) -> str:
    return os.path.normpath(os.path.join(os.fspath(root), path)) if root is not None else os.path.normpath(path)


def _report(bad_lines: list[BadLine], strict: bool, what: str) -> None:
    if not bad_lines:
        return
    shown = "\n  ".join(str(bad) for bad in bad_lines[:10])
    more = f"\n  ... and {len(bad_lines) - 10} more" if len(bad_lines) > 10 else ""
    message = f"{len(bad_lines)} bad line(s) in {what}:\n  {shown}{more}"
    if strict:
        raise AnnotationError(message)
    logger.warning(message)


def read_label_names(path: str | os.PathLike) -> dict[int, str]:
    """Read class names: `id2label.json` (`{"0": "name"}`), or a text file with one name per line."""
    path = Path(path)
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        if isinstance(data, list):
            return dict(enumerate(map(str, data)))
        return {int(key): str(value) for key, value in sorted(data.items(), key=lambda item: int(item[0]))}
    names = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    return dict(enumerate(name for name in names if name))


def read_kinetics_list(
    list_file: str | os.PathLike,
    root: str | os.PathLike | None = None,
    *,
    labels: bool | None = None,
    label_names: str | os.PathLike | None = None,
    strict: bool = False,
    allow_outside_root: bool = False,
) -> VideoSource:
    """Read a Kinetics/VideoMAE-style list: one `path label` per line, single-space separated.

    Args:
        list_file: the annotation file. Blank lines and lines starting with `#` are ignored.
        root: directory that relative paths are resolved against (`None`: as written).
        labels: `True` requires a label on every line; `None` decides from the first non-blank
            line and then requires the same on every line; `False` (pretraining) accepts lines
            with or without a label and drops the labels, a last field that is not an integer
            being part of the path.
        label_names: optional `labels.txt`/`id2label.json` giving `id2label`.
        strict: raise [`AnnotationError`] on any bad line instead of skipping it with a warning.
        allow_outside_root: accept paths that resolve outside `root` (`../x`, absolute paths); by default such a
            list is refused, naming its lines, since a list handed to you could point anywhere.

    The label is the last space-separated field, so paths containing spaces work when labeled. A UTF-8 byte order
    mark is skipped. A label outside `label_names` is an error naming the lines (it is no class the run knows).
    """
    list_file = os.fspath(list_file)
    records: list[VideoRecord] = []
    bad: list[BadLine] = []
    id2label = read_label_names(label_names) if label_names is not None else None
    drop_labels = labels is False
    expect_labels = labels  # None until the first line decides (only when `labels is None`)
    unknown: list[BadLine] = []
    outside: list[BadLine] = []
    with open(list_file, encoding="utf-8-sig") as handle:
        for line_number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            path, label, reason = _parse_list_line(line, label_optional=drop_labels)
            if reason is None:
                if drop_labels:
                    label = None
                elif expect_labels is None:
                    expect_labels = label is not None
                elif expect_labels and label is None:
                    reason = "missing label"
                elif not expect_labels and label is not None:
                    reason = "unexpected label (the first line has none)"
                if reason is None and label is not None and id2label is not None and label not in id2label:
                    unknown.append(BadLine(list_file, line_number, line, f"label {label} is not in "
                                           f"{os.fspath(label_names)} ({len(id2label)} classes)"))
                    continue
            if reason is not None:
                bad.append(BadLine(list_file, line_number, line, reason))
                continue
            resolved = _resolve(root, path)
            if root is not None and not allow_outside_root and not _inside(resolved, root):
                outside.append(BadLine(list_file, line_number, line, f"resolves outside the root {os.fspath(root)}"))
                continue
            records.append(VideoRecord(resolved, label))
    _refuse(unknown, "Fix the labels, or pass the class list the list was written with.")
    _refuse(outside, "Use paths inside the root, or pass --allow_outside_root if you trust the list.")
    _report(bad, strict, list_file)
    return VideoSource(records, id2label, bad)


def _inside(path: str, root: str | os.PathLike) -> bool:
    root = os.path.normpath(os.path.abspath(root))
    return os.path.commonpath([os.path.abspath(path), root]) == root


def _refuse(lines: list[BadLine], fix: str) -> None:
    """An `AnnotationError` naming the first lines, when there are any: these make the whole list unusable."""
    if lines:
        shown = "\n  ".join(str(line) for line in lines[:10])
        raise AnnotationError(f"{len(lines)} line(s) refused:\n  {shown}\n{fix}")


def _parse_list_line(line: str, label_optional: bool = False) -> tuple[str, int | None, str | None]:
    """Split `path [label]`; returns `(path, label, reason)` with `reason` set for a bad line.

    With `label_optional`, a last field that is not an integer belongs to the path.
    """
    if line != line.strip():
        return "", None, "leading or trailing whitespace"
    if "\t" in line:
        return "", None, "tab character (fields are separated by a single space)"
    head, sep, tail = line.rpartition(" ")
    if not sep:
        return line, None, None
    if not head or head.endswith(" "):
        return "", None, "empty path or more than one space before the label"
    if not re.fullmatch(r"\d+", tail):
        if label_optional:
            return line, None, None
        return "", None, f"label {tail!r} is not a non-negative integer"
    return head, int(tail), None


_BRACKETS = re.compile(r"[\[\]]")


def read_ssv2_json(
    annotation_file: str | os.PathLike,
    labels_file: str | os.PathLike,
    root: str | os.PathLike | None = None,
    *,
    video_extension: str = ".webm",
    strict: bool = False,
) -> VideoSource:
    """Read the official Something-Something-v2 annotations.

    `annotation_file` is `something-something-v2-{train,validation,test}.json`: a list of
    `{"id": "78687", "template": "Holding [something] next to [something]", ...}`.
    `labels_file` is `something-something-v2-labels.json` (`labels.json`), mapping each template
    *without brackets* to its class id as a string. The video of item `id` is
    `root/<id><video_extension>`. Test items carry no template and get `label=None`.
    """
    annotation_file = os.fspath(annotation_file)
    with open(labels_file, encoding="utf-8") as handle:
        template_to_id = {name: int(idx) for name, idx in json.load(handle).items()}
    id2label = {idx: name for name, idx in sorted(template_to_id.items(), key=lambda item: item[1])}
    with open(annotation_file, encoding="utf-8") as handle:
        items = json.load(handle)
    if not isinstance(items, list):
        raise AnnotationError(f"{annotation_file}: expected a JSON list of items, got {type(items).__name__}")
    records: list[VideoRecord] = []
    bad: list[BadLine] = []
    for position, item in enumerate(items, start=1):
        reason, label = None, None
        if not isinstance(item, Mapping) or "id" not in item:
            reason = "item without an 'id'"
        elif "template" in item:
            template = _BRACKETS.sub("", str(item["template"]))
            label = template_to_id.get(template)
            if label is None:
                reason = f"template {template!r} is not in {os.fspath(labels_file)}"
        if reason is not None:
            bad.append(BadLine(annotation_file, position, json.dumps(item)[:200], reason))
            continue
        records.append(VideoRecord(_resolve(root, f"{item['id']}{video_extension}"), label))
    _report(bad, strict, f"{annotation_file} (numbers are item positions)")
    return VideoSource(records, id2label, bad)


def read_class_folder(
    root: str | os.PathLike, *, extensions: Iterable[str] = VIDEO_EXTENSIONS
) -> VideoSource:
    """Read `root/<class name>/**/<video>`: class ids follow the sorted class-folder names."""
    root = Path(root)
    if not root.is_dir():
        raise AnnotationError(f"{root} is not a directory")
    suffixes = {ext.lower() for ext in extensions}
    classes = sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not classes:
        raise AnnotationError(f"{root} has no class sub-folders")
    records = [
        VideoRecord(os.fspath(path), label)
        for label, name in enumerate(classes)
        for path in sorted((root / name).rglob("*"))
        if path.is_file() and path.suffix.lower() in suffixes
    ]
    if not records:
        raise AnnotationError(f"no videos with extensions {sorted(suffixes)} under {root}")
    return VideoSource(records, dict(enumerate(classes)))


def records_from_hf_dataset(
    dataset: Any,
    video_column: str = "video",
    label_column: str | None = None,
    root: str | os.PathLike | None = None,
) -> VideoSource:
    """Records from a Hugging Face `datasets.Dataset` whose `video_column` holds file paths.

    The column may hold strings or a `datasets.Video` feature (read with `decode=False`, so no
    decoder is opened). A `ClassLabel` label column also provides `id2label`.
    """
    if video_column not in dataset.column_names:
        raise AnnotationError(f"dataset has no column {video_column!r}; columns: {dataset.column_names}")
    if label_column is not None and label_column not in dataset.column_names:
        raise AnnotationError(f"dataset has no column {label_column!r}; columns: {dataset.column_names}")
    feature = dataset.features[video_column]
    if type(feature).__name__ == "Video" and getattr(feature, "decode", False):
        dataset = dataset.cast_column(video_column, type(feature)(decode=False))
    columns = [video_column] + ([label_column] if label_column is not None else [])
    table = dataset.select_columns(columns).to_dict()
    records: list[VideoRecord] = []
    bad: list[BadLine] = []
    labels = table[label_column] if label_column is not None else [None] * len(table[video_column])
    for row, (value, label) in enumerate(zip(table[video_column], labels, strict=True)):
        path = value.get("path") if isinstance(value, Mapping) else value
        if not isinstance(path, str) or not path:
            bad.append(BadLine(f"dataset[{video_column!r}]", row, repr(value)[:200], "no file path"))
            continue
        if label_column is not None and (label is None or int(label) < 0):
            bad.append(BadLine(f"dataset[{label_column!r}]", row, repr(label), "missing label"))
            continue
        records.append(VideoRecord(_resolve(root, path), None if label is None else int(label)))
    id2label = None
    if label_column is not None and hasattr(dataset.features[label_column], "names"):
        id2label = dict(enumerate(dataset.features[label_column].names))
    _report(bad, False, "dataset (numbers are row indices)")
    return VideoSource(records, id2label, bad)

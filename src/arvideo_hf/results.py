# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Measured numbers: the one record of a top-1/top-5 result (`Result`), the datasets it names, the paper's own
numbers, and the README blocks generated from committed results files.

A `Result` is what evaluation writes (`eval_results.json` in a model folder), what a zoo entry lists and what a model
card prints. It says where the number came from: `source="measured"` (this project; `reference` is the exact command)
or `source="paper"` (the ARVideo paper; `reference` names the table, and the number never describes these weights).

`eval_results.json` holds one measured result:

    {"top1": 80.3, "top5": 94.6, "num_videos": 19877, "views": "5x3", "clip": "16x224x224",
     "dataset": "kinetics-400", "split": "validation", "command": "python examples/evaluate.py ...",
     "pretrain_epochs": 800}

`top1` and `dataset` are required; accuracies are percentages in [0, 100]; `views` is `clips x crops`; `clip` is the
tested clip geometry `frames x height x width` (evaluation may override the checkpoint's own); `split` defaults to the
dataset's evaluation split.

README blocks: the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` is written from a committed results
file (the demo's `demo-table`, the study's `study-table`), and tests compare the two, so a published number is never
typed by hand.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal


RESULTS_FILE = "eval_results.json"  # a model folder's own measurement
logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------------ metric logs
def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a JSON-lines metrics log (`metrics.jsonl`); a line that does not parse (a torn last line: the
    run stopped while writing it) is dropped with a warning, so resuming, studies and figures read the same records."""
    records = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            logger.warning(f"{path}: dropped line {number}, which is not complete JSON (a run stopped while "
                           f"writing it?): {line[:80]!r}")
    return records


# --------------------------------------------------------------------------------------------------------- datasets
@dataclass(frozen=True)
class DatasetInfo:
    """A dataset results are measured on: display name, the `model-index` dataset type, its label count (if known)
    and its evaluation split."""

    key: str
    name: str
    hub_type: str
    num_labels: int | None = None
    split: str = "validation"


DATASETS: dict[str, DatasetInfo] = {
    "k400": DatasetInfo("k400", "Kinetics-400", "kinetics-400", 400),
    "ssv2": DatasetInfo("ssv2", "Something-Something V2", "something-something-v2", 174),
    "demo": DatasetInfo("demo", "ARVideo moving-digits demo", "arvideo-demo", 6, split="test"),
}
_DATASET_ALIASES = {
    "kinetics-400": "k400", "kinetics400": "k400", "kinetics": "k400", "k-400": "k400",
    "something-something-v2": "ssv2", "something-something v2": "ssv2", "sthsthv2": "ssv2", "ssv2": "ssv2",
    "arvideo-demo": "demo",
}


def dataset_info(name: str) -> DatasetInfo:
    """Look a dataset up by key or common spelling (`k400`, `Kinetics-400`, `ssv2`, ...); unknown names pass through."""
    key = name.strip().lower()
    key = _DATASET_ALIASES.get(key, key)
    if key in DATASETS:
        return DATASETS[key]
    slug = re.sub(r"[^a-z0-9]+", "-", key).strip("-") or "custom"
    return DatasetInfo(slug, name.strip(), slug)


# ----------------------------------------------------------------------------------------------------------- result
def _check_percentage(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100):
        raise ValueError(f"{name} must be a percentage in [0, 100], got {value!r}.")


@dataclass(frozen=True)
class Result:
    """One top-1 (and optional top-5) accuracy on a named dataset, with its provenance (module docstring)."""

    dataset: str
    top1: float
    source: Literal["paper", "measured"] = "measured"
    reference: str | None = None
    pretrain_epochs: int | None = None
    views: str | None = None
    clip: str | None = None
    top5: float | None = None
    num_videos: int | None = None
    split: str | None = None

    def __post_init__(self) -> None:
        if self.source not in ("paper", "measured"):
            raise ValueError(f"source must be 'paper' or 'measured', got {self.source!r}.")
        if self.source == "paper" and not (self.reference or "").strip():
            raise ValueError("a paper result's reference must name the paper's table.")
        for name in ("dataset", "reference", "split"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{name} must be a non-empty string, got {value!r}.")
        _check_percentage("top1", self.top1)
        _check_percentage("top5", self.top5)
        if self.top5 is not None and self.top5 < self.top1:
            raise ValueError(f"top5 ({self.top5}) cannot be below top1 ({self.top1}).")
        for name in ("num_videos", "pretrain_epochs"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if self.views is not None and not (isinstance(self.views, str) and re.fullmatch(r"\d+x\d+", self.views)):
            raise ValueError(f"views must be 'CLIPSxCROPS' such as '5x3', got {self.views!r}.")
        if self.clip is not None and not (isinstance(self.clip, str) and re.fullmatch(r"\d+x\d+x\d+", self.clip)):
            raise ValueError(f"clip must be 'FRAMESxHEIGHTxWIDTH' such as '16x224x224', got {self.clip!r}.")

    @property
    def dataset_info(self) -> DatasetInfo:
        return dataset_info(self.dataset)

    @property
    def source_label(self) -> str:
        return "paper-reported" if self.source == "paper" else "measured (this project)"

    @property
    def reference_text(self) -> str:
        """How a card cites it: the paper's table, or the command in code style."""
        if self.source == "paper":
            return str(self.reference)
        text = f"`{self.reference}`" if self.reference else f"{RESULTS_FILE} of this checkpoint"
        return text + (f" on {self.clip} clips" if self.clip else "")

    # ----------------------------------------------------------------------------------------- eval_results.json
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = RESULTS_FILE) -> Result:
        """A measured result from the `eval_results.json` schema; `ValueError` naming `source` and the bad key."""
        missing = [k for k in ("top1", "dataset") if k not in data]
        if missing:
            raise ValueError(f"{source}: missing required key(s) {missing}; see arvideo_hf.results for the schema.")
        allowed = {f.name for f in fields(cls)} - {"source", "reference"} | {"command"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(allowed)}.")
        values = {("reference" if k == "command" else k): v for k, v in data.items()}
        try:
            result = cls(**values, source="measured")
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None
        split = result.split or result.dataset_info.split
        return cls(**{**values, "split": split}, source="measured")

    def to_dict(self) -> dict[str, Any]:
        """The `eval_results.json` form of a measured result (keys with no value left out)."""
        if self.source != "measured":
            raise ValueError("only a measured result belongs in eval_results.json.")
        data = {"top1": self.top1, "top5": self.top5, "num_videos": self.num_videos, "views": self.views,
                "clip": self.clip, "dataset": self.dataset, "split": self.split, "command": self.reference,
                "pretrain_epochs": self.pretrain_epochs}
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def read(cls, folder: str | os.PathLike) -> Result | None:
        """`folder/eval_results.json`, validated, or `None` when the folder has none."""
        path = Path(folder) / RESULTS_FILE
        if not path.is_file():
            return None
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), source=str(path))

    def write(self, folder: str | os.PathLike) -> Path:
        path = Path(folder) / RESULTS_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


# ---------------------------------------------------------------------------------------------- the paper's numbers
# Paper numbers exist only for ViT-B (docs/method.md, Paper results). Views are as printed in the tables' GFLOPs
# column ("180 x 2 x 3") for both datasets.
PAPER_TABLES = {
    "ARVideo paper, Table 2 (Kinetics-400)": "k400",
    "ARVideo paper, Table 3 (Something-Something V2)": "ssv2",
}
_K400_TABLE, _SSV2_TABLE = PAPER_TABLES
PAPER_RESULTS: dict[str, tuple[Result, ...]] = {
    "k400": (
        Result("k400", 80.1, "paper", _K400_TABLE, pretrain_epochs=800, views="2x3"),
        Result("k400", 81.2, "paper", _K400_TABLE, pretrain_epochs=1600, views="2x3"),
    ),
    "ssv2": (
        Result("ssv2", 69.8, "paper", _SSV2_TABLE, pretrain_epochs=800, views="2x3"),
        Result("ssv2", 70.9, "paper", _SSV2_TABLE, pretrain_epochs=2400, views="2x3"),
    ),
}


def paper_top1(dataset: str, pretrain_epochs: int) -> float:
    """ARVideo's ViT-B top-1 in the paper for `dataset` after `pretrain_epochs` of pretraining."""
    for result in PAPER_RESULTS[dataset]:
        if result.pretrain_epochs == pretrain_epochs:
            return result.top1
    raise KeyError(f"the paper reports no {dataset} result after {pretrain_epochs} epochs.")


# -------------------------------------------------------------------------------------------------- README blocks
def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def _span(readme: str, name: str) -> tuple[int, int]:
    """Where the block's text starts and ends; a clear error when the README lacks the markers."""
    start_marker, end_marker = _markers(name)
    if start_marker not in readme or end_marker not in readme:
        raise ValueError(f"the README has no {start_marker} ... {end_marker} block to hold the generated text.")
    return readme.index(start_marker) + len(start_marker), readme.index(end_marker)


def readme_block(readme: str, name: str) -> str:
    """What stands between the `name` markers of a README's text."""
    start, end = _span(readme, name)
    return readme[start:end].strip("\n") + "\n"


def write_readme_block(path: str | Path, name: str, text: str) -> None:
    """Replace the `name` block of the README at `path` with `text`."""
    readme = Path(path).read_text()
    start, end = _span(readme, name)
    Path(path).write_text(readme[:start] + "\n" + text.strip("\n") + "\n" + readme[end:])


__all__ = [
    "DATASETS",
    "DatasetInfo",
    "PAPER_RESULTS",
    "PAPER_TABLES",
    "RESULTS_FILE",
    "Result",
    "dataset_info",
    "paper_top1",
    "read_metrics",
    "readme_block",
    "write_readme_block",
]

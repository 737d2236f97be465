# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Publishing ARVideo checkpoints to the Hugging Face Hub (VideoMAE weights become publishable folders with
`arvideo_hf.videomae.convert_videomae_checkpoint`, re-exported here).

A published repository loads with `AutoModel.from_pretrained("org/name")` (with `arvideo_hf` imported) and, without
the package, with `trust_remote_code=True`. It holds exactly:

- `config.json` with the full `auto_map` (`AUTO_MAP`),
- `model.safetensors` (or safetensors shards and their index),
- `preprocessor_config.json`: a transformers `VideoMAEImageProcessor` config (a default one built from the model's
  image size, mean and std when the checkpoint has none),
- `configuration_arvideo.py`, `modeling_arvideo.py`, `clustering.py`: copied from the installed package,
- `README.md`: the model card (`arvideo_hf.zoo`), and `eval_results.json` when the checkpoint has one.

`eval_results.json` (in the checkpoint folder) records a measurement of these weights:

    {"top1": 80.3, "top5": 94.6, "num_videos": 19877, "views": "5x3", "dataset": "kinetics-400",
     "split": "validation", "command": "python examples/evaluate.py ...", "pretrain_epochs": 800}

`top1`, `dataset` are required; accuracies are percentages in [0, 100]; `views` is `clips x crops`; the others are
optional (`split` defaults to the dataset's evaluation split). Its numbers go into the card's results table and into
its `model-index`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi
from huggingface_hub import constants as hub_constants
from transformers.dynamic_module_utils import get_relative_import_files

from . import modeling_arvideo
from .configuration_arvideo import ARVideoConfig, pair
from .integrity import check_finite_module, check_finite_safetensors
from .processing import image_processor_for

# VideoMAE conversion lives in arvideo_hf.videomae; re-exported so that earlier `arvideo_hf.hub` imports keep working.
from .videomae import (
    ConversionReport,
    convert_videomae_checkpoint,
    official_videomae_forward,
    save_publishable_checkpoint,
)
from .zoo import ZOO, Recipe, ZooEntry, ZooResult, config_mismatches, dataset_info, get_entry, render_model_card


logger = logging.getLogger(__name__)

AUTO_MAP: dict[str, str] = {
    "AutoConfig": "configuration_arvideo.ARVideoConfig",
    "AutoModel": "modeling_arvideo.ARVideoModel",
    "AutoModelForPreTraining": "modeling_arvideo.ARVideoForPretraining",
    "AutoModelForVideoClassification": "modeling_arvideo.ARVideoForVideoClassification",
}
REMOTE_CODE_FILES: tuple[str, ...] = ("configuration_arvideo.py", "modeling_arvideo.py", "clustering.py")
EVAL_RESULTS_NAME = "eval_results.json"
PREPROCESSOR_NAME = "preprocessor_config.json"
_WEIGHTS_INDEX = "model.safetensors.index.json"
PUBLISH_ADVICE = "Refusing to publish it: retrain with a lower learning rate, or publish an earlier checkpoint."


# ------------------------------------------------------------------------------------------------- eval_results.json
@dataclass(frozen=True)
class EvalResults:
    """A checkpoint's own measurement, read from `eval_results.json` (schema in the module docstring)."""

    top1: float
    dataset: str
    top5: float | None = None
    num_videos: int | None = None
    views: str | None = None
    split: str | None = None
    command: str | None = None
    pretrain_epochs: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = EVAL_RESULTS_NAME) -> EvalResults:
        """Validate and read the schema; raises `ValueError` naming the offending key."""
        missing = [k for k in ("top1", "dataset") if k not in data]
        if missing:
            raise ValueError(f"{source}: missing required key(s) {missing}; see arvideo_hf.hub for the schema.")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(cls.__dataclass_fields__)}.")

        def number(key: str) -> float | None:
            value = data.get(key)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 100.0:
                raise ValueError(f"{source}: {key} must be a percentage in [0, 100], got {value!r}.")
            return float(value)

        top1, top5 = number("top1"), number("top5")
        if top5 is not None and top5 < top1:
            raise ValueError(f"{source}: top5 ({top5}) cannot be below top1 ({top1}).")
        for key in ("num_videos", "pretrain_epochs"):
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ValueError(f"{source}: {key} must be a positive integer, got {value!r}.")
        views = data.get("views")
        if views is not None and not (isinstance(views, str) and re.fullmatch(r"\d+x\d+", views)):
            raise ValueError(f"{source}: views must be 'CLIPSxCROPS' such as '5x3', got {views!r}.")
        for key in ("dataset", "split", "command"):
            value = data.get(key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{source}: {key} must be a non-empty string, got {value!r}.")
        return cls(
            top1=top1, dataset=data["dataset"], top5=top5, num_videos=data.get("num_videos"), views=views,
            split=data.get("split"), command=data.get("command"), pretrain_epochs=data.get("pretrain_epochs"),
        )

    def to_zoo_result(self) -> ZooResult:
        """The card's view of this measurement (`source="measured"`)."""
        reference = f"`{self.command}`" if self.command else f"{EVAL_RESULTS_NAME} of this checkpoint"
        return ZooResult(
            dataset=self.dataset, top1=self.top1, source="measured", reference=reference,
            pretrain_epochs=self.pretrain_epochs, views=self.views, top5=self.top5, num_videos=self.num_videos,
            split=self.split or dataset_info(self.dataset).split,
        )


def read_eval_results(checkpoint_dir: str | os.PathLike) -> EvalResults | None:
    """`checkpoint_dir/eval_results.json` parsed and validated, or `None` when the checkpoint has none."""
    path = Path(checkpoint_dir) / EVAL_RESULTS_NAME
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as handle:
        return EvalResults.from_dict(json.load(handle), source=str(path))


# ------------------------------------------------------------------------------------------------- folder contents
def remote_code_files() -> list[Path]:
    """The installed package's model code that a Hub repo must ship; fails if it imports a sibling not shipped."""
    package_dir = Path(modeling_arvideo.__file__).resolve().parent
    files = [package_dir / name for name in REMOTE_CODE_FILES]
    needed = {Path(p).resolve() for p in get_relative_import_files(str(package_dir / "modeling_arvideo.py"))}
    needed |= {Path(p).resolve() for p in get_relative_import_files(str(package_dir / "configuration_arvideo.py"))}
    extra = sorted(p.name for p in needed - set(files))
    if extra:
        raise RuntimeError(
            f"the model code imports {extra}, which a Hub repo would lack; add them to REMOTE_CODE_FILES"
        )
    return files


def checkpoint_file(checkpoint_dir: Path, name: str) -> Path:
    """`checkpoint_dir / name` when it is a regular file inside the folder; an error for a path, a link leading out,
    or anything else a crafted index could point at (publishing must never copy a file from elsewhere)."""
    if not isinstance(name, str) or not name or name != Path(name).name or name in (".", ".."):
        raise ValueError(f"{checkpoint_dir / _WEIGHTS_INDEX} names the shard {name!r}: shard names must be plain file "
                         "names inside the checkpoint folder.")
    path = checkpoint_dir / name
    resolved, root = path.resolve(), checkpoint_dir.resolve()
    if resolved.parent != root or path.is_symlink() or not resolved.is_file():
        raise ValueError(f"{path} is not a regular file inside {checkpoint_dir} (a link, a folder or missing); "
                         "publishing copies only the checkpoint's own files.")
    return path


def _weight_files(checkpoint_dir: Path) -> list[Path]:
    """Safetensors weights of a checkpoint: one file, or the shards named by the index (plain names, regular files
    inside the folder)."""
    if (checkpoint_dir / "model.safetensors").exists():
        return [checkpoint_file(checkpoint_dir, "model.safetensors")]
    index = checkpoint_dir / _WEIGHTS_INDEX
    if index.exists():
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        return [checkpoint_file(checkpoint_dir, _WEIGHTS_INDEX)] + [checkpoint_file(checkpoint_dir, s) for s in shards]
    return []


def resolve_zoo_entry(
    repo_id: str, config: ARVideoConfig, zoo_entry: str | ZooEntry | None, results: EvalResults | None
) -> ZooEntry:
    """The entry whose card a checkpoint gets: the named one (which must match the config), the one named like the
    repo if the config matches it, else an entry describing the checkpoint alone (no recipe, no paper numbers)."""
    if zoo_entry is not None:
        entry = get_entry(zoo_entry) if isinstance(zoo_entry, str) else zoo_entry
        mismatches = config_mismatches(entry, config)
        if mismatches:
            raise ValueError(
                f"Checkpoint does not match zoo entry {entry.name!r}; {{field: (entry, checkpoint)}}: {mismatches}"
            )
        return entry
    name = repo_id.rsplit("/", 1)[-1]
    if name in ZOO:
        mismatches = config_mismatches(ZOO[name], config)
        if not mismatches:
            return ZOO[name]
        logger.warning("Repo name %r is a zoo entry but the checkpoint differs (%s); its card describes the "
                       "checkpoint alone.", name, mismatches)
    height = pair(config.image_size)[0]
    clips, crops = (int(v) for v in results.views.split("x")) if results and results.views else (None, None)
    return ZooEntry(
        name=name,
        preset=None,
        dataset=results.dataset if results else "unspecified",
        recipe=Recipe(None, config.num_frames, None, height, clips, crops),
        summary="An ARVideo checkpoint published with `arvideo_hf`; it is not one of the project's zoo entries.",
    )


def save_hub_folder(
    checkpoint_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    repo_id: str,
    zoo_entry: str | ZooEntry | None = None,
) -> Path:
    """Write exactly the files a Hub repo for `checkpoint_dir` needs into `output_dir` (which must be empty or new).

    Only whitelisted files are taken from the checkpoint (never optimizer states or pickled training arguments).
    A checkpoint saved without safetensors is loaded and re-saved as safetensors.
    """
    checkpoint_dir, output_dir = Path(checkpoint_dir), Path(output_dir)
    if not (checkpoint_dir / "config.json").is_file():
        raise FileNotFoundError(f"{checkpoint_dir} has no config.json; pass a folder written by save_pretrained.")
    if output_dir.exists() and any(output_dir.iterdir()):
        raise FileExistsError(f"{output_dir} is not empty; the dry-run folder must hold only the files to upload.")
    model_type = json.loads((checkpoint_dir / "config.json").read_text(encoding="utf-8")).get("model_type")
    if model_type != ARVideoConfig.model_type:
        raise ValueError(
            f"{checkpoint_dir} holds a {model_type!r} model, not 'arvideo'; convert VideoMAE weights first with "
            "examples/convert_videomae.py."
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    config = ARVideoConfig.from_pretrained(checkpoint_dir)
    results = read_eval_results(checkpoint_dir)
    entry = resolve_zoo_entry(repo_id, config, zoo_entry, results)
    code_files = remote_code_files()

    weights = _weight_files(checkpoint_dir)
    check_finite_safetensors([path for path in weights if path.suffix == ".safetensors"], PUBLISH_ADVICE)
    if weights:
        for path in weights:
            shutil.copy2(path, output_dir / path.name)
    else:  # e.g. pytorch_model.bin: load with the saved architecture and re-save as safetensors
        architecture = (config.architectures or ["ARVideoModel"])[0]
        model_class = getattr(modeling_arvideo, architecture, None)
        if model_class is None:
            raise ValueError(f"{checkpoint_dir}: no safetensors weights and unknown architecture {architecture!r}.")
        model = model_class.from_pretrained(checkpoint_dir)
        check_finite_module(model, f"Refusing to publish {checkpoint_dir}", PUBLISH_ADVICE)
        model.save_pretrained(output_dir)
    config.auto_map = dict(AUTO_MAP)
    config.save_pretrained(output_dir)

    if (checkpoint_dir / PREPROCESSOR_NAME).exists():
        shutil.copy2(checkpoint_file(checkpoint_dir, PREPROCESSOR_NAME), output_dir / PREPROCESSOR_NAME)
    else:
        image_processor_for(config).save_pretrained(output_dir)
    for path in code_files:
        shutil.copy2(path, output_dir / path.name)
    if results is not None:
        shutil.copy2(checkpoint_file(checkpoint_dir, EVAL_RESULTS_NAME), output_dir / EVAL_RESULTS_NAME)
    measured = [results.to_zoo_result()] if results else []
    card = render_model_card(entry, repo_id, config=config, measured=measured)
    card.save(output_dir / "README.md")
    return output_dir


def push_checkpoint_to_hub(
    checkpoint_dir: str | os.PathLike,
    repo_id: str,
    *,
    zoo_entry: str | ZooEntry | None = None,
    dry_run_dir: str | os.PathLike | None = None,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | bool | None = None,
    api: Any | None = None,
) -> str:
    """Publish a checkpoint folder as `repo_id`; returns the commit URL, or the folder path for a dry run.

    `dry_run_dir` writes exactly the folder that would be uploaded and contacts nothing. Otherwise the repo is created
    if needed (`private` applies only then), `revision` is created as a branch if missing, and the folder is uploaded
    in one commit. `token` defaults to huggingface_hub's (`HF_TOKEN` or `hf auth login`) and is never logged. `api`
    replaces the `HfApi` client (another endpoint, or a test double).
    """
    if dry_run_dir is not None:
        folder = save_hub_folder(checkpoint_dir, dry_run_dir, repo_id, zoo_entry)
        logger.info("Dry run: wrote the %s upload to %s", repo_id, folder)
        return str(folder)
    if api is None:
        api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="arvideo-hub-") as staging:
        folder = save_hub_folder(checkpoint_dir, Path(staging) / "repo", repo_id, zoo_entry)
        api.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
        if revision is not None:
            api.create_branch(repo_id=repo_id, branch=revision, exist_ok=True, repo_type="model")
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            revision=revision,
            repo_type="model",
            commit_message=commit_message or f"Upload ARVideo checkpoint {Path(checkpoint_dir).name}",
        )
    url = str(getattr(commit, "commit_url", commit))
    logger.info("Uploaded %s to %s", checkpoint_dir, url)
    return url


def install_in_hub_cache(
    folder: str | os.PathLike, repo_id: str, cache_dir: str | os.PathLike | None = None, revision: str = "main"
) -> Path:
    """Place a repo folder in a Hub cache (`HF_HUB_CACHE` layout) so `from_pretrained(repo_id)` finds it offline
    (`HF_HUB_OFFLINE=1`): air-gapped machines, and tests. The snapshot name is a hash of the files; returns it."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    digest = hashlib.sha1()
    for path in files:
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    commit = digest.hexdigest()
    repo_dir = Path(cache_dir or hub_constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / commit
    if snapshot.exists():
        shutil.rmtree(snapshot)
    shutil.copytree(folder, snapshot)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / revision).write_text(commit)
    return snapshot


__all__ = [
    "AUTO_MAP",
    "ConversionReport",
    "EVAL_RESULTS_NAME",
    "EvalResults",
    "REMOTE_CODE_FILES",
    "convert_videomae_checkpoint",
    "install_in_hub_cache",
    "official_videomae_forward",
    "push_checkpoint_to_hub",
    "read_eval_results",
    "remote_code_files",
    "resolve_zoo_entry",
    "save_hub_folder",
    "save_publishable_checkpoint",
]

# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Publishing ARVideo checkpoints to the Hugging Face Hub (VideoMAE weights become publishable folders with
`arvideo_hf.interop.convert_videomae_checkpoint` first).

A published repository loads with `AutoModel.from_pretrained("org/name")` (with `arvideo_hf` imported) and, without
the package, with `trust_remote_code=True`. It holds exactly:

- `config.json` with the full `auto_map` (`AUTO_MAP`),
- `model.safetensors` (or safetensors shards and their index),
- `preprocessor_config.json`: a transformers `VideoMAEImageProcessor` config (a default one built from the model's
  image size, mean and std when the checkpoint has none),
- `configuration_arvideo.py`, `modeling_arvideo.py`, `clustering.py`: copied from the installed package,
- `README.md`: the model card (`arvideo_hf.zoo`), and `eval_results.json` when the checkpoint has one.

`eval_results.json` (a `arvideo_hf.results.Result`, schema there) records a measurement of these weights; its
numbers go into the card's results table and into its `model-index`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi
from huggingface_hub import constants as hub_constants
from transformers.dynamic_module_utils import get_relative_import_files

from ..integrity import check_finite_module, check_finite_safetensors
from ..models import modeling_arvideo
from ..models.configuration_arvideo import ARVideoConfig, pair
from ..models.processing_arvideo import image_processor_for
from ..results import RESULTS_FILE, Result
from .cards import config_mismatches, render_model_card
from .entries import ZOO, Recipe, ZooEntry, get_entry


logger = logging.getLogger(__name__)

AUTO_MAP: dict[str, str] = {
    "AutoConfig": "configuration_arvideo.ARVideoConfig",
    "AutoModel": "modeling_arvideo.ARVideoModel",
    "AutoModelForPreTraining": "modeling_arvideo.ARVideoForPretraining",
    "AutoModelForVideoClassification": "modeling_arvideo.ARVideoForVideoClassification",
}
REMOTE_CODE_FILES: tuple[str, ...] = ("configuration_arvideo.py", "modeling_arvideo.py", "clustering.py")
PREPROCESSOR_NAME = "preprocessor_config.json"
_WEIGHTS_INDEX = "model.safetensors.index.json"
PUBLISH_ADVICE = "Refusing to publish it: retrain with a lower learning rate, or publish an earlier checkpoint."


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
    repo_id: str, config: ARVideoConfig, zoo_entry: str | ZooEntry | None, results: Result | None
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
    results = Result.read(checkpoint_dir)
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
        shutil.copy2(checkpoint_file(checkpoint_dir, RESULTS_FILE), output_dir / RESULTS_FILE)
    measured = [results] if results else []
    card = render_model_card(entry, repo_id, config=config, measured=measured)
    (output_dir / "README.md").write_text(str(card) + "\n", encoding="utf-8")  # byte for byte as write_cards
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
    "REMOTE_CODE_FILES",
    "install_in_hub_cache",
    "push_checkpoint_to_hub",
    "remote_code_files",
    "resolve_zoo_entry",
    "save_hub_folder",
]

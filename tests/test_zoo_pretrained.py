"""The `arvideo-tiny-pretrained` zoo entry: a pretraining run records the command that makes it; `python -m
arvideo_hf.zoo pretrained RUN_DIR` turns the run into a Hub folder (the encoder's weights, remote code, a card stating
the run's own facts) that loads both ways with the encoder's outputs, and never overwrites a folder it did not make;
the committed folder, when there, is that build; the demo's table renders with and without the zoo row."""

import copy
import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel

from arvideo_hf import demo
from arvideo_hf.demo import run as demo_run
from arvideo_hf.integrity import NonFiniteError
from arvideo_hf.training.arguments import DemoArguments, parse_pretrain_args, pretrain_command
from arvideo_hf.zoo import entries
from arvideo_hf.zoo.cards import ENCODER_NOT_MEASURED, NOT_MEASURED, config_mismatches, render_model_card
from arvideo_hf.zoo.entries import (
    PRETRAINED_NAME,
    PRETRAINED_RUN_FILE,
    ZOO,
    PretrainingRun,
    load_demo_results,
    pretrained_entry,
)
from arvideo_hf.zoo.pretrained import OWNER, RUN_RECORD, build_pretrained_folder, read_pretraining_run
from arvideo_hf.zoo.publish import AUTO_MAP, install_in_hub_cache, remote_code_files

from .conftest import BLOCK_PACKAGE, clip


ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "checkpoints" / PRETRAINED_NAME
FOLDER_FILES = {"config.json", "model.safetensors", "preprocessor_config.json", "configuration_arvideo.py",
                "modeling_arvideo.py", "clustering.py", "README.md", RUN_RECORD, ".arvideo-owner.json"}


def _run_fields(data):
    return {k: v for k, v in data.items() if k not in ("resume", "overwrite_output_dir")}


# ------------------------------------------------------------------------------------------------ what a run records
def test_a_run_records_the_command_that_makes_it_and_the_machine(zoo_pretraining_run):
    summary = json.loads((zoo_pretraining_run / "summary.json").read_text())
    python, script, *argv = shlex.split(summary["command"])
    assert (python, script) == ("python", "examples/pretrain.py") and "--max_steps" in argv
    recorded = json.loads((zoo_pretraining_run / "training_args.json").read_text())
    assert _run_fields(dataclasses.asdict(parse_pretrain_args(argv))) == _run_fields(recorded)
    assert "cores usable" in summary["machine"] and summary["videos"] == 12


def test_pretrain_command_is_minimal_and_falls_back_to_the_arguments_file():
    args = parse_pretrain_args(["--max_steps", "7", "--resume", "latest", "--cluster_size", "1", "1", "1"])
    assert pretrain_command(args) == "python examples/pretrain.py --preset tiny --cluster_size 1 1 1 --max_steps 7"
    assert pretrain_command(args, 2).startswith("accelerate launch --num_processes 2 examples/pretrain.py ")
    unexpressible = dataclasses.replace(args, learning_rate=None)  # a `null` from a file: no flag says that
    assert pretrain_command(unexpressible).endswith("examples/pretrain.py outputs/pretrain-demo/training_args.json")


# ------------------------------------------------------------------------------------------------ the built folder
def test_folder_holds_the_encoder_code_and_a_card_of_the_run(zoo_pretraining_run, zoo_pretrained_folder):
    folder = zoo_pretrained_folder
    assert {p.name for p in folder.iterdir()} == FOLDER_FILES
    assert load_file(folder / "model.safetensors").keys() == load_file(
        zoo_pretraining_run / "encoder" / "model.safetensors").keys()
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"] == AUTO_MAP and config["architectures"] == ["ARVideoModel"]
    for source in remote_code_files():
        assert (folder / source.name).read_text() == source.read_text()
    run = read_pretraining_run(zoo_pretraining_run)
    assert json.loads((folder / RUN_RECORD).read_text()) == run.to_dict()
    assert PretrainingRun.from_dict(run.to_dict()) == run
    with pytest.raises(ValueError, match="not a pretraining run record"):
        PretrainingRun.from_dict({k: v for k, v in run.to_dict().items() if k != "machine"})
    card = (folder / "README.md").read_text()
    summary = json.loads((zoo_pretraining_run / "summary.json").read_text())
    assert f"```bash\n{summary['command']}\n```" in card and "ran 2 optimizer steps of `arvideo`" in card
    prose = " ".join(card.split())  # wrapping aside
    assert "the demo set's unlabeled pool (12 videos), no labels" in prose and summary["machine"] in prose
    assert "| Pretraining | the demo videos, self-supervised, 2 steps |" in card
    assert "not a general video model" in prose and ENCODER_NOT_MEASURED in prose and NOT_MEASURED not in prose
    assert card == str(render_model_card(pretrained_entry(run), f"arvideo-hf/{PRETRAINED_NAME}")) + "\n"


def test_folder_loads_with_the_package_with_the_encoders_outputs(zoo_pretraining_run, zoo_pretrained_folder):
    source = AutoModel.from_pretrained(zoo_pretraining_run / "encoder").eval()
    loaded = AutoModel.from_pretrained(zoo_pretrained_folder).eval()
    assert type(loaded).__module__ == "arvideo_hf.models.modeling_arvideo"
    pixels = clip(source.config, batch=1)
    with torch.no_grad():
        assert torch.equal(loaded(pixels).last_hidden_state, source(pixels).last_hidden_state)


_REMOTE_LOAD = BLOCK_PACKAGE + """
import torch
from transformers import AutoModel
repo, pixels_path, out_path = sys.argv[1:4]
encoder = AutoModel.from_pretrained(repo, trust_remote_code=True).eval()
with torch.no_grad():
    hidden = encoder(torch.load(pixels_path)).last_hidden_state
torch.save({"hidden": hidden, "module": type(encoder).__module__}, out_path)
"""


def test_folder_loads_from_a_hub_cache_with_trust_remote_code_without_the_package(
    zoo_pretraining_run, zoo_pretrained_folder, tmp_path
):
    repo = f"org/{PRETRAINED_NAME}"
    install_in_hub_cache(zoo_pretrained_folder, repo, tmp_path / "hub")
    source = AutoModel.from_pretrained(zoo_pretraining_run / "encoder").eval()
    pixels = clip(source.config, batch=1)
    torch.save(pixels, tmp_path / "pixels.pt")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HOME": str(tmp_path),
           "TRANSFORMERS_VERBOSITY": "error"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_REMOTE_LOAD), repo, str(tmp_path / "pixels.pt"),
                           str(tmp_path / "out.pt")], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    out = torch.load(tmp_path / "out.pt")
    assert out["module"].startswith("transformers_modules.")
    with torch.no_grad():
        assert torch.equal(out["hidden"], source(pixels).last_hidden_state)


# ------------------------------------------------------------------------------------------------------ refusals
def test_refuses_a_foreign_folder_and_rebuilds_its_own(zoo_pretraining_run, tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not marked as made by this command"):
        build_pretrained_folder(zoo_pretraining_run, foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    own = tmp_path / "own"
    record, card = tmp_path / "record.json", tmp_path / "card.md"
    for _ in range(2):  # the second build replaces the first, which it made
        build_pretrained_folder(zoo_pretraining_run, own, record_file=record, card_file=card)
    assert "Replacing the arvideo-tiny-pretrained folder" in capsys.readouterr().out
    assert json.loads((own / ".arvideo-owner.json").read_text()) == {"command": OWNER}
    assert record.read_text() == (own / RUN_RECORD).read_text() and card.read_text() == (own / "README.md").read_text()


def _copied_run(run, tmp_path, **summary_changes):
    copy_dir = tmp_path / "run"
    shutil.copytree(run, copy_dir)
    summary = json.loads((copy_dir / "summary.json").read_text())
    summary.update(summary_changes)
    (copy_dir / "summary.json").write_text(json.dumps({k: v for k, v in summary.items() if v is not None}))
    return copy_dir


def test_refuses_runs_that_cannot_make_this_entry(zoo_pretraining_run, tmp_path):
    with pytest.raises(FileNotFoundError, match="finished `examples/pretrain.py` run"):
        build_pretrained_folder(tmp_path / "nothing", tmp_path / "a")
    with pytest.raises(ValueError, match="records no command"):
        build_pretrained_folder(_copied_run(zoo_pretraining_run, tmp_path / "old", command=None), tmp_path / "b")
    with pytest.raises(ValueError, match="--method videomae"):
        build_pretrained_folder(_copied_run(zoo_pretraining_run, tmp_path / "vm", method="videomae"), tmp_path / "c")
    broken = _copied_run(zoo_pretraining_run, tmp_path / "nan")
    weights = load_file(broken / "encoder" / "model.safetensors")
    next(iter(weights.values()))[0] = float("nan")
    save_file(weights, broken / "encoder" / "model.safetensors", metadata={"format": "pt"})
    built = build_pretrained_folder(zoo_pretraining_run, tmp_path / "d")
    before = {p.name: p.read_bytes() for p in built.iterdir()}
    with pytest.raises(NonFiniteError, match="non-finite"):
        build_pretrained_folder(broken, built)
    assert {p.name: p.read_bytes() for p in built.iterdir()} == before  # the previous build is left as it was
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left behind


# ------------------------------------------------------------------------------------------- the committed folder
def test_committed_checkpoint_is_the_build_of_its_committed_record():
    """checkpoints/arvideo-tiny-pretrained and src/arvideo_hf/zoo/pretrained_run.json come together from one
    `python -m arvideo_hf.zoo pretrained` run; before it, the entry says it is not trained."""
    entry = ZOO[PRETRAINED_NAME]
    card = (ROOT / "model_cards" / f"{PRETRAINED_NAME}.md").read_text()
    if not COMMITTED.exists():
        assert not PRETRAINED_RUN_FILE.exists() and entry.pretraining is None and NOT_MEASURED in card
        return
    assert {p.name for p in COMMITTED.iterdir()} == FOLDER_FILES
    assert json.loads((COMMITTED / RUN_RECORD).read_text()) == entry.pretraining.to_dict()
    assert (COMMITTED / "README.md").read_text() == card == str(render_model_card(entry)) + "\n"
    for source in remote_code_files():
        assert (COMMITTED / source.name).read_text() == source.read_text(), f"{source.name}: rebuild the folder"
    encoder = AutoModel.from_pretrained(COMMITTED)
    assert type(encoder).__name__ == "ARVideoModel" and not config_mismatches(entry, encoder.config)
    assert all(torch.isfinite(p).all() for p in encoder.parameters())


# ------------------------------------------------------------------------------------------------- the demo's row
def _without_zoo_row(results):
    """A results file as written before the zoo row existed."""
    results = copy.deepcopy(results)
    results["rows"].pop("zoo", None)
    results["pretraining"].pop("zoo", None)
    return results


def _with_zoo_row(results, steps=20000):
    """A results file with a zoo row: the ARVideo row's numbers, its mean set to 71.11."""
    results = _without_zoo_row(results)
    results["rows"]["zoo"] = copy.deepcopy(results["rows"]["arvideo"])
    results["rows"]["zoo"]["low_label"]["mean"] = 71.11
    results["pretraining"]["zoo"] = {"steps": steps, "wall_seconds": 1800.0}
    return results


def _zoo_cell(results):
    return f"71.1 ± {results['rows']['arvideo']['low_label']['std']:.1f}"


def test_demo_table_renders_with_and_without_the_zoo_row():
    before = _without_zoo_row(load_demo_results())
    assert "zoo checkpoint" not in demo.results_text(before)
    assert len(demo_run.format_table(before).splitlines()) == 5
    text = demo.results_text(_with_zoo_row(before))
    assert f"| ARVideo zoo checkpoint (20000 steps) | {_zoo_cell(before)} |" in text
    assert "pretrained once beforehand (20000 steps, 30 min of wall clock)" in text
    assert demo_run.format_table(_with_zoo_row(before)).startswith(demo_run.format_table(before))


def test_pretrained_card_quotes_the_demo_row_only_for_its_own_checkpoint(zoo_pretraining_run, monkeypatch):
    run = read_pretraining_run(zoo_pretraining_run)
    monkeypatch.setattr(entries, "load_demo_results", lambda: _with_zoo_row(load_demo_results(), steps=run.steps))
    cell = _zoo_cell(load_demo_results())
    assert f"finetuning it on 120 labels gave {cell}% top-1 over 3 seeds" in pretrained_entry(run).summary
    monkeypatch.setattr(entries, "load_demo_results", lambda: _with_zoo_row(load_demo_results(), steps=run.steps + 1))
    assert "finetuning it on" not in pretrained_entry(run).summary


def test_demo_skips_a_missing_zoo_checkpoint_saying_so(tmp_path, capsys, zoo_pretrained_folder):
    assert demo_run.zoo_encoder(DemoArguments(zoo_checkpoint=str(tmp_path / "absent"))) is None
    assert f"No zoo checkpoint at {tmp_path / 'absent'}: its row is skipped" in capsys.readouterr().out
    assert demo_run.zoo_encoder(DemoArguments(zoo_checkpoint="none")) is None
    assert capsys.readouterr().out == ""
    assert demo_run.zoo_encoder(DemoArguments(zoo_checkpoint=str(zoo_pretrained_folder))) == zoo_pretrained_folder

"""`python -m arvideo_hf.demo`: both arms finetune and test, the table is printed and saved; a missing encoder is
explained (or pretrained first)."""

import json
import subprocess
from pathlib import Path

import pytest

from arvideo_hf import demo


def test_demo_compares_pretrained_and_random_init(tmp_path, small_demo_root, small_encoder_dir, capsys):
    output = tmp_path / "demo"
    stale = output / "pretrained" / "checkpoint-99"  # left by an earlier demo run: a re-run replaces the arm folders
    stale.mkdir(parents=True)
    (stale / "trainer_state.json").write_text("{}")
    code = demo.main([
        "--pretrained", str(small_encoder_dir), "--output_dir", str(output), "--demo_root", str(small_demo_root),
        "--epochs", "1", "--batch_size", "4", "--num_clips", "2", "--num_crops", "1", "--num_workers", "0",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| ARVideo-pretrained |" in printed and "| random init |" in printed and "total wall time" in printed
    results = json.loads((output / "demo_results.json").read_text())
    assert [row["init"] for row in results["rows"]] == ["pretrained", "random"]
    for row in results["rows"]:
        assert 0.0 <= row["top1"] <= row["top5"] <= 100.0 and row["views"] == "2x1" and row["num_videos"] == 6
        assert (output / row["init"] / "eval_results.json").is_file()
        assert (output / row["init"] / "preprocessor_config.json").is_file()
    assert (output / "demo_results.md").read_text().startswith("| initialization |")
    assert not stale.exists()


def test_make_demo_overwrites_its_own_pretraining_folder_and_says_so():
    """`make demo` is re-runnable: it passes --overwrite_output_dir for its pretraining folder and announces it."""
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(["make", "-n", "demo"], cwd=root, capture_output=True, text=True, check=True)
    assert "examples/pretrain.py --output_dir outputs/pretrain-demo --overwrite_output_dir" in result.stdout
    assert "overwriting the demo's own folders" in result.stdout


def test_missing_encoder_says_how_to_create_it_or_pretrains(tmp_path, capsys, monkeypatch):
    missing = tmp_path / "pretrain-demo" / "encoder"
    assert demo.main(["--pretrained", str(missing), "--pretrain_if_missing", "False"]) == 1
    assert "examples/pretrain.py --output_dir outputs/pretrain-demo" in capsys.readouterr().out

    calls = []
    monkeypatch.setattr("arvideo_hf.training.run_pretraining", lambda args: calls.append(args) or {})
    args = demo.DemoArguments(pretrained=str(missing), demo_root=str(tmp_path / "data"))
    assert demo.ensure_encoder(args) == missing
    assert calls[0].output_dir == str(missing.parent) and calls[0].demo_root == str(tmp_path / "data")
    assert calls[0].preset == "tiny"
    with pytest.raises(ValueError, match="no_such_flag"):
        demo.main(["--no_such_flag"])

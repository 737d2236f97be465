"""`python -m arvideo_hf.demo`: both pretrainings, the low-label finetunes, the probes (of the zoo's pretrained encoder
too) and the supervised reference run end to end on a small demo build; the table is printed and saved, and a previous
run is overwritten."""

import json

import pytest

from arvideo_hf import demo
from arvideo_hf.locking import OutputLockedError
from arvideo_hf.results import readme_block


def test_demo_runs_every_step_and_writes_the_table(tmp_path, small_demo_root, zoo_pretrained_folder, capsys):
    output = tmp_path / "demo"
    (output / "stale").mkdir(parents=True)
    (output / ".arvideo-owner.json").write_text('{"command": "demo"}')  # a previous demo run's folder
    results_file = tmp_path / "published" / "results.json"
    readme = tmp_path / "README.md"
    readme.write_text("# t\n\n<!-- demo-table:start -->\nold table\n<!-- demo-table:end -->\n\nafter\n")
    code = demo.main([
        "--output_dir", str(output), "--demo_root", str(small_demo_root), "--pretrain_steps", "2", "--seeds", "0",
        "--pretrain_batch_size", "4",
        "--supervised_epochs", "1", "--probe_epochs", "2", "--num_workers", "0", "--results_file", str(results_file),
        "--readme", str(readme), "--zoo_checkpoint", str(zoo_pretrained_folder),
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"Overwriting the previous demo run in {output}" in printed and not (output / "stale").exists()
    for name in ("ARVideo-pretrained", "VideoMAE-pretrained", "random init", "ARVideo zoo checkpoint (2 steps)"):
        assert f"| {name} |" in printed
    assert "Supervised from scratch on all 12 labels (1 epochs)" in printed and "Total wall time" in printed
    assert "Pretraining: 2 optimizer steps each (ARVideo " in printed  # a step budget, its wall time stated
    results = json.loads((output / "results.json").read_text())
    assert json.loads(results_file.read_text()) == results
    assert results["dataset"] == {"unlabeled": 12, "train": 12, "train_10pct": 6, "test": 6}
    assert set(results["rows"]) == {"arvideo", "videomae", "random", "zoo"}  # the zoo encoder, finetuned the same way
    assert results["pretraining"]["zoo"]["steps"] == 2 and "zoo checkpoint was pretrained once beforehand" in printed
    for name, row in results["rows"].items():
        assert len(row["low_label_runs"]) == 1 and row["low_label_runs"][0]["num_test"] == 6
        for value in (row["low_label"]["mean"], row["attentive"], row["linear"]):
            assert 0.0 <= value <= 100.0
        assert (output / f"finetune-{name}-seed0" / "eval_results.json").is_file()
    for method in ("arvideo", "videomae"):
        summary = json.loads((output / f"pretrain-{method}" / "summary.json").read_text())
        assert summary["method"] == method and summary["steps"] == results["pretraining"][method]["steps"] == 2
    assert 0.0 <= results["supervised_all_labels"]["top1"] <= 100.0
    assert (output / "results.md").read_text() == demo.results_text(results)
    assert readme_block(readme.read_text(), demo.README_BLOCK) == demo.results_text(results)
    assert "old table" not in readme.read_text()
    assert readme.read_text().endswith("<!-- demo-table:end -->\n\nafter\n")


def test_unknown_argument_is_refused():
    with pytest.raises(ValueError, match="no_such_flag"):
        demo.main(["--no_such_flag"])


def test_table_counts_the_low_label_list_that_was_used(tmp_path, small_demo_root):
    """`--low_label_list train.txt` finetunes on 12 clips, and the table's header must say 12, not the 10% list's 6."""
    args = demo.DemoArguments(output_dir=str(tmp_path), low_label_list="train.txt")
    sizes = demo.run._dataset_sizes(demo.protocol_for(args, small_demo_root))
    assert sizes == {"unlabeled": 12, "train": 12, "train_10pct": 12, "test": 6}


@pytest.mark.parametrize("owner", [None, "pretrain"])
def test_demo_refuses_a_folder_it_did_not_make_even_to_reuse_it(tmp_path, owner):
    """`--skip_pretraining` reuses a demo folder; it does not adopt a user's folder (the demo rewrites its finetune
    folders and deletes a pretraining folder without an encoder), nor another command's."""
    output = tmp_path / "mine"
    (output / "pretrain-arvideo").mkdir(parents=True)
    (output / "pretrain-arvideo" / "notes.txt").write_text("keep me")
    if owner:
        (output / ".arvideo-owner.json").write_text(json.dumps({"command": owner}))
    for extra in ([], ["--skip_pretraining"]):
        with pytest.raises(FileExistsError, match="--output_dir: .*Choose another folder"):
            demo.main(["--output_dir", str(output), *extra])
    assert (output / "pretrain-arvideo" / "notes.txt").read_text() == "keep me"
    marks = [json.loads(path.read_text())["command"] for path in output.glob(".arvideo-owner.json")]
    assert marks == ([owner] if owner else [])  # not claimed by the refused run


def test_demo_folder_has_one_writer(tmp_path):
    """A second demo on a folder a live demo writes to is refused before it deletes anything; a demo's own folder is
    kept with --skip_pretraining and emptied without it."""
    output = tmp_path / "demo"
    with demo.run.claim_output_dir(output, keep=False):
        (output / "pretrain-arvideo").mkdir()
        with pytest.raises(OutputLockedError, match="in use by another run"), \
                demo.run.claim_output_dir(output, keep=False):
            pass
        assert (output / "pretrain-arvideo").is_dir()
    with demo.run.claim_output_dir(output, keep=True):
        assert (output / "pretrain-arvideo").is_dir()
    with demo.run.claim_output_dir(output, keep=False):
        assert sorted(path.name for path in output.iterdir()) == [".arvideo-owner.json", ".arvideo.lock"]

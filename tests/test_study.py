"""The reproduction study: one run per ablation family end to end on the small demo set, resumability, the report."""

import json
from pathlib import Path

import pytest

from arvideo_hf.environment import merge_machines
from arvideo_hf.locking import OutputLock, OutputLockedError
from arvideo_hf.models.configuration_arvideo import ARVIDEO_PRESETS
from arvideo_hf.recipes import FINETUNE_PRESETS, RUN_PRESETS
from arvideo_hf.results import readme_block
from arvideo_hf.training import pretrain as pretrain_module
from arvideo_hf.training import study as reproduce
from arvideo_hf.training.arguments import parse_pretrain_args, parse_reproduce_args
from arvideo_hf.training.pretrain import build_config
from arvideo_hf.training.study import STUDY_RUNS, STUDY_TABLES, check_claims, run_study, selected_runs


SMALL = '{"num_hidden_layers": 2, "decoder_num_hidden_layers": 1, "hidden_size": 64, "intermediate_size": 128}'
# One run per family: methods (VideoMAE, random init), clusters (token), order (temporal-first), mask (90%).
FAMILIES = ["arvideo", "videomae", "token", "temporal_first", "mask90", "random"]


def study_args(tmp_path, demo_root, *extra):
    return parse_reproduce_args([
        "--results_dir", str(tmp_path / "results"), "--work_dir", str(tmp_path / "work"), "--demo_root", str(demo_root),
        "--config_overrides", SMALL, "--seeds", "0", "--pretrain_steps", "2", "--pretrain_batch_size", "2",
        "--num_workers", "0", "--probe_epochs", "2", "--finetune_epochs", "1", "--num_clips", "1", *extra,
    ])


def test_study_end_to_end_and_resume(tmp_path, small_demo_root, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("# t\n\n<!-- study-table:start -->\nold\n<!-- study-table:end -->\n")
    args = study_args(tmp_path, small_demo_root, "--runs", *FAMILIES, "--readme", str(readme))
    report = run_study(args, log=lambda *_: None)
    assert readme_block(readme.read_text(), reproduce.README_BLOCK) == reproduce.summary_table(report)
    assert "| ARVideo (2x2x2, random, 80%) |" in readme.read_text() and "old" not in readme.read_text()
    results = tmp_path / "results"
    runs = sorted(p.name.rsplit("-", 1)[0] for p in (results / "runs").glob("*.json"))
    assert runs == sorted(FAMILIES)
    record = json.loads(next((results / "runs").glob("mask90-*.json")).read_text())
    assert record["spec"]["mask_ratio"] == 0.9 and record["pretrain"]["steps"] == 2
    for metric in ("attentive_probe_top1", "linear_probe_top1"):
        assert 0 <= record[metric] <= 100
    assert 0 <= record["finetunes"]["0"]["top1"] <= 100 and record["finetunes"]["0"]["num_test"] == 6
    work = tmp_path / "work"
    encoder_config = json.loads(next(work.glob("videomae-*/encoder/config.json")).read_text())
    assert encoder_config["model_type"] == "arvideo" and encoder_config["hidden_size"] == 64
    # random init finetunes the study's architecture (the overrides), freshly initialized
    random_config = json.loads(next(work.glob("random-*/finetune-random-seed0/config.json")).read_text())
    assert random_config["hidden_size"] == 64 and random_config["num_hidden_layers"] == 2
    assert not list(work.glob("*/checkpoints"))  # optimizer state is not kept
    evaluated = json.loads(next(work.glob("mask90-*/finetune-mask90-seed0/eval_results.json")).read_text())
    assert evaluated["command"].startswith("python examples/reproduce.py --results_dir")  # the command that made it

    markdown = (results / "RESULTS.md").read_text()
    for table in STUDY_TABLES:
        assert table.title in markdown
    assert "80.1" in markdown and "66.8" in markdown and "ViT-B" in markdown  # paper numbers, labeled
    assert (results / "results.png").stat().st_size > 0
    assert {c["better"] for c in report["claims"]} >= {"arvideo", "videomae"}
    assert set(report["aggregates"]) == set(FAMILIES)

    # Finished runs are not redone...
    def no_pretraining(*_args, **_kwargs):
        raise AssertionError("a finished run was redone")

    monkeypatch.setattr(reproduce, "pretrain", no_pretraining)
    run_study(args, log=lambda *_: None)
    # ...but a changed setting is a different run.
    changed = study_args(tmp_path, small_demo_root, "--runs", "random", "--probe_epochs", "4")
    monkeypatch.undo()
    run_study(changed, log=lambda *_: None)
    assert len(list((results / "runs").glob("random-*.json"))) == 2


def test_killed_run_resumes_without_redoing_pretraining_or_finished_evaluations(tmp_path, small_demo_root, monkeypatch):
    args = study_args(tmp_path, small_demo_root, "--runs", "arvideo", "--seeds", "0", "1")
    finetunes = []
    real_finetune = reproduce.finetune

    def killed_on_second_seed(protocol, encoder, name, seed, **kwargs):
        if seed == 1:
            raise KeyboardInterrupt("killed while finetuning")
        finetunes.append(seed)
        return real_finetune(protocol, encoder, name, seed, **kwargs)

    monkeypatch.setattr(reproduce, "finetune", killed_on_second_seed)
    with pytest.raises(KeyboardInterrupt):
        run_study(args, log=lambda *_: None)
    record = json.loads(next((tmp_path / "results" / "runs").glob("arvideo-*.json")).read_text())
    assert set(record["finetunes"]) == {"0"} and "attentive_probe_top1" in record  # what finished was kept
    monkeypatch.undo()
    calls = []
    monkeypatch.setattr(pretrain_module, "run_pretraining", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(reproduce, "probes", lambda *a, **k: calls.append("probes"))
    run_study(args, log=lambda *_: None)
    assert calls == [] and finetunes == [0]  # the saved encoder and the finished probes and seed 0 were reused
    record = json.loads(next((tmp_path / "results" / "runs").glob("arvideo-*.json")).read_text())
    assert set(record["finetunes"]) == {"0", "1"} and record["pretrain"]["steps"] == 2


def test_run_switches_reach_the_model_config(tmp_path):
    args = parse_reproduce_args(["--results_dir", str(tmp_path)])
    configs = {
        name: build_config(parse_pretrain_args(reproduce.pretrain_argv(args, run, tmp_path)))
        for name, run in STUDY_RUNS.items()
    }
    assert configs["arvideo"].cluster_size == [2, 2, 2] and configs["arvideo"].token_grid == (8, 4, 4)
    assert configs["token"].cluster_size == [1, 1, 1]
    assert configs["spatial"].cluster_size == [1, 4, 4] and configs["temporal"].cluster_size == [8, 1, 1]
    assert configs["st422"].cluster_size == [4, 2, 2] and configs["st244"].cluster_size == [2, 4, 4]
    assert configs["temporal_first"].prediction_order == "temporal_first"
    assert configs["mask75"].mask_ratio == 0.75
    for name in ("spatial_first", "temporal_first", "mask75", "mask90"):  # one switch away from the ARVideo run
        assert configs[name].cluster_size == configs["arvideo"].cluster_size
        differing = [key for key in ("prediction_order", "mask_ratio")
                     if getattr(configs[name], key) != getattr(configs["arvideo"], key)]
        assert len(differing) == 1, (name, differing)
    pretrain_args = parse_pretrain_args(reproduce.pretrain_argv(args, STUDY_RUNS["videomae"], tmp_path))
    assert pretrain_args.method == "videomae" and pretrain_args.max_steps == 600 and pretrain_args.preset == "tiny"
    other_pretraining = parse_reproduce_args(["--pretrain_seed", "1"])
    assert reproduce.run_key(args, STUDY_RUNS["arvideo"]) != reproduce.run_key(other_pretraining, STUDY_RUNS["arvideo"])
    more_seeds = parse_reproduce_args(["--seeds", "0", "1", "2", "3"])  # seeds add finetunes to the same run
    assert reproduce.run_key(args, STUDY_RUNS["arvideo"]) == reproduce.run_key(more_seeds, STUDY_RUNS["arvideo"])
    command = reproduce.reproduce_command(parse_reproduce_args(["--seeds", "0", "1", "--pretrain_steps", "50"]))
    assert command == "python examples/reproduce.py --seeds 0 1 --pretrain_steps 50"
    with pytest.raises(ValueError, match="Unknown runs"):
        selected_runs(parse_reproduce_args(["--runs", "gpt4"]))
    lists = ["--unlabeled_list", "u.txt", "--low_label_list", "l.txt", "--train_list", "t.txt", "--test_list", "v.txt"]
    base = reproduce.held_out_protocol(parse_reproduce_args(["--preset", "base", *lists]), tmp_path)
    assert base.preset == "paper" and base.test_list == str(Path("v.txt").resolve())  # the ViT presets: paper recipe
    with pytest.raises(ValueError, match="--unlabeled_list, --low_label_list"):
        parse_reproduce_args(["--test_list", "val.txt"])


@pytest.mark.parametrize("presets, key, value", [
    (FINETUNE_PRESETS["tiny"], "head_norm", "layer"), (RUN_PRESETS["tiny"], "learning_rate", 1e-3),
    (ARVIDEO_PRESETS["tiny"], "pixel_target_decay_steps", 0),
])
def test_a_changed_recipe_is_a_new_run_never_an_old_result(monkeypatch, presets, key, value):
    """The presets are code: a result measured under an earlier recipe must not be reused under the new one."""
    args = parse_reproduce_args([])
    before = reproduce.run_key(args, STUDY_RUNS["arvideo"])
    monkeypatch.setitem(presets, key, value)
    assert reproduce.run_key(args, STUDY_RUNS["arvideo"]) != before


def test_readme_study_table_is_generated_from_the_committed_results():
    """The README's study table is `summary_table` of the committed reproduce/results.json, never typed."""
    root = Path(__file__).parents[1]
    report = json.loads((root / "reproduce" / "results.json").read_text())
    assert readme_block((root / "README.md").read_text(), reproduce.README_BLOCK) == reproduce.summary_table(report)
    assert set(report["aggregates"]) == set(STUDY_RUNS)  # the committed study is complete
    assert all(len(entry["seeds"]) == 3 for entry in report["aggregates"].values())


def test_claim_verdicts():
    def stat(*values):
        mean = sum(values) / len(values)
        std = (sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)) ** 0.5
        return {"linear_probe_top1": {"mean": mean, "std": std, "values": list(values)},
                "seeds": list(range(len(values)))}

    stats = {"arvideo": stat(50, 52, 54), "token": stat(30, 31, 32), "videomae": stat(51, 53, 55),
             "mask90": stat(51, 53, 56), "random": stat(60, 61, 62), "temporal": stat(47, 49, 51),
             "spatial": stat(49, 51, 53)}
    claims = check_claims(stats)
    verdicts = {(c["better"], c["worse"]): c["verdict"] for c in claims}
    paired = {(c["better"], c["worse"]): c["paired_std"] for c in claims}
    assert paired["arvideo", "temporal"] == 0.0  # 50-47, 52-49, 54-51: the same gap on every seed
    assert paired["arvideo", "token"] == pytest.approx(1.0)  # 20, 21, 22
    assert verdicts["arvideo", "token"] == "held, beyond 2 pooled std"
    assert verdicts["arvideo", "temporal"] == "held"  # 3 points: between one and two pooled std (2.0)
    assert verdicts["arvideo", "spatial"] == "held, within noise"
    assert verdicts["arvideo", "videomae"] == "held (within noise)"  # the paper's claim is a tie
    assert verdicts["arvideo", "mask90"] == "did not hold"
    assert verdicts["arvideo", "random"] == "did not hold"
    assert ("arvideo", "st422") not in verdicts  # runs that were not made are not judged
    single = {"arvideo": stat(50), "token": stat(40)}
    assert check_claims(single)[0]["verdict"] == "held (one value: no spread)"


def test_a_study_on_one_machine_is_reported_as_one_machine_with_its_load_range():
    """Each run records the machine with the load of its moment; the report names the machine once."""
    line = "AMD EPYC, 2 cores usable, 2 torch threads, load avg {}, torch 2.13.0+cpu, no GPU"
    assert merge_machines([line.format(2.5), line.format(2.3), line.format(2.7)]) == line.format("2.3-2.7")
    assert merge_machines([line.format(2.3)] * 2) == line.format(2.3)
    other = "Intel Xeon, 8 cores usable, 8 torch threads, torch 2.13.0+cpu, no GPU"
    assert merge_machines([line.format(2.3), other]) == f"{line.format(2.3)}; {other}"


def test_a_second_study_on_the_same_results_folder_is_refused_naming_the_first(tmp_path):
    """One writer per results folder: two studies would interleave their reports and README blocks."""
    args = parse_reproduce_args(["--results_dir", str(tmp_path / "results"), "--work_dir", str(tmp_path / "work")])
    with OutputLock(tmp_path / "results", "reproduce"), pytest.raises(OutputLockedError, match="reproduce, pid"):
        run_study(args, log=lambda *_: None)
    assert not (tmp_path / "work").exists()  # refused before anything was run

"""The reproduction study: one run per ablation family end to end on the small demo set, resumability, the report."""

import json

import pytest

from arvideo_hf.training import pretrain as pretrain_module
from arvideo_hf.training import study as reproduce
from arvideo_hf.training.arguments import parse_pretrain_args
from arvideo_hf.training.pretrain import build_config
from arvideo_hf.training.study import STUDY_RUNS, STUDY_TABLES, check_claims, parse_reproduce_args, run_study


SMALL = '{"num_hidden_layers": 2, "decoder_num_hidden_layers": 1, "hidden_size": 64, "intermediate_size": 128}'
# One run per family: methods (VideoMAE, random init), clusters (token), order (temporal-first), mask (90%).
FAMILIES = ["arvideo", "videomae", "token", "temporal_first", "mask90", "random"]


def study_args(tmp_path, demo_root, *extra):
    return parse_reproduce_args([
        "--results_dir", str(tmp_path / "results"), "--work_dir", str(tmp_path / "work"), "--demo_root", str(demo_root),
        "--config_overrides", SMALL, "--seeds", "0", "--pretrain_steps", "2", "--batch_size", "2", "--num_workers", "0",
        "--probe_epochs", "3", "--finetune_epochs", "1", "--finetune_batch_size", "4", "--warmup_steps", "1", *extra,
    ])


def test_study_end_to_end_and_resume(tmp_path, small_demo_root, monkeypatch):
    args = study_args(tmp_path, small_demo_root, "--runs", *FAMILIES)
    report = run_study(args, log=lambda *_: None)
    results = tmp_path / "results"
    runs = sorted(p.name.split("-seed")[0] for p in (results / "runs").glob("*.json"))
    assert runs == sorted(FAMILIES)
    record = json.loads(next((results / "runs").glob("mask90-seed0-*.json")).read_text())
    assert record["spec"]["mask_ratio"] == 0.9 and record["pretrain"]["steps"] == 2
    assert 0 <= record["linear_probe_top1"] <= 100 and 0 <= record["finetune_top1"] <= 100
    encoder_config = json.loads(next((tmp_path / "work").glob("videomae-seed0-*/encoder/config.json")).read_text())
    assert encoder_config["model_type"] == "arvideo" and encoder_config["hidden_size"] == 64
    assert not list((tmp_path / "work").glob("*/checkpoints"))  # optimizer state is not kept

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
    assert len(list((results / "runs").glob("random-seed0-*.json"))) == 2


def test_killed_run_resumes_without_redoing_pretraining(tmp_path, small_demo_root, monkeypatch):
    args = study_args(tmp_path, small_demo_root, "--runs", "arvideo", "--finetune_epochs", "0")

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt("killed while evaluating")

    monkeypatch.setattr(reproduce, "evaluate_run", killed)
    with pytest.raises(KeyboardInterrupt):
        run_study(args, log=lambda *_: None)
    monkeypatch.undo()
    calls = []
    monkeypatch.setattr(pretrain_module, "run_pretraining", lambda *a, **k: calls.append(a))
    run_study(args, log=lambda *_: None)
    assert calls == []  # the saved encoder was reused
    record = json.loads(next((tmp_path / "results" / "runs").glob("arvideo-seed0-*.json")).read_text())
    assert "finetune_top1" not in record and record["pretrain"]["steps"] == 2


def test_run_switches_reach_the_model_config(tmp_path):
    args = parse_reproduce_args(["--results_dir", str(tmp_path)])
    configs = {
        name: build_config(parse_pretrain_args(reproduce.pretrain_argv(args, run, 0, tmp_path)))
        for name, run in STUDY_RUNS.items()
    }
    assert configs["arvideo"].cluster_size == [2, 2, 2] and configs["arvideo"].token_grid == (8, 4, 4)
    assert configs["token"].cluster_size == [1, 1, 1]
    assert configs["spatial"].cluster_size == [1, 4, 4] and configs["temporal"].cluster_size == [8, 1, 1]
    assert configs["temporal_first"].prediction_order == "temporal_first"
    assert configs["mask75"].mask_ratio == 0.75
    assert parse_pretrain_args(reproduce.pretrain_argv(args, STUDY_RUNS["videomae"], 0, tmp_path)).method == "videomae"
    assert reproduce.run_key(args, STUDY_RUNS["arvideo"], 0) != reproduce.run_key(args, STUDY_RUNS["arvideo"], 1)
    command = reproduce.reproduce_command(parse_reproduce_args(["--seeds", "0", "1", "--pretrain_steps", "50"]))
    assert command == "python examples/reproduce.py --seeds 0 1 --pretrain_steps 50"
    with pytest.raises(ValueError, match="Unknown runs"):
        parse_reproduce_args(["--runs", "gpt4"])


def test_claim_verdicts():
    def stat(*values):
        mean = sum(values) / len(values)
        std = (sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)) ** 0.5
        return {"linear_probe_top1": {"mean": mean, "std": std, "values": list(values)}}

    stats = {"arvideo": stat(50, 52, 54), "token": stat(30, 31, 32), "videomae": stat(51, 53, 55),
             "mask90": stat(51, 53, 56), "random": stat(60, 61, 62)}
    verdicts = {(c["better"], c["worse"]): c["verdict"] for c in check_claims(stats)}
    assert verdicts["arvideo", "token"] == "held"
    assert verdicts["arvideo", "videomae"] == "held (within noise)"  # the paper's claim is a tie
    assert verdicts["arvideo", "mask90"] == "did not hold"
    assert verdicts["arvideo", "random"] == "did not hold"
    assert ("arvideo", "st444") not in verdicts  # runs that were not made are not judged
    single = {"arvideo": stat(50), "token": stat(40)}
    assert check_claims(single)[0]["verdict"] == "held (one seed: no spread)"

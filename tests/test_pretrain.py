"""Pretraining loop: runs on the demo set, resumes exactly after a crash, and runs as real 2-process DDP on CPU."""

import json

import pytest
import torch
from accelerate.state import AcceleratorState, GradientState
from safetensors.torch import load_file
from transformers import AutoModel

from arvideo_hf.training import parse_pretrain_args, run_pretraining
from arvideo_hf.training import pretrain as pretrain_module

from .conftest import tiny_config


SMALL = '{"num_hidden_layers": 2, "decoder_num_hidden_layers": 1, "hidden_size": 64, "intermediate_size": 128}'


def args_for(output_dir, demo_root, *extra):
    return parse_pretrain_args([
        "--output_dir", str(output_dir), "--demo_root", str(demo_root), "--config_overrides", SMALL,
        "--per_device_batch_size", "2", "--num_workers", "0", "--logging_steps", "1", "--report_to", "none",
        *extra,
    ])


def fresh_accelerate_state():
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def test_run_writes_models_logs_and_falls(tmp_path, small_demo_root):
    fresh_accelerate_state()
    summary = run_pretraining(args_for(tmp_path, small_demo_root, "--max_steps", "12", "--learning_rate", "3e-3"))
    assert summary["steps"] == 12 and summary["clips_seen"] == 24 and summary["bad_videos"] == 0
    for name in ("pretrain_model/model.safetensors", "encoder/model.safetensors", "encoder/preprocessor_config.json",
                 "training_args.json", "loss_curve.png", "summary.json"):
        assert (tmp_path / name).exists(), name
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 13))
    assert sum(r["loss"] for r in records[-4:]) < sum(r["loss"] for r in records[:4])  # it learns something
    encoder = AutoModel.from_pretrained(tmp_path / "encoder")
    assert type(encoder).__name__ == "ARVideoModel" and encoder.config.hidden_size == 64


def test_kill_and_resume_equals_uninterrupted(tmp_path, small_demo_root, monkeypatch):
    extra = ("--max_steps", "8", "--save_steps", "3", "--gradient_accumulation_steps", "2", "--warmup_epochs", "0.5")
    fresh_accelerate_state()
    run_pretraining(args_for(tmp_path / "straight", small_demo_root, *extra))

    real_save = pretrain_module.save_checkpoint

    def crash_after_step_3(accelerator, model, output_dir, state, *rest):
        path = real_save(accelerator, model, output_dir, state, *rest)
        if state.global_step == 3:
            raise KeyboardInterrupt("simulated kill")
        return path

    monkeypatch.setattr(pretrain_module, "save_checkpoint", crash_after_step_3)
    fresh_accelerate_state()
    with pytest.raises(KeyboardInterrupt):
        run_pretraining(args_for(tmp_path / "resumed", small_demo_root, *extra))
    # a half-written checkpoint must be ignored by --resume latest
    (tmp_path / "resumed" / "checkpoints" / "step_00000006").mkdir()
    monkeypatch.setattr(pretrain_module, "save_checkpoint", real_save)
    fresh_accelerate_state()
    summary = run_pretraining(args_for(tmp_path / "resumed", small_demo_root, *extra, "--resume", "latest"))
    assert summary["steps"] == 8
    straight = load_file(tmp_path / "straight" / "pretrain_model" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "pretrain_model" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.allclose(straight[key], resumed[key], atol=1e-6), key
    steps = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))


def test_resume_without_checkpoint_starts_fresh(tmp_path, small_demo_root):
    fresh_accelerate_state()
    summary = run_pretraining(args_for(tmp_path, small_demo_root, "--max_steps", "1", "--resume", "latest"))
    assert summary["steps"] == 1
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        fresh_accelerate_state()
        run_pretraining(args_for(tmp_path / "b", small_demo_root, "--max_steps", "1", "--resume", str(tmp_path)))


def test_two_process_cpu_ddp(tmp_path, small_demo_root):
    """Real gloo DDP with two processes, launched exactly as the README documents."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = Path(__file__).resolve().parents[1] / "examples" / "pretrain.py"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(port), str(script),
        "--output_dir", str(tmp_path), "--demo_root", str(small_demo_root), "--config_overrides", SMALL,
        "--per_device_batch_size", "2", "--num_workers", "0", "--max_steps", "3", "--save_steps", "3",
        "--report_to", "none",
    ]
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["clips_seen"] == 3 * 2 * 2
    assert (tmp_path / "checkpoints" / "step_00000003" / "trainer_state.json").exists()


def test_yaml_arguments_and_presets(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("preset: base\noutput_dir: out\nmask_ratio: 0.75\n")
    args = parse_pretrain_args([str(path)])
    assert (args.model_preset, args.mask_ratio, args.sampling_rate, args.base_lr) == ("base", 0.75, 4, 1.5e-4)
    with pytest.raises(ValueError, match="Unknown run preset"):
        parse_pretrain_args(["--preset", "gigantic"])
    config = pretrain_module.build_config(parse_pretrain_args(["--cluster_size", "1", "1", "1"]))
    assert config.cluster_size == [1, 1, 1]


def test_videomae_baseline_same_pipeline(tmp_path, small_demo_root):
    """--method videomae: transformers' VideoMAEForPreTraining in the same loop, encoder exported as ARVideoModel."""
    from transformers import VideoMAEForPreTraining

    fresh_accelerate_state()
    summary = run_pretraining(args_for(tmp_path, small_demo_root, "--method", "videomae", "--max_steps", "4"))
    assert summary["method"] == "videomae" and summary["steps"] == 4 and summary["clips_seen"] == 8
    pretrain_model = VideoMAEForPreTraining.from_pretrained(tmp_path / "pretrain_model")
    assert pretrain_model.config.hidden_size == 64 and pretrain_model.config.decoder_hidden_size == 96
    encoder = AutoModel.from_pretrained(tmp_path / "encoder")
    assert type(encoder).__name__ == "ARVideoModel" and encoder.config.cluster_size == [2, 2, 2]
    clip = torch.randn(1, 16, 3, 32, 32)
    with torch.no_grad():  # same weights: the exported encoder equals VideoMAE's encoder before its pretraining norm
        expected = pretrain_model.videomae.encoder(pretrain_model.videomae.embeddings(clip, None)).last_hidden_state
        assert torch.allclose(encoder.eval()(clip).last_hidden_state, expected, atol=1e-5)


def test_tube_masking_collator_is_seeded_like_arvideo():
    from arvideo_hf import ARVideoConfig

    config = tiny_config()
    samples = [{"pixel_values": torch.zeros(8, 3, 64, 64), "index": i} for i in range(3)]
    collator = pretrain_module.TubeMaskingCollator(config, mask_ratio=0.9, seed=5)
    batch = collator(samples)
    mask = batch["bool_masked_pos"]
    assert mask.shape == (3, 256) and mask.dtype == torch.bool
    assert (mask.sum(1) == 4 * 57).all()  # int(0.9 * 64) positions per time step, 4 time steps
    assert (mask.view(3, 4, 64) == mask.view(3, 4, 64)[:, :1]).all()  # tubes: the same positions at every step
    assert torch.equal(collator(samples)["bool_masked_pos"], mask)
    collator.set_epoch(1)
    assert not torch.equal(collator(samples)["bool_masked_pos"], mask)
    base = pretrain_module.videomae_config_from(ARVideoConfig.from_preset("base"))
    assert (base.decoder_hidden_size, base.decoder_num_hidden_layers, base.use_mean_pooling) == (384, 4, False)
    with pytest.raises(ValueError, match="method must be"):
        parse_pretrain_args(["--method", "bert"])


def test_existing_small_demo_is_used_as_is(small_demo_root):
    """A complete demo build passed as --demo_root is read as it is, never rebuilt to the default 300 videos."""
    assert pretrain_module.open_demo_dataset(small_demo_root) == small_demo_root
    assert len((small_demo_root / "train.txt").read_text().splitlines()) == 12


def test_warmup_cosine_fits_a_budget_and_survives_a_scheduler_round_trip():
    from arvideo_hf.training.optim import WarmupCosine

    schedule = WarmupCosine(warmup_steps=100, total_steps=10_000, min_ratio=0.01)
    assert schedule(0) == 0.0 and schedule(50) == 0.5 and schedule(100) == 1.0
    schedule.plan_for_budget(steps_done=20, seconds_used=10.0, seconds_budget=100.0, warmup_fraction=0.1)
    assert schedule.total_steps == 20 + 180  # 90 s left at 0.5 s/step
    assert schedule.warmup_steps == 20  # capped at 10% of the horizon
    assert schedule(200) == pytest.approx(0.01) and schedule(10**6) == pytest.approx(0.01)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    saved = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule).state_dict()
    fresh = WarmupCosine(warmup_steps=100, total_steps=10_000, min_ratio=0.01)
    torch.optim.lr_scheduler.LambdaLR(optimizer, fresh).load_state_dict(saved)
    assert (fresh.warmup_steps, fresh.total_steps) == (20, 200)  # a resumed run keeps the planned horizon


def test_max_seconds_fits_the_cosine_into_the_budget(tmp_path, small_demo_root, monkeypatch):
    """A wall-clock budget with a large --epochs decays the learning rate to its floor within the budget and stops
    on time, instead of ending still at peak lr."""
    monkeypatch.setattr(pretrain_module, "BUDGET_CALIBRATION_STEPS", 3)
    fresh_accelerate_state()
    summary = run_pretraining(args_for(tmp_path, small_demo_root, "--max_seconds", "6", "--epochs", "1000",
                                       "--learning_rate", "1e-3", "--min_lr", "1e-5", "--warmup_epochs", "1"))
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert summary["steps"] > 3 and 6 <= summary["wall_seconds"] < 30
    assert max(r["lr"] for r in records) > 1e-4  # it warmed up (warmup capped at 10% of the planned steps)
    assert records[-1]["lr"] < 1e-4  # and decayed within the budget

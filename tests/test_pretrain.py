"""Pretraining loop: runs on the demo set, learns, resumes exactly after a real kill, refuses to mix two runs in one
folder, stops on a non-finite loss, and runs as real 2-process DDP on CPU with the weights of a 1-process run."""

import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, HfArgumentParser

from arvideo_hf import ARVideoForPretraining
from arvideo_hf.training import arguments, parse_pretrain_args, run_pretraining
from arvideo_hf.training import pretrain as pretrain_module
from arvideo_hf.training.finetune import parse_finetune_args
from arvideo_hf.training.optim import build_param_groups
from arvideo_hf.training.pretrain import reset_accelerate_state as fresh_accelerate_state


ROOT = Path(__file__).resolve().parents[1]
SMALL = '{"num_hidden_layers": 2, "decoder_num_hidden_layers": 1, "hidden_size": 64, "intermediate_size": 128}'
# The `small` recipe (lr = base_lr x total batch / 256, no preset absolute lr) on the tiny model and demo clips.
SMALL_RECIPE = ("--preset", "small", "--model_preset", "tiny", "--sampling_rate", "2")


def argv_for(output_dir, demo_root, *extra):
    return [
        "--output_dir", str(output_dir), "--demo_root", str(demo_root), "--config_overrides", SMALL,
        "--per_device_batch_size", "2", "--repeated_aug", "1", "--num_workers", "0", "--logging_steps", "1",
        "--report_to", "none", *extra,
    ]


def args_for(output_dir, demo_root, *extra):
    return parse_pretrain_args(argv_for(output_dir, demo_root, *extra))


def pretrain(output_dir, demo_root, *extra):
    """One in-process run (accelerate's process-wide state reset first); returns its summary."""
    fresh_accelerate_state()
    return run_pretraining(args_for(output_dir, demo_root, *extra))


def metrics(output_dir):
    return [json.loads(line) for line in (Path(output_dir) / "metrics.jsonl").read_text().splitlines()]


def weights(folder):
    return load_file(Path(folder) / "model.safetensors")


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max((a[key] - b[key]).abs().max().item() for key in a)


def subprocess_env(tmp_path):
    """One intra-op thread (the kill test runs its in-process runs with one too, so all compute bit-identically)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home")}


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_two_processes(tmp_path, script, launcher_args, script_args, log_name):
    """Start `accelerate launch` of two CPU processes over gloo, as the README documents, logging to `log_name`. The
    launcher leads its own process group, so `finish_launch` can stop its rank workers with it."""
    command = [sys.executable, "-m", "accelerate.commands.launch", *launcher_args, "--num_processes", "2",
               "--mixed_precision", "no", "--main_process_port", str(free_port()), str(ROOT / "examples" / script),
               *script_args]
    env = {**subprocess_env(tmp_path), "ACCELERATE_USE_CPU": "1"}
    with (tmp_path / log_name).open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return process, tmp_path / log_name


def finish_launch(started, timeout=300):
    """Wait for a started launch; its log, after checking it succeeded. On a timeout or any failure the whole process
    group goes, rank workers included (killing the launcher alone left them running)."""
    process, log_path = started
    try:
        process.wait(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    log = log_path.read_text()
    assert process.returncode == 0, log[-4000:]
    return log


# --------------------------------------------------------------------------------------------------- runs and logs
def test_run_writes_models_and_logs(tmp_path, small_demo_root):
    summary = pretrain(tmp_path, small_demo_root, "--max_steps", "3")
    assert summary["steps"] == 3 and summary["clips_seen"] == 6 and summary["bad_videos"] == 0
    assert summary["skipped_nonfinite_batches"] == 0
    for name in ("pretrain_model/model.safetensors", "encoder/model.safetensors", "encoder/preprocessor_config.json",
                 "training_args.json", "loss_curve.png", "summary.json",
                 "checkpoints/step_00000003/training_args.json"):
        assert (tmp_path / name).exists(), name
    assert [r["step"] for r in metrics(tmp_path)] == [1, 2, 3]
    encoder = AutoModel.from_pretrained(tmp_path / "encoder")
    assert type(encoder).__name__ == "ARVideoModel" and encoder.config.hidden_size == 64


OVERFIT_FACTOR, OVERFIT_MAX_STEPS = 2.0, 100  # measured: the loss halves in about 60 steps


def test_it_learns_by_overfitting_a_fixed_batch(tmp_path, small_demo_root):
    """Pretraining's model, optimizer groups and betas on one fixed batch (clips, cluster orders and masks): the loss
    must fall below 1/OVERFIT_FACTOR of its first value within OVERFIT_MAX_STEPS steps. A model that cannot learn
    (no gradient to the decoder, targets it cannot see, a frozen encoder) stays near its first loss."""
    args = args_for(tmp_path, small_demo_root)
    config = pretrain_module.build_config(args)
    dataset = pretrain_module.build_train_dataset(args, config)
    torch.manual_seed(0)
    model, collator = pretrain_module.build_model_and_collator(args, config)
    batch = collator([dataset[0], dataset[1]])
    optimizer = torch.optim.AdamW(build_param_groups(model, args.weight_decay), lr=3e-3,
                                  betas=(args.adam_beta1, args.adam_beta2))
    losses = []
    for _ in range(OVERFIT_MAX_STEPS):
        loss = model(**batch).loss
        losses.append(loss.item())
        if losses[-1] < losses[0] / OVERFIT_FACTOR:
            break
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert losses[-1] < losses[0] / OVERFIT_FACTOR, f"loss {losses[0]:.3f} -> {losses[-1]:.3f} in {len(losses)} steps"


# ------------------------------------------------------------------------------------------- kill, crash and resume
KILL_DRIVER = """
import sys
import time

from accelerate import Accelerator

from arvideo_hf.training import parse_pretrain_args, run_pretraining

real_save_state = Accelerator.save_state


def save_state_then_wait(self, output_dir=None, **kwargs):
    # Writes the weights of step 6's temporary checkpoint, then waits (before its state file) to be killed.
    result = real_save_state(self, output_dir, **kwargs)
    if str(output_dir).endswith(".partial-step_00000006"):
        print("MID-SAVE", flush=True)
        time.sleep(600)
    return result


Accelerator.save_state = save_state_then_wait
run_pretraining(parse_pretrain_args(sys.argv[1:]))
"""


def kill_mid_save(tmp_path, argv):
    """Run pretraining in a subprocess and SIGKILL it in the middle of writing step 6's checkpoint."""
    driver = tmp_path / "kill_driver.py"
    driver.write_text(KILL_DRIVER)
    log = tmp_path / "killed.log"
    with log.open("w") as stderr:
        process = subprocess.Popen([sys.executable, str(driver), *argv], stdout=subprocess.PIPE, stderr=stderr,
                                   text=True, env=subprocess_env(tmp_path))
        try:
            reached = any("MID-SAVE" in line for line in process.stdout)
            assert reached, log.read_text()[-3000:]
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL


def test_sigkill_mid_epoch_and_mid_save_then_resume_equals_uninterrupted(tmp_path, small_demo_root, one_thread):
    """A real SIGKILL of a pretraining process while it writes a checkpoint: the half-written temporary folder (weights,
    no state file) is ignored, `--resume latest` continues from the last complete checkpoint, which sits in the middle
    of an epoch, and the final weights equal an uninterrupted run's (1e-6)."""
    extra = ("--max_steps", "8", "--save_steps", "2", "--gradient_accumulation_steps", "2", "--warmup_epochs", "0.5")
    pretrain(tmp_path / "straight", small_demo_root, *extra)

    resumed = tmp_path / "resumed"
    kill_mid_save(tmp_path, argv_for(resumed, small_demo_root, *extra))
    checkpoints = resumed / "checkpoints"
    half_written = checkpoints / ".partial-step_00000006"
    assert (half_written / "model.safetensors").is_file() and not (half_written / "trainer_state.json").exists()
    assert sorted(p.name for p in checkpoints.glob("step_*")) == ["step_00000002", "step_00000004"]
    state = json.loads((checkpoints / "step_00000004" / "trainer_state.json").read_text())
    assert (state["epoch"], state["step_in_epoch"]) == (1, 1)  # 3 steps per epoch: killed mid-epoch
    (checkpoints / "step_00000007").mkdir()  # a step folder without its state file is ignored too

    summary = pretrain(resumed, small_demo_root, *extra, "--resume", "latest")
    assert summary["steps"] == 8
    for folder in ("pretrain_model", "encoder"):
        assert max_difference(weights(tmp_path / "straight" / folder), weights(resumed / folder)) <= 1e-6, folder
    assert [r["step"] for r in metrics(resumed)] == list(range(1, 9))


def test_resume_without_checkpoint_starts_fresh(tmp_path, small_demo_root):
    summary = pretrain(tmp_path, small_demo_root, "--max_steps", "1", "--resume", "latest")
    assert summary["steps"] == 1
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        pretrain(tmp_path / "b", small_demo_root, "--max_steps", "1", "--resume", str(tmp_path))


# ------------------------------------------------------------------------------------------------ used output folders
def test_used_output_dir_is_refused_then_overwritten(tmp_path, small_demo_root):
    pretrain(tmp_path, small_demo_root, "--max_steps", "3", "--save_steps", "1", "--save_total_limit", "5")
    (tmp_path / "notes.txt").write_text("not a run file")
    with pytest.raises(FileExistsError, match="--resume latest.*--overwrite_output_dir"):
        pretrain(tmp_path, small_demo_root, "--max_steps", "1")
    with pytest.raises(ValueError, match="pick one"):
        args_for(tmp_path, small_demo_root, "--resume", "latest", "--overwrite_output_dir")

    pretrain(tmp_path, small_demo_root, "--max_steps", "1", "--overwrite_output_dir")
    assert [r["step"] for r in metrics(tmp_path)] == [1]  # the old run's log lines are gone, not appended to
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_00000001"]
    assert (tmp_path / "notes.txt").read_text() == "not a run file"  # only what a run writes is deleted


def test_resume_latest_only_picks_a_checkpoint_of_the_same_model_and_data(tmp_path, small_demo_root):
    pretrain(tmp_path, small_demo_root, "--max_steps", "2", "--save_steps", "1")
    with pytest.raises(ValueError, match=r"no checkpoint .* this run's model and data.*mask_ratio"):
        pretrain(tmp_path, small_demo_root, "--max_steps", "3", "--resume", "latest", "--mask_ratio", "0.5")

    # Among several complete checkpoints, the newest one written with the same model and data wins.
    run_args = vars(args_for(tmp_path, small_demo_root))
    other = {**run_args, "config_overrides": '{"hidden_size": 32}'}
    folder = tmp_path / "picked" / "checkpoints"
    for step, saved in ((3, run_args), (4, run_args), (5, other)):
        checkpoint = folder / f"step_{step:08d}"
        shutil.copytree(tmp_path / "checkpoints" / "step_00000002", checkpoint)  # complete and valid files
        (checkpoint / "training_args.json").write_text(json.dumps(saved))
        (checkpoint / "trainer_state.json").write_text("{}")
    assert pretrain_module.find_checkpoint(tmp_path / "picked", "latest", run_args).name == "step_00000004"
    same_but_spelled_differently = {**run_args, "config_overrides": json.dumps(json.loads(SMALL), indent=1)}
    assert pretrain_module.find_checkpoint(tmp_path / "picked", "latest", same_but_spelled_differently).name == (
        "step_00000004"
    )


# -------------------------------------------------------------------------------------------------- non-finite loss
def poison_video(monkeypatch, position):
    """Make the `position`-th training video decode to NaNs (as a corrupt file could); returns its path."""
    real_build = pretrain_module.build_train_dataset
    poisoned = {}

    def build(args, config):
        dataset = real_build(args, config)
        real_load = dataset.load
        poisoned["path"] = dataset.records[position].path

        def load(index, rng):
            pixels = real_load(index, rng)
            return pixels.fill_(float("nan")) if index == position else pixels

        dataset.load = load
        return dataset

    monkeypatch.setattr(pretrain_module, "build_train_dataset", build)
    return poisoned


def checkpoint_weights_are_finite(output_dir):
    for checkpoint in (Path(output_dir) / "checkpoints").glob("step_*"):
        for key, value in weights(checkpoint).items():
            assert torch.isfinite(value).all(), (checkpoint.name, key)


def test_nonfinite_loss_stops_before_the_step_naming_step_and_videos(tmp_path, small_demo_root, monkeypatch):
    poisoned = poison_video(monkeypatch, 5)
    with pytest.raises(FloatingPointError, match=r"Non-finite loss \(nan") as info:  # NonFiniteError
        pretrain(tmp_path, small_demo_root, "--max_steps", "6", "--save_steps", "1", "--save_total_limit", "10")
    assert poisoned["path"] in str(info.value) and "--skip_nonfinite" in str(info.value)
    step = int(re.search(r"at step (\d+)", str(info.value)).group(1))
    saved = sorted(int(p.name.split("_")[1]) for p in (tmp_path / "checkpoints").glob("step_*"))
    assert saved == list(range(1, step))  # every step before the bad batch, none with its update
    checkpoint_weights_are_finite(tmp_path)
    assert [r["step"] for r in metrics(tmp_path)] == list(range(1, step))


def test_skip_nonfinite_skips_the_step_and_counts_it(tmp_path, small_demo_root, monkeypatch):
    poison_video(monkeypatch, 5)
    summary = pretrain(tmp_path, small_demo_root, "--max_steps", "6", "--save_steps", "1", "--save_total_limit", "10",
                       "--skip_nonfinite", "1")
    assert summary["steps"] == 6 and summary["skipped_nonfinite_batches"] == 1
    assert json.loads((tmp_path / "summary.json").read_text())["skipped_nonfinite_batches"] == 1
    checkpoint_weights_are_finite(tmp_path)
    assert all(torch.isfinite(v).all() for v in weights(tmp_path / "pretrain_model").values())
    losses = [r["loss"] for r in metrics(tmp_path)]
    assert sum(math.isnan(loss) for loss in losses) == 1  # the skipped step logs no loss; the others are finite


def test_the_pixel_terms_schedule_follows_the_optimizer_step(tmp_path, small_demo_root, monkeypatch):
    """The loop passes its optimizer step to the model, so a decaying pixel term falls with the steps taken (the
    micro-batches of one step share it) and a resumed run goes on where it stopped."""
    seen = []
    pixel_targets = ARVideoForPretraining.pixel_targets

    def recording(self, pixel_values, training_step=None):
        seen.append((training_step, self.config.pixel_target_scale_at(training_step)))
        return pixel_targets(self, pixel_values, training_step)

    monkeypatch.setattr(ARVideoForPretraining, "pixel_targets", recording)
    overrides = json.dumps({**json.loads(SMALL), "pretraining_target": "pixels_and_frame_difference",
                            "pixel_target_scale": 0.5, "pixel_target_decay_steps": 2})
    run = ("--config_overrides", overrides, "--gradient_accumulation_steps", "2", "--save_steps", "1")
    pretrain(tmp_path, small_demo_root, *run, "--max_steps", "2")
    assert seen == [(0, 0.5), (0, 0.5), (1, pytest.approx(0.25)), (1, pytest.approx(0.25))]
    seen.clear()
    pretrain(tmp_path, small_demo_root, *run, "--max_steps", "3", "--resume", "latest")
    assert seen == [(2, 0.0), (2, 0.0)]


def test_nonfinite_weights_are_never_saved(tmp_path):
    from accelerate import Accelerator

    fresh_accelerate_state()
    accelerator = Accelerator(cpu=True)
    model = accelerator.prepare(torch.nn.Linear(3, 2))
    with torch.no_grad():
        model.weight[0, 0] = float("inf")
    state = pretrain_module.TrainState(global_step=7)
    with pytest.raises(pretrain_module.NonFiniteError, match="Step 7: non-finite weights .*weight"):
        pretrain_module.save_checkpoint(accelerator, model, tmp_path, state, 2, {})
    assert not (tmp_path / "checkpoints").exists()  # not even a temporary folder


# ----------------------------------------------------------------------------------------------------- distributed
def test_two_process_ddp_equals_one_process_with_twice_the_batch(tmp_path, small_demo_root):
    """Real gloo DDP, launched as the README documents: 2 processes x batch 1 end with the weights of 1 process x
    batch 2 on the same clips in the same order (accelerate's seedable sampler gives both the same shuffle, and each
    step's 2 clips are split across the processes). The collator draws orders and masks per batch, so a fixed order
    and mask ratio 0 make them independent of the split. The scaled lr (base_lr x total batch / 256) counts processes.

    Tolerance 1e-5: the two runs sum the same float32 terms in a different order (two per-process means averaged by
    all-reduce vs one mean over the batch, and other matmul blockings), about 1e-7 relative per gradient; AdamW's
    normalized update turns that into under 1e-6 after 3 steps (measured: 5e-7, so the tolerance has 20x margin). The
    weights move by ~1e-3 (3 steps at lr 1e-3; checked below), 100x the tolerance, so any real difference, such as one
    process seeing other clips or an lr that ignores the process count, fails.
    """
    common = [*SMALL_RECIPE, "--config_overrides", SMALL, "--demo_root", str(small_demo_root), "--num_workers", "0",
              "--prediction_order", "spatial_first", "--mask_ratio", "0", "--base_lr", "0.128", "--warmup_epochs", "0",
              "--max_steps", "3", "--save_steps", "3", "--logging_steps", "1", "--report_to", "none"]
    finish_launch(start_two_processes(
        tmp_path, "pretrain.py", ["--multi_gpu", "--num_machines", "1", "--dynamo_backend", "no"],
        [*common, "--output_dir", str(tmp_path / "ddp"), "--per_device_batch_size", "1"], "ddp.log",
    ))
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["clips_seen"] == 3 * 2
    assert (tmp_path / "ddp" / "checkpoints" / "step_00000003" / "trainer_state.json").exists()

    fresh_accelerate_state()
    one_process = [*common, "--output_dir", str(tmp_path / "one"), "--per_device_batch_size", "2"]
    run_pretraining(parse_pretrain_args([*one_process, "--save_steps", "1", "--save_total_limit", "3"]))
    assert [r["lr"] for r in metrics(tmp_path / "ddp")] == pytest.approx([r["lr"] for r in metrics(tmp_path / "one")])
    ddp, one = weights(tmp_path / "ddp" / "pretrain_model"), weights(tmp_path / "one" / "pretrain_model")
    assert max_difference(ddp, one) <= 1e-5
    after_step_1 = weights(tmp_path / "one" / "checkpoints" / "step_00000001")
    moved = max((one[key] - after_step_1[key]).abs().max().item() for key in one.keys() & after_step_1.keys())
    assert moved > 100 * 1e-5  # two more steps move the weights far more than the tolerance
def test_videomae_baseline_same_pipeline(tmp_path, small_demo_root):
    """--method videomae: transformers' VideoMAEForPreTraining in the same loop, encoder exported as ARVideoModel."""
    from transformers import VideoMAEForPreTraining

    fresh_accelerate_state()
    summary = run_pretraining(args_for(tmp_path, small_demo_root, "--method", "videomae", "--max_steps", "4"))
    assert summary["method"] == "videomae" and summary["steps"] == 4 and summary["clips_seen"] == 8
    pretrain_model = VideoMAEForPreTraining.from_pretrained(tmp_path / "pretrain_model")
    assert pretrain_model.config.hidden_size == 64 and pretrain_model.config.decoder_hidden_size == 96
    encoder = AutoModel.from_pretrained(tmp_path / "encoder")
    assert type(encoder).__name__ == "ARVideoModel" and encoder.config.cluster_size == [8, 2, 2]  # the preset's
    clip = torch.randn(1, 16, 3, 32, 32)
    with torch.no_grad():  # same weights: the exported encoder equals VideoMAE's encoder before its pretraining norm
        expected = pretrain_model.videomae.encoder(pretrain_model.videomae.embeddings(clip, None)).last_hidden_state
        assert torch.allclose(encoder.eval()(clip).last_hidden_state, expected, atol=1e-5)


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


def _planned_run(planner, seconds_per_step, budget=100.0, start_up=5.0):
    """Feed `planner` the clock of a run whose step time is `seconds_per_step(elapsed)`; the steps it got."""
    elapsed, step = start_up, 0
    while elapsed < budget:
        step += 1
        elapsed += seconds_per_step(elapsed)
        planner.after_step(step, elapsed)
    return step


def test_budget_planner_leaves_out_start_up_and_refits_when_steps_slow_down():
    """The horizon matches the steps the budget really allows: a 5 s start-up does not shrink it (timing the first
    steps from the start would plan 285 steps for 950), and a slow-down early in the run is caught by a re-plan."""
    from types import SimpleNamespace

    from arvideo_hf.training.optim import WarmupCosine

    for seconds_per_step, expected in ((lambda t: 0.1, 950), (lambda t: 0.1 if t < 20 else 0.2, 550)):
        schedule = WarmupCosine(warmup_steps=1000, total_steps=10**6, min_ratio=0.01)
        planner = pretrain_module.BudgetPlanner(schedule, 100.0, SimpleNamespace(total=None))
        steps = _planned_run(planner, seconds_per_step)
        assert abs(steps - expected) <= 2
        assert abs(schedule.total_steps - steps) <= 0.02 * steps, (schedule.total_steps, steps)
        assert schedule.warmup_steps == 95 and schedule.budget_plans == 3  # 10% of the first plan, kept after it


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


# ------------------------------------------------------------------------------------------- the README's other claims
def test_max_seconds_stops_and_saves_after_the_budget(tmp_path, small_demo_root):
    """`--max_seconds`: the run stops after the first step that ends past the budget (here: any step), then saves."""
    summary = pretrain(tmp_path, small_demo_root, "--max_steps", "50", "--save_steps", "100", "--max_seconds", "1e-9")
    assert summary["steps"] == 1
    assert (tmp_path / "checkpoints" / "step_00000001" / "trainer_state.json").is_file()
    assert (tmp_path / "encoder" / "model.safetensors").is_file()


def test_yaml_and_json_argument_files_equal_the_command_line(tmp_path):
    """`examples/pretrain.py run.yaml` / `run.json` (and the same for finetuning) parse to the command line's
    arguments."""
    import yaml

    values = {"preset": "base", "output_dir": "out", "mask_ratio": 0.75, "cluster_size": [1, 1, 1],
              "config_overrides": '{"drop_path_rate": 0.1}', "gradient_checkpointing": True, "max_steps": 7}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(values))
    (tmp_path / "run.json").write_text(json.dumps(values))
    command_line = parse_pretrain_args([
        "--preset", "base", "--output_dir", "out", "--mask_ratio", "0.75", "--cluster_size", "1", "1", "1",
        "--config_overrides", '{"drop_path_rate": 0.1}', "--gradient_checkpointing", "--max_steps", "7",
    ])
    for name in ("run.yaml", "run.json"):
        assert parse_pretrain_args([str(tmp_path / name)]) == command_line, name
    assert (command_line.model_preset, command_line.sampling_rate, command_line.base_lr) == ("base", 4, 1.5e-4)
    tiny = parse_pretrain_args(["--preset", "tiny"])  # 8 decoded videos x 4 crops = 32 clips a step
    assert (tiny.per_device_batch_size, tiny.repeated_aug, tiny.learning_rate) == (8, 4, 3e-4)
    assert tiny.crop_scales == [1.0] and command_line.crop_scales == [1.0, 0.875, 0.75, 0.66]  # full frames vs VideoMAE
    assert pretrain_module.build_config(command_line).cluster_size == [1, 1, 1]
    with pytest.raises(ValueError, match="Unknown run preset"):
        parse_pretrain_args(["--preset", "gigantic"])

    finetune = {"model_name_or_path": "enc", "layer_decay": 0.65, "output_dir": "ft", "num_train_epochs": 3.0}
    (tmp_path / "finetune.yaml").write_text(yaml.safe_dump(finetune))
    (tmp_path / "finetune.json").write_text(json.dumps(finetune))
    for name in ("finetune.yaml", "finetune.json"):
        args, training_args = parse_finetune_args([str(tmp_path / name)])
        assert (args.model_name_or_path, args.layer_decay) == ("enc", 0.65), name
        assert (training_args.output_dir, training_args.num_train_epochs) == ("ft", 3.0), name


def test_report_to_tensorboard_writes_event_files(tmp_path, small_demo_root):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    pretrain(tmp_path, small_demo_root, "--max_steps", "2", "--report_to", "tensorboard")
    events = list(tmp_path.rglob("events.out.tfevents.*"))
    assert events, "no tensorboard event file"
    accumulator = EventAccumulator(str(events[0].parent)).Reload()
    logged = accumulator.Scalars("loss")
    assert [event.step for event in logged] == [r["step"] for r in metrics(tmp_path)] == [1, 2]
    assert [event.value for event in logged] == pytest.approx([r["loss"] for r in metrics(tmp_path)])


def test_mixed_precision_bf16_on_cpu(tmp_path, small_demo_root, monkeypatch):
    """`--mixed_precision bf16` on a CPU: the forward really runs in bfloat16 (autocast), the weights stay float32."""
    real_build = pretrain_module.build_model_and_collator
    dtypes = set()

    def build(args, config):
        model, collator = real_build(args, config)
        model.encoder_to_decoder.register_forward_hook(lambda module, inputs, output: dtypes.add(output.dtype))
        return model, collator

    monkeypatch.setattr(pretrain_module, "build_model_and_collator", build)
    summary = pretrain(tmp_path, small_demo_root, "--max_steps", "2", "--mixed_precision", "bf16")
    assert summary["steps"] == 2 and dtypes == {torch.bfloat16}
    assert all(math.isfinite(r["loss"]) for r in metrics(tmp_path))
    assert {value.dtype for value in weights(tmp_path / "pretrain_model").values()} == {torch.float32}


def test_optimizer_groups_and_scaled_learning_rate(tmp_path, small_demo_root, monkeypatch):
    """AdamW gets weight decay on matrices only (none on norms, biases, position tables, the query token), and the
    peak and final lr are base_lr and min_lr x total batch / 256 (batch 2 x accumulation 2 here)."""
    real_groups = pretrain_module.build_param_groups
    seen = {}

    def spy(model, weight_decay):
        groups = real_groups(model, weight_decay)
        names = {id(param): name for name, param in model.named_parameters()}
        seen.update({group["weight_decay"]: {names[id(p)] for p in group["params"]} for group in groups})
        seen["all"] = set(names.values())
        seen["norms"] = {f"{module_name}.{name}" for module_name, module in model.named_modules()
                         if isinstance(module, torch.nn.LayerNorm) for name, _ in module.named_parameters()}
        return groups

    monkeypatch.setattr(pretrain_module, "build_param_groups", spy)
    pretrain(tmp_path, small_demo_root, *SMALL_RECIPE, "--base_lr", "0.064", "--min_lr", "1e-4",
             "--gradient_accumulation_steps", "2", "--warmup_epochs", "1", "--max_steps", "4")
    no_decay, decay = seen[0.0], seen[0.05]
    assert decay | no_decay == seen["all"] and not decay & no_decay
    assert seen["norms"] and seen["norms"] <= no_decay and "query_token" in no_decay
    assert {name for name in seen["all"] if name.endswith(".bias")} <= no_decay
    assert all(name.endswith(".weight") and name not in seen["norms"] for name in decay)
    lrs = [r["lr"] for r in metrics(tmp_path)]  # 3 steps per epoch: warmup ends at step 3, the schedule at step 4
    assert lrs[2] == pytest.approx(0.064 * 4 / 256) and lrs[3] == pytest.approx(1e-4 * 4 / 256)

    class WithTables(torch.nn.Module):  # ARVideo's position tables are fixed buffers; learned ones get no decay
        def __init__(self):
            super().__init__()
            self.position_embeddings = torch.nn.Parameter(torch.zeros(1, 4, 8))
            self.proj = torch.nn.Linear(8, 8)

    groups = real_groups(WithTables(), 0.05)
    assert [len(group["params"]) for group in groups] == [1, 2]  # proj.weight | position table, proj.bias



def test_every_command_prints_its_help():
    """`--help` of each command must render: argparse formats help with %, so one bare % broke pretrain.py's."""
    for types in (arguments.PretrainArguments, (arguments.FinetuneArguments, arguments.ARVideoTrainingArguments),
                  arguments.EvaluateArguments, arguments.FeatureArguments, arguments.ProbeArguments,
                  arguments.ReproduceArguments, arguments.DemoArguments):
        assert "usage" in HfArgumentParser(types).format_help()

"""Issue 21, trust: no command loses a user's data, publishes a broken model or runs code from a checkpoint. Each test
plays the careful user or the adversary of one promise in the README's reliability section."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from arvideo_hf import ARVideoForVideoClassification
from arvideo_hf.integrity import NonFiniteError
from arvideo_hf.models.processing_arvideo import image_processor_for
from arvideo_hf.training.evaluation import parse_evaluate_args, run_evaluation
from arvideo_hf.zoo.publish import save_hub_folder

from .conftest import DEMO_LABELS, SMALL_ENCODER, tiny_config
from .test_pretrain import argv_for, metrics, pretrain, subprocess_env


ROOT = Path(__file__).resolve().parents[1]


def run_script(tmp_path, script, *argv, timeout=300):
    """An example script in a subprocess (one thread, offline, its own HF_HOME); returns the CompletedProcess."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home")}
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), *map(str, argv)], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=tmp_path)


def nan_classifier(folder):
    """A classifier folder whose weights are all NaN except none (as a diverged finetune used to save it)."""
    id2label = dict(enumerate(DEMO_LABELS))
    config = tiny_config(**SMALL_ENCODER, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    model = ARVideoForVideoClassification(config)
    with torch.no_grad():
        model.classifier.weight.fill_(float("nan"))
    model.save_pretrained(folder)
    image_processor_for(config).save_pretrained(folder)
    return folder


# ---------------------------------------------------------------------------------------- 1. non-finite guard
def test_diverged_finetune_fails_and_saves_nothing(tmp_path, small_demo_root, small_encoder_dir):
    """A learning rate of 1e8 used to 'succeed' with loss 0 and an all-NaN classifier; now the run stops before the
    step that would spoil the weights, exits non-zero naming the tensors, and no model or checkpoint is written."""
    out = tmp_path / "ft"
    result = run_script(
        tmp_path, "finetune.py", "--preset", "tiny", "--model_name_or_path", small_encoder_dir,
        "--demo_root", small_demo_root, "--output_dir", out, "--learning_rate", "1e8", "--base_lr", "0",
        "--max_steps", "8", "--save_steps", "1", "--save_strategy", "steps", "--per_device_train_batch_size", "4",
        "--dataloader_num_workers", "0", "--cache_mb", "0", "--use_cpu", "True", "--report_to", "none",
    )
    assert result.returncode != 0, result.stderr[-2000:]
    assert "NonFiniteError" in result.stderr and "non-finite" in result.stderr, result.stderr[-2000:]
    for path in out.rglob("*.safetensors"):
        bad = [key for key, tensor in load_file(path).items() if not torch.isfinite(tensor).all()]
        assert not bad, f"{path} holds non-finite {bad[:3]}"
    assert not (out / "model.safetensors").exists()


def test_evaluate_refuses_a_nonfinite_model_naming_the_tensor(tmp_path, small_demo_root):
    folder = nan_classifier(tmp_path / "nan")
    args = parse_evaluate_args(["--model_name_or_path", str(folder), "--demo_root", str(small_demo_root),
                                "--num_workers", "0"])
    with pytest.raises(NonFiniteError, match="classifier.weight"):
        run_evaluation(args)
    assert not (folder / "eval_results.json").exists()


def test_publish_refuses_a_nonfinite_model_naming_the_tensor(tmp_path):
    folder = nan_classifier(tmp_path / "nan")
    result = run_script(tmp_path, "publish.py", folder, "--repo-id", "org/x", "--dry-run", tmp_path / "upload")
    assert result.returncode != 0
    assert "classifier.weight" in result.stderr and "non-finite" in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "upload" / "model.safetensors").exists()


# ---------------------------------------------------------------------------- 8. publish copies only its own files
@pytest.fixture
def sharded_checkpoint(tmp_path):
    """A classifier saved as two safetensors shards with their index."""
    id2label = dict(enumerate(DEMO_LABELS))
    config = tiny_config(**SMALL_ENCODER, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    folder = tmp_path / "ckpt"
    ARVideoForVideoClassification(config).save_pretrained(folder, max_shard_size="100KB")
    assert (folder / "model.safetensors.index.json").is_file()
    return folder


@pytest.mark.parametrize("attack", ["outside_path", "absolute_path", "symlink_out"])
def test_publish_never_copies_a_file_from_outside_the_checkpoint(sharded_checkpoint, tmp_path, attack):
    secret = tmp_path / "secret.safetensors"
    save_file({"private": torch.ones(2)}, secret)
    index_path = sharded_checkpoint / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    victim = sorted(set(index["weight_map"].values()))[0]
    if attack == "symlink_out":
        (sharded_checkpoint / victim).unlink()
        (sharded_checkpoint / victim).symlink_to(secret)
    else:
        name = "../secret.safetensors" if attack == "outside_path" else str(secret)
        index["weight_map"] = {key: (name if value == victim else value) for key, value in index["weight_map"].items()}
        index_path.write_text(json.dumps(index))
    with pytest.raises(ValueError, match="plain file names|not a regular file inside"):
        save_hub_folder(sharded_checkpoint, tmp_path / "upload", "org/x")
    assert not any(path.name == "secret.safetensors" for path in (tmp_path / "upload").rglob("*"))


# ------------------------------------------------------------------------------ 4. no code runs from a checkpoint
class Payload:
    """A pickle that runs a shell command when unpickled (what a hostile shared checkpoint would carry)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def pretrain_subprocess(tmp_path, *argv, timeout=300):
    return subprocess.run([sys.executable, str(ROOT / "examples" / "pretrain.py"), *map(str, argv)],
                          capture_output=True, text=True, env=subprocess_env(tmp_path), timeout=timeout)


def test_resume_never_unpickles_code_from_a_checkpoint(tmp_path, small_demo_root):
    """The scheduler used to be pickled by accelerate and unpickled with weights_only=False on --resume, so a payload
    in `custom_checkpoint_0.pkl` ran. Now the schedule is JSON, nothing registered is unpickled, and the pickles
    accelerate does load (RNG states) are test-loaded with weights_only=True: a checkpoint carrying code is skipped,
    named, and the run resumes from the intact one before it. The payload never runs."""
    out = tmp_path / "run"
    pretrain(out, small_demo_root, "--max_steps", "3", "--save_steps", "1", "--save_total_limit", "3")
    marker = tmp_path / "PAYLOAD_RAN"
    checkpoints = out / "checkpoints"
    assert json.loads((checkpoints / "step_00000003" / "schedule.json").read_text())["last_epoch"] == 3
    assert {p.name for p in checkpoints.glob("*/*.pkl")} == {"random_states_0.pkl"}  # accelerate's RNG only
    torch.save(Payload(marker), checkpoints / "step_00000003" / "custom_checkpoint_0.pkl")
    torch.save(Payload(marker), checkpoints / "step_00000002" / "random_states_0.pkl")
    result = pretrain_subprocess(tmp_path, *argv_for(out, small_demo_root, "--max_steps", "4", "--resume", "latest"))
    assert not marker.exists(), "a pickle from the checkpoint ran code"
    assert result.returncode == 0, result.stderr[-3000:]
    for skipped, file in (("step_00000003", "custom_checkpoint_0.pkl"), ("step_00000002", "random_states_0.pkl")):
        assert f"Skipping checkpoint {skipped}: {checkpoints / skipped / file}" in result.stderr
    assert f"Resumed from {checkpoints / 'step_00000001'}" in result.stderr
    assert [r["step"] for r in metrics(out)] == [1, 2, 3, 4]


# ---------------------------------------------------------------------- 6. recovery: validate, fall back, name
def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_resume_falls_back_past_damaged_checkpoints_and_names_them(tmp_path, small_demo_root, caplog):
    out = tmp_path / "run"
    pretrain(out, small_demo_root, "--max_steps", "3", "--save_steps", "1", "--save_total_limit", "3")
    checkpoints = out / "checkpoints"
    truncate(checkpoints / "step_00000003" / "model.safetensors")
    truncate(checkpoints / "step_00000002" / "optimizer.bin")
    with (out / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 4, "epoch": 0.6, "lo')  # a run killed while writing its log line
    caplog.set_level("WARNING")
    summary = pretrain(out, small_demo_root, "--max_steps", "4", "--save_steps", "1", "--save_total_limit", "3",
                       "--resume", "latest")
    assert summary["steps"] == 4
    warnings = caplog.text
    assert "step_00000003/model.safetensors" in warnings and "step_00000002/optimizer.bin" in warnings
    assert "Resumed from" in warnings and "step_00000001" in warnings
    assert "dropped line 4" in warnings
    assert [r["step"] for r in metrics(out)] == [1, 2, 3, 4]
    assert sorted(p.name for p in checkpoints.iterdir()) == [f"step_0000000{i}" for i in (2, 3, 4)]  # rotated, 3 kept

    for folder in checkpoints.glob("step_*"):
        truncate(folder / "model.safetensors")
    with pytest.raises(FileNotFoundError, match=r"No checkpoint .* can be resumed from: .*model.safetensors"):
        pretrain(out, small_demo_root, "--max_steps", "5", "--resume", "latest")


def test_full_disk_says_no_space_names_the_folder_and_leaves_no_half_checkpoint(tmp_path, small_demo_root):
    """A real full filesystem: the output folder is a 5 MiB tmpfs (mounted in a private user and mount namespace),
    where the first checkpoint fits and the second does not."""
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("user namespaces are not available to mount a small tmpfs")
    out = tmp_path / "full"
    out.mkdir()
    argv = " ".join(f"'{a}'" for a in argv_for(out, small_demo_root, "--max_steps", "3", "--save_steps", "1"))
    script = (f"mount -t tmpfs -o size=5m tmpfs {out} && {sys.executable} {ROOT / 'examples' / 'pretrain.py'} {argv}; "
              f"echo EXIT=$?; find {out} -name '*partial*'; ls {out}/checkpoints")
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True,
                            env=subprocess_env(tmp_path), timeout=300)
    tail = result.stdout + result.stderr[-3000:]
    assert "EXIT=0" not in result.stdout, tail
    assert "No space left on device" in result.stderr and str(out / "checkpoints") in result.stderr, tail
    listing = result.stdout.split("EXIT=", 1)[1]
    assert "partial" not in listing and "step_00000001" in listing, tail


# ----------------------------------------------------------------------------- SIGTERM (cluster preemption)
def test_sigterm_saves_at_the_end_of_the_step_and_exits_0_with_the_resume_command(tmp_path, small_demo_root):
    extra = ("--max_steps", "40", "--save_steps", "1000")
    out = tmp_path / "preempted"
    process = subprocess.Popen([sys.executable, str(ROOT / "examples" / "pretrain.py"),
                                *argv_for(out, small_demo_root, *extra)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(tmp_path))
    deadline = time.time() + 240
    while not ((out / "metrics.jsonl").exists() and (out / "metrics.jsonl").read_text().count("\n") >= 2):
        assert process.poll() is None and time.time() < deadline, process.communicate()[1][-3000:]
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-3000:]
    step = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"]
    assert 2 <= step < 40 and (out / "checkpoints" / f"step_{step:08d}" / "trainer_state.json").is_file()
    assert f"Preempted at step {step}" in stderr and "--resume latest" in stderr.split("Continue with:")[1]
    assert not (out / "encoder").exists()  # a preempted run is not a finished one
    summary = pretrain(out, small_demo_root, *extra, "--max_steps", "6", "--resume", "latest")
    assert summary["steps"] == 6 and [r["step"] for r in metrics(out)] == list(range(1, 7))


# ---------------------------------------------------------------------------- 3. one writer per output folder
HOLDER = """
import sys, time
from arvideo_hf.locking import OutputLock
lock = OutputLock(sys.argv[1], sys.argv[2]).acquire()
print("LOCKED", flush=True)
time.sleep(600)
"""


def hold_lock(tmp_path, folder, command):
    """A subprocess holding the output folder's lock; returns it once the lock is taken."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder), command], stdout=subprocess.PIPE,
                               text=True, env=subprocess_env(tmp_path))
    assert process.stdout.readline().strip() == "LOCKED"
    return process


def test_two_pretrainings_started_together_one_writes_the_other_is_refused(tmp_path, small_demo_root):
    """The check-then-write race of two runs into one fresh folder: exactly one runs, the other is refused naming
    it, and the folder holds one run's log (each step once)."""
    out = tmp_path / "shared"
    command = [sys.executable, str(ROOT / "examples" / "pretrain.py"),
               *argv_for(out, small_demo_root, "--max_steps", "3", "--save_steps", "1")]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=subprocess_env(tmp_path)) for _ in range(2)]
    results = [(run.wait(timeout=300), run.communicate()[1]) for run in runs]
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] != 0, [stderr[-2000:] for _, stderr in results]
    refused = next(stderr for code, stderr in results if code != 0)
    # Which refusal the loser gets depends on when it reaches the check: while the winner runs it holds the lock; on
    # a loaded machine the winner can finish first, and then the folder holds a finished run. Both name the fix.
    assert ("is in use by another run (pretrain, pid" in refused
            or "already holds a pretraining run" in refused), refused[-2000:]
    assert [r["step"] for r in metrics(out)] == [1, 2, 3]


def test_lock_names_the_holder_and_a_killed_holder_is_detected_as_stale(tmp_path, small_demo_root, caplog,
                                                                        small_encoder_dir):
    from arvideo_hf.data.prepare import prepare_list
    from arvideo_hf.locking import OutputLockedError
    from arvideo_hf.training.finetune import parse_finetune_args, run_finetuning
    from arvideo_hf.training.pretrain import reset_accelerate_state

    out = tmp_path / "busy"
    holder = hold_lock(tmp_path, out, "pretrain")
    try:
        with pytest.raises(OutputLockedError, match=rf"in use by another run \(pretrain, pid {holder.pid} on host"):
            pretrain(out, small_demo_root, "--max_steps", "1", "--resume", "latest")
        reset_accelerate_state()
        with pytest.raises(OutputLockedError, match=rf"pid {holder.pid}"):
            run_finetuning(*parse_finetune_args([
                "--preset", "tiny", "--model_name_or_path", str(small_encoder_dir), "--demo_root",
                str(small_demo_root), "--output_dir", str(out), "--max_steps", "1", "--use_cpu", "True",
                "--report_to", "none"]))
        with pytest.raises(OutputLockedError, match=rf"pid {holder.pid}"):
            prepare_list(small_demo_root / "test.txt", root=small_demo_root, out=out, workers=1, quiet=True)
    finally:
        holder.kill()  # SIGKILL: no chance to release the lock
        holder.wait()
    caplog.set_level("WARNING")
    assert pretrain(out, small_demo_root, "--max_steps", "1")["steps"] == 1
    assert f"pid {holder.pid}" in caplog.text and "stale" in caplog.text


# -------------------------------------------------------------- 5. resume with changed schedule arguments
def test_resume_replans_a_changed_schedule_and_refuses_a_changed_step(tmp_path, small_demo_root, caplog):
    """--resume latest used to keep the saved lr and horizon while training_args.json showed the new ones: now a new
    --learning_rate / --max_steps is applied from the current step (the log lists saved and new values) and what
    training_args.json records is what ran; a new batch size is refused, listed."""
    from arvideo_hf.training.optim import WarmupCosine

    out = tmp_path / "run"
    pretrain(out, small_demo_root, "--max_steps", "2", "--save_steps", "1")
    with pytest.raises(ValueError, match=r"per_device_batch_size.*\(2, 3\)"):
        pretrain(out, small_demo_root, "--max_steps", "4", "--resume", "latest", "--per_device_batch_size", "3")
    caplog.set_level("WARNING")
    pretrain(out, small_demo_root, "--max_steps", "4", "--resume", "latest", "--learning_rate", "0.001")
    assert "changed schedule arguments" in caplog.text
    assert "'learning_rate': (0.0003, 0.001)" in caplog.text and "'max_steps': (2, 4)" in caplog.text
    records = metrics(out)
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    plan = WarmupCosine(1, 4, min_ratio=3e-6 / 1e-3)  # tiny: warmup 0.25 of 6 steps per epoch, min_lr 3e-6
    assert records[2]["lr"] == pytest.approx(1e-3 * plan(3))  # the lr logged after step 3 is step 4's
    assert records[2]["lr"] > 1e-4  # the old horizon (2 steps) would have left it at min_lr
    assert json.loads((out / "training_args.json").read_text())["learning_rate"] == 0.001
    checkpoint = out / "checkpoints" / "step_00000004"
    assert json.loads((checkpoint / "training_args.json").read_text())["learning_rate"] == 0.001


# ------------------------------------------------------ 2. nothing destructive outside what a command made
def test_build_demo_never_deletes_a_users_folder(tmp_path, caplog):
    """`build-demo --root DIR` (and training's --demo_root) used to delete train/, test/, unlabeled/ and the lists."""
    from arvideo_hf.data.__main__ import main as data_main

    dataset = tmp_path / "my_dataset"
    for name in ("train/cat/a.mp4", "test/b.mp4", "unlabeled/c.mp4"):
        (dataset / name).parent.mkdir(parents=True, exist_ok=True)
        (dataset / name).write_bytes(b"my video")
    for name in ("train.txt", "labels.txt", "id2label.json", "notes.md"):
        (dataset / name).write_text("mine")
    before = sorted((p.relative_to(dataset), p.read_bytes()) for p in dataset.rglob("*") if p.is_file())
    assert data_main(["build-demo", "--root", str(dataset), "--num-train", "6", "--num-test", "6",
                      "--num-unlabeled", "6", "--force"]) == 2
    assert "--demo_root / build-demo --root" in caplog.text and "not a demo set" in caplog.text
    after = sorted((p.relative_to(dataset), p.read_bytes()) for p in dataset.rglob("*") if p.is_file())
    assert after == before


def test_overwrite_output_dir_deletes_only_a_folder_the_command_made(tmp_path, small_demo_root):
    """A user's folder that happens to hold an `encoder/` and `metrics.jsonl` is not a pretraining run's."""
    out = tmp_path / "mine"
    (out / "encoder").mkdir(parents=True)
    (out / "encoder" / "weights.bin").write_bytes(b"precious")
    (out / "metrics.jsonl").write_text("{}\n")
    with pytest.raises(FileExistsError, match="--overwrite_output_dir: .*not marked as made by this command"):
        pretrain(out, small_demo_root, "--max_steps", "1", "--overwrite_output_dir")
    assert (out / "encoder" / "weights.bin").read_bytes() == b"precious"


# ------------------------------------------------------------------------------------------------- 7. prepare
def write_audio_only(path):
    import av
    import numpy as np

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


def test_prepare_refuses_other_options_out_inside_root_and_names_audio_only_inputs(tmp_path, caplog):
    from arvideo_hf.data.__main__ import main as data_main

    from .conftest import write_noise_video

    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(2):
        write_noise_video(videos / f"v{i}.mp4", 8, 48, 64, seed=i)
    write_audio_only(videos / "sound.mp4")
    listing = tmp_path / "list.txt"
    listing.write_text("v0.mp4 0\nv1.mp4 1\nsound.mp4 0\n")
    out = tmp_path / "out"
    base = ["prepare", str(listing), "--root", str(videos), "--out", str(out), "--workers", "0", "--quiet"]
    assert data_main([*base, "--short-side", "32"]) == 0
    report = json.loads((out / "list.prepare-report.json").read_text())
    assert report["prepared"] == 2 and report["failed_files"][0]["path"].endswith("sound.mp4")
    assert "no video stream" in report["failed_files"][0]["error"] and "audio" in report["failed_files"][0]["error"]

    caplog.set_level("ERROR")
    assert data_main([*base, "--short-side", "16", "--fps", "5"]) == 2  # used to report "reused 2" of old files
    assert "other options" in caplog.text and "'short_side': (32, 16)" in caplog.text and "'fps': (None, 5.0)" in \
        caplog.text
    for bad_out in (videos, videos / "prepared"):
        caplog.clear()
        assert data_main(["prepare", str(listing), "--root", str(videos), "--out", str(bad_out), "--quiet"]) == 2
        assert "--root" in caplog.text and "Pass an --out outside --root" in caplog.text
    assert not (videos / "prepared").exists()


# ------------------------------------------------------------------------------------ 9. evaluation and lists
def test_examples_evaluate_uses_the_evaluate_package_not_itself(tmp_path, small_classifier_dir, small_demo_root):
    """`python examples/evaluate.py` puts examples/ first on sys.path, where the script stood in for the `evaluate`
    package: top-1/top-5 silently fell back to local code. The README's promise (an `evaluate` metric module) holds."""
    result = run_script(tmp_path, "evaluate.py", "--model_name_or_path", small_classifier_dir, "--demo_root",
                        small_demo_root, "--num_workers", "0", "--num_clips", "1", "--num_crops", "1", "--output_dir",
                        tmp_path / "eval")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "computing accuracy locally" not in result.stderr and "evaluate could not load" not in result.stderr
    probe = subprocess.run([sys.executable, "-c", (
        "import sys; sys.path.insert(0, sys.argv[1]); import __main__; __main__.__file__ = sys.argv[1] + '/x.py'\n"
        "from arvideo_hf.training.metrics import import_evaluate; print(import_evaluate().__file__)"),
        str(ROOT / "examples")], capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert "site-packages" in probe.stdout and "examples" not in probe.stdout, probe.stdout + probe.stderr[-2000:]


def test_evaluation_skips_and_counts_a_corrupt_video(tmp_path, small_classifier_dir, small_demo_root):
    lines = (small_demo_root / "test.txt").read_text().splitlines()
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    listing = tmp_path / "test.txt"
    listing.write_text("\n".join([*(f"{small_demo_root / line}" for line in lines), f"{tmp_path / 'broken.mp4'} 0"]))
    args = parse_evaluate_args(["--model_name_or_path", str(small_classifier_dir), "--test_list", str(listing),
                                "--num_workers", "0", "--num_clips", "1", "--num_crops", "1", "--sampling_rate", "2",
                                "--output_dir", str(tmp_path / "eval")])
    summary = run_evaluation(args)
    assert summary["num_videos"] == len(lines) and summary["skipped_videos"] == 1
    assert summary["skipped_paths"] == [str(tmp_path / "broken.mp4")]
    assert json.loads((tmp_path / "eval" / "eval_results.json").read_text())["num_videos"] == len(lines)


def test_evaluation_checks_labels_and_class_names_before_any_inference(tmp_path, small_classifier_dir,
                                                                        small_demo_root, monkeypatch):
    from arvideo_hf.training import evaluation

    monkeypatch.setattr(evaluation, "predict_views", lambda *a, **k: pytest.fail("inference ran before the checks"))
    first = (small_demo_root / "test.txt").read_text().splitlines()[0].rsplit(" ", 1)[0]
    outside = tmp_path / "outside.txt"
    outside.write_text(f"{first} 9\n")
    base = ["--model_name_or_path", str(small_classifier_dir), "--data_root", str(small_demo_root),
            "--num_workers", "0"]
    with pytest.raises(ValueError, match=r"labels outside the model's 6 classes"):
        run_evaluation(parse_evaluate_args([*base, "--test_list", str(outside)]))
    names = tmp_path / "labels.txt"
    names.write_text("\n".join(reversed(DEMO_LABELS)) + "\n")
    inside = tmp_path / "inside.txt"
    inside.write_text(f"{first} 1\n")
    with pytest.raises(ValueError, match=r"--class_names .* disagrees with the model's id2label"):
        run_evaluation(parse_evaluate_args([*base, "--test_list", str(inside), "--class_names", str(names)]))


def test_data_check_fails_an_empty_list_and_reports_duplicates_conflicts_and_a_bom(tmp_path, capsys):
    from arvideo_hf.data.__main__ import main as data_main

    from .conftest import write_noise_video

    for name in ("a", "b"):
        write_noise_video(tmp_path / f"{name}.mp4", 8, 32, 32)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    assert data_main(["check", str(empty), "--root", str(tmp_path), "--num-workers", "0", "--quiet"]) == 1
    assert "EMPTY LIST" in capsys.readouterr().out
    listing = tmp_path / "list.txt"
    listing.write_bytes("a.mp4 0\nb.mp4 1\na.mp4 0\nb.mp4 2\n".encode("utf-8-sig"))
    assert data_main(["check", str(listing), "--root", str(tmp_path), "--num-workers", "0", "--quiet",
                      "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["utf8_bom"] and report["records"] == 4 and report["ok"] == 2  # the BOM no longer hides a.mp4
    assert report["duplicate_rows"] == [{"path": str(tmp_path / "a.mp4"), "label": 0, "count": 2}]
    assert report["conflicting_labels"] == {str(tmp_path / "b.mp4"): [1, 2]}


def test_list_entries_outside_the_data_root_are_refused_unless_allowed(tmp_path, small_demo_root):
    from arvideo_hf.data.sources import AnnotationError
    from arvideo_hf.training.finetune import parse_finetune_args, read_sources

    listing = tmp_path / "train.txt"
    listing.write_text("train/move_down/00000.mp4 0\n../../../../etc/hostname 1\n/etc/passwd 2\n")
    argv = ["--preset", "tiny", "--init", "random", "--train_list", str(listing), "--data_root", str(small_demo_root),
            "--class_names", str(small_demo_root / "labels.txt")]
    with pytest.raises(AnnotationError, match=r"(?s)2 line\(s\) refused.*train.txt:2: resolves outside the root.*"
                                              r"train.txt:3.*--allow_outside_root"):
        read_sources(parse_finetune_args(argv)[0])
    train, _, _ = read_sources(parse_finetune_args([*argv, "--allow_outside_root", "True"])[0])
    assert [r.path for r in train.records][1:] == [os.path.normpath(small_demo_root / "../../../../etc/hostname"),
                                                   "/etc/passwd"]
    listing.write_text("train/move_down/00000.mp4 0\ntrain/move_down/00006.mp4 7\n")  # 6 classes: 7 is none of them
    with pytest.raises(AnnotationError, match=r"train.txt:2: label 7 is not in .*labels.txt \(6 classes\)"):
        read_sources(parse_finetune_args(argv)[0])


# --------------------------------------------------------------------------------------------- 10. configs
@pytest.mark.parametrize("kwargs,field_name", [
    (dict(num_hidden_layers=0), "num_hidden_layers"),
    (dict(num_hidden_layers=-1), "num_hidden_layers"),
    (dict(decoder_num_hidden_layers=0), "decoder_num_hidden_layers"),
    (dict(hidden_size=-64, num_attention_heads=1), "hidden_size"),
    (dict(intermediate_size=0), "intermediate_size"),
    (dict(hidden_size="768"), "hidden_size"),
    (dict(num_frames=16.0), "num_frames"),
    (dict(num_attention_heads=True), "num_attention_heads"),
    (dict(image_size="224"), "image_size"),
    (dict(image_size=[224, -224]), "image_size"),
    (dict(image_size=1e6), "image_size"),
    (dict(image_size=1_000_000), "image_size"),
    (dict(patch_size=0), "patch_size"),
    (dict(hidden_act="swishy"), "hidden_act"),
    (dict(layer_norm_eps=0), "layer_norm_eps"),
    (dict(layer_norm_eps=-1e-6), "layer_norm_eps"),
    (dict(layer_norm_eps=float("nan")), "layer_norm_eps"),
    (dict(hidden_dropout_prob=1.5), "hidden_dropout_prob"),
])
def test_config_rejects_bad_fields_naming_them(kwargs, field_name, tmp_path):
    from arvideo_hf import ARVideoConfig

    with pytest.raises(ValueError, match=field_name):
        ARVideoConfig(**kwargs)
    # The same from a config.json handed over with a checkpoint (JSON has no NaN: that case stops above).
    if all(value == value for value in kwargs.values()):
        ARVideoConfig.from_preset("tiny").save_pretrained(tmp_path)
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps({**json.loads(config_file.read_text()), **kwargs}))
        with pytest.raises(ValueError, match=field_name):
            ARVideoConfig.from_pretrained(tmp_path)


def test_finetune_resume_latest_skips_a_damaged_checkpoint(tmp_path, small_demo_root, small_encoder_dir, caplog):
    from arvideo_hf.training.finetune import parse_finetune_args, prepare_finetune_output_dir, run_finetuning
    from arvideo_hf.training.pretrain import reset_accelerate_state

    argv = ["--preset", "tiny", "--model_name_or_path", str(small_encoder_dir), "--demo_root", str(small_demo_root),
            "--output_dir", str(tmp_path), "--max_steps", "2", "--save_strategy", "steps", "--save_steps", "1",
            "--per_device_train_batch_size", "4", "--dataloader_num_workers", "0", "--cache_mb", "0",
            "--use_cpu", "True", "--report_to", "none"]
    reset_accelerate_state()
    run_finetuning(*parse_finetune_args(argv))
    truncate(tmp_path / "checkpoint-2" / "model.safetensors")
    caplog.set_level("WARNING")
    args, training_args = parse_finetune_args([*argv, "--resume_from_checkpoint", "latest"])
    assert prepare_finetune_output_dir(args, training_args) == str(tmp_path / "checkpoint-1")
    assert "Skipping checkpoint checkpoint-2" in caplog.text and "model.safetensors" in caplog.text


def test_every_reliability_promise_names_an_existing_test():
    """The README's Reliability section names the test behind each promise: each of them must exist."""
    import re

    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Reliability\n", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`(?:(test_\w+)\.py::)?(test_\w+)`", section)
    assert len(named) >= 20
    for file, name in named:
        path = ROOT / "tests" / f"{file or 'test_trust'}.py"
        assert re.search(rf"^def {name}\(", path.read_text(), re.M), f"{path.name}::{name}"

"""FSDP2 through accelerate with the shipped config, as real 2-process gloo runs on CPU: the same weights as DDP and
as one process with twice the batch, sharded checkpoints that resume exactly and are never unpickled, consolidated
final models, and Trainer finetuning under the same config. Also the engine checks and the SLURM launcher's dry run."""

import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from accelerate.utils import DistributedType
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForVideoClassification

from arvideo_hf import ARVideoForPretraining, ARVideoForVideoClassification
from arvideo_hf.training import parse_pretrain_args, run_pretraining
from arvideo_hf.training.pretrain import reset_accelerate_state
from arvideo_hf.training.sharded import MODEL_SHARDS, OPTIMIZER_SETTINGS, OPTIMIZER_SHARDS, check_engine

from .test_pretrain import (
    SMALL,
    SMALL_RECIPE,
    finish_launch,
    max_difference,
    metrics,
    start_two_processes,
    weights,
)


ROOT = Path(__file__).resolve().parents[1]
FSDP_CONFIG = ROOT / "examples" / "accelerate_configs" / "fsdp2.yaml"
# FSDP vs DDP vs one process after 3 steps: one process sums a batch of 2 where the others average two per-process
# gradients (FSDP reduce-scatters shards, DDP all-reduces buckets), float32 rounding of ~1e-7 relative per gradient,
# which AdamW's normalized update keeps at ~1e-7 after 3 steps. Measured on the shared 2-core AMD EPYC (torch 2.13.0
# CPU, gloo): FSDP vs one process 1.6e-07, FSDP vs DDP 0 (max over all weights). The tolerance leaves a 60x margin
# and is 100x below how far two more steps move the weights (checked in test_pretrain's DDP test), so a wrong lr,
# shard or batch fails. A resumed FSDP run measured 0 against the uninterrupted one (tolerance 1e-6).
TOLERANCE = 1e-5


def common_pretrain_args(demo_root):
    """Fixed orders and no masking: any split of a batch over processes sees the same targets."""
    return [*SMALL_RECIPE, "--config_overrides", SMALL, "--demo_root", str(demo_root), "--num_workers", "0",
            "--prediction_order", "spatial_first", "--mask_ratio", "0", "--base_lr", "0.128", "--warmup_epochs", "0",
            "--logging_steps", "1", "--report_to", "none", "--per_device_batch_size", "1"]


def launch(tmp_path, script, launcher_args, script_args, log_name):
    return finish_launch(start_two_processes(tmp_path, script, launcher_args, script_args, log_name))


def launch_fsdp_pretraining(tmp_path, demo_root, output_dir, *extra):
    return launch(tmp_path, "pretrain.py", ["--config_file", str(FSDP_CONFIG)],
                  [*common_pretrain_args(demo_root), "--output_dir", str(output_dir), *extra], f"{output_dir.name}.log")


def assert_no_pickle(checkpoint):
    """The model and optimizer of an FSDP checkpoint are safetensors and JSON only (no DCP .metadata, no .bin)."""
    for folder in (MODEL_SHARDS, OPTIMIZER_SHARDS):
        names = sorted(path.name for path in (checkpoint / folder).iterdir())
        assert len(names) == 2 and all(name.endswith(".safetensors") for name in names), names  # one per process
    json.loads((checkpoint / OPTIMIZER_SETTINGS).read_text())
    assert not list(checkpoint.rglob(".metadata")) and not list(checkpoint.glob("*.bin"))


# ------------------------------------------------------------------------------------------- equality, consolidation
def test_fsdp_equals_ddp_and_one_process_and_saves_consolidated_models(tmp_path, small_demo_root):
    """2 FSDP processes x batch 1, 2 DDP processes x batch 1 and 1 process x batch 2 end with the same weights
    (`TOLERANCE`); the FSDP run's pretrain_model/ and encoder/ are ordinary safetensors that one process loads."""
    common = common_pretrain_args(small_demo_root)
    # One launch at a time: two launches at once hung once (a rank waiting in gloo after the run), most likely as one
    # launch's ephemeral gloo ports met the other's rendezvous port.
    log = launch_fsdp_pretraining(tmp_path, small_demo_root, tmp_path / "fsdp", "--max_steps", "3")
    launch(tmp_path, "pretrain.py", ["--multi_gpu", "--num_machines", "1", "--dynamo_backend", "no"],
           [*common, "--output_dir", str(tmp_path / "ddp"), "--max_steps", "3"], "ddp.log")
    reset_accelerate_state()
    run_pretraining(parse_pretrain_args([*common, "--output_dir", str(tmp_path / "one"), "--max_steps", "3",
                                         "--per_device_batch_size", "2"]))
    assert "shard units: ARVideoForPretraining x1, ARVideoPatchEmbeddings x1, ARVideoLayer x2, ARVideoDecoderLayer x1" \
        in log  # every encoder and decoder layer is its own unit, as the config says
    assert_no_pickle(tmp_path / "fsdp" / "checkpoints" / "step_00000003")

    fsdp, ddp, one = (weights(tmp_path / run / "pretrain_model") for run in ("fsdp", "ddp", "one"))
    assert max_difference(fsdp, one) <= TOLERANCE and max_difference(fsdp, ddp) <= TOLERANCE
    losses = [r["loss"] for r in metrics(tmp_path / "fsdp")]
    assert losses == pytest.approx([r["loss"] for r in metrics(tmp_path / "one")])
    summary = json.loads((tmp_path / "fsdp" / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["clips_seen"] == 6

    model = ARVideoForPretraining.from_pretrained(tmp_path / "fsdp" / "pretrain_model")
    assert model.config.architectures == ["ARVideoForPretraining"]  # not fully_shard's FSDPARVideoForPretraining
    assert all(torch.equal(value, model.state_dict()[key]) for key, value in fsdp.items())
    encoder = AutoModel.from_pretrained(tmp_path / "fsdp" / "encoder")
    assert type(encoder).__name__ == "ARVideoModel" and encoder.config.hidden_size == 64
    assert all(torch.equal(value, fsdp[f"arvideo.{key}"]) for key, value in load_file(
        tmp_path / "fsdp" / "encoder" / "model.safetensors").items())


# ------------------------------------------------------------------------------------------------- sharded resume
class Payload:
    """Unpickling this creates `path`: a stand-in for code a handed-over checkpoint could run."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def plant_payloads(checkpoint, marker):
    """Pickles where DCP's own reader (and so accelerate's FSDP load_state) would look for its metadata."""
    payload = pickle.dumps(Payload(marker))
    pickle.loads(payload).close()  # the payload works: unpickled, it creates the marker
    assert marker.exists()
    marker.unlink()
    for folder in (MODEL_SHARDS, OPTIMIZER_SHARDS, "pytorch_model_fsdp_0", "optimizer_0"):
        (checkpoint / folder).mkdir(exist_ok=True)
        (checkpoint / folder / ".metadata").write_bytes(payload)


def test_fsdp_sharded_checkpoint_resumes_exactly_without_unpickling(tmp_path, small_demo_root):
    """A run resumed under FSDP from its step-2 sharded checkpoint (mid-epoch) ends with the weights of the
    uninterrupted run, and the pickles planted in the checkpoint where DCP's reader looks are never loaded."""
    extra = ("--max_steps", "4", "--save_steps", "2", "--save_total_limit", "3")
    launch_fsdp_pretraining(tmp_path, small_demo_root, tmp_path / "straight", *extra)
    checkpoint = tmp_path / "straight" / "checkpoints" / "step_00000002"
    assert_no_pickle(checkpoint)
    assert json.loads((checkpoint / "trainer_state.json").read_text())["step_in_epoch"] == 2  # 6 steps per epoch

    resumed = tmp_path / "resumed"
    shutil.copytree(checkpoint, resumed / "checkpoints" / checkpoint.name)
    marker = tmp_path / "payload-ran"
    plant_payloads(resumed / "checkpoints" / checkpoint.name, marker)
    log = launch_fsdp_pretraining(tmp_path, small_demo_root, resumed, *extra, "--resume", "latest")
    assert "Resumed from" in log and "at step 2" in log
    assert not marker.exists()
    assert [r["step"] for r in metrics(resumed)] == [3, 4]
    for folder in ("pretrain_model", "encoder"):
        assert max_difference(weights(tmp_path / "straight" / folder), weights(resumed / folder)) <= 1e-6, folder


# ---------------------------------------------------------------------------------------------------- finetuning
def test_trainer_finetuning_under_fsdp_saves_a_loadable_classifier(tmp_path, small_demo_root, small_encoder_dir):
    """examples/finetune.py under the same FSDP config (the classifier has no decoder: its layer class on the command
    line) trains 2 steps on 2 processes and saves one ordinary classifier folder."""
    output = tmp_path / "finetuned"
    log = launch(
        tmp_path, "finetune.py",
        ["--config_file", str(FSDP_CONFIG), "--fsdp_transformer_layer_cls_to_wrap", "ARVideoLayer"],
        ["--model_name_or_path", str(small_encoder_dir), "--train_list", str(small_demo_root / "train.txt"),
         "--validation_list", str(small_demo_root / "test.txt"), "--data_root", str(small_demo_root),
         "--class_names", str(small_demo_root / "labels.txt"), "--sampling_rate", "2", "--flip", "False",
         "--output_dir", str(output), "--max_steps", "2", "--per_device_train_batch_size", "2",
         "--per_device_eval_batch_size", "3", "--dataloader_num_workers", "0", "--save_strategy", "no",
         "--use_cpu", "True", "--disable_tqdm", "True", "--report_to", "none"],
        "finetune.log",
    )
    assert "FSDPARVideoPatchEmbeddings" in log  # it really ran sharded (FSDP2's warning names its wrapped classes)
    classifier = AutoModelForVideoClassification.from_pretrained(output)
    assert isinstance(classifier, ARVideoForVideoClassification)
    assert classifier.config.architectures == ["ARVideoForVideoClassification"]
    results = json.loads((output / "all_results.json").read_text())
    assert results["train_loss"] == pytest.approx(results["train_loss"]) and "eval_top1" in results
    encoder = load_file(small_encoder_dir / "model.safetensors")
    trained = classifier.arvideo.state_dict()
    assert any(not torch.equal(value, trained[key]) for key, value in encoder.items())  # the encoder was trained
    assert all(torch.isfinite(value).all() for value in classifier.state_dict().values())


# --------------------------------------------------------------------------------------------------- engine checks
def test_engines_whose_checkpoints_are_pickles_are_refused(monkeypatch):
    fsdp1 = SimpleNamespace(distributed_type=DistributedType.FSDP, is_fsdp2=False)
    with pytest.raises(ValueError, match="fsdp_version: 2"):
        check_engine(fsdp1, resume=None)
    deepspeed = SimpleNamespace(distributed_type=DistributedType.DEEPSPEED, is_fsdp2=False)
    check_engine(deepspeed, resume=None)  # training is allowed
    with pytest.raises(ValueError, match="DeepSpeed's checkpoints are torch.save pickles"):
        check_engine(deepspeed, resume="latest")
    check_engine(SimpleNamespace(distributed_type=DistributedType.FSDP, is_fsdp2=True), resume="latest")
    cpu = SimpleNamespace(distributed_type=DistributedType.MULTI_CPU, is_fsdp2=False)
    check_engine(cpu, resume="latest")
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")  # as `accelerate launch` sets it for a DeepSpeed config
    with pytest.raises(ValueError, match="would silently train plain DDP"):
        check_engine(cpu, resume=None)


def test_the_shipped_configs_are_what_the_readme_says():
    import yaml

    configs = ROOT / "examples" / "accelerate_configs"
    fsdp = yaml.safe_load(FSDP_CONFIG.read_text())
    assert fsdp["distributed_type"] == "FSDP" and fsdp["fsdp_config"]["fsdp_version"] == 2
    assert fsdp["fsdp_config"]["fsdp_transformer_layer_cls_to_wrap"] == "ARVideoLayer,ARVideoDecoderLayer"
    deepspeed = yaml.safe_load((configs / "deepspeed_zero2.yaml").read_text())
    assert deepspeed["distributed_type"] == "DEEPSPEED" and deepspeed["deepspeed_config"]["zero_stage"] == 2
    assert yaml.safe_load((configs / "ddp.yaml").read_text())["distributed_type"] == "MULTI_GPU"
    assert os.path.getsize(configs / "ddp.yaml") > 0


# ------------------------------------------------------------------------------------------------------------ SLURM
SBATCH = ROOT / "examples" / "slurm" / "pretrain.sbatch"
HOSTS = ("gpu017", "gpu018", "gpu019")


def fake_slurm(tmp_path, **extra):
    """A 3-node allocation as SLURM describes it to a batch script, with stand-ins for scontrol, srun (one task per
    node, each with its SLURM_NODEID) and accelerate (prints the arguments it got)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    scripts = {
        "scontrol": f'[[ "$*" == "show hostnames gpu[017-019]" ]] && printf "%s\\n" {" ".join(HOSTS)}',
        "srun": 'for node in 0 1 2; do SLURM_NODEID=$node "${@:3}" || exit 1; done',  # skips srun's own 2 options
        "accelerate": 'printf "node %s: accelerate" "$SLURM_NODEID"; printf " %q" "$@"; printf "\\n"',
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLURM_", "MASTER_"))}
    return {**env, "PATH": f"{bin_dir}:{env['PATH']}", "SLURM_JOB_ID": "4242", "SLURM_JOB_NUM_NODES": "3",
            "SLURM_JOB_NODELIST": "gpu[017-019]", "SLURM_SUBMIT_DIR": str(ROOT), **extra}


def run_sbatch(env, *args):
    return subprocess.run(["bash", str(SBATCH), *args], env=env, capture_output=True, text=True, timeout=60, cwd="/")


def launch_arguments(line):
    """The `accelerate launch` arguments of one printed node command, parsed by accelerate's own launch parser."""
    import shlex

    from accelerate.commands.launch import launch_command_parser

    words = shlex.split(line.split(":", 1)[1])
    assert words[:2] == ["accelerate", "launch"]
    return launch_command_parser().parse_args(words[2:])


def test_slurm_dry_run_prints_each_nodes_resolved_launch_command(tmp_path):
    pretrain_args = ("--preset", "large", "--config_overrides", '{"decoder_chunk_size": 256}')
    done = run_sbatch(fake_slurm(tmp_path), "--dry-run", *pretrain_args)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"node {rank} ({host})" for rank, host in enumerate(HOSTS)]
    for rank, line in enumerate(lines):
        args = launch_arguments(line)
        assert (args.num_machines, args.num_processes, args.machine_rank) == (3, 24, rank)
        assert (args.main_process_ip, args.main_process_port) == ("gpu017", 20000 + 4242)
        assert args.config_file == "examples/accelerate_configs/fsdp2.yaml" and args.rdzv_backend == "static"
        assert args.training_script == "examples/pretrain.py"
        assert args.training_script_args == ["--resume", "latest", *pretrain_args]  # a requeued job continues
    # The real path (sbatch -> srun -> one launcher per node) resolves the same commands on the nodes.
    done = run_sbatch(fake_slurm(tmp_path, MASTER_PORT="29555"), *pretrain_args)
    assert done.returncode == 0, done.stderr
    ran = [launch_arguments(line) for line in done.stdout.splitlines()]
    assert [(args.machine_rank, args.main_process_port) for args in ran] == [(0, 29555), (1, 29555), (2, 29555)]


def test_slurm_script_refuses_what_it_cannot_resolve(tmp_path):
    outside = {key: value for key, value in fake_slurm(tmp_path).items() if key != "SLURM_JOB_ID"}
    assert "not inside a SLURM job" in run_sbatch(outside, "--dry-run").stderr
    wrong_count = fake_slurm(tmp_path, SLURM_JOB_NUM_NODES="4")
    done = run_sbatch(wrong_count, "--dry-run")
    assert done.returncode != 0 and "names 3 hosts, SLURM_JOB_NUM_NODES says 4" in done.stderr
    wrong_folder = fake_slurm(tmp_path, SLURM_SUBMIT_DIR=str(tmp_path))
    assert "from the repository root" in run_sbatch(wrong_folder, "--dry-run").stderr

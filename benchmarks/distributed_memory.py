#!/usr/bin/env python
"""Per-process memory of ARVideo pretraining under DDP and FSDP2, measured against the arithmetic.

Each (model, strategy) pair is a real `accelerate launch` (2 CPU processes over gloo by default) with the shipped config
(`examples/accelerate_configs/ddp.yaml` or `fsdp2.yaml`, `ACCELERATE_USE_CPU=1`), preparing `ARVideoForPretraining`
and the recipe's AdamW exactly as `examples/pretrain.py` does, then taking one training step on a random
16x224x224 clip per process. Each process measures:
  - parameters, gradients and AdamW state: bytes of the tensors it holds (its shards under FSDP);
  - activations: bytes of the distinct tensors autograd holds for backward at the end of the forward pass, less
    parameter storage (the same under DDP and FSDP at the same per-process batch: neither shards activations);
  - peak memory: the process's peak resident memory on CPU (`ru_maxrss`: everything, DDP's gradient buckets,
    FSDP's gathered layer and the interpreter included), the CUDA allocator's peak on a GPU;
  - seconds per step, with `--steps N` (the median of the N - 1 steps after the measured one).
The arithmetic is fp32 training state: parameters x (4 weight + 4 gradient + 8 AdamW) bytes, divided by the world
size under FSDP. Printed: per-process GB, measured / arithmetic, and FSDP / DDP.

    python benchmarks/distributed_memory.py --models base          # ViT-B, DDP and FSDP (minutes on 2 CPU cores)
    python benchmarks/distributed_memory.py --models large         # ViT-L (~15 GB RAM for the 2 DDP processes)
    python benchmarks/distributed_memory.py --models large --strategies fsdp --processes 1 --batch 8 --steps 10 \
        --mixed-precision bf16                                     # one GPU (benchmarks/gpu_check.sh)

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from arvideo_hf.training.sharded import local_tensor


ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {strategy: ROOT / "examples" / "accelerate_configs" / name
           for strategy, name in (("ddp", "ddp.yaml"), ("fsdp", "fsdp2.yaml"))}
STATE_BYTES_PER_PARAMETER = 4 + 4 + 8  # fp32 weight, gradient, AdamW exp_avg + exp_avg_sq
GB = 1e9
autocast = contextlib.nullcontext  # the worker's accelerator.autocast (bf16 under --mixed-precision bf16)


def tensor_bytes(tensors) -> int:
    return sum(local_tensor(t).numel() * local_tensor(t).element_size() for t in tensors if t is not None)


def measure_step(model: torch.nn.Module, optimizer, config, batch: int, device: torch.device) -> dict[str, int]:
    """One training step; bytes of activations saved for backward, of gradients and of optimizer state."""
    saved: list[torch.Tensor] = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(tensor)
        return tensor

    size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
    clip = torch.randn(batch, config.num_frames, config.num_channels, size, size, device=device)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor), autocast():
        loss = model(clip).loss
    # Distinct storages still alive (FSDP frees a layer's gathered weights after its forward: size 0), less weights.
    live = [t.untyped_storage() for t in saved if not hasattr(t, "to_local")]
    storages = {storage.data_ptr(): storage.nbytes() for storage in live if storage.nbytes()}
    for parameter in model.parameters():
        storages.pop(local_tensor(parameter).untyped_storage().data_ptr(), None)
    activations = sum(storages.values())
    saved.clear()
    loss.backward()
    gradients = tensor_bytes(p.grad for p in model.parameters())
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    state = tensor_bytes(value for per_param in optimizer.state.values() for value in per_param.values()
                         if isinstance(value, torch.Tensor))
    return {"activations": activations, "gradients": gradients, "optimizer": state}


def seconds_per_step(model: torch.nn.Module, optimizer, clip: torch.Tensor, steps: int) -> float | None:
    """Median seconds of `steps` further training steps (None for none)."""
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        with autocast():
            model(clip).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if clip.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times) if times else None


def worker(model_name: str, batch: int, steps: int) -> None:
    """One process of the launch: prepare as pretrain.py does, step once, print the processes' numbers (rank 0)."""
    from accelerate import Accelerator
    from accelerate.utils import gather_object

    from arvideo_hf import ARVideoConfig, ARVideoForPretraining
    from arvideo_hf.training.optim import build_param_groups
    from arvideo_hf.training.processes import end_training
    from arvideo_hf.training.sharded import describe_shards, fsdp_on_cpu, is_fsdp, register_forward_methods

    accelerator = Accelerator()
    fsdp_on_cpu(accelerator)
    torch.manual_seed(0)
    config = ARVideoConfig.from_preset(model_name)
    model = ARVideoForPretraining(config)
    parameters = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(build_param_groups(model, 0.05), lr=1e-4)
    model, optimizer = accelerator.prepare(model, optimizer)
    if is_fsdp(accelerator):
        register_forward_methods(model)
    global autocast
    autocast = accelerator.autocast
    device = accelerator.device
    record = {"parameters": tensor_bytes(model.parameters()), **measure_step(model, optimizer, config, batch, device)}
    size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
    clip = torch.randn(batch, config.num_frames, config.num_channels, size, size, device=device)
    record["seconds_per_step"] = seconds_per_step(model, optimizer, clip, steps - 1)
    # The peak of the device's memory allocator on a GPU; the process's peak resident memory on the CPU.
    record["peak"] = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    records = gather_object([record])
    if accelerator.is_main_process:
        print(json.dumps({"model": model_name, "parameter_count": parameters, "processes": records, "batch": batch,
                          "device": str(device), "mixed_precision": accelerator.mixed_precision,
                          "shard_units": describe_shards(model) if is_fsdp(accelerator) else None}), flush=True)
    end_training(accelerator)  # as pretraining ends: live gloo threads at exit abort or hang a rank


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(model_name: str, strategy: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIGS[strategy]),
               "--num_processes", str(args.processes), "--num_machines", "1", "--mixed_precision", args.mixed_precision,
               "--main_process_port", str(free_port()), __file__, "--worker", "--models", model_name,
               "--batch", str(args.batch), "--steps", str(args.steps)]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    if args.device == "cpu":
        env["ACCELERATE_USE_CPU"] = "1"
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{strategy} {model_name} failed:\n{done.stderr[-4000:]}")
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])


def summarize(model_name: str, strategy: str, run: dict, world_size: int) -> dict:
    """Per-process maxima (the process that needs most decides what fits) against the arithmetic."""
    times = [process.pop("seconds_per_step") for process in run["processes"]]
    step = None if None in times else max(times)  # the slowest process sets the pace
    worst = {key: max(process[key] for process in run["processes"]) for key in run["processes"][0]}
    states = worst["parameters"] + worst["gradients"] + worst["optimizer"]
    arithmetic = run["parameter_count"] * STATE_BYTES_PER_PARAMETER / (world_size if strategy == "fsdp" else 1)
    return {"model": model_name, "strategy": strategy, "parameter_count": run["parameter_count"],
            "device": run["device"], "mixed_precision": run["mixed_precision"], "processes": world_size,
            "seconds_per_step": step, "clips_per_s": round(world_size * run["batch"] / step, 2) if step else None,
            **{f"{key}_gb": round(value / GB, 3) for key, value in worst.items()},
            "states_gb": round(states / GB, 3), "arithmetic_states_gb": round(arithmetic / GB, 3),
            "states_vs_arithmetic": round(states / arithmetic, 3),
            "states_plus_activations_gb": round((states + worst["activations"]) / GB, 3),
            "shard_units": run["shard_units"]}


def compare(rows: dict[str, dict]) -> dict[str, float]:
    """FSDP / DDP of one model's per-process numbers."""
    ddp, fsdp = rows["ddp"], rows["fsdp"]
    return {f"{key}_fsdp_vs_ddp": round(fsdp[f"{key}_gb"] / ddp[f"{key}_gb"], 3)
            for key in ("states", "states_plus_activations", "peak")}


def print_row(row: dict) -> None:
    peak = "peak CUDA memory" if row["device"].startswith("cuda") else "peak RSS"
    print(f"{row['model']:5s} {row['strategy']:4s} params {row['parameter_count'] / 1e6:6.1f}M  per process: "
          f"weights+grads+AdamW {row['states_gb']:.2f} GB (arithmetic {row['arithmetic_states_gb']:.2f}, "
          f"x{row['states_vs_arithmetic']:.3f})  activations {row['activations_gb']:.2f} GB  {peak} "
          f"{row['peak_gb']:.2f} GB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["base", "large"], help="ARVideo presets")
    parser.add_argument("--strategies", nargs="+", default=["ddp", "fsdp"], choices=sorted(CONFIGS))
    parser.add_argument("--processes", type=int, default=2, help="processes (GPUs) of each launch")
    parser.add_argument("--batch", type=int, default=1, help="clips per process")
    parser.add_argument("--steps", type=int, default=1, help="training steps; those after the first are timed")
    parser.add_argument("--mixed-precision", default="no", choices=["no", "bf16", "fp16"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.models[0], args.batch, args.steps)
        return
    from arvideo_hf.environment import describe_machine

    print(json.dumps({"machine": describe_machine()}), flush=True)
    rows, ratios = [], {}
    for model_name in args.models:
        by_strategy = {strategy: summarize(model_name, strategy, launch(model_name, strategy, args), args.processes)
                       for strategy in args.strategies}
        for row in by_strategy.values():
            rows.append(row)
            print_row(row)
        if len(by_strategy) == 2:
            ratios[model_name] = compare(by_strategy)
            print(f"{model_name:5s} FSDP / DDP: {json.dumps(ratios[model_name])}", flush=True)
    print(json.dumps({"benchmark": "distributed_memory", "processes": args.processes,
                      "batch_per_process": args.batch, "rows": rows, "ratios": ratios}))


if __name__ == "__main__":
    main()

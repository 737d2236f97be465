#!/usr/bin/env python
"""Per-process memory of ARVideo pretraining under DDP and FSDP2, measured on 2 CPU processes against the arithmetic.

Each (model, strategy) pair is a real `accelerate launch` of 2 processes over gloo with the shipped config
(`examples/accelerate_configs/ddp.yaml` or `fsdp2.yaml`, `ACCELERATE_USE_CPU=1`), preparing `ARVideoForPretraining`
and the recipe's AdamW exactly as `examples/pretrain.py` does, then taking one training step on a random
16x224x224 clip per process. Each process measures:
  - parameters, gradients and AdamW state: bytes of the tensors it holds (its shards under FSDP);
  - activations: bytes of the distinct tensors autograd holds for backward at the end of the forward pass, less
    parameter storage (the same under DDP and FSDP at the same per-process batch: neither shards activations);
  - peak resident memory of the process (`ru_maxrss`): everything, DDP's gradient buckets, FSDP's gathered layer
    and the interpreter included.
The arithmetic is fp32 training state: parameters x (4 weight + 4 gradient + 8 AdamW) bytes, divided by the world
size under FSDP. Printed: per-process GB, measured / arithmetic, and FSDP / DDP.

    python benchmarks/distributed_memory.py                        # ViT-B and ViT-L (minutes; ~14 GB RAM for DDP ViT-L)
    python benchmarks/distributed_memory.py --models base          # ViT-B only

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path

import torch

from arvideo_hf.training.sharded import local_tensor


ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {strategy: ROOT / "examples" / "accelerate_configs" / name
           for strategy, name in (("ddp", "ddp.yaml"), ("fsdp", "fsdp2.yaml"))}
STATE_BYTES_PER_PARAMETER = 4 + 4 + 8  # fp32 weight, gradient, AdamW exp_avg + exp_avg_sq
WORLD_SIZE = 2
GB = 1e9


def tensor_bytes(tensors) -> int:
    return sum(local_tensor(t).numel() * local_tensor(t).element_size() for t in tensors if t is not None)


def measure_step(model: torch.nn.Module, optimizer, config, batch: int) -> dict[str, int]:
    """One training step; bytes of activations saved for backward, of gradients and of optimizer state."""
    saved: list[torch.Tensor] = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(tensor)
        return tensor

    size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
    clip = torch.randn(batch, config.num_frames, config.num_channels, size, size)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
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
    state = tensor_bytes(value for per_param in optimizer.state.values() for value in per_param.values()
                         if isinstance(value, torch.Tensor))
    return {"activations": activations, "gradients": gradients, "optimizer": state}


def worker(model_name: str, batch: int) -> None:
    """One process of the launch: prepare as pretrain.py does, step once, print the processes' numbers (rank 0)."""
    from accelerate import Accelerator
    from accelerate.utils import gather_object

    from arvideo_hf import ARVideoConfig, ARVideoForPretraining
    from arvideo_hf.training.optim import build_param_groups
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
    record = {"parameters": tensor_bytes(model.parameters()), **measure_step(model, optimizer, config, batch),
              "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    records = gather_object([record])
    if accelerator.is_main_process:
        print(json.dumps({"model": model_name, "parameter_count": parameters, "processes": records,
                          "shard_units": describe_shards(model) if is_fsdp(accelerator) else None}), flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(model_name: str, strategy: str, batch: int) -> dict:
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIGS[strategy]),
               "--num_processes", str(WORLD_SIZE), "--num_machines", "1", "--mixed_precision", "no",
               "--main_process_port", str(free_port()), __file__, "--worker", "--models", model_name,
               "--batch", str(batch)]
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{strategy} {model_name} failed:\n{done.stderr[-4000:]}")
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])


def summarize(model_name: str, strategy: str, run: dict) -> dict:
    """Per-process maxima (the process that needs most decides what fits) against the arithmetic."""
    worst = {key: max(process[key] for process in run["processes"]) for key in run["processes"][0]}
    states = worst["parameters"] + worst["gradients"] + worst["optimizer"]
    arithmetic = run["parameter_count"] * STATE_BYTES_PER_PARAMETER / (WORLD_SIZE if strategy == "fsdp" else 1)
    return {"model": model_name, "strategy": strategy, "parameter_count": run["parameter_count"],
            **{f"{key}_gb": round(value / GB, 3) for key, value in worst.items()},
            "states_gb": round(states / GB, 3), "arithmetic_states_gb": round(arithmetic / GB, 3),
            "states_vs_arithmetic": round(states / arithmetic, 3),
            "states_plus_activations_gb": round((states + worst["activations"]) / GB, 3),
            "shard_units": run["shard_units"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["base", "large"], help="ARVideo presets")
    parser.add_argument("--batch", type=int, default=1, help="clips per process")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.models[0], args.batch)
        return
    from arvideo_hf.environment import describe_machine

    print(json.dumps({"machine": describe_machine()}))
    rows, ratios = [], {}
    for model_name in args.models:
        by_strategy = {strategy: summarize(model_name, strategy, launch(model_name, strategy, args.batch))
                       for strategy in ("ddp", "fsdp")}
        ddp, fsdp = by_strategy["ddp"], by_strategy["fsdp"]
        ratios[model_name] = {
            "states_fsdp_vs_ddp": round(fsdp["states_gb"] / ddp["states_gb"], 3),
            "states_plus_activations_fsdp_vs_ddp": round(
                fsdp["states_plus_activations_gb"] / ddp["states_plus_activations_gb"], 3),
            "peak_rss_fsdp_vs_ddp": round(fsdp["peak_rss_gb"] / ddp["peak_rss_gb"], 3),
        }
        for row in by_strategy.values():
            rows.append(row)
            print(f"{model_name:5s} {row['strategy']:4s} params {row['parameter_count'] / 1e6:6.1f}M  per process: "
                  f"weights+grads+AdamW {row['states_gb']:.2f} GB (arithmetic {row['arithmetic_states_gb']:.2f}, "
                  f"x{row['states_vs_arithmetic']:.3f})  activations {row['activations_gb']:.2f} GB  "
                  f"peak RSS {row['peak_rss_gb']:.2f} GB")
        print(f"{model_name:5s} FSDP / DDP: {json.dumps(ratios[model_name])}")
    print(json.dumps({"benchmark": "distributed_memory", "world_size": WORLD_SIZE, "batch_per_process": args.batch,
                      "rows": rows, "ratios": ratios}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Pretraining cost, ARVideo vs transformers' VideoMAEForPreTraining, measured side by side in one process.

One full training step (forward, backward, AdamW) per model, each with its paper masking (ARVideo: 2x7x7 clusters,
80% in-cluster mask, random order; VideoMAE: tube masking 90%), the same ViT encoder and input, for eager and sdpa
attention. Runs are interleaved (A, B, A, B, ...) after warm-up, so drift in machine speed hits both alike.

ARVideo runs in three configurations: plain; `decoder_chunk_size` (chunked decoder + loss under recomputation, same
loss and gradients); and chunked plus encoder gradient checkpointing (`-ckpt`), which trades one more encoder forward
for the encoder's activations.

Reported per configuration: median step time per clip, activation memory per clip, forward+backward FLOPs per clip.
Activation memory is the slope between two batch sizes of
  - on CUDA: peak allocated memory during the step minus the model+optimizer baseline;
  - on CPU: bytes of the distinct tensors autograd holds for backward at the end of the forward pass (what a CUDA
    allocator would have to keep alive); transient buffers during backward are not included.

    python benchmarks/pretrain_cost.py                       # ViT-B, 16x224x224 (minutes on a 2-core CPU)
    python benchmarks/pretrain_cost.py --model small --repeats 3 --batch-sizes 1 2

The last line is one JSON object; `time_ratio`/`memory_ratio` compare ARVideo's best configuration with VideoMAE's best
attention implementation (below 1: ARVideo is cheaper).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import statistics
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import VideoMAEConfig, VideoMAEForPreTraining

from arvideo_hf import ARVideoConfig, ARVideoForPretraining
from arvideo_hf.environment import describe_machine


VIDEOMAE_DECODERS = {"tiny": (64, 2, 256), "small": (192, 3, 768), "base": (384, 6, 1536), "large": (512, 8, 2048)}


def videomae_config(arvideo: ARVideoConfig, preset: str) -> VideoMAEConfig:
    """The peer: the same encoder, VideoMAE's own decoder for that size, norm-pix loss."""
    width, heads, mlp = VIDEOMAE_DECODERS[preset]
    return VideoMAEConfig(
        image_size=arvideo.image_size, patch_size=arvideo.patch_size, num_frames=arvideo.num_frames,
        tubelet_size=arvideo.tubelet_size, hidden_size=arvideo.hidden_size, num_hidden_layers=arvideo.num_hidden_layers,
        num_attention_heads=arvideo.num_attention_heads, intermediate_size=arvideo.intermediate_size,
        decoder_hidden_size=width, decoder_num_attention_heads=heads, decoder_intermediate_size=mlp,
        decoder_num_hidden_layers=4, norm_pix_loss=True, layer_norm_eps=1e-6,
    )


def tube_mask(config: VideoMAEConfig, batch: int, ratio: float = 0.9) -> torch.Tensor:
    """VideoMAE's tube masking: the same random `ratio` of spatial positions masked in every time slice."""
    grid_t = config.num_frames // config.tubelet_size
    spatial = (config.image_size // config.patch_size) ** 2
    masked = int(ratio * spatial)
    order = torch.rand(batch, spatial).argsort(dim=1)
    mask = torch.zeros(batch, spatial, dtype=torch.bool)
    mask.scatter_(1, order[:, :masked], True)
    return mask.repeat(1, grid_t)


class Contender:
    """A model, its optimizer and a function producing one batch of inputs."""

    def __init__(self, name: str, model: torch.nn.Module, make_inputs: Callable[[int], dict], device: torch.device):
        self.name, self.model, self.make_inputs = name, model.to(device).train(), make_inputs
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4, betas=(0.9, 0.95))
        self.device = device

    def step(self, batch: int) -> float:
        inputs = {k: v.to(self.device) for k, v in self.make_inputs(batch).items()}
        sync()
        start = time.perf_counter()
        loss = self.model(**inputs).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        sync()
        return time.perf_counter() - start

    def activation_bytes(self, batch: int) -> int:
        inputs = {k: v.to(self.device) for k, v in self.make_inputs(batch).items()}
        if self.device.type == "cuda":
            self.step(1)  # optimizer state exists: baseline = params + grads(None) + moments
            gc.collect()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            baseline = torch.cuda.memory_allocated()
            loss = self.model(**inputs).loss
            loss.backward()
            peak = torch.cuda.max_memory_allocated() - baseline
            self.optimizer.zero_grad(set_to_none=True)
            return peak
        saved: dict[int, int] = {}

        def pack(tensor: torch.Tensor) -> torch.Tensor:
            storage = tensor.untyped_storage()
            saved[storage.data_ptr()] = storage.nbytes()
            return tensor

        params = {p.untyped_storage().data_ptr() for p in self.model.parameters()}
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            loss = self.model(**inputs).loss
        activation = sum(size for ptr, size in saved.items() if ptr not in params)
        loss.backward()
        self.optimizer.zero_grad(set_to_none=True)
        return activation

    def flops(self) -> int:
        inputs = {k: v.to(self.device) for k, v in self.make_inputs(1).items()}
        with FlopCounterMode(display=False) as counter:
            self.model(**inputs).loss.backward()
        self.optimizer.zero_grad(set_to_none=True)
        return counter.get_total_flops()


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def build_contenders(preset: str, attn: str, device: torch.device, chunk: int) -> list[Contender]:
    base = ARVideoConfig.from_preset(preset)
    vm_config = videomae_config(base, preset)
    arvideo = ARVideoForPretraining._from_config(copy.deepcopy(base), attn_implementation=attn)
    chunked = ARVideoForPretraining._from_config(copy.deepcopy(base), attn_implementation=attn)
    chunked.config.decoder_chunk_size = chunk
    chunked.load_state_dict(arvideo.state_dict())
    recomputed = ARVideoForPretraining._from_config(copy.deepcopy(base), attn_implementation=attn)
    recomputed.config.decoder_chunk_size = chunk
    recomputed.load_state_dict(arvideo.state_dict())
    recomputed.activation_checkpointing_enable()
    videomae = VideoMAEForPreTraining._from_config(copy.deepcopy(vm_config), attn_implementation=attn)
    size = base.image_size

    def clips(batch: int) -> torch.Tensor:
        return torch.randn(batch, base.num_frames, 3, size, size)

    return [
        Contender(f"arvideo/{attn}", arvideo, lambda b: {"pixel_values": clips(b)}, device),
        Contender(f"arvideo-chunked/{attn}", chunked, lambda b: {"pixel_values": clips(b)}, device),
        Contender(f"arvideo-chunked-ckpt/{attn}", recomputed, lambda b: {"pixel_values": clips(b)}, device),
        Contender(f"videomae/{attn}", videomae,
                  lambda b: {"pixel_values": clips(b), "bool_masked_pos": tube_mask(vm_config, b)}, device),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="base", help="ARVideoConfig preset: tiny, small, base, large")
    parser.add_argument("--batch-sizes", type=int, nargs=2, default=[1, 2], help="two batch sizes for the slope")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per contender after one warm-up")
    parser.add_argument("--attn", nargs="+", default=["eager", "sdpa"])
    parser.add_argument("--chunk", type=int, default=256, help="decoder_chunk_size of the chunked ARVideo")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    print(f"machine: {describe_machine()}")
    small, large = args.batch_sizes
    results: dict[str, dict] = {}
    for attn in args.attn:
        contenders = build_contenders(args.model, attn, device, args.chunk)
        for contender in contenders:  # warm-up, FLOPs, memory
            contender.step(large)
            memory = [contender.activation_bytes(b) for b in (small, large)]
            results[contender.name] = {
                "gflops_per_clip": contender.flops() / 1e9,
                "activation_mb_per_clip": (memory[1] - memory[0]) / (large - small) / 2**20,
                "times": [],
            }
        for _ in range(args.repeats):  # interleaved timing
            for contender in contenders:
                results[contender.name]["times"].append(contender.step(large) / large)
        for contender in contenders:
            entry = results[contender.name]
            entry["step_s_per_clip"] = statistics.median(entry.pop("times"))
            print(f"{contender.name:24s} step {entry['step_s_per_clip']:.3f} s/clip  "
                  f"activations {entry['activation_mb_per_clip']:.1f} MB/clip  {entry['gflops_per_clip']:.1f} GFLOP/clip")
        del contenders
        gc.collect()

    videomae = {k: v for k, v in results.items() if k.startswith("videomae/")}
    arvideo = {k: v for k, v in results.items() if k.startswith("arvideo")}
    best_vm_time = min(v["step_s_per_clip"] for v in videomae.values())
    best_vm_mem = min(v["activation_mb_per_clip"] for v in videomae.values())
    best_ar_time = min(arvideo.items(), key=lambda kv: kv[1]["step_s_per_clip"])
    best_ar_mem = min(arvideo.items(), key=lambda kv: kv[1]["activation_mb_per_clip"])
    for name, entry in results.items():
        peer = results[f"videomae/{name.split('/')[1]}"]
        entry["time_ratio_vs_videomae_same_attn"] = entry["step_s_per_clip"] / peer["step_s_per_clip"]
        entry["memory_ratio_vs_videomae_same_attn"] = entry["activation_mb_per_clip"] / peer["activation_mb_per_clip"]
        entry["flops_ratio_vs_videomae_same_attn"] = entry["gflops_per_clip"] / peer["gflops_per_clip"]
    summary = {
        "benchmark": "pretrain_cost",
        "model": args.model,
        "batch_sizes": args.batch_sizes,
        "repeats": args.repeats,
        "machine": describe_machine(),
        "results": results,
        "time_ratio": best_ar_time[1]["step_s_per_clip"] / best_vm_time,
        "time_ratio_config": best_ar_time[0],
        "memory_ratio": best_ar_mem[1]["activation_mb_per_clip"] / best_vm_mem,
        "memory_ratio_config": best_ar_mem[0],
    }
    print(f"time_ratio {summary['time_ratio']:.3f} ({best_ar_time[0]}), "
          f"memory_ratio {summary['memory_ratio']:.3f} ({best_ar_mem[0]}) vs VideoMAE's best attention")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

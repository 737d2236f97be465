#!/usr/bin/env python
"""Pretraining cost, ARVideo vs transformers' VideoMAEForPreTraining, measured side by side in one process.

One full training step (forward, backward, AdamW) per model, each with its paper masking (ARVideo: 2x7x7 clusters,
80% in-cluster mask, random order; VideoMAE: tube masking 90%), the same ViT encoder and input, for each attention
implementation asked for, in fp32 or under bf16/fp16 autocast. Runs are interleaved (A, B, A, B, ...) after warm-up,
so drift in machine speed hits both alike.

ARVideo runs in three configurations: plain; `decoder_chunk_size` (chunked decoder + loss under recomputation, same
loss and gradients); and chunked plus encoder gradient checkpointing (`-ckpt`), which trades one more encoder forward
for the encoder's activations.

Reported per configuration: step time per clip (and clips/s), forward+backward FLOPs per clip, achieved GFLOP/s,
activation memory per clip, and the encoder's share of it. Activation memory is the slope between two batch sizes of
  - on CUDA: peak allocated memory during the step minus the model+optimizer baseline (the absolute peak is kept too);
  - on CPU: bytes of the distinct tensors autograd holds for backward at the end of the forward pass (what a CUDA
    allocator would have to keep alive); transient buffers during backward are not included.
The step time is the fastest of the interleaved repeats: on a shared machine other jobs only ever add time, so the
minimum is the least disturbed estimate (the median and every time are in the JSON). Where other jobs keep the cores
busy, `--clock cpu --threads 1` times steps in CPU seconds of this process, which they barely disturb.
The floor of a model is what its encoder alone holds for backward (saved-tensor bytes inside the encoder, same slope,
on every device), measured on the plain model: the part that no decoder-side trick can remove. ARVideo configurations
are set against the ARVideo encoder's floor, VideoMAE against its own encoder's.

The two honest ratios, against VideoMAE's best attention implementation (its fastest run here):
  - time per GFLOP: how fast a configuration does a unit of work (ARVideo does more work per clip by design);
  - memory vs floor: how close a configuration's activation memory is to its encoder's floor (1.0: no decoder cost).

    python benchmarks/pretrain_cost.py                       # ViT-B, 16x224x224 (minutes on a 2-core CPU)
    python benchmarks/pretrain_cost.py --model small --repeats 3 --batch-sizes 1 2
    python benchmarks/pretrain_cost.py --clock cpu --threads 1             # on a CPU shared with other jobs
    python benchmarks/pretrain_cost.py --dtype bf16 --attn sdpa --batch-sizes 8 16 --repeats 10   # on a GPU

The last line is one JSON object; `time_ratio`/`memory_ratio` compare ARVideo's best configuration with VideoMAE's best
attention implementation (below 1: ARVideo is cheaper); `headline` has the four ratios of every configuration.
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
from arvideo_hf.training.videomae_baseline import VIDEOMAE_DECODERS


# VideoMAE has no decoder for the tiny width; this one keeps the smoke test (`gpu_check.sh --dry-run`) small.
TINY_DECODER = dict(decoder_hidden_size=64, decoder_num_hidden_layers=4, decoder_num_attention_heads=2,
                    decoder_intermediate_size=256)
AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
MB = 2**20


def videomae_config(arvideo: ARVideoConfig, preset: str) -> VideoMAEConfig:
    """The peer: the same encoder, VideoMAE's own decoder for that size (`VIDEOMAE_DECODERS` of
    `arvideo_hf.training.videomae_baseline`, the baseline's table), norm-pix loss."""
    decoder = TINY_DECODER if preset == "tiny" else VIDEOMAE_DECODERS[arvideo.hidden_size]
    return VideoMAEConfig(
        image_size=arvideo.image_size, patch_size=arvideo.patch_size, num_frames=arvideo.num_frames,
        tubelet_size=arvideo.tubelet_size, hidden_size=arvideo.hidden_size, num_hidden_layers=arvideo.num_hidden_layers,
        num_attention_heads=arvideo.num_attention_heads, intermediate_size=arvideo.intermediate_size,
        norm_pix_loss=True, layer_norm_eps=1e-6, **decoder,
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
    """A model, its optimizer, a function producing one batch of inputs, and the autocast dtype (None: fp32)."""

    def __init__(self, name: str, model: torch.nn.Module, make_inputs: Callable[[int], dict], device: torch.device,
                 dtype: torch.dtype | None = None):
        self.name, self.model, self.make_inputs = name, model.to(device).train(), make_inputs
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4, betas=(0.9, 0.95))
        self.device, self.dtype, self.clock = device, dtype, time.perf_counter

    def inputs(self, batch: int) -> dict:
        """One batch on the device."""
        return {k: v.to(self.device) for k, v in self.make_inputs(batch).items()}

    def loss(self, inputs: dict) -> torch.Tensor:
        """The forward pass, under autocast when a low-precision dtype is set."""
        with torch.autocast(self.device.type, dtype=self.dtype or torch.bfloat16, enabled=self.dtype is not None):
            return self.model(**inputs).loss

    def step(self, batch: int) -> float:
        """Seconds of one forward + backward + AdamW step."""
        inputs = self.inputs(batch)
        sync()
        start = self.clock()
        self.loss(inputs).backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        sync()
        return self.clock() - start

    def saved_bytes(self, batch: int) -> tuple[int, int]:
        """Bytes autograd holds for backward after the forward: in all, and saved inside the encoder (its floor)."""
        saved: dict[int, tuple[int, bool]] = {}
        inside = [False]
        encoder = self.model.base_model
        hooks = [encoder.register_forward_pre_hook(lambda *_: inside.__setitem__(0, True)),
                 encoder.register_forward_hook(lambda *_: inside.__setitem__(0, False))]

        def pack(tensor: torch.Tensor) -> torch.Tensor:
            storage = tensor.untyped_storage()
            saved.setdefault(storage.data_ptr(), (storage.nbytes(), inside[0]))
            return tensor

        params = {p.untyped_storage().data_ptr() for p in self.model.parameters()}
        try:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
                loss = self.loss(self.inputs(batch))
        finally:
            for hook in hooks:
                hook.remove()
        kept = [(size, in_encoder) for ptr, (size, in_encoder) in saved.items() if ptr not in params]
        loss.backward()
        self.optimizer.zero_grad(set_to_none=True)
        return sum(size for size, _ in kept), sum(size for size, in_encoder in kept if in_encoder)

    def peak_bytes(self, batch: int) -> tuple[int, int]:
        """CUDA peak allocated memory of forward + backward: above the model+optimizer baseline, and absolute."""
        inputs = self.inputs(batch)
        self.step(1)  # optimizer state exists: baseline = params + grads(None) + moments
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
        self.loss(inputs).backward()
        peak = torch.cuda.max_memory_allocated()
        self.optimizer.zero_grad(set_to_none=True)
        return peak - baseline, peak

    def flops(self) -> int:
        """Forward + backward FLOPs of one clip."""
        with FlopCounterMode(display=False) as counter:
            self.loss(self.inputs(1)).backward()
        self.optimizer.zero_grad(set_to_none=True)
        return counter.get_total_flops()


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def build_contenders(preset: str, attn: str, device: torch.device, chunk: int,
                     dtype: torch.dtype | None = None) -> list[Contender]:
    """Plain, chunked and chunked+checkpointed ARVideo (shared weights) and VideoMAE, for one attention kind."""
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
        Contender(f"arvideo/{attn}", arvideo, lambda b: {"pixel_values": clips(b)}, device, dtype),
        Contender(f"arvideo-chunked/{attn}", chunked, lambda b: {"pixel_values": clips(b)}, device, dtype),
        Contender(f"arvideo-chunked-ckpt/{attn}", recomputed, lambda b: {"pixel_values": clips(b)}, device, dtype),
        Contender(f"videomae/{attn}", videomae,
                  lambda b: {"pixel_values": clips(b), "bool_masked_pos": tube_mask(vm_config, b)}, device, dtype),
    ]


def slope_mb(values: list[int], sizes: list[int]) -> float:
    """MB per clip: the difference between two batch sizes, so that constant costs (weights, casts) cancel."""
    return (values[1] - values[0]) / (sizes[1] - sizes[0]) / MB


def measure(contender: Contender, sizes: list[int]) -> dict:
    """Warm-up, then FLOPs, activation memory, the encoder's saved bytes and (on CUDA) peak memory per clip."""
    contender.step(sizes[1])
    saved = [contender.saved_bytes(b) for b in sizes]
    entry = {
        "gflops_per_clip": contender.flops() / 1e9,
        "activation_mb_per_clip": slope_mb([total for total, _ in saved], sizes),
        "encoder_saved_mb_per_clip": slope_mb([encoder for _, encoder in saved], sizes),
    }
    if contender.device.type == "cuda":
        peaks = [contender.peak_bytes(b) for b in sizes]
        entry["activation_mb_per_clip"] = slope_mb([above for above, _ in peaks], sizes)
        entry["peak_mb"] = peaks[1][1] / MB
        entry["peak_mb_per_clip"] = peaks[1][1] / sizes[1] / MB
    return entry


def time_interleaved(contenders: list[Contender], batch: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per clip of every timed step of each contender, steps interleaved across contenders."""
    times: dict[str, list[float]] = {c.name: [] for c in contenders}
    for _ in range(repeats):
        for contender in contenders:
            times[contender.name].append(contender.step(batch) / batch)
    return times


def add_rates(entry: dict) -> None:
    """Clips/s and achieved GFLOP/s from the step time."""
    entry["clips_per_s"] = 1 / entry["step_s_per_clip"]
    entry["gflop_per_s"] = entry["gflops_per_clip"] / entry["step_s_per_clip"]


def add_ratios(results: dict[str, dict]) -> str:
    """Ratios vs VideoMAE (same attention and best attention) and vs each model's encoder floor; returns the best."""
    best = min((k for k in results if k.startswith("videomae/")), key=lambda k: results[k]["step_s_per_clip"])
    peer_best = results[best]
    for name, entry in results.items():
        family, attn = name.split("/")
        peer = results[f"videomae/{attn}"]
        entry["encoder_floor_mb_per_clip"] = results[f"{'videomae' if family == 'videomae' else 'arvideo'}/{attn}"][
            "encoder_saved_mb_per_clip"]
        entry["memory_vs_floor"] = entry["activation_mb_per_clip"] / entry["encoder_floor_mb_per_clip"]
        fields = (("time", "step_s_per_clip"), ("memory", "activation_mb_per_clip"), ("flops", "gflops_per_clip"))
        for key, field in fields:
            entry[f"{key}_ratio_vs_videomae_same_attn"] = entry[field] / peer[field]
            entry[f"{key}_ratio_vs_videomae_best"] = entry[field] / peer_best[field]
        entry["time_per_gflop_ratio_vs_videomae_best"] = peer_best["gflop_per_s"] / entry["gflop_per_s"]
    return best


def headline(results: dict[str, dict]) -> dict[str, dict]:
    """Per configuration: the honest ratios (time per GFLOP, memory vs floor) next to the raw ones."""
    keys = {"time_per_gflop": "time_per_gflop_ratio_vs_videomae_best", "memory_vs_floor": "memory_vs_floor",
            "time": "time_ratio_vs_videomae_best", "memory": "memory_ratio_vs_videomae_best"}
    return {name: {short: round(entry[key], 3) for short, key in keys.items()} for name, entry in results.items()}


def print_table(results: dict[str, dict], best: str) -> None:
    """One row per configuration: raw costs, then the ratios against `best` and against the floor."""
    print(f"\nratios vs {best} (VideoMAE's best attention); floor = the model's own encoder, saved for backward")
    print(f"{'configuration':28s} {'s/clip':>7s} {'GFLOP':>7s} {'GFLOP/s':>8s} {'MB/clip':>8s} {'floor MB':>8s} "
          f"{'t/GFLOP':>8s} {'mem/floor':>9s} {'time':>6s} {'memory':>7s}")
    for name, e in results.items():
        print(f"{name:28s} {e['step_s_per_clip']:7.3f} {e['gflops_per_clip']:7.1f} {e['gflop_per_s']:8.1f} "
              f"{e['activation_mb_per_clip']:8.1f} {e['encoder_floor_mb_per_clip']:8.1f} "
              f"{e['time_per_gflop_ratio_vs_videomae_best']:8.3f} {e['memory_vs_floor']:9.3f} "
              f"{e['time_ratio_vs_videomae_best']:6.3f} {e['memory_ratio_vs_videomae_best']:7.3f}")


def attention_backends(device: torch.device) -> dict:
    """Which fused sdpa kernels this build offers (flash needs a CUDA build and an unmasked attention)."""
    if device.type != "cuda":
        return {"device": device.type}
    return {"device": torch.cuda.get_device_name(),
            "flash_available": torch.backends.cuda.is_flash_attention_available(),
            "flash_enabled": torch.backends.cuda.flash_sdp_enabled(),
            "mem_efficient_enabled": torch.backends.cuda.mem_efficient_sdp_enabled()}


def run_attention(args: argparse.Namespace, attn: str, device: torch.device) -> dict[str, dict]:
    """Measure the four contenders of one attention implementation."""
    contenders = build_contenders(args.model, attn, device, args.chunk, AUTOCAST_DTYPES[args.dtype])
    for contender in contenders:
        contender.clock = CLOCKS[args.clock]
    results = {c.name: measure(c, args.batch_sizes) for c in contenders}
    for name, times in time_interleaved(contenders, args.batch_sizes[1], args.repeats).items():
        e = results[name]
        e.update(step_s_per_clip=min(times), step_s_per_clip_median=statistics.median(times), step_s_per_clip_all=times)
        add_rates(e)
        print(f"{name:28s} step {e['step_s_per_clip']:.3f} s/clip  "
              f"activations {e['activation_mb_per_clip']:.1f} MB/clip  "
              f"{e['gflops_per_clip']:.1f} GFLOP/clip  {e['gflop_per_s']:.1f} GFLOP/s", flush=True)
    del contenders
    gc.collect()
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="base", help="ARVideoConfig preset: tiny, small, base, large")
    parser.add_argument("--batch-sizes", type=int, nargs=2, default=[1, 2], help="two batch sizes for the slope")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per contender after one warm-up")
    parser.add_argument("--attn", nargs="+", default=["eager", "sdpa"])
    parser.add_argument("--chunk", type=int, default=256, help="decoder_chunk_size of the chunked ARVideo")
    parser.add_argument("--dtype", choices=sorted(AUTOCAST_DTYPES), default="fp32", help="autocast dtype (fp32: none)")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="step time: wall clock, or CPU seconds of this process (CPU only; for a shared machine)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.clock == "cpu" and device.type == "cuda":
        raise SystemExit("--clock cpu measures CPU work; on CUDA use the wall clock")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    machine = describe_machine()
    print(f"machine: {machine}", flush=True)
    results: dict[str, dict] = {}
    for attn in args.attn:
        results.update(run_attention(args, attn, device))
    best = add_ratios(results)
    print_table(results, best)
    arvideo = {k: v for k, v in results.items() if k.startswith("arvideo")}
    best_time = min(arvideo, key=lambda k: arvideo[k]["step_s_per_clip"])
    best_memory = min(arvideo, key=lambda k: arvideo[k]["activation_mb_per_clip"])
    summary = {
        "benchmark": "pretrain_cost", "model": args.model, "batch_sizes": args.batch_sizes, "repeats": args.repeats,
        "dtype": args.dtype, "clock": args.clock, "attention": attention_backends(device), "machine": machine,
        "machine_at_end": describe_machine(), "videomae_best": best, "headline": headline(results), "results": results,
        "time_ratio": arvideo[best_time]["time_ratio_vs_videomae_best"], "time_ratio_config": best_time,
        "memory_ratio": arvideo[best_memory]["memory_ratio_vs_videomae_best"], "memory_ratio_config": best_memory,
    }
    print(f"time_ratio {summary['time_ratio']:.3f} ({best_time}), memory_ratio {summary['memory_ratio']:.3f} "
          f"({best_memory}) vs {best}; machine at the end: {summary['machine_at_end']}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

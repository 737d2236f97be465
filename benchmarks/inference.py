#!/usr/bin/env python
"""Inference throughput and agreement: ARVideoModel vs transformers' VideoMAEModel on the same weights.

A random VideoMAE encoder is imported with `ARVideoModel.from_videomae`; both run the same clips, interleaved, for
each attention implementation. Prints clips/s, the ratio ARVideo/VideoMAE and the max absolute output difference.

    python benchmarks/inference.py                      # ViT-B, 16x224x224
    python benchmarks/inference.py --model small --batch-size 2 --repeats 5
    python benchmarks/inference.py --dtype bf16 --attn sdpa --batch-size 32 --repeats 20      # on a GPU
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import torch
from transformers import VideoMAEConfig, VideoMAEModel

from arvideo_hf import ARVideoConfig, ARVideoModel
from arvideo_hf.environment import describe_machine


AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="base")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--attn", nargs="+", default=["eager", "sdpa"])
    parser.add_argument("--dtype", choices=sorted(AUTOCAST_DTYPES), default="fp32", help="autocast dtype (fp32: none)")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = AUTOCAST_DTYPES[args.dtype]
    preset = ARVideoConfig.from_preset(args.model)
    base = VideoMAEConfig(
        image_size=preset.image_size, patch_size=preset.patch_size, num_frames=preset.num_frames,
        tubelet_size=preset.tubelet_size, hidden_size=preset.hidden_size, num_hidden_layers=preset.num_hidden_layers,
        num_attention_heads=preset.num_attention_heads, intermediate_size=preset.intermediate_size, layer_norm_eps=1e-6,
    )
    torch.manual_seed(0)
    clips = torch.randn(args.batch_size, preset.num_frames, 3, preset.image_size, preset.image_size, device=device)
    print(f"machine: {describe_machine()}")
    results = {}
    for attn in args.attn:
        videomae = VideoMAEModel._from_config(copy.deepcopy(base), attn_implementation=attn).eval()
        arvideo = ARVideoModel.from_videomae(videomae).to(device).eval()
        videomae.to(device)
        arvideo.set_attn_implementation(attn)
        times: dict[str, list[float]] = {"arvideo": [], "videomae": []}
        autocast = torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)
        with torch.inference_mode(), autocast:
            expected, actual = videomae(clips).last_hidden_state, arvideo(clips).last_hidden_state  # warm-up
            for _ in range(args.repeats):
                for name, model in (("arvideo", arvideo), ("videomae", videomae)):
                    sync()
                    start = time.perf_counter()
                    model(clips)
                    sync()
                    times[name].append(time.perf_counter() - start)
        clips_per_s = {name: args.batch_size / statistics.median(t) for name, t in times.items()}
        results[attn] = {
            "arvideo_clips_per_s": clips_per_s["arvideo"],
            "videomae_clips_per_s": clips_per_s["videomae"],
            "throughput_ratio": clips_per_s["arvideo"] / clips_per_s["videomae"],
            "max_abs_diff": (actual.float() - expected.float()).abs().max().item(),
        }
        r = results[attn]
        print(f"{attn:6s} ARVideo {r['arvideo_clips_per_s']:.2f} clips/s, VideoMAE {r['videomae_clips_per_s']:.2f} "
              f"clips/s, ratio {r['throughput_ratio']:.3f}, max |diff| {r['max_abs_diff']:.2e}")
    print(json.dumps({"benchmark": "inference", "model": args.model, "batch_size": args.batch_size, "dtype": args.dtype,
                      "machine": describe_machine(), "results": results}))


if __name__ == "__main__":
    main()

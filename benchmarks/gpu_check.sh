#!/usr/bin/env bash
# GPU check: ARVideo vs VideoMAE on one GPU (H100/H200 class), ViT-B, bf16 autocast, sdpa attention, then ViT-L
# pretraining under FSDP2 through the shipped accelerate config, in under 10 minutes.
#
#   benchmarks/gpu_check.sh             # on the GPU machine, from any directory
#   benchmarks/gpu_check.sh --dry-run   # tiny preset on the CPU: checks that the script and its flags still work
#
# Runs `pretrain_cost.py --model base` (ARVideo plain, chunked and chunked+checkpointed, and VideoMAE: clips/s,
# GFLOP/s, activation and peak CUDA memory per clip, the ratios against VideoMAE and the encoder floor) and
# `inference.py --model base`, then `distributed_memory.py --models large --strategies fsdp`: ViT-L ARVideo prepared
# by accelerate with examples/accelerate_configs/fsdp2.yaml (one process on the one GPU: FSDP2's CUDA path, its bf16
# MixedPrecisionPolicy and per-layer units, not the sharding, which needs several GPUs), 10 steps of 8 clips: peak
# CUDA memory, weights+grads+AdamW against the arithmetic, clips/s. torch's sdpa picks its fastest fused kernel per call: flash attention where the build
# and the GPU offer it and the attention is unmasked (VideoMAE), memory-efficient attention for ARVideo's block-causal
# masks; the environment line says which kernels this build offers.
#
# Needs only the package's own requirements (a CUDA build of torch, transformers, ...); the package itself is taken
# from src/. PYTHON picks the interpreter (default python3). Prints one JSON line per benchmark (the first describes
# the environment); when OUT is set they also go to $OUT/gpu_check.jsonl and the full logs to $OUT/gpu_check.log.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
LOG=$(mktemp)
STEP=$(mktemp)
JSONL=${OUT:+$OUT/gpu_check.jsonl}
[[ -z "${OUT:-}" ]] || mkdir -p "$OUT"
# Keep the full log under $OUT even when a step fails, so a failed run on a lent machine can still be read.
trap 'if [[ -n "${OUT:-}" ]]; then cp "$LOG" "$OUT/gpu_check.log"; fi; rm -f "$LOG" "$STEP"' EXIT

if [[ "${1:-}" == "--dry-run" ]]; then
  MODEL=tiny DEVICE=cpu TRAIN_BATCHES="1 2" TRAIN_REPEATS=1 INFER_BATCH=2 INFER_REPEATS=1
  FSDP_MODEL=tiny FSDP_PROCESSES=2 FSDP_BATCH=1 FSDP_STEPS=2  # FSDP needs 2 processes on the CPU (gloo)
  TRAIN_LIMIT=1500 INFER_LIMIT=600 FSDP_LIMIT=600  # a shared CPU can be slow; the limits only guard against a hang
elif [[ $# -eq 0 ]]; then
  MODEL=base DEVICE=cuda TRAIN_BATCHES="16 32" TRAIN_REPEATS=10 INFER_BATCH=32 INFER_REPEATS=20
  FSDP_MODEL=large FSDP_PROCESSES=1 FSDP_BATCH=8 FSDP_STEPS=10
  TRAIN_LIMIT=300 INFER_LIMIT=120 FSDP_LIMIT=180  # together under 10 minutes, start-up included
  "$PYTHON" -c "import sys, torch
sys.exit(0 if torch.cuda.is_available() else 'gpu_check: no CUDA device (use --dry-run)')"
else
  echo "usage: $0 [--dry-run]" >&2
  exit 2
fi

# Runs one benchmark under a time limit (progress on stderr, everything in the log); prints its JSON line.
run() {
  local limit=$1
  shift
  echo "+ $*" | tee -a "$LOG" >&2
  timeout "$limit" "$PYTHON" "$@" 2> >(tee -a "$LOG" >&2) | tee "$STEP" >&2
  cat "$STEP" >>"$LOG"
  grep '^{' "$STEP" | tail -n 1
}

{
  "$PYTHON" - "$DEVICE" <<'PY'
import json, platform, sys
import torch, transformers
cuda = sys.argv[1] == "cuda"
print(json.dumps({
    "benchmark": "environment", "python": platform.python_version(), "torch": torch.__version__,
    "transformers": transformers.__version__, "cuda": torch.version.cuda if cuda else None,
    "device": torch.cuda.get_device_name() if cuda else "cpu",
    "flash_sdp_available": bool(cuda and torch.backends.cuda.is_flash_attention_available()),
    "bf16_supported": bool(cuda and torch.cuda.is_bf16_supported()),
}))
PY
  # shellcheck disable=SC2086  # TRAIN_BATCHES is two numbers
  run "$TRAIN_LIMIT" benchmarks/pretrain_cost.py --model "$MODEL" --device "$DEVICE" --dtype bf16 --attn sdpa \
    --batch-sizes $TRAIN_BATCHES --repeats "$TRAIN_REPEATS"
  run "$INFER_LIMIT" benchmarks/inference.py --model "$MODEL" --device "$DEVICE" --dtype bf16 --attn sdpa \
    --batch-size "$INFER_BATCH" --repeats "$INFER_REPEATS"
  run "$FSDP_LIMIT" benchmarks/distributed_memory.py --models "$FSDP_MODEL" --strategies fsdp --device "$DEVICE" \
    --processes "$FSDP_PROCESSES" --batch "$FSDP_BATCH" --steps "$FSDP_STEPS" --mixed-precision bf16
} | tee "${JSONL:-/dev/null}"

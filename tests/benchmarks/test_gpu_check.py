"""`benchmarks/gpu_check.sh`: the dry run (tiny preset on the CPU) goes end to end, so the GPU check cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.sh"


def run_check(*args: str, out: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}
    env.pop("OUT", None)
    if out is not None:
        env["OUT"] = str(out)
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=2400)


def test_dry_run_prints_and_writes_one_json_line_per_benchmark(tmp_path):
    done = run_check("--dry-run", out=tmp_path / "out")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    lines = done.stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["benchmark"] for r in records] == ["environment", "pretrain_cost", "inference", "distributed_memory"]
    assert (tmp_path / "out" / "gpu_check.jsonl").read_text().splitlines() == lines
    assert "pretrain_cost.py --model tiny" in (tmp_path / "out" / "gpu_check.log").read_text()

    pretrain, inference = records[1], records[2]
    assert (pretrain["model"], pretrain["dtype"], pretrain["attention"]["device"]) == ("tiny", "bf16", "cpu")
    assert sorted(pretrain["results"]) == ["arvideo-chunked-ckpt/sdpa", "arvideo-chunked/sdpa", "arvideo/sdpa",
                                           "videomae/sdpa"]
    for name, entry in pretrain["results"].items():
        assert entry["clips_per_s"] > 0 and entry["gflop_per_s"] > 0, name
        assert entry["time_per_gflop_ratio_vs_videomae_best"] > 0 and entry["memory_vs_floor"] > 0, name
    assert pretrain["headline"]["videomae/sdpa"]["time_per_gflop"] == 1.0
    assert (inference["model"], inference["dtype"]) == ("tiny", "bf16")
    assert inference["results"]["sdpa"]["arvideo_clips_per_s"] > 0
    (fsdp,) = records[3]["rows"]  # the FSDP configuration, through the shipped accelerate config
    assert (fsdp["model"], fsdp["strategy"], fsdp["mixed_precision"], fsdp["processes"]) == ("tiny", "fsdp", "bf16", 2)
    assert fsdp["clips_per_s"] > 0 and fsdp["states_vs_arithmetic"] == pytest.approx(1, abs=0.01)


def test_the_real_check_refuses_to_run_without_a_gpu(tmp_path):
    done = run_check(out=tmp_path)
    assert done.returncode != 0 and "no CUDA device" in done.stderr
    assert run_check("--bogus").returncode == 2

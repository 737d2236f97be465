"""`arvideo-data prepare`: re-encoding a list of generated 720p clips, with a corrupt one, a missing one and a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from arvideo_hf.data.__main__ import main
from arvideo_hf.data.demo_dataset import write_video
from arvideo_hf.data.prepare import PrepareJob, PrepareOptions, output_size, prepare_video


HEIGHT, WIDTH, FRAMES, SHORT = 720, 1280, 16, 72


def smooth_clip(num_frames: int, height: int, width: int, seed: int) -> np.ndarray:
    """A moving color pattern: cheap to encode at 720p, unlike noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        for c in range(3):
            wave = np.sin((x * (c + 1) + 9 * t + 40 * seed) / 97.0) * np.cos((y * (c + 2) - 5 * t) / 61.0)
            frames[t, ..., c] = (127 + 120 * wave).astype(np.uint8)
    return frames


def probe(path: Path) -> tuple[int, int, int, float]:
    """Frames actually decoded, height, width and average fps of a video."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, stream.codec_context.height, stream.codec_context.width, float(stream.average_rate)


@pytest.fixture(scope="module")
def hires(tmp_path_factory) -> Path:
    """clip_{0..3}.mp4: 16 frames of 1280x720 at 25 fps in class folders; cls1/corrupt.mp4: half of a clip."""
    root = tmp_path_factory.mktemp("hires")
    for i in range(4):
        (root / f"cls{i % 2}").mkdir(exist_ok=True)
        write_video(root / f"cls{i % 2}" / f"clip_{i}.mp4", smooth_clip(FRAMES, HEIGHT, WIDTH, seed=i))
    data = (root / "cls0" / "clip_0.mp4").read_bytes()
    (root / "cls1" / "corrupt.mp4").write_bytes(data[: len(data) // 2])  # moov atom at the end: unreadable
    return root


def write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def test_output_size_scales_the_short_side_keeps_the_aspect_and_never_upscales():
    assert output_size(720, 1280, 320) == (320, 568)
    assert output_size(1280, 720, 320) == (568, 320)  # portrait
    assert output_size(240, 427, 320) == (240, 428)  # smaller than the target: only made even
    assert output_size(1080, 1920, 256) == (256, 456)


def test_prepare_rescales_keeps_fps_and_labels_and_reports_bad_inputs(hires, tmp_path, capsys):
    lines = ["cls0/clip_0.mp4 0", "cls1/clip_1.mp4 1", "cls1/corrupt.mp4 1", "cls0/clip_2.mp4 0", "nowhere.mp4 1"]
    listing = write_list(tmp_path / "train.txt", lines)
    out = tmp_path / "out"
    args = ["prepare", str(listing), "--root", str(hires), "--out", str(out), "--short-side", str(SHORT)]
    assert main(args + ["--workers", "2", "--quiet"]) == 0
    assert "prepared 3, reused 0, failed 2 of 5 records" in capsys.readouterr().out
    kept = ["cls0/clip_0.mp4 0", "cls1/clip_1.mp4 1", "cls0/clip_2.mp4 0"]
    assert (out / "train.txt").read_text().splitlines() == kept
    for name in ("cls0/clip_0.mp4", "cls1/clip_1.mp4", "cls0/clip_2.mp4"):
        assert probe(out / name) == (FRAMES, SHORT, 128, 25.0)
    report = json.loads((out / "train.prepare-report.json").read_text())
    assert (report["records"], report["prepared"], report["reused"], report["failed"]) == (5, 3, 0, 2)
    failed = {Path(f["path"]).name: f["error"] for f in report["failed_files"]}
    assert set(failed) == {"corrupt.mp4", "nowhere.mp4"} and "FileNotFoundError" in failed["nowhere.mp4"]
    assert not list(out.rglob("*.part")) and not (out / "cls1" / "corrupt.mp4").exists()

    assert main(args + ["--workers", "0", "--quiet"]) == 0  # a second run redoes nothing
    assert "prepared 0, reused 3, failed 2 of 5 records" in capsys.readouterr().out


def test_prepare_resamples_to_the_requested_fps(hires, tmp_path):
    job = PrepareJob(str(hires / "cls0" / "clip_0.mp4"), str(tmp_path / "half.mp4"))
    result = prepare_video(job, PrepareOptions(short_side=SHORT, fps=12.5))
    assert (result.status, result.frames) == ("prepared", FRAMES // 2)
    assert probe(tmp_path / "half.mp4") == (FRAMES // 2, SHORT, 128, 12.5)


def test_prepare_refuses_clashing_outputs_and_overwriting_its_input_list(hires, tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"")
    (tmp_path / "a.webm").write_bytes(b"")
    clash = write_list(tmp_path / "clash.txt", ["a.mp4", "a.webm"])
    assert main(["prepare", str(clash), "--root", str(tmp_path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert main(["prepare", str(clash), "--root", str(tmp_path), "--out", str(tmp_path), "--quiet"]) == 2
    assert not (tmp_path / "out").exists()


def test_prepare_resumes_after_a_kill(hires, tmp_path, capsys):
    """Kill a 2-worker run (the whole process group) mid-way; the rerun keeps finished outputs and redoes the rest."""
    videos = tmp_path / "videos"
    videos.mkdir()
    good = [f"v{i:02d}.mp4" for i in range(24)]  # long enough that the kill lands mid-run on a fast machine
    for i, name in enumerate(good):
        os.link(hires / f"cls{i % 2}" / f"clip_{i % 4}.mp4", videos / name)
    os.link(hires / "cls1" / "corrupt.mp4", videos / "corrupt.mp4")
    names = good[:4] + ["corrupt.mp4"] + good[4:]
    listing = write_list(tmp_path / "all.txt", [f"{name} {i % 3}" for i, name in enumerate(names)])
    out = tmp_path / "out"
    args = ["prepare", str(listing), "--root", str(videos), "--out", str(out), "--short-side", str(SHORT), "--quiet"]
    killed = subprocess.Popen([sys.executable, "-m", "arvideo_hf.data", *args, "--workers", "2"],
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while killed.poll() is None and time.monotonic() < deadline:
        if list(out.glob("v*.mp4")) and list(out.glob("*.part")):
            break
        time.sleep(0.005)
    assert killed.poll() is None, "the run ended before it could be killed"
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()

    finished = {path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in out.glob("v*.mp4")}
    assert 0 < len(finished) < len(good) and not (out / "all.txt").exists()
    left = sorted(set(good) - set(finished))
    (out / f"{left[0]}.999999.part").write_bytes(b"\0" * 1000)  # a half-written copy from some other killed run
    assert main(args + ["--workers", "0"]) == 0
    assert f"prepared {len(left)}, reused {len(finished)}, failed 1 of {len(names)} records" in capsys.readouterr().out
    kept = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("v*.mp4") if p.name in finished}
    assert kept == finished  # never redone
    assert not list(out.glob("*.part"))
    for name in good:
        assert probe(out / name) == (FRAMES, SHORT, 128, 25.0)
    expected = [f"{name} {i % 3}" for i, name in enumerate(names) if name != "corrupt.mp4"]
    assert (out / "all.txt").read_text().splitlines() == expected

import json
import subprocess
import sys

from arvideo_hf.data.__main__ import main


def write_list(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_check_passes_on_a_clean_list(video_dir, tmp_path, capsys):
    listing = write_list(tmp_path / "ok.txt", ["good_0.mp4 0", "good_1.mp4 1", "short.mp4 1"])
    assert main(["check", str(listing), "--root", str(video_dir), "--num-workers", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] == 3 and report["bad_files"] == [] and report["bad_lines"] == []
    assert report["frames"] == {"min": 5, "median": 40.0, "max": 40}
    assert report["resolutions"] == {"64x48": 3} and report["classes"] == 2


def test_check_fails_on_bad_files_lines_and_short_videos(video_dir, tmp_path, capsys):
    bad_files = write_list(tmp_path / "files.txt", ["good_0.mp4", "partial.mp4", "missing.mp4"])
    assert main(["check", str(bad_files), "--root", str(video_dir), "--num-workers", "0"]) == 1
    out = capsys.readouterr().out
    assert "decodable:   1 / 3" in out and "missing.mp4: file not found" in out and "partial.mp4" in out
    bad_line = write_list(tmp_path / "lines.txt", ["good_0.mp4 0", "good_1.mp4 zero"])
    assert main(["check", str(bad_line), "--root", str(video_dir), "--num-workers", "0"]) == 1
    assert "lines.txt:2" in capsys.readouterr().out
    short = write_list(tmp_path / "short.txt", ["good_0.mp4 0", "short.mp4 0"])
    assert main(["check", str(short), "--root", str(video_dir), "--num-workers", "0", "--min-frames", "16"]) == 1
    assert main(["check", str(tmp_path / "nope.txt"), "--num-workers", "0"]) == 2


def test_check_with_worker_processes(video_dir, tmp_path, capsys):
    listing = write_list(tmp_path / "mixed.txt", [f"good_{i}.mp4 {i}" for i in range(4)] + ["garbage.mp4 0"])
    assert main(["check", str(listing), "--root", str(video_dir), "--num-workers", "2", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] == 4 and [f["path"].rsplit("/", 1)[1] for f in report["bad_files"]] == ["garbage.mp4"]


def test_build_demo_then_check_it_through_the_module_entry_point(tmp_path, capsys):
    root = tmp_path / "demo"
    assert main(["build-demo", "--root", str(root), "--seed", "1", "--num-train", "6", "--num-test", "0",
                 "--num-unlabeled", "6"]) == 0
    assert capsys.readouterr().out.strip() == str(root)
    assert len((root / "train.txt").read_text().splitlines()) == 6
    checked = subprocess.run(
        [sys.executable, "-m", "arvideo_hf.data", "check", str(root / "train.txt"), "--root", str(root), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "decodable:   6 / 6" in checked.stdout and "32x32: 6" in checked.stdout

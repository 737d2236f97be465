"""Command line: `arvideo-data check LIST`, `prepare LIST --out DIR`, `build-demo`, `build-hard` and `frame-check DIR`.

`check` reads a Kinetics-style list, opens every video with the same decoding path the datasets
use, decodes its first, middle and last frame (every frame with `--full`), and reports bad lines,
bad files, frame counts and resolutions. The exit status is 1 when anything is bad, so it can gate
a training job.

`prepare` re-encodes every video of a list once to a short side (H.264, see `arvideo_hf.data.prepare`) and writes a
new list pointing at the outputs; run it again after an interruption and it picks up where it stopped.
"""

from __future__ import annotations

import argparse
import codecs
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from .decoding import FileCheck, check_video, video_worker_pool
from .sources import VideoRecord, read_kinetics_list


logger = logging.getLogger("arvideo_hf.data")


def _check_all(paths: Sequence[str], full: bool, num_workers: int) -> Iterator[FileCheck]:
    if num_workers <= 0:
        yield from (check_video(path, full) for path in paths)
        return
    with video_worker_pool(num_workers) as pool:
        yield from pool.map(check_video, paths, [full] * len(paths), chunksize=8)


def run_check(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm  # noqa: PLC0415 - optional dependency

    labels = {"auto": None, "yes": True, "no": False}[args.labels]
    source = read_kinetics_list(args.list, args.root, labels=labels, allow_outside_root=args.allow_outside_root)
    paths = list(dict.fromkeys(record.path for record in source.records))  # each file checked once
    checks = list(
        tqdm(_check_all(paths, args.full, args.num_workers), total=len(paths), desc="checking", unit="video",
             disable=args.quiet or None)
    )
    good = [check for check in checks if check.ok]
    bad = [check for check in checks if not check.ok]
    short = [check for check in good if check.num_frames < args.min_frames]
    frame_counts = np.array([check.num_frames for check in good], dtype=np.int64)
    resolutions = Counter(f"{check.width}x{check.height}" for check in good)
    labels_seen = Counter(record.label for record in source.records if record.label is not None)
    summary = {
        "list": os.fspath(args.list),
        "root": None if args.root is None else os.fspath(args.root),
        "records": len(source.records),
        "files": len(paths),
        "bad_lines": [str(line) for line in source.bad_lines],
        "ok": len(good),
        "bad_files": [asdict(check) for check in bad],
        "short_files": [asdict(check) for check in short],
        "frames": None if not len(frame_counts) else {
            "min": int(frame_counts.min()), "median": float(np.median(frame_counts)), "max": int(frame_counts.max()),
        },
        "resolutions": dict(resolutions.most_common()),
        "classes": len(labels_seen),
        **list_problems(args.list, source.records),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_report(summary, args.min_frames)
    listed_badly = not source.records or summary["duplicate_rows"] or summary["conflicting_labels"]
    return 1 if source.bad_lines or bad or short or listed_badly else 0


def list_problems(list_file: str | os.PathLike, records: Sequence[VideoRecord]) -> dict[str, Any]:
    """What is wrong with a list beyond its lines: a byte order mark (tools that read it as plain UTF-8 see an
    invisible character in the first path), rows listed more than once, and videos listed with different labels."""
    with open(list_file, "rb") as handle:
        bom = handle.read(3) == codecs.BOM_UTF8
    rows = Counter((record.path, record.label) for record in records)
    labels: dict[str, set] = {}
    for record in records:
        labels.setdefault(record.path, set()).add(record.label)
    return {
        "utf8_bom": bom,
        "duplicate_rows": [{"path": path, "label": label, "count": count}
                           for (path, label), count in rows.items() if count > 1],
        "conflicting_labels": {path: sorted(found) for path, found in labels.items() if len(found) > 1},
    }


def _print_report(summary: dict, min_frames: int) -> None:
    print(f"list:        {summary['list']}" + (f" (root {summary['root']})" if summary["root"] else ""))
    print(f"records:     {summary['records']} ({summary['classes']} classes)")
    if not summary["records"]:
        print("EMPTY LIST: no video to use (blank lines and # comments only, or every line bad)")
    if summary["utf8_bom"]:
        print("utf-8 BOM:   the file starts with a byte order mark (read correctly here; other tools may see an "
              "invisible character in the first path; save the file as UTF-8 without BOM)")
    print(f"bad lines:   {len(summary['bad_lines'])}")
    for line in summary["bad_lines"][:20]:
        print(f"  {line}")
    print(f"duplicate rows: {len(summary['duplicate_rows'])}")
    for row in summary["duplicate_rows"][:20]:
        print(f"  {row['path']} (label {row['label']}): {row['count']} times")
    print(f"videos with conflicting labels: {len(summary['conflicting_labels'])}")
    for path, found in list(summary["conflicting_labels"].items())[:20]:
        print(f"  {path}: labels {found}")
    print(f"decodable:   {summary['ok']} / {summary['files']} files")
    if summary["frames"]:
        frames = summary["frames"]
        print(f"frames:      min {frames['min']}  median {frames['median']:g}  max {frames['max']}")
    print("resolutions (WxH: videos):")
    for resolution, count in list(summary["resolutions"].items())[:15]:
        print(f"  {resolution}: {count}")
    if len(summary["resolutions"]) > 15:
        print(f"  ... {len(summary['resolutions']) - 15} more")
    print(f"bad files:   {len(summary['bad_files'])}")
    for check in summary["bad_files"][:20]:
        print(f"  {check['path']}: {check['error']}")
    if min_frames:
        print(f"shorter than {min_frames} frames: {len(summary['short_files'])}")
        for check in summary["short_files"][:20]:
            print(f"  {check['path']}: {check['num_frames']} frames")


def run_prepare(args: argparse.Namespace) -> int:
    """Re-encode the list, print the summary; exit status 1 when nothing at all could be prepared."""
    from .prepare import PrepareOptions, prepare_list  # noqa: PLC0415 - needs PyAV and tqdm (the train extra)

    options = PrepareOptions(args.short_side, args.fps, args.crf, args.preset, args.threads)
    labels = {"auto": None, "yes": True, "no": False}[args.labels]
    summary = prepare_list(args.list, args.out, args.root, options, workers=args.workers, labels=labels,
                           out_list=args.out_list, report=args.report, quiet=args.quiet,
                           allow_outside_root=args.allow_outside_root)
    print(f"prepared {summary.prepared}, reused {summary.reused}, failed {summary.failed} of {summary.records} "
          f"records ({len(summary.bad_lines)} bad lines); list: {summary.out_list}")
    for failure in summary.failed_files[:20]:
        print(f"  {failure['path']}: {failure['error']}")
    return 1 if summary.records and not summary.prepared + summary.reused else 0


def run_build_demo(args: argparse.Namespace) -> int:
    from .demo_dataset import build_demo_dataset  # noqa: PLC0415 - needs the optional demo dependencies

    root = build_demo_dataset(args.root, seed=args.seed, num_train=args.num_train, num_test=args.num_test,
                              num_unlabeled=args.num_unlabeled, force=args.force)
    print(root)
    return 0


def run_build_hard(args: argparse.Namespace) -> int:
    from .hard_dataset import build_hard_dataset  # noqa: PLC0415 - needs the optional demo dependencies

    root = build_hard_dataset(args.root, seed=args.seed, num_train=args.num_train, num_test=args.num_test,
                              num_unlabeled=args.num_unlabeled, force=args.force)
    print(root)
    return 0


def run_frame_check(args: argparse.Namespace) -> int:
    from .frame_check import frame_check  # noqa: PLC0415 - trains a small classifier with torch

    result = frame_check(args.root, epochs=args.epochs, seed=args.seed, frames_per_video=args.frames_per_video,
                         max_train_videos=args.max_train_videos)
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arvideo-data", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="validate a `path label` list file and its videos")
    check.add_argument("list", help="list file: one `path [label]` per line")
    check.add_argument("--root", default=None, help="directory the list's paths are relative to")
    check.add_argument("--labels", choices=("auto", "yes", "no"), default="auto",
                       help="whether lines carry labels (auto: decided by the first line)")
    check.add_argument("--full", action="store_true", help="decode every frame, not just first/middle/last")
    check.add_argument("--min-frames", type=int, default=0, help="also fail on videos with fewer frames")
    check.add_argument("--num-workers", type=int, default=min(8, os.cpu_count() or 1),
                       help="decoding processes (0: in this process)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--allow-outside-root", action="store_true",
                       help="accept entries that resolve outside --root (../, absolute paths)")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(run=run_check)

    prepare = commands.add_parser("prepare", help="re-encode a list's videos to a short side (resumable)")
    prepare.add_argument("list", help="list file: one `path [label]` per line")
    prepare.add_argument("--root", default=None, help="directory the list's paths are relative to")
    prepare.add_argument("--out", required=True, help="output directory (the input tree is mirrored below it)")
    prepare.add_argument("--short-side", type=int, default=320, help="short side in pixels (never upscaled)")
    prepare.add_argument("--fps", type=float, default=None, help="output frame rate (default: keep the input's)")
    prepare.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (0: in this process)")
    prepare.add_argument("--threads", type=int, default=1, help="decoder/encoder threads per video")
    prepare.add_argument("--crf", type=int, default=23, help="x264 constant rate factor (lower: better, larger)")
    prepare.add_argument("--preset", default="fast", help="x264 preset (ultrafast ... veryslow)")
    prepare.add_argument("--labels", choices=("auto", "yes", "no"), default="auto",
                         help="whether lines carry labels (auto: decided by the first line); kept in the new list")
    prepare.add_argument("--out-list", default=None, help="new list file (default: OUT/<list name>)")
    prepare.add_argument("--report", default=None, help="JSON report (default: OUT/<list stem>.prepare-report.json)")
    prepare.add_argument("--quiet", action="store_true", help="no progress bar")
    prepare.add_argument("--allow-outside-root", action="store_true",
                         help="accept entries that resolve outside --root (mirrored by absolute path under --out)")
    prepare.set_defaults(run=run_prepare)

    demo = commands.add_parser("build-demo", help="build the embedded demo dataset (no download)")
    demo.add_argument("--root", default=None, help="output directory (default: $ARVIDEO_DEMO_DIR or the cache)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--num-train", type=int, default=1200)
    demo.add_argument("--num-test", type=int, default=300)
    demo.add_argument("--num-unlabeled", type=int, default=2400)
    demo.add_argument("--force", action="store_true", help="rebuild even if a finished build exists")
    demo.set_defaults(run=run_build_demo)

    hard = commands.add_parser("build-hard", help="build the hard set: natural scenes, motion labels (no download)")
    hard.add_argument("--root", default=None, help="output directory (default: $ARVIDEO_HARD_DIR or the cache)")
    hard.add_argument("--seed", type=int, default=0)
    hard.add_argument("--num-train", type=int, default=2400)
    hard.add_argument("--num-test", type=int, default=600)
    hard.add_argument("--num-unlabeled", type=int, default=4000)
    hard.add_argument("--force", action="store_true", help="rebuild even if a finished build exists")
    hard.set_defaults(run=run_build_hard)

    frames = commands.add_parser("frame-check", help="can one frame tell a set's classes apart? (a per-frame CNN "
                                 "against a two-frame one, on train.txt/test.txt)")
    frames.add_argument("root", help="a dataset folder with train.txt, test.txt and labels.txt")
    frames.add_argument("--epochs", type=int, default=15)
    frames.add_argument("--frames-per-video", type=int, default=4)
    frames.add_argument("--max-train-videos", type=int, default=None, help="train on the first N (default: all)")
    frames.add_argument("--seed", type=int, default=0)
    frames.add_argument("--output", default=None, help="also write the JSON result here")
    frames.set_defaults(run=run_frame_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `arvideo-data` and `python -m arvideo_hf.data`; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except (OSError, ValueError) as err:  # unreadable list file, malformed annotations
        logger.error("%s", err)
        return 2


if __name__ == "__main__":
    sys.exit(main())

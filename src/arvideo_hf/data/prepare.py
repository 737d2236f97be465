"""Re-encode a video list once to a short side (VideoMAE's Kinetics preparation), so the loader decodes small files.

Decoding a 720p source costs a loader worker hundreds of milliseconds per clip, while the model only ever sees
224x224 crops. `prepare_list` re-encodes every video of a Kinetics-style list with PyAV to H.264 at a given short side
(never upscaled; the frame rate kept unless one is asked for), in a process pool with a progress bar, and writes a new
list pointing at the outputs with the labels kept. It is resumable: each output is written under a temporary name and
renamed when complete, so a finished output is never redone and a half-written one (a killed run) is. Inputs that
cannot be read are skipped, counted and listed in a JSON report.

    python -m arvideo_hf.data prepare k400/train.txt --root k400/videos --out k400_320 --short-side 320
    # then train on k400_320/train.txt with --root k400_320
"""

from __future__ import annotations

import glob
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, as_completed, wait
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from tqdm.auto import tqdm

from ..locking import OutputLock
from .decoding import video_worker_pool
from .sources import BadLine, VideoRecord, read_kinetics_list


__all__ = ["PrepareJob", "PrepareOptions", "PrepareResult", "PrepareSummary", "output_size", "prepare_list",
           "prepare_video"]

PART_SUFFIX = ".part"
OPTIONS_FILE = ".prepare-options.json"  # the options every output under --out was made with
OPTIONS_TAG = "arvideo_hf.prepare "  # each output's own record (mp4 comment): these options, as JSON


@dataclass(frozen=True)
class PrepareOptions:
    """How to re-encode: short side in pixels, output fps (None: keep), x264 quality and speed, threads per video."""

    short_side: int = 320
    fps: float | None = None
    crf: int = 23
    preset: str = "fast"
    threads: int = 1


@dataclass(frozen=True)
class PrepareJob:
    """One input video and where its re-encoded copy goes."""

    source: str
    output: str


@dataclass(frozen=True)
class PrepareResult:
    """The outcome of one job: `status` is "prepared", "reused" (finished earlier) or "failed" (with `error`)."""

    source: str
    output: str
    status: str
    frames: int = 0
    error: str = ""


@dataclass
class PrepareSummary:
    """Counts and failures of a whole list, as written to the report file."""

    list: str
    out: str
    out_list: str
    records: int
    prepared: int
    reused: int
    failed: int
    options: dict
    failed_files: list[dict] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)


def output_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """`(height, width)` with the shorter side scaled to `short_side` (never up), aspect kept, both even for yuv420p."""
    scale = min(1.0, short_side / min(height, width))
    return _even(height * scale), _even(width * scale)


def _even(size: float) -> int:
    return max(2, int(round(size / 2)) * 2)


def output_name(path: str, root: str | os.PathLike | None) -> Path:
    """The output's path below OUT: the input's path below `root` (else the cwd) with suffix `.mp4`."""
    relative = os.path.relpath(path, root if root is not None else os.getcwd())
    if relative.startswith(os.pardir):  # outside root: mirror the absolute path
        relative = os.path.abspath(path).lstrip(os.sep)
    return Path(relative).with_suffix(".mp4")


def plan_jobs(records: Sequence[VideoRecord], root: str | os.PathLike | None, out: Path) -> list[PrepareJob]:
    """One job per distinct input, in list order; raise `ValueError` when two inputs would share an output."""
    jobs = {record.path: PrepareJob(record.path, str(out / output_name(record.path, root))) for record in records}
    clashes = [name for name, count in Counter(job.output for job in jobs.values()).items() if count > 1]
    if clashes:
        raise ValueError(f"{len(clashes)} outputs would be written by more than one input, e.g. {clashes[0]} "
                         "(same path with different extensions); rename the inputs")
    return list(jobs.values())


def resample(frames: Iterable[av.VideoFrame], rate: Fraction, source_rate: Fraction) -> Iterator[av.VideoFrame]:
    """Drop or repeat decoded frames so that output frame k is the input frame on screen at time k / rate."""
    slot, previous, start, last = 0, None, 0.0, 0.0
    for index, frame in enumerate(frames):
        time = frame.time if frame.time is not None else float(index / source_rate)
        start = time if previous is None else start
        while previous is not None and slot / rate < time - start - 1e-6:
            yield previous
            slot += 1
        previous, last = frame, time
    end = last - start + 1 / float(source_rate)
    while previous is not None and slot / rate < end - 1e-6:
        yield previous
        slot += 1


def reencode(source: str, target: Path, options: PrepareOptions) -> int:
    """Decode `source`, scale it to the short side (and resample the fps), encode H.264 mp4 into `target`."""
    with av.open(source) as container:
        if not container.streams.video:
            kinds = sorted({stream.type for stream in container.streams}) or ["no streams"]
            raise ValueError(f"no video stream (it holds {', '.join(kinds)}): not a video; remove it from the list")
        return _reencode(container, target, options)


def _reencode(container: Any, target: Path, options: PrepareOptions) -> int:
    with av.open(str(target), "w", format="mp4") as output:
        output.metadata["comment"] = OPTIONS_TAG + json.dumps(asdict(options), sort_keys=True)
        stream = container.streams.video[0]
        stream.thread_type, stream.codec_context.thread_count = "AUTO", options.threads
        source_rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        rate = Fraction(str(options.fps)) if options.fps else source_rate
        height, width = output_size(stream.codec_context.height, stream.codec_context.width, options.short_side)
        encoder = output.add_stream("libx264", rate=rate)
        encoder.height, encoder.width, encoder.pix_fmt = height, width, "yuv420p"
        encoder.options = {"crf": str(options.crf), "preset": options.preset, "threads": str(options.threads)}
        frames = container.decode(stream)
        count = 0
        for count, frame in enumerate(resample(frames, rate, source_rate) if options.fps else frames, start=1):
            image = frame.reformat(width=width, height=height, format="yuv420p", interpolation="AREA")
            image.pts, image.time_base = count - 1, 1 / rate
            output.mux(encoder.encode(image))
        output.mux(encoder.encode())
    if count == 0:
        raise ValueError("no frames decoded")
    return count


def prepare_video(job: PrepareJob, options: PrepareOptions) -> PrepareResult:
    """Re-encode one video under a temporary name and rename it when complete; a finished output is kept."""
    output = Path(job.output)
    if output.exists():
        return PrepareResult(job.source, job.output, "reused")
    output.parent.mkdir(parents=True, exist_ok=True)
    _remove_parts(output)
    part = output.with_name(f"{output.name}.{os.getpid()}{PART_SUFFIX}")
    try:
        frames = reencode(job.source, part, options)
        _publish(part, output)
    except (av.FFmpegError, OSError, ValueError, IndexError) as err:  # unreadable, corrupt, no video stream
        part.unlink(missing_ok=True)
        return PrepareResult(job.source, job.output, "failed", error=f"{type(err).__name__}: {err}")
    return PrepareResult(job.source, job.output, "prepared", frames)


def _remove_parts(output: Path) -> None:
    """Delete half-written copies of `output` left by a killed run (any process id)."""
    for part in output.parent.glob(f"{glob.escape(output.name)}.*{PART_SUFFIX}"):  # names may hold [ or *
        part.unlink(missing_ok=True)


def _publish(part: Path, output: Path) -> None:
    """Flush `part` to disk, then rename it to `output` (atomic), so `output` only ever exists complete."""
    with open(part, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(part, output)


def run_jobs(jobs: Sequence[PrepareJob], options: PrepareOptions, workers: int, quiet: bool) -> list[PrepareResult]:
    """All jobs over a process pool (`workers` 0: in this process) behind a tqdm bar; results in job order."""
    results = {job.source: PrepareResult(job.source, job.output, "reused")
               for job in jobs if os.path.exists(job.output)}
    todo = [job for job in jobs if job.source not in results]  # a resumed run sends only the rest to the pool
    failed = 0
    with tqdm(total=len(jobs), initial=len(results), desc="preparing", unit="video", disable=quiet or None) as bar:
        for result in _results(todo, options, workers):
            results[result.source] = result
            failed += result.status == "failed"
            bar.update()
            bar.set_postfix(failed=failed, refresh=False)
    return [results[job.source] for job in jobs]


def _results(jobs: Sequence[PrepareJob], options: PrepareOptions, workers: int) -> Iterator[PrepareResult]:
    """Results as they complete, with at most 4 jobs per worker in flight (a Kinetics list has 240k videos)."""
    if workers <= 0:
        yield from (prepare_video(job, options) for job in jobs)
        return
    with video_worker_pool(workers) as pool:
        pending: set[Future] = set()
        for job in jobs:
            if len(pending) >= 4 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
            pending.add(pool.submit(prepare_video, job, options))
        yield from (future.result() for future in as_completed(pending))


def write_list(path: Path, records: Sequence[VideoRecord], results: Sequence[PrepareResult], out: Path) -> None:
    """The new list: one `output [label]` line (relative to `out`) per record whose video was prepared."""
    done = {result.source: result.output for result in results if result.status != "failed"}
    lines = [" ".join([os.path.relpath(done[record.path], out)] + ([] if record.label is None else [str(record.label)]))
             for record in records if record.path in done]
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def summarize(list_file: str, out: Path, out_list: Path, records: int, results: Sequence[PrepareResult],
              options: PrepareOptions, bad_lines: Sequence[BadLine]) -> PrepareSummary:
    """Counts per status, the failed files with their errors and the list's bad lines."""
    counts = Counter(result.status for result in results)
    failed = [{"path": r.source, "error": r.error} for r in results if r.status == "failed"]
    return PrepareSummary(list_file, str(out), str(out_list), records, counts["prepared"], counts["reused"],
                          counts["failed"], asdict(options), failed, [str(line) for line in bad_lines])


def prepare_list(
    list_file: str | os.PathLike,
    out: str | os.PathLike,
    root: str | os.PathLike | None = None,
    options: PrepareOptions = PrepareOptions(),
    *,
    workers: int = 0,
    labels: bool | None = None,
    out_list: str | os.PathLike | None = None,
    report: str | os.PathLike | None = None,
    quiet: bool = False,
    allow_outside_root: bool = False,
) -> PrepareSummary:
    """Re-encode every video of a list into `out`; write the new list (default `out/<list name>`) and a JSON report."""
    out = Path(out)
    check_out_folder(out, root)
    with OutputLock(out, "prepare"):  # one writer per output folder
        return _prepare_locked(list_file, out, root, options, workers, labels, out_list, report, quiet,
                               allow_outside_root)


def check_out_folder(out: Path, root: str | os.PathLike | None) -> None:
    """Refuse an `--out` equal to or inside `--root`: outputs would land on (or among) the inputs."""
    if root is None:
        return
    out_resolved, root_resolved = out.resolve(), Path(root).resolve()
    if out_resolved == root_resolved or root_resolved in out_resolved.parents:
        raise ValueError(f"--out {out} is {'--root' if out_resolved == root_resolved else 'inside --root'} {root}: "
                         "the re-encoded copies would replace or mix with the inputs. Pass an --out outside --root.")


def record_options(out: Path, options: PrepareOptions) -> None:
    """Write the options of `out`'s outputs, or refuse when it holds outputs made with other (or unknown) ones."""
    path = out / OPTIONS_FILE
    wanted = {name: value for name, value in asdict(options).items() if name != "threads"}  # speed, not output
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved != wanted:
            changed = {name: (saved.get(name), value) for name, value in wanted.items() if saved.get(name) != value}
            raise ValueError(f"--out {out} holds videos prepared with other options; (saved, now): {changed}. "
                             "Prepare into another --out, or re-run with the saved options.")
        return
    if any(out.rglob("*.mp4")):
        raise ValueError(f"--out {out} already holds videos, prepared with unknown options (no {OPTIONS_FILE}); "
                         "prepare into another (new or empty) --out.")
    path.write_text(json.dumps(wanted, indent=2, sort_keys=True) + "\n")


def _prepare_locked(list_file: str | os.PathLike, out: Path, root: str | os.PathLike | None,
                    options: PrepareOptions, workers: int, labels: bool | None,
                    out_list: str | os.PathLike | None, report: str | os.PathLike | None,
                    quiet: bool, allow_outside_root: bool) -> PrepareSummary:
    out_list = Path(out_list) if out_list is not None else out / Path(list_file).name
    report = Path(report) if report is not None else out / f"{Path(list_file).stem}.prepare-report.json"
    if out_list.resolve() == Path(list_file).resolve():
        raise ValueError(f"the new list would overwrite the input list {list_file}; pass another --out or --out-list")
    source = read_kinetics_list(list_file, root, labels=labels, allow_outside_root=allow_outside_root)
    jobs = plan_jobs(source.records, root, out)
    out.mkdir(parents=True, exist_ok=True)
    record_options(out, options)
    results = run_jobs(jobs, options, workers, quiet)
    write_list(out_list, source.records, results, out)
    summary = summarize(os.fspath(list_file), out, out_list, len(source.records), results, options, source.bad_lines)
    report.write_text(json.dumps(asdict(summary), indent=2) + "\n", encoding="utf-8")
    return summary

# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""`python -m arvideo_hf.demo` (what `make demo` runs): does ARVideo pretraining pay off when labels are scarce?

On the embedded demo set (a 2400-clip unlabeled pool, 1200 labeled train clips, 300 test clips; built on first use):

1. pretrain ARVideo and, for the same number of optimizer steps, the VideoMAE baseline on the unlabeled pool
   (`--preset tiny --max_steps`: a step budget, so a loaded machine is slower but gets the same result);
2. finetune each encoder and a randomly initialized one on 10% of the labels (`examples/finetune.py --preset tiny`),
   and test with multi-view testing;
3. train an attentive and a linear probe on frozen features of each encoder, on all labels;
4. train the random-init model on all labels (the supervised reference: can this model learn the task at all?).

Steps 2-3 also score the zoo's `arvideo-tiny-pretrained` encoder (`--zoo_checkpoint`, default
`checkpoints/arvideo-tiny-pretrained`, pretrained once for a long step budget): what a zoo checkpoint buys in the same
minute of finetuning. A missing folder is said and its row left out.

It prints one table and writes `results.json`, `results.md` and every run's own folder under `--output_dir`, which it
overwrites (it says so). Steps 2-3 are the held-out protocol of `arvideo_hf.training.protocol`, which the study
(`examples/reproduce.py`) scores every ablation with. Under 10 minutes on 2 CPU cores with the defaults (README).
"""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..data import open_demo_dataset, read_kinetics_list
from ..environment import describe_machine
from ..locking import LOCK_NAME, OutputLock, check_deletable, claim_folder, delete_outputs
from ..models.configuration_arvideo import ARVideoConfig
from ..results import Result, write_readme_block
from ..training import parse_pretrain_args, run_pretraining
from ..training.arguments import DemoArguments, parse_demo_args
from ..training.pretrain import reset_accelerate_state
from ..training.protocol import HeldOutProtocol, finetune, probes, save_random_encoder
from ..zoo.entries import PretrainingRun
from ..zoo.pretrained import RUN_RECORD


logger = logging.getLogger(__name__)

ENCODERS = ("arvideo", "videomae", "random", "zoo")  # table order; "zoo" only when its checkpoint was there
NAMES = {"arvideo": "ARVideo-pretrained", "videomae": "VideoMAE-pretrained", "random": "random init",
         "zoo": "ARVideo zoo checkpoint"}


def pretrain(args: DemoArguments, method: str) -> Path:
    """Pretrain `method` on the unlabeled pool for `pretrain_steps` (or `pretrain_seconds`); its encoder folder."""
    output_dir = Path(args.output_dir) / f"pretrain-{method}"
    if not (args.skip_pretraining and (output_dir / "encoder" / "config.json").is_file()):
        shutil.rmtree(output_dir, ignore_errors=True)
        argv = ["--preset", "tiny", "--method", method, "--output_dir", str(output_dir),
                "--num_workers", str(args.num_workers)]
        if args.pretrain_seconds is not None:
            argv += ["--max_seconds", str(args.pretrain_seconds)]
        else:
            argv += ["--max_steps", str(args.pretrain_steps), "--save_steps", str(max(args.pretrain_steps // 2, 1))]
        if args.pretrain_batch_size:
            argv += ["--per_device_batch_size", str(args.pretrain_batch_size)]
        run_pretraining(parse_pretrain_args(argv + (["--demo_root", args.demo_root] if args.demo_root else [])))
        reset_accelerate_state()
    return output_dir / "encoder"


def zoo_encoder(args: DemoArguments) -> Path | None:
    """The zoo encoder folder to score beside the demo's own, or None: left out, or missing (which it says)."""
    if args.zoo_checkpoint.strip().lower() in ("", "none"):
        return None
    folder = Path(args.zoo_checkpoint)
    if not (folder / "config.json").is_file():
        print(f"No zoo checkpoint at {folder}: its row is skipped. Build it with `python -m arvideo_hf.zoo pretrained "
              f"RUN_DIR --out {folder}`, or pass --zoo_checkpoint none.")
        return None
    return folder


def _zoo_pretraining(folder: Path) -> dict[str, Any] | None:
    """Steps and wall seconds of the run that pretrained the zoo checkpoint, from its record (None: not recorded)."""
    path = folder / RUN_RECORD
    if not path.is_file():
        return None
    run = PretrainingRun.from_dict(json.loads(path.read_text()))
    return {"steps": run.steps, "wall_seconds": run.wall_seconds}


def protocol_for(args: DemoArguments, root: Path) -> HeldOutProtocol:
    """The held-out protocol on the demo set with the demo's knobs."""
    return HeldOutProtocol(root=root, output_dir=Path(args.output_dir), low_label_list=args.low_label_list,
                           finetune_epochs=args.finetune_epochs, probe_epochs=args.probe_epochs,
                           num_clips=args.num_clips, num_crops=args.num_crops, num_workers=args.num_workers)


@contextmanager
def claim_output_dir(output_dir: Path, keep: bool) -> Iterator[None]:
    """Lock `output_dir` for this run (one writer) and mark it as the demo's. A folder with contents must already be a
    demo run's, because the demo rewrites what it finds there: its earlier outputs are deleted first, unless `keep`
    (`--skip_pretraining` reuses the pretrained encoders). The lock is released when the block ends."""
    found = sorted(path for path in output_dir.iterdir() if path.name != LOCK_NAME) if output_dir.is_dir() else []
    check_deletable(output_dir, "demo", found, "--output_dir")  # only a demo run's folder, even to reuse it
    with OutputLock(output_dir, "demo"):  # taken before deleting: a live demo there keeps its files
        if found and not keep:
            print(f"Overwriting the previous demo run in {output_dir}.")
            delete_outputs(found)
        claim_folder(output_dir, "demo")
        yield


def run_demo(args: DemoArguments) -> dict[str, Any]:
    """All steps in `args.output_dir` (claimed by `claim_output_dir`); the results dictionary that `results.json`
    holds."""
    started = time.perf_counter()
    output_dir = Path(args.output_dir)
    root = open_demo_dataset(args.demo_root)
    encoders = {method: pretrain(args, method) for method in ("arvideo", "videomae")}
    encoders["random"] = save_random_encoder(ARVideoConfig.from_preset("tiny"), output_dir / "random-encoder")
    zoo = zoo_encoder(args)
    if zoo is not None:
        encoders["zoo"] = zoo
    protocol = protocol_for(args, root)
    rows = {name: score(protocol, encoders[name], name, args.seeds) for name in ENCODERS if name in encoders}
    supervised = finetune(protocol, encoders["random"], "random-all-labels", args.seeds[0], init="random",
                          train_list=protocol.train_list,
                          extra=["--num_train_epochs", f"{args.supervised_epochs:g}",
                                 "--per_device_train_batch_size", "32"])
    pretraining = {method: _pretraining_summary(encoders[method]) for method in ("arvideo", "videomae")}
    pretraining_seconds = sum(summary["wall_seconds"] for summary in pretraining.values())  # this run's own
    zoo_run = None if zoo is None else _zoo_pretraining(zoo)
    if zoo_run is not None:
        pretraining["zoo"] = zoo_run
    # The first ARVideo finetune is the zoo's arvideo-tiny-demo checkpoint: its eval_results.json, word for word.
    checkpoint = Result.read(Path(protocol.output_dir) / f"finetune-arvideo-seed{args.seeds[0]}")
    return {"rows": rows, "checkpoint_result": checkpoint.to_dict(), "supervised_all_labels": supervised,
            "pretraining": pretraining,
            "pretraining_seconds": round(pretraining_seconds),
            "wall_seconds": round(time.perf_counter() - started + args.skip_pretraining * pretraining_seconds),
            "machine": describe_machine(), "dataset": _dataset_sizes(protocol), "args": asdict(args),
            "command": "make demo"}


def score(protocol: HeldOutProtocol, encoder: Path, name: str, seeds: list[int]) -> dict[str, Any]:
    """One table row: the low-label finetunes of `encoder` (one per seed) and its attentive and linear probes."""
    init = "random" if name == "random" else "pretrained"  # random init: a fresh init per finetune seed
    runs = [finetune(protocol, encoder, name, seed, init=init) for seed in seeds]
    return {"low_label": _mean_std([run["top1"] for run in runs]), "low_label_runs": runs,
            **probes(protocol, encoder, name)}


def _pretraining_summary(encoder: Path) -> dict[str, Any]:
    """Steps and wall seconds of the pretraining run that wrote `encoder`."""
    summary = json.loads((encoder.parent / "summary.json").read_text())
    return {"steps": summary["steps"], "wall_seconds": summary["wall_seconds"]}


def _mean_std(values: list[float]) -> dict[str, Any]:
    return {"mean": round(statistics.fmean(values), 2),
            "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0, "values": values}


def _dataset_sizes(protocol: HeldOutProtocol) -> dict[str, int]:
    """The unlabeled pool and the protocol's lists; `train_10pct` counts whichever `--low_label_list` was used."""
    sizes = protocol.list_sizes()
    unlabeled = read_kinetics_list(protocol.path("unlabeled.txt"), root=protocol.root).records
    return {"unlabeled": len(unlabeled), "train": sizes["train"], "train_10pct": sizes["low_label"],
            "test": sizes["test"]}


def format_table(results: dict[str, Any]) -> str:
    """The markdown table printed at the end, saved as `results.md` and shown in the README."""
    sizes = results["dataset"]
    lines = [
        f"| initialization | finetune, {sizes['train_10pct']} labels (top-1 %) | attentive probe, {sizes['train']} "
        f"labels | linear probe, {sizes['train']} labels |",
        "|---|---|---|---|",
    ]
    for name in (name for name in ENCODERS if name in results["rows"]):  # results from before the zoo row lack it
        row = results["rows"][name]
        low = row["low_label"]
        spread = f" ± {low['std']:.1f}" if len(low["values"]) > 1 else ""
        lines.append(f"| {row_name(results, name)} | {low['mean']:.1f}{spread} | {row['attentive']:.1f} | "
                     f"{row['linear']:.1f} |")
    return "\n".join(lines)


def row_name(results: dict[str, Any], name: str) -> str:
    """A row's label; the zoo checkpoint's says how many steps it was pretrained, when its folder recorded it."""
    steps = results["pretraining"].get(name, {}).get("steps") if name == "zoo" else None
    return NAMES[name] + (f" ({steps} steps)" if steps is not None else "")


def format_footer(results: dict[str, Any]) -> str:
    sizes, args = results["dataset"], results["args"]
    if args.get("pretrain_seconds") is not None:
        budget = f"{args['pretrain_seconds']:g} s of wall clock each"
    else:
        runs = results["pretraining"]
        budget = (f"{args['pretrain_steps']} optimizer steps each (ARVideo {runs['arvideo']['wall_seconds']:.0f} s, "
                  f"VideoMAE {runs['videomae']['wall_seconds']:.0f} s of wall clock)")
    return (
        f"Demo test split ({sizes['test']} videos, 6 motion classes, chance 16.7%), {args['num_clips']}x"
        f"{args['num_crops']} views. Pretraining: {budget} on "
        f"{sizes['unlabeled']} unlabeled clips. Supervised from scratch on all {sizes['train']} labels "
        f"({args['supervised_epochs']:g} epochs): {results['supervised_all_labels']['top1']:.1f}% top-1. "
        f"Low-label finetunes: {len(args['seeds'])} seed(s). {_zoo_footer(results)}"
        f"Total wall time {results['wall_seconds'] / 60:.1f} min ({results['machine']})."
    )


def _zoo_footer(results: dict[str, Any]) -> str:
    """The footer's sentence on the zoo row: its pretraining was done once beforehand, outside this run's time."""
    if "zoo" not in results["rows"]:
        return ""
    run = results["pretraining"].get("zoo")
    made = "" if run is None else f" ({run['steps']} steps, {run['wall_seconds'] / 60:.0f} min of wall clock)"
    return f"The zoo checkpoint was pretrained once beforehand{made}, outside this run's wall time. "


README_BLOCK = "demo-table"  # the README block `--readme` rewrites (arvideo_hf.results)


def results_text(results: dict[str, Any]) -> str:
    """The table and its footer, as printed, saved in `results.md` and shown in the README."""
    return format_table(results) + "\n\n" + format_footer(results) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the demo and print the table; returns a process exit code."""
    args = parse_demo_args(argv)
    logging.basicConfig(level=logging.WARNING)
    output_dir = Path(args.output_dir)
    with claim_output_dir(output_dir, args.skip_pretraining):
        results = run_demo(args)
        text = results_text(results)
        print("\n" + text)
        (output_dir / "results.md").write_text(text)
        payload = json.dumps(results, indent=2) + "\n"
        (output_dir / "results.json").write_text(payload)
    if args.results_file:
        Path(args.results_file).parent.mkdir(parents=True, exist_ok=True)
        Path(args.results_file).write_text(payload)
    if args.readme:
        write_readme_block(args.readme, README_BLOCK, results_text(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""`python -m arvideo_hf.demo` (what `make demo` runs): does ARVideo pretraining pay off when labels are scarce?

On the embedded demo set (a 2400-clip unlabeled pool, 1200 labeled train clips, 300 test clips; built on first use):

1. pretrain ARVideo and, for the same number of optimizer steps, the VideoMAE baseline on the unlabeled pool
   (`--preset tiny --max_steps`: a step budget, so a loaded machine is slower but gets the same result);
2. finetune each encoder and a randomly initialized one on 10% of the labels (`examples/finetune.py --preset tiny`),
   and test with multi-view testing;
3. train an attentive and a linear probe on frozen features of each encoder, on all labels;
4. train the random-init model on all labels (the supervised reference: can this model learn the task at all?).

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
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..data import open_demo_dataset, read_kinetics_list
from ..environment import describe_machine
from ..locking import check_deletable, claim_folder
from ..models.configuration_arvideo import ARVideoConfig
from ..results import Result, write_readme_block
from ..training import parse_pretrain_args, run_pretraining
from ..training.arguments import DemoArguments, parse_demo_args
from ..training.pretrain import reset_accelerate_state
from ..training.protocol import HeldOutProtocol, finetune, probes, save_random_encoder


logger = logging.getLogger(__name__)

ENCODERS = ("arvideo", "videomae", "random")
NAMES = {"arvideo": "ARVideo-pretrained", "videomae": "VideoMAE-pretrained", "random": "random init"}


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


def protocol_for(args: DemoArguments, root: Path) -> HeldOutProtocol:
    """The held-out protocol on the demo set with the demo's knobs."""
    return HeldOutProtocol(root=root, output_dir=Path(args.output_dir), low_label_list=args.low_label_list,
                           finetune_epochs=args.finetune_epochs, probe_epochs=args.probe_epochs,
                           num_clips=args.num_clips, num_crops=args.num_crops, num_workers=args.num_workers)


def run_demo(args: DemoArguments) -> dict[str, Any]:
    """All steps; the results dictionary that `results.json` holds."""
    started = time.perf_counter()
    output_dir = Path(args.output_dir)
    if output_dir.exists() and not args.skip_pretraining:
        check_deletable(output_dir, "demo", sorted(output_dir.iterdir()), "--output_dir")  # only a demo run's folder
        print(f"Overwriting the previous demo run in {output_dir}.")
        shutil.rmtree(output_dir)
    claim_folder(output_dir, "demo")
    root = open_demo_dataset(args.demo_root)
    encoders = {method: pretrain(args, method) for method in ("arvideo", "videomae")}
    encoders["random"] = save_random_encoder(ARVideoConfig.from_preset("tiny"), output_dir / "random-encoder")
    protocol = protocol_for(args, root)
    rows: dict[str, dict[str, Any]] = {}
    for name in ENCODERS:
        init = "random" if name == "random" else "pretrained"  # random init: a fresh init per finetune seed
        runs = [finetune(protocol, encoders[name], name, seed, init=init) for seed in args.seeds]
        rows[name] = {"low_label": _mean_std([run["top1"] for run in runs]), "low_label_runs": runs,
                      **probes(protocol, encoders[name], name)}
    supervised = finetune(protocol, encoders["random"], "random-all-labels", args.seeds[0], init="random",
                          train_list=protocol.train_list,
                          extra=["--num_train_epochs", f"{args.supervised_epochs:g}",
                                 "--per_device_train_batch_size", "32"])
    pretraining = {method: _pretraining_summary(encoders[method]) for method in ("arvideo", "videomae")}
    pretraining_seconds = sum(summary["wall_seconds"] for summary in pretraining.values())
    # The first ARVideo finetune is the zoo's arvideo-tiny-demo checkpoint: its eval_results.json, word for word.
    checkpoint = Result.read(Path(protocol.output_dir) / f"finetune-arvideo-seed{args.seeds[0]}")
    return {"rows": rows, "checkpoint_result": checkpoint.to_dict(), "supervised_all_labels": supervised,
            "pretraining": pretraining,
            "pretraining_seconds": round(pretraining_seconds),
            "wall_seconds": round(time.perf_counter() - started + args.skip_pretraining * pretraining_seconds),
            "machine": describe_machine(), "dataset": _dataset_sizes(protocol), "args": asdict(args),
            "command": "make demo"}


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
    for name in ENCODERS:
        row = results["rows"][name]
        low = row["low_label"]
        spread = f" ± {low['std']:.1f}" if len(low["values"]) > 1 else ""
        lines.append(f"| {NAMES[name]} | {low['mean']:.1f}{spread} | {row['attentive']:.1f} | {row['linear']:.1f} |")
    return "\n".join(lines)


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
        f"Low-label finetunes: {len(args['seeds'])} seed(s). "
        f"Total wall time {results['wall_seconds'] / 60:.1f} min ({results['machine']})."
    )


README_BLOCK = "demo-table"  # the README block `--readme` rewrites (arvideo_hf.results)


def results_text(results: dict[str, Any]) -> str:
    """The table and its footer, as printed, saved in `results.md` and shown in the README."""
    return format_table(results) + "\n\n" + format_footer(results) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the demo and print the table; returns a process exit code."""
    args = parse_demo_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = run_demo(args)
    text = results_text(results)
    print("\n" + text)
    output_dir = Path(args.output_dir)
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

# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""The easy/hard results of the recipe search (`reproduce/hard_set/experiments.py`), generated from its runs file.

Every run of the search is one JSON line (set, recipe, seed, step budget, per-layer attentive and linear probe top-1,
the probes' own training top-1, `null` for a layer not probed, and the optional 10%-label finetune's top-1). This
module turns the committed lines into the README's `hard-set-table` block (the easy and the hard set side by side,
each encoder against random features with paired per-seed differences), `results.json` and one per-layer figure per
set, so no published number is typed.

    python -m arvideo_hf.training.recipe_search --runs reproduce/hard_set/runs.jsonl --readme README.md
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..models.configuration_arvideo import ARVideoConfig
from ..results import write_readme_block
from ..viz import plot_layer_probes


README_BLOCK = "hard-set-table"
SETS = {"demo": ("easy set (the demo set)", 6), "hard": ("hard set", 12)}  # name -> (title, classes)
KINDS = ("attentive", "linear")
# A diagnostic probe on the last layer: linear on per-time-step means, which keep the order of events that the mean
# over all tokens erases (a direction of motion). Older runs lack it: their cell reads "-".
DIAGNOSTIC = "linear_per_time"
TARGET_NAMES = {"pixels": "raw pixels", "frame_difference": "frame-difference target",
                "pixels_and_frame_difference": "pixels + frame differences"}


def recipe_name(run: dict[str, Any]) -> str:
    """A run's recipe in words: the encoder and what differs from the search's base (raw pixels, 2x2x2 clusters,
    `reproduce/hard_set/experiments.py`), tagged when it is the shipped `tiny` recipe or the one it replaced."""
    overrides = [f"{key} {value}" for key, value in sorted(run.get("config", {}).items())  # e.g. a wider model
                 if key != "cluster_size"]  # named from the record's `cluster` below
    if run["method"] == "random":
        return ", ".join(["random init", *overrides])
    if run["method"] == "videomae":
        masking = f"{'random' if run.get('random_mask') else 'tube'} {100 * run.get('mask', 0.9):g}%"
        return ", ".join([f"VideoMAE ({masking})", *overrides])
    knobs, base = recipe_knobs(run), recipe_knobs({})
    parts = ["ARVideo, " + TARGET_NAMES[knobs["target"]]]
    scale, decay = knobs["pixel_target_scale"], knobs["pixel_decay_steps"]
    if knobs["target"] == "pixels_and_frame_difference" and (scale != 1.0 or decay):
        parts.append(f"pixels x{scale:g}" + (f" falling to 0 by step {decay}" if decay else ""))
    if knobs["norm_pix"]:
        parts.append("norm-pix")
    if knobs["mask"] != base["mask"]:
        parts.append(f"mask {knobs['mask']:g}")
    if knobs["cluster"] != base["cluster"]:
        parts.append("clusters " + "x".join(map(str, knobs["cluster"])))
    if knobs["lr"] != base["lr"]:
        parts.append(f"lr {knobs['lr']:g}")
    flags = {"motion_weighted": "pixel error weighted by motion", "tube_mask": "tube masking",
             "noncausal": "encoder not causal"}
    parts += [words for flag, words in flags.items() if knobs[flag]] + overrides
    if knobs == shipped_knobs():
        parts.append("the shipped tiny recipe")
    else:
        parts += [name for name, earlier in EARLIER_TINY.items() if knobs == earlier]
    return ", ".join(parts)


def recipe_knobs(run: dict[str, Any]) -> dict[str, Any]:
    """Every pretraining choice a search record can hold, defaults filled in (older records omit some): the search's
    base (`recipe_knobs({})`) is what a record without the field ran."""
    return {"target": run.get("target", "pixels"), "pixel_target_scale": run.get("pixel_target_scale", 1.0),
            "pixel_decay_steps": run.get("pixel_decay_steps", 0),
            "norm_pix": bool(run.get("norm_pix")), "mask": run.get("mask", 0.8),
            "cluster": list(run.get("cluster", [2, 2, 2])), "lr": run.get("lr", 3e-4),
            "motion_weighted": bool(run.get("motion_weighted")), "tube_mask": bool(run.get("tube_mask")),
            "noncausal": bool(run.get("noncausal")),
            "config": {key: value for key, value in run.get("config", {}).items() if key != "cluster_size"}}


@functools.cache
def shipped_knobs() -> dict[str, Any]:
    """The `tiny` preset's pretraining choices, in a search record's terms (read once; compared, never changed)."""
    shipped = ARVideoConfig.from_preset("tiny")
    return recipe_knobs({
        "target": shipped.pretraining_target, "pixel_target_scale": shipped.pixel_target_scale,
        "pixel_decay_steps": shipped.pixel_target_decay_steps,
        "norm_pix": shipped.norm_pix_loss, "mask": shipped.mask_ratio, "cluster": list(shipped.cluster_size),
        "config": {"decoder_self_attention": True} if shipped.decoder_self_attention else {}})


# The `tiny` preset's earlier recipes, newest first: a constant pixel term at x0.1 in 8x2x2 clusters with decoder
# self-attention (until the decaying pixel term, 4.11), and before the search's result pixels x0.25 in 2x2x2 clusters.
EARLIER_TINY = {
    "the previous tiny recipe": recipe_knobs({
        "target": "pixels_and_frame_difference", "pixel_target_scale": 0.1, "cluster": [8, 2, 2],
        "config": {"decoder_self_attention": True}}),
    "the tiny recipe before that": recipe_knobs({"target": "pixels_and_frame_difference", "pixel_target_scale": 0.25}),
}


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a JSON-lines results file, in order (blank lines skipped). Strict: a line that does not parse
    raises, because these records are published (`results.read_metrics` drops a torn last line of a training log)."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def load_runs(path: str | Path) -> list[dict[str, Any]]:
    """The runs file's records; a later line for the same set, recipe, steps, probe epochs and seed replaces an
    earlier one."""
    latest: dict[tuple, dict[str, Any]] = {}
    for run in read_jsonl(path):
        latest[run["set"], recipe_name(run), run["steps"], run.get("probe_epochs"), run["seed"]] = run
    return list(latest.values())


def _mean(values: list[float | None]) -> float | None:
    """The mean, rounded to 0.1; None when any value is missing (a layer some seed did not probe)."""
    return None if any(value is None for value in values) else round(statistics.fmean(values), 1)


def _paired(values: dict[int, float], reference: dict[int, float]) -> dict[str, Any] | None:
    """Per-seed differences against the reference on the seeds both have; mean, and a one-sided paired t-test's p
    (H1: mean difference > 0) from 2 seeds on."""
    seeds = sorted(set(values) & set(reference))
    if not seeds:
        return None
    differences = [round(values[seed] - reference[seed], 1) for seed in seeds]
    result: dict[str, Any] = {"seeds": seeds, "differences": differences, "mean": _mean(differences), "p": None}
    if len(seeds) >= 2 and statistics.stdev(differences) > 0:
        from scipy import stats  # noqa: PLC0415 - installed with the train extras (scikit-learn's dependency)

        result["p"] = round(float(stats.ttest_1samp(differences, 0.0, alternative="greater").pvalue), 4)
    return result


def _last_layer_scores(runs: list[dict[str, Any]], key: str) -> dict[int, float]:
    """Seed -> last-layer score of the probe `key`, for the runs that have it."""
    return {run["seed"]: run["probes"][key][-1] for run in runs
            if run["probes"].get(key) and run["probes"][key][-1] is not None}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per set and step budget, per recipe: per-layer means over seeds, last-layer and best-layer top-1, and paired
    differences against random init."""
    groups: dict[tuple, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if run["method"] != "random":
            groups[run["set"], run["steps"], run.get("probe_epochs") or 0][recipe_name(run)].append(run)
    for run in runs:  # random features have no steps: they are the reference of every budget of their set
        if run["method"] != "random":
            continue
        epochs = run.get("probe_epochs") or 0
        budgets = [key for key in groups if key[0] == run["set"] and key[2] == epochs]
        for key in budgets or [(run["set"], 0, epochs)]:
            groups[key][recipe_name(run)].append(run)  # "random init" (the reference) unless its config differs
    summary: dict[str, Any] = {}
    for (name, steps, epochs), recipes in sorted(groups.items()):
        random_runs = recipes.get("random init", [])
        rows = {}
        for recipe, members in recipes.items():
            members = sorted(members, key=lambda run: run["seed"])
            row: dict[str, Any] = {"seeds": [run["seed"] for run in members],
                                   "machine": members[-1].get("machine"),
                                   "wall_seconds": [run.get("wall_seconds") for run in members]}
            for kind in KINDS:
                layers = list(zip(*(run["probes"][kind] for run in members), strict=True))
                trains = list(zip(*(run["probes"][f"{kind}_train"] for run in members), strict=True))
                row[f"{kind}_per_layer"] = [_mean(list(values)) for values in layers]
                row[f"{kind}_train_per_layer"] = [_mean(list(values)) for values in trains]
                row[f"{kind}_last"] = row[f"{kind}_per_layer"][-1]
                measured = [i for i, value in enumerate(row[f"{kind}_per_layer"]) if value is not None]
                row[f"{kind}_best_layer"] = max(measured, key=lambda i: row[f"{kind}_per_layer"][i])
                row[f"{kind}_vs_random"] = (None if recipe == "random init" else
                                            _paired(_last_layer_scores(members, kind),
                                                    _last_layer_scores(random_runs, kind)))
            diagnostic = _last_layer_scores(members, DIAGNOSTIC)
            complete = len(diagnostic) == len(members)  # a mean over some seeds only would not compare
            row[f"{DIAGNOSTIC}_last"] = _mean(list(diagnostic.values())) if complete else None
            row[f"{DIAGNOSTIC}_vs_random"] = (None if recipe == "random init" or not complete
                                              else _paired(diagnostic, _last_layer_scores(random_runs, DIAGNOSTIC)))
            finetunes = {run["seed"]: run["finetune"] for run in members if run.get("finetune") is not None}
            row["finetune"] = _mean(list(finetunes.values())) if finetunes else None
            reference = {run["seed"]: run["finetune"] for run in random_runs if run.get("finetune") is not None}
            row["finetune_vs_random"] = (None if recipe == "random init" or not finetunes
                                         else _paired(finetunes, reference))
            if recipe != "random init":
                row["pretrain_loss"] = [run.get("loss_last") for run in members]
            rows[recipe] = row
        key = f"{name}@{steps}" + (f"-probe{epochs}" if epochs else "")
        summary[key] = {"set": name, "steps": steps, "probe_epochs": epochs, "rows": rows}
    return summary


def _difference(paired: dict[str, Any] | None) -> str:
    if paired is None:
        return "-"
    text = f"{paired['mean']:+.1f}"
    if len(paired["seeds"]) > 1:
        text += f" ({', '.join(f'{d:+.1f}' for d in paired['differences'])}" + (
            f"; p={paired['p']:.3f})" if paired["p"] is not None else ")")
    return text


def _epochs(group: dict[str, Any]) -> str:
    return f"{group['probe_epochs']}-epoch " if group.get("probe_epochs") else ""


def summary_table(summary: dict[str, Any]) -> str:
    """The README block: one table per set and budget, the easy set first."""
    blocks = []
    order = sorted(summary.values(), key=lambda group: (list(SETS).index(group["set"]) if group["set"] in SETS
                                                         else len(SETS), group["steps"], group["probe_epochs"]))
    for group in order:
        title, classes = SETS.get(group["set"], (group["set"], None))
        lines = [
            f"**{title}**, {group['steps']} pretraining steps, {_epochs(group)}probes on the last layer (best layer "
            "in brackets):",
            "",
            "| encoder | seeds | attentive probe (probe's train) | vs random, paired | linear probe "
            "| vs random, paired | linear, per time step | vs random, paired | finetune, 10% labels "
            "| vs random, paired |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        rows = group["rows"]
        for recipe in sorted(rows, key=lambda name: (name == "random init", name)):
            row = rows[recipe]
            cells = []
            for kind in KINDS:
                best = row[f"{kind}_best_layer"]
                value = f"{row[f'{kind}_last']:.1f}"
                if kind == "attentive":
                    value += f" ({row['attentive_train_per_layer'][-1]:.0f})"
                value += f" [L{best}: {row[f'{kind}_per_layer'][best]:.1f}]"
                cells += [value, _difference(row[f"{kind}_vs_random"])]
            for key in (DIAGNOSTIC, "finetune"):
                value = row.get(f"{key}_last" if key == DIAGNOSTIC else key)
                cells += ["-" if value is None else f"{value:.1f}", _difference(row.get(f"{key}_vs_random"))]
            lines.append(f"| {recipe} | {len(row['seeds'])} | " + " | ".join(cells) + " |")
        if classes:
            lines += ["", f"Chance {100 / classes:.1f}% ({classes} classes). Linear, per time step: a diagnostic "
                      "linear probe on each time step's mean token in time order, which keeps the order of events "
                      "that the mean over all tokens erases."]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def seed0_layer_curves(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, list]]]:
    """Per set, the seed-0 encoders probed below their last layer, with every probed layer (`None` elsewhere): where
    the motion goes inside one encoder, which the seed means (last layer only where a seed lacks a layer) do not show.
    Names carry the step budget; random features are drawn whenever a pretrained encoder is."""
    curves: dict[str, dict[str, dict[str, list]]] = defaultdict(dict)
    for run in sorted(runs, key=lambda run: (run["method"] == "random", run["steps"])):
        if run["seed"] != 0 or all(value is None for value in run["probes"]["attentive"][:-1]):
            continue
        name = recipe_name(run) + ("" if run["method"] == "random" else f", {run['steps']} steps")
        curves[run["set"]][name] = {kind: run["probes"][kind] for kind in (*KINDS, "attentive_train")}
    return {key: rows for key, rows in curves.items() if any(not name.startswith("random") for name in rows)}


# ------------------------------------------------------------------------------------------ head norm (RESULTS 4.12)
HEAD_NORM_BLOCK = "head-norm-table"
HEAD_NORM_ROWS = {  # (set, encoder) -> row name, in table order
    ("demo", "arvideo"): "easy, ARVideo (400 steps, `make demo`)",
    ("demo", "videomae"): "easy, VideoMAE (400 steps, `make demo`)",
    ("demo", "zoo"): "easy, ARVideo zoo checkpoint (4000 steps)",
    ("demo", "random"): "easy, random init",
    ("hard", "arvideo"): "hard, ARVideo (400 steps on the hard pool)",
    ("hard", "arvideo2800"): "hard, ARVideo (2800 steps)",
    ("hard", "videomae"): "hard, VideoMAE (400 steps)",
    ("hard", "random"): "hard, random init",
}


KNOB_BLOCK = "finetune-knob-table"
KNOB_ENCODER = "arvideo-repretrained"  # the 400-step encoders re-pretrained for RESULTS.md 4.13


def _head_norm_scores(runs: list[dict[str, Any]], dataset: str, encoder: str, head: str,
                      changes: dict[str, Any] | None = None) -> dict[int, float]:
    """Seed -> top-1 of the `tiny` finetunes of one encoder with one head norm and `changes` to the recipe (none by
    default)."""
    return {run["seed"]: run["top1"] for run in runs if (run["set"], run["encoder"], run["head_norm"]) ==
            (dataset, encoder, head) and run["recipe_changes"] == (changes or {})}


def _seed_cell(scores: dict[int, float], per_seed: bool = True) -> str:
    """`mean ± std`, followed by each seed's score unless `per_seed` is False; "-" without scores."""
    if not scores:
        return "-"
    values = [scores[seed] for seed in sorted(scores)]
    spread = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
    seeds = f" ({', '.join(f'{v:.1f}' for v in values)})" if per_seed else ""
    return f"{statistics.fmean(values):.1f}{spread}{seeds}"


def head_norm_table(path: str | Path) -> str:
    """RESULTS.md 4.12's table from `head-norm.jsonl`: each encoder's 10%-label finetunes with VideoMAE's LayerNorm
    head and with the BatchNorm head, each against random init with the same head (paired per seed)."""
    runs = read_jsonl(path)
    lines = ["| set, encoder | LayerNorm head | lead | **BatchNorm head** | lead |", "|---|---|---|---|---|"]
    for (dataset, encoder), name in HEAD_NORM_ROWS.items():
        cells = []
        for head in ("layer", "batch"):
            scores = _head_norm_scores(runs, dataset, encoder, head)
            reference = _head_norm_scores(runs, dataset, "random", head)
            paired = _paired(scores, reference) if encoder != "random" else None
            cell = _seed_cell(scores)
            cells += [f"**{cell}**" if head == "batch" and scores else cell, _difference(paired)]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def finetune_knob_table(path: str | Path) -> str:
    """RESULTS.md 4.13's table from `head-norm.jsonl`: each change to the `tiny` finetune (BatchNorm head), on the
    re-pretrained 400-step ARVideo encoders and on random init with the same change, both sets, paired per seed."""
    runs = read_jsonl(path)
    changes: list[dict[str, Any]] = []
    for run in runs:
        if run["encoder"] == KNOB_ENCODER and run["recipe_changes"] not in changes:
            changes.append(run["recipe_changes"])
    lines = ["| change to the `tiny` finetune | easy: ARVideo | easy: random init | easy: lead | hard: ARVideo | "
             "hard: random init | hard: lead |", "|---|---|---|---|---|---|---|"]
    for change in changes:
        cells = []
        for dataset in ("demo", "hard"):
            scores = _head_norm_scores(runs, dataset, KNOB_ENCODER, "batch", change)
            reference = _head_norm_scores(runs, dataset, "random", "batch", change)
            cells += [_seed_cell(scores, per_seed=False), _seed_cell(reference, per_seed=False),
                      _difference(_paired(scores, reference))]
        name = ", ".join(f"`{key}={value}`" for key, value in change.items()) or "none (the preset)"
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def write_report(runs_path: str | Path, results_dir: str | Path, readme: str | Path | None = None) -> dict[str, Any]:
    """`results.json`, `layers-<set>-<steps>.png` per set and budget and `layers-<set>-seed0.png` (every probed layer
    of the seed-0 encoders) under `results_dir`; the README block when asked."""

    runs = load_runs(runs_path)
    summary = summarize(runs)
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    for key, group in summary.items():
        title, classes = SETS.get(group["set"], (group["set"], None))
        curves = {recipe: {kind: row[f"{kind}_per_layer"] for kind in (*KINDS, "attentive_train")}
                  for recipe, row in group["rows"].items()}
        plot_layer_probes(curves, results_dir / f"layers-{key.replace('@', '-')}.png",
                          chance=100 / classes if classes else None,
                          title=f"{title}: {_epochs(group)}probe top-1 per layer after {group['steps']} steps")
    for name, curves in seed0_layer_curves(runs).items():
        title, classes = SETS.get(name, (name, None))
        plot_layer_probes(curves, results_dir / f"layers-{name}-seed0.png", chance=100 / classes if classes else None,
                          title=f"{title}, seed 0: probe top-1 at every probed layer (steps in each name)")
    if readme is not None:
        write_readme_block(readme, README_BLOCK, summary_table(summary))
        head_norm_runs = Path(runs_path).with_name("head-norm.jsonl")
        for block, table in ((HEAD_NORM_BLOCK, head_norm_table), (KNOB_BLOCK, finetune_knob_table)):
            if f"<!-- {block}:start -->" in Path(readme).read_text() and head_norm_runs.is_file():
                write_readme_block(readme, block, table(head_norm_runs))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="reproduce/hard_set/runs.jsonl")
    parser.add_argument("--results_dir", default="reproduce/hard_set")
    parser.add_argument("--readme", default=None, help="rewrite this README's hard-set-table block")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    print(summary_table(write_report(args.runs, args.results_dir, args.readme)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""The figures that runs and reports write beside their numbers: a pretraining run's loss curve, an evaluation's
confusion matrix, and the study's bar chart. Like every figure of the package: a bare `Figure` on the Agg canvas."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def plot_loss_curve(
    records: Sequence[Mapping[str, Any]], image_path: Path, title: str = "ARVideo pretraining loss"
) -> None:
    """Loss (log scale) and learning rate against step, from a pretraining run's `metrics.jsonl` records (nothing
    without any)."""
    if not records:
        return
    steps = [r["step"] for r in records]
    figure = _figure(9, 3.2)
    ax_loss, ax_lr = figure.subplots(1, 2)
    ax_loss.plot(steps, [r["loss"] for r in records])
    ax_loss.set(xlabel="step", ylabel="loss", yscale="log", title=title)
    ax_lr.plot(steps, [r["lr"] for r in records], color="tab:orange")
    ax_lr.set(xlabel="step", ylabel="learning rate", title="schedule")
    figure.tight_layout()
    figure.savefig(image_path, dpi=100)


def plot_confusion_matrix(
    matrix: np.ndarray | list, class_names: Sequence[str], path: str | os.PathLike, title: str = ""
) -> None:
    """Row-normalized confusion matrix (rows: true class), with counts written in the cells for up to 30 classes."""
    matrix = np.asarray(matrix)
    rows = matrix.sum(axis=1, keepdims=True)
    normalized = np.divide(matrix, rows, out=np.zeros(matrix.shape, dtype=float), where=rows > 0)
    size = max(5.0, 0.45 * len(class_names) + 2.5)
    figure = _figure(size, size)
    ax = figure.subplots()
    ax.imshow(normalized, cmap="Blues", vmin=0.0, vmax=1.0)
    if len(class_names) <= 30:
        ticks = np.arange(len(class_names))
        ax.set_xticks(ticks, class_names, rotation=45, ha="right")
        ax.set_yticks(ticks, class_names)
        for (row, col), count in np.ndenumerate(matrix):
            if count:
                color = "white" if normalized[row, col] > 0.5 else "black"
                ax.text(col, row, str(count), ha="center", va="center", color=color, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true")
    ax.set_title(title or "confusion matrix", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def plot_study_results(
    stats: Mapping[str, Mapping[str, Any]],
    panels: Sequence[tuple[str, Sequence[str]]],
    run_labels: Mapping[str, str],
    metric_names: Mapping[str, str],
    path: Path,
    chance: float | None = None,
) -> None:
    """One panel per `(title, run names)`: each metric's top-1 (mean, std error bars) per run, the `random` run's
    means as dashed lines of the same colour, chance as a dotted line. `stats[run][metric]` holds `mean`, `std`."""
    figure = _figure(4.2 * len(panels), 4.2)
    axes = np.atleast_1d(figure.subplots(1, len(panels), squeeze=False)[0])
    colors = ("tab:orange", "tab:green", "tab:blue")
    for ax, (title, runs) in zip(axes, panels, strict=True):
        names = [name for name in runs if name in stats and name != "random"]
        for offset, metric, color in zip((-0.27, 0.0, 0.27), metric_names, colors, strict=True):
            means = [stats[n][metric]["mean"] if metric in stats[n] else float("nan") for n in names]
            stds = [stats[n][metric]["std"] if metric in stats[n] else 0.0 for n in names]
            ax.bar([i + offset for i in range(len(names))], means, 0.27, yerr=stds, capsize=3, color=color,
                   label=metric_names[metric])
            if "random" in stats and metric in stats["random"]:
                ax.axhline(stats["random"][metric]["mean"], color=color, linestyle="--", linewidth=1)
        if chance is not None:
            ax.axhline(chance, color="gray", linestyle=":", linewidth=1)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([run_labels[n].split(" (")[0] for n in names], rotation=35, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("top-1 (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], color="black", linestyle="--"), Line2D([], [], color="gray", linestyle=":")]
    labels += ["random init (same colour: same metric)", "chance"]
    figure.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    figure.savefig(path, dpi=110)


__all__ = ["plot_confusion_matrix", "plot_loss_curve", "plot_study_results"]

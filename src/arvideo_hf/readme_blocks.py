# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Generated blocks of a README: the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` is written from a
committed results file (the demo's `demo-table`, the study's `study-table`), and tests compare the two, so a
published number is never typed by hand."""

from __future__ import annotations

from pathlib import Path


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def _span(readme: str, name: str) -> tuple[int, int]:
    """Where the block's text starts and ends; a clear error when the README lacks the markers."""
    start_marker, end_marker = _markers(name)
    if start_marker not in readme or end_marker not in readme:
        raise ValueError(f"the README has no {start_marker} ... {end_marker} block to hold the generated text.")
    return readme.index(start_marker) + len(start_marker), readme.index(end_marker)


def readme_block(readme: str, name: str) -> str:
    """What stands between the `name` markers of a README's text."""
    start, end = _span(readme, name)
    return readme[start:end].strip("\n") + "\n"


def write_readme_block(path: str | Path, name: str, text: str) -> None:
    """Replace the `name` block of the README at `path` with `text`."""
    readme = Path(path).read_text()
    start, end = _span(readme, name)
    Path(path).write_text(readme[:start] + "\n" + text.strip("\n") + "\n" + readme[end:])


__all__ = ["readme_block", "write_readme_block"]

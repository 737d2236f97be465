"""`python -m arvideo_hf.zoo {list, write-cards DIR [--check], pretrained RUN_DIR}`: print the zoo's entries and their
results, (re)generate the committed model cards (`--check`: exit 1 when they are stale), or build the
`arvideo-tiny-pretrained` checkpoint folder from a finished pretraining run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .cards import DEFAULT_ORGANIZATION, ENCODER_NOT_MEASURED, NOT_MEASURED, stale_cards, write_cards
from .entries import PRETRAINED_NAME, ZOO
from .pretrained import build_pretrained_folder


def build_parser() -> argparse.ArgumentParser:
    """The three subcommands and their arguments."""
    parser = argparse.ArgumentParser(prog="python -m arvideo_hf.zoo", description="The model zoo and its cards.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="print the zoo entries and their results")
    write = commands.add_parser("write-cards", help="(re)generate the committed model cards")
    write.add_argument("out_dir", type=Path)
    write.add_argument("--organization", default=DEFAULT_ORGANIZATION, help="Hub namespace used in the cards")
    write.add_argument("--check", action="store_true", help="write nothing; exit 1 if any card is stale")
    pretrained = commands.add_parser("pretrained", help=f"build the {PRETRAINED_NAME} folder from a pretraining run")
    pretrained.add_argument("run_dir", type=Path, help="--output_dir of a finished examples/pretrain.py run")
    pretrained.add_argument("--out", type=Path, default=Path("checkpoints") / PRETRAINED_NAME,
                            help="the checkpoint folder (new, or one this command built)")
    pretrained.add_argument("--record", type=Path, help="also write the run's record here (the package's copy: "
                            "src/arvideo_hf/zoo/pretrained_run.json)")
    pretrained.add_argument("--card", type=Path, help=f"also copy the card here (model_cards/{PRETRAINED_NAME}.md)")
    pretrained.add_argument("--organization", default=DEFAULT_ORGANIZATION, help="Hub namespace used in the card")
    return parser


def list_entries() -> int:
    """One line per entry: name, preset, dataset and every result with its source."""
    for entry in ZOO.values():
        results = "; ".join(f"{r.top1:.1f} top-1 {r.dataset_info.name} ({r.source_label})" for r in entry.results)
        if not results:
            run = entry.pretraining
            results = f"pretrained {run.steps} steps; {ENCODER_NOT_MEASURED}" if run else NOT_MEASURED
        print(f"{entry.name:24s} {entry.preset:6s} {entry.dataset_info.name:24s} {results}")
    return 0


def check_cards(out_dir: Path, organization: str) -> int:
    """Exit status 1 (and the stale names) when the cards in `out_dir` differ from a fresh render."""
    stale = stale_cards(out_dir, organization)
    if stale:
        print(f"stale model cards in {out_dir}: {', '.join(stale)}; run: python -m arvideo_hf.zoo write-cards "
              f"{out_dir}", file=sys.stderr)
        return 1
    print(f"{len(ZOO)} model cards in {out_dir} are up to date")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m arvideo_hf.zoo {list, write-cards DIR [--check], pretrained RUN_DIR [--out DIR]}`."""
    args = build_parser().parse_args(argv)
    if args.command == "list":
        return list_entries()
    if args.command == "pretrained":
        print(build_pretrained_folder(args.run_dir, args.out, args.organization, args.record, args.card))
        return 0
    if args.check:
        return check_cards(args.out_dir, args.organization)
    for path in write_cards(args.out_dir, args.organization):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m arvideo_hf.zoo {list, write-cards DIR [--check]}`: print the zoo's entries and their results, or
(re)generate the committed model cards (`--check`: exit 1 when they are stale)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .cards import DEFAULT_ORGANIZATION, NOT_MEASURED, stale_cards, write_cards
from .entries import ZOO


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m arvideo_hf.zoo {list, write-cards DIR [--check]}`."""
    parser = argparse.ArgumentParser(prog="python -m arvideo_hf.zoo", description="The model zoo and its cards.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="print the zoo entries and their results")
    write = commands.add_parser("write-cards", help="(re)generate the committed model cards")
    write.add_argument("out_dir", type=Path)
    write.add_argument("--organization", default=DEFAULT_ORGANIZATION, help="Hub namespace used in the cards")
    write.add_argument("--check", action="store_true", help="write nothing; exit 1 if any card is stale")
    args = parser.parse_args(argv)
    if args.command == "list":
        for entry in ZOO.values():
            results = "; ".join(f"{r.top1:.1f} top-1 {r.dataset_info.name} ({r.source_label})" for r in entry.results)
            print(f"{entry.name:20s} {entry.preset:6s} {entry.dataset_info.name:24s} {results or NOT_MEASURED}")
        return 0
    if args.check:
        stale = stale_cards(args.out_dir, args.organization)
        if stale:
            print(f"stale model cards in {args.out_dir}: {', '.join(stale)}; run: python -m arvideo_hf.zoo write-cards "
                  f"{args.out_dir}", file=sys.stderr)
            return 1
        print(f"{len(ZOO)} model cards in {args.out_dir} are up to date")
        return 0
    for path in write_cards(args.out_dir, args.organization):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

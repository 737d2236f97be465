#!/usr/bin/env python
# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Publish an ARVideo checkpoint folder to the Hugging Face Hub (or write the exact upload with --dry-run).

    python examples/publish.py outputs/finetune-k400/checkpoint-best --repo-id org/arvideo-vitb-k400
    python examples/publish.py CHECKPOINT_DIR --repo-id org/name --dry-run /tmp/upload   # uploads nothing
    python examples/publish.py CHECKPOINT_DIR --repo-id org/name --space-dir space/      # and a Space for it

The token comes from `HF_TOKEN` or `hf auth login` and is never printed. See `arvideo_hf.zoo.publish` for what is
uploaded and for the `eval_results.json` schema whose numbers go into the model card.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from arvideo_hf.zoo import ZOO
from arvideo_hf.zoo.publish import push_checkpoint_to_hub


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint_dir", help="folder written by save_pretrained (config.json + safetensors)")
    parser.add_argument("--repo-id", required=True, help="Hub repo, e.g. org/arvideo-vitb-k400")
    parser.add_argument("--zoo-entry", choices=sorted(ZOO), help="zoo entry the checkpoint must match (default: the "
                        "entry named like the repo, when the checkpoint matches it)")
    parser.add_argument("--dry-run", metavar="OUT", help="write the upload folder to OUT and upload nothing")
    parser.add_argument("--private", action="store_true", help="create the repo as private (new repos only)")
    parser.add_argument("--revision", help="branch to upload to (created if missing); default main")
    parser.add_argument("--commit-message", help="commit message of the upload")
    parser.add_argument("--space-dir", metavar="OUT", help="also write a Space-ready folder for the repo to OUT "
                        "(app.py, requirements.txt, README with the Space metadata; needs the app extra)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = push_checkpoint_to_hub(
        args.checkpoint_dir,
        args.repo_id,
        zoo_entry=args.zoo_entry,
        dry_run_dir=args.dry_run,
        private=args.private,
        revision=args.revision,
        commit_message=args.commit_message,
    )
    print(result)
    if args.space_dir:
        from arvideo_hf.app import write_space  # noqa: PLC0415 - the app extra, needed only for this option

        print(write_space(args.repo_id, args.space_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m arvideo_hf.app [MODEL] [--port 7860]`: serve the app for a checkpoint folder or Hub id (default: the
committed tiny demo checkpoint of a source checkout)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .ui import build_app


SOURCE_ROOT = Path(__file__).resolve().parents[3]  # the repository, when run from a source checkout
# The committed demo checkpoint: it ships with the source repository, not inside the installed package.
DEMO_CHECKPOINT = Path("checkpoints") / "arvideo-tiny-demo"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m arvideo_hf.app", description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", help=f"checkpoint folder or Hub id (default: {DEMO_CHECKPOINT})")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--frame-stride", type=int, help="frames between sampled frames for the labels (default: "
                        "the folder's finetune_args.json, else 2, the demo checkpoint's)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    model = args.model
    if model is None:
        model = SOURCE_ROOT / DEMO_CHECKPOINT
        if not (model / "config.json").is_file():
            print(f"No model given and no {DEMO_CHECKPOINT} here (it ships with the source repository): pass a "
                  "checkpoint folder or Hub id, e.g. python -m arvideo_hf.app outputs/finetune", file=sys.stderr)
            return 2
    app = build_app(model, frame_stride=args.frame_stride)
    print(f"Serving {model} on http://{args.host}:{args.port}", flush=True)
    app.launch(server_name=args.host, server_port=args.port, show_error=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

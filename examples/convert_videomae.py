#!/usr/bin/env python
# Copyright 2026 The arvideo_hf authors. Licensed under the Apache License, Version 2.0.
"""Convert VideoMAE weights into an ARVideo checkpoint folder ready for examples/publish.py.

    # an official VideoMAE .pth (pretraining or finetuned); give what the weights do not encode
    python examples/convert_videomae.py checkpoint.pth OUT --image-size 224 --num-frames 16
    # a transformers VideoMAE folder or cached repo
    python examples/convert_videomae.py path/to/videomae-base-finetuned-kinetics OUT

Prints the max |difference| between the converted model and the source on a random clip (logits when a head is
kept, else the encoder's token sequence) and fails when it exceeds --tolerance.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from arvideo_hf.interop import convert_videomae_checkpoint


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", help="official VideoMAE .pth file, or a transformers VideoMAE folder")
    parser.add_argument("output_dir", help="where to write the ARVideo checkpoint (save_pretrained + processor)")
    parser.add_argument("--task", choices=("auto", "encoder", "classification"), default="auto",
                        help="keep the classification head (auto: when the source has one)")
    parser.add_argument("--image-size", type=int, help=".pth only: input resolution (default 224)")
    parser.add_argument("--num-frames", type=int, help=".pth only: frames per clip (default 16)")
    parser.add_argument("--num-attention-heads", type=int, help=".pth only: heads (default width / 64)")
    parser.add_argument("--labels", type=Path, help="text file with one class name per line, in label-id order")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest accepted max |difference|")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = {k: v for k, v in (("image_size", args.image_size), ("num_frames", args.num_frames),
                                   ("num_attention_heads", args.num_attention_heads)) if v is not None}
    id2label = None
    if args.labels is not None:
        names = [line.strip() for line in args.labels.read_text(encoding="utf-8").splitlines() if line.strip()]
        id2label = dict(enumerate(names))
    report = convert_videomae_checkpoint(args.source, args.output_dir, task=args.task, id2label=id2label, **overrides)
    print(f"wrote {report.model_class} to {report.output_dir}")
    print(f"max |difference| of {report.compared} against the source model: {report.max_abs_diff:.3e}")
    if report.max_abs_diff > args.tolerance:
        print(f"error: difference above --tolerance {args.tolerance}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

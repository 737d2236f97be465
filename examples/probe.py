#!/usr/bin/env python
"""Linear or attentive probe on a frozen encoder: extract features of the train/test splits, train, report accuracy.

    python examples/probe.py --model_name_or_path outputs/pretrain-demo/encoder --probe linear     # demo splits
    python examples/probe.py --model_name_or_path outputs/pretrain-demo/encoder --probe attentive
    python examples/probe.py --model_name_or_path outputs/pretrain-demo/encoder --probe attentive --layer all
        # one probe per hidden state (0 = the tubelet embedding ... the last block), results and a per-layer plot
    python examples/probe.py --probe linear --train_features train.safetensors --test_features test.safetensors
"""

import json

from arvideo_hf.training.arguments import parse_probe_args
from arvideo_hf.training.probes import run_probe


if __name__ == "__main__":
    print(json.dumps(run_probe(parse_probe_args()), indent=2))

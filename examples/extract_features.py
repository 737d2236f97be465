#!/usr/bin/env python
"""Mean-pooled (or per-token, per-layer) features of a frozen encoder for a list of videos, saved to safetensors.

    python examples/extract_features.py --model_name_or_path outputs/pretrain-demo/encoder --output train.safetensors
    python examples/extract_features.py --model_name_or_path ckpt --video_list list.txt --data_root videos \
        --pooling tokens --layers -1 -4 --output feats.safetensors
"""

from arvideo_hf.training.arguments import parse_feature_args
from arvideo_hf.training.features import run_feature_extraction


if __name__ == "__main__":
    print(run_feature_extraction(parse_feature_args()))

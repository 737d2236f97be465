#!/usr/bin/env python
"""ARVideo pretraining. With no arguments: the tiny preset on the embedded demo set, minutes on 2 CPU cores.

    accelerate launch examples/pretrain.py                                   # demo
    accelerate launch examples/pretrain.py --preset base --train_list k400/train.txt --data_root k400/videos
    accelerate launch examples/pretrain.py config.yaml                       # arguments from a YAML/JSON file
    accelerate launch examples/pretrain.py --resume latest                   # continue an interrupted run
"""

from arvideo_hf.training import parse_pretrain_args, run_pretraining


if __name__ == "__main__":
    run_pretraining(parse_pretrain_args())

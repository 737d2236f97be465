#!/usr/bin/env python
"""Small-scale reproduction of the paper's comparisons (see README "Does it reproduce?"). Resumable: rerun the same
command after an interruption and finished runs are skipped.

    python examples/reproduce.py --readme README.md                  # the demo study: tables in reproduce/, README
    python examples/reproduce.py --runs arvideo videomae random --seeds 0 --pretrain_steps 30
    python examples/reproduce.py --preset base --unlabeled_list all.txt --low_label_list few.txt \
        --train_list train.txt --test_list val.txt --data_root videos/ --class_names labels.txt
"""

from arvideo_hf.training.arguments import parse_reproduce_args
from arvideo_hf.training.study import run_study


if __name__ == "__main__":
    run_study(parse_reproduce_args())

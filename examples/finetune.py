#!/usr/bin/env python
"""Finetune an ARVideo/VideoMAE video classifier with transformers.Trainer (docs/method.md, Finetuning recipe).

    python examples/finetune.py --model_name_or_path outputs/pretrain-demo/encoder --output_dir outputs/finetune-demo
    python examples/finetune.py --init random --model_name_or_path outputs/pretrain-demo/encoder   # from scratch
    accelerate launch examples/finetune.py --model_name_or_path ckpt/encoder --train_list k400/train.txt \
        --validation_list k400/val.txt --data_root k400/videos --num_train_epochs 75 --per_device_train_batch_size 8
    python examples/finetune.py --model_name_or_path MCG-NJU/videomae-base --train_list ssv2/train.txt \
        --sampling segment --flip False --base_lr 5e-4                                                  # SSv2-like

Without --train_list it uses the demo set (flip off: its labels are directions). See --help for the recipe.
"""

from arvideo_hf.training.arguments import parse_finetune_args
from arvideo_hf.training.finetune import run_finetuning


if __name__ == "__main__":
    run_finetuning(*parse_finetune_args())

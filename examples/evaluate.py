#!/usr/bin/env python
"""Multi-view testing of a finetuned classifier: clips x crops per video, softmax per view, averaged.

    python examples/evaluate.py --model_name_or_path outputs/finetune-demo                        # demo test split
    accelerate launch examples/evaluate.py --model_name_or_path ckpt --test_list k400/val.txt \
        --data_root k400/videos --dataset kinetics-400 --split validation                        # 5x3 views
    python examples/evaluate.py --model_name_or_path ckpt --test_list ssv2/val.txt --sampling segment   # 2x3

Writes eval_results.json (the hub schema), eval_details.json and confusion_matrix.png into the model folder
(or --output_dir).
"""

import json

from arvideo_hf.training.arguments import parse_evaluate_args
from arvideo_hf.training.evaluation import run_evaluation


if __name__ == "__main__":
    summary = run_evaluation(parse_evaluate_args())
    print(json.dumps({k: summary[k] for k in ("top1", "top5", "mean_class_accuracy", "num_videos", "views")}))

"""`python -m arvideo_hf.demo` (what `make demo` runs): pretraining, low-label finetuning, probes and a supervised
reference on the embedded demo set, one table out (`run`)."""

from ..training.arguments import DemoArguments
from .run import README_BLOCK, main, protocol_for, results_text, run_demo


__all__ = ["DemoArguments", "README_BLOCK", "main", "protocol_for", "results_text", "run_demo"]

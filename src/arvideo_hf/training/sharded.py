"""FSDP2 checkpoints that never unpickle, and the consolidated final model of a sharded run.

Under FSDP accelerate's `save_state`/`load_state` go through `torch.distributed.checkpoint` (DCP) with its
`FileSystemWriter`/`FileSystemReader`. In torch 2.13 that reader calls `pickle.load` on the checkpoint's `.metadata`
file (`FileSystemReader.read_metadata`) and loads every non-tensor entry (the optimizer's param groups) with
`torch.load(weights_only=False)` (`DefaultLoadPlanner.load_bytes`): a checkpoint folder handed to a user could run
code on resume. Here the model and optimizer of an FSDP2 run are written instead as DCP shards in safetensors
(`HuggingFaceStorageWriter(save_distributed=True)`: each process writes its own shards, with their offsets in the
safetensors header) plus the optimizer's non-tensor settings as JSON, and read back with `HuggingFaceStorageReader`,
which builds DCP's metadata from the safetensors headers alone. The rest of the state (RNG, sampler, schedule) is
accelerate's `save_state` as under DDP, with the model and optimizer held out of it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
from accelerate import Accelerator, PartialState
from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin, parse_flag_from_env
from torch.distributed.checkpoint import HuggingFaceStorageReader, HuggingFaceStorageWriter
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import FSDPModule, register_fsdp_forward_method
from torch.distributed.tensor import DTensor
from transformers import PreTrainedModel


MODEL_SHARDS = "model_shards"  # safetensors shards of the model's state dict, one or more files per process
OPTIMIZER_SHARDS = "optimizer_shards"  # safetensors shards of the optimizer's tensors (moments, step counts)
OPTIMIZER_SETTINGS = "optimizer_settings.json"  # the optimizer's non-tensor entries (lr, betas, weight decay, ...)
FLAT = StateDictOptions(flatten_optimizer_state_dict=True)  # "state.<fqn>.exp_avg", "param_groups.<fqn>.lr", ...


def is_fsdp(accelerator: Accelerator) -> bool:
    return accelerator.distributed_type == DistributedType.FSDP


def check_engine(accelerator: Accelerator, resume: str | None) -> None:
    """Refuse the engines whose checkpoints this project would have to unpickle (FSDP1: use FSDP2; resuming under
    DeepSpeed, whose checkpoints are `torch.save` pickles) and a DeepSpeed launch that would silently run DDP."""
    if is_fsdp(accelerator) and not accelerator.is_fsdp2:
        raise ValueError(
            "FSDP version 1 is not supported: its checkpoints are pickles. Set `fsdp_version: 2` in the accelerate "
            "config (examples/accelerate_configs/fsdp2.yaml)."
        )
    if accelerator.distributed_type == DistributedType.MULTI_CPU and parse_flag_from_env("ACCELERATE_USE_DEEPSPEED"):
        raise ValueError(
            "A DeepSpeed launch on CPU processes: accelerate 1.16 selects DeepSpeed on accelerator devices only and "
            "would silently train plain DDP. On CPUs use examples/accelerate_configs/fsdp2.yaml or ddp.yaml."
        )
    if accelerator.distributed_type == DistributedType.DEEPSPEED and resume:
        raise ValueError(
            "--resume under DeepSpeed is refused: DeepSpeed's checkpoints are torch.save pickles, which this project "
            "never loads. Resume the run under FSDP2 or DDP from a checkpoint they wrote, or start afresh."
        )


# Methods that use a shard unit's weights outside its forward: FSDP2 must gather the weights around them too.
FORWARD_METHODS = {"ARVideoDecoderLayer": ("project_key_value",)}  # keys and values, projected once for all queries


def register_forward_methods(model: torch.nn.Module) -> None:
    """Tell FSDP2 about `FORWARD_METHODS` of the shard units (without it: "mixed torch.Tensor and DTensor")."""
    for module in model.modules():
        if isinstance(module, FSDPModule):
            for name in FORWARD_METHODS.get(original_class(module).__name__, ()):
                register_fsdp_forward_method(module, name)


def original_class(module: torch.nn.Module) -> type:
    """The module's own class (`fully_shard` swaps in a subclass named FSDP<name>)."""
    return next(cls for cls in type(module).__mro__ if not issubclass(cls, FSDPModule))


def describe_shards(model: torch.nn.Module) -> str:
    """The module classes FSDP2 made shard units, with their counts (`fully_shard` renames a class to FSDP<name>)."""
    counts: dict[str, int] = {}
    for module in model.modules():
        name = type(module).__name__
        if name.startswith("FSDP"):
            counts[name[4:]] = counts.get(name[4:], 0) + 1
    return ", ".join(f"{name} x{count}" for name, count in counts.items())


@contextmanager
def held_out_of_accelerate_state(accelerator: Accelerator) -> Iterator[None]:
    """Let `save_state`/`load_state` handle everything but the models and optimizers (written here instead)."""
    models, optimizers = accelerator._models, accelerator._optimizers
    accelerator._models, accelerator._optimizers = [], []
    try:
        yield
    finally:
        accelerator._models, accelerator._optimizers = models, optimizers


def _split_settings(flat: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {key: value for key, value in flat.items() if isinstance(value, torch.Tensor)}
    return tensors, {key: value for key, value in flat.items() if key not in tensors}


def save_training_state(accelerator: Accelerator, folder: Path) -> None:
    """`accelerator.save_state`, except that under FSDP the model and optimizer are written as safetensors shards
    and JSON (`save_sharded`) instead of DCP's pickled metadata. Every process calls it."""
    _accelerate_then_sharded(accelerator, folder, accelerator.save_state, save_sharded)


def load_training_state(accelerator: Accelerator, folder: Path) -> None:
    """`accelerator.load_state`, or under FSDP what `save_training_state` wrote, never unpickling a file."""
    _accelerate_then_sharded(accelerator, folder, accelerator.load_state, load_sharded)


def _accelerate_then_sharded(accelerator: Accelerator, folder: Path, accelerate_io: Any, sharded_io: Any) -> None:
    """accelerate's `save_state`/`load_state`; under FSDP without the model and optimizer, which `sharded_io` does."""
    if not is_fsdp(accelerator):
        accelerate_io(str(folder))
        return
    (model,), (optimizer,) = accelerator._models, accelerator._optimizers  # one of each, as pretraining prepares
    with held_out_of_accelerate_state(accelerator):
        accelerate_io(str(folder))
    sharded_io(accelerator, model, optimizer, folder)


def save_sharded(accelerator: Accelerator, model: torch.nn.Module, optimizer: Any, folder: Path) -> None:
    """The model's and optimizer's shards as safetensors (each process its own) and the optimizer's settings as
    JSON."""
    dcp.save(get_model_state_dict(model),
             storage_writer=HuggingFaceStorageWriter(str(folder / MODEL_SHARDS), save_distributed=True))
    tensors, settings = _split_settings(get_optimizer_state_dict(model, _plain(optimizer), options=FLAT))
    dcp.save(tensors, storage_writer=HuggingFaceStorageWriter(str(folder / OPTIMIZER_SHARDS), save_distributed=True))
    if accelerator.is_main_process:
        (folder / OPTIMIZER_SETTINGS).write_text(json.dumps(settings, indent=1, sort_keys=True))
    accelerator.wait_for_everyone()


def load_sharded(accelerator: Accelerator, model: torch.nn.Module, optimizer: Any, folder: Path) -> None:
    """Read what `save_sharded` wrote (safetensors headers and JSON only) into the sharded model and optimizer."""
    weights = get_model_state_dict(model)
    dcp.load(weights, storage_reader=HuggingFaceStorageReader(str(folder / MODEL_SHARDS)))
    set_model_state_dict(model, weights)
    tensors, template = _split_settings(get_optimizer_state_dict(model, _plain(optimizer), options=FLAT))
    dcp.load(tensors, storage_reader=HuggingFaceStorageReader(str(folder / OPTIMIZER_SHARDS)))
    settings = json.loads((folder / OPTIMIZER_SETTINGS).read_text())
    if settings.keys() != template.keys():
        raise ValueError(
            f"{folder / OPTIMIZER_SETTINGS} does not describe this run's optimizer (entries differ: "
            f"{sorted(settings.keys() ^ template.keys())[:5]}); resume with the arguments it was written with."
        )
    settings = {key: tuple(value) if isinstance(template[key], tuple) else value for key, value in settings.items()}
    set_optimizer_state_dict(model, _plain(optimizer), {**tensors, **settings}, options=FLAT)
    accelerator.wait_for_everyone()


def _plain(optimizer: Any) -> torch.optim.Optimizer:
    """The torch optimizer under accelerate's wrapper (DCP steps an empty optimizer once to build its state)."""
    while hasattr(optimizer, "optimizer"):
        optimizer = optimizer.optimizer
    return optimizer


def local_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """This process's shard of a sharded (DTensor) parameter, or the tensor itself."""
    return tensor.to_local() if isinstance(tensor, DTensor) else tensor


def consolidated_model(accelerator: Accelerator, model: torch.nn.Module) -> PreTrainedModel | None:
    """The whole trained model as an ordinary one-process model on the main process (None on the others): all
    processes gather the full state dict, the main process loads it into a fresh model of the same class."""
    full = accelerator.get_state_dict(model)  # collective under FSDP: every process must call it
    if not accelerator.is_main_process:
        return None
    unwrapped = accelerator.unwrap_model(model)
    plain = original_class(unwrapped)._from_config(copy.deepcopy(unwrapped.config),
                                     attn_implementation=unwrapped.config._attn_implementation)
    plain.load_state_dict(full, strict=True)
    return plain


def any_process(flag: bool, device: torch.device) -> bool:
    """True when `flag` holds on any process (so that all of them raise together), or on this one outside
    torch.distributed."""
    if not torch.distributed.is_initialized():
        return flag
    count = torch.tensor(float(flag), device=device)
    torch.distributed.all_reduce(count)
    return bool(count.item())


def fsdp_on_cpu(accelerator: Accelerator) -> None:
    """Honour an FSDP launch on CPU processes. accelerate 1.16 keeps FSDP for accelerator devices only: launched with
    an FSDP config and `ACCELERATE_USE_CPU=1` it silently runs plain DDP (MULTI_CPU). torch's FSDP2 runs over gloo,
    so the state is switched to FSDP with the plugin the launcher's environment describes."""
    state = accelerator.state
    if state.distributed_type != DistributedType.MULTI_CPU or not parse_flag_from_env("ACCELERATE_USE_FSDP"):
        return
    plugin = FullyShardedDataParallelPlugin()  # from the FSDP_* variables `accelerate launch` sets
    if state.mixed_precision != "no":
        plugin.set_mixed_precision(state.mixed_precision)
    state.distributed_type = DistributedType.FSDP
    state.fsdp_plugin = plugin
    PartialState().distributed_type = DistributedType.FSDP  # as accelerate does on GPUs (AcceleratorState re-reads it)

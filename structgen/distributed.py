"""Multi-process data-parallel training under ``torchrun``.

``torchrun --nproc-per-node N -m structgen run CONFIG`` sets ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK``. Each process then trains on its own batches,
and the gradients of every update are averaged across processes before the
optimizer steps. DistributedDataParallel does the same for a single model.
Averaging explicitly instead of wrapping each network lets a strategy run
any number of models and updates per step (a GAN's alternating ones)
without DDP's one-forward-one-backward contract.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)


def world_size() -> int:
    """Number of training processes; 1 when not distributed."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank; 0 when not distributed. Only rank 0 writes files."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def init_from_environment(device: torch.device) -> torch.device:
    """Join the process group that ``torchrun`` describes in the environment, if any.

    Uses NCCL for CUDA devices and gloo otherwise; on CUDA each process takes
    the device of its ``LOCAL_RANK``. Returns the device this process uses.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return device
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        logger.info("joined process group: rank %d of %d (%s)", dist.get_rank(), dist.get_world_size(), backend)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def average_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Average the gradients of ``parameters`` over all processes (no-op in one process)."""
    size = world_size()
    if size == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= size
    offset = 0
    for g in grads:
        count = g.numel()
        g.copy_(flat[offset : offset + count].view_as(g))
        offset += count


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Copy rank 0's weights and buffers to every process so all start equal."""
    if world_size() == 1:
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)

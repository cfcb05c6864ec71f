"""Several processes, one training run: ``torchrun`` and DistributedDataParallel.

Under ``torchrun --nproc_per_node N`` (which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the
rendezvous address), :func:`init_from_env` joins the process group (``nccl`` on CUDA, ``gloo`` on
CPU) and picks each rank's GPU.  :func:`blur2vid.training.loop.fit` then

* wraps the model in :class:`~torch.nn.parallel.DistributedDataParallel`, so every rank ends each
  step with the same averaged gradient and the same weights;
* gives rank ``r`` the ``r``-th of ``N`` equal slices of the step's batch (:func:`shard`): the run
  sees the same global batches as one process would, so it is still a function of its config, and
  with a loss that is a mean over samples it takes the same steps as a single process with the
  global batch (up to floating-point order);
* lets rank 0 alone write checkpoints, logs and progress bars, and waits for it (:func:`barrier`)
  before any rank reads a checkpoint back.

Without ``torchrun`` (or with one process) every function here is a no-op, so one code path serves
a laptop and a cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
import torch.distributed as dist

from blur2vid.data.sample import Batch

__all__ = ["init_from_env", "is_distributed", "rank", "world_size", "is_main", "barrier", "shard",
           "average_gradients", "broadcast_object", "shutdown"]


def is_distributed() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Rank 0, or the only process: the one that writes files and shows progress."""
    return rank() == 0


def init_from_env(device: str | torch.device = "auto") -> torch.device | None:
    """Join the process group ``torchrun`` describes in the environment (no-op without it, or with
    ``WORLD_SIZE=1``).  Returns this rank's device when it chose one (``cuda:LOCAL_RANK`` when the
    run is on CUDA), else ``None``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or is_distributed():
        return None
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    cuda = str(device).startswith("cuda") or (str(device) == "auto" and torch.cuda.is_available())
    chosen = None
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise RuntimeError(f"LOCAL_RANK={local} but this machine has {torch.cuda.device_count()} CUDA device(s)")
        torch.cuda.set_device(local)
        chosen = torch.device("cuda", local)
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return chosen


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def shard(batch: Batch) -> Batch:
    """This rank's equal slice of a global ``batch`` (the whole batch with one process).  Per-sample
    entries of ``meta`` (tensors and lists as long as the batch) are sliced with it."""
    n, world = len(batch), world_size()
    if world == 1:
        return batch
    if n % world:
        raise ValueError(f"a batch of {n} cannot be split evenly over {world} processes; make the batch a "
                         f"multiple of the process count")
    k = n // world
    lo, hi = rank() * k, (rank() + 1) * k
    meta = {key: (value[lo:hi] if isinstance(value, (torch.Tensor, list, tuple)) and len(value) == n else value)
            for key, value in batch.meta.items()}
    return Batch(batch.blur[lo:hi], batch.frames[lo:hi], meta)


def average_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Average the gradients of ``parameters`` over the ranks, for a module updated outside the
    DistributedDataParallel wrapper (a discriminator stepped inside the loss)."""
    if not is_distributed():
        return
    world = world_size()
    for p in parameters:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(world)


def broadcast_object(value):
    """Rank 0's ``value`` on every rank (a measured step count, say)."""
    if not is_distributed():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]

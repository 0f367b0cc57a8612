"""Data parallelism through `torch.distributed`, set up from `torchrun`'s environment.

`torchrun --nproc_per_node N -m gumbel_softmax train vae ...` starts N processes
with `RANK`/`WORLD_SIZE`/`LOCAL_RANK` set; each takes every N-th image of the
global minibatch, and after each backward pass the gradients are averaged with
one `all_reduce` (gloo on CPU, NCCL on CUDA), which is what
`DistributedDataParallel` does. We average explicitly instead of wrapping the
model because estimators call the decoder several times per step (RELAX, MuProp,
RLOO), which DDP's one-forward-one-backward hooks do not allow. Only rank 0 writes
files. Without those variables everything here is a no-op (one process).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = [
    "World", "setup", "teardown", "check_device",
    "average_gradients", "mean_over_ranks", "gather_objects", "disagreement",
]


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, batch: Tensor) -> Tensor:
        """This rank's part of the global minibatch `batch`: every `size`-th row from row `rank`.

        The ranks' parts are disjoint and together cover `batch`; they have equal sizes (the
        gradient average over ranks is then the global minibatch's mean), so `len(batch)` must be
        a multiple of `size`.
        """
        if len(batch) % self.size:
            raise ValueError(f"--batch-size {len(batch)} is not divisible by the {self.size} processes; "
                             f"use a multiple of {self.size}")
        return batch[self.rank :: self.size]


def check_device(name: str) -> torch.device:
    """`torch.device(name)`, or a `ValueError` that says what to pass instead."""
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"--device {name!r} is not a device ({error}); use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name} asks for CUDA, but this PyTorch sees no CUDA device; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                         f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return device


def setup(device: str) -> tuple[World, torch.device]:
    """Join the process group when launched by torchrun; return the world and this process's device."""
    chosen = check_device(device)
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World(), chosen
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    kind = chosen.type
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if kind == "cuda" else "gloo")
    if kind == "cuda":
        torch.cuda.set_device(world.local_rank)
        return world, torch.device("cuda", world.local_rank)
    return world, chosen


def teardown(finished: bool = False) -> None:
    """Leave the process group, if this process joined one.

    A rank that exits with the group still up, or tears it down while another rank still talks to it, can
    abort in the backend's threads ("terminate called without an active exception", seen with gloo on a
    loaded machine). After a run that `finished` on every rank, all ranks meet at a barrier first; after a
    failure they do not (another rank may never get there).
    """
    if dist.is_available() and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def _flat(tensors: Sequence[Tensor]) -> Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def average_gradients(params: Sequence[nn.Parameter], world: World) -> None:
    """Replace each gradient by its mean over the ranks (missing gradients count as zero)."""
    if not world.distributed:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = _flat(grads)
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for p in params:
        p.grad = flat[offset : offset + p.numel()].view_as(p).clone()
        offset += p.numel()


def mean_over_ranks(value: float, world: World, device: torch.device) -> float:
    """The mean of a scalar over the ranks (for logging the loss of the global batch)."""
    if not world.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t) / world.size


def gather_objects(obj: object, world: World) -> list[object]:
    """Every rank's `obj` (picklable), in rank order; `[obj]` in one process."""
    if not world.distributed:
        return [obj]
    gathered: list[object] = [None] * world.size
    dist.all_gather_object(gathered, obj)
    return gathered


def disagreement(params: Sequence[Tensor], world: World) -> float:
    """`max |theta_rank - theta_0|` over ranks and parameters: 0.0 when the replicas agree exactly."""
    if not world.distributed:
        return 0.0
    mine = _flat([p.detach() for p in params]).double()
    reference = mine.clone()
    dist.broadcast(reference, src=0)
    gap = (mine - reference).abs().max().reshape(1)
    dist.all_reduce(gap, op=dist.ReduceOp.MAX)
    return float(gap)

"""Data parallelism: the process group a launcher describes (``torchrun``: RANK / WORLD_SIZE), the device of this
process and the few collectives the trainer needs (each a no-op in a single process)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class Dist:
    """This process's place in the group: ``rank`` of ``world`` processes."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def broadcast_tensors(self, tensors: list[torch.Tensor]) -> None:
        """Rank 0's values of ``tensors`` on every rank (in place)."""
        if self.world > 1:
            import torch.distributed as dist

            for t in tensors:
                dist.broadcast(t.data, 0)

    def from_main(self, value: float, device: torch.device) -> float:
        """Rank 0's ``value`` on every rank (decisions taken from a clock must agree across ranks)."""
        if self.world == 1:
            return value
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64, device=device)
        dist.broadcast(t, 0)
        return float(t.item())

    def all_reduce(self, t: torch.Tensor) -> None:
        """Sum ``t`` over ranks (in place)."""
        if self.world > 1:
            import torch.distributed as dist

            dist.all_reduce(t)

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order."""
        if self.world == 1:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        """Leave the process group once every rank is done."""
        import torch.distributed as dist

        if self.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def init_distributed(device: torch.device) -> Dist:
    """Join the process group that a launcher describes through RANK / WORLD_SIZE (no-op when absent)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return Dist(dist.get_rank(), dist.get_world_size())
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size())


def pick_device(name: str | None, rank: int = 0) -> torch.device:
    """``name``, else this process's GPU (``LOCAL_RANK``) if there is one, else the CPU."""
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", rank))
        return torch.device("cuda", local % torch.cuda.device_count())
    return torch.device("cpu")


def setup(requested: str | None) -> tuple[torch.device, Dist]:
    """This process's device and group: joins the group first, then takes the GPU of its local rank (unless a
    device was requested) and makes it current (NCCL's object collectives use the current device)."""
    device = pick_device(requested)
    dist = init_distributed(device)
    if device.type == "cuda" and requested is None:
        device = pick_device(None, dist.rank)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    return device, dist

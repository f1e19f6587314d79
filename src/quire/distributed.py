"""Training in several processes (PyTorch DDP) under torchrun or Slurm's srun.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT. A step
started by srun (``srun -n N quire … train``) sets SLURM_PROCID, SLURM_STEP_NUM_TASKS
and SLURM_LOCALID instead; they are read the same way, with the address of the
host that launched the step (or MASTER_ADDR when set) as the meeting point. GPUs
meet over NCCL, CPUs over gloo.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

log = logging.getLogger("quire")

DEFAULT_PORT = 29500


def _from_slurm() -> None:
    """Fill torchrun's variables from an srun step of several tasks."""
    tasks = int(os.environ.get("SLURM_STEP_NUM_TASKS", "1"))
    if "WORLD_SIZE" in os.environ or tasks == 1:
        return
    os.environ["WORLD_SIZE"] = str(tasks)
    os.environ["RANK"] = os.environ["SLURM_PROCID"]
    os.environ["LOCAL_RANK"] = os.environ.get("SLURM_LOCALID", "0")
    os.environ.setdefault("MASTER_ADDR", os.environ.get("SLURM_LAUNCH_NODE_IPADDR", "127.0.0.1"))
    job = int(os.environ.get("SLURM_JOB_ID", "0"))
    os.environ.setdefault("MASTER_PORT", str(DEFAULT_PORT + job % 1000))


@dataclass
class Distributed:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1

    @classmethod
    def start(cls, device: torch.device) -> tuple[Distributed, torch.device]:
        """Join the process group (when there is more than one process) and pick the
        device of this process: its local GPU, or ``device`` as it is."""
        _from_slurm()
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls(), device
        import torch
        import torch.distributed as dist

        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank = dist.get_rank()
        if rank:
            log.setLevel(logging.WARNING)
        return cls(rank, world), device

    @property
    def main(self) -> bool:
        return self.rank == 0

    def share(self, batches: list[list[int]]) -> list[list[int]]:
        """This process's batches: every world-th, the same count in every process."""
        count = len(batches) // self.world
        return batches[self.rank :: self.world][:count]

    def wrap(self, net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """``net`` as DDP when there are several processes, else as it is."""
        if self.world == 1:
            return net
        import torch

        return torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )

    def agree(self, stop: bool, device: torch.device) -> bool:
        """Process 0's decision, for every process."""
        if self.world == 1:
            return stop
        import torch
        import torch.distributed as dist

        flag = torch.tensor([int(stop)], device=device)
        dist.broadcast(flag, 0)
        return bool(flag.item())

    def stop(self, completed: bool = False) -> None:
        """Leave the process group (once: later calls do nothing). After a completed
        run every process first waits for the others, so none leaves while a peer's
        last messages are still on their way; a failed run leaves at once, since
        the process that failed will not come."""
        if self.world == 1:
            return
        import torch.distributed as dist

        if dist.is_initialized():
            if completed:
                dist.barrier()
            dist.destroy_process_group()

"""torchrun helpers: process-group setup from the environment and data-parallel gradient averaging.

Gradients are averaged with one all-reduce per optimizer step instead of wrapping the networks in
DistributedDataParallel: the gradient penalty differentiates through the critic twice
(torch.autograd.grad with create_graph), which DDP does not support, and a critic step calls the
critic several times before one backward. Every rank starts from rank 0's weights (broadcast), so
equal averaged gradients keep the weights identical.

Stop requests (torchrun forwards SIGTERM to every rank and kills them about 30 s later) are agreed
on after every iteration by an all-reduce of one flag over a CPU (gloo) group, so the ranks stop at
the same iteration, at most one iteration after the signal, without a GPU synchronisation per step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    stop_group: object = field(default=None, repr=False)  # gloo group for the per-iteration stop flag

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_type: str) -> DistInfo:
    """Join the torchrun process group when WORLD_SIZE > 1 (NCCL on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(info.local_rank)
            # device_id binds this rank's GPU to the group at once (NCCL creates its communicator
            # eagerly, and a collective can never pick another rank's GPU).
            dist.init_process_group("nccl", device_id=torch.device("cuda", info.local_rank))
        else:
            dist.init_process_group("gloo")
    info.stop_group = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else None
    return info


def teardown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_module(module: nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not info.enabled:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, 0)


def average_gradients(params: list[nn.Parameter], info: DistInfo) -> None:
    """Average .grad over ranks with one flattened all-reduce (every rank gets identical bits)."""
    if not info.enabled:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat.div_(info.world_size)
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def average_buffers(module: nn.Module, info: DistInfo) -> None:
    """Average floating-point buffers (BatchNorm running statistics) over ranks, e.g. before saving."""
    if not info.enabled:
        return
    for b in module.buffers():
        if b.is_floating_point():
            dist.all_reduce(b.data)
            b.data.div_(info.world_size)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank when `flag` is True on some rank (collective; a CPU all-reduce, no GPU sync)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=info.stop_group)
    return bool(t.item())


def from_rank0(value, info: DistInfo):
    """Rank 0's `value` on every rank (collective; picklable values; also a barrier)."""
    if not info.enabled:
        return value
    box = [value if info.is_main else None]
    dist.broadcast_object_list(box, src=0, group=info.stop_group)
    return box[0]


def weights_digest(modules: list[nn.Module]) -> str:
    """SHA-256 of the parameters' bytes (identical on every rank when data parallelism is correct)."""
    import hashlib
    h = hashlib.sha256()
    for m in modules:
        for p in m.parameters():
            h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def gather_digests(modules: list[nn.Module], info: DistInfo) -> list[str]:
    """Every rank's weights_digest, in rank order (collective: all ranks must call it)."""
    mine = weights_digest(modules)
    if not info.enabled:
        return [mine]
    out: list = [None] * info.world_size
    dist.all_gather_object(out, mine)
    return out

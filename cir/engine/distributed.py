"""Data-parallel training: one process per GPU (or several CPU processes), started by torchrun.

``workflow_scripts/train.py --nproc-per-node k`` (k > 1) runs itself under torchrun's launcher
(``torchrun --standalone --nproc_per_node k``); each worker joins the process group here and the
trainer (:class:`cir.engine.trainer.Trainer`) splits every global batch between the ranks:

* rank ``r`` of ``k`` trains on rows ``[r * b / k, (r + 1) * b / k)`` of the global batch of
  ``b`` samples (``PatchSampler.batch(step, rank, k)``), so the preset's ``batch_size`` stays the
  global batch;
* the student is wrapped in ``DistributedDataParallel`` for the method's forward and backward
  passes, which averages the gradients over the ranks; a mean loss over ``b / k`` samples
  averaged over ``k`` ranks is the mean over the global batch, so a step equals the
  single-process step up to float rounding (different summation order);
* every other trainable parameter a method owns (e.g. MiPKD's mixers) gets its gradients
  averaged here after the backward pass;
* all ranks then run the same optimiser step on the same gradients, so the weights, the weight
  EMA and method state derived from them (DCKD's history model) stay identical; the initial
  weights and method state are broadcast from rank 0, and every checkpoint compares a digest
  of the weights across ranks;
* rank 0 alone writes checkpoints, logs, TensorBoard events and the model file.

Backend: NCCL on CUDA, gloo on the CPU (tests). Small control messages (the preemption flag,
the weight digest) go through a gloo group so that they never wait on the GPU stream.

Random numbers drawn inside a method's step (DCKD's degradations) are seeded per step *and*
rank (:func:`step_seed`); rank 0 uses the single-process seed. A data-parallel run of such a
method is therefore a well-defined function of (seed, world size) and matches a
single-process run in distribution, not bit for bit.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from cir.engine import preempt
from cir.errors import ConfigError
from cir.utils.device import resolve_device

SHUTDOWN_TIMEOUT = 300  # seconds torchrun waits for workers to checkpoint after a signal


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_info() -> DistInfo:
    """Rank and world size from the variables torchrun sets (a single process without them)."""
    def read(name: str, default: int) -> int:
        value = os.environ.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError as exc:
            raise ConfigError(f"environment variable {name}={value!r} is not an integer") from exc

    info = DistInfo(read("RANK", 0), read("WORLD_SIZE", 1), read("LOCAL_RANK", 0))
    if info.world_size < 1 or not 0 <= info.rank < info.world_size:
        raise ConfigError(f"environment: RANK={info.rank} is not a rank of WORLD_SIZE={info.world_size}")
    return info


def in_worker() -> bool:
    """True inside a process started by torchrun (or another launcher that sets LOCAL_RANK)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def step_seed(seed: int, step: int, rank: int = 0) -> int:
    """The seed of the global RNG for ``step`` on ``rank``; rank 0 keeps the single-process seed."""
    if rank == 0:
        return seed * 1_000_003 + step
    words = np.random.SeedSequence([int(seed), int(step), int(rank)]).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


# -- launching -----------------------------------------------------------------------------------
def launch(script: str | os.PathLike, argv: list[str], nproc: int) -> int:
    """Run ``python script argv...`` in ``nproc`` processes under torchrun's launcher
    (``torchrun --standalone --nproc_per_node nproc``) and return the job's exit code:
    0 on success, :data:`~cir.engine.preempt.PREEMPT_EXIT_CODE` when the workers stopped on a
    signal after writing a checkpoint, else the exit code of the first failed rank.

    torchrun forwards SIGTERM and SIGUSR1 to the workers and waits up to
    :data:`SHUTDOWN_TIMEOUT` seconds for them to finish their step and checkpoint.
    """
    from torch.distributed.elastic.multiprocessing import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    if nproc < 2:
        raise ConfigError(f"--nproc-per-node {nproc}: a data-parallel launch needs at least 2 processes")
    signals = "SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1"
    torchrun_argv = ["--standalone", f"--nproc_per_node={nproc}", f"--signals-to-handle={signals}",
                     f"--shutdown-timeout={SHUTDOWN_TIMEOUT}", str(script), *argv]
    print(f"[cir] torchrun {' '.join(torchrun_argv)}", file=sys.stderr, flush=True)
    report_dir = tempfile.mkdtemp(prefix="cir-launch-")
    report = os.path.join(report_dir, "preempted.json")  # rank 0 writes it only when it stops on a signal
    old = os.environ.get(preempt.REPORT_ENV)
    os.environ[preempt.REPORT_ENV] = report
    code = 0
    try:
        run(parse_args(torchrun_argv))
    except ChildFailedError as exc:
        ranks = sorted(exc.failures)
        code = exc.failures[ranks[0]].exitcode if ranks else 1
        code = code if 0 < code < 256 else 1
    except SignalException as exc:
        print(f"[cir] torchrun stopped by {exc.sigval.name}", file=sys.stderr, flush=True)
        code = 128 + int(exc.sigval)
    finally:
        if old is None:
            os.environ.pop(preempt.REPORT_ENV, None)
        else:
            os.environ[preempt.REPORT_ENV] = old
        note = preempt.read_report(report)
        shutil.rmtree(report_dir, ignore_errors=True)
    if note is not None:
        print(f"[cir] workers checkpointed at step {note['step']} after a signal; exit code "
              f"{preempt.PREEMPT_EXIT_CODE}", file=sys.stderr, flush=True)
        return preempt.PREEMPT_EXIT_CODE
    return code


# -- inside a worker -----------------------------------------------------------------------------
class _StudentCall:
    """Stands in for ``method.student`` during a data-parallel step: calling it runs the network
    through its ``DistributedDataParallel`` wrapper (so the backward pass averages gradients);
    every other attribute is the network's own, so a method that hooks into its layers (feature
    taps, output capture) sees the usual layer names."""

    def __init__(self, module: nn.Module, ddp: nn.Module):
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_ddp", ddp)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ddp(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._module, name, value)


def _tensors(obj: Any) -> Iterator[torch.Tensor]:
    """Every tensor inside nested dicts / lists / tuples, in a fixed order."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for key in obj:
            yield from _tensors(obj[key])
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors(item)


class DataParallel:
    """The process group as the trainer uses it. Build it with :func:`setup`."""

    def __init__(self, info: DistInfo, device: torch.device):
        self.info, self.device = info, device
        self.backend = dist.get_backend()
        self.control = dist.new_group(backend="gloo") if self.backend != "gloo" else dist.group.WORLD
        self._student: nn.Module | None = None
        self._ddp: nn.Module | None = None

    @property
    def rank(self) -> int:
        return self.info.rank

    @property
    def world_size(self) -> int:
        return self.info.world_size

    @property
    def is_main(self) -> bool:
        return self.info.is_main

    # -- state --------------------------------------------------------------------------------
    def _comm_tensor(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` on a device the backend accepts (NCCL needs CUDA tensors)."""
        if self.backend == "nccl" and t.device.type != "cuda":
            return t.to(self.device)
        return t

    @torch.no_grad()
    def broadcast_(self, obj: Any, src: int = 0) -> None:
        """Overwrite every tensor in ``obj`` (a state dict, possibly nested) with rank ``src``'s."""
        for t in _tensors(obj):
            buf = self._comm_tensor(t)
            dist.broadcast(buf, src)
            if buf is not t:
                t.copy_(buf)

    @torch.no_grad()
    def average_grads_(self, params: Iterable[nn.Parameter]) -> None:
        """Average the gradients of ``params`` over the ranks (one flat all-reduce).

        A parameter without a gradient on some ranks (a branch a rank's random draw skipped)
        counts as a zero gradient there; one without a gradient on every rank keeps none, as
        in a single process (the optimiser then skips it).
        """
        params = list(params)
        if not params:
            return
        has = torch.tensor([p.grad is not None for p in params], dtype=torch.uint8)
        dist.all_reduce(has, op=dist.ReduceOp.MAX, group=self.control)
        used = [p for p, h in zip(params, has.tolist()) if h]
        if not used:
            return
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in used])
        flat = self._comm_tensor(flat)
        dist.all_reduce(flat)
        flat.div_(self.world_size)
        offset = 0
        for p in used:
            g = flat[offset: offset + p.numel()].view_as(p).to(p.device)
            if p.grad is None:
                p.grad = g.clone()
            else:
                p.grad.copy_(g)
            offset += p.numel()

    @torch.no_grad()
    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean over ranks of a tensor of values (e.g. the stacked loss terms)."""
        out = values.detach().clone()
        dist.all_reduce(out)
        return out.div_(self.world_size)

    def max(self, value: int) -> int:
        """The largest of the ranks' integers ``value``, on every rank."""
        t = torch.tensor([int(value)], dtype=torch.int64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.control)
        return int(t.item())

    def agree(self, value: int, what: str) -> None:
        """Raise unless every rank holds the same integer ``value``."""
        t = torch.tensor([value, -value], dtype=torch.int64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.control)
        if int(t[0]) != -int(t[1]):
            raise RuntimeError(f"ranks disagree on {what}: values from {-int(t[1])} to {int(t[0])} "
                               f"(rank {self.rank} has {value})")

    @torch.no_grad()
    def check_in_sync(self, module: nn.Module, what: str) -> None:
        """Raise if the weights of ``module`` differ between ranks (compares a float64 digest)."""
        parts = [p.detach().double() for p in module.parameters()]
        digest = torch.stack([torch.stack([p.sum(), p.abs().sum(), (p * p).sum()]) for p in parts]).sum(0) \
            if parts else torch.zeros(3, dtype=torch.float64)
        digest = digest.cpu()
        gathered = [torch.empty_like(digest) for _ in range(self.world_size)]
        dist.all_gather(gathered, digest, group=self.control)
        if any(not torch.equal(g, gathered[0]) for g in gathered):
            raise RuntimeError(f"{what}: the weights differ between ranks "
                               f"(digests {[g.tolist() for g in gathered]})")

    def barrier(self) -> None:
        dist.barrier(group=self.control)

    # -- the student during a step -------------------------------------------------------------
    def wrap(self, student: nn.Module) -> None:
        """Wrap ``student`` in DistributedDataParallel (its states are broadcast from rank 0)."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        # buffers (e.g. relative-position tables) are constants here: no per-step buffer sync
        # (the keyword is forward_sync_buffers in newer torch, broadcast_buffers before)
        params = inspect.signature(DistributedDataParallel.__init__).parameters
        no_sync = {"forward_sync_buffers": False} if "forward_sync_buffers" in params else {"broadcast_buffers": False}
        self._student = student
        self._ddp = DistributedDataParallel(student, device_ids=ids, **no_sync)

    @contextlib.contextmanager
    def student_calls(self, method) -> Iterator[None]:
        """Within the block, ``method.student(x)`` runs through the DDP wrapper."""
        if self._ddp is None or method.student is not self._student:
            raise RuntimeError("DataParallel.wrap(method.student) must come before a step")
        method.student = _StudentCall(self._student, self._ddp)
        try:
            yield
        finally:
            method.student = self._student


def setup(device_name: str) -> tuple[DataParallel | None, torch.device]:
    """Join the process group of a torchrun launch (NCCL on CUDA, else gloo) and pick this
    rank's device; outside a launch, ``(None, device)``."""
    info = env_info()
    device = resolve_device(device_name)
    if not info.enabled:
        return None, device
    if device.type == "cuda":
        if info.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK={info.local_rank} but only {torch.cuda.device_count()} CUDA "
                              "device(s) are visible; --nproc-per-node must not exceed the GPUs")
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return DataParallel(info, device), device


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def per_rank_threads(threads: int | None, world_size: int) -> int | None:
    """CPU threads for one rank when a job of ``threads`` threads runs ``world_size`` ranks."""
    if not threads:
        return None
    return max(1, int(threads) // max(1, world_size))

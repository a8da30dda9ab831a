"""The training loop shared by every method.

The method declares its networks and supplies named loss terms per trainable group
(:mod:`cir.engine.method`); the trainer owns the rest: one optimiser, schedule and clipping per
group, one phase per group in each step, seeding, bf16 autocast and channels_last on CUDA, weight
EMA of the student, validation, atomic checkpoints with automatic resume keyed by the run identity
(a finished run's checkpoint becomes ``final.pt`` and is never resumed), one training process per
run folder (a lock), progress and logs.

Resume is exact: the data batch and the global RNG at step ``t`` are functions of
(seed, t) only, so a job killed after its checkpoint at step k and started again ends
with the same weights as an uninterrupted run (on CPU).

SIGTERM / SIGUSR1 (cluster preemption, time limit) stop the loop after the current step with
a checkpoint and :class:`cir.engine.preempt.Preempted` (see that module). With a
:class:`cir.engine.distributed.DataParallel` the same loop runs on every rank of a
data-parallel job (see :mod:`cir.engine.distributed`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from cir.engine import checkpoint as ckpt
from cir.engine import preempt
from cir.engine.distributed import DataParallel, step_seed
from cir.engine.ema import ModelEMA
from cir.engine.logs import RunLogger
from cir.engine.method import Method, PhaseOutput, TrainingDiverged, freeze
from cir.engine.optim import build_optimizer, build_scheduler
from cir.models import model_spec
from cir.utils.device import resolve_device


@dataclass
class TrainSettings:
    iterations: int
    batch_size: int
    optimizer: dict
    scheduler: dict
    ema_decay: float = 0.0
    grad_clip: float | None = None
    checkpoint_every: int = 1000
    val_every: int = 1000
    log_every: int = 100
    seed: int = 0
    device: str = "auto"
    amp_bf16: bool = True          # bf16 autocast, CUDA only
    channels_last: bool = True     # CUDA only
    tensorboard: bool = True
    progress: bool = True
    # per trainable group: {"d": {"optimizer": {...}, "scheduler": {...}, "grad_clip": x}}; a group
    # without an entry (and any key an entry leaves out) takes the values above
    groups: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # anything else that must match on resume

    def group(self, name: str) -> dict[str, Any]:
        """Optimiser, scheduler and clipping of trainable group ``name``."""
        own = self.groups.get(name, {})
        return {"optimizer": {**self.optimizer, **own.get("optimizer", {})} if "optimizer" in own else self.optimizer,
                "scheduler": own.get("scheduler", self.scheduler),
                "grad_clip": own.get("grad_clip", self.grad_clip)}

    def fingerprint(self, method: Method) -> str:
        """The run identity when the caller gives none: these settings, the method and its options."""
        keep = {k: v for k, v in asdict(self).items() if k not in ("device", "tensorboard", "progress")}
        blob = json.dumps([keep, method.name, method.options, model_spec(method.student)],
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Trainer:
    """``Trainer(method, sampler, settings, run_dir).fit(out)`` trains and writes the model file.

    ``identity`` names the run (the job's spec hash plus the digests of its input files, see
    :mod:`cir.spec`): a checkpoint is resumed only when it carries the same identity.
    """

    def __init__(self, method: Method, sampler, settings: TrainSettings, run_dir: str | Path, *,
                 validate: Callable[[torch.nn.Module], dict[str, float]] | None = None,
                 meta: dict[str, Any] | None = None, parallel: DataParallel | None = None,
                 device: torch.device | None = None, identity: str | None = None):
        self.method, self.sampler, self.s = method, sampler, settings
        self.run_dir = Path(run_dir)
        self.validate = validate
        self.meta = dict(meta or {})
        self.parallel = parallel
        self.rank = parallel.rank if parallel else 0
        self.world_size = parallel.world_size if parallel else 1
        self.is_main = self.rank == 0
        self.device = device if device is not None else (parallel.device if parallel else
                                                         resolve_device(settings.device))
        self.cuda = self.device.type == "cuda"
        self.networks = method.trainable()
        if list(self.networks) != list(method.groups) or self.networks["g"][0] is not method.student:
            raise ValueError(f"method {method.name!r}: trainable() must give the groups {method.groups} in "
                             f"order, the student first in 'g'; got {list(self.networks)}")
        self.frozen = method.frozen()
        method.to(self.device)
        for net in self.frozen.values():
            freeze(net)
        if self.cuda and settings.channels_last:
            for net in [*self._all_trainable(), *self.frozen.values()]:
                net.to(memory_format=torch.channels_last)
        self.student = method.student
        if parallel is not None:
            if settings.batch_size % self.world_size:
                raise ValueError(f"batch_size {settings.batch_size} is not divisible by the "
                                 f"{self.world_size} data-parallel processes")
            # every rank starts from rank 0's weights and method state (history models, ...)
            for owner in (*self._all_trainable(), method):
                state = owner.state_dict()
                parallel.broadcast_(state)
                owner.load_state_dict(state)
            parallel.wrap(self.student)
        self.group_settings = {g: settings.group(g) for g in method.groups}
        self.optimizers = {g: build_optimizer(method.trainable_parameters(g), self.group_settings[g]["optimizer"])
                           for g in method.groups}
        self.schedulers = {g: build_scheduler(self.optimizers[g], self.group_settings[g]["scheduler"],
                                              settings.iterations) for g in method.groups}
        self.optimizer = self.optimizers["g"]
        self.ema = ModelEMA(self.student, settings.ema_decay) if settings.ema_decay > 0 else None
        student_ids = {id(p) for p in self.student.parameters()}
        # trainable parameters outside the DDP-wrapped student (a critic, MiPKD's mixers): averaged by hand
        self._hand_averaged = {g: [p for p in method.trainable_parameters(g) if id(p) not in student_ids]
                               for g in method.groups}
        self.identity = identity or settings.fingerprint(method)
        self.ckpt_path = self.run_dir / "checkpoints" / "last.pt"
        self.final_path = self.run_dir / "checkpoints" / "final.pt"
        self.step = 0
        self.timings = {"train_seconds": 0.0}
        self.step_timer = None   # set by the benchmark (cir.engine.bench.StepTimer)

    def _all_trainable(self) -> list[torch.nn.Module]:
        return [m for modules in self.networks.values() for m in modules]

    @property
    def log_names(self) -> list[str]:
        """Columns of the training log besides ``loss`` (the total of group ``g``)."""
        return [*(f"loss_{g}" for g in self.method.groups[1:]), *self.method.loss_names]

    # -- checkpoints ---------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "step": self.step,
            "student": self.student.state_dict(),
            "trainable": {g: [m.state_dict() for m in mods if m is not self.student]
                          for g, mods in self.networks.items()},
            "optimizers": {g: o.state_dict() for g, o in self.optimizers.items()},
            "schedulers": {g: s.state_dict() for g, s in self.schedulers.items()},
            "ema": self.ema.state_dict() if self.ema else None,
            "method": self.method.state_dict(),
            "timings": self.timings,
        }

    def save_checkpoint(self) -> None:
        """Rank 0 writes the checkpoint; in a data-parallel run every rank first checks that the
        weights of every trainable group agree."""
        if self.parallel is not None:
            for g, mods in self.networks.items():
                for i, m in enumerate(mods):
                    self.parallel.check_in_sync(m, f"{self.run_dir} group {g!r} network {i} at step {self.step}")
        if self.is_main:
            ckpt.save(self.ckpt_path, self._state())

    def try_resume(self) -> bool:
        """Resume from the checkpoint if it exists and carries this run's identity.

        In a data-parallel run rank 0 looks first (it moves a stale checkpoint aside), then the
        other ranks load the same file; all must end at the same step.
        """
        if self.parallel is None:
            return self._try_resume()
        resumed = self._try_resume() if self.is_main else False
        self.parallel.barrier()
        if not self.is_main:
            resumed = self._try_resume()
        self.parallel.agree(self.step, f"the step to resume {self.ckpt_path} from")
        return resumed

    def _try_resume(self) -> bool:
        if not self.ckpt_path.exists():
            return False
        state = ckpt.load(self.ckpt_path)
        if state.get("identity") != self.identity:
            stale = self.ckpt_path.with_name(f"stale-{state.get('identity', 'unknown')}.pt")
            os.replace(self.ckpt_path, stale)
            print(f"[cir] {self.ckpt_path} belongs to another run (its spec or input files differ); moved to "
                  f"{stale.name}, starting from step 0", file=sys.stderr)
            return False
        self.student.load_state_dict(state["student"])
        for g, mods in self.networks.items():
            for m, sd in zip([m for m in mods if m is not self.student], state["trainable"][g], strict=True):
                m.load_state_dict(sd)
            self.optimizers[g].load_state_dict(state["optimizers"][g])
            self.schedulers[g].load_state_dict(state["schedulers"][g])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.method.load_state_dict(state["method"])
        self.step = int(state["step"])
        self.timings = state.get("timings", self.timings)
        if self.is_main:
            print(f"[cir] resumed from {self.ckpt_path} at step {self.step}", file=sys.stderr)
        return True

    # -- the loop --------------------------------------------------------------------------
    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        fmt = torch.channels_last if (self.cuda and self.s.channels_last) else torch.contiguous_format
        # images in the memory format of the networks; other entries (a labelled batch's task ids) as they are
        return {k: v.to(self.device, non_blocking=True, memory_format=fmt) if v.dim() == 4
                else v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def _batch(self) -> dict[str, torch.Tensor]:
        if self.world_size == 1:
            return self.sampler.batch(self.step)
        return self.sampler.batch(self.step, self.rank, self.world_size)

    def train_step(self) -> dict[str, torch.Tensor]:
        """One training step: one phase (forward, backward, optimiser step) per trainable group, in
        the method's order; returns the logged values as tensors (no host sync here)."""
        # step-local randomness (exact resume); per rank in a data-parallel run
        torch.manual_seed(step_seed(self.s.seed, self.step, self.rank))
        timer = self.step_timer
        if timer is not None:
            timer.mark()
        batch = self._to_device(self._batch())
        if timer is not None:
            timer.mark("data")
        for m in self._all_trainable():
            m.train()
        context: dict[str, Any] = {}
        logged: dict[str, torch.Tensor] = {}
        totals: dict[str, torch.Tensor] = {}
        several = len(self.method.groups) > 1
        for g in self.method.groups:
            with contextlib.ExitStack() as stack:
                if several:
                    stack.enter_context(self._only_group(g))
                if self.parallel is not None and g == "g":
                    stack.enter_context(self.parallel.student_calls(self.method))
                with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=self.cuda and self.s.amp_bf16):
                    out = self.method.phase(g, batch, self.step, context)
                out = out if isinstance(out, PhaseOutput) else PhaseOutput(dict(out))
                total = sum(out.losses.values())
                suffix = "" if g == "g" else f"_{g}"   # the benchmark's parts per group (a critic's: _d)
                if timer is not None:
                    timer.mark(f"forward{suffix}")
                self.optimizers[g].zero_grad(set_to_none=True)
                total.backward()
            if timer is not None:
                timer.mark(f"backward{suffix}")
            if self.parallel is not None and self._hand_averaged[g]:
                self.parallel.average_grads_(self._hand_averaged[g])
            clip = self.group_settings[g]["grad_clip"]
            if clip:
                torch.nn.utils.clip_grad_norm_(list(self.method.trainable_parameters(g)), clip)
            self.optimizers[g].step()
            self.schedulers[g].step()
            if timer is not None:
                timer.mark(f"optimizer{suffix}")
            totals[g] = total
            logged.update(out.losses)
            logged.update(out.logs)
        if self.ema is not None:
            self.ema.update(self.student)
        self.step += 1
        self.method.after_step(self.step)
        if timer is not None:
            timer.mark("after_step")
        self._last_terms = {**{f"loss_{g}": totals[g] for g in self.method.groups[1:]}, **logged}
        self._last_total = totals["g"]
        return self._last_terms

    @contextlib.contextmanager
    def _only_group(self, group: str):
        """Within a phase, the parameters of the other groups take no gradients (a generator's loss
        runs through the critic without filling the critic's gradients)."""
        others = [p for g in self.method.groups if g != group for p in self.method.trainable_parameters(g)
                  if p.requires_grad]
        for p in others:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in others:
                p.requires_grad_(True)

    def _logged_values(self) -> tuple[float, dict[str, float]]:
        """The last step's total and logged values; averaged over the ranks in a data-parallel run
        (all ranks call this at the same steps)."""
        names = list(self._last_terms)
        stacked = torch.stack([self._last_total.detach().float(),
                               *(torch.as_tensor(self._last_terms[k]).detach().float().to(self.device)
                                 for k in names)])
        if self.parallel is not None:
            stacked = self.parallel.mean(stacked)
        values = stacked.tolist()
        return values[0], dict(zip(names, values[1:]))

    def eval_model(self) -> torch.nn.Module:
        return self.ema.shadow if self.ema is not None else self.student

    def run_validation(self, logger: RunLogger | None) -> dict[str, float]:
        if self.validate is None or logger is None:
            return {}
        model = self.eval_model()
        was_training = model.training
        model.eval()
        values = self.validate(model)
        model.train(was_training)
        logger.log_val(self.step, values)
        self.method.after_validation(self.step, values)
        return values

    def fit(self, out: str | Path) -> Path:
        """Train to ``settings.iterations`` (resuming if a checkpoint exists) and write ``out``.

        Raises :class:`~cir.engine.preempt.Preempted` after a checkpoint when SIGTERM or SIGUSR1
        arrives before the last step.
        """
        with contextlib.ExitStack() as stack:
            if self.is_main:
                stack.enter_context(run_lock(self.run_dir))
            return self._fit(out)

    def _fit(self, out: str | Path) -> Path:
        s = self.s
        self.try_resume()
        logger = None
        if self.is_main:
            # the validator's metrics (its `names`; PSNR/SSIM by default) are the validation log's columns
            logger = RunLogger(self.run_dir, loss_names=self.log_names, tensorboard=s.tensorboard,
                               val_names=tuple(getattr(self.validate, "names", ("psnr", "ssim"))))
            logger.start(self.step)
            where = f"rank 0 of {self.world_size}, " if self.world_size > 1 else ""
            print(f"[cir] training {self.meta.get('name', self.run_dir)} from step {self.step} to "
                  f"{s.iterations} ({where}{self.device})", file=sys.stderr, flush=True)
        bar = tqdm(total=s.iterations, initial=self.step, desc=self.meta.get("name", "train"),
                   disable=not (s.progress and self.is_main), mininterval=1.0 if sys.stderr.isatty() else 15.0,
                   file=sys.stderr, dynamic_ncols=True)
        t_window, n_window = time.perf_counter(), 0
        last_val: dict[str, float] = {}
        try:
            with preempt.SignalFlag() as flag:
                while self.step < s.iterations:
                    t0 = time.perf_counter()
                    self.train_step()
                    self.timings["train_seconds"] += time.perf_counter() - t0
                    n_window += 1
                    bar.update(1)
                    if self.step % s.log_every == 0 or self.step == s.iterations:
                        total, values = self._logged_values()
                        if not math.isfinite(total):
                            hint = self.method.divergence_hint()
                            raise TrainingDiverged(f"training diverged: the loss was {total} at step {self.step} "
                                                   f"(checked every {s.log_every} steps; terms {values})"
                                                   f"{'; ' + hint if hint else ''}")
                        rate = n_window / max(time.perf_counter() - t_window, 1e-9)
                        if logger is not None:
                            logger.log_train(self.step, {"loss": total, **values,
                                                         "lr": self.optimizers["g"].param_groups[0]["lr"],
                                                         "it_per_s": rate})
                        # refresh=False: the bar redraws at its own interval (a log file gets a
                        # line every 15 s, not one per logged step)
                        bar.set_postfix(loss=f"{total:.4f}", refresh=False,
                                        **({"psnr": f"{last_val['psnr']:.2f}"} if last_val else {}))
                        t_window, n_window = time.perf_counter(), 0
                    if self.step % s.val_every == 0 or self.step == s.iterations:
                        last_val = self.run_validation(logger)
                    saved = self.step % s.checkpoint_every == 0 or self.step == s.iterations
                    if saved:
                        self.save_checkpoint()
                    if self.step < s.iterations:
                        signum = self._stop_signal(flag)
                        if signum:
                            self._stop(signum, saved)
        finally:
            bar.close()
            if logger is not None:
                logger.close()
        if self.is_main:
            out = self.write_model_file(out, last_val)
            # a finished run's checkpoint is kept as final.pt and never resumed: deleting the model
            # file (e.g. snakemake --forcerun) trains again from step 0
            if self.ckpt_path.exists():
                os.replace(self.ckpt_path, self.final_path)
        out = Path(out)
        if self.parallel is not None:
            self.parallel.barrier()  # the model file exists before any rank reports success
        return out

    def _stop_signal(self, flag: preempt.SignalFlag) -> int:
        """The stop signal received (by any rank, in a data-parallel run), else 0."""
        received = flag.received or 0
        return self.parallel.max(received) if self.parallel is not None else received

    def _stop(self, signum: int, saved: bool) -> None:
        """Checkpoint now (unless this step just did) and raise Preempted on every rank."""
        if not saved:
            self.save_checkpoint()
        if self.is_main:
            print(f"[cir] {signal.Signals(signum).name}: stopped after step {self.step}, checkpoint "
                  f"{self.ckpt_path}", file=sys.stderr, flush=True)
            preempt.write_report(self.step, signum, self.ckpt_path)
        if self.parallel is not None:
            self.parallel.barrier()  # the checkpoint is complete before any rank exits
        raise preempt.Preempted(self.step, signum, self.ckpt_path)

    def write_model_file(self, out: str | Path, last_val: dict[str, float]) -> Path:
        meta = {
            **self.meta,
            "method": self.method.name,
            "options": self.method.options,
            "identity": self.identity,
            "iterations": self.s.iterations,
            "settings": asdict(self.s),
            "validation": last_val,
            "train_seconds": round(self.timings["train_seconds"], 2),
            "stand_ins": list(self.meta.get("stand_ins", [])),
        }
        obj = ckpt.model_file(model_spec(self.student), self.student.state_dict(),
                              self.ema.state_dict() if self.ema else None, meta)
        ckpt.save(out, obj)
        return Path(out)


@contextlib.contextmanager
def run_lock(run_dir: Path):
    """Hold an exclusive lock on ``run_dir`` for the duration: a second training process on the
    same run folder stops at once (it would write the same checkpoints and logs)."""
    import fcntl

    from cir.errors import CirError

    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise CirError(f"{run_dir}: another training process (pid {holder}) is using this run folder; "
                           "wait for it to end or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)

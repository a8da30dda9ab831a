"""Stop a training job cleanly when the cluster asks it to (preemption, time limit).

SLURM sends ``SIGTERM`` before it kills a job (preemption, ``scancel``, the time limit) and
can send ``SIGUSR1`` ahead of the time limit (``sbatch --signal=USR1@120``). While
:class:`Trainer.fit` runs, these signals only set a flag; the trainer finishes the current
optimiser step, writes a checkpoint (atomically) and raises :class:`Preempted`. The training
CLI turns that into exit code :data:`PREEMPT_EXIT_CODE` (75, ``EX_TEMPFAIL``: "try again"),
and the same command started again resumes from that checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

PREEMPT_EXIT_CODE = 75  # sysexits.h EX_TEMPFAIL: a temporary failure, the job should be retried
PREEMPT_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGUSR1)
# When set, rank 0 writes a JSON note here on preemption: how the launcher of a multi-process
# run learns the reason its workers stopped (see cir.engine.distributed.launch).
REPORT_ENV = "CIR_PREEMPT_REPORT"


class Preempted(Exception):
    """Training stopped on a signal after writing a checkpoint at ``step``."""

    def __init__(self, step: int, signum: int, checkpoint: Path):
        self.step, self.signum, self.checkpoint = int(step), int(signum), Path(checkpoint)
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name} after step {step}; checkpoint {checkpoint} "
                         f"(exit code {PREEMPT_EXIT_CODE}: start the same command again to resume)")


class SignalFlag:
    """While active (``with SignalFlag(): ...``), the signals in ``signals`` set :attr:`received`
    instead of ending the process; the previous handlers come back on exit.

    Only the main thread can install signal handlers; elsewhere the flag stays inert and the
    signals keep their previous behaviour.
    """

    def __init__(self, signals: tuple[signal.Signals, ...] = PREEMPT_SIGNALS):
        self.signals = tuple(signals)
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.received is None:
            self.received = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()


def write_report(step: int, signum: int, checkpoint: Path) -> None:
    """Record the preemption for the launcher, if it asked for it (``$CIR_PREEMPT_REPORT``)."""
    path = os.environ.get(REPORT_ENV)
    if path:
        Path(path).write_text(json.dumps({"step": int(step), "signal": int(signum),
                                          "checkpoint": str(checkpoint)}))


def read_report(path: str | os.PathLike) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None

"""Training logs: CSV files (for `dvc plots`) and TensorBoard event files.

On resume the CSV rows after the restored step are dropped so a log never holds the same
step twice, and TensorBoard is told to purge events after that step.
"""

from __future__ import annotations

import csv
from pathlib import Path

from cir.utils.io import atomic_path


class CsvLog:
    def __init__(self, path: Path, fields: list[str]):
        self.path, self.fields = Path(path), list(fields)

    def truncate_after(self, step: int) -> None:
        """Keep rows up to ``step``, rewritten under the current header."""
        if not self.path.exists():
            return
        with self.path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
        with atomic_path(self.path) as tmp, tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

    def append(self, row: dict) -> None:
        new = not self.path.exists()
        with self.path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)
            f.flush()


class RunLogger:
    """Losses and learning rate every ``log_every`` steps; validation metrics when run."""

    def __init__(self, run_dir: Path, loss_names: list[str], *, tensorboard: bool = True,
                 val_names: tuple[str, ...] = ("psnr", "ssim")):
        run_dir.mkdir(parents=True, exist_ok=True)
        self.train = CsvLog(run_dir / "train_log.csv", ["step", "loss", *loss_names, "lr", "it_per_s"])
        self.val = CsvLog(run_dir / "val_log.csv", ["step", *val_names])
        self.tb_dir = run_dir / "tb"
        self._tb = None
        self._use_tb = tensorboard

    def start(self, step: int) -> None:
        self.train.truncate_after(step)
        self.val.truncate_after(step)
        if self._use_tb:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.tb_dir), purge_step=step + 1 if step else None)

    def log_train(self, step: int, values: dict[str, float]) -> None:
        self.train.append({"step": step, **values})
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(f"train/{k}", v, step)

    def log_val(self, step: int, values: dict[str, float]) -> None:
        self.val.append({"step": step, **values})
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(f"val/{k}", v, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()

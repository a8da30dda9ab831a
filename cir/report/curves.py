"""Training curves from the trainer's CSV logs: loss and validation PSNR against iteration.

Each run folder (``runs/<preset>/x<s>/<backbone>/<experiment>/``) holds ``train_log.csv``
(``step``, ``loss`` = the sum of the method's loss terms, the terms, ``lr``, ``it_per_s``) and
``val_log.csv`` (``step``, ``psnr``, ``ssim``; PSNR on Y with crop border = scale, as the
evaluation). One figure per scale and backbone, one line per experiment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cir.errors import CirError
from cir.utils.cli import parse_named_path
from cir.utils.io import atomic_path


@dataclass(frozen=True)
class RunLog:
    train: pd.DataFrame  # step, loss (sorted by step)
    val: pd.DataFrame  # step, psnr (sorted by step)


def _read_log(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    if not path.is_file():
        raise CirError(f"{path}: training log not found")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CirError(f"{path}: cannot parse the CSV log: {exc}") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CirError(f"{path}: missing column(s) {missing}; has {list(df.columns)}")
    if df.empty:
        raise CirError(f"{path}: the log has no rows")
    df = df[list(columns)].apply(pd.to_numeric, errors="coerce")
    if df.isna().any().any():
        bad = int(df.isna().any(axis=1).idxmax())
        raise CirError(f"{path}: non-numeric value in data row {bad + 1}")
    return df.sort_values("step").reset_index(drop=True)


def read_run_logs(run_dir: str | os.PathLike) -> RunLog:
    """``train_log.csv`` (step, loss) and ``val_log.csv`` (step, psnr) of one run folder."""
    run_dir = Path(run_dir)
    return RunLog(_read_log(run_dir / "train_log.csv", ("step", "loss")),
                  _read_log(run_dir / "val_log.csv", ("step", "psnr")))


def draw_curves(runs: Mapping[str, RunLog], png_path: str | os.PathLike, *, title: str,
                val_label: str = "validation", footer: str = "", dpi: int = 120) -> dict[str, dict]:
    """Two panels (loss, log scale; validation PSNR), one line per entry of ``runs`` (legend =
    its key). Returns what was plotted: per label, the x/y values of both panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not runs:
        raise CirError("training curves: no runs given")
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4.2))
    plotted: dict[str, dict] = {}
    colors = plt.get_cmap("tab10").colors
    for k, (label, log) in enumerate(runs.items()):
        color = colors[k % len(colors)]
        ax_loss.plot(log.train["step"], log.train["loss"], color=color, label=label, linewidth=1.4)
        ax_val.plot(log.val["step"], log.val["psnr"], color=color, label=label, marker="o", markersize=4,
                    linewidth=1.4)
        plotted[label] = {"train_step": log.train["step"].tolist(), "loss": log.train["loss"].tolist(),
                          "val_step": log.val["step"].tolist(), "psnr": log.val["psnr"].tolist()}
    if all((log.train["loss"] > 0).all() for log in runs.values()):
        ax_loss.set_yscale("log")
    ax_loss.set_title("training loss (sum of the method's terms)", fontsize=10)
    ax_loss.set_ylabel("loss")
    ax_val.set_title(f"PSNR on {val_label} (Y, dB)", fontsize=10)
    ax_val.set_ylabel("PSNR (dB)")
    for ax in (ax_loss, ax_val):
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    if footer:
        fig.text(0.01, 0.01, footer, fontsize=7)
    fig.tight_layout(rect=(0, 0.04 if footer else 0, 1, 1))
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    return plotted


def make_curves(run_args: Sequence[str], out_png: str | os.PathLike, *, scale: int, backbone: str, preset: str,
                val_set: str = "validation") -> dict[str, dict]:
    """CLI entry: ``EXPERIMENT=RUN_DIR`` arguments (legend order) -> ``out_png``."""
    from cir.report.tables import get_table_spec

    names = get_table_spec("table2")
    runs: dict[str, RunLog] = {}
    for item in run_args:
        exp, run_dir = parse_named_path(item, "--run", "EXPERIMENT=RUN_DIR")
        label = names.display("method", exp)
        if label in runs:
            raise CirError(f"--run: experiment {exp!r} given twice")
        runs[label] = read_run_logs(run_dir)
    title = f"{names.display('backbone', backbone)} ×{scale}: training curves (preset {preset})"
    footer = "Loss: the trainer's logged total (its terms differ between methods). Validation: full images, " \
             "outputs rounded to 8 bits, crop border = scale."
    return draw_curves(runs, out_png, title=title, val_label=val_set, footer=footer)

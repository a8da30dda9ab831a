"""Training curves from the trainer's CSV logs: loss and validation PSNR against iteration, and
validation curves of any logged metric (Cria-CL's Fig. 1: PSNR and LPIPS against iteration).

Each run folder (``runs/<preset>/x<s>/<backbone>/<experiment>/``) holds ``train_log.csv``
(``step``, ``loss`` = the sum of the method's loss terms, the terms, ``lr``, ``it_per_s``) and
``val_log.csv`` (``step`` and one column per validation metric: ``psnr``, ``ssim``, and ``lpips``
when its weights were present; PSNR on Y with crop border = scale, as the evaluation). The loss
figure has one figure per scale and backbone, one line per experiment; the validation-curve figure
has one panel per metric, one line per run, with a long-form CSV and a Markdown summary beside it.
"""

from __future__ import annotations

import os
import textwrap
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


def _load_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CirError(f"{path}: training log not found")
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])  # only a blank cell is empty
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CirError(f"{path}: cannot parse the CSV log: {exc}") from exc


def _read_log(path: Path, columns: Sequence[str], optional: Sequence[str] = ()) -> pd.DataFrame:
    """The ``columns`` of the CSV log at ``path`` (each required, numeric in every row) and those of
    ``optional`` that it has (numeric or blank: a blank cell is a step where that value was not
    logged), sorted by step."""
    df = _load_csv(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CirError(f"{path}: missing column(s) {missing}; has {list(df.columns)}")
    if df.empty:
        raise CirError(f"{path}: the log has no rows")
    extra = [c for c in dict.fromkeys(optional) if c in df.columns and c not in columns]
    raw = df[[*columns, *extra]]
    num = raw.apply(pd.to_numeric, errors="coerce")
    bad = num.isna()
    bad[extra] = bad[extra] & raw[extra].notna()
    if bad.any().any():
        row = int(bad.any(axis=1).idxmax())
        raise CirError(f"{path}: non-numeric value in data row {row + 1}")
    return num.sort_values("step").reset_index(drop=True)


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


# --- validation curves of any logged metric (Cria-CL Fig. 1) ---------------------------------------

NOT_MEASURED_REASON = "its weights were missing when these runs trained"
_UNITS = {"psnr": " (dB)"}


def read_val_log(run_dir: str | os.PathLike, metrics: Sequence[str]) -> pd.DataFrame:
    """``val_log.csv`` of one run folder: ``step`` and those of ``metrics`` it logs (a blank cell:
    not measured at that step)."""
    return _read_log(Path(run_dir) / "val_log.csv", ("step",), optional=metrics)


def _metric_points(log: pd.DataFrame, metric: str) -> pd.DataFrame | None:
    """``step``, ``value`` of the rows of ``log`` that hold ``metric``; None when it has none."""
    if metric not in log.columns:
        return None
    points = log[["step", metric]].dropna().rename(columns={metric: "value"})
    return None if points.empty else points.reset_index(drop=True)


def _not_measured_text(metric: str, missing_reasons: Mapping[str, str] | None) -> str:
    reason = (missing_reasons or {}).get(metric, NOT_MEASURED_REASON)
    return f"{metric.upper()} not measured: no '{metric}' column in the validation logs: {reason}"


def _draw_metric_panel(ax, runs: Mapping[str, pd.DataFrame], metric: str, colors, *, lower: bool,
                       missing_reasons: Mapping[str, str] | None) -> dict:
    lines, missing = {}, []
    for k, (label, log) in enumerate(runs.items()):
        points = _metric_points(log, metric)
        if points is None:
            missing.append(label)
            continue
        ax.plot(points["step"], points["value"], color=colors[k % len(colors)], label=label, marker="o",
                markersize=3, linewidth=1.4)
        lines[label] = {"step": points["step"].tolist(), "value": points["value"].tolist()}
    ax.set_title(f"validation {metric.upper()}", fontsize=10)
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"{metric.upper()}{_UNITS.get(metric, '')}, {'lower' if lower else 'higher'} is better")
    message = ""
    if not lines:
        message = _not_measured_text(metric, missing_reasons)
        ax.text(0.5, 0.5, textwrap.fill(message, 40), ha="center", va="center", fontsize=9,
                transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if missing:
            message = f"not in the log of: {', '.join(missing)}"
            ax.text(0.02, 0.02, textwrap.fill(message, 45), fontsize=7, transform=ax.transAxes, va="bottom")
    return {"lines": lines, "missing": missing, "message": message}


def draw_val_curves(runs: Mapping[str, pd.DataFrame], metrics: Sequence[str], png_path: str | os.PathLike, *,
                    title: str, footer: str = "", lower_is_better: Sequence[str] = ("lpips",), dpi: int = 120,
                    missing_reasons: Mapping[str, str] | None = None) -> dict[str, dict]:
    """One panel per metric (x: iteration, y: the metric), one line per entry of ``runs`` (a run's
    validation log as :func:`read_val_log` returns it; legend = its key). A metric no run logged
    gets an empty panel saying so and why (``missing_reasons[metric]``, or missing weights); the
    runs lacking a metric another run logged are listed in its panel. Returns per metric
    ``{"lines": {label: {"step", "value"}}, "missing": [labels], "message": text shown}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not runs:
        raise CirError("validation curves: no runs given")
    if not metrics:
        raise CirError("validation curves: no metrics given")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4.2), squeeze=False)
    colors = plt.get_cmap("tab10").colors
    plotted = {m: _draw_metric_panel(ax, runs, m, colors, lower=m in lower_is_better,
                                     missing_reasons=missing_reasons) for m, ax in zip(metrics, axes[0])}
    fig.suptitle(title, fontsize=11)
    footer_lines = textwrap.wrap(footer, int(20 * 5.5 * len(metrics))) if footer else []
    if footer_lines:
        fig.text(0.01, 0.01, "\n".join(footer_lines), fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, 0.02 + 0.035 * len(footer_lines), 1, 1))
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    return plotted


def val_curves_table(runs: Mapping[str, pd.DataFrame], run_dirs: Mapping[str, str | os.PathLike],
                     metrics: Sequence[str]) -> pd.DataFrame:
    """Long form of the plotted values: ``label, run_dir, step, metric, value`` (run order, then
    metric order, then step)."""
    parts = []
    for label, log in runs.items():
        for metric in metrics:
            points = _metric_points(log, metric)
            if points is not None:
                parts.append(points.assign(label=label, run_dir=str(run_dirs[label]), metric=metric))
    columns = ["label", "run_dir", "step", "metric", "value"]
    if not parts:
        return pd.DataFrame(columns=columns)
    table = pd.concat(parts, ignore_index=True)[columns]
    return table.astype({"step": "int64", "value": "float64"})


def val_curves_summary(runs: Mapping[str, pd.DataFrame], metrics: Sequence[str], *,
                       lower_is_better: Sequence[str] = ("lpips",)) -> pd.DataFrame:
    """Per run and metric: the number of validations, the first and last value (with their steps)
    and the best one (lowest for ``lower_is_better``, else highest; the earliest step on a tie).
    A metric a run did not log has ``validations == 0`` and empty values."""
    rows = []
    for label, log in runs.items():
        for metric in metrics:
            row = {"label": label, "metric": metric, "validations": 0}
            points = _metric_points(log, metric)
            if points is not None:
                values = points["value"]
                best = int(values.idxmin() if metric in lower_is_better else values.idxmax())
                row.update(validations=len(points), first_step=int(points["step"].iloc[0]),
                           first=float(values.iloc[0]), last_step=int(points["step"].iloc[-1]),
                           last=float(values.iloc[-1]), best=float(values[best]),
                           best_step=int(points["step"][best]))
            rows.append(row)
    columns = ["label", "metric", "validations", "first_step", "first", "last_step", "last", "best", "best_step"]
    return pd.DataFrame(rows).reindex(columns=columns)


def _value_text(metric: str, value: float) -> str:
    return f"{value:.2f}" if metric == "psnr" else f"{value:.4f}"


def render_val_curves_markdown(summary: pd.DataFrame, run_dirs: Mapping[str, str | os.PathLike], *, title: str,
                               notes: Sequence[str] = (), lower_is_better: Sequence[str] = ("lpips",),
                               missing_reasons: Mapping[str, str] | None = None) -> str:
    """The summary of :func:`val_curves_summary` as Markdown: one row per run and metric, the run
    folders, why an unlogged metric is missing, and ``notes``."""
    lines = [f"# {title}", "",
             "Validation during training: the value at the first and the last validation and the best one "
             "(highest; lowest for " + (", ".join(m.upper() for m in lower_is_better) or "none") + ") with "
             "the step where it was first reached.", "",
             "| Run | Metric | Validations | First (step) | Last (step) | Best | Best at step |",
             "|---|---|---|---|---|---|---|"]
    for r in summary.to_dict("records"):
        m = r["metric"]
        if r["validations"] == 0:
            cells = ["0", "not measured", "not measured", "not measured", "-"]
        else:
            cells = [str(r["validations"]), f"{_value_text(m, r['first'])} ({int(r['first_step'])})",
                     f"{_value_text(m, r['last'])} ({int(r['last_step'])})", _value_text(m, r["best"]),
                     str(int(r["best_step"]))]
        lines.append("| " + " | ".join([r["label"].replace("|", "\\|"), m.upper(), *cells]) + " |")
    lines += ["", "## Runs", ""] + [f"- {label}: `{run_dir}`" for label, run_dir in run_dirs.items()]
    unlogged = list(dict.fromkeys(summary.loc[summary["validations"] == 0, "metric"]))
    explain = []
    for m in unlogged:
        labels = summary.loc[(summary["metric"] == m) & (summary["validations"] == 0), "label"].tolist()
        if len(labels) == summary["label"].nunique():
            explain.append(_not_measured_text(m, missing_reasons) + ".")
        else:
            explain.append(f"{m.upper()} not measured in {', '.join(labels)}: no '{m}' column in "
                           "that validation log.")
    all_notes = [*explain, *notes]
    if all_notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in all_notes]
    return "\n".join(lines) + "\n"


def write_val_curves_table(runs: Mapping[str, pd.DataFrame], run_dirs: Mapping[str, str | os.PathLike],
                           metrics: Sequence[str], csv_path: str | os.PathLike, md_path: str | os.PathLike, *,
                           title: str, notes: Sequence[str] = (), lower_is_better: Sequence[str] = ("lpips",),
                           missing_reasons: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Write the long-form CSV of :func:`val_curves_table` and the Markdown summary (both rendered
    first, each written atomically); returns the long-form table."""
    table = val_curves_table(runs, run_dirs, metrics)
    summary = val_curves_summary(runs, metrics, lower_is_better=lower_is_better)
    md_text = render_val_curves_markdown(summary, run_dirs, title=title, notes=notes,
                                         lower_is_better=lower_is_better, missing_reasons=missing_reasons)
    for path, text in ((csv_path, table.to_csv(index=False, lineterminator="\n")), (md_path, md_text)):
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return table


def _val_metric_names(metrics: Sequence[str]) -> list[str]:
    from cir.eval.metrics import parse_metric_names

    if not any(str(m).strip(", ") for m in metrics):
        raise CirError("--metrics: no metric named (e.g. --metrics psnr lpips)")
    return parse_metric_names(",".join(metrics))


def _val_run_dirs(run_args: Sequence[str]) -> dict[str, Path]:
    if not run_args:
        raise CirError("--run: no run given (LABEL=RUN_DIR, one or more)")
    run_dirs: dict[str, Path] = {}
    for item in run_args:
        label, run_dir = parse_named_path(item, "--run", "LABEL=RUN_DIR")
        if label in run_dirs:
            raise CirError(f"--run {item!r}: label {label!r} given twice")
        if not Path(run_dir).is_dir():
            raise CirError(f"--run {item!r}: run folder {run_dir} not found")
        run_dirs[label] = Path(run_dir)
    return run_dirs


def make_val_curves(run_args: Sequence[str], metrics: Sequence[str], out_png: str | os.PathLike, *,
                    title: str, notes: Sequence[str] = ()) -> dict[str, dict]:
    """CLI entry: ``LABEL=RUN_DIR`` arguments (legend order) and metric names -> ``out_png`` with
    ``<stem>.csv`` (long form) and ``<stem>.md`` (summary) beside it. Everything is read and
    checked before anything is written."""
    from cir.eval.metrics import METRICS

    out_png = Path(out_png)
    if out_png.suffix.lower() != ".png":
        raise CirError(f"--out {out_png}: must end in .png (the CSV and the Markdown summary go beside it)")
    names = _val_metric_names(metrics)
    run_dirs = _val_run_dirs(run_args)
    runs = {label: read_val_log(run_dir, names) for label, run_dir in run_dirs.items()}
    lower = tuple(m for m in names if METRICS[m].lower_better)
    reasons = {m: "validation computes full-reference metrics only" for m in names if not METRICS[m].full_reference}
    write_val_curves_table(runs, run_dirs, names, out_png.with_suffix(".csv"), out_png.with_suffix(".md"),
                           title=title, notes=notes, lower_is_better=lower, missing_reasons=reasons)
    return draw_val_curves(runs, names, out_png, title=title, footer=" ".join(notes), lower_is_better=lower,
                           missing_reasons=reasons)

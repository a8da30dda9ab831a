"""Figures made from evaluation summaries: parameter sweeps (DCKD Fig. 8).

Visual comparisons of saved SR outputs are in :mod:`cir.report.visual`, training curves from the
CSV logs in :mod:`cir.report.curves`; ``workflow_scripts/make_figure.py`` draws all three kinds.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cir.config import split_replica
from cir.errors import CirError
from cir.paper.defs import figure_defs
from cir.utils.cli import parse_named_path
from cir.utils.io import atomic_path, write_text


@dataclass(frozen=True)
class SweepPanel:
    """One panel: a setting swept over ``series`` (line label -> {x value -> experiment id}); a
    panel given with ``points`` has one line, "ours"."""

    title: str
    xlabel: str
    series: Mapping[str, Mapping[float, str]]
    xscale: str = "linear"
    ylabel: str = "PSNR (dB)"

    @property
    def points(self) -> dict[float, str]:
        return {x: e for pts in self.series.values() for x, e in pts.items()}

    @property
    def experiments(self) -> list[str]:
        return list(dict.fromkeys(e for pts in self.series.values() for e in pts.values()))


@dataclass(frozen=True)
class FigureSpec:
    id: str
    title: str
    panels: Sequence[SweepPanel]
    note: str = ""
    runs: int = 1     # runs (training seeds) per point; the plot shows their mean and spread

    @property
    def experiments(self) -> list[str]:
        return list(dict.fromkeys(e for p in self.panels for e in p.experiments))


def _panel_from_def(p: dict) -> SweepPanel:
    series = ({label: dict(points) for label, points in p["series"].items()} if "series" in p
              else {"ours": dict(p["points"])})
    return SweepPanel(p["title"], p["xlabel"], series, xscale=p.get("xscale", "linear"),
                      ylabel=p.get("ylabel", "PSNR (dB)"))


def _figure_from_def(fid: str, d: dict) -> FigureSpec:
    return FigureSpec(id=fid, title=d["title"], note=d.get("note", ""), runs=int(d.get("runs", 1)),
                      panels=tuple(_panel_from_def(p) for p in d["panels"]))


# Sweep figures, defined as data in cir/paper/<paper>/tables.yaml.
FIGURES: dict[str, FigureSpec] = {fid: _figure_from_def(fid, d) for fid, d in figure_defs().items()}


def _runs_of(exp: str, summaries: Mapping[str, dict]) -> list[dict]:
    """The summaries of ``exp`` and of its seed replicas (``<exp>_seed<N>``)."""
    return [s for name, s in summaries.items()
            if split_replica(name)[0] == exp]


def sweep_table(spec: FigureSpec, summaries: Mapping[str, dict], only: Sequence[str] | None = None) -> pd.DataFrame:
    """Long table: panel, series, x, experiment, test set, psnr and ssim (the mean over the point's
    runs), their standard deviations, runs, preset, stand-ins. ``only``: the experiments the preset
    runs (a short demo sweep); points of other experiments are left out. Every other point must
    have a summary."""
    rows = []
    for panel in spec.panels:
        for label, points in panel.series.items():
            for x, exp in points.items():
                if only is not None and exp not in only:
                    continue
                runs = _runs_of(exp, summaries)
                if not runs:
                    raise CirError(f"figure {spec.id}: no evaluation summary for experiment {exp!r}")
                for test_set in dict.fromkeys(t for s in runs for t in s["test_sets"]):
                    got = [s for s in runs if test_set in s["test_sets"]]
                    rec = {"panel": panel.title, "series": label, "x": x, "experiment": exp, "test_set": test_set}
                    for metric in ("psnr", "ssim"):
                        values = pd.Series([float(s["test_sets"][test_set][metric]) for s in got])
                        rec[metric] = float(values.mean())
                        rec[f"{metric}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
                    rec.update({"runs": len(got), "preset": got[0]["preset"],
                                "stand_ins": "; ".join(dict.fromkeys(x for s in got for x in s.get("stand_ins", [])))})
                    rows.append(rec)
    if not rows:
        raise CirError(f"figure {spec.id}: none of its points is run (only: {list(only or [])})")
    return pd.DataFrame(rows)


def sweep_spread(table: pd.DataFrame) -> pd.DataFrame:
    """Per panel, line and test set: how much the mean PSNR moves over the swept values (max - min)
    and the mean spread over seeds; the sensitivity a sweep measures."""
    out = []
    for (panel, label, test_set), part in table.groupby(["panel", "series", "test_set"], sort=False):
        out.append({"panel": panel, "series": label, "test_set": test_set, "points": len(part),
                    "psnr_range": float(part["psnr"].max() - part["psnr"].min()),
                    "psnr_seed_sd_mean": float(part["psnr_sd"].mean()) if part["psnr_sd"].notna().any() else float("nan"),
                    "best_x": part.loc[part["psnr"].idxmax(), "x"]})
    return pd.DataFrame(out)


def write_sweep_figure(spec: FigureSpec, table: pd.DataFrame, png_path, csv_path) -> None:
    """The PNG, the plotted data as CSV and, beside them, a Markdown summary of each line's spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(spec.panels), figsize=(max(5 * len(spec.panels), 9), 4.4), squeeze=False)
    for ax, panel in zip(axes[0], spec.panels):
        part = table[table["panel"] == panel.title]
        for (label, test_set), rows in part.groupby(["series", "test_set"], sort=False):
            rows = rows.sort_values("x")
            name = f"{label}, {test_set}" if len(panel.series) > 1 else f"ours, {test_set}"
            if rows["psnr_sd"].notna().any():
                ax.errorbar(rows["x"], rows["psnr"], yerr=rows["psnr_sd"].fillna(0), marker="o", capsize=3, label=name)
            else:
                ax.plot(rows["x"], rows["psnr"], marker="o", label=name)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        ax.set_xscale(panel.xscale)
        ax.set_xticks(sorted(set(part["x"])))
        ax.set_xticklabels([f"{x:g}" for x in sorted(set(part["x"]))])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    presets = sorted(set(table["preset"]))
    stand_ins = sorted({s for v in table["stand_ins"] if v for s in v.split("; ")})
    runs = int(table["runs"].max())
    foot = f"preset: {', '.join(presets)}. " + (f"Mean ± sd over {runs} runs per point. " if runs > 1 else "")
    foot += spec.note
    if stand_ins:
        foot += " Stand-ins: " + "; ".join(stand_ins)
    fig.suptitle(spec.title, fontsize=11, wrap=True)
    fig.text(0.01, 0.01, foot, fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.16, 1, 0.93))
    spread = sweep_spread(table)
    md = [f"# {spec.title}", "", f"Preset: {', '.join(presets)}. {spec.note}", "",
          "| panel | line | test set | points | PSNR range over the sweep (dB) | mean seed sd (dB) | best x |",
          "|---|---|---|---|---|---|---|"]
    md += [f"| {r.panel} | {r.series} | {r.test_set} | {r.points} | {r.psnr_range:.3f} | "
           f"{'' if pd.isna(r.psnr_seed_sd_mean) else f'{r.psnr_seed_sd_mean:.3f}'} | {r.best_x:g} |"
           for r in spread.itertuples()]
    md += ["", "Points (mean over runs):", "", "| panel | line | x | experiment | test set | PSNR | sd | runs |",
           "|---|---|---|---|---|---|---|---|"]
    md += [f"| {r.panel} | {r.series} | {r.x:g} | {r.experiment} | {r.test_set} | {r.psnr:.3f} | "
           f"{'' if pd.isna(r.psnr_sd) else f'{r.psnr_sd:.3f}'} | {r.runs} |" for r in table.itertuples()]
    if stand_ins:
        md += ["", "Stand-ins: " + "; ".join(stand_ins)]
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    buf = io.StringIO()
    table.to_csv(buf, index=False)
    write_text(csv_path, buf.getvalue())
    write_text(Path(csv_path).with_suffix(".md"), "\n".join(md) + "\n")


def make_figure(name: str, summary_args: Sequence[str], out_png, only: Sequence[str] | None = None) -> None:
    """Draw figure ``name`` from ``EXPERIMENT=SUMMARY.json`` arguments (seed replicas
    ``<experiment>_seed<N>`` count for their experiment's point); the CSV and a Markdown summary go
    beside the PNG. ``only``: the experiments this preset runs (see :func:`sweep_table`)."""
    from cir.report.summaries import load_summary

    if name not in FIGURES:
        raise CirError(f"unknown figure {name!r}; valid figures: {', '.join(FIGURES)}")
    summaries = {}
    for item in summary_args:
        exp, path = parse_named_path(item, "--summary", "EXPERIMENT=SUMMARY.json")
        summaries[exp] = load_summary(path)
    spec = FIGURES[name]
    out_png = Path(out_png)
    write_sweep_figure(spec, sweep_table(spec, summaries, only), out_png, out_png.with_suffix(".csv"))

"""Figures made from evaluation summaries: parameter sweeps (DCKD Fig. 8).

Visual comparisons of saved SR outputs are in :mod:`cir.report.visual`, training curves from the
CSV logs in :mod:`cir.report.curves`; ``workflow_scripts/make_figure.py`` draws all three kinds.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from cir.errors import CirError
from cir.paper.defs import figure_defs
from cir.utils.cli import parse_named_path
from cir.utils.io import atomic_path, write_text


@dataclass(frozen=True)
class SweepPanel:
    """One panel: a setting swept over ``points`` (x value -> experiment id)."""

    title: str
    xlabel: str
    points: Mapping[float, str]


@dataclass(frozen=True)
class FigureSpec:
    id: str
    title: str
    panels: Sequence[SweepPanel]
    note: str = ""

    @property
    def experiments(self) -> list[str]:
        return list(dict.fromkeys(e for p in self.panels for e in p.points.values()))


def _figure_from_def(fid: str, d: dict) -> FigureSpec:
    return FigureSpec(id=fid, title=d["title"], note=d.get("note", ""),
                      panels=tuple(SweepPanel(p["title"], p["xlabel"], dict(p["points"])) for p in d["panels"]))


# Sweep figures, defined as data in cir/paper/<paper>/tables.yaml.
FIGURES: dict[str, FigureSpec] = {fid: _figure_from_def(fid, d) for fid, d in figure_defs().items()}


def sweep_table(spec: FigureSpec, summaries: Mapping[str, dict]) -> pd.DataFrame:
    """Long table: panel, x, experiment, test set, psnr, ssim, preset, stand-ins."""
    rows = []
    for panel in spec.panels:
        for x, exp in panel.points.items():
            if exp not in summaries:
                raise CirError(f"figure {spec.id}: no evaluation summary for experiment {exp!r}")
            s = summaries[exp]
            for test_set, r in s["test_sets"].items():
                rows.append({"panel": panel.title, "x": x, "experiment": exp, "test_set": test_set,
                             "psnr": r["psnr"], "ssim": r["ssim"], "preset": s["preset"],
                             "stand_ins": "; ".join(s.get("stand_ins", []))})
    return pd.DataFrame(rows)


def write_sweep_figure(spec: FigureSpec, table: pd.DataFrame, png_path, csv_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(spec.panels), figsize=(5 * len(spec.panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], spec.panels):
        part = table[table["panel"] == panel.title]
        for test_set, rows in part.groupby("test_set"):
            rows = rows.sort_values("x")
            ax.plot(rows["x"], rows["psnr"], marker="o", label=f"ours, {test_set}")
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel("PSNR (dB, Y)")
        ax.set_xticks(sorted(panel.points))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    presets = sorted(set(table["preset"]))
    stand_ins = sorted({s for v in table["stand_ins"] if v for s in v.split("; ")})
    foot = f"preset: {', '.join(presets)}. {spec.note}"
    if stand_ins:
        foot += " Stand-ins: " + "; ".join(stand_ins)
    fig.suptitle(spec.title, fontsize=11)
    fig.text(0.01, 0.01, foot, fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    buf = io.StringIO()
    table.to_csv(buf, index=False)
    write_text(csv_path, buf.getvalue())


def make_figure(name: str, summary_args: Sequence[str], out_png) -> None:
    """Draw figure ``name`` from ``EXPERIMENT=SUMMARY.json`` arguments; the CSV goes beside the PNG."""
    from pathlib import Path

    from cir.report.summaries import load_summary

    if name not in FIGURES:
        raise CirError(f"unknown figure {name!r}; valid figures: {', '.join(FIGURES)}")
    summaries = {}
    for item in summary_args:
        exp, path = parse_named_path(item, "--summary", "EXPERIMENT=SUMMARY.json")
        summaries[exp] = load_summary(path)
    spec = FIGURES[name]
    out_png = Path(out_png)
    write_sweep_figure(spec, sweep_table(spec, summaries), out_png, out_png.with_suffix(".csv"))

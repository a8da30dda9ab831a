"""The multi-seed study table: each student experiment trained once per seed, summarised.

Input: evaluation summaries tagged with their base experiment and training seed (replicas
``<experiment>_seed<N>`` of a preset's ``seeds`` list; a teacher, shared by every seed, has one).
Output, per (scale, backbone, experiment) and test set: mean and sample standard deviation of
PSNR and SSIM over the seeds, every seed's PSNR, and the gain over ``scratch`` paired by seed
(the same seed gives both students the same data order and initial draw, so the paired difference
removes that part of the seed-to-seed spread).
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from cir.errors import CirError
from cir.report.summaries import load_summary
from cir.utils.io import atomic_path, write_text

METRICS = ("psnr", "ssim")
BASELINE = "scratch"


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else math.nan
    return mean, std


def build_study_table(entries: Iterable[tuple[str, int, str | os.PathLike]], baseline: str = BASELINE) -> pd.DataFrame:
    """``entries``: (experiment, seed, summary path). One row per (task, backbone, experiment);
    gains are paired with ``baseline`` (default ``scratch``) of the same task, backbone and seed."""
    runs: dict[tuple[int, str, str], dict[int, dict]] = {}
    preset = None
    for exp, seed, path in entries:
        summary = load_summary(path, row_keys=("scale", "backbone"), metrics=METRICS)
        if preset is None:
            preset = summary["preset"]
        elif summary["preset"] != preset:
            raise CirError(f"{path}: preset {summary['preset']!r}, but other summaries are from {preset!r}")
        task = summary.get("task") or f"x{int(summary['scale'])}"
        key = (str(task), str(summary["backbone"]), exp)
        if int(seed) in runs.setdefault(key, {}):
            raise CirError(f"{path}: experiment {exp!r} seed {seed} given twice")
        runs[key][int(seed)] = summary
    if not runs:
        raise CirError("study table: no summaries given")

    rows: list[dict[str, Any]] = []
    for (task, backbone, exp), by_seed in runs.items():
        seeds = sorted(by_seed)
        first = by_seed[seeds[0]]
        scale = int(first["scale"])
        test_sets = list(first["test_sets"])
        stand_ins = sorted({s for summ in by_seed.values() for s in summ.get("stand_ins", [])})
        row: dict[str, Any] = {"task": task, "scale": scale, "backbone": backbone, "experiment": exp,
                               "n_seeds": len(seeds), "seeds": " ".join(map(str, seeds)),
                               "parameters": first["parameters"]}
        base = runs.get((task, backbone, baseline))
        for ts in test_sets:
            for seed in seeds:
                if ts not in by_seed[seed]["test_sets"]:
                    raise CirError(f"experiment {exp!r} seed {seed}: no results for test set {ts!r}")
            for metric in METRICS:
                values = [float(by_seed[s]["test_sets"][ts][metric]) for s in seeds]
                row[f"{ts}_{metric}_mean"], row[f"{ts}_{metric}_std"] = _mean_std(values)
            row[f"{ts}_psnr_per_seed"] = " ".join(f"{by_seed[s]['test_sets'][ts]['psnr']:.3f}" for s in seeds)
            paired = [s for s in seeds if base and s in base and ts in base[s]["test_sets"]]
            if paired and exp != baseline and len(seeds) > 1:
                gains = [by_seed[s]["test_sets"][ts]["psnr"] - base[s]["test_sets"][ts]["psnr"] for s in paired]
                row[f"{ts}_psnr_gain_mean"], row[f"{ts}_psnr_gain_std"] = _mean_std(gains)
                row[f"{ts}_psnr_gain_wins"] = f"{sum(g > 0 for g in gains)}/{len(gains)}"
            else:
                row[f"{ts}_psnr_gain_mean"] = row[f"{ts}_psnr_gain_std"] = math.nan
                row[f"{ts}_psnr_gain_wins"] = ""
        row["stand_ins"] = "; ".join(stand_ins)
        row["preset"] = preset
        row["baseline"] = baseline
        rows.append(row)
    return pd.DataFrame(rows)


def _pm(mean: float, std: float, decimals: int) -> str:
    if math.isnan(mean):
        return ""
    return f"{mean:.{decimals}f}" + ("" if math.isnan(std) else f" ± {std:.{decimals}f}")


def render_study_markdown(df: pd.DataFrame, title: str) -> str:
    test_sets = [c[: -len("_psnr_mean")] for c in df.columns if c.endswith("_psnr_mean")]
    lines = [f"# {title}", ""]
    preset = df["preset"].iloc[0]
    lines += [(f"Preset `{preset}`: these numbers come from this project's runs only; they are not "
              "comparable to any paper's table (other data, network sizes and iteration counts)."), ""]
    baseline = df["baseline"].iloc[0] if "baseline" in df.columns else BASELINE
    header = ["task", "backbone", "experiment", "seeds"]
    for ts in test_sets:
        header += [f"{ts} PSNR", f"{ts} SSIM", f"{ts} ΔPSNR vs {baseline} (wins)", f"{ts} PSNR per seed"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for rec in df.to_dict("records"):
        cells = [str(rec["task"]), rec["backbone"], rec["experiment"], str(rec["n_seeds"])]
        for ts in test_sets:
            if isinstance(rec[f"{ts}_psnr_mean"], float) and math.isnan(rec[f"{ts}_psnr_mean"]):
                cells += ["", "", "", ""]  # another task's test set
                continue
            gain = _pm(rec[f"{ts}_psnr_gain_mean"], rec[f"{ts}_psnr_gain_std"], 3)
            if gain:
                gain = ("+" if rec[f"{ts}_psnr_gain_mean"] >= 0 else "") + gain + f" ({rec[f'{ts}_psnr_gain_wins']})"
            cells += [_pm(rec[f"{ts}_psnr_mean"], rec[f"{ts}_psnr_std"], 2),
                      _pm(rec[f"{ts}_ssim_mean"], rec[f"{ts}_ssim_std"], 4), gain, rec[f"{ts}_psnr_per_seed"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", ("Mean ± sample standard deviation over seeds. ΔPSNR: the experiment minus "
              f"`{baseline}` trained with the same seed, mean ± std over seeds (wins = seeds with a gain).")]
    stand_ins = sorted({s for v in df["stand_ins"] for s in str(v).split("; ") if s})
    if stand_ins:
        lines += ["", "Stand-ins used (not the papers' components):", *[f"- {s}" for s in stand_ins]]
    return "\n".join(lines) + "\n"


def write_study_table(df: pd.DataFrame, csv_path: str | os.PathLike, md_path: str | os.PathLike,
                      title: str = "Multi-seed study") -> None:
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6f")
    write_text(md_path, render_study_markdown(df, title))

"""The multi-seed study table: each student experiment trained once per seed, summarised.

Input: evaluation summaries tagged with their base experiment and training seed (replicas
``<experiment>_seed<N>`` of a preset's ``seeds`` list; a teacher, shared by every seed, has one).
Output, per (scale, backbone, experiment) and test set: mean and sample standard deviation of
each metric over the seeds (default PSNR and SSIM; the preset's ``study_metrics``, e.g. Uni-Removal's
PIQE and BRISQUE on real-like sets), every seed's value of the first metric, and its change against
the baseline (default ``scratch``) paired by seed (the same seed gives both students the same data
order and initial draw, so the paired difference removes that part of the seed-to-seed spread); a
"win" is a seed where the experiment is better (higher PSNR/SSIM, lower BRISQUE/PIQE/NIQE/LPIPS).
A metric a run could not compute (``"unavailable: ..."``, e.g. a missing model file offline) is
left empty for that test set, never averaged in.
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
LOWER_IS_BETTER = frozenset({"brisque", "brisque_matlab", "piqe", "niqe", "lpips"})


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else math.nan
    return mean, std


def _value(summary: dict, ts: str, metric: str) -> float:
    v = summary["test_sets"][ts].get(metric)
    return float(v) if isinstance(v, (int, float)) else math.nan   # "unavailable: ..." or absent


def build_study_table(entries: Iterable[tuple[str, int, str | os.PathLike]], baseline: str = BASELINE,
                      metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """``entries``: (experiment, seed, summary path). One row per (task, backbone, experiment);
    changes of ``metrics[0]`` are paired with ``baseline`` (default ``scratch``) of the same task,
    backbone and seed."""
    metrics = tuple(metrics)
    if not metrics:
        raise CirError("study table: no metrics given")
    lead = metrics[0]
    runs: dict[tuple[int, str, str], dict[int, dict]] = {}
    preset = None
    for exp, seed, path in entries:
        summary = load_summary(path, row_keys=("scale", "backbone"))
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
            for metric in metrics:
                values = [_value(by_seed[s], ts, metric) for s in seeds]
                row[f"{ts}_{metric}_mean"], row[f"{ts}_{metric}_std"] = (
                    (math.nan, math.nan) if any(math.isnan(v) for v in values) else _mean_std(values))
            row[f"{ts}_{lead}_per_seed"] = " ".join(f"{_value(by_seed[s], ts, lead):.3f}" for s in seeds)
            paired = [s for s in seeds if base and s in base and ts in base[s]["test_sets"]
                      and not math.isnan(_value(base[s], ts, lead)) and not math.isnan(_value(by_seed[s], ts, lead))]
            if paired and exp != baseline and len(seeds) > 1:
                gains = [_value(by_seed[s], ts, lead) - _value(base[s], ts, lead) for s in paired]
                better = (lambda g: g < 0) if lead in LOWER_IS_BETTER else (lambda g: g > 0)
                row[f"{ts}_{lead}_gain_mean"], row[f"{ts}_{lead}_gain_std"] = _mean_std(gains)
                row[f"{ts}_{lead}_gain_wins"] = f"{sum(better(g) for g in gains)}/{len(gains)}"
            else:
                row[f"{ts}_{lead}_gain_mean"] = row[f"{ts}_{lead}_gain_std"] = math.nan
                row[f"{ts}_{lead}_gain_wins"] = ""
        row["stand_ins"] = "; ".join(stand_ins)
        row["preset"] = preset
        row["baseline"] = baseline
        row["metrics"] = " ".join(metrics)
        rows.append(row)
    return pd.DataFrame(rows)


def _pm(mean: float, std: float, decimals: int) -> str:
    if math.isnan(mean):
        return ""
    return f"{mean:.{decimals}f}" + ("" if math.isnan(std) else f" ± {std:.{decimals}f}")


_NAMES = {"psnr": "PSNR", "ssim": "SSIM", "brisque": "BRISQUE", "brisque_matlab": "BRISQUE", "piqe": "PIQE",
          "niqe": "NIQE", "lpips": "LPIPS"}
_DECIMALS = {"ssim": 4, "lpips": 4}


def render_study_markdown(df: pd.DataFrame, title: str) -> str:
    metrics = str(df["metrics"].iloc[0]).split() if "metrics" in df.columns else list(METRICS)
    lead = metrics[0]
    names = [_NAMES.get(m, m) for m in metrics]
    test_sets = [c[: -len(f"_{lead}_mean")] for c in df.columns if c.endswith(f"_{lead}_mean")]
    lines = [f"# {title}", ""]
    preset = df["preset"].iloc[0]
    lines += [(f"Preset `{preset}`: these numbers come from this project's runs only; they are not "
              "comparable to any paper's table (other data, network sizes and iteration counts)."), ""]
    baseline = df["baseline"].iloc[0] if "baseline" in df.columns else BASELINE
    header = ["task", "backbone", "experiment", "seeds"]
    for ts in test_sets:
        header += [f"{ts} {n}" for n in names] + [f"{ts} Δ{names[0]} vs {baseline} (wins)",
                                                  f"{ts} {names[0]} per seed"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for rec in df.to_dict("records"):
        cells = [str(rec["task"]), rec["backbone"], rec["experiment"], str(rec["n_seeds"])]
        for ts in test_sets:
            if not isinstance(rec.get(f"{ts}_{lead}_per_seed"), str):
                cells += [""] * (len(metrics) + 2)  # another task's test set
                continue
            gain = _pm(rec[f"{ts}_{lead}_gain_mean"], rec[f"{ts}_{lead}_gain_std"], 3)
            if gain:
                gain = ("+" if rec[f"{ts}_{lead}_gain_mean"] >= 0 else "") + gain + f" ({rec[f'{ts}_{lead}_gain_wins']})"
            cells += [_pm(rec[f"{ts}_{m}_mean"], rec[f"{ts}_{m}_std"], _DECIMALS.get(m, 2)) for m in metrics]
            cells += [gain, rec[f"{ts}_{lead}_per_seed"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    direction = "lower" if lead in LOWER_IS_BETTER else "higher"
    lines += ["", (f"Mean ± sample standard deviation over seeds. Δ{names[0]}: the experiment minus "
              f"`{baseline}` trained with the same seed, mean ± std over seeds (wins = seeds where it is "
              f"better: {direction} {names[0]}). An empty cell: not computed (a model file missing offline) "
              "or another task's test set.")]
    stand_ins = sorted({s for v in df["stand_ins"] for s in str(v).split("; ") if s})
    if stand_ins:
        lines += ["", "Stand-ins used (not the papers' components):", *[f"- {s}" for s in stand_ins]]
    return "\n".join(lines) + "\n"


def write_study_table(df: pd.DataFrame, csv_path: str | os.PathLike, md_path: str | os.PathLike,
                      title: str = "Multi-seed study") -> None:
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6f")
    write_text(md_path, render_study_markdown(df, title))

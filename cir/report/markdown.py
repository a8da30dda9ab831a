"""Markdown rendering of a table built by :func:`cir.report.tables.build_table`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from cir.report.spec import TableSpec, metric_column

PAPER_PRESET = "paper"


def _is_empty(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value)) or value == ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _number(value: Any, decimals: int, signed: bool = False) -> str:
    if _is_empty(value):
        return ""
    if isinstance(value, str) and value.startswith("unavailable: "):
        return "n/a"  # a metric whose weights were missing: never a number; the reason is listed below the table
    return f"{float(value):+.{decimals}f}" if signed else f"{float(value):.{decimals}f}"


def _metric_columns(df: pd.DataFrame, spec: TableSpec) -> list[tuple[str, str, str, str]]:
    """(column, test set, metric, kind) for every metric column of ``df``, in ``df``'s order."""
    found = []
    for column in df.columns:
        for metric in spec.metrics:
            for kind in ("paper", "ours", "diff"):
                suffix = f"_{metric}_{kind}"
                if column.endswith(suffix) and column == metric_column(column[: -len(suffix)], metric, kind):
                    found.append((column, column[: -len(suffix)], metric, kind))
    return found


def stand_in_list(df: pd.DataFrame) -> list[str]:
    """Every distinct stand-in named in the ``stand_ins`` column, in order of first use."""
    seen: dict[str, None] = {}
    for joined in df.get("stand_ins", pd.Series(dtype=str)):
        if not _is_empty(joined):
            for item in str(joined).split("; "):
                seen.setdefault(item, None)
    return list(seen)


def render_markdown(
    df: pd.DataFrame,
    spec: TableSpec,
    *,
    title: str,
    preset: str,
    notes: Sequence[str] = (),
) -> str:
    """The table as Markdown: preset header, comparability warning, table, notes, stand-ins."""
    lines = [
        f"# {title}",
        "",
        f"Preset of our numbers: **{preset}**. " + (f"Paper numbers: `cir/paper/{spec.paper_key}.csv`."
                                                   if spec.paper_key else "Paper numbers: **not available** "
                                                   "(the paper's tables are not public); ours only."),
        "",
    ]
    if preset != PAPER_PRESET and spec.paper_key:
        lines += [
            (
                f"> **NOT COMPARABLE TO THE PAPER.** Our numbers come from the `{preset}` preset: they are "
                f"measured on that preset's own test images and settings and are not comparable to the "
                f"paper's columns."
            ),
            "",
        ]

    stand_ins = stand_in_list(df)
    # One cell per (test set, kind) holding the metrics as the paper prints them: "PSNR/SSIM".
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for column, test_set, metric, kind in _metric_columns(df, spec):
        groups.setdefault((test_set, kind), []).append((column, metric))
    records = df.to_dict("records")

    def group_cell(rec: dict, cols: list[tuple[str, str]], kind: str) -> str:
        values = [_number(rec[c], spec.decimals[m], signed=kind == "diff") for c, m in cols]
        if kind == "ours":   # the mean of several runs: "mean ± sd"
            for i, (c, m) in enumerate(cols):
                sd = rec.get(c[: -len("_ours")] + "_sd")
                if values[i] and not _is_empty(sd):
                    values[i] += f" ± {float(sd):.{spec.decimals[m]}f}"
        return "" if all(v == "" for v in values) else "/".join(values)

    # columns with no number in any row (e.g. "ours" on Set5 in a demo run) are left out
    groups = {k: v for k, v in groups.items() if any(group_cell(r, v, k[1]) for r in records)}
    metric_names = "/".join(m.upper() for m in spec.metrics)
    header = [k.capitalize() for k in spec.row_keys]
    header += [f"{test_set} {kind}" for test_set, kind in groups]
    with_paper_params = "params_m_paper" in df.columns
    header += ["Runs"] if "runs_ours" in df.columns else []
    header += (["Params (paper)"] if with_paper_params else []) + ["Params (ours)", "Stand-ins", "Status"]
    lines += [f"Cells are {metric_names}; diff = ours - paper."]
    if "runs_ours" in df.columns:
        lines += [(f"Ours: the mean ± sample standard deviation over {spec.runs} runs (training seeds) per row, "
                   f"as the paper reports the mean of {spec.runs} runs; column Runs counts the runs we have.")]
    lines += [""]
    lines += ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]

    for rec in records:
        cells = [spec.display(k, rec[k]) for k in spec.row_keys]
        cells += [group_cell(rec, cols, kind) for (_, kind), cols in groups.items()]
        if "runs_ours" in df.columns:
            cells.append("" if _is_empty(rec["runs_ours"]) else str(int(rec["runs_ours"])))
        if with_paper_params:
            cells.append("" if _is_empty(rec["params_m_paper"]) else f"{float(rec['params_m_paper']):g}M")
        params = rec.get("parameters_ours")
        cells.append("" if _is_empty(params) else f"{int(params) / 1e6:.3g}M" if with_paper_params else str(int(params)))
        used = [] if _is_empty(rec.get("stand_ins")) else str(rec["stand_ins"]).split("; ")
        cells.append(", ".join(f"[{stand_ins.index(s) + 1}]" for s in used))
        cells.append(str(rec.get("status", "")))
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")

    lines += ["", "Empty cells: no number (not in the paper, or not run in this preset)."]
    missing = list(dict.fromkeys(
        f"{metric.upper()}: {rec[c][len('unavailable: '):]}" for rec in records for c, _, metric, _ in
        _metric_columns(df, spec) if isinstance(rec[c], str) and rec[c].startswith("unavailable: ")))
    if missing:
        lines += ["", "n/a: a metric not computed in our runs, never a number:", *[f"- {_cell(m)}" for m in missing]]
    lines += ["", "## Stand-ins used by our runs", ""]
    if stand_ins:
        lines += [f"{i}. {_cell(s)}" for i, s in enumerate(stand_ins, start=1)]
    else:
        lines.append("None.")
    # a row of several models may join their conventions with " + " (DRCNet: Y for rain, RGB else)
    conventions = list(dict.fromkeys(part for c in df.get("metric_convention", pd.Series(dtype=str))
                                     if not _is_empty(c) for part in str(c).split(" + ")))
    if conventions:
        lines += ["", "## How our numbers are measured", ""] + [f"- {_cell(c)}" for c in conventions]
    all_notes = [*spec.notes, *notes]
    if all_notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in all_notes]
    return "\n".join(lines) + "\n"

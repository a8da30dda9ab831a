"""A paper's model-specification table (DCKD Table 1) beside the networks this project builds.

Every row of ``cir/paper/<paper>/<table>.csv`` (backbone, role, channels, blocks, groups, printed
parameter count in millions) gets the parameter count of the network the ``paper`` preset builds
for that backbone and role (config.yaml ``presets.paper.models``), the difference, and the count
of the network the running preset builds (the demo's are scaled down, and say so). The networks
are built with random weights and dropped (about 80M parameters at the paper sizes: seconds).
"""

from __future__ import annotations

import os

import pandas as pd

from cir.paper import load_paper_table
from cir.utils.io import atomic_path, write_text

COLUMNS = ("backbone", "role", "channel", "blocks", "groups", "params_m")


def count_parameters_of(arch: str, scale: int, params: dict) -> int:
    """Parameters of ``arch`` built with ``params`` (randomly initialised, then dropped)."""
    from cir.models import build_model, count_parameters

    return count_parameters(build_model(arch, scale, **params))


def _scale_of(arch: str) -> int:
    """Scale-1 networks at 1; SR networks at x4, where DCKD's Table 1 counts them (SwinIR 11.9M)."""
    from cir.models.registry import ARCHITECTURES

    return 1 if ARCHITECTURES[arch].scale_one else 4


def build_spec_table(paper_key: str, cfg: dict, preset: str) -> pd.DataFrame:
    """One row per printed row: the paper's specification, our counts at the paper preset and at
    ``preset`` (millions, 3 decimals) and the relative difference of the paper preset's count."""
    paper = load_paper_table(paper_key, required_columns=COLUMNS)
    models = {name: cfg["presets"][name]["models"] for name in dict.fromkeys(("paper", preset))}
    rows = []
    for rec in paper.to_dict("records"):
        b, role = rec["backbone"], rec["role"]
        out = {k: rec[k] for k in COLUMNS}
        out["params_m_paper"] = out.pop("params_m")
        for name, m in models.items():
            col = "params_m_ours" if name == "paper" else f"params_m_{name}"
            if b not in m:
                out[col] = float("nan")
                continue
            count = count_parameters_of(b, _scale_of(b), dict(m[b][role]))
            out[col] = round(count / 1e6, 3)
        out["diff_pct"] = round(100 * (out["params_m_ours"] - out["params_m_paper"]) / out["params_m_paper"], 1)
        rows.append(out)
    return pd.DataFrame(rows)


def write_spec_table(df: pd.DataFrame, csv_path: str | os.PathLike, md_path: str | os.PathLike, *, title: str,
                     preset: str) -> None:
    header = ["Model", "Role", "Channel", "Block", "Group", "Params (paper)", "Params (ours, paper preset)",
              "Diff"]
    extra = [c for c in df.columns if c.startswith("params_m_") and c not in ("params_m_paper", "params_m_ours")]
    header += [f"Params (ours, {c[len('params_m_'):]} preset)" for c in extra]
    lines = [f"# {title}", "",
             "Parameter counts in millions. Ours: the networks config.yaml builds for each backbone and role "
             "(presets.paper.models)"
             + (f"; the {preset} preset's scaled-down networks in the last column." if extra else "."), "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def fmt(v, spec="{:.2f}"):
        return "" if pd.isna(v) else spec.format(v)

    for r in df.to_dict("records"):
        cells = [r["backbone"], r["role"], fmt(r["channel"], "{:.0f}"), fmt(r["blocks"], "{:.0f}"),
                 fmt(r["groups"], "{:.0f}"), fmt(r["params_m_paper"], "{:.1f}M"), fmt(r["params_m_ours"], "{:.3f}M"),
                 fmt(r["diff_pct"], "{:+.1f}%")]
        cells += [fmt(r[c], "{:.3f}M") for c in extra]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    with atomic_path(csv_path) as tmp:
        tmp.write_text(df.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    write_text(md_path, "\n".join(lines) + "\n")

"""A paper's inference-time table (Cria-CL Table VII: "Time" and "Parameter" on a 300x200 image at
x4) beside the same quantities for the models this project trained.

Every line of ``cir/paper/<paper>/<table>.csv`` (``scale, backbone, method, test_set, input, time,
params_m, reference_only``) becomes one row, in printed order. A line that one of our experiments
measures (``rows`` of the table's entry in tables.yaml: experiment -> printed ``method``) gets:

* ``params_m_paper_net`` and ``gmacs_paper_net``: the network the ``paper`` preset builds for that
  experiment (its student settings with the experiment's ``model`` changes), counted on meta
  tensors at the printed input (:func:`cir.report.complexity.measure_network`);
* ``params_ours``, ``time_s_ours`` (median of ``runs`` timed forward passes after ``warmup``,
  :func:`cir.eval.efficiency.time_inference`), ``device_ours`` and ``threads_ours``: the trained model
  file of the running preset, timed on this machine.

The printed ``input`` ``"300x200"`` is read as width x height (an image of 300 columns and 200
rows; the paper does not say whether it is the input or the output: it is timed as the input).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence

import pandas as pd

from cir.errors import CirError
from cir.paper import load_paper_table, paper_table_path, reference_only
from cir.report.spec import STATUS_NOT_RUN, STATUS_OURS, STATUS_REFERENCE
from cir.utils.io import atomic_path, write_text

COLUMNS = ("scale", "backbone", "method", "test_set", "input", "time", "params_m", "reference_only")
_WH = re.compile(r"^\s*([0-9]+)\s*[xX]\s*([0-9]+)\s*$")


def parse_input_wh(value: object, where: str) -> tuple[int, int]:
    """``"300x200"`` -> ``(200, 300)`` (height, width): printed image sizes are width x height."""
    m = _WH.match(str(value))
    if not m or min(int(m.group(1)), int(m.group(2))) < 1:
        raise CirError(f"{where}: input {value!r}: expected WIDTHxHEIGHT, e.g. 300x200")
    return int(m.group(2)), int(m.group(1))


def _paper_network(cfg: dict, experiment: str, backbone: str) -> tuple[str, dict]:
    """(arch, params) of ``experiment``'s student network in the paper preset."""
    from cir import config as cfgmod

    preset = cfgmod.preset(cfg, "paper")
    models = preset.get("models") or {}
    if backbone not in models:
        raise CirError(f"config: presets.paper.models.{backbone}: missing; the paper preset builds no {backbone!r} network")
    exp = cfgmod.experiment(cfg, experiment)
    return cfgmod.backbone_arch(preset, backbone), {**dict(models[backbone]["student"] or {}), **exp.get("model", {})}


def build_timing_table(paper_key: str, cfg: dict, preset: str, models: Mapping[str, str | os.PathLike],
                       rows: Mapping[str, str], *, backbone: str, warmup: int = 1, runs: int = 5,
                       device: str = "cpu") -> pd.DataFrame:
    """One row per printed line of ``paper_key``; ``models`` maps experiments to their trained model
    files (the running preset's), ``rows`` experiments to the printed ``method`` they measure;
    ``backbone`` is the config backbone of our networks (``criacl``: also its ESRGAN-style row)."""
    import torch

    from cir.eval.efficiency import time_inference
    from cir.models import count_parameters, load_model_file
    from cir.report.complexity import measure_network

    paper = load_paper_table(paper_key, required_columns=COLUMNS)
    path = paper_table_path(paper_key)
    unknown = sorted(set(models) - set(rows))
    if unknown:
        raise CirError(f"--model {unknown[0]}: not a row of {paper_key} (its rows: {', '.join(rows)})")
    printed = set(paper["method"])
    for exp, method in rows.items():
        if method not in printed:
            raise CirError(f"{path}: no printed line for method {method!r} (row {exp!r}); lines: {sorted(printed)}")
    by_method = {method: exp for exp, method in rows.items()}
    ref = reference_only(paper)
    out_rows = []
    for i, rec in enumerate(paper.to_dict("records")):
        exp = by_method.get(rec["method"])
        out = {"method": rec["method"], "backbone": rec["backbone"], "scale": int(rec["scale"]),
               "input": rec["input"], "time_paper": float(rec["time"]), "params_m_paper": float(rec["params_m"]),
               "experiment": exp or "", "params_m_paper_net": math.nan, "gmacs_paper_net": math.nan,
               "params_ours": pd.NA, "time_s_ours": math.nan, "device_ours": "", "threads_ours": pd.NA}
        if exp is not None:
            hw = parse_input_wh(rec["input"], f"{path}, line {rec['method']!r}")
            arch, params = _paper_network(cfg, exp, backbone)
            m = measure_network(arch, params, hw, scale=int(rec["scale"]))
            out["params_m_paper_net"] = m["params"] / 1e6
            out["gmacs_paper_net"] = m["gmacs"]
        if exp is not None and exp in models:
            model = load_model_file(models[exp]).to(device)
            timing = time_inference(model, (1, 3, *hw), warmup=warmup, runs=runs)
            out.update(params_ours=int(count_parameters(model)), time_s_ours=timing.median_s,
                       device_ours=timing.device, threads_ours=int(timing.threads))
            del model
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
        out["status"] = (STATUS_OURS if exp is not None and exp in models
                         else STATUS_REFERENCE if bool(ref.iloc[i]) else STATUS_NOT_RUN)
        out_rows.append(out)
    df = pd.DataFrame(out_rows)
    for col in ("params_ours", "threads_ours"):
        df[col] = df[col].astype("Int64")
    return df


def render_timing_markdown(df: pd.DataFrame, *, title: str, preset: str, notes: Sequence[str] = ()) -> str:
    from cir.report.complexity import fmt_number

    def _fmt(value, spec: str = "{:.4f}", empty: str = "") -> str:
        return fmt_number(value, spec, empty)

    header = ["Method", "Input", "Time (s) printed", "Params (M) printed", "Params (M, paper net)",
              "GMACs (paper net)", f"Params ({preset})", f"Time (s, {preset})", "Device", "Status"]
    lines = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in df.to_dict("records"):
        cells = [r["method"] + (f" ({r['experiment']})" if r["experiment"] else ""), r["input"],
                 _fmt(r["time_paper"]), _fmt(r["params_m_paper"], "{:g}"), _fmt(r["params_m_paper_net"], "{:.3f}"),
                 _fmt(r["gmacs_paper_net"], "{:.1f}"), _fmt(r["params_ours"], "{:,}"), _fmt(r["time_s_ours"]),
                 (f"{r['device_ours']}, {r['threads_ours']} threads" if r["device_ours"] else ""), r["status"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", (f"Preset: {preset}. 'Paper net': the network the paper preset builds for the row's experiment, "
                   "counted on meta tensors at the printed input (torch's FLOP counter: convolutions and matrix "
                   "products). Time: the running preset's trained model, median of the timed forward passes on "
                   "this machine; it is comparable with the printed V100 times only in ratio (e.g. ours against "
                   "the ESRGAN-style row).")]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_timing_table(df: pd.DataFrame, csv_path: str | os.PathLike, *, title: str, preset: str,
                       notes: Sequence[str] = ()) -> None:
    csv_path = os.fspath(csv_path)
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    write_text(os.path.splitext(csv_path)[0] + ".md", render_timing_markdown(df, title=title, preset=preset, notes=notes))


def notes_of(entry: Mapping) -> list[str]:
    return [str(n) for n in entry.get("notes", ())] + [
        f"Rows measured here: {json.dumps(dict(entry['rows']))} (experiment -> printed line)."]

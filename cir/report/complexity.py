"""A paper's complexity table (DRCNet supplement Tables 3-5, "FLOPs (G)" at 256x256) beside the
complexity of the network this project builds.

Every line of ``cir/paper/<paper>/<table>.csv`` (``task, backbone, printed_name, input_hw, flops_g,
reference_only``) becomes one row, in printed order. Other methods' lines are the paper's numbers
only (status :data:`~cir.report.spec.STATUS_REFERENCE`). Our backbone's line (``drcnet``) gets the
parameters, multiply-accumulates (GMACs) and FLOPs (2 per MAC) of the network the ``paper`` preset
builds (config.yaml ``presets.paper.models.<backbone>.student``) at a ``1x3xHxW`` input of the
printed size, and the printed value divided by each. The running preset's network gets columns
of its own (``params_<preset>``, ...) when it is not the paper preset.

MACs come from :func:`cir.eval.efficiency.count_flops` (torch's FLOP counter over one forward
pass: convolutions and matrix products only; FLOPs = 2 x MACs). The paper prints "FLOPs (G)" and no
parameter count; its 124.2 for DRCNet lies close to our MACs and about half our FLOPs, so the
printed figures are most likely multiply-accumulates (``cir/paper/drcnet/README.md``).

Each network is built once per architecture, parameters and input size, on CPU with random
weights under ``torch.inference_mode()``, counted and dropped; only the counts are kept.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Sequence

import pandas as pd

from cir.errors import CirError
from cir.paper import load_paper_table, paper_table_path, reference_only
from cir.report.spec import STATUS_NOT_BUILT, STATUS_OURS, STATUS_REFERENCE
from cir.utils.io import atomic_path

COLUMNS = ("task", "backbone", "printed_name", "input_hw", "flops_g", "reference_only")
OURS = "ours"  # column suffix of the paper preset's network
COUNTER = ("`torch.utils.flop_counter`, one forward pass; it counts convolutions and matrix products, not "
           "bias, activations, normalisation or other element-wise work")

_HW = re.compile(r"^\s*([0-9]+)\s*[xX]\s*([0-9]+)\s*$")


def parse_input_hw(value: object, where: str) -> tuple[int, int]:
    """``"256x256"`` -> ``(256, 256)`` (height, width); a CirError naming ``where`` otherwise."""
    m = _HW.match(str(value))
    if not m or min(int(m.group(1)), int(m.group(2))) < 1:
        raise CirError(f"{where}: input_hw {value!r}: expected HEIGHTxWIDTH, e.g. 256x256")
    return int(m.group(1)), int(m.group(2))


@functools.cache
def _measure(arch: str, params_json: str, height: int, width: int, scale: int = 1) -> tuple[int, float]:
    import torch

    from cir.eval.efficiency import count_flops
    from cir.models import build_model, count_parameters

    # On meta tensors: the counter needs shapes only (DRCNet at 256x256: instant instead of seconds
    # of CPU, identical counts, tests/test_drcnet.py). A network whose forward reads tensor values
    # cannot run there and is counted on the CPU.
    def count(device: str) -> tuple[int, float]:
        with torch.device(device), torch.inference_mode():
            model = build_model(arch, scale, **json.loads(params_json))
            return int(count_parameters(model)), float(count_flops(model, (1, 3, height, width)).macs)

    try:
        return count("meta")
    except (NotImplementedError, RuntimeError):   # a data-dependent forward: run it for real
        return count("cpu")


def measure_network(arch: str, params: dict, input_hw: tuple[int, int], scale: int = 1) -> dict:
    """Parameters, GMACs and GFLOPs (2 per MAC) of ``arch`` built with ``params`` at ``scale`` (1:
    restoration), on a batch-1 RGB input of ``input_hw``. Cached per (arch, params, input, scale)."""
    from cir.eval.efficiency import FLOPS_PER_MAC

    key = json.dumps(params, sort_keys=True, default=str)
    n_params, macs = _measure(arch, key, int(input_hw[0]), int(input_hw[1]), int(scale))
    return {"params": n_params, "gmacs": macs / 1e9, "gflops": FLOPS_PER_MAC * macs / 1e9}


def _network_of(cfg: dict, preset_name: str, backbone: str, *, required: bool) -> tuple[str, dict] | None:
    """``(arch, student params)`` of ``presets.<preset_name>.models.<backbone>``; None when the preset
    has no such model and it is not ``required``."""
    from cir import config as cfgmod

    key = f"presets.{preset_name}.models.{backbone}"
    presets = cfg.get("presets") or {}
    if required and preset_name not in presets:
        raise CirError(f"config: {key}: no preset {preset_name!r} (presets: {', '.join(presets) or 'none'})")
    pdict = cfgmod.preset(cfg, preset_name)  # an unknown running preset: ConfigError listing the presets
    models = pdict.get("models") or {}
    if backbone not in models:
        if required:
            raise CirError(f"config: {key}: missing; the {preset_name} preset builds no {backbone!r} network "
                           f"(models: {', '.join(models) or 'none'})")
        return None
    if "student" not in (models[backbone] or {}):
        raise CirError(f"config: {key}.student: missing")
    return cfgmod.backbone_arch(pdict, backbone), dict(models[backbone]["student"] or {})


def build_complexity_table(paper_key: str, cfg: dict, preset: str, *, backbone: str = "drcnet") -> pd.DataFrame:
    """One row per printed line of ``paper_key`` (e.g. ``"drcnet/table3"``), in printed order.

    Columns: ``task, backbone, printed_name, input_hw, flops_g_paper, status``; on ``backbone``'s
    line ``params_ours`` (int), ``gmacs_ours``, ``gflops_ours`` (2 per MAC), ``printed_over_gmacs``
    and ``printed_over_gflops`` (3 decimals) for the paper preset's network, and
    ``params_<preset>``, ``gmacs_<preset>``, ``gflops_<preset>`` for the running preset's (when
    ``preset`` is not ``"paper"``; NaN when that preset has no ``backbone`` network).
    """
    paper = load_paper_table(paper_key, required_columns=COLUMNS)
    path = paper_table_path(paper_key)
    n_ours = int((paper["backbone"] == backbone).sum())
    if n_ours != 1:
        raise CirError(f"{path}: backbone {backbone!r} must appear on exactly one line; found {n_ours}")
    ours_net = _network_of(cfg, "paper", backbone, required=True)
    run_net = None if preset == "paper" else _network_of(cfg, preset, backbone, required=False)
    suffixes = [OURS] + ([] if preset == "paper" else [preset])

    ref = reference_only(paper)
    rows = []
    for i, rec in enumerate(paper.to_dict("records")):
        flops = float(rec["flops_g"]) if pd.notna(rec["flops_g"]) else math.nan
        out = {"task": rec["task"], "backbone": rec["backbone"], "printed_name": rec["printed_name"],
               "input_hw": rec["input_hw"], "flops_g_paper": flops}
        is_ours = rec["backbone"] == backbone
        out["status"] = STATUS_OURS if is_ours else STATUS_REFERENCE if bool(ref.iloc[i]) else STATUS_NOT_BUILT
        for suffix in suffixes:
            out.update({f"params_{suffix}": pd.NA, f"gmacs_{suffix}": math.nan, f"gflops_{suffix}": math.nan})
            if suffix == OURS:
                out.update({"printed_over_gmacs": math.nan, "printed_over_gflops": math.nan})
        if is_ours:
            hw = parse_input_hw(rec["input_hw"], f"{path}, line of {backbone!r}")
            for suffix, net in ((OURS, ours_net), (preset, run_net)):
                if suffix not in suffixes or net is None:
                    continue
                m = measure_network(net[0], net[1], hw)
                out[f"params_{suffix}"] = m["params"]
                out[f"gmacs_{suffix}"] = m["gmacs"]
                out[f"gflops_{suffix}"] = m["gflops"]
            if not math.isnan(flops):
                out["printed_over_gmacs"] = round(flops / out["gmacs_ours"], 3)
                out["printed_over_gflops"] = round(flops / out["gflops_ours"], 3)
        rows.append(out)
    df = pd.DataFrame(rows)
    for suffix in suffixes:
        df[f"params_{suffix}"] = df[f"params_{suffix}"].astype("Int64")
    return df


def network_notes(cfg: dict, preset: str, *, backbone: str = "drcnet") -> list[str]:
    """Notes naming the networks measured: the paper preset's and the running preset's settings."""
    notes = []
    for name in dict.fromkeys(("paper", preset)):
        net = _network_of(cfg, name, backbone, required=name == "paper")
        key = f"presets.{name}.models.{backbone}.student"
        if net is None:
            notes.append(f"The {name} preset builds no {backbone} network ({key} absent): no {name} columns.")
        else:
            shown = json.dumps(net[1], sort_keys=True, default=str) if net[1] else "{} (the defaults)"
            notes.append(f"{'Ours' if name == 'paper' else f'The {name} columns'}: `{key}` = {shown} "
                         f"(architecture {net[0]}).")
    return notes


def fmt_number(value, spec: str = "{:.2f}", empty: str = "") -> str:
    """A table cell: ``value`` formatted with ``spec``, ``empty`` for None, NA or NaN."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return empty
    return spec.format(value)


def render_complexity_markdown(df: pd.DataFrame, *, title: str, preset: str, notes: Sequence[str] = ()) -> str:
    """The table as Markdown, with the counting convention stated under it."""
    extra = [] if preset == "paper" or f"gmacs_{preset}" not in df.columns else [preset]
    header = ["Method", "Task", "Input", "FLOPs (G) printed", "Params (ours)", "GMACs (ours)",
              "GFLOPs (ours, 2/MAC)", "printed / our GMACs"]
    for name in extra:
        header += [f"Params ({name})", f"GMACs ({name})", f"GFLOPs ({name}, 2/MAC)"]
    header.append("Status")
    lines = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in df.to_dict("records"):
        cells = [r["printed_name"], r["task"], r["input_hw"], fmt_number(r["flops_g_paper"], "{:g}", "-"),
                 fmt_number(r["params_ours"], "{:,}"), fmt_number(r["gmacs_ours"]), fmt_number(r["gflops_ours"]),
                 fmt_number(r["printed_over_gmacs"], "{:.3f}")]
        for name in extra:
            cells += [fmt_number(r[f"params_{name}"], "{:,}"), fmt_number(r[f"gmacs_{name}"]), fmt_number(r[f"gflops_{name}"])]
        cells.append(r["status"])
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")

    ours = df[df["status"] == STATUS_OURS]
    ratio = ""
    if len(ours) == 1 and pd.notna(ours["printed_over_gmacs"].iloc[0]):
        r = ours.iloc[0]
        ratio = (f" The printed {fmt_number(r['flops_g_paper'], '{:g}')} for {r['printed_name']} is "
                 f"{r['printed_over_gmacs']:.3f} x our {r['gmacs_ours']:.2f} GMACs and "
                 f"{r['printed_over_gflops']:.3f} x our {r['gflops_ours']:.2f} GFLOPs.")
    lines += ["",
              "The paper's \"FLOPs (G)\" are most likely multiply-accumulates (GMACs), not FLOPs." + ratio
              + f" Our MACs are measured with torch's counter ({COUNTER}) on a batch-1 RGB input of the printed "
              "size; FLOPs = 2 x MACs. The paper prints no parameter count, so the parameter columns are ours "
              "only. Other methods' lines are the paper's numbers (not reproduced); '-' is printed as such."]
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_complexity_table(df: pd.DataFrame, csv_path: str | os.PathLike, md_path: str | os.PathLike, *,
                           title: str, preset: str, notes: Sequence[str] = ()) -> None:
    """Write the CSV and its Markdown rendering (both rendered first, each written atomically)."""
    csv_text = df.to_csv(index=False, lineterminator="\n")
    md_text = render_complexity_markdown(df, title=title, preset=preset, notes=notes)
    for path, text in ((csv_path, csv_text), (md_path, md_text)):
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")

"""Efficiency of SR networks: parameters, FLOPs/MACs and inference time per image.

FLOPs are counted by PyTorch's own counter (:class:`torch.utils.flop_counter.FlopCounterMode`),
which follows the operators actually dispatched during one forward pass. Its conventions, which
every number written by this module inherits:

* one multiply-add (MAC) counts as **2 FLOPs**; MACs are reported as ``FLOPs / 2``;
* only matrix products and convolutions are counted (``mm``, ``addmm``, ``bmm``, ``baddbmm``,
  convolutions, scaled-dot-product attention); bias additions, activations, normalisation,
  softmax, pixel shuffle, padding and other element-wise work are not.

The super-resolution convention (SwinIR, RCAN and most SR papers) states FLOPs and run time at
the LR input whose output is 1280x720, i.e. ``(1280 / s) x (720 / s)`` for scale ``s``
(:func:`lr_size_for_output`). Run time is the median wall-clock time of one batch-1 forward pass
after warm-up passes, under ``torch.inference_mode()``, with the thread count and device recorded.

:func:`count_flops`, :func:`time_inference` and :func:`profile_model` take any ``nn.Module`` and an
input size, so parameter/FLOP/run-time tables of other papers (e.g. Cria-CL Table VII, DRCNet
Tables 3-5) can be built from them as well.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from cir.errors import CirError
from cir.models.registry import count_parameters
from cir.utils.cli import parse_named_path
from cir.utils.device import synchronize
from cir.utils.io import write_text

FLOPS_PER_MAC = 2  # torch.utils.flop_counter counts a multiply-add as two floating-point operations
DEFAULT_OUTPUT_SIZE = (720, 1280)  # (height, width) of the SR output the LR input size is derived from
COUNTED_OPERATORS = "matrix products and convolutions (bias, activations, normalisation, softmax not counted)"


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one forward pass as counted by ``torch.utils.flop_counter``.

    ``flops`` uses torch's convention of 2 FLOPs per multiply-add; ``by_operator`` splits it by
    aten operator name (e.g. ``"convolution"``, ``"bmm"``).
    """

    flops: int
    by_operator: dict[str, int] = field(default_factory=dict)
    output_shape: tuple[int, ...] = ()

    @property
    def macs(self) -> float:
        """Multiply-adds: ``flops / 2``."""
        return self.flops / FLOPS_PER_MAC


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of single forward passes (after ``warmup`` untimed passes)."""

    median_s: float
    min_s: float
    max_s: float
    runs: int
    warmup: int
    threads: int
    device: str


def _model_device(model: nn.Module) -> torch.device:
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _input(model: nn.Module, input_shape: Sequence[int], seed: int = 0) -> torch.Tensor:
    shape = tuple(int(n) for n in input_shape)
    if len(shape) != 4 or min(shape) < 1:
        raise CirError(f"input shape must be N x C x H x W with positive sizes; got {shape}")
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen).to(_model_device(model))


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> FlopCount:
    """FLOPs of one forward pass of ``model`` (in eval mode) on a random ``input_shape`` tensor.

    ``input_shape`` is ``(N, C, H, W)``; the input lives on the model's device. The model's
    train/eval mode is restored afterwards.
    """
    from torch.utils.flop_counter import FlopCounterMode

    x = _input(model, input_shape)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            out = model(x)
    finally:
        model.train(was_training)
    per_op = counter.get_flop_counts().get("Global", {})
    by_operator = {getattr(op, "__name__", str(op)).split(".")[-1]: int(n) for op, n in per_op.items()}
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else ()
    return FlopCount(int(counter.get_total_flops()), by_operator, shape)


def time_inference(model: nn.Module, input_shape: Sequence[int], *, warmup: int = 1, runs: int = 5) -> Timing:
    """Median/min/max seconds of one forward pass of ``model`` on a random ``input_shape`` tensor.

    ``warmup`` untimed passes come first (allocator, kernel selection, SwinIR's attention masks);
    then ``runs`` timed passes, each synchronised on CUDA. Eval mode, ``torch.inference_mode()``.
    """
    if warmup < 0 or runs < 1:
        raise CirError(f"timing needs warmup >= 0 and runs >= 1; got warmup={warmup}, runs={runs}")
    x = _input(model, input_shape)
    device = x.device
    was_training = model.training
    model.eval()
    times = []
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            for _ in range(runs):
                synchronize(device)
                t0 = time.perf_counter()
                model(x)
                synchronize(device)
                times.append(time.perf_counter() - t0)
    finally:
        model.train(was_training)
    return Timing(statistics.median(times), min(times), max(times), runs, warmup, torch.get_num_threads(),
                  str(device))


def lr_size_for_output(scale: int, output_size: tuple[int, int] = DEFAULT_OUTPUT_SIZE) -> tuple[int, int]:
    """``(height, width)`` of the LR input whose x``scale`` output is ``output_size`` (rounded
    half up where the size is not a multiple of the scale: x3 of 1280x720 -> 427x240)."""
    if scale < 1:
        raise CirError(f"scale must be a positive integer; got {scale}")
    return tuple(max(1, math.floor(n / scale + 0.5)) for n in output_size)  # type: ignore[return-value]


def profile_model(model: nn.Module, input_hw: tuple[int, int], *, warmup: int = 1, runs: int = 5,
                  channels: int = 3) -> dict:
    """Parameters, FLOPs/MACs and run time of ``model`` on a batch-1 ``input_hw`` input.

    Returns a flat dict: ``params``, ``input_h_px``, ``input_w_px``, ``output_h_px``,
    ``output_w_px``, ``flops``, ``macs``, ``flops_by_operator``, ``time_s_median``,
    ``time_s_min``, ``time_s_max``, ``timed_runs``, ``warmup_runs``, ``threads``, ``device``.
    """
    shape = (1, channels, int(input_hw[0]), int(input_hw[1]))
    flops = count_flops(model, shape)
    timing = time_inference(model, shape, warmup=warmup, runs=runs)
    out_h, out_w = (flops.output_shape[-2:] if len(flops.output_shape) >= 2 else (None, None))
    return {
        "params": count_parameters(model),
        "input_h_px": shape[2],
        "input_w_px": shape[3],
        "output_h_px": out_h,
        "output_w_px": out_w,
        "flops": flops.flops,
        "macs": flops.macs,
        "flops_by_operator": "; ".join(f"{k}={v}" for k, v in sorted(flops.by_operator.items())),
        "time_s_median": timing.median_s,
        "time_s_min": timing.min_s,
        "time_s_max": timing.max_s,
        "timed_runs": timing.runs,
        "warmup_runs": timing.warmup,
        "threads": timing.threads,
        "device": timing.device,
    }


# Columns of efficiency.csv, units in the names. FLOPs follow torch's count (2 per multiply-add).
COLUMNS = ("preset", "scale", "backbone", "experiment", "params", "params_K", "input_h_px", "input_w_px",
           "output_h_px", "output_w_px", "GFLOPs_torch_2_per_MAC", "GMACs", "time_ms_median", "time_ms_min",
           "time_ms_max", "timed_runs", "warmup_runs", "threads", "device", "torch_version",
           "flops_by_operator", "model_file")


def _parse_model_arg(item: str) -> tuple[str, Path]:
    exp, path = parse_named_path(item, "--model", "EXPERIMENT=MODEL_FILE")
    return exp, Path(path)


def efficiency_table(models: Sequence[tuple[str, str | os.PathLike]], *, preset: str,
                     output_size: tuple[int, int] = DEFAULT_OUTPUT_SIZE,
                     lr_size: tuple[int, int] | None = None, warmup: int = 1, runs: int = 5,
                     device: str = "cpu") -> pd.DataFrame:
    """One row per ``(experiment, model file)``: the :data:`COLUMNS` of efficiency.csv.

    The input is ``lr_size`` (height, width) when given, else the LR size of ``output_size`` at
    the model's scale. Scale and backbone come from the model file's spec.
    """
    from cir.models.registry import load_model_file, model_spec
    from cir.utils.device import resolve_device

    dev = resolve_device(device)
    rows = []
    for exp, path in models:
        model = load_model_file(path).to(dev)
        spec = model_spec(model)
        scale = int(spec["scale"])
        hw = tuple(lr_size) if lr_size is not None else lr_size_for_output(scale, output_size)
        try:
            r = profile_model(model, hw, warmup=warmup, runs=runs)
        except RuntimeError as exc:
            raise CirError(f"{path}: forward pass at input {hw[0]}x{hw[1]} failed: {exc}") from exc
        if (r["output_h_px"], r["output_w_px"]) != (hw[0] * scale, hw[1] * scale):
            raise CirError(f"{path}: output {r['output_h_px']}x{r['output_w_px']} for input {hw[0]}x{hw[1]}; "
                           f"expected x{scale}")
        rows.append({
            "preset": preset, "scale": scale, "backbone": spec["arch"], "experiment": exp,
            "params": r["params"], "params_K": r["params"] / 1e3,
            "input_h_px": r["input_h_px"], "input_w_px": r["input_w_px"],
            "output_h_px": r["output_h_px"], "output_w_px": r["output_w_px"],
            "GFLOPs_torch_2_per_MAC": r["flops"] / 1e9, "GMACs": r["macs"] / 1e9,
            "time_ms_median": r["time_s_median"] * 1e3, "time_ms_min": r["time_s_min"] * 1e3,
            "time_ms_max": r["time_s_max"] * 1e3, "timed_runs": r["timed_runs"], "warmup_runs": r["warmup_runs"],
            "threads": r["threads"], "device": r["device"], "torch_version": torch.__version__,
            "flops_by_operator": r["flops_by_operator"], "model_file": str(path),
        })
    if not rows:
        raise CirError("efficiency table: no model files given")
    return pd.DataFrame(rows, columns=list(COLUMNS))


def render_efficiency_markdown(df: pd.DataFrame) -> str:
    """The table as Markdown, with the counting and timing conventions stated under it."""
    from cir.report.tables import get_table_spec

    names = get_table_spec("table2")
    header = ("| Scale | Backbone | Method | Params (K) | Input LR (H×W px) | Output (H×W px) | FLOPs (G) | "
              "MACs (G) | Time (ms, median) | Time (ms, min–max) |")
    lines = ["# Efficiency: parameters, FLOPs and inference time", "", header,
             "| --- | --- | --- | ---: | --- | --- | ---: | ---: | ---: | --- |"]
    for r in df.itertuples(index=False):
        lines.append(
            f"| ×{r.scale} | {names.display('backbone', r.backbone)} | {names.display('method', r.experiment)} | "
            f"{r.params_K:.1f} | {r.input_h_px}×{r.input_w_px} | {r.output_h_px}×{r.output_w_px} | "
            f"{r.GFLOPs_torch_2_per_MAC:.2f} | {r.GMACs:.2f} | {r.time_ms_median:.1f} | "
            f"{r.time_ms_min:.1f}–{r.time_ms_max:.1f} |")
    devices = ", ".join(sorted(set(df["device"])))
    threads = ", ".join(str(t) for t in sorted(set(df["threads"])))
    runs = ", ".join(str(t) for t in sorted(set(df["timed_runs"])))
    warmups = ", ".join(str(t) for t in sorted(set(df["warmup_runs"])))
    sizes = sorted({(int(h), int(w)) for h, w in zip(df["output_h_px"], df["output_w_px"])})
    size_text = ", ".join(f"{h}×{w}" for h, w in sizes)
    presets = ", ".join(sorted(set(df["preset"])))
    lines += [
        "",
        f"Preset: {presets}. Input: one image (batch 1) of the LR size given per row; the outputs are "
        + f"{size_text} (H×W px).",
        f"FLOPs: counted by `torch.utils.flop_counter` (torch {df['torch_version'].iloc[0]}) over one forward "
        + f"pass; one multiply-add counts as 2 FLOPs, MACs = FLOPs / 2; {COUNTED_OPERATORS}.",
        f"Time: wall clock of one forward pass under `torch.inference_mode()`, median of {runs} runs after "
        + f"{warmups} warm-up runs, on {devices} with {threads} thread(s); other jobs sharing the machine "
        + "make these times noisy.",
        "",
    ]
    return "\n".join(lines)


def write_efficiency(df: pd.DataFrame, csv_path: str | os.PathLike) -> None:
    """Write ``csv_path`` and its Markdown rendering beside it (``.md``), atomically."""
    csv_path = Path(csv_path)
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    write_text(csv_path, buf.getvalue())
    write_text(csv_path.with_suffix(".md"), render_efficiency_markdown(df))


def make_efficiency(model_args: Sequence[str], out_csv: str | os.PathLike, *, preset: str,
                    output_size: tuple[int, int] = DEFAULT_OUTPUT_SIZE, lr_size: tuple[int, int] | None = None,
                    warmup: int = 1, runs: int = 5, device: str = "cpu") -> pd.DataFrame:
    """CLI entry: ``EXPERIMENT=MODEL_FILE`` arguments -> efficiency.csv and .md."""
    models = [_parse_model_arg(item) for item in model_args]
    df = efficiency_table(models, preset=preset, output_size=output_size, lr_size=lr_size, warmup=warmup,
                          runs=runs, device=device)
    write_efficiency(df, out_csv)
    return df

"""Score an SR network on paired test sets and write per-image CSVs and a summary.

The metric list is a list of :class:`~cir.eval.metrics.MetricSpec` (default: DCKD's SR convention,
PSNR/SSIM on Y with crop border = scale) or a named convention of :data:`cir.eval.metrics.CONVENTIONS`.
The network runs once per image; every metric is built once and scores that one output. A metric
whose weight file is missing is recorded as ``"unavailable: <reason>"`` in the CSV and summary; a
metric that fails on an image (e.g. out of memory) stops the evaluation with an error naming the
test set and the image files.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from cir.data.images import list_images, read_image, to_tensor, to_uint8, write_image
from cir.data.paired import Pair, load_pairs
from cir.errors import CirError
from cir.eval.infer import DEFAULT_OVERLAP, restore
from cir.eval.metrics import (
    MetricSpec,
    UnavailableMetric,
    build_metrics,
    convention_specs,
    describe_specs,
    metric_convention,
    metric_weights,
    rounds_output,
    sr_metric_specs,
    unavailable_value,
)
from cir.models.registry import count_parameters, load_model_file
from cir.utils.device import resolve_device, synchronize
from cir.utils.io import write_json, write_text


def quantize(sr: torch.Tensor) -> torch.Tensor:
    """Round an output in ``[0, 1]`` to uint8 levels (half away from zero), as saving it as PNG
    and reading it back would; float64 so the levels are exact."""
    return torch.floor(sr.to(torch.float64).clamp(0.0, 1.0) * 255.0 + 0.5) / 255.0


def scored_output(sr: torch.Tensor, round_output: bool = True) -> torch.Tensor:
    """What the metrics see of a network output: the saved image (:func:`quantize`), or the
    float output clamped to ``[0, 1]`` (conventions that score the tensor, e.g. ``dehaze_rgb``)."""
    return quantize(sr) if round_output else sr.to(torch.float64).clamp(0.0, 1.0)


def _hr_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 H x W x 3 -> 1 x 3 x H x W float64 in [0, 1]; float64 holds every k / 255 exactly
    enough (1e-16) that the reference image adds no rounding of its own to the metrics."""
    chw = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    return chw.unsqueeze(0).to(device=device, dtype=torch.float64) / 255.0


def _check_set_name(name: str) -> None:
    if not name or name.startswith(".") or any(sep in name for sep in ("/", "\\", os.sep)):
        raise CirError(f"test set name {name!r} must be a plain file name (it names the CSV file)")


def _csv_text(rows: list[dict], metric_names: Sequence[str]) -> str:
    buf = io.StringIO()
    pd.DataFrame(rows, columns=["image", *metric_names]).to_csv(buf, index=False)
    return buf.getvalue()


def _mean(rows: list[dict], name: str) -> float | str:
    values = [r[name] for r in rows]
    if any(isinstance(v, str) for v in values):  # "unavailable: ..." is the same for every image
        return next(v for v in values if isinstance(v, str))
    return sum(values) / len(values)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def evaluate(model: nn.Module, test_sets: Mapping[str, str | os.PathLike], scale: int,
             device: str | torch.device, out_dir: str | os.PathLike, *, tile: int | None = None,
             save_images: bool = False, overlap: int = DEFAULT_OVERLAP,
             metrics: Sequence[MetricSpec] | None = None, round_output: bool = True) -> dict[str, dict]:
    """Run ``model`` once on every full LR image of each test set and score the outputs.

    ``test_sets`` maps a test-set name to a pair directory (``LR/`` and ``HR/``). Outputs are
    rounded to uint8 levels (``round_output=False``: clamped only) before scoring with ``metrics``
    (default :func:`sr_metric_specs`:
    PSNR-Y and SSIM-Y, crop border = ``scale``). Writes ``{out_dir}/{name}.csv`` (columns image and
    one per metric) per test set and, with ``save_images``, ``{out_dir}/{name}/{image}.png``.
    ``tile``/``overlap`` (LR pixels) bound the memory of inference, see
    :func:`cir.eval.infer.restore`. Returns, per test set, ``n_images``, the mean of every metric
    (or ``"unavailable: <reason>"``), ``per_image_csv``, ``sec_per_image`` (inference),
    ``metric_sec_per_image`` (all metrics) and ``sec_per_image_by_metric``.
    """
    if tile is not None and not 0 <= overlap < tile:
        raise CirError(f"tile size {tile} must be larger than the tile overlap {overlap} (LR pixels)")
    device = torch.device(device)
    out_dir = Path(out_dir)
    scale = int(scale)
    specs = list(metrics) if metrics is not None else sr_metric_specs(scale)
    if not specs:
        raise CirError("evaluate: the metric list is empty")
    built = build_metrics(specs, device, allow_unavailable=True)
    names = [s.name for s in specs]
    model = model.to(device)
    pairs_by_set = {}
    skipped: dict[str, set[str]] = {}
    for name, pair_dir in test_sets.items():  # read everything first: fail before any model run
        _check_set_name(name)
        try:
            pairs = load_pairs(pair_dir, scale) if not reference_free(pair_dir) else load_inputs(pair_dir)
        except (OSError, ValueError) as exc:
            raise CirError(f"test set {name!r} ({pair_dir}): {exc}") from exc
        full_ref = [s.name for s in specs if s.full_reference]
        if reference_free(pair_dir) and full_ref and len(full_ref) == len(specs):
            raise CirError(f"test set {name!r} ({pair_dir}) has no ground truth (no HR/ folder): it can be scored "
                           f"with no-reference metrics only, not {', '.join(full_ref)}")
        # a convention with both kinds (Cria-CL's: PSNR/SSIM/LPIPS and NIQE) scores a set without
        # ground truth (RealSR-Zero) with its no-reference metrics; the others say why they are absent
        skipped[name] = set(full_ref) if reference_free(pair_dir) else set()
        pairs_by_set[name] = pairs
    results: dict[str, dict] = {}
    for name, pairs in pairs_by_set.items():
        rows, infer_sec = [], 0.0
        metric_sec = dict.fromkeys(names, 0.0)
        for pair in pairs:
            lr = to_tensor(pair.lr).unsqueeze(0).to(device)
            hr = _hr_tensor(pair.hr, device) if pair.hr is not None else None
            synchronize(device)
            t0 = time.perf_counter()
            sr = restore(model, lr, scale=scale, tile=tile, overlap=overlap)
            synchronize(device)
            infer_sec += time.perf_counter() - t0
            sr = scored_output(sr, round_output)
            row: dict = {"image": pair.name}
            for metric_name, metric in built.items():
                if isinstance(metric, UnavailableMetric):
                    row[metric_name] = unavailable_value(metric.reason)
                    continue
                if metric_name in skipped[name]:
                    row[metric_name] = unavailable_value(f"test set {name} has no ground truth")
                    continue
                t1 = time.perf_counter()
                try:
                    row[metric_name] = float(metric(sr, hr)[0])
                except (CirError, MemoryError, RuntimeError) as exc:
                    files = f"{pair.lr_file} -> reference {pair.hr_file}" if pair.hr_file else pair.source
                    reason = _one_line(exc) if isinstance(exc, CirError) else \
                        f"{metric_name} failed ({type(exc).__name__}: {_one_line(exc)})"
                    raise CirError(f"test set {name!r}, image {pair.name!r} ({files}): {reason}") from exc
                synchronize(device)
                metric_sec[metric_name] += time.perf_counter() - t1
            rows.append(row)
            if save_images:
                write_image(out_dir / name / f"{pair.name}.png", to_uint8(sr)[0])
        csv_path = out_dir / f"{name}.csv"
        write_text(csv_path, _csv_text(rows, names))
        n = len(rows)
        results[name] = {
            "n_images": n,
            **{m: _mean(rows, m) for m in names},
            "per_image_csv": str(csv_path),
            "sec_per_image": infer_sec / n,
            "metric_sec_per_image": sum(metric_sec.values()) / n,
            "sec_per_image_by_metric": {m: metric_sec[m] / n for m in names},
            "metric_weights": metric_weights(built),
        }
    return results


def reference_free(pair_dir: str | os.PathLike) -> bool:
    """A test set without ground truth: an ``LR/`` folder of inputs and no ``HR/`` folder (real
    hazy photographs such as RTTS, real-world SR inputs); scored with no-reference metrics."""
    return (Path(pair_dir) / "LR").is_dir() and not (Path(pair_dir) / "HR").exists()


def load_inputs(pair_dir: str | os.PathLike) -> list[Pair]:
    """The inputs of a reference-free test set as pairs without ``hr``, sorted by name."""
    out = []
    for f in list_images(Path(pair_dir) / "LR"):
        out.append(Pair(name=f.stem, lr=read_image(f), hr=None, source=f"{pair_dir}/{f.stem}", lr_file=f))
    if len({p.name for p in out}) != len(out):
        raise CirError(f"{pair_dir}/LR: two images share a name")
    return sorted(out, key=lambda p: p.name)


def checkpoint_stand_ins(path: str | os.PathLike) -> list[str]:
    """``meta["stand_ins"]`` of a cir checkpoint (a dict with ``"model_spec"``); ``[]`` otherwise."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if not (isinstance(obj, dict) and "model_spec" in obj):
        return []
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise CirError(f"{path}: checkpoint key 'meta' is a {type(meta).__name__}, expected a dict")
    stand_ins = meta.get("stand_ins", [])
    if not isinstance(stand_ins, list) or not all(isinstance(s, str) for s in stand_ins):
        raise CirError(f"{path}: checkpoint meta['stand_ins'] must be a list of strings; got {stand_ins!r}")
    return list(stand_ins)


def evaluate_model_file(model_file: str | os.PathLike, test_sets: Mapping[str, str | os.PathLike],
                        scale: int, summary_path: str | os.PathLike, *, preset: str, backbone: str,
                        method: str, device: str = "auto", tile: int | None = None,
                        save_images: bool = False, convention: str | None = None,
                        metrics: Sequence[MetricSpec] | None = None, task: str | None = None,
                        tlc: int | None = None, arch: str | None = None) -> dict:
    """Load ``model_file``, :func:`evaluate` it and write the summary JSON to ``summary_path``.

    The model file must hold an ``arch`` network (a key of
    :data:`cir.models.registry.ARCHITECTURES`; default: ``backbone``) at ``scale``; otherwise a :class:`CirError` names
    the file, the architecture/scale it holds and the one asked for, before anything is run.

    The metrics are ``metrics``, else those of the named ``convention`` (a key of
    :data:`~cir.eval.metrics.CONVENTIONS`), else DCKD's SR convention. Per-image CSVs (and saved
    images) go to the folder of ``summary_path``. Each test set's entry holds ``n_images``, one
    mean per metric, ``per_image_csv``, ``sec_per_image`` (inference) and
    ``sec_per_image_by_metric``.
    """
    scale = int(scale)
    if metrics is not None and convention is not None:
        raise CirError("evaluate: give a metric list or a convention name, not both")
    specs = list(metrics) if metrics is not None else convention_specs(convention or "dckd_sr", scale)
    if specs == sr_metric_specs(scale):
        description = metric_convention(scale)
    elif convention is not None:
        description = f"{convention}: {describe_specs(specs)}"
    else:
        description = describe_specs(specs)
    dev = resolve_device(device)
    arch = arch or backbone
    model = load_model_file(model_file, expect_arch=arch, expect_scale=scale)
    if tlc is not None and arch == "nafnet":
        # NAFNet's test-time local statistics (cir/models/tlc.py), trained on tlc x tlc patches:
        # the official GoPro numbers are measured with them
        from cir.models.tlc import enable_tlc

        enable_tlc(model, train_size=int(tlc))
        description += f"; NAFNet test-time local statistics (TLC, training patch {int(tlc)})"
    stand_ins = checkpoint_stand_ins(model_file)
    summary_path = Path(summary_path)
    round_output = rounds_output(convention if metrics is None else None)
    if not round_output:
        description += "; outputs scored unrounded (clamped to [0, 1])"
    results = evaluate(model, test_sets, scale, dev, summary_path.parent, tile=tile,
                       save_images=save_images, metrics=specs, round_output=round_output)
    summary = {
        "preset": preset,
        "scale": scale,
        "backbone": backbone,
        "method": method,
        "model_file": str(model_file),
        "parameters": count_parameters(model),
        "stand_ins": stand_ins,
        "device": dev.type,
        "metric_convention": description,
        "convention_name": convention if metrics is None else None,
        "task": task or (f"x{scale}" if scale > 1 else None),
    }
    return _write_summary(summary_path, summary, specs, results)


def _write_summary(summary_path: Path, summary: dict, specs: Sequence[MetricSpec], results: Mapping[str, dict]) -> dict:
    """Complete ``summary`` with each test set's entry (``n_images``, one mean per metric,
    ``per_image_csv``, timings) and the weight file of each learned metric, and write it."""
    summary["test_sets"] = {
        name: {key: r[key] for key in ("n_images", *[s.name for s in specs], "per_image_csv",
                                       "sec_per_image", "sec_per_image_by_metric")}
        for name, r in results.items()
    }
    weights = next(iter(results.values()))["metric_weights"]
    if weights:  # which weight file each learned/model-based metric used
        summary["metric_convention"] += "; weights: " + ", ".join(f"{m}={w}" for m, w in weights.items())
    write_json(summary_path, summary)
    return summary


def evaluate_inputs(test_sets: Mapping[str, str | os.PathLike], summary_path: str | os.PathLike, *, preset: str,
                    convention: str, task: str | None = None, device: str = "auto") -> dict:
    """Score the degraded test images themselves (the "Hazy", "Rainy", "Original degraded" rows of
    Uni-Removal's tables): :func:`evaluate` with the identity in place of a network, at scale 1.
    The summary's backbone and method are ``input``, its parameter count 0."""
    specs = convention_specs(convention, 1)
    dev = resolve_device(device)
    summary_path = Path(summary_path)
    round_output = rounds_output(convention)
    results = evaluate(nn.Identity(), test_sets, 1, dev, summary_path.parent, metrics=specs,
                       round_output=round_output)
    summary = {
        "preset": preset, "scale": 1, "backbone": "input", "method": "input", "model_file": "(the degraded inputs)",
        "parameters": 0, "stand_ins": [], "device": dev.type,
        "metric_convention": f"{convention}: {describe_specs(specs)}; the degraded inputs scored, no network",
        "convention_name": convention, "task": task,
    }
    return _write_summary(summary_path, summary, specs, results)

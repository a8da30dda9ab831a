"""Visual comparison figure, as in the papers: one test image, the same crop from every method.

Left: the whole HR image with the crop marked. Right: the crop from HR, from the bicubic
upsampling of the LR input, and from each method's SR output, each labelled with the method and
its PSNR on the whole image (the number the evaluation wrote to its per-image CSV; bicubic is
scored here with the same metric). No network runs: the SR outputs are the PNGs that
``evaluate --save-images`` writes to ``<summary folder>/<test set>/<image>.png``.

Choices made automatically, deterministically, unless set explicitly:

* **image** -- the image of the test set on which the methods' PSNRs spread the most
  (max - min over the compared methods); ties go to the first name in sorted order;
* **crop** -- a square of side ``crop_fraction`` x the shorter HR side, placed on a grid of
  stride ``side // 8`` inside the metric's crop border, at the window with the highest mean
  score, first in raster order on ties. The score of a pixel is computed on BT.601 luma from the
  absolute errors ``|Y_method - Y_HR|`` of the compared methods:

  - ``spread`` (default): their standard deviation over methods -- where the methods differ;
  - ``error``: their mean over methods -- where the methods are worst.

  With a single method the spread is zero everywhere, so ``spread`` falls back to ``error``.
"""

from __future__ import annotations

import io
import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cir.errors import CirError
from cir.utils.cli import parse_named_path
from cir.utils.io import atomic_path, write_text

CROP_RULES = ("spread", "error")
DEFAULT_CROP_FRACTION = 0.25


@dataclass(frozen=True)
class Crop:
    top: int
    left: int
    size: int

    def of(self, img: np.ndarray) -> np.ndarray:
        return img[self.top:self.top + self.size, self.left:self.left + self.size]


@dataclass(frozen=True)
class VisualPanel:
    label: str  # what the panel shows: "HR", "Bicubic" or a method's display name
    source: str  # experiment id, "hr", "bicubic" (SR) or "input" (the degraded input at scale 1)
    psnr: float | None  # PSNR (dB, Y) of the whole image; None for HR
    crop: np.ndarray  # uint8 crop shown in the panel


@dataclass(frozen=True)
class VisualFigure:
    test_set: str
    image: str
    crop: Crop
    rule: str  # how the crop was chosen: "spread", "error" or "given"
    panels: list[VisualPanel]


def luma(img: np.ndarray) -> np.ndarray:
    """BT.601 studio-range Y (16..235) of a uint8 RGB image, float64."""
    rgb = img.astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def crop_score_map(hr: np.ndarray, outputs: Sequence[np.ndarray], rule: str = "spread") -> np.ndarray:
    """Per-pixel score (H x W) of the crop rule: std (``spread``) or mean (``error``) over the
    outputs of their absolute luma error to ``hr``."""
    if rule not in CROP_RULES:
        raise CirError(f"crop rule {rule!r} is not one of {', '.join(CROP_RULES)}")
    if not outputs:
        raise CirError("crop choice needs at least one method output")
    for out in outputs:
        if out.shape != hr.shape:
            raise CirError(f"output of shape {out.shape} does not match HR of shape {hr.shape}")
    y_hr = luma(hr)
    errors = np.stack([np.abs(luma(o) - y_hr) for o in outputs])
    if rule == "spread" and len(outputs) > 1:
        return errors.std(axis=0)
    return errors.mean(axis=0)


def choose_crop(hr: np.ndarray, outputs: Sequence[np.ndarray], size: int, *, border: int = 0,
                rule: str = "spread", stride: int | None = None) -> Crop:
    """The ``size`` x ``size`` window (inside ``border``) with the highest mean score; see the
    module docstring. ``stride`` defaults to ``max(1, size // 8)``."""
    score = crop_score_map(hr, outputs, rule)
    h, w = score.shape
    if size < 1 or size > min(h, w) - 2 * border:
        raise CirError(f"crop size {size} px does not fit an image of {h}x{w} px inside a border of {border} px")
    stride = max(1, size // 8) if stride is None else int(stride)
    integral = np.zeros((h + 1, w + 1))
    integral[1:, 1:] = score.cumsum(axis=0).cumsum(axis=1)
    tops = np.arange(border, h - border - size + 1, stride)
    lefts = np.arange(border, w - border - size + 1, stride)
    t, lf = tops[:, None], lefts[None, :]
    sums = integral[t + size, lf + size] - integral[t, lf + size] - integral[t + size, lf] + integral[t, lf]
    i, j = np.unravel_index(int(np.argmax(sums)), sums.shape)  # first maximum in raster order
    return Crop(int(tops[i]), int(lefts[j]), int(size))


def choose_image(psnr_by_method: Mapping[str, Mapping[str, float]]) -> str:
    """The image (present for every method) whose PSNRs spread the most over the methods;
    ties go to the first name in sorted order."""
    if not psnr_by_method:
        raise CirError("image choice needs the per-image PSNRs of at least one method")
    common = sorted(set.intersection(*(set(v) for v in psnr_by_method.values())))
    if not common:
        raise CirError("no image was scored for every method; per-image CSVs name different images")
    spreads = {n: max(v[n] for v in psnr_by_method.values()) - min(v[n] for v in psnr_by_method.values())
               for n in common}
    best = max(spreads.values())
    return next(n for n in common if spreads[n] == best)


def default_crop_size(hr_shape: tuple[int, ...], fraction: float = DEFAULT_CROP_FRACTION) -> int:
    if not 0 < fraction <= 1:
        raise CirError(f"crop fraction must be in (0, 1]; got {fraction}")
    return max(8, round(min(hr_shape[:2]) * fraction))


def _find_image(directory: Path, stem: str) -> Path:
    from cir.data.images import IMAGE_SUFFIXES

    for suffix in IMAGE_SUFFIXES:
        path = directory / f"{stem}{suffix}"
        if path.is_file():
            return path
    raise CirError(f"no image named {stem!r} ({', '.join(IMAGE_SUFFIXES)}) in {directory}")


def _read(path: Path) -> np.ndarray:
    from cir.data.images import ImageReadError, read_image

    try:
        return read_image(path)
    except ImageReadError as exc:
        raise CirError(str(exc)) from exc


def per_image_psnr(csv_path: str | os.PathLike) -> dict[str, float]:
    """``image -> psnr`` from an evaluation's per-image CSV (columns image, psnr, ssim)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise CirError(f"{csv_path}: per-image CSV not found")
    df = pd.read_csv(csv_path, dtype={"image": str})
    missing = [c for c in ("image", "psnr") if c not in df.columns]
    if missing:
        raise CirError(f"{csv_path}: missing column(s) {missing}; expected image, psnr, ssim")
    return {str(r.image): float(r.psnr) for r in df.itertuples(index=False)}


def psnr_y(sr: np.ndarray, hr: np.ndarray, scale: int, convention: str | None = None) -> float:
    """PSNR (dB) of the evaluation's metric convention (cir.eval.metrics): by default the SR one,
    on Y with crop border ``scale``; for a scale-1 task its own (e.g. RGB for deblurring)."""
    from cir.data.images import to_tensor
    from cir.eval.metrics import build_metric, convention_specs

    specs = convention_specs(convention or "dckd_sr", int(scale))
    metric = build_metric(next(s for s in specs if s.name == "psnr"))
    return float(metric(to_tensor(sr).unsqueeze(0).double(), to_tensor(hr).unsqueeze(0).double())[0])


def build_visual(methods: Mapping[str, str], sr_images: Mapping[str, np.ndarray], psnrs: Mapping[str, float],
                 hr: np.ndarray, lr: np.ndarray, scale: int, *, test_set: str, image: str,
                 crop: Crop | None = None, crop_fraction: float = DEFAULT_CROP_FRACTION,
                 rule: str = "spread", convention: str | None = None) -> VisualFigure:
    """Assemble the panels: HR, the baseline (bicubic upscaling for SR; the degraded input itself
    at scale 1), then ``methods`` (experiment -> label) in order.

    ``sr_images``/``psnrs`` are keyed by experiment. The crop is ``crop`` if given, else chosen by
    :func:`choose_crop` with ``rule`` on the methods' outputs (border = ``scale``).
    """
    from cir.data.bicubic import imresize_uint8

    baseline = imresize_uint8(lr, scale) if scale > 1 else lr
    label, source = ("Bicubic", "bicubic") if scale > 1 else ("Input", "input")
    if baseline.shape != hr.shape:
        raise CirError(f"{test_set}/{image}: LR {lr.shape[:2]} x{scale} is {baseline.shape[:2]}, HR is {hr.shape[:2]}")
    for exp in methods:
        if sr_images[exp].shape != hr.shape:
            raise CirError(f"{test_set}/{image}: the output of {exp!r} is {sr_images[exp].shape[:2]}, "
                           f"HR is {hr.shape[:2]}")
    if crop is None:
        size = default_crop_size(hr.shape, crop_fraction)
        size = min(size, min(hr.shape[:2]) - 2 * scale)
        crop = choose_crop(hr, [sr_images[e] for e in methods], size, border=scale, rule=rule)
        how = rule if rule != "spread" or len(methods) > 1 else "error"
    else:
        h, w = hr.shape[:2]
        if crop.size < 1 or crop.top < 0 or crop.left < 0 or crop.top + crop.size > h or crop.left + crop.size > w:
            raise CirError(f"crop top={crop.top}, left={crop.left}, size={crop.size} lies outside the "
                           f"{h}x{w} HR image {test_set}/{image}")
        how = "given"
    panels = [VisualPanel("HR", "hr", None, crop.of(hr)),
              VisualPanel(label, source, psnr_y(baseline, hr, scale, convention), crop.of(baseline))]
    panels += [VisualPanel(label, exp, float(psnrs[exp]), crop.of(sr_images[exp])) for exp, label in methods.items()]
    return VisualFigure(test_set, image, crop, how, panels)


def _grid(n: int) -> tuple[int, int]:
    rows = 1 if n <= 3 else 2
    return rows, math.ceil(n / rows)


def draw_visual(fig_data: VisualFigure, hr: np.ndarray, png_path: str | os.PathLike, *, title: str,
                footer: str = "", dpi: int = 120) -> tuple[int, int]:
    """Write the figure; returns its size in pixels (width, height)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    panels = fig_data.panels
    rows, cols = _grid(len(panels))
    cell = 2.1  # inches per crop panel
    label_h = 0.5  # inches under each panel for its two-line label
    title_h = 0.5
    hr_h, hr_w = hr.shape[:2]
    grid_h = rows * cell + (rows - 1) * label_h
    left_w = min(grid_h * hr_w / hr_h, 7.0)
    gap = 0.15  # inches between columns
    fig_w = left_w + cols * cell + cols * gap + 0.2
    foot_lines = textwrap.wrap(footer, width=int(fig_w * 19)) if footer else []
    foot_h = 0.13 * len(foot_lines) + 0.1
    fig_h = title_h + grid_h + label_h + foot_h
    fig = plt.figure(figsize=(fig_w, fig_h), dpi=dpi)
    gs = fig.add_gridspec(rows, cols + 1, width_ratios=[left_w] + [cell] * cols, left=0.1 / fig_w,
                          right=1 - 0.1 / fig_w, top=1 - title_h / fig_h, bottom=(label_h + foot_h) / fig_h,
                          wspace=gap * (cols + 1) / (left_w + cols * cell), hspace=label_h / cell)
    ax = fig.add_subplot(gs[:, 0])
    ax.imshow(hr)
    c = fig_data.crop
    ax.add_patch(Rectangle((c.left - 0.5, c.top - 0.5), c.size, c.size, fill=False, edgecolor="red", linewidth=2))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{fig_data.test_set}: {fig_data.image} (HR, {hr_w}×{hr_h} px)", fontsize=9)
    method_psnrs = [p.psnr for p in panels if p.source not in ("hr", "bicubic", "input") and p.psnr is not None]
    best = max(method_psnrs) if method_psnrs else None
    for k, panel in enumerate(panels):
        pax = fig.add_subplot(gs[k // cols, 1 + k % cols])
        pax.imshow(panel.crop, interpolation="nearest")
        pax.set_xticks([])
        pax.set_yticks([])
        for spine in pax.spines.values():
            spine.set_edgecolor("red")
        value = "reference" if panel.psnr is None else f"{panel.psnr:.2f} dB"
        bold = best is not None and panel.psnr == best and panel.source not in ("hr", "bicubic", "input")
        pax.set_xlabel(f"{panel.label}\n{value}", fontsize=10, fontweight="bold" if bold else "normal")
    fig.suptitle(title, fontsize=11, y=1 - 0.12 / fig_h, va="top")
    if foot_lines:
        fig.text(0.1 / fig_w, 0.05 / fig_h, "\n".join(foot_lines), fontsize=7, va="bottom")
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    size = fig.canvas.get_width_height()
    plt.close(fig)
    return size  # type: ignore[return-value]


def visual_table(fig_data: VisualFigure) -> pd.DataFrame:
    """One row per panel: what it shows, its whole-image PSNR and the crop (HR pixels)."""
    c = fig_data.crop
    return pd.DataFrame([{"panel": k, "label": p.label, "source": p.source, "psnr_db_whole_image": p.psnr,
                          "test_set": fig_data.test_set, "image": fig_data.image, "crop_top_px": c.top,
                          "crop_left_px": c.left, "crop_size_px": c.size, "crop_rule": fig_data.rule}
                         for k, p in enumerate(fig_data.panels)])


def _parse_pairs(items: Sequence[str], what: str, form: str) -> list[tuple[str, str]]:
    return [parse_named_path(item, what, form) for item in items]


def parse_crop(text: str) -> Crop:
    """``TOP,LEFT,SIZE`` in HR pixels."""
    try:
        top, left, size = (int(v) for v in text.split(","))
    except ValueError:
        raise CirError(f"--crop {text!r}: expected TOP,LEFT,SIZE in HR pixels, e.g. 120,64,96") from None
    return Crop(top, left, size)


def make_visual(summary_args: Sequence[str], test_set_arg: str, out_png: str | os.PathLike, *,
                image: str | None = None, crop: str | None = None,
                crop_fraction: float = DEFAULT_CROP_FRACTION, rule: str = "spread",
                table_id: str = "table2") -> VisualFigure:
    """CLI entry: ``EXPERIMENT=SUMMARY.json`` arguments (in panel order), the test set as
    ``NAME=PAIR_DIR``; writes ``out_png`` and a CSV of the panels beside it."""
    from cir.report.summaries import load_summary
    from cir.report.tables import get_table_spec

    if rule not in CROP_RULES:
        raise CirError(f"crop rule {rule!r} is not one of {', '.join(CROP_RULES)}")
    [(test_set, pair_dir)] = _parse_pairs([test_set_arg], "--test-set", "NAME=PAIR_DIR")
    summaries = {}
    for exp, path in _parse_pairs(summary_args, "--summary", "EXPERIMENT=SUMMARY.json"):
        if exp in summaries:
            raise CirError(f"--summary: experiment {exp!r} given twice")
        summaries[exp] = (Path(path), load_summary(path, row_keys=("scale", "backbone")))
    if not summaries:
        raise CirError("visual figure: no --summary given")
    for key in ("scale", "backbone", "preset"):
        values = {s[key] for _, s in summaries.values()}
        if len(values) != 1:
            raise CirError(f"visual figure: the summaries disagree on {key!r}: {sorted(map(str, values))}")
    first = next(iter(summaries.values()))[1]
    scale, backbone, preset = int(first["scale"]), str(first["backbone"]), str(first["preset"])
    psnrs_by_exp = {}
    for exp, (path, s) in summaries.items():
        if test_set not in s["test_sets"]:
            raise CirError(f"{path}: no key 'test_sets.{test_set}'; evaluated sets: {', '.join(s['test_sets'])}")
        psnrs_by_exp[exp] = per_image_psnr(path.parent / f"{test_set}.csv")
    if image is None:
        image = choose_image(psnrs_by_exp)
    for exp, table in psnrs_by_exp.items():
        if image not in table:
            raise CirError(f"{summaries[exp][0].parent / f'{test_set}.csv'}: no row for image {image!r}")
    pair_dir = Path(pair_dir)
    hr = _read(_find_image(pair_dir / "HR", image))
    lr = _read(_find_image(pair_dir / "LR", image))
    sr_images = {}
    for exp, (path, _) in summaries.items():
        sr_path = path.parent / test_set / f"{image}.png"
        if not sr_path.is_file():
            raise CirError(f"{sr_path}: SR output not found; the evaluation writes it with --save-images")
        sr_images[exp] = _read(sr_path)
    names = get_table_spec(table_id)
    methods = {exp: names.display("method", exp) for exp in summaries}
    convention = first.get("convention_name") or "dckd_sr"
    fig_data = build_visual(methods, sr_images, {e: psnrs_by_exp[e][image] for e in summaries}, hr, lr, scale,
                            test_set=test_set, image=image, crop=None if crop is None else parse_crop(crop),
                            crop_fraction=crop_fraction, rule=rule, convention=convention)
    c = fig_data.crop
    rule_text = {"given": "Crop given on the command line",
                 "spread": "Crop chosen where the methods' luma errors differ most (std over methods)",
                 "error": "Crop chosen where the methods' mean luma error is largest"}[fig_data.rule]
    stand_ins = sorted({x for _, s in summaries.values() for x in s["stand_ins"]})
    from cir.eval.metrics import convention_specs

    psnr_text = next(s for s in convention_specs(convention, scale) if s.name == "psnr").describe()
    baseline = "bicubic (MATLAB-style)" if scale > 1 else "the degraded input"
    footer = (f"Preset {preset}. {psnr_text}, of the whole image; methods from the "
              f"evaluation's per-image CSV, {baseline} scored here. Best method in bold. {rule_text}.")
    if stand_ins:
        footer += " Stand-ins: " + "; ".join(stand_ins) + "."
    task = f"×{scale}" if scale > 1 else str(first.get("task", "scale 1"))
    title = (f"{names.display('backbone', backbone)} {task}: {test_set}/{image}, "
             f"crop {c.size}×{c.size} px at (top {c.top}, left {c.left})")
    out_png = Path(out_png)
    draw_visual(fig_data, hr, out_png, title=title, footer=footer)
    buf = io.StringIO()
    visual_table(fig_data).to_csv(buf, index=False)
    write_text(out_png.with_suffix(".csv"), buf.getvalue())
    return fig_data

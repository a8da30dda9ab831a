"""The ``cir`` console command.

    cir metrics OUTPUT.png REFERENCE.png                 # one pair
    cir metrics OUTPUTS/ REFERENCES/ --metrics psnr,ssim,lpips
    cir metrics PHOTOS/ --metrics niqe,piqe               # no-reference metrics, one folder
    cir metrics SR/ HR/ --convention dckd_sr --scale 4 --csv scores.csv

Prints JSON (one object per image with the metric names as keys, and their mean) or writes a
CSV. Bad input ends with one ``error: ...`` line naming the file or value and exit code 2.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from cir.errors import CirError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _metrics_parser(sub: argparse._SubParsersAction) -> None:
    from cir.eval.metrics import CONVENTIONS, METRICS

    p = sub.add_parser(
        "metrics", help="score images with PSNR, SSIM, LPIPS, NIQE, BRISQUE, PIQE",
        description=("Score an image against a reference, two folders matched by file name, or one "
                     "folder with no-reference metrics."),
        epilog=("metrics: " + ", ".join(f"{n} ({'full-reference' if i.full_reference else 'no-reference'})"
                                         for n, i in METRICS.items())
                + ". conventions: " + "; ".join(f"{c.name}: {c.description}" for c in CONVENTIONS.values())),
    )
    p.add_argument("input", type=Path, help="image file or folder to score")
    p.add_argument("reference", type=Path, nargs="?", help="reference image file or folder (same names)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--metrics", help="comma-separated metric names (default: psnr,ssim with a "
                                         "reference; required without one)")
    which.add_argument("--convention", help=f"a paper table's metric list: {', '.join(CONVENTIONS)}")
    p.add_argument("--scale", type=int, help="SR scale, for conventions that crop 'scale' border pixels")
    colour = p.add_mutually_exclusive_group()
    colour.add_argument("--y-channel", dest="y_channel", action="store_const", const=True,
                        help="PSNR/SSIM on Y of BT.601 studio-range YCbCr (default)")
    colour.add_argument("--rgb", dest="y_channel", action="store_const", const=False,
                        help="PSNR/SSIM on the RGB channels")
    p.add_argument("--crop-border", type=int, help="pixels dropped on every side before scoring (default 0, "
                                                   "or the convention's)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:i] (default: %(default)s)")
    p.add_argument("--csv", type=Path, help="write a CSV (one row per image and a 'mean' row) instead of JSON")
    p.add_argument("--allow-unavailable", action="store_true",
                   help="report a metric whose weights are missing as 'unavailable: ...' instead of failing")
    p.set_defaults(run=run_metrics)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cir", description="Contrastive & distillation image restoration, reproduced.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _metrics_parser(sub)
    return parser


# --- cir metrics ---------------------------------------------------------------------------

def _specs(args: argparse.Namespace, have_reference: bool):
    from dataclasses import replace

    from cir.eval.metrics import MetricSpec, convention_specs, parse_metric_names

    if args.crop_border is not None and args.crop_border < 0:
        raise CirError(f"--crop-border: expected an integer >= 0, got {args.crop_border}")
    if args.convention:
        specs = convention_specs(args.convention, args.scale)
    else:
        if args.metrics is None and not have_reference:
            raise CirError("no reference given: choose no-reference metrics with --metrics "
                           "(niqe, brisque, brisque_matlab, piqe)")
        names = parse_metric_names(args.metrics or "psnr,ssim")
        specs = [MetricSpec(n) for n in names]
    out = []
    for s in specs:
        if args.crop_border is not None:
            s = replace(s, crop_border=args.crop_border)
        if args.y_channel is not None and s.name in ("psnr", "ssim"):
            s = replace(s, y_channel=args.y_channel)
        out.append(s)
    if not have_reference:
        fr = [s.name for s in out if s.full_reference]
        if fr:
            raise CirError(f"{', '.join(fr)} {'needs' if len(fr) == 1 else 'need'} a reference image; "
                           f"give REFERENCE or use no-reference metrics (niqe, brisque, brisque_matlab, piqe)")
    return out


def _image_files(folder: Path) -> dict[str, Path]:
    from cir.data.images import IMAGE_SUFFIXES

    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    by_stem: dict[str, Path] = {}
    for p in files:
        if p.stem in by_stem:
            raise CirError(f"{folder}: two images named {p.stem!r} ({by_stem[p.stem].name}, {p.name})")
        by_stem[p.stem] = p
    if not by_stem:
        raise CirError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    return by_stem


def _pairs(inp: Path, ref: Path | None) -> list[tuple[str, Path, Path | None]]:
    """``(name, image, reference)`` triples; folders are matched by file name (without extension)."""
    for path in (inp, ref):
        if path is not None and not path.exists():
            raise CirError(f"{path}: no such file or folder")
    if ref is None:
        if inp.is_dir():
            return [(p.name, p, None) for p in _image_files(inp).values()]
        return [(inp.name, inp, None)]
    if inp.is_dir() != ref.is_dir():
        raise CirError(f"{inp} and {ref}: give two files or two folders")
    if not inp.is_dir():
        return [(inp.name, inp, ref)]
    a, b = _image_files(inp), _image_files(ref)
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        parts = []
        if only_a:
            parts.append(f"in {inp} only: {', '.join(a[n].name for n in only_a)}")
        if only_b:
            parts.append(f"in {ref} only: {', '.join(b[n].name for n in only_b)}")
        raise CirError("unmatched image names: " + "; ".join(parts))
    return [(a[n].name, a[n], b[n]) for n in sorted(a)]


def _tensor(path: Path, device):
    import numpy as np
    import torch

    from cir.data.images import read_image

    img = read_image(path)
    chw = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    return chw.unsqueeze(0).to(device=device, dtype=torch.float64) / 255.0


def _json_number(value):
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def score_pairs(pairs: Sequence[tuple[str, Path, Path | None]], specs, device, *,
                allow_unavailable: bool) -> tuple[list[dict], dict, dict[str, str]]:
    """Per-image rows, their mean and the weight files used; metrics are built once and run on
    each image."""
    from cir.eval.metrics import UnavailableMetric, build_metrics, metric_weights, unavailable_value

    metrics = build_metrics(specs, device, allow_unavailable=allow_unavailable)
    rows: list[dict] = []
    for name, img_path, ref_path in pairs:
        x = _tensor(img_path, device)
        ref = _tensor(ref_path, device) if ref_path is not None else None
        if ref is not None and ref.shape != x.shape:
            raise CirError(f"size mismatch: {img_path} is {x.shape[-1]}x{x.shape[-2]}, "
                           f"{ref_path} is {ref.shape[-1]}x{ref.shape[-2]} (width x height)")
        row: dict = {"image": name}
        for metric_name, metric in metrics.items():
            if isinstance(metric, UnavailableMetric):
                row[metric_name] = unavailable_value(metric.reason)
                continue
            try:
                row[metric_name] = float(metric(x, ref)[0])
            except CirError as exc:
                raise CirError(f"{img_path}: {exc}") from None
        rows.append(row)
    mean: dict = {}
    for metric_name, metric in metrics.items():
        if isinstance(metric, UnavailableMetric):
            mean[metric_name] = unavailable_value(metric.reason)
        else:
            mean[metric_name] = sum(r[metric_name] for r in rows) / len(rows)
    return rows, mean, metric_weights(metrics)


def run_metrics(args: argparse.Namespace) -> int:
    from cir.eval.metrics import describe_specs
    from cir.utils.device import resolve_device

    specs = _specs(args, args.reference is not None)
    pairs = _pairs(args.input, args.reference)
    device = resolve_device(args.device)
    rows, mean, weights = score_pairs(pairs, specs, device, allow_unavailable=args.allow_unavailable)
    if args.csv:
        import pandas as pd

        from cir.utils.io import write_text

        buf = io.StringIO()
        table = pd.DataFrame([*rows, {"image": "mean", **mean}], columns=["image", *[s.name for s in specs]])
        table.to_csv(buf, index=False)
        write_text(args.csv, buf.getvalue())
        print(args.csv)
        return 0
    out = {
        "convention": args.convention,
        "metrics": describe_specs(specs),
        "weights": weights,
        "images": [{k: _json_number(v) for k, v in r.items()} for r in rows],
        "mean": {k: _json_number(v) for k, v in mean.items()},
    }
    print(json.dumps(out, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from cir.data.images import ImageReadError

    try:
        return int(args.run(args))
    except (CirError, ImageReadError) as exc:
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())

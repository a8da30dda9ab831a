"""Evaluate one SR model file on paired test sets; writes a summary JSON and per-image CSVs.

    python workflow_scripts/evaluate.py --model FILE --scale S --test-set NAME=DIR [...] \
        --out SUMMARY.json --preset P --backbone B --method M [--tile N] \
        [--device auto|cpu|cuda] [--threads N] [--save-images]

The model file must hold a ``--backbone`` network at ``--scale``. Bad input (a model file of
another architecture or scale, an unreadable image, ...) ends with one ``error: ...`` line and
exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from cir.errors import CirError
from cir.eval.evaluate import evaluate_inputs, evaluate_model_file
from cir.eval.infer import DEFAULT_OVERLAP
from cir.eval.metrics import CONVENTIONS
from cir.utils.cli import parse_named_path, run_step


def _test_set(value: str) -> tuple[str, Path]:
    try:
        name, directory = parse_named_path(value, "test set", "NAME=DIR")
    except CirError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not Path(directory).is_dir():
        raise argparse.ArgumentTypeError(f"{value!r}: directory {directory} does not exist")
    return name, Path(directory)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", type=Path, help="cir checkpoint or official weight file")
    which.add_argument("--inputs", action="store_true",
                       help="score the degraded inputs themselves (the tables' input rows; scale 1, no network)")
    p.add_argument("--scale", required=True, type=_positive_int)
    p.add_argument("--test-set", required=True, action="append", type=_test_set, dest="test_sets",
                   metavar="NAME=DIR", help="pair directory with LR/ and HR/ (repeatable)")
    p.add_argument("--out", required=True, type=Path, help="summary JSON; CSVs go next to it")
    p.add_argument("--preset", required=True)
    p.add_argument("--backbone", required=True)
    p.add_argument("--arch", default=None,
                   help="the registry architecture the model file must hold (default: the backbone's name)")
    p.add_argument("--method", required=True)
    p.add_argument("--tile", type=_positive_int, default=None,
                   help=f"LR tile size, > {DEFAULT_OVERLAP} (default: whole image in one pass)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--threads", type=_positive_int, default=None, help="CPU threads for torch")
    p.add_argument("--save-images", action="store_true", help="also write the SR outputs as PNG")
    p.add_argument("--convention", default="dckd_sr", choices=sorted(CONVENTIONS),
                   help="how the table computes its metrics (cir.eval.metrics.CONVENTIONS; default: %(default)s)")
    p.add_argument("--tlc", type=_positive_int, default=None, metavar="PATCH",
                   help="NAFNet only: test-time local statistics for a network trained on PATCH x PATCH patches")
    p.add_argument("--task", default=None, help="the task the model restores (x4, deblur, ...), recorded in the summary")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.tile is not None and args.tile <= DEFAULT_OVERLAP:
        parser.error(f"argument --tile: must exceed the tile overlap of {DEFAULT_OVERLAP} LR pixels, "
                     f"got {args.tile}")
    test_sets: dict[str, Path] = {}
    for name, directory in args.test_sets:
        if name in test_sets:
            parser.error(f"argument --test-set: test set {name!r} given twice")
        test_sets[name] = directory

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.inputs:
        if args.scale != 1:
            parser.error("argument --inputs: the degraded inputs are scored at --scale 1 only")
        return run_step(lambda: evaluate_inputs(test_sets, args.out, preset=args.preset, convention=args.convention,
                                                task=args.task, device=args.device))
    return run_step(lambda: evaluate_model_file(
        args.model, test_sets, args.scale, args.out, preset=args.preset, backbone=args.backbone,
        arch=args.arch, method=args.method, device=args.device, tile=args.tile, save_images=args.save_images,
        convention=args.convention, task=args.task, tlc=args.tlc))


if __name__ == "__main__":
    sys.exit(main())

"""Parameters, FLOPs/MACs (torch's flop counter) and inference time of SR model files.

    python workflow_scripts/efficiency.py --preset P --model EXPERIMENT=MODEL_FILE [...] \
        --out results/tables/efficiency.csv [--output-size 1280x720 | --lr-size WxH] \
        [--warmup 1] [--runs 5] [--threads N] [--device auto|cpu|cuda]

The input of each model is the LR size whose output is --output-size (the SR convention: 1280x720),
unless --lr-size fixes one input size for every model; the table records the size used.
"""

from __future__ import annotations

import argparse
import sys

from cir.utils.cli import run_step


def _size(value: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` -> ``(height, width)``."""
    w, sep, h = value.lower().partition("x")
    try:
        width, height = int(w), int(h)
    except ValueError:
        width = height = 0
    if not sep or width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels (e.g. 1280x720), got {value!r}")
    return height, width


def _count(minimum: int):
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            n = minimum - 1
        if n < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value!r}")
        return n

    return parse


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", required=True)
    p.add_argument("--model", action="append", required=True, metavar="EXPERIMENT=MODEL_FILE")
    p.add_argument("--out", required=True, help="CSV path; the Markdown goes beside it")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--output-size", type=_size, default=(720, 1280), metavar="WxH",
                      help="SR output size the LR input is derived from (default: 1280x720)")
    size.add_argument("--lr-size", type=_size, default=None, metavar="WxH",
                      help="one LR input size for every model (overrides --output-size)")
    p.add_argument("--warmup", type=_count(0), default=1, help="untimed passes first (default: %(default)s)")
    p.add_argument("--runs", type=_count(1), default=5, help="timed passes; the median is reported "
                   "(default: %(default)s)")
    p.add_argument("--threads", type=_count(1), default=None, help="CPU threads for torch")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    a = p.parse_args(argv)

    import torch

    from cir.eval.efficiency import make_efficiency

    if a.threads is not None:
        torch.set_num_threads(a.threads)
    return run_step(lambda: make_efficiency(a.model, a.out, preset=a.preset, output_size=a.output_size,
                                            lr_size=a.lr_size, warmup=a.warmup, runs=a.runs, device=a.device))


if __name__ == "__main__":
    sys.exit(main())

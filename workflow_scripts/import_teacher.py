"""Convert an official pretrained teacher (SwinIR / RCAN release file) into a cir model file."""

from __future__ import annotations

import argparse
import sys

from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--weights", required=True, help="the official weight file")
    p.add_argument("--backbone", required=True)
    p.add_argument("--scale", type=int, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    from cir.models.official import import_official

    return run_step(lambda: import_official(a.weights, a.backbone, a.scale, a.out))


if __name__ == "__main__":
    sys.exit(main())

"""Write dvc.yaml from the Snakemake DAG (same command lines for `dvc repro` and Snakemake)."""

from __future__ import annotations

import argparse
import sys

from cir.dvc_export import DVC_TARGETS, render
from cir.utils.cli import run_step
from cir.utils.io import write_text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--preset", default="demo", help="scale preset the DVC pipeline runs (default: %(default)s)")
    p.add_argument("--target", action="append", default=None, dest="targets",
                   help=f"Snakemake target, repeatable (default: {' '.join(DVC_TARGETS)})")
    p.add_argument("--out", default="dvc.yaml")
    a = p.parse_args(argv)
    return run_step(lambda: write_text(a.out, render(a.preset, a.targets or DVC_TARGETS)))


if __name__ == "__main__":
    sys.exit(main())

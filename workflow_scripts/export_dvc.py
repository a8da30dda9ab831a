"""Write dvc.yaml from the Snakemake DAG (same command lines for `dvc repro` and Snakemake)."""

from __future__ import annotations

import argparse
import sys

from cir.dvc_export import render
from cir.utils.cli import run_step
from cir.utils.io import write_text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--preset", default="demo", help="scale preset the DVC pipeline runs (default: %(default)s)")
    p.add_argument("--target", default="results/tables/table2.csv")
    p.add_argument("--out", default="dvc.yaml")
    a = p.parse_args(argv)
    return run_step(lambda: write_text(a.out, render(a.preset, a.target)))


if __name__ == "__main__":
    sys.exit(main())

"""Build the multi-seed study table (mean ± std over seeds, paired gain over a baseline experiment).

    python workflow_scripts/make_study_table.py --preset study \\
        --summary scratch:0=results/study/eval/x4/rcan/scratch/summary.json \\
        --summary scratch:1=results/study/eval/x4/rcan/scratch_seed1/summary.json ... \\
        --out results/tables/study.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cir.errors import CirError
from cir.utils.cli import parse_named_path, run_step

_FORM = "EXPERIMENT:SEED=SUMMARY.json"


def _entry(value: str) -> tuple[str, int, str]:
    """``EXPERIMENT:SEED=SUMMARY.json`` -> ``(experiment, seed, path)``; argparse reports errors."""
    try:
        head, path = parse_named_path(value, "--summary", _FORM)
    except CirError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    exp, colon, seed = head.partition(":")
    if not (colon and exp and seed.isdigit()):
        raise argparse.ArgumentTypeError(f"--summary {value!r}: expected {_FORM} (SEED a whole number)")
    return exp, int(seed), path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", required=True)
    p.add_argument("--summary", action="append", required=True, type=_entry,
                   metavar="EXPERIMENT:SEED=SUMMARY.json")
    p.add_argument("--out", required=True, type=Path, help="CSV path; the Markdown goes beside it")
    p.add_argument("--baseline", default="scratch",
                   help="the experiment the paired gains are measured against (default: %(default)s)")
    p.add_argument("--metric", action="append", dest="metrics", metavar="NAME",
                   help="a metric of the summaries, repeatable; the first gives the paired change "
                        "(default: psnr, ssim)")
    a = p.parse_args(argv)
    if a.out.suffix != ".csv":
        p.error(f"argument --out: expected a .csv path, got {str(a.out)!r}")
    from cir.report.study import build_study_table, write_study_table

    def action() -> None:
        df = build_study_table(a.summary, baseline=a.baseline, metrics=a.metrics or ("psnr", "ssim"))
        write_study_table(df, a.out, a.out.with_suffix(".md"),
                          title=f"Multi-seed study (preset {a.preset})")

    return run_step(action)


if __name__ == "__main__":
    sys.exit(main())

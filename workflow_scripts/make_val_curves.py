"""Draw validation curves (Cria-CL Fig. 1): each chosen metric of the runs' val_log.csv against the
training iteration, one panel per metric and one line per run; a long-form CSV (label, run_dir,
step, metric, value) and a Markdown summary (first, last and best value per run and metric) go
beside the figure with the same stem.

    python workflow_scripts/make_val_curves.py --run LABEL=RUN_DIR [--run LABEL=RUN_DIR ...] \\
        [--metrics psnr lpips] [--title TITLE] [--note TEXT ...] --out results/figures/val_curves.png
"""

from __future__ import annotations

import argparse
import sys

from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", default=[], metavar="LABEL=RUN_DIR",
                   help="a run folder holding val_log.csv, with its legend label (repeatable, legend order)")
    p.add_argument("--metrics", nargs="*", default=["psnr", "lpips"], metavar="METRIC",
                   help="validation metrics, one panel each (default: %(default)s)")
    p.add_argument("--title", default="Validation curves during training")
    p.add_argument("--note", action="append", default=[], help="a note for the summary and the figure footer "
                   "(repeatable)")
    p.add_argument("--out", required=True, help="output PNG; <stem>.csv and <stem>.md are written beside it")
    a = p.parse_args(argv)

    def make() -> None:
        from pathlib import Path

        from cir.report.curves import make_val_curves

        plotted = make_val_curves(a.run, a.metrics, a.out, title=a.title, notes=a.note)
        out = Path(a.out)
        print(f"wrote {out}, {out.with_suffix('.csv')} and {out.with_suffix('.md')} "
              f"({len(a.run)} run(s), metrics {', '.join(plotted)})")

    return run_step(make)


if __name__ == "__main__":
    sys.exit(main())

"""Draw a parameter-sweep figure (e.g. DCKD Fig. 8) from evaluation summaries."""

from __future__ import annotations

import argparse
import sys

from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--figure", required=True)
    p.add_argument("--summary", action="append", required=True, metavar="EXPERIMENT=SUMMARY.json")
    p.add_argument("--out", required=True, help="PNG path; the CSV goes beside it")
    a = p.parse_args(argv)
    from cir.report.figures import make_figure

    return run_step(lambda: make_figure(a.figure, a.summary, a.out))


if __name__ == "__main__":
    sys.exit(main())

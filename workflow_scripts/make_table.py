"""Build one paper table (paper numbers beside ours) from evaluation summaries.

    python workflow_scripts/make_table.py --table table2 --preset demo \\
        --summaries a/summary.json b/summary.json --out results/tables/table2.csv

Writes the CSV given by --out and a Markdown rendering beside it with the same stem.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cir.errors import CirError
from cir.utils.cli import run_step
from cir.report import TABLES, build_table, get_table_spec, load_summaries, write_table
from cir.report.tables import with_metric_sources


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", required=True, help=f"table spec name: {', '.join(sorted(TABLES))}")
    parser.add_argument("--preset", required=True, help="scale preset that produced the summaries")
    parser.add_argument("--summaries", nargs="*", default=[], help="evaluation summary.json files")
    parser.add_argument("--out", required=True, type=Path, help="output CSV path (.csv)")
    parser.add_argument(
        "--built-methods",
        nargs="*",
        default=None,
        help="method ids that are implemented; paper rows of other methods say 'method not built yet'",
    )
    parser.add_argument("--note", action="append", default=[], help="extra note line for the Markdown")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def make() -> None:
        if args.out.suffix != ".csv":
            raise CirError(f"--out: expected a .csv path, got {str(args.out)!r}")
        spec = get_table_spec(args.table)
        # a setting's row keys (DRCNet's t) come from the table's rows, not from the summary
        own_keys = [k for k in spec.row_keys if k in ("scale", "backbone", "method")]
        sources = [spec.metric_sources.get(m, m) for m in spec.metrics]
        summaries = [with_metric_sources(spec, s)
                     for s in load_summaries(args.summaries, row_keys=own_keys, metrics=sources)]
        df = build_table(spec, summaries, args.preset, built_methods=args.built_methods)
        write_table(df, args.out, args.out.with_suffix(".md"), title=spec.title, notes=args.note)

    return run_step(make)


if __name__ == "__main__":
    sys.exit(main())

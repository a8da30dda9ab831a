"""Draw a parameter-sweep figure (e.g. DCKD Fig. 8) from evaluation summaries."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cir.errors import CirError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--figure", required=True)
    p.add_argument("--summary", action="append", required=True, metavar="EXPERIMENT=SUMMARY.json")
    p.add_argument("--out", required=True, type=Path, help="PNG path; the CSV goes beside it")
    a = p.parse_args(argv)
    from cir.report.figures import FIGURES, sweep_table, write_sweep_figure

    try:
        if a.figure not in FIGURES:
            raise CirError(f"unknown figure {a.figure!r}; valid figures: {', '.join(FIGURES)}")
        summaries = {}
        for item in a.summary:
            exp, sep, path = item.partition("=")
            if not sep:
                raise CirError(f"--summary {item!r}: expected EXPERIMENT=PATH")
            try:
                summaries[exp] = json.loads(Path(path).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise CirError(f"--summary {item!r}: cannot read {path}: {exc}") from exc
        spec = FIGURES[a.figure]
        write_sweep_figure(spec, sweep_table(spec, summaries), a.out, a.out.with_suffix(".csv"))
    except CirError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

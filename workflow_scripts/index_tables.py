"""Write a Markdown index of built tables (one line per table with its title and files) and figures.

    python workflow_scripts/index_tables.py --title "MCIR tables (preset demo)" \\
        --tables results/tables/mcir_table1.csv ... --out results/tables/mcir_all.md

A table's title is the first line of the Markdown file beside its CSV. With no tables (a preset
that can build none of them) the index says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cir.errors import CirError
from cir.utils.cli import run_step
from cir.utils.io import write_text


def index(title: str, tables: list[Path], note: str, figures: list[Path] = ()) -> str:
    lines = [f"# {title}", ""]
    if not tables:
        lines.append(f"No table: {note}")
    for csv in tables:
        md = csv.with_suffix(".md")
        if not csv.is_file() or not md.is_file():
            raise CirError(f"table {csv} or its Markdown {md} is missing")
        heading = md.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        lines.append(f"- {heading}: `{csv}`, `{md}`")
    if figures:
        lines += ["", "## Figures", ""]
    for png in figures:
        if not png.is_file():
            raise CirError(f"figure {png} is missing")
        lines.append(f"- `{png}`")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--title", required=True)
    p.add_argument("--tables", nargs="*", default=[], type=Path)
    p.add_argument("--note", default="this preset has none of their tasks and backbones")
    p.add_argument("--figures", nargs="*", default=[], type=Path, help="figures listed after the tables")
    p.add_argument("--out", required=True, type=Path)
    a = p.parse_args(argv)
    return run_step(lambda: write_text(a.out, index(a.title, a.tables, a.note, a.figures)))


if __name__ == "__main__":
    sys.exit(main())

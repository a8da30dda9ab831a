"""Build a paper's model-specification table (DCKD Table 1): the printed channels, blocks and
parameter counts beside the parameter counts of the networks config.yaml builds.

    python workflow_scripts/model_specs.py --paper-key dckd/table1 --config config.yaml --preset demo \\
        --out results/tables/table1.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--paper-key", default="dckd/table1", help="the paper's specification table (paper/table)")
    p.add_argument("--config", default="config.yaml", help="configuration file (the paper preset's models)")
    p.add_argument("--preset", required=True, help="the running preset (its networks get a column too)")
    p.add_argument("--title", default="DCKD Table 1: specifications of the teacher and student models")
    p.add_argument("--out", required=True, type=Path, help="output CSV (a Markdown rendering is written beside it)")
    a = p.parse_args(argv)

    def make() -> None:
        from cir import config as cfgmod
        from cir.report.model_specs import build_spec_table, write_spec_table

        cfg = cfgmod.load_and_validate(a.config)
        df = build_spec_table(a.paper_key, cfg, a.preset)
        write_spec_table(df, a.out, a.out.with_suffix(".md"), title=a.title, preset=a.preset)
        print(f"wrote {a.out} ({len(df)} rows)")

    return run_step(make)


if __name__ == "__main__":
    sys.exit(main())

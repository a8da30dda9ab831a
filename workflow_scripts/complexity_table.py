"""Build a paper's complexity table (DRCNet supplement Tables 3-5, "FLOPs (G)" at 256x256): the
printed numbers beside the parameters, GMACs and GFLOPs of the network config.yaml builds.

    python workflow_scripts/complexity_table.py --paper-key drcnet/table3 --config config.yaml \\
        --preset demo --title "DRCNet Table 3: FLOPs (G) on the derain test" \\
        --out results/tables/drcnet_table3.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--paper-key", default="drcnet/table3", help="the paper's complexity table (paper/table)")
    p.add_argument("--config", default="config.yaml", help="configuration file (the paper preset's models)")
    p.add_argument("--preset", required=True, help="the running preset (its network gets columns too)")
    p.add_argument("--backbone", default="drcnet", help="the printed line measured on our network")
    p.add_argument("--title", default="DRCNet supplement: FLOPs (G) at 256x256 beside our network's complexity")
    p.add_argument("--note", action="append", default=[], help="a note under the table (repeatable)")
    p.add_argument("--out", required=True, type=Path, help="output CSV (a Markdown rendering is written beside it)")
    a = p.parse_args(argv)

    def make() -> None:
        from cir.errors import CirError

        if a.out.suffix != ".csv":
            raise CirError(f"--out {a.out}: must end in .csv (the Markdown rendering goes beside it as .md)")

        from cir import config as cfgmod
        from cir.report.complexity import build_complexity_table, network_notes, write_complexity_table

        cfg = cfgmod.load_and_validate(a.config)
        df = build_complexity_table(a.paper_key, cfg, a.preset, backbone=a.backbone)
        notes = network_notes(cfg, a.preset, backbone=a.backbone) + list(a.note)
        write_complexity_table(df, a.out, a.out.with_suffix(".md"), title=a.title, preset=a.preset, notes=notes)
        print(f"wrote {a.out} ({len(df)} rows)")

    return run_step(make)


if __name__ == "__main__":
    sys.exit(main())

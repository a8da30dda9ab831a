"""Build a paper's inference-time table (Cria-CL Table VII): the printed time and parameters beside
the parameters, MACs and measured inference time of our trained models at the printed input size.

    python workflow_scripts/timing_table.py --table criacl_table7 --config config.yaml --preset demo \\
        --model criacl=runs/demo/realsr/criacl/criacl/model.pt \\
        --model criacl_plain=runs/demo/realsr/criacl/criacl_plain/model.pt \\
        --out results/tables/criacl_table7.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", required=True, help="the timing table's id in cir/paper/*/tables.yaml (efficiency:)")
    p.add_argument("--config", default="config.yaml", help="configuration file (the paper preset's networks)")
    p.add_argument("--preset", required=True, help="the preset the model files were trained in")
    p.add_argument("--model", action="append", default=[], metavar="EXPERIMENT=FILE",
                   help="a trained model file of one of the table's rows (repeatable)")
    p.add_argument("--warmup", type=int, default=1, help="untimed forward passes first")
    p.add_argument("--runs", type=int, default=5, help="timed forward passes (the median is reported)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the timing")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--out", required=True, type=Path, help="output CSV (a Markdown rendering is written beside it)")
    a = p.parse_args(argv)

    def make() -> None:
        import torch

        from cir import config as cfgmod
        from cir.errors import CirError
        from cir.paper.defs import efficiency_defs
        from cir.report.timing import build_timing_table, notes_of, write_timing_table
        from cir.utils.cli import parse_named_path
        from cir.utils.device import resolve_device

        if a.out.suffix != ".csv":
            raise CirError(f"--out {a.out}: must end in .csv (the Markdown rendering goes beside it as .md)")
        defs = efficiency_defs()
        if a.table not in defs:
            raise CirError(f"--table {a.table!r}: not a timing table; known: {', '.join(defs) or 'none'}")
        entry = defs[a.table]
        if a.threads:
            torch.set_num_threads(a.threads)
        models = dict(parse_named_path(m, "--model") for m in a.model)
        cfg = cfgmod.load_and_validate(a.config)
        device = str(resolve_device(a.device))
        df = build_timing_table(entry["paper_key"], cfg, a.preset, models, entry["rows"], backbone=entry["backbone"],
                                warmup=a.warmup, runs=a.runs, device=device)
        write_timing_table(df, a.out, title=entry["title"], preset=a.preset, notes=notes_of(entry))
        print(f"wrote {a.out} ({len(df)} rows)")

    return run_step(make)


if __name__ == "__main__":
    sys.exit(main())

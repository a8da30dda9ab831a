"""Write the resolved spec of one training job (cir/spec.py) into its run folder.

The training job reads this file, never the configuration itself. Exit codes: 0 written,
2 configuration error.
"""

from __future__ import annotations

import argparse
import sys

from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", default="config.yaml",
                   help="configuration file (the workflow passes its resolved configuration when --config / "
                        "--configfile overrides were given)")
    p.add_argument("--preset", required=True)
    p.add_argument("--task", required=True, help="x2, x3, x4 (SR factor) or a scale-1 task")
    p.add_argument("--backbone", required=True)
    p.add_argument("--experiment", required=True)
    p.add_argument("--out", required=True, help="spec.json in the job's run folder")
    a = p.parse_args(argv)

    def write() -> None:
        from cir import config as cfgmod
        from cir import spec

        cfg = cfgmod.load_and_validate(a.config)
        spec.write_spec(a.out, spec.job_spec(cfg, a.preset, a.task, a.backbone, a.experiment))

    return run_step(write)


if __name__ == "__main__":
    sys.exit(main())

"""Write the resolved spec of one training job (cir/spec.py) into its run folder.

The training job reads this file, never the configuration itself. With ``--expect`` (the
workflow's rule passes the digest it computed when it started) a configuration file edited
since then stops the job instead of silently training other settings. Exit codes: 0 written,
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
    p.add_argument("--expect", metavar="DIGEST",
                   help="the spec digest the workflow computed when it started; a different one means the "
                        "configuration file changed since, and nothing is written")
    a = p.parse_args(argv)

    def write() -> None:
        from cir import config as cfgmod
        from cir import spec
        from cir.errors import ConfigError

        cfg = cfgmod.load_and_validate(a.config)
        job = spec.job_spec(cfg, a.preset, a.task, a.backbone, a.experiment)
        if a.expect and spec.spec_hash(job) != a.expect:
            raise ConfigError(f"{a.config}: the spec of {a.task}/{a.backbone}/{a.experiment} is now "
                              f"{spec.spec_hash(job)}, but the workflow was started with {a.expect}: the "
                              "configuration changed since. Start snakemake again, or, for dvc repro, regenerate "
                              "dvc.yaml (python workflow_scripts/export_dvc.py --preset demo)")
        spec.write_spec(a.out, job)

    return run_step(write)


if __name__ == "__main__":
    sys.exit(main())

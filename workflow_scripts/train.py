"""Train one job (teacher, scratch student, distilled student, ...) from its spec file.

The spec (``spec.json`` in the run folder, written by workflow_scripts/write_spec.py) says what to
train; this command names the files it trains from and how it runs. Exit codes: 0 done,
2 configuration or input error, 75 stopped by SIGTERM/SIGUSR1 after writing a checkpoint (run the
same command again to resume).
"""

from __future__ import annotations

import argparse
import sys

from cir.utils.cli import parse_named_path, run_step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--spec", required=True, help="the job's spec.json (cir/spec.py)")
    p.add_argument("--train-dir", action="append", required=True, help="prepared pair folder (LR/, HR/); unpaired specs: a folder of degraded images")
    p.add_argument("--val-dir", help="prepared pair folder for periodic validation")
    p.add_argument("--teacher", action="append", default=[], metavar="NAME=FILE",
                   help="model file of the spec's teacher NAME (repeat for several teachers)")
    p.add_argument("--init", help="model file the student starts from (specs with init: {experiment|file})")
    p.add_argument("--encoder-weights", help="frozen loss-encoder weight file (methods that use one)")
    p.add_argument("--clear-dir", action="append", default=[],
                   help="folder of clear images (specs with data.kind unpaired: domain adaptation; a pair folder gives its HR/)")
    p.add_argument("--noise-pool", help="noise patches injected into the LR patches (specs with data.noise_pool)")
    p.add_argument("--out", required=True, help="model file to write; its folder holds checkpoints and logs")
    p.add_argument("--threads", type=int, help="CPU threads of the whole job (shared by its processes)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--nproc-per-node", type=int, default=1,
                   help="data-parallel processes, one per GPU; above 1 the job runs under torchrun")
    p.add_argument("--stage-dir", help="copy the pair folders here first (node-local scratch); "
                   "environment variables are expanded, e.g. '$SLURM_TMPDIR/cir'")
    args = sys.argv[1:] if argv is None else list(argv)
    a = p.parse_args(args)
    from cir.engine import distributed
    from cir.engine.preempt import PREEMPT_EXIT_CODE, Preempted

    if a.nproc_per_node > 1 and not distributed.in_worker():
        return distributed.launch(__file__, args, a.nproc_per_node)

    def train() -> None:
        from cir.jobs.train import train_job

        teachers = dict(parse_named_path(t, "--teacher") for t in a.teacher)
        train_job(spec_path=a.spec, train_dirs=a.train_dir, val_dir=a.val_dir, out=a.out, teachers=teachers,
                  init_file=a.init, encoder_weights=a.encoder_weights, threads=a.threads, device=a.device,
                  stage_dir=a.stage_dir, noise_pool=a.noise_pool, clear_dirs=a.clear_dir)

    try:
        return run_step(train)
    except Preempted as exc:
        print(f"[cir] {exc}", file=sys.stderr)
        return PREEMPT_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())

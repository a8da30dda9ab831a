"""Train one experiment (teacher, scratch student, distilled student, ...) of a preset.

Exit codes: 0 done, 2 configuration error, 75 stopped by SIGTERM/SIGUSR1 after writing a
checkpoint (run the same command again to resume).
"""

from __future__ import annotations

import argparse
import sys

from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--preset", required=True, help="scale preset (smoke, demo, paper, ...)")
    p.add_argument("--scale", type=int, required=True)
    p.add_argument("--backbone", required=True)
    p.add_argument("--experiment", required=True, help="experiment name from config.yaml")
    p.add_argument("--train-dir", action="append", required=True, help="prepared pair folder (LR/, HR/)")
    p.add_argument("--val-dir", help="prepared pair folder for periodic validation")
    p.add_argument("--teacher", help="teacher model file, for distillation methods")
    p.add_argument("--encoder-weights", help="frozen loss-encoder weight file (methods that use one)")
    p.add_argument("--out", required=True, help="model file to write; its folder holds checkpoints and logs")
    p.add_argument("--threads", type=int, help="CPU threads of the whole job (shared by its processes)")
    p.add_argument("--device")
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
    from cir.experiment import train_job

    try:
        return run_step(lambda: train_job(
            config_path=a.config, preset_name=a.preset, scale=a.scale, backbone=a.backbone,
            experiment_name=a.experiment, train_dirs=a.train_dir, val_dir=a.val_dir, out=a.out,
            teacher_file=a.teacher, encoder_weights=a.encoder_weights, threads=a.threads, device=a.device,
            stage_dir=a.stage_dir))
    except Preempted as exc:
        print(f"[cir] {exc}", file=sys.stderr)
        return PREEMPT_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())

"""Train one experiment (teacher, scratch student, distilled student, ...) of a preset."""

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
    p.add_argument("--threads", type=int)
    p.add_argument("--device")
    a = p.parse_args(argv)
    from cir.experiment import train_job

    return run_step(lambda: train_job(
        config_path=a.config, preset_name=a.preset, scale=a.scale, backbone=a.backbone,
        experiment_name=a.experiment, train_dirs=a.train_dir, val_dir=a.val_dir, out=a.out,
        teacher_file=a.teacher, encoder_weights=a.encoder_weights, threads=a.threads, device=a.device))


if __name__ == "__main__":
    sys.exit(main())

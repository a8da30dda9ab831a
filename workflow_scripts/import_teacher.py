"""Convert an official pretrained teacher (SwinIR / RCAN / NAFNet / Restormer release file) into a cir model file."""

from __future__ import annotations

import argparse
import sys

from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--weights", required=True, help="the official weight file")
    p.add_argument("--backbone", required=True)
    p.add_argument("--task", required=True, help="the task: an SR factor (x2 / x3 / x4) or a scale-1 task (deblur, derain, ...)")
    p.add_argument("--arch", default=None, help="the registry architecture (default: the backbone's name)")
    p.add_argument("--params", default="{}", help="the network's parameters as JSON (networks spandrel does "
                   "not recognise: EDSR, FFA-Net, ...)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)

    def convert() -> None:
        from cir.models.official import import_official
        from cir.tasks import parse_task

        import json

        from cir.errors import CirError

        try:
            params = json.loads(a.params)
        except json.JSONDecodeError as exc:
            raise CirError(f"--params: not JSON ({exc}): {a.params!r}") from exc
        import_official(a.weights, a.backbone, parse_task(a.task, "--task").scale, a.out, task=a.task,
                        arch=a.arch, params=params)

    return run_step(convert)


if __name__ == "__main__":
    sys.exit(main())

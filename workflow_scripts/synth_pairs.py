"""Build a scale-1 pair folder (LR/ degraded, HR/ clean, manifest.json) from a folder of clean images.

The degradation and its random parameters are described in ``cir.data.synthetic``. Bad input
(an unreadable image, an empty or missing folder, an unknown kind or family) ends with one
``error: ...`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from cir.data.synthetic import make_synthetic_pairs
from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean-dir", required=True, help="folder of clean images")
    parser.add_argument("--out", required=True, help="output folder (replaced as a whole)")
    parser.add_argument("--kind", required=True, help="degradation: blur, rain, haze, noise or jpeg")
    parser.add_argument("--family", default="synthetic", help="synthetic (default) or real_like")
    parser.add_argument("--seed", type=int, default=0, help="non-negative seed of the random parameters")
    args = parser.parse_args(argv)

    def action() -> None:
        out = make_synthetic_pairs(args.clean_dir, args.out, args.kind, family=args.family, seed=args.seed)
        print(f"wrote {args.kind} ({args.family}, seed {args.seed}) pairs of {args.clean_dir} to {out}")

    return run_step(action)


if __name__ == "__main__":
    sys.exit(main())

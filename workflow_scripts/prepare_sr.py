"""Build an SR pair folder (HR/, LR/, manifest.json) from a folder of HR images.

Bad input (an unreadable, truncated or non-image file, an empty folder) ends with one
``error: ...`` line naming the file and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from cir.data.prepare import prepare_sr_pairs
from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hr-dir", required=True, help="folder of HR images")
    parser.add_argument("--scale", required=True, type=int, help="integer downscaling factor")
    parser.add_argument("--out", required=True, help="output folder (replaced as a whole)")
    parser.add_argument(
        "--bicubic",
        default="double",
        choices=["double", "uint8"],
        help="bicubic recipe: 'double' (im2double -> imresize -> round) or 'uint8' (MATLAB imresize on uint8)",
    )
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error(f"argument --scale: expected a positive integer, got {args.scale}")

    def action() -> None:
        out = prepare_sr_pairs(args.hr_dir, args.scale, args.out, mode=args.bicubic)
        print(f"wrote x{args.scale} pairs of {args.hr_dir} to {out}")

    return run_step(action)


if __name__ == "__main__":
    sys.exit(main())

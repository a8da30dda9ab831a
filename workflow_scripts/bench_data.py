"""Time the training batch sampler (data loading only) on a scale-1 pair folder.

Reports milliseconds per ``sampler.batch(step)`` with the images in memory or in the decoded
disk cache (first pass over an empty cache, filled cache, page cache dropped), the process's
resident memory and the decoded size of the set. ``--make-fake N`` first writes N fake pairs
(e.g. ``--make-fake 2103 --size 1280x720`` for a GoPro-sized set) to --pair-dir, or to a
temporary folder removed afterwards.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile

from cir.utils.cli import run_step


def _size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1280x720; got {text!r}")
    return int(h), int(w)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pair-dir", help="a scale-1 pair folder (LR/, HR/); with --make-fake: where to write it")
    p.add_argument("--make-fake", type=int, metavar="N", help="first write N fake pairs")
    p.add_argument("--size", type=_size, default=(720, 1280), help="fake image size WxH (default: 1280x720)")
    p.add_argument("--patch", type=int, default=256, help="LR patch size (default: %(default)s)")
    p.add_argument("--batch", type=int, default=8, help="batch size (default: %(default)s)")
    p.add_argument("--storage", choices=("auto", "memory", "disk"), default="auto")
    p.add_argument("--memory-limit-gib", type=float, help="storage=auto threshold (default: the sampler's)")
    p.add_argument("--steps", type=int, default=50,
                   help="timed batches per measurement (default: %(default)s)")
    p.add_argument("--cache-dir", help="decoded-image cache root (default: a fresh temporary one)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    p.add_argument("--out", help="also write the result as JSON to this file")
    a = p.parse_args(argv)
    if not a.pair_dir and not a.make_fake:
        p.error("give --pair-dir, --make-fake N, or both")

    def bench() -> None:
        import torch

        from cir.data.bench import bench_sampler, make_fake_pairs, summary_lines
        from cir.utils.io import write_json

        torch.set_num_threads(a.threads)
        temp = tempfile.mkdtemp(prefix="cir-fake-pairs-") if a.make_fake and not a.pair_dir else None
        try:
            pair_dir = a.pair_dir or f"{temp}/pairs"
            if a.make_fake:
                make_fake_pairs(pair_dir, a.make_fake, a.size)
            limit = int(a.memory_limit_gib * 1024**3) if a.memory_limit_gib is not None else None
            r = bench_sampler(pair_dir, lr_patch=a.patch, batch=a.batch, storage=a.storage, steps=a.steps,
                              cache_dir=a.cache_dir, memory_limit=limit)
        finally:
            if temp:
                shutil.rmtree(temp, ignore_errors=True)
        if a.out:
            write_json(a.out, r)
        print("\n".join(summary_lines(r)))
        if a.out:
            print(f"written: {a.out}")

    return run_step(bench)


if __name__ == "__main__":
    sys.exit(main())

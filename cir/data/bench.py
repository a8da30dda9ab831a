"""Cost of loading training batches: :class:`~cir.data.paired.PatchSampler` time per batch and memory,
with the images in memory or in the decoded disk cache; and a fake scale-1 pair folder of any size
to measure it on (e.g. GoPro-like: 2103 pairs of 1280x720).

The numbers to compare with a training step: milliseconds per ``sampler.batch(step)`` (the
trainer calls it once per step), the resident memory of the process, and the decoded size of the
set. Disk storage is measured three times: a first pass over an empty cache (each image decoded
and written on first use), after the cache is filled (the steady state of a long run), and with
the cache files dropped from the OS page cache (a set larger than the machine's memory).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from cir.data.images import list_images, write_image
from cir.data.paired import PatchSampler
from cir.utils.io import write_json


def make_fake_pairs(out: str | os.PathLike, count: int, size: tuple[int, int] = (720, 1280),
                    seed: int = 0) -> Path:
    """Write ``count`` scale-1 pairs of ``size`` ``(height, width)`` to ``out/LR``, ``out/HR``.

    HR is a smooth random colour field with pixel noise (it compresses about as badly as a photo,
    so decoding costs about as much), LR a blurred copy. A folder that already holds ``count``
    pairs of that size (its manifest says so) is kept as it is.
    """
    out = Path(out)
    h, w = size
    manifest = {"scale": 1, "fake": {"count": count, "size": [h, w], "seed": seed}}
    with contextlib.suppress(OSError, ValueError):
        if json.loads((out / "manifest.json").read_text()) == manifest:
            return out
    rng = np.random.default_rng(seed)
    for i in range(count):
        coarse = rng.uniform(0, 255, size=(max(2, h // 32), max(2, w // 32), 3)).astype(np.float32)
        field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        hr = np.clip(field + rng.normal(0, 8, size=(h, w, 3)), 0, 255).astype(np.uint8)
        lr = cv2.GaussianBlur(hr, (0, 0), 2.0)
        write_image(out / "HR" / f"{i:05d}.png", hr)
        write_image(out / "LR" / f"{i:05d}.png", lr)
    write_json(out / "manifest.json", manifest)
    return out


def memory_now() -> dict[str, float]:
    """This process's resident memory in MiB: total, anonymous (heap, decoded arrays), file-backed
    (memory-mapped files, reclaimable by the OS) and the peak so far."""
    fields = {"VmRSS": "rss_mib", "RssAnon": "rss_anon_mib", "RssFile": "rss_file_mib",
              "VmHWM": "peak_rss_mib"}
    out: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in fields:
                out[fields[key]] = round(int(value.split()[0]) / 1024, 1)
    if "peak_rss_mib" not in out:  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS)
        out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def _time_batches(sampler: PatchSampler, steps: range) -> dict[str, float]:
    times = []
    for step in steps:
        t0 = time.perf_counter()
        sampler.batch(step)
        times.append(time.perf_counter() - t0)
    return {"steps": len(times), "ms_per_batch_mean": round(1e3 * statistics.fmean(times), 3),
            "ms_per_batch_median": round(1e3 * statistics.median(times), 3),
            "ms_per_batch_max": round(1e3 * max(times), 3)}


def _drop_page_cache(folder: Path) -> int:
    """Ask the OS to drop the cached pages of every file under ``folder`` (no privileges needed)."""
    dropped = 0
    for f in folder.rglob("*.npy"):
        fd = os.open(f, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            dropped += 1
        finally:
            os.close(fd)
    return dropped


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def bench_sampler(pair_dir: str | os.PathLike, *, lr_patch: int, batch: int, storage: str, steps: int,
                  cache_dir: str | os.PathLike | None = None, seed: int = 0,
                  memory_limit: int | None = None) -> dict:
    """Time ``steps`` batches of a sampler over ``pair_dir`` at the given patch, batch and storage.

    Without ``cache_dir`` a disk run uses a fresh temporary cache (removed afterwards), so its
    first pass starts cold; with one, the cache is used as found.
    """
    pair_dir = Path(pair_dir)
    own_cache = cache_dir is None
    cache = Path(tempfile.mkdtemp(prefix="cir-bench-cache-")) if own_cache else Path(cache_dir)
    try:
        kw = {"memory_limit": memory_limit} if memory_limit is not None else {}
        result: dict = {"pair_dir": str(pair_dir), "pairs": len(list_images(pair_dir / "LR")),
                        "lr_patch": lr_patch, "batch": batch, "requested_storage": storage,
                        "torch_threads": torch.get_num_threads(), "memory_at_start": memory_now()}
        t0 = time.perf_counter()
        sampler = PatchSampler([pair_dir], scale=1, lr_patch=lr_patch, batch_size=batch, seed=seed,
                               storage=storage, cache_dir=cache, **kw)
        result.update(storage=sampler.storage, decoded_bytes=sampler.decoded_bytes,
                      decoded_gib=round(sampler.decoded_bytes / 1024**3, 3),
                      setup_s=round(time.perf_counter() - t0, 3), memory_after_setup=memory_now())
        first = range(steps)
        if sampler.storage == "memory":
            result["batches"] = _time_batches(sampler, first)
        else:
            result["cold_first_pass"] = {**_time_batches(sampler, first),
                                         "images_decoded": sum(c.writes for c in sampler.caches)}
            t0 = time.perf_counter()
            filled = sampler.fill_cache()
            result["fill_cache"] = {"images_decoded": filled, "seconds": round(time.perf_counter() - t0, 3),
                                    "cache_bytes": sum(_folder_bytes(c.folder) for c in sampler.caches)}
            result["warm"] = _time_batches(sampler, range(steps, 2 * steps))
            result["memory_after_warm"] = memory_now()
            del sampler  # unmap its files: the OS keeps mapped pages in its cache
            fresh = PatchSampler([pair_dir], scale=1, lr_patch=lr_patch, batch_size=batch, seed=seed,
                                 storage="disk", cache_dir=cache)  # no memory maps open yet
            result["page_cache_dropped"] = {"files": sum(_drop_page_cache(c.folder) for c in fresh.caches),
                                            **_time_batches(fresh, range(2 * steps, 3 * steps))}
        result["memory_at_end"] = memory_now()
        return result
    finally:
        if own_cache:
            shutil.rmtree(cache, ignore_errors=True)


def summary_lines(r: dict) -> list[str]:
    """The result of :func:`bench_sampler` as a few readable lines."""
    def mem(m: dict) -> str:
        return (f"RSS {m.get('rss_mib', 0):.0f} MiB (anon {m.get('rss_anon_mib', 0):.0f}, "
                f"file-backed {m.get('rss_file_mib', 0):.0f}), peak {m.get('peak_rss_mib', 0):.0f} MiB")

    def times(t: dict) -> str:
        return (f"{t['ms_per_batch_median']:.2f} ms/batch median, {t['ms_per_batch_mean']:.2f} mean, "
                f"{t['ms_per_batch_max']:.1f} max over {t['steps']} batches")

    head = (f"{r['pairs']} pairs in {r['pair_dir']}, decoded {r['decoded_gib']:.2f} GiB; "
            f"patch {r['lr_patch']}, batch {r['batch']}; "
            f"storage {r['storage']} (asked: {r['requested_storage']}); "
            f"{r['torch_threads']} torch thread(s)")
    lines = [head,
             f"  at start:        {mem(r['memory_at_start'])}",
             f"  setup            {r['setup_s']:.2f} s; {mem(r['memory_after_setup'])}"]
    if "batches" in r:
        lines.append(f"  memory:          {times(r['batches'])}")
    else:
        c, f = r["cold_first_pass"], r["fill_cache"]
        fill = (f"  fill the rest:   {f['images_decoded']} images in {f['seconds']:.1f} s; cache "
                f"{f['cache_bytes'] / 1024**3:.2f} GiB on disk")
        lines += [f"  cold cache:      {times(c)}; {c['images_decoded']} images decoded", fill,
                  f"  warm cache:      {times(r['warm'])}; {mem(r['memory_after_warm'])}",
                  f"  no page cache:   {times(r['page_cache_dropped'])}"]
    lines.append(f"  at end:          {mem(r['memory_at_end'])}")
    return lines

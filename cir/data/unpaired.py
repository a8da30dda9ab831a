"""Unpaired training batches for domain adaptation (Uni-Removal's second stage): real degraded images
without ground truth, one folder per degradation type, and real clear images from other scenes.

:class:`UnpairedSampler` serves, per step, ``lq`` (degraded patches ``[b, 3, p, p]``), ``task`` (the
folder index of each, ``int64 [b]``) and ``clear`` (clear patches ``[b, 3, p, p]``), float32 in
``[0, 1]``. Each degraded sample draws its folder uniformly, then an image in it (the mixture of
haze, rain and blur of the paper's URHI + SPA + RealBlur-J); each clear sample an image of the clear
folders uniformly; positions and flips/transposes (``augment``) uniformly. Every draw comes from
``numpy.random.default_rng([seed, step])``, so a batch is a function of ``(seed, step)`` only (a
resumed run sees the same batches) and the ranks of a data-parallel run take consecutive shares
of the global batch.

A folder is either a pair folder (a degraded folder gives its ``LR/`` images: a reference-free set,
or the degraded side of a paired set; a clear folder its ``HR/`` images, the clean side) or a plain
folder of images. Images are held in memory (decoded once, up front) or, for sets whose decoded
pixels do not fit (URHI, SPA's training set at the paper preset), read through the memory-mapped
disk cache of :class:`cir.data.paired.DecodedCache` (``storage``: ``"auto"`` picks by the decoded
size from the image headers, as :class:`~cir.data.paired.PatchSampler` does); the batches are the
same with either storage. An image smaller than the patch is an error naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cir.data.images import list_images, read_image
from cir.data.paired import DEFAULT_MEMORY_LIMIT, STORAGES, DecodedCache, cache_folder, image_size
from cir.errors import DataError


def _images_of(folder: str | os.PathLike, side: str = "LR") -> list[Path]:
    folder = Path(folder)
    source = folder / side if (folder / side).is_dir() else folder
    files = list_images(source)
    if not files:
        raise DataError(f"{source}: no images (an unpaired folder holds images, or a pair folder's LR/)")
    return files


class _Side:
    """The images of one side (degraded or clear): file, cache side and size of each, decoded in
    memory or read through a per-folder :class:`DecodedCache`."""

    def __init__(self, dirs, side: str, name: str, patch: int) -> None:
        self.files: list[Path] = []
        self.owner: list[int] = []   # the folder of each image
        self.side = side
        per_dir = []
        for k, d in enumerate(dirs):
            files = _images_of(d, side)
            per_dir.append(len(files))
            self.files += files
            self.owner += [k] * len(files)
        self.dirs = [Path(d) for d in dirs]
        self.counts = np.array(per_dir)
        self.starts = np.cumsum([0] + per_dir)[:-1]
        self.sizes = np.array([image_size(f) for f in self.files])
        small = np.nonzero(self.sizes.min(axis=1) < patch)[0]
        if small.size:
            f, (h, w) = self.files[int(small[0])], self.sizes[int(small[0])]
            raise DataError(f"{f}: a {name} image of {h}x{w}, smaller than the patch {patch}")
        self.decoded_bytes = int(3 * (self.sizes[:, 0] * self.sizes[:, 1]).sum())
        self._memory: list[np.ndarray] | None = None
        self._caches: list[DecodedCache] = []

    def to_memory(self) -> None:
        images = [read_image(f) for f in self.files]
        for f, img, hw in zip(self.files, images, self.sizes):
            if tuple(img.shape[:2]) != tuple(hw):
                raise DataError(f"{f}: decoded as {img.shape[0]}x{img.shape[1]}, its header says {hw[0]}x{hw[1]}")
        self._memory = images

    def to_disk(self, cache_dir) -> None:
        self._caches = [DecodedCache(cache_folder(d, cache_dir)) for d in self.dirs]

    def get(self, index: int) -> np.ndarray:
        if self._memory is not None:
            return self._memory[index]
        return self._caches[self.owner[index]].get(self.files[index], self.side, tuple(self.sizes[index]))


class UnpairedSampler:
    def __init__(self, degraded_dirs: Sequence[str | os.PathLike], clear_dirs: Sequence[str | os.PathLike],
                 patch: int, batch_size: int, seed: int, augment: bool = True, *, storage: str = "auto",
                 memory_limit: int = DEFAULT_MEMORY_LIMIT, cache_dir: str | os.PathLike | None = None) -> None:
        if not degraded_dirs or not clear_dirs:
            raise ValueError("UnpairedSampler needs at least one degraded and one clear folder")
        if patch < 1 or batch_size < 1 or seed < 0:
            raise ValueError(f"invalid sampler settings: patch={patch}, batch_size={batch_size}, seed={seed}")
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {', '.join(STORAGES)}; got {storage!r}")
        self.patch, self.batch_size, self.seed, self.augment = int(patch), int(batch_size), int(seed), bool(augment)
        self._sides = {"degraded": _Side(degraded_dirs, "LR", "degraded", self.patch),
                       "clear": _Side(clear_dirs, "HR", "clear", self.patch)}
        self.decoded_bytes = sum(side.decoded_bytes for side in self._sides.values())
        if storage == "auto":
            storage = "memory" if self.decoded_bytes < memory_limit else "disk"
        self.storage = storage
        for side in self._sides.values():
            if storage == "memory":
                side.to_memory()
            else:
                side.to_disk(cache_dir)

    def __len__(self) -> int:
        return len(self._sides["degraded"].files)

    def fill_cache(self, rank: int = 0, world_size: int = 1) -> int:
        """Decode into the disk cache every image of this rank's share (images ``rank::world_size``
        of each side) not cached yet; returns how many were written. Nothing to do in memory."""
        if self.storage != "disk":
            return 0
        caches = [c for side in self._sides.values() for c in side._caches]
        before = sum(c.writes for c in caches)
        for side in self._sides.values():
            for i in range(rank, len(side.files), world_size):
                side.get(i)
        return sum(c.writes for c in caches) - before

    def plan(self, step: int) -> dict[str, np.ndarray]:
        """The global batch at ``step``: per side, rows ``(image, y, x, hflip, vflip, transpose)``;
        ``task`` the degraded samples' folders."""
        b, p = self.batch_size, self.patch
        rng = np.random.default_rng([self.seed, int(step)])
        degraded, clear = self._sides["degraded"], self._sides["clear"]
        folder = rng.integers(0, len(degraded.counts), size=b)
        out = {"task": folder}
        for side, image in (("degraded", degraded.starts[folder] + rng.integers(0, degraded.counts[folder])),
                            ("clear", rng.integers(0, len(clear.files), size=b))):
            hw = self._sides[side].sizes[image]
            y = rng.integers(0, hw[:, 0] - p + 1)
            x = rng.integers(0, hw[:, 1] - p + 1)
            flips = rng.integers(0, 2, size=(b, 3)) if self.augment else np.zeros((b, 3), dtype=np.int64)
            out[side] = np.column_stack([image, y, x, flips])
        return out

    def _patches(self, side: _Side, rows: np.ndarray) -> torch.Tensor:
        p = self.patch
        out = np.empty((len(rows), 3, p, p), dtype=np.uint8)
        for i, (image, y, x, hflip, vflip, transpose) in enumerate(rows):
            patch = side.get(int(image))[y:y + p, x:x + p]
            if hflip:
                patch = patch[:, ::-1]
            if vflip:
                patch = patch[::-1]
            if transpose:
                patch = patch.transpose(1, 0, 2)
            out[i] = patch.transpose(2, 0, 1)
        return torch.from_numpy(out).to(torch.float32).div_(255.0)

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        if world_size < 1 or not 0 <= rank < world_size or self.batch_size % world_size:
            raise ValueError(f"invalid rank {rank} / world size {world_size} for batch {self.batch_size}")
        share = self.batch_size // world_size
        cut = slice(rank * share, (rank + 1) * share)
        plan = self.plan(step)
        return {"lq": self._patches(self._sides["degraded"], plan["degraded"][cut]),
                "task": torch.from_numpy(plan["task"][cut].astype(np.int64)),
                "clear": self._patches(self._sides["clear"], plan["clear"][cut])}

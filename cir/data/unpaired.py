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
folder of images. Images are decoded once into memory;
an image smaller than the patch is an error naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cir.data.images import list_images, read_image
from cir.errors import DataError


def _images_of(folder: str | os.PathLike, side: str = "LR") -> list[Path]:
    folder = Path(folder)
    source = folder / side if (folder / side).is_dir() else folder
    files = list_images(source)
    if not files:
        raise DataError(f"{source}: no images (an unpaired folder holds images, or a pair folder's LR/)")
    return files


class UnpairedSampler:
    def __init__(self, degraded_dirs: Sequence[str | os.PathLike], clear_dirs: Sequence[str | os.PathLike],
                 patch: int, batch_size: int, seed: int, augment: bool = True) -> None:
        if not degraded_dirs or not clear_dirs:
            raise ValueError("UnpairedSampler needs at least one degraded and one clear folder")
        if patch < 1 or batch_size < 1 or seed < 0:
            raise ValueError(f"invalid sampler settings: patch={patch}, batch_size={batch_size}, seed={seed}")
        self.patch, self.batch_size, self.seed, self.augment = int(patch), int(batch_size), int(seed), bool(augment)
        per_dir = [[read_image(f) for f in _images_of(d)] for d in degraded_dirs]
        self.degraded = [img for imgs in per_dir for img in imgs]
        self._dir_start = np.cumsum([0] + [len(imgs) for imgs in per_dir])[:-1]
        self._dir_count = np.array([len(imgs) for imgs in per_dir])
        self.clear = [read_image(f) for d in clear_dirs for f in _images_of(d, "HR")]
        for name, images, dirs in (("degraded", self.degraded, degraded_dirs), ("clear", self.clear, clear_dirs)):
            for img in images:
                if min(img.shape[:2]) < self.patch:
                    raise DataError(f"a {name} image of {[str(d) for d in dirs]} is {img.shape[0]}x{img.shape[1]}, "
                                    f"smaller than the patch {self.patch}")
        self._sizes = {"degraded": np.array([img.shape[:2] for img in self.degraded]),
                       "clear": np.array([img.shape[:2] for img in self.clear])}

    def __len__(self) -> int:
        return len(self.degraded)

    def plan(self, step: int) -> dict[str, np.ndarray]:
        """The global batch at ``step``: per side, rows ``(image, y, x, hflip, vflip, transpose)``;
        ``task`` the degraded samples' folders."""
        b, p = self.batch_size, self.patch
        rng = np.random.default_rng([self.seed, int(step)])
        folder = rng.integers(0, len(self._dir_count), size=b)
        out = {"task": folder}
        for side, image in (("degraded", self._dir_start[folder] + rng.integers(0, self._dir_count[folder])),
                            ("clear", rng.integers(0, len(self.clear), size=b))):
            hw = self._sizes[side][image]
            y = rng.integers(0, hw[:, 0] - p + 1)
            x = rng.integers(0, hw[:, 1] - p + 1)
            flips = rng.integers(0, 2, size=(b, 3)) if self.augment else np.zeros((b, 3), dtype=np.int64)
            out[side] = np.column_stack([image, y, x, flips])
        return out

    def _patches(self, images: list[np.ndarray], rows: np.ndarray) -> torch.Tensor:
        p = self.patch
        out = np.empty((len(rows), 3, p, p), dtype=np.uint8)
        for i, (image, y, x, hflip, vflip, transpose) in enumerate(rows):
            patch = images[int(image)][y:y + p, x:x + p]
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
        return {"lq": self._patches(self.degraded, plan["degraded"][cut]),
                "task": torch.from_numpy(plan["task"][cut].astype(np.int64)),
                "clear": self._patches(self.clear, plan["clear"][cut])}

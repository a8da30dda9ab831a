"""Paired LR/HR images in memory and a deterministic random-patch batch sampler for training.

Unusable pair folders (unmatched names, sizes that do not fit the scale, an unreadable manifest)
raise :class:`~cir.errors.DataError` and unreadable images
:class:`~cir.data.images.ImageReadError`; both are :class:`~cir.errors.CirError` subclasses whose
message names the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cir.data.images import list_images, read_image
from cir.errors import DataError


@dataclass(frozen=True)
class Pair:
    name: str
    lr: np.ndarray  # uint8 H x W x 3
    hr: np.ndarray  # uint8 (H*s) x (W*s) x 3
    source: str = ""  # "<pair_dir>/<name>", for messages
    lr_file: Path | None = None  # the files the images were read from
    hr_file: Path | None = None


def _by_stem(directory: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for f in list_images(directory):
        if f.stem in out:
            raise DataError(f"two images share the name {f.stem!r}: {out[f.stem]} and {f}")
        out[f.stem] = f
    return out


def _manifest_scale(pair_dir: Path) -> int | None:
    manifest = pair_dir / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        value = json.loads(manifest.read_text()).get("scale")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise DataError(f"cannot parse {manifest}: {exc}") from exc
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DataError(f"{manifest}: 'scale' must be an integer; got {value!r}") from None


def load_pairs(pair_dir: str | os.PathLike, scale: int | None = None) -> list[Pair]:
    """Read ``pair_dir/LR`` and ``pair_dir/HR``, matched by file stem, sorted by name.

    The scale is ``scale`` if given, else ``scale`` from ``pair_dir/manifest.json``, else the
    ratio of the first pair; every pair must satisfy ``HR size == LR size * scale``. Problems
    raise :class:`~cir.errors.DataError` or :class:`~cir.data.images.ImageReadError` naming the file.
    """
    pair_dir = Path(pair_dir)
    lr_files, hr_files = _by_stem(pair_dir / "LR"), _by_stem(pair_dir / "HR")
    only_lr = sorted(set(lr_files) - set(hr_files))
    only_hr = sorted(set(hr_files) - set(lr_files))
    if only_lr or only_hr:
        parts = [
            f"LR only: {', '.join(str(lr_files[n]) for n in only_lr)}" if only_lr else "",
            f"HR only: {', '.join(str(hr_files[n]) for n in only_hr)}" if only_hr else "",
        ]
        raise DataError(f"unmatched images in {pair_dir}: " + "; ".join(p for p in parts if p))
    if scale is None:
        scale = _manifest_scale(pair_dir)
    pairs = []
    for name in sorted(lr_files):
        lr, hr = read_image(lr_files[name]), read_image(hr_files[name])
        if scale is None:
            scale = hr.shape[0] // max(lr.shape[0], 1)
        if scale < 1 or hr.shape[:2] != (lr.shape[0] * scale, lr.shape[1] * scale):
            raise DataError(
                f"size mismatch at scale {scale}: HR {hr_files[name]} is {hr.shape[0]}x{hr.shape[1]}, "
                f"LR {lr_files[name]} is {lr.shape[0]}x{lr.shape[1]} (expected HR = LR x {scale})"
            )
        pairs.append(Pair(name=name, lr=lr, hr=hr, source=f"{pair_dir}/{name}", lr_file=lr_files[name],
                          hr_file=hr_files[name]))
    return pairs


class PatchSampler:
    """Random aligned LR/HR patches; each batch is a pure function of ``(seed, step)``.

    The global batch of ``batch_size`` samples at a step never depends on earlier calls, so a
    resumed run sees exactly the batches it would have seen, and data-parallel ranks take
    disjoint contiguous blocks of it (rank ``r`` of ``w`` gets samples
    ``[r * b / w, (r + 1) * b / w)``; concatenating the ranks in order gives the global batch).

    Per sample: uniform random image, uniform random LR crop at ``(y, x)`` with the HR crop at
    ``(y * s, x * s)``, then (if ``augment``) random horizontal flip, vertical flip and
    transpose, which together give the 8 rotations/flips; LR and HR get the same transform.
    """

    def __init__(
        self,
        pair_dirs: Sequence[str | os.PathLike],
        scale: int,
        lr_patch: int,
        batch_size: int,
        seed: int,
        augment: bool = True,
    ) -> None:
        if isinstance(pair_dirs, (str, os.PathLike)):
            pair_dirs = [pair_dirs]
        if not pair_dirs:
            raise ValueError("PatchSampler needs at least one pair directory")
        if lr_patch < 1 or batch_size < 1 or scale < 1:
            raise ValueError(
                f"invalid sampler settings: scale={scale}, lr_patch={lr_patch}, batch_size={batch_size}"
            )
        if seed < 0:
            raise ValueError(f"seed must be non-negative; got {seed}")
        self.scale, self.lr_patch, self.batch_size = scale, lr_patch, batch_size
        self.seed, self.augment = seed, augment
        self.pairs: list[Pair] = [p for d in pair_dirs for p in load_pairs(d, scale)]
        for p in self.pairs:
            if p.lr.shape[0] < lr_patch or p.lr.shape[1] < lr_patch:
                raise DataError(
                    f"LR image {p.source} is {p.lr.shape[0]}x{p.lr.shape[1]}, "
                    f"smaller than the LR patch {lr_patch}x{lr_patch}"
                )
        self._max_y = np.array([p.lr.shape[0] - lr_patch for p in self.pairs])
        self._max_x = np.array([p.lr.shape[1] - lr_patch for p in self.pairs])

    def __len__(self) -> int:
        return len(self.pairs)

    def plan(self, step: int) -> np.ndarray:
        """The global batch at ``step`` as rows ``(image, y, x, hflip, vflip, transpose)``."""
        if step < 0:
            raise ValueError(f"step must be non-negative; got {step}")
        rng = np.random.default_rng([int(self.seed), int(step)])
        b = self.batch_size
        image = rng.integers(0, len(self.pairs), size=b)
        y = rng.integers(0, self._max_y[image] + 1)
        x = rng.integers(0, self._max_x[image] + 1)
        flips = rng.integers(0, 2, size=(b, 3))
        if not self.augment:
            flips[:] = 0
        return np.column_stack([image, y, x, flips])

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        """This rank's share of the global batch: ``lq`` ``[b, 3, p, p]`` and ``gt``
        ``[b, 3, p*s, p*s]``, float32 in ``[0, 1]``."""
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"invalid rank {rank} for world_size {world_size}")
        if self.batch_size % world_size:
            raise ValueError(f"batch_size {self.batch_size} is not divisible by world_size {world_size}")
        per_rank = self.batch_size // world_size
        rows = self.plan(step)[rank * per_rank : (rank + 1) * per_rank]
        p, s = self.lr_patch, self.scale
        lq = np.empty((per_rank, 3, p, p), dtype=np.uint8)
        gt = np.empty((per_rank, 3, p * s, p * s), dtype=np.uint8)
        for i, (image, y, x, hflip, vflip, transpose) in enumerate(rows):
            pair = self.pairs[image]
            lr = pair.lr[y : y + p, x : x + p]
            hr = pair.hr[y * s : (y + p) * s, x * s : (x + p) * s]
            if hflip:
                lr, hr = lr[:, ::-1], hr[:, ::-1]
            if vflip:
                lr, hr = lr[::-1], hr[::-1]
            if transpose:
                lr, hr = lr.transpose(1, 0, 2), hr.transpose(1, 0, 2)
            lq[i] = lr.transpose(2, 0, 1)
            gt[i] = hr.transpose(2, 0, 1)
        return {
            "lq": torch.from_numpy(lq).to(torch.float32).div_(255.0),
            "gt": torch.from_numpy(gt).to(torch.float32).div_(255.0),
        }

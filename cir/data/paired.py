"""Paired LR/HR images and a deterministic random-patch batch sampler for training.

:func:`load_pairs` reads a prepared pair folder (``LR/``, ``HR/``) fully into memory.
:class:`PatchSampler` draws training batches from one or more pair folders (optionally adding
real noise patches to the LR side, :func:`inject_noise`); its images are held
either in memory (small sets) or in a disk cache of decoded ``.npy`` files read through memory
maps (large sets such as RESIDE or SPA, whose decoded pixels do not fit in memory), see
:class:`DecodedCache`. The batches are the same with either storage.

Unusable pair folders (unmatched names, sizes that do not fit the scale, an unreadable manifest)
raise :class:`~cir.errors.DataError` and unreadable images
:class:`~cir.data.images.ImageReadError`; both are :class:`~cir.errors.CirError` subclasses whose
message names the file.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import os
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cir.data.images import ImageReadError, list_images, read_image
from cir.errors import DataError
from cir.utils.io import atomic_path

CACHE_ENV_VAR = "CIR_CACHE_DIR"
CACHE_FOLDER = ".cir-decoded"  # default cache root: next to the pair folder, never inside it
DEFAULT_MEMORY_LIMIT = 2 * 1024**3  # storage="auto": decoded sets below this many bytes stay in memory
STORAGES = ("auto", "memory", "disk")


@dataclass(frozen=True)
class Pair:
    name: str
    lr: np.ndarray  # uint8 H x W x 3
    hr: np.ndarray  # uint8 (H*s) x (W*s) x 3
    source: str = ""  # "<pair_dir>/<name>", for messages
    lr_file: Path | None = None  # the files the images were read from
    hr_file: Path | None = None


@dataclass(frozen=True)
class PairFiles:
    """One pair as files and their header sizes ``(height, width)``; no pixels are decoded."""

    name: str
    source: str  # "<pair_dir>/<name>", for messages
    lr_file: Path
    hr_file: Path
    lr_size: tuple[int, int]
    hr_size: tuple[int, int]

    @property
    def decoded_bytes(self) -> int:
        """Bytes of both images decoded as uint8 RGB."""
        return 3 * (self.lr_size[0] * self.lr_size[1] + self.hr_size[0] * self.hr_size[1])


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of an image file, read from its header without decoding the pixels.

    A file whose header Pillow cannot read is decoded instead, so that an unreadable file raises
    :class:`~cir.data.images.ImageReadError` with the same message as :func:`read_image`.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. Pillow's large-image warning: only the size is read
            with Image.open(path) as img:
                w, h = img.size
        return int(h), int(w)
    except Exception:  # noqa: BLE001 - any header problem: let the decoder give the verdict
        return tuple(read_image(path).shape[:2])  # type: ignore[return-value]


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


def index_pairs(pair_dir: str | os.PathLike, scale: int | None = None) -> list[PairFiles]:
    """The pairs of ``pair_dir`` (``LR/`` and ``HR/`` matched by file stem, sorted by name) with
    their sizes read from the image headers; checked like :func:`load_pairs`, without decoding."""
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
    out = []
    for name in sorted(lr_files):
        lr, hr = image_size(lr_files[name]), image_size(hr_files[name])
        if scale is None:
            scale = hr[0] // max(lr[0], 1)
        if scale < 1 or hr != (lr[0] * scale, lr[1] * scale):
            raise DataError(
                f"size mismatch at scale {scale}: HR {hr_files[name]} is {hr[0]}x{hr[1]}, "
                f"LR {lr_files[name]} is {lr[0]}x{lr[1]} (expected HR = LR x {scale})"
            )
        out.append(PairFiles(name=name, source=f"{pair_dir}/{name}", lr_file=lr_files[name],
                             hr_file=hr_files[name], lr_size=lr, hr_size=hr))
    return out


def _read_checked(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Decode ``path`` and check it has the size its header gave."""
    img = read_image(path)
    if img.shape[:2] != tuple(size):
        raise DataError(f"image file {path} decodes to {img.shape[0]}x{img.shape[1]}, but its header says "
                        f"{size[0]}x{size[1]} (changed while being read?)")
    return img


def load_pairs(pair_dir: str | os.PathLike, scale: int | None = None) -> list[Pair]:
    """Read ``pair_dir/LR`` and ``pair_dir/HR``, matched by file stem, sorted by name.

    The scale is ``scale`` if given, else ``scale`` from ``pair_dir/manifest.json``, else the
    ratio of the first pair; every pair must satisfy ``HR size == LR size * scale``. Problems
    raise :class:`~cir.errors.DataError` or :class:`~cir.data.images.ImageReadError` naming the file.
    """
    return [Pair(name=p.name, lr=_read_checked(p.lr_file, p.lr_size), hr=_read_checked(p.hr_file, p.hr_size),
                 source=p.source, lr_file=p.lr_file, hr_file=p.hr_file)
            for p in index_pairs(pair_dir, scale)]


# ------------------------------------------------------------------------------ decoded disk cache


def cache_folder(pair_dir: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the decoded images of ``pair_dir`` are cached: ``<root>/<pair folder name>`` with the
    root ``cache_dir``, else ``$CIR_CACHE_DIR``, else ``.cir-decoded`` next to the pair folder."""
    pair_dir = Path(os.path.abspath(pair_dir))
    root = cache_dir if cache_dir is not None else os.environ.get(CACHE_ENV_VAR) or None
    folder = (Path(os.path.abspath(os.path.expanduser(root))) if root else pair_dir.parent / CACHE_FOLDER) \
        / pair_dir.name
    if folder == pair_dir or pair_dir in folder.parents:
        raise ValueError(f"the decoded-image cache {folder} would be inside the pair folder {pair_dir}; "
                         f"choose a cache directory outside it")
    return folder


class DecodedCache:
    """Decoded images of one pair folder as uint8 ``.npy`` files, read through memory maps.

    An image is decoded on its first use and written under ``folder/<LR|HR>/`` as
    ``<stem>.<path key>.<version key>.npy``: the path key hashes the source file's absolute path
    (for a file with hard links: its inode, so that the links share one entry, named ``linked.*``);
    the version key hashes that identity with the file's size and modification time, so a changed
    source gets a new entry (the outdated one is deleted when the new one is written). The source
    is looked at (``stat``) once per object, at its first use: a file changed while a sampler runs
    is seen by the next one.
    Entries are written to a temporary name and renamed, so several processes (data-parallel
    ranks, concurrent jobs) may fill the same cache: each writer renames a complete file and a
    reader sees one complete file or none. An entry that cannot be read or has the wrong shape is
    rewritten. At most ``open_limit`` memory maps stay open (least recently used are closed),
    which bounds the open file descriptors.
    """

    def __init__(self, folder: str | os.PathLike, open_limit: int = 128) -> None:
        self.folder = Path(folder)
        self.open_limit = max(1, int(open_limit))
        self._open: OrderedDict[Path, np.ndarray] = OrderedDict()
        self._entries: dict[tuple[str, str], Path] = {}  # (source, side) -> entry, found at first use
        self.writes = 0  # entries this object decoded and wrote
        self._existing: dict[str, dict[str, list[str]]] = {}  # side -> "<stem>.<path key>" -> file names

    def __getstate__(self) -> dict:  # memory maps stay with their process
        return {**self.__dict__, "_open": OrderedDict()}

    def entry(self, source: str | os.PathLike, side: str) -> Path:
        """The cache file of the image file ``source`` as it is now (path, size, mtime)."""
        source = Path(os.path.abspath(source))
        self._entries.pop((str(source), side), None)
        try:
            st = os.stat(source)
        except OSError as exc:
            raise ImageReadError(f"image file not found: {source} ({exc.strerror})") from exc
        if st.st_nlink > 1:  # hard links of one file (a clean image shared by several pairs): one entry
            ident, stem = f"inode:{st.st_dev}:{st.st_ino}", "linked"
        else:
            ident, stem = str(source), source.stem
        path_key = hashlib.sha1(ident.encode()).hexdigest()[:10]
        version = hashlib.sha1(f"{ident}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:12]
        path = self.folder / side / f"{stem}.{path_key}.{version}.npy"
        self._entries[(str(source), side)] = path
        return path

    def get(self, source: str | os.PathLike, side: str, size: tuple[int, int]) -> np.ndarray:
        """The image ``source`` (``H x W x 3`` uint8, ``(H, W) == size``) as a read-only memory map,
        decoding and caching it first if needed."""
        path = self._entries.get((os.path.abspath(source), side)) or self.entry(source, side)
        arr = self._open.get(path)
        if arr is not None:
            self._open.move_to_end(path)
            return arr
        shape = (int(size[0]), int(size[1]), 3)
        arr = self._load(path, shape)
        if arr is None:
            self._write(Path(source), path, shape)
            arr = self._load(path, shape)
            if arr is None:
                raise DataError(f"the decoded-image cache entry {path} of {source} is unreadable right after "
                                f"writing it (is the cache folder on a faulty or full file system?)")
        self._open[path] = arr
        if len(self._open) > self.open_limit:
            self._open.popitem(last=False)
        return arr

    @staticmethod
    def _load(path: Path, shape: tuple[int, int, int]) -> np.ndarray | None:
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError):  # truncated or foreign file: rewrite it
            return None
        return arr if arr.dtype == np.uint8 and arr.shape == shape else None

    def _write(self, source: Path, path: Path, shape: tuple[int, int, int]) -> None:
        img = _read_checked(source, shape[:2])
        try:
            with atomic_path(path) as tmp:
                np.save(tmp, np.ascontiguousarray(img), allow_pickle=False)
        except OSError as exc:
            raise DataError(f"cannot write the decoded-image cache entry {path} of {source}: {exc}; set "
                            f"another cache directory (PatchSampler(cache_dir=...) or ${CACHE_ENV_VAR})") \
                from exc
        self.writes += 1
        side = path.parent.name
        if side not in self._existing:  # listed once, at the first write: not once per write
            self._existing[side] = {}
            for name in sorted(os.listdir(path.parent)):
                if name.endswith(".npy") and not name.startswith(".") and name.count(".") >= 3:
                    self._existing[side].setdefault(name.rsplit(".", 2)[0], []).append(name)
        source_key = path.name.rsplit(".", 2)[0]  # "<stem>.<path key>": one source file
        for name in self._existing[side].get(source_key, []):
            if name != path.name:  # an outdated version of the same source file
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path.parent / name)
        self._existing[side][source_key] = [path.name]


class _MemoryImages:
    def __init__(self, pairs: list[Pair]) -> None:
        self._images = [(p.lr, p.hr) for p in pairs]

    def get(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self._images[index]


class _DiskImages:
    def __init__(self, pairs: list[PairFiles], caches: list[DecodedCache]) -> None:
        self.pairs, self.caches = pairs, caches  # caches[i]: the cache of pairs[i]'s folder

    def get(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        p, cache = self.pairs[index], self.caches[index]
        return cache.get(p.lr_file, "LR", p.lr_size), cache.get(p.hr_file, "HR", p.hr_size)


# ------------------------------------------------------------------------------ sampler


def _check_schedule(schedule: Sequence[Sequence[int]]) -> tuple[tuple[int, int, int], ...]:
    rows: list[tuple[int, int, int]] = []
    for i, row in enumerate(schedule):
        try:
            start, patch, batch = (int(v) for v in row)
        except (TypeError, ValueError):
            raise ValueError(f"patch schedule row {i} {row!r}: expected (start_step, lr_patch, batch_size)") \
                from None
        where = f"patch schedule row {i} (start {start}, patch {patch}, batch {batch})"
        if i == 0 and start != 0:
            raise ValueError(f"{where}: the first row must start at step 0")
        if rows and start <= rows[-1][0]:
            raise ValueError(f"{where}: start steps must increase (the row before starts at {rows[-1][0]})")
        if patch < 1 or batch < 1:
            raise ValueError(f"{where}: patch and batch must be at least 1")
        rows.append((start, patch, batch))
    if not rows:
        raise ValueError("patch schedule: no rows; give None for the constant lr_patch/batch_size")
    return tuple(rows)


def inject_noise(lr_patch: torch.Tensor, noise_patch: torch.Tensor) -> torch.Tensor:
    """``clamp(lr + (noise - mean_c(noise)), 0, 1)``, the authors' noise injection (Impressionism,
    :mod:`cir.data.impressionism`).

    ``lr_patch`` is a float tensor in ``[0, 1]``, ``[..., C, H, W]``; ``noise_patch`` a tensor of the
    same shape, float in ``[0, 1]`` or uint8 (divided by 255; their loader reads the PNG with
    ``ToTensor``). Each channel of each noise patch has its own mean over ``H x W`` removed
    (``noise - torch.mean(noise, dim=[1, 2], keepdim=True)`` in their ``noiseDataset``) before it is
    added; the sum is clamped to ``[0, 1]`` (``LQGT_dataset``). Returns a new tensor.
    """
    if lr_patch.shape != noise_patch.shape:
        raise ValueError(f"inject_noise: the noise patch {tuple(noise_patch.shape)} does not match the LR patch "
                         f"{tuple(lr_patch.shape)}")
    noise = noise_patch.to(lr_patch.dtype) if noise_patch.is_floating_point() \
        else noise_patch.to(lr_patch.dtype).div(255.0)
    noise = noise - noise.mean(dim=(-2, -1), keepdim=True)
    return (lr_patch + noise).clamp_(0.0, 1.0)


# the tag of the noise draws' random stream: default_rng([seed, step, tag]) is independent of the
# crops' default_rng([seed, step]), so adding a noise pool leaves the plan unchanged
_NOISE_STREAM = 0x6E6F6973  # "nois"


def _index_noise_pool(folder: Path, patch: int) -> list[tuple[Path, tuple[int, int]]]:
    """The images of a noise pool with their header sizes; each must hold a ``patch`` window."""
    files = [(f, image_size(f)) for f in list_images(folder)]
    for f, (h, w) in files:
        if h < patch or w < patch:
            raise DataError(f"noise pool image {f} is {h}x{w}, smaller than the LR patch {patch}x{patch}; "
                            f"collect the pool with patches of at least the largest LR patch")
    return files


class _NoiseImages:
    """The images of a noise pool: decoded in memory, or read through a :class:`DecodedCache`."""

    def __init__(self, files: list[tuple[Path, tuple[int, int]]], cache: DecodedCache | None) -> None:
        self.files, self.cache = files, cache
        self._memory = None if cache is not None else [_read_checked(f, size) for f, size in files]

    def __len__(self) -> int:
        return len(self.files)

    def get(self, index: int) -> np.ndarray:
        if self._memory is not None:
            return self._memory[index]
        f, size = self.files[index]
        return self.cache.get(f, "noise", size)


def _pad_to(image: np.ndarray, size: int) -> np.ndarray:
    """Pad ``image`` (H x W x C) at the bottom and right by reflection that repeats the edge
    pixel (OpenCV's ``BORDER_REFLECT``) to at least ``size`` x ``size``."""
    ph, pw = max(size - image.shape[0], 0), max(size - image.shape[1], 0)
    return np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="symmetric")


class PatchSampler:
    """Random aligned LR/HR patches; each batch is a pure function of ``(seed, step)``.

    The global batch of ``batch_size`` samples at a step never depends on earlier calls, so a
    resumed run sees exactly the batches it would have seen, and data-parallel ranks take
    disjoint contiguous blocks of it (rank ``r`` of ``w`` gets samples
    ``[r * b / w, (r + 1) * b / w)``; concatenating the ranks in order gives the global batch).

    Per sample: uniform random image, uniform random LR crop at ``(y, x)`` with the HR crop at
    ``(y * s, x * s)``, then (if ``augment``) random horizontal flip, vertical flip and
    transpose, which together give the 8 rotations/flips (``augment="hflip"``: the horizontal flip
    only); LR and HR get the same transform.

    ``schedule`` (progressive patch sizes, e.g. Restormer's): rows ``(start_step, lr_patch,
    batch_size)``, the first starting at step 0, start steps increasing; the row active at a step
    gives its patch and *global* batch size (:meth:`patch_at`) and ``lr_patch``/``batch_size``
    are then not used. Every image must hold the largest patch of the schedule, and every row's
    batch must divide by the data-parallel world size (checked for all rows at once, when
    ``world_size`` is given or on the first :meth:`batch` call with a world size).

    ``pad_small``: an image smaller than the patch is padded at its bottom and right by
    reflection (the edge pixel repeated, numpy's ``"symmetric"``; OpenCV's ``BORDER_REFLECT``,
    as Restormer's training data loader does for the small images of Rain13K) up to the patch
    in force; without it such an image is an error.

    ``storage``: ``"memory"`` decodes every image up front; ``"disk"`` reads images through
    :class:`DecodedCache` memory maps (decoded once, on first use, into ``cache_dir`` — default
    ``$CIR_CACHE_DIR``, else ``.cir-decoded/`` next to each pair folder); ``"auto"`` picks memory
    when the decoded size of all pairs (from the image headers) is below ``memory_limit`` bytes.

    ``noise_pool``: a folder of noise patches (:func:`cir.data.impressionism.collect_noise_pool`;
    every image in it is used), or ``None`` (default: no noise, batches exactly as without the
    argument). With a pool, each LR patch gets, after its flips, the Impressionism noise
    injection (:func:`cir.data.impressionism.inject_noise`) of an ``lr_patch x lr_patch`` window
    of a pool image: image and window position uniform at random (the noise patch is not
    flipped; the authors' loader takes a ``RandomCrop`` of a random pool image). Those draws come
    from a random stream of their own, seeded by ``(seed, step)`` and a fixed tag, for the global
    batch (:meth:`noise_plan`), so :meth:`plan` and the crops are unchanged, a resumed run gets the
    same noise and the ranks' shares still concatenate to the global batch. Every pool image must
    hold the largest LR patch. The pool's images are stored like the pairs' (memory, or the disk
    cache of the pool folder).

    ``labelled``: each pair folder is one task (Uni-Removal's mixture of haze, rain and blur
    pairs): every sample draws its folder uniformly, then an image in it (so a task's share does not
    grow with its set's size, as in multi-weather training), and the batch gets ``task``, the folder
    index of each sample (``int64 [b]``). Off (default), images are drawn uniformly over all pairs
    and batches are exactly as without the argument.
    """

    def __init__(
        self,
        pair_dirs: Sequence[str | os.PathLike],
        scale: int,
        lr_patch: int,
        batch_size: int,
        seed: int,
        augment: bool | str = True,
        schedule: Sequence[Sequence[int]] | None = None,
        *,
        pad_small: bool = False,
        storage: str = "auto",
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        cache_dir: str | os.PathLike | None = None,
        world_size: int | None = None,
        noise_pool: str | os.PathLike | None = None,
        labelled: bool = False,
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
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {', '.join(STORAGES)}; got {storage!r}")
        if augment not in (True, False, "hflip"):
            raise ValueError(f"augment must be true, false or 'hflip'; got {augment!r}")
        self.schedule = (_check_schedule(schedule) if schedule is not None
                         else ((0, int(lr_patch), int(batch_size)),))
        self._scheduled = schedule is not None
        self._starts = [row[0] for row in self.schedule]
        self._worlds_checked: set[int] = set()
        # the settings at step 0 (the constant ones without a schedule)
        _, self.lr_patch, self.batch_size = self.schedule[0]
        self.scale, self.seed, self.augment, self.pad_small = scale, seed, augment, bool(pad_small)

        per_dir = [index_pairs(d, scale) for d in pair_dirs]
        self.pairs: list[PairFiles] = [p for ps in per_dir for p in ps]
        # labelled: each folder is a task (Uni-Removal's mixture of haze, rain and blur pairs); a
        # batch carries the task index of each sample and draws the folder first, uniformly
        self.labelled = bool(labelled)
        self._dir_of = np.concatenate([np.full(len(ps), k, dtype=np.int64) for k, ps in enumerate(per_dir)])
        self._dir_start = np.cumsum([0] + [len(ps) for ps in per_dir])[:-1]
        self._dir_count = np.array([len(ps) for ps in per_dir])
        if self.labelled and (self._dir_count == 0).any():
            empty = [str(d) for d, n in zip(pair_dirs, self._dir_count) if n == 0]
            raise DataError(f"labelled sampler: pair folder(s) {empty} hold no pairs")
        self.decoded_bytes = sum(p.decoded_bytes for p in self.pairs)
        largest = max(self.schedule, key=lambda row: row[1])
        self.noise_pool = None if noise_pool is None else Path(noise_pool)
        noise_files = [] if self.noise_pool is None else _index_noise_pool(self.noise_pool, largest[1])
        noise_bytes = sum(3 * h * w for _, (h, w) in noise_files)
        if storage == "auto":
            storage = "memory" if self.decoded_bytes + noise_bytes < memory_limit else "disk"
        self.storage = storage
        for p in [] if pad_small else self.pairs:
            if p.lr_size[0] < largest[1] or p.lr_size[1] < largest[1]:
                which = f" (the largest of the patch schedule, from step {largest[0]})" if self._scheduled \
                    else ""
                raise DataError(
                    f"LR image {p.source} is {p.lr_size[0]}x{p.lr_size[1]}, "
                    f"smaller than the LR patch {largest[1]}x{largest[1]}{which} (the train setting pad_small pads such "
                    f"images by reflection, as Restormer's training code does)"
                )
        self._lr_h = np.array([p.lr_size[0] for p in self.pairs])
        self._lr_w = np.array([p.lr_size[1] for p in self.pairs])
        if storage == "memory":
            loaded = [p for d in pair_dirs for p in load_pairs(d, scale)]
            if [p.name for p in loaded] != [p.name for p in self.pairs]:
                raise DataError(f"the pair folders {', '.join(map(str, pair_dirs))} changed while being read")
            self._images: _MemoryImages | _DiskImages = _MemoryImages(loaded)
            self.caches: list[DecodedCache] = []
        else:
            self.caches = [DecodedCache(cache_folder(d, cache_dir)) for d in pair_dirs]
            owners = [self.caches[k] for k, ps in enumerate(per_dir) for _ in ps]
            self._images = _DiskImages(self.pairs, owners)
        self._noise: _NoiseImages | None = None
        if self.noise_pool is not None:
            cache = None if storage == "memory" else DecodedCache(cache_folder(self.noise_pool, cache_dir))
            self._noise = _NoiseImages(noise_files, cache)
            self._noise_h = np.array([h for _, (h, _w) in noise_files])
            self._noise_w = np.array([w for _, (_h, w) in noise_files])
        if world_size is not None:
            self.check_world_size(world_size)

    def __len__(self) -> int:
        return len(self.pairs)

    def patch_at(self, step: int) -> tuple[int, int]:
        """``(lr_patch, global batch_size)`` at ``step``."""
        if step < 0:
            raise ValueError(f"step must be non-negative; got {step}")
        _, patch, batch = self.schedule[bisect.bisect_right(self._starts, step) - 1]
        return patch, batch

    def check_world_size(self, world_size: int) -> None:
        """Raise ValueError unless every batch size of the schedule divides by ``world_size``."""
        if world_size in self._worlds_checked:
            return
        if world_size < 1:
            raise ValueError(f"world_size must be at least 1; got {world_size}")
        for i, (start, patch, batch) in enumerate(self.schedule):
            if batch % world_size:
                if not self._scheduled:
                    raise ValueError(f"batch_size {batch} is not divisible by world_size {world_size}")
                raise ValueError(f"patch schedule row {i} (start {start}, patch {patch}, batch {batch}): "
                                 f"batch {batch} is not divisible by world_size {world_size}")
        self._worlds_checked.add(world_size)

    def images(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The LR and HR image of pair ``index`` (uint8 ``H x W x 3``; read-only memory maps on disk)."""
        return self._images.get(index)

    def fill_cache(self, rank: int = 0, world_size: int = 1) -> int:
        """Decode into the disk cache every image of this rank's share (pairs ``rank::world_size``)
        not cached yet; returns how many were written. Nothing to do with memory storage."""
        if self.storage != "disk":
            return 0
        noise_cache = self._noise.cache if self._noise is not None else None
        caches = self.caches + ([noise_cache] if noise_cache is not None else [])
        before = sum(c.writes for c in caches)
        for i in range(rank, len(self.pairs), world_size):
            self._images.get(i)
        if self._noise is not None:
            for i in range(rank, len(self._noise), world_size):
                self._noise.get(i)
        return sum(c.writes for c in caches) - before

    def plan(self, step: int) -> np.ndarray:
        """The global batch at ``step`` as rows ``(image, y, x, hflip, vflip, transpose)``; a
        labelled sampler draws each sample's folder (task) uniformly, then an image in it."""
        p, b = self.patch_at(step)
        rng = np.random.default_rng([int(self.seed), int(step)])
        if self.labelled:
            folder = rng.integers(0, len(self._dir_count), size=b)
            image = self._dir_start[folder] + rng.integers(0, self._dir_count[folder])
        else:
            image = rng.integers(0, len(self.pairs), size=b)
        y = rng.integers(0, np.maximum(self._lr_h[image] - p, 0) + 1)
        x = rng.integers(0, np.maximum(self._lr_w[image] - p, 0) + 1)
        flips = rng.integers(0, 2, size=(b, 3))
        if not self.augment:
            flips[:] = 0
        elif self.augment == "hflip":  # horizontal flips only (DehazeFormer's RESIDE-6K loader)
            flips[:, 1:] = 0
        return np.column_stack([image, y, x, flips])

    def noise_plan(self, step: int) -> np.ndarray:
        """The noise of the global batch at ``step`` as rows ``(pool image, y, x)`` (the window
        ``[y : y + p, x : x + p]`` of that pool image, ``p`` = the LR patch at ``step``); raises
        ValueError without a noise pool."""
        if self._noise is None:
            raise ValueError("this sampler has no noise pool")
        p, b = self.patch_at(step)
        rng = np.random.default_rng([int(self.seed), int(step), _NOISE_STREAM])
        image = rng.integers(0, len(self._noise), size=b)
        y = rng.integers(0, self._noise_h[image] - p + 1)
        x = rng.integers(0, self._noise_w[image] - p + 1)
        return np.column_stack([image, y, x])

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        """This rank's share of the global batch: ``lq`` ``[b, 3, p, p]`` and ``gt``
        ``[b, 3, p*s, p*s]``, float32 in ``[0, 1]``, with ``p, b`` = :meth:`patch_at` ``(step)``
        and ``b`` divided by ``world_size``."""
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"invalid rank {rank} for world_size {world_size}")
        self.check_world_size(world_size)
        p, batch_size = self.patch_at(step)
        s = self.scale
        per_rank = batch_size // world_size
        rows = self.plan(step)[rank * per_rank : (rank + 1) * per_rank]
        lq = np.empty((per_rank, 3, p, p), dtype=np.uint8)
        gt = np.empty((per_rank, 3, p * s, p * s), dtype=np.uint8)
        for i, (image, y, x, hflip, vflip, transpose) in enumerate(rows):
            lr_img, hr_img = self._images.get(int(image))
            if lr_img.shape[0] < p or lr_img.shape[1] < p:  # only with pad_small (checked at init)
                lr_img, hr_img = _pad_to(lr_img, p), _pad_to(hr_img, p * s)
            lr = lr_img[y : y + p, x : x + p]
            hr = hr_img[y * s : (y + p) * s, x * s : (x + p) * s]
            if hflip:
                lr, hr = lr[:, ::-1], hr[:, ::-1]
            if vflip:
                lr, hr = lr[::-1], hr[::-1]
            if transpose:
                lr, hr = lr.transpose(1, 0, 2), hr.transpose(1, 0, 2)
            lq[i] = lr.transpose(2, 0, 1)
            gt[i] = hr.transpose(2, 0, 1)
        out = {
            "lq": torch.from_numpy(lq).to(torch.float32).div_(255.0),
            "gt": torch.from_numpy(gt).to(torch.float32).div_(255.0),
        }
        if self.labelled:   # the task (pair folder index) of each sample
            out["task"] = torch.from_numpy(self._dir_of[rows[:, 0].astype(np.int64)].copy())
        if self._noise is not None:
            noise = np.empty((per_rank, 3, p, p), dtype=np.uint8)
            for i, (image, y, x) in enumerate(self.noise_plan(step)[rank * per_rank : (rank + 1) * per_rank]):
                noise[i] = self._noise.get(int(image))[y : y + p, x : x + p].transpose(2, 0, 1)
            out["lq"] = inject_noise(out["lq"], torch.from_numpy(noise).to(torch.float32).div_(255.0))
        return out

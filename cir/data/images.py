"""Image files on disk and uint8 <-> float tensor conversion.

Conventions used throughout ``cir.data``:

* images in memory are ``uint8`` numpy arrays of shape ``H x W x 3`` in RGB order;
* network inputs are ``float32`` tensors ``C x H x W`` (or ``N x C x H x W``) in ``[0, 1]``;
* converting back to ``uint8`` clamps to ``[0, 1]``, multiplies by 255 and rounds half away
  from zero, as MATLAB's ``im2uint8`` does (the usual convention of SR evaluation code).

Pixels are read as stored: EXIF orientation tags are not applied, 16-bit images are reduced
to 8 bits by ``round(v / 257)``, gray images are replicated to three channels and an alpha
channel is dropped.

A file that cannot be read or decoded (missing, not an image, truncated, an unsupported pixel type
or layout) raises :class:`ImageReadError`, and a folder without images :class:`ImageFolderError`;
both are :class:`~cir.errors.CirError` subclasses whose one-line message names the file. What the
decoders (libpng, libjpeg, OpenCV) print about a file goes into that message instead of stderr.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch

from cir.errors import CirError
from cir.utils.io import atomic_path

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# decoder messages that mean the pixels are incomplete although a picture came back
_TRUNCATION_WARNINGS = ("Premature end of JPEG file",)
# OpenCV's log prefix, e.g. "[ WARN:0@0.03] global grfmt_png.cpp:793 readFromStreamOrBuffer "
_OPENCV_LOG_PREFIX = re.compile(r"^\[\s*[A-Z]+:[^\]]*\]\s*(global\s+\S+\s+\S+\s+)?")


class ImageReadError(CirError, OSError):
    """An image file is missing, unreadable or cannot be decoded."""


class ImageFolderError(CirError, FileNotFoundError):
    """A folder of images that does not exist or holds no image files."""


@contextlib.contextmanager
def _decoder_messages() -> Iterator[list[str]]:
    """Collect what native decoders write to file descriptor 2 while the block runs.

    libpng, libjpeg and OpenCV's log print straight to the process's stderr; the lines are
    returned (in the yielded list, filled on exit) so that a failure can carry them in one
    error message. Where descriptor 2 cannot be redirected the list stays empty.
    """
    lines: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield lines
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            lines.extend(line.strip() for line in text.splitlines() if line.strip())


def _decoder_detail(lines: list[str]) -> str:
    """The decoder lines as one clause, without OpenCV's log prefixes."""
    return "; ".join(_OPENCV_LOG_PREFIX.sub("", line) for line in lines)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as a ``uint8`` RGB array of shape ``H x W x 3``.

    Raises :class:`ImageReadError` naming ``path`` if the file is missing, unreadable, not an
    image, truncated, or of a pixel type or layout this project does not use.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"image file not found: {path}")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"cannot read image file {path}: {exc}") from exc
    if not data.size:
        raise ImageReadError(f"not a decodable image file: {path} (the file is empty)")
    with _decoder_messages() as lines:
        try:
            img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        except cv2.error as exc:
            img, lines_of_exc = None, [str(exc).strip()]
        else:
            lines_of_exc = []
    lines = lines + lines_of_exc
    truncated = any(w in line for line in lines for w in _TRUNCATION_WARNINGS)
    if img is None or truncated:
        detail = _decoder_detail(lines)
        what = "truncated image file" if truncated else \
            "not a decodable image file (not an image, or truncated or corrupt)"
        raise ImageReadError(f"{what}: {path}" + (f"; the decoder said: {detail}" if detail else ""))
    if lines:  # harmless decoder warnings (e.g. an sRGB profile note): pass them on as before
        print("\n".join(lines), file=sys.stderr)
    return _to_rgb_uint8(img, path)


def _to_rgb_uint8(img: np.ndarray, path: Path) -> np.ndarray:
    if img.dtype == np.uint16:
        img = np.floor(img.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageReadError(f"unsupported pixel type {img.dtype} in image file {path} "
                             "(8- or 16-bit unsigned integer pixels are read)")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ImageReadError(f"unsupported image layout {img.shape} in image file {path} "
                             "(gray, RGB or RGBA are read)")
    channels = img.shape[2]
    if channels == 1:
        return np.ascontiguousarray(np.repeat(img, 3, axis=2))
    code = cv2.COLOR_BGR2RGB if channels == 3 else cv2.COLOR_BGRA2RGB
    return cv2.cvtColor(img, code)


def write_image(path: str | os.PathLike, img: np.ndarray) -> None:
    """Write a ``uint8`` RGB (``H x W x 3``) or gray (``H x W``) array as a PNG file, atomically."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"write_image writes PNG files only; got file name {path}")
    if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ValueError(
            f"write_image expects a uint8 HxWx3 or HxW array for {path}; got {img.dtype} {img.shape}"
        )
    bgr = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", bgr)
    if not ok:
        raise OSError(f"PNG encoding failed for {path}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(encoded.tobytes())
        os.chmod(tmp, 0o666 & ~_umask())


def list_images(directory: str | os.PathLike) -> list[Path]:
    """Image files (png/jpg/jpeg/bmp/tif) directly inside ``directory``, sorted by name.

    Hidden files (names starting with a dot, e.g. unfinished temporary files) are skipped.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ImageFolderError(f"image directory not found: {directory}")
    files = sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise ImageFolderError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in directory: {directory}")
    return files


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """``uint8`` ``H x W x C`` (or ``H x W``) array -> ``float32`` ``C x H x W`` tensor in ``[0, 1]``."""
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f"to_tensor expects a uint8 HxWxC or HxW array; got {img.dtype} {img.shape}")
    if img.ndim == 2:
        img = img[:, :, None]
    chw = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    return chw.to(torch.float32).div_(255.0)


def to_uint8(t: torch.Tensor) -> np.ndarray:
    """``C x H x W`` or ``N x C x H x W`` float tensor in ``[0, 1]`` -> ``uint8`` ``H x W x C``
    (``N x H x W x C``) array, clamping and rounding half away from zero like MATLAB."""
    if t.ndim not in (3, 4):
        raise ValueError(f"to_uint8 expects a CxHxW or NxCxHxW tensor; got shape {tuple(t.shape)}")
    q = torch.floor(t.detach().to(torch.float64).clamp(0.0, 1.0) * 255.0 + 0.5)
    q = q.movedim(-3, -1).to(torch.uint8).cpu()
    return np.ascontiguousarray(q.numpy())


def _umask() -> int:
    """The process umask (temporary files are created private; outputs get normal modes)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory next to ``path``; on success it replaces ``path``.

    On an exception the temporary directory is deleted and ``path`` is left as it was, so a
    reader never sees a half-written output directory.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old: Path | None = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        os.replace(path, old / path.name)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

"""Checkpoints (full training state, for resume) and model files (weights + spec + meta).

Both are written through a temporary file that is renamed into place, so a failed or killed
write never replaces a good file with half of a new one. A file that cannot be read or written
ends in :class:`CheckpointError`, whose message names the file and says what to do.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import torch

from cir.errors import CirError
from cir.utils.io import atomic_path

# Fragments of torch's messages when the output stream of torch.save fails part-way (a full disk,
# a file size limit): the C++ writer reports the stream state, not the errno.
_STREAM_FAILURES = ("iostream error", "basic_ios", "unexpected pos", "file write failed",
                    "PytorchStreamWriter failed")

_ERRNO_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (a file size limit was reached)",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "input/output error",
}


class CheckpointError(CirError):
    """A checkpoint or model file that cannot be read or written; the message names the file."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _first_sentence(exc: BaseException) -> str:
    """The first line of ``exc``'s message, cut after its first sentence (torch appends advice)."""
    return _first_line(exc).split(". ")[0]


def write_failure_reason(exc: BaseException) -> str:
    """Why writing a file failed, in words: ``"no space left on device"`` for ENOSPC and for a
    failed torch output stream (which carries no errno), else the system's or torch's message."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return _ERRNO_REASONS.get(exc.errno) or os.strerror(exc.errno)
    text = _first_line(exc)
    if any(marker in text for marker in _STREAM_FAILURES):
        return f"no space left on device, or another write failure of the output stream (torch: {text})"
    return text


def save(path: str | Path, obj: dict[str, Any]) -> None:
    """torch.save to a temporary name, then rename: a killed job never leaves half a file.

    A failed write (a full disk, a quota, a file size limit) raises :class:`CheckpointError`
    naming ``path`` and the reason; the temporary file is removed and an existing ``path`` is
    left as it was.
    """
    path = Path(path)
    existed = path.exists()
    try:
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
    except (OSError, RuntimeError) as exc:
        kept = f"the previous {path.name} is unchanged" if existed else "no file was written"
        raise CheckpointError(f"cannot write {path}: {write_failure_reason(exc)}; {kept}") from exc


def load(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint or model file written by :func:`save` (to the CPU).

    A missing, truncated or otherwise unreadable file raises :class:`CheckpointError` naming the
    file and what to do about it.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    size = path.stat().st_size
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except PermissionError as exc:
        raise CheckpointError(f"cannot read {path}: permission denied") from exc
    except MemoryError:
        raise
    except Exception as exc:  # torch/pickle/zip report damage with many exception types
        state = "empty" if size == 0 else f"truncated or corrupt ({size} bytes)"
        raise CheckpointError(
            f"{path} is {state} and cannot be loaded ({type(exc).__name__}: {_first_sentence(exc)}); "
            "delete it to restart training from step 0, or restore it from a copy") from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a checkpoint dict; delete it to "
                              "restart training from step 0, or restore it from a copy")
    return obj


def model_file(spec: dict, model_state: dict, ema_state: dict | None, meta: dict) -> dict:
    """The layout of a model file read by :func:`cir.models.load_model_file`."""
    return {"model_spec": spec, "model": model_state, "ema": ema_state, "meta": meta}

"""Copy prepared pair folders to node-local scratch before training (cluster jobs).

Data sets are prepared once by the data rules on the shared file system and read by every job.
A training job can first copy the pair folders it reads (``LR/``, ``HR/``, ``manifest.json``) to
a fast local disk (``$SLURM_TMPDIR``, ``/tmp``, ...) and train from there. Where to stage is,
first found: ``train.py --stage-dir``, the environment variable ``CIR_STAGE_DIR``, the
``stage_dir`` key of config.yaml. A value may name environment variables
(``$SLURM_TMPDIR/cir``); when one of them is unset (e.g. outside a SLURM job) staging is off.

A folder is copied under a temporary name and renamed into place once every file is there and
checked (file count, sizes, the manifest's bytes), so a reader never sees half a copy. A stamp
file records the source's listing (relative path, size, modification time of every file); a
later job that finds a staged copy whose stamp matches the source as it is now reuses it
instead of copying again (the same quick check as rsync's: contents are not re-read). Two
jobs staging the same folder at once each copy to their own temporary name; the first rename
wins and the other job uses the winner's copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from cir.errors import CirError

ENV_VAR = "CIR_STAGE_DIR"
STAMP = ".cir-staged.json"
PARTS = ("LR", "HR", "manifest.json")


class StagingError(CirError):
    """A pair folder could not be staged."""


def stage_root(cli_value: str | None = None, config_value: str | None = None) -> Path | None:
    """The staging directory chosen by the CLI, ``$CIR_STAGE_DIR`` or config.yaml's ``stage_dir``
    (in that order), with environment variables expanded; None when staging is off."""
    for origin, value in (("--stage-dir", cli_value), (f"${ENV_VAR}", os.environ.get(ENV_VAR)),
                          ("config.yaml stage_dir", config_value)):
        if not value:
            continue
        expanded = os.path.expandvars(os.path.expanduser(str(value)))
        if "$" in expanded:
            print(f"[cir] staging off: {origin} = {value!r} names an unset environment variable",
                  file=sys.stderr)
            return None
        return Path(expanded)
    return None


def _listing(src: Path) -> list[list]:
    """``[relative path, size, mtime_ns]`` of every file of the pair folder, sorted."""
    missing = [p for p in PARTS if not (src / p).exists()]
    if missing:
        raise StagingError(f"{src} is not a prepared pair folder: {', '.join(missing)} missing "
                           "(rule prepare_sr writes LR/, HR/ and manifest.json)")
    rows = []
    for part in PARTS:
        path = src / part
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for f in files:
            st = f.stat()
            rows.append([f.relative_to(src).as_posix(), st.st_size, st.st_mtime_ns])
    return rows


def _stamp(src: Path) -> dict:
    return {"source": str(src), "files": _listing(src),
            "manifest_sha256": hashlib.sha256((src / "manifest.json").read_bytes()).hexdigest()}


def _matches(dest: Path, stamp: dict) -> bool:
    """True if ``dest`` is a complete staged copy described by ``stamp``."""
    try:
        if json.loads((dest / STAMP).read_text()) != stamp:
            return False
        return all((dest / rel).stat().st_size == size for rel, size, _ in stamp["files"])
    except (OSError, json.JSONDecodeError):
        return False


def _verify(copy: Path, stamp: dict, src: Path) -> None:
    copied = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file())
    expected = sorted(rel for rel, _, _ in stamp["files"])
    if copied != expected:
        raise StagingError(f"staging {src} to {copy}: {len(copied)} files copied, {len(expected)} expected")
    for rel, size, _ in stamp["files"]:
        got = (copy / rel).stat().st_size
        if got != size:
            raise StagingError(f"staging {src}: {copy / rel} has {got} bytes, the source {size}")
    digest = hashlib.sha256((copy / "manifest.json").read_bytes()).hexdigest()
    if digest != stamp["manifest_sha256"]:
        raise StagingError(f"staging {src}: the copied manifest.json differs from the source's")


def staged_name(src: Path) -> str:
    """``<data set>_<scale folder>-<digest of the absolute source path>``."""
    key = hashlib.sha256(str(src).encode()).hexdigest()[:12]
    return f"{src.parent.name}_{src.name}-{key}"


def stage_pair_dir(src: str | os.PathLike, root: str | os.PathLike) -> Path:
    """A copy of the pair folder ``src`` under ``root`` (made now, or reused if identical)."""
    src = Path(src).resolve()
    root = Path(root)
    stamp = _stamp(src)
    dest = root / staged_name(src)
    if _matches(dest, stamp):
        print(f"[cir] staged copy of {src} is up to date: {dest}", file=sys.stderr)
        return dest
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StagingError(f"cannot create the staging directory {root}: {exc.strerror}") from exc
    need = sum(size for _, size, _ in stamp["files"])
    free = shutil.disk_usage(root).free
    if need > free:
        raise StagingError(f"staging {src} needs {need / 2**20:.1f} MiB but {root} has "
                           f"{free / 2**20:.1f} MiB free")
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=root))
    try:
        for rel, _, _ in stamp["files"]:
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, target)
        _verify(tmp, stamp, src)
        (tmp / STAMP).write_text(json.dumps(stamp))
        _publish(tmp, dest, stamp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already if it was renamed into place
    print(f"[cir] staged {src} ({len(stamp['files'])} files, {need / 2**20:.1f} MiB) to {dest}",
          file=sys.stderr)
    return dest


def _publish(tmp: Path, dest: Path, stamp: dict) -> None:
    """Rename ``tmp`` to ``dest``; an outdated ``dest`` is moved aside first. If another job
    published the same copy in the meantime, keep theirs."""
    if _matches(dest, stamp):
        return
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
        with contextlib.suppress(FileNotFoundError):
            os.replace(dest, old / dest.name)
    try:
        os.rename(tmp, dest)
    except OSError as exc:
        if not _matches(dest, stamp):
            raise StagingError(f"cannot rename {tmp} to {dest}: {exc.strerror}") from exc
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

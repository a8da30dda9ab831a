"""Download, verify and unpack the registry's data sets and weight files.

* :func:`fetch` downloads one file from a list of mirrors, with retries, HTTP
  Range resume of ``<dest>.part``, checksum verification and an atomic rename.
* :func:`extract_images` writes the HR images of a data set archive into a flat
  folder, refusing unsafe member paths and checking the image count.
* :func:`ensure_dataset` / :func:`ensure_asset` tie both to the registry and a
  local cache folder; a file already in the cache is used without network.

Every error raised here is a :class:`~cir.errors.CirError` (a workflow step ends with its
message and exit code 2): :class:`DownloadError`, :class:`ChecksumError`,
:class:`ExtractionError` and :class:`MissingFileError`, the form of :class:`MissingDataError`
this module raises.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import fnmatch
import gzip
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import IO

import requests

from cir.data.registry import AssetEntry, DatasetEntry, Source, get_asset, get_dataset
from cir.errors import CirError
from cir.utils.io import atomic_path

CHUNK = 1 << 20
NET_CHUNK = 1 << 16  # small, so that little is lost when a connection breaks mid-transfer
_ARCHIVE_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


class DownloadError(CirError, RuntimeError):
    """A file could not be downloaded from any mirror."""


class ChecksumError(DownloadError):
    """A file's hash differs from the expected one."""

    def __init__(self, path: Path, algo: str, expected: str, actual: str, detail: str = ""):
        self.path, self.algo, self.expected, self.actual = Path(path), algo, expected, actual
        msg = f"{algo} mismatch for {path}: expected {expected}, got {actual}"
        super().__init__(msg + (f"; {detail}" if detail else ""))


class MissingDataError(RuntimeError):
    """A required file is neither cached nor downloadable; the message says how to provide it.

    Catch this class. It is not itself a :class:`~cir.errors.CirError` so that other errors can
    derive from both (``class X(CirError, MissingDataError)``, as
    :class:`cir.encoders.vqgan.MissingEncoderWeightsError` does); what is raised is always such a
    subclass, here :class:`MissingFileError`.
    """


class MissingFileError(CirError, MissingDataError):
    """The :class:`MissingDataError` of this module: a registry file that is neither cached nor
    downloadable."""


class ExtractionError(CirError, RuntimeError):
    """An archive does not hold what the registry says, or holds unsafe member paths."""


class _Transient(Exception):
    """An attempt failed in a way worth retrying."""


class _Restart(_Transient):
    """The partial file did not fit the remote file and was deleted; retry at once from zero."""


# --- hashing and progress ----------------------------------------------------------

def file_hash(path: str | os.PathLike, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


class _Progress:
    """A single self-overwriting ``name: bytes (percent)`` line on stderr."""

    def __init__(self, name: str, total: int | None, enabled: bool):
        self.name, self.total, self.enabled = name, total, enabled
        self.last = 0.0

    def update(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < 0.5):
            return
        self.last = now
        mib = done / 2**20
        if self.total:
            line = f"{self.name}: {mib:.1f}/{self.total / 2**20:.1f} MiB ({100 * done / self.total:.1f}%)"
        else:
            line = f"{self.name}: {mib:.1f} MiB"
        sys.stderr.write("\r" + line + ("\n" if final else ""))
        sys.stderr.flush()


def _warn(msg: str) -> None:
    sys.stderr.write(f"warning: {msg}\n")


# --- fetch -------------------------------------------------------------------------

def _content_range(value: str | None) -> tuple[str, str]:
    """``(range, total)`` of a ``Content-Range: bytes a-b/total`` (or ``bytes */total``) header."""
    unit, _, rest = (value or "").partition(" ")
    rng, _, total = rest.partition("/")
    return (rng, total) if unit == "bytes" else ("", "")


def _attempt(url: str, part: Path, timeout: float, progress: bool) -> bool:
    """One GET of ``url`` into ``part``, resuming it if it exists; True if it resumed.

    Raises _Transient for failures worth retrying and DownloadError for the others.
    """
    have = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = requests.get(url, headers=headers, stream=True, timeout=timeout)
    except requests.RequestException as exc:
        raise _Transient(f"{type(exc).__name__}: {exc}") from exc
    with resp:
        content_range = resp.headers.get("Content-Range")
        if resp.status_code == 416 and have:
            if _content_range(content_range)[1] == str(have):
                return True  # the partial file is already complete
            part.unlink()
            raise _Restart(f"server refused the resume range (416, {content_range!r}); restarting from zero")
        if resp.status_code >= 500 or resp.status_code in (408, 429):
            raise _Transient(f"HTTP {resp.status_code}")
        if resp.status_code not in (200, 206):
            raise DownloadError(f"HTTP {resp.status_code}")
        if resp.status_code == 206 and not _content_range(content_range)[0].startswith(f"{have}-"):
            part.unlink(missing_ok=True)
            raise (_Restart if have else _Transient)(f"unexpected Content-Range {content_range!r}")
        if resp.status_code == 200:
            have = 0  # full body: restart the partial file cleanly
        length = resp.headers.get("Content-Length")
        expected_end = have + int(length) if length is not None else None
        bar = _Progress(part.name.removesuffix(".part"), expected_end, progress)
        done = have
        try:
            with open(part, "ab" if have else "wb") as out:
                for block in resp.iter_content(NET_CHUNK):
                    out.write(block)
                    done += len(block)
                    bar.update(done)
        except requests.RequestException as exc:
            bar.update(done, final=True)
            raise _Transient(f"connection broken after {done} bytes: {exc}") from exc
        bar.update(done, final=True)
        if expected_end is not None and done < expected_end:
            raise _Transient(f"response ended after {done} of {expected_end} bytes")
        return have > 0


def fetch(
    urls: Sequence[str],
    dest: str | os.PathLike,
    *,
    checksum: str | None = None,
    algo: str = "sha256",
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download ``dest`` from the first mirror in ``urls`` that delivers it intact.

    Each mirror gets ``1 + retries`` attempts, waiting ``backoff * 2**k`` seconds
    between them. An interrupted transfer stays in ``<dest>.part`` and the next
    attempt (or the next call) resumes it with a Range request; a server that
    answers 200 instead of 206 restarts it. The finished file is hashed with
    ``algo``: on a mismatch it is deleted and the next mirror is tried. Without
    a ``checksum`` the computed sha256 is printed so that it can be pinned.
    ``dest`` only ever appears complete and verified.
    """
    dest = Path(dest)
    if not urls:
        raise DownloadError(f"no URL to download {dest.name} from")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    failures: list[tuple[str, Exception]] = []
    for url in urls:
        attempt = 0
        while attempt <= retries:
            try:
                resumed = _attempt(url, part, timeout, progress)
            except _Restart as exc:
                failures.append((url, exc))
                continue  # the partial file is gone, so this cannot repeat
            except _Transient as exc:
                failures.append((url, exc))
                attempt += 1
                if attempt <= retries:
                    time.sleep(backoff * 2 ** (attempt - 1))
                continue
            except DownloadError as exc:
                failures.append((url, exc))
                break
            try:
                _verify(part, checksum, algo, shown_as=dest)
            except ChecksumError as exc:
                part.unlink()
                failures.append((url, ChecksumError(dest, exc.algo, exc.expected, exc.actual, f"from {url}")))
                if resumed:
                    continue  # the resumed partial file may have been stale: once more from zero
                break
            os.replace(part, dest)
            return dest
    last = dict(failures)  # the final failure of each mirror
    if all(isinstance(e, ChecksumError) for e in last.values()):
        raise next(iter(last.values()))
    lines = "\n".join(f"  {u}: {e}" for u, e in failures)
    raise DownloadError(f"could not download {dest.name} into {dest.parent}:\n{lines}")


def _verify(path: Path, checksum: str | None, algo: str, shown_as: Path | None = None) -> None:
    """Raise ChecksumError if ``path`` does not hash to ``checksum``; warn with its sha256 if no checksum."""
    shown_as = shown_as or path
    if checksum is None:
        _warn(f"no published checksum for {shown_as.name}; its sha256 is {file_hash(path, 'sha256')} "
              f"(pin it in cir/data/registry.py)")
        return
    actual = file_hash(path, algo)
    if actual != checksum.lower():
        raise ChecksumError(shown_as, algo, checksum.lower(), actual)


# --- archive members ---------------------------------------------------------------

def _member_name(name: str) -> str:
    """Normalized posix member path; ExtractionError for absolute or parent-escaping paths."""
    posix = name.replace("\\", "/")
    parts = [p for p in posix.split("/") if p not in ("", ".")]
    if posix.startswith("/") or (parts and len(parts[0]) == 2 and parts[0][1] == ":") or ".." in parts:
        raise ExtractionError(f"unsafe member path {name!r}: absolute or outside the archive root")
    return "/".join(parts)


def glob_match(path: str, pattern: str) -> bool:
    """Whole-path glob: ``*``/``?``/``[]`` within one ``/`` segment, ``**`` spans any segments."""

    def match(p: list[str], g: list[str]) -> bool:
        if not g:
            return not p
        if g[0] == "**":
            return any(match(p[i:], g[1:]) for i in range(len(p) + 1))
        return bool(p) and fnmatch.fnmatchcase(p[0], g[0]) and match(p[1:], g[1:])

    return match(path.split("/"), pattern.split("/"))


@contextlib.contextmanager
def _open_archive(archive: Path, kind: str) -> Iterator[dict[str, Callable[[], IO[bytes]]]]:
    """Yield ``{normalized name: opener}`` for the regular files of ``archive``.

    Every member name is checked first, so an archive with any unsafe path is
    refused as a whole. Symbolic and hard links in tar archives are refused too.
    """
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            members = {}
            for info in zf.infolist():
                name = _member_name(info.filename)
                if not info.is_dir():
                    members[name] = lambda info=info: zf.open(info)
            yield members
    elif kind in ("tar", "tar.gz"):
        with tarfile.open(archive, "r:gz" if kind == "tar.gz" else "r:") as tf:
            members = {}
            for info in tf.getmembers():
                name = _member_name(info.name)
                if info.issym() or info.islnk():
                    raise ExtractionError(f"{archive}: link member {info.name!r} refused")
                if info.isfile():
                    members[name] = lambda info=info: tf.extractfile(info)
            yield members
    else:
        raise ExtractionError(f"{archive}: unsupported archive type {kind!r}")


def _copy_stream(src: IO[bytes], dst: Path) -> None:
    with src, open(dst, "wb") as out:
        shutil.copyfileobj(src, out, CHUNK)


def _archive_error(archive: Path, exc: Exception) -> ExtractionError:
    return ExtractionError(f"{archive} is not a readable archive ({exc}); delete it and download again")


def extract_images(archive: str | os.PathLike, entry: DatasetEntry, out_dir: str | os.PathLike) -> Path:
    """Write the members of ``archive`` matching ``entry.member_glob`` into the flat folder ``out_dir``.

    The files keep their archive base names and bytes. The count must equal
    ``entry.image_count``. The folder is built next to ``out_dir`` and renamed
    into place, so ``out_dir`` is either the old content or complete.
    """
    archive, out_dir = Path(archive), Path(out_dir)
    try:
        with _open_archive(archive, entry.archive) as members:
            chosen = [n for n in members if glob_match(n, entry.member_glob)]  # archive order
            if len(chosen) != entry.image_count:
                tops = sorted({n.split("/")[0] for n in members})[:10]
                raise ExtractionError(
                    f"{archive}: {len(chosen)} members match {entry.member_glob!r} for {entry.name}, "
                    f"expected {entry.image_count} (top-level entries: {', '.join(tops) or 'none'})")
            basenames = [PurePosixPath(n).name for n in chosen]
            if len(set(basenames)) != len(basenames):
                dup = next(b for b in basenames if basenames.count(b) > 1)
                raise ExtractionError(f"{archive}: two members named {dup!r} match {entry.member_glob!r}")
            out_dir.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
            try:
                for name, base in zip(chosen, basenames):
                    _copy_stream(members[name](), tmp / base)
                _replace_dir(tmp, out_dir)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
    except _ARCHIVE_ERRORS as exc:
        raise _archive_error(archive, exc) from exc
    return out_dir


def _replace_dir(tmp: Path, target: Path) -> None:
    """Rename directory ``tmp`` onto ``target``, replacing an existing ``target``."""
    if not target.exists():
        os.replace(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.replace(target, old / target.name)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def extract_member(archive: str | os.PathLike, kind: str, member_glob: str, dest: str | os.PathLike) -> Path:
    """Write the single member of ``archive`` matching ``member_glob`` to ``dest`` (atomically)."""
    archive, dest = Path(archive), Path(dest)
    try:
        with _open_archive(archive, kind) as members:
            chosen = [n for n in members if glob_match(n, member_glob)]
            if len(chosen) != 1:
                raise ExtractionError(f"{archive}: expected exactly one member matching {member_glob!r}, "
                                      f"found {len(chosen)}: {chosen[:5]}")
            with atomic_path(dest) as tmp:
                _copy_stream(members[chosen[0]](), tmp)
    except _ARCHIVE_ERRORS as exc:
        raise _archive_error(archive, exc) from exc
    return dest


# --- cache + registry --------------------------------------------------------------

def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    path = path.absolute()
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def missing_message(what: str, source: Source, cached: Path, target: str | os.PathLike, reason: str) -> str:
    """Instructions for providing ``source`` by hand (used by MissingDataError)."""
    if source.checksum:
        check = f"It must have {source.hash_algo} {source.checksum}."
    else:
        check = (f"No checksum is published for it: {source.checksum_note} "
                 f"Its sha256 is printed when it is used.")
    size = f" ({source.size} bytes)" if source.size else ""
    urls = "\n".join(f"  {u}" for u in source.urls)
    return (
        f"{what} needs the file {source.filename}{size}, which is not in the cache and could not be "
        f"downloaded: {reason}.\n"
        f"Put the file at:\n  {cached.absolute()}\n"
        f"Get it from:\n{urls}\n"
        f"{check}\n"
        f"To share it through DVC once it is in place:\n"
        f"  dvc add {_shown_path(cached)}\n  dvc push\n"
        f"Then build the target with the workflow:\n  snakemake --cores 1 {target}"
    )


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``path``, so that parallel jobs download a shared archive once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_source(
    source: Source,
    cache_dir: str | os.PathLike,
    *,
    what: str,
    target: str | os.PathLike,
    offline: bool = False,
    urls: Sequence[str] | None = None,
    **fetch_kwargs,
) -> Path:
    """Path of ``source`` in ``cache_dir``: verified if already there, else downloaded.

    A cached file with a wrong checksum raises ChecksumError and is left in place
    (it may have been copied by hand). ``urls`` replaces the registry mirrors.
    """
    if urls:
        source = dataclasses.replace(source, urls=tuple(urls))
    cached = Path(cache_dir) / source.filename
    if not cached.exists() and not offline:
        with _file_lock(cached.with_name(cached.name + ".lock")):
            if not cached.exists():  # else another job fetched it meanwhile
                try:
                    return fetch(source.urls, cached, checksum=source.checksum, algo=source.hash_algo,
                                 **fetch_kwargs)
                except ChecksumError:
                    raise
                except DownloadError as exc:
                    raise MissingFileError(missing_message(what, source, cached, target, str(exc))) from exc
    if not cached.exists():
        raise MissingFileError(missing_message(what, source, cached, target, "offline mode"))
    try:
        _verify(cached, source.checksum, source.hash_algo)
    except ChecksumError as exc:
        hint = "delete or replace the cached file"
        raise ChecksumError(cached, exc.algo, exc.expected, exc.actual, hint) from None
    return cached


def _complete_folder(out_dir: Path, count: int) -> bool:
    return out_dir.is_dir() and sum(1 for p in out_dir.iterdir() if p.is_file()) == count


def ensure_dataset(
    name: str,
    out_dir: str | os.PathLike,
    cache_dir: str | os.PathLike,
    offline: bool = False,
    *,
    urls: Sequence[str] | None = None,
    **fetch_kwargs,
) -> Path:
    """Make ``out_dir`` a flat folder with the HR images of data set ``name``.

    A folder that already holds the expected number of files is kept as is.
    """
    entry = get_dataset(name)
    out_dir = Path(out_dir)
    if _complete_folder(out_dir, entry.image_count):
        return out_dir
    archive = ensure_source(entry.source, cache_dir, what=f"data set {name!r}", target=out_dir,
                            offline=offline, urls=urls, **fetch_kwargs)
    return extract_images(archive, entry, out_dir)


def ensure_asset(
    name: str,
    out_file: str | os.PathLike,
    cache_dir: str | os.PathLike,
    offline: bool = False,
    *,
    urls: Sequence[str] | None = None,
    **fetch_kwargs,
) -> Path:
    """Write the weight file of asset ``name`` to ``out_file`` (atomically)."""
    entry: AssetEntry = get_asset(name)
    out_file = Path(out_file)
    src = ensure_source(entry.source, cache_dir, what=f"asset {name!r}", target=out_file,
                        offline=offline, urls=urls, **fetch_kwargs)
    if entry.archive is None:
        if src.resolve() != out_file.resolve():
            with atomic_path(out_file) as tmp:
                shutil.copyfile(src, tmp)
        return out_file
    return extract_member(src, entry.archive, entry.member_glob, out_file)

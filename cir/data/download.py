"""Download, verify and unpack the registry's data sets and weight files.

* :func:`fetch` downloads one file from a list of mirrors, with retries, HTTP
  Range resume of ``<dest>.part``, checksum verification and an atomic rename.
* :func:`extract_images` writes the HR images of a data set archive into a flat
  folder, refusing unsafe member paths and checking the image count.
* :func:`extract_pairs` writes the degraded -> clean pairs of a paired data set (scale 1, or
  real LR -> HR photographs at the entry's scale, checked so that ``HR = LR x scale``) as ``LR/``
  and ``HR/`` folders with one file name per pair, plus ``manifest.json``.
* :func:`ensure_dataset` / :func:`ensure_paired_dataset` / :func:`ensure_asset` tie them to the
  registry and a local cache folder; a file already in the cache is used without network.

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
import io
import json
import os
import posixpath
import re
import shlex
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

from cir.data.registry import (
    AssetEntry,
    DatasetEntry,
    PairedDatasetEntry,
    Source,
    get_asset,
    get_dataset,
    get_paired_dataset,
)
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
        if resp.headers.get("Content-Type", "").lower().startswith("text/html"):
            # cloud drives answer a sign-in, quota, virus-scan or folder page with status 200
            raise DownloadError("the server sent a web page instead of the file (a sign-in, quota or "
                                "folder page?)")
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
    ``kind`` ``"auto"`` tells zip from tar (plain or compressed) by the content; ``"file"`` is
    no archive: the file itself is the only member, under its own name.
    """
    if kind == "auto":
        if zipfile.is_zipfile(archive):
            kind = "zip"
        elif tarfile.is_tarfile(archive):
            kind = "tar.*"
        else:
            raise ExtractionError(f"{archive} is neither a zip nor a tar archive; delete it and download again")
    if kind == "file":
        yield {archive.name: lambda: open(archive, "rb")}  # noqa: SIM115 (the caller closes it)
    elif kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            members = {}
            for info in zf.infolist():
                name = _member_name(info.filename)
                if not info.is_dir():
                    members[name] = lambda info=info: zf.open(info)
            yield members
    elif kind in ("tar", "tar.gz", "tar.*"):
        with tarfile.open(archive, {"tar.gz": "r:gz", "tar": "r:", "tar.*": "r:*"}[kind]) as tf:
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


def _archive_error(archive: Path | str, exc: Exception) -> ExtractionError:
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


# --- paired data sets ---------------------------------------------------------------

# The image suffixes cir.data.images.list_images reads (a test keeps the two equal; that module
# imports torch, which the download step does not need).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MANIFEST = "manifest.json"


def _eligible(name: str, image: bool) -> bool:
    """A member that a paired set's globs may match: no hidden file, no ``__MACOSX`` resource
    fork and, if ``image``, an image suffix (any case)."""
    parts = name.split("/")
    if "__MACOSX" in parts or parts[-1].startswith("."):
        return False
    return not image or posixpath.splitext(parts[-1])[1].lower() in IMAGE_SUFFIXES


@contextlib.contextmanager
def _open_archives(archives: Sequence[Path], kind: str) -> Iterator[tuple[dict, dict]]:
    """``({member: opener}, {member: archive})`` over all ``archives`` together; a member name
    present in two of them is an error."""
    with contextlib.ExitStack() as stack:
        members: dict[str, Callable[[], IO[bytes]]] = {}
        origin: dict[str, Path] = {}
        for archive in archives:
            try:
                these = stack.enter_context(_open_archive(archive, kind))
            except _ARCHIVE_ERRORS as exc:
                raise _archive_error(archive, exc) from exc
            for name, opener in these.items():
                if name in members:
                    raise ExtractionError(f"member {name!r} is in both {origin[name]} and {archive}")
                members[name], origin[name] = opener, archive
        yield members, origin


def _names(archives: Sequence[Path]) -> str:
    return ", ".join(str(a) for a in archives)


def _count_error(archives: Sequence[Path], entry: PairedDatasetEntry, what: str, found: int,
                 members: dict) -> ExtractionError:
    tops = sorted({n.split("/")[0] for n in members})[:10]
    expected = "at least one" if entry.pair_count is None else str(entry.pair_count)
    return ExtractionError(
        f"{_names(archives)}: {found} {what} for {entry.name}, expected {expected} "
        f"(top-level entries: {', '.join(tops) or 'none'})")


def _count_ok(entry: PairedDatasetEntry, found: int) -> bool:
    """``found`` pairs fit ``entry``: its registered count, or any positive number where none is known."""
    return found > 0 if entry.pair_count is None else found == entry.pair_count


def _select(members: dict, pattern: str | None, image: bool) -> list[str]:
    if not pattern:
        return []
    return sorted(n for n in members if _eligible(n, image) and glob_match(n, pattern))


def _pair_members(entry: PairedDatasetEntry, members: dict, origin: dict,
                  archives: Sequence[Path]) -> list[tuple[str, str | None]]:
    """``[(LQ member, GT member or None)]`` of ``entry``, checked against its pair count."""
    rule = entry.pairing
    if rule.kind == "list":
        return _pairs_from_list(entry, members, archives)
    lq = _select(members, entry.lq_glob, image=True)
    what = f"members match {entry.lq_glob!r}"
    if entry.lq_filter:
        lq = [m for m in lq if re.search(entry.lq_filter, m)]
        what += f" and the filter {entry.lq_filter!r}"
    if not _count_ok(entry, len(lq)):
        raise _count_error(archives, entry, what, len(lq), members)
    if entry.reference_free or rule.kind == "side_by_side":
        return [(m, None) for m in lq]
    gt = _select(members, entry.gt_glob, image=True)
    if rule.kind == "sorted":
        if len(gt) != len(lq):
            raise ExtractionError(
                f"{_names(archives)}: {entry.name} pairs by sorted position, but {len(lq)} members match "
                f"{entry.lq_glob!r} and {len(gt)} match {entry.gt_glob!r}")
        return list(zip(lq, gt))
    gt_set = set(gt)
    by_name: dict[str, list[str]] = {}
    for m in gt:
        by_name.setdefault(posixpath.basename(m), []).append(m)
    pairs = []
    for m in lq:
        if rule.kind == "regex" and rule.on == "path":
            want = re.sub(rule.pattern, rule.repl, m)
            found = [want] if want in gt_set else []
        else:
            base = posixpath.basename(m)
            want = re.sub(rule.pattern, rule.repl, base) if rule.kind == "regex" else base
            found = by_name.get(want, [])
        if not found:
            raise ExtractionError(
                f"{origin[m]}: {entry.name}: the degraded member {m!r} has no clean member {want!r} "
                f"(pairing {rule.kind}; the clean members are those matching {entry.gt_glob!r})")
        if len(found) > 1:
            raise ExtractionError(
                f"{origin[m]}: {entry.name}: the degraded member {m!r} matches several clean members "
                f"named {want!r}: {', '.join(found[:5])}")
        pairs.append((m, found[0]))
    return pairs


def _pairs_from_list(entry: PairedDatasetEntry, members: dict,
                     archives: Sequence[Path]) -> list[tuple[str, str | None]]:
    rule = entry.pairing
    lists = sorted(n for n in members if glob_match(n, rule.list_glob))
    if len(lists) != 1:
        raise ExtractionError(f"{_names(archives)}: expected exactly one list file matching {rule.list_glob!r} "
                              f"for {entry.name}, found {len(lists)}: {lists[:5]}")
    list_member = lists[0]
    with members[list_member]() as handle:
        text = handle.read().decode("utf-8")
    base = posixpath.dirname(list_member)
    pairs = []
    for lineno, line in enumerate(text.splitlines(), 1):
        cols = line.split()
        if not cols:
            continue
        where = f"{list_member} line {lineno}"
        if len(cols) <= max(rule.lq_column, rule.gt_column):
            raise ExtractionError(f"{where}: expected columns {rule.lq_column} (degraded) and "
                                  f"{rule.gt_column} (clean), got {line!r}")
        lq, gt = (_member_name(posixpath.join(base, cols[c])) for c in (rule.lq_column, rule.gt_column))
        for member, glob, side in ((lq, entry.lq_glob, "degraded"), (gt, entry.gt_glob, "clean")):
            if member not in members:
                raise ExtractionError(f"{where} names the {side} image {member!r}, which is not in "
                                      f"{_names(archives)} (pair {lq!r} -> {gt!r})")
            if not glob_match(member, glob):
                raise ExtractionError(f"{where}: the {side} image {member!r} does not match {glob!r}")
        if entry.lq_filter and not re.search(entry.lq_filter, lq):
            continue
        pairs.append((lq, gt))
    if not _count_ok(entry, len(pairs)):
        raise _count_error(archives, entry, f"pairs listed in {list_member!r}", len(pairs), members)
    return pairs


def pair_stem(entry: PairedDatasetEntry, lq_member: str) -> str:
    """The name of the pair whose degraded image is ``lq_member`` (see :class:`PairedDatasetEntry`)."""
    if not entry.stem:
        return posixpath.splitext(posixpath.basename(lq_member))[0]
    m = re.search(entry.stem, lq_member)
    if not m or not m.groups() or not all(m.groups()):
        raise ExtractionError(f"{entry.name}: the pair-name rule {entry.stem!r} does not match {lq_member!r}")
    return "-".join(m.groups())


def _suffix(member: str) -> str:
    return posixpath.splitext(member)[1].lower()


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _image_size(data: bytes, member: str, entry: PairedDatasetEntry) -> tuple[int, int]:
    """``(height, width)`` of the image file ``data`` from its header."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Exception as exc:  # any header problem: an unreadable member
        raise ExtractionError(f"{entry.name}: cannot read the image size of {member!r} ({exc})") from exc
    return int(height), int(width)


def _decode_unchanged(data: bytes, member: str, entry: PairedDatasetEntry):
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ExtractionError(f"{entry.name}: cannot decode the image {member!r}")
    return img


def _write_scaled_pair(entry: PairedDatasetEntry, members: dict, stem: str, lq: str, gt: str,
                       tmp: Path) -> dict:
    """Write one pair of a ``scale > 1`` set with ``HR == LR x scale`` exactly; its manifest fields.

    A pair that already fits is written byte for byte. One whose HR differs from ``LR x scale`` by
    at most ``entry.size_slack`` pixels per side is cropped at the bottom/right to
    ``LR = min(LR, HR // scale)`` and ``HR = LR x scale`` (both written as PNG, losslessly, pixels
    as stored); any other difference raises :class:`ExtractionError` naming both members.
    """
    s = entry.scale
    with members[lq]() as handle:
        lq_data = handle.read()
    with members[gt]() as handle:
        gt_data = handle.read()
    lr, hr = _image_size(lq_data, lq, entry), _image_size(gt_data, gt, entry)
    if hr == (lr[0] * s, lr[1] * s):
        (tmp / "LR" / f"{stem}{_suffix(lq)}").write_bytes(lq_data)
        (tmp / "HR" / f"{stem}{_suffix(gt)}").write_bytes(gt_data)
        return {"lr_size": list(lr), "hr_size": list(hr)}
    off = max(abs(hr[0] - lr[0] * s), abs(hr[1] - lr[1] * s))
    keep = (min(lr[0], hr[0] // s), min(lr[1], hr[1] // s))
    if off > entry.size_slack or min(keep) < 1:
        raise ExtractionError(
            f"{entry.name}: pair {stem!r}: the clean image {gt!r} is {hr[0]}x{hr[1]} and the degraded image "
            f"{lq!r} is {lr[0]}x{lr[1]}; x{s} needs HR = LR x {s} ({lr[0] * s}x{lr[1] * s}), and this set "
            f"tolerates at most {entry.size_slack} HR pixels of difference per side (cropped away)")
    lr_img = _decode_unchanged(lq_data, lq, entry)[: keep[0], : keep[1]]
    hr_img = _decode_unchanged(gt_data, gt, entry)[: keep[0] * s, : keep[1] * s]
    (tmp / "LR" / f"{stem}.png").write_bytes(_encode_png(lr_img, f"{lq} (cropped)"))
    (tmp / "HR" / f"{stem}.png").write_bytes(_encode_png(hr_img, f"{gt} (cropped)"))
    return {"lr_size": list(keep), "hr_size": [keep[0] * s, keep[1] * s],
            "cropped_from": {"lr": list(lr), "hr": list(hr)}}


def _encode_png(bgr, where: str) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", bgr)
    if not ok:
        raise ExtractionError(f"PNG encoding failed for {where}")
    return buf.tobytes()


def _write_side_by_side(entry: PairedDatasetEntry, members: dict, lq: str, lr: Path, hr: Path) -> None:
    import cv2
    import numpy as np

    with members[lq]() as handle:
        data = np.frombuffer(handle.read(), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        raise ExtractionError(f"{entry.name}: cannot decode the image {lq!r}")
    width = img.shape[1]
    if width % 2:
        raise ExtractionError(f"{entry.name}: {lq!r} is {width} pixels wide; a side-by-side pair needs an even width")
    left, right = img[:, : width // 2], img[:, width // 2:]
    degraded, clean = (left, right) if entry.pairing.lq_half == "left" else (right, left)
    lr.write_bytes(_encode_png(degraded, f"{lq} ({entry.pairing.lq_half} half)"))
    hr.write_bytes(_encode_png(clean, f"{lq} (clean half)"))


def _load_blocks(members: dict, member: str, archive: Path):
    """The single array of the MATLAB file ``member`` (``uint8``, images x blocks x H x W x 3)."""
    import numpy as np
    import scipy.io

    with members[member]() as handle:
        data = handle.read()
    try:
        mat = scipy.io.loadmat(io.BytesIO(data))
    except NotImplementedError as exc:  # MATLAB v7.3 files are HDF5
        raise ExtractionError(f"{archive}: {member} is a MATLAB v7.3 (HDF5) file; reading it needs h5py, "
                              f"which cir does not use ({exc})") from exc
    except ValueError as exc:
        raise ExtractionError(f"{archive}: {member} is not a readable MATLAB file ({exc})") from exc
    arrays = {k: v for k, v in mat.items() if not k.startswith("__")}
    if len(arrays) != 1:
        raise ExtractionError(f"{archive}: {member} holds {len(arrays)} arrays ({', '.join(arrays)}); expected one")
    (key, arr), = arrays.items()
    if arr.dtype != np.uint8 or arr.ndim != 5 or arr.shape[-1] != 3:
        raise ExtractionError(f"{archive}: {member}[{key!r}] is {arr.dtype} {arr.shape}; expected uint8 "
                              f"(images, blocks, height, width, 3)")
    return arr


def _write_mat_blocks(entry: PairedDatasetEntry, members: dict, origin: dict, archives: Sequence[Path],
                      tmp: Path) -> list[dict]:
    import cv2

    found = {}
    for side, glob in (("degraded", entry.lq_glob), ("clean", entry.gt_glob)):
        chosen = _select(members, glob, image=False)
        if len(chosen) != 1:
            raise ExtractionError(f"{_names(archives)}: expected exactly one {side} MATLAB file matching "
                                  f"{glob!r} for {entry.name}, found {len(chosen)}: {chosen[:5]}")
        found[side] = chosen[0]
    lq, gt = (_load_blocks(members, found[s], origin[found[s]]) for s in ("degraded", "clean"))
    if lq.shape != gt.shape:
        raise ExtractionError(f"{entry.name}: {found['degraded']} holds {lq.shape} blocks but "
                              f"{found['clean']} holds {gt.shape}")
    n_img, n_blk = lq.shape[:2]
    if not _count_ok(entry, n_img * n_blk):
        raise _count_error(archives, entry, f"blocks ({n_img} x {n_blk}) in {found['degraded']!r}",
                           n_img * n_blk, members)
    pairs = []
    for i in range(n_img):
        for j in range(n_blk):
            stem = f"{i:02d}_{j:02d}"
            for arr, folder in ((lq, "LR"), (gt, "HR")):
                bgr = cv2.cvtColor(arr[i, j], cv2.COLOR_RGB2BGR)
                (tmp / folder / f"{stem}.png").write_bytes(_encode_png(bgr, f"{entry.name} block {i},{j}"))
            pairs.append({"name": stem, "lq_member": f"{found['degraded']}[{i},{j}]",
                          "gt_member": f"{found['clean']}[{i},{j}]"})
    return pairs


def extract_pairs(archives: Sequence[str | os.PathLike] | str | os.PathLike, entry: PairedDatasetEntry,
                  out_dir: str | os.PathLike) -> Path:
    """Write the pairs of ``entry`` from ``archives`` (its sources' files, in order) to ``out_dir``.

    ``out_dir/LR/<name><ext>`` is the degraded image and ``out_dir/HR/<name><ext>`` the clean one,
    with the same ``<name>`` (see :func:`pair_stem`) and the members' bytes and suffixes (lower
    case) unchanged; ``side_by_side`` and ``mat_blocks`` sets are written as PNG. Where several
    degraded images share one clean image, the clean file is written once and hard-linked (else
    copied) under each pair's name. A reference-free set gets ``LR/`` only. ``out_dir/manifest.json``
    lists every pair with the members it came from and holds the entry's ``scale`` (read by
    :func:`cir.data.paired.load_pairs`). For ``scale > 1`` every pair's sizes are checked and, within
    the entry's ``size_slack``, cropped to ``HR = LR x scale`` (see
    :class:`~cir.data.registry.PairedDatasetEntry`); such pairs also list their sizes. The folder
    is built next to ``out_dir`` and renamed into place, so ``out_dir`` is either the old content or
    complete.
    """
    if isinstance(archives, (str, os.PathLike)):
        archives = [archives]
    archives = [Path(a) for a in archives]
    out_dir = Path(out_dir)
    kind = entry.pairing.kind
    try:
        with _open_archives(archives, entry.archive) as (members, origin):
            pairs = [] if kind == "mat_blocks" else _pair_members(entry, members, origin, archives)
            stems: dict[str, str] = {}
            named = []
            for lq, gt in pairs:
                stem = pair_stem(entry, lq)
                if stem in stems:
                    raise ExtractionError(
                        f"{entry.name}: {stems[stem]!r} and {lq!r} both get the pair name {stem!r}; the entry "
                        f"needs a pair-name rule ('stem') that tells them apart")
                stems[stem] = lq
                named.append((stem, lq, gt))
            if entry.gt_count is not None and entry.gt_glob and kind != "mat_blocks":
                distinct = len({gt for _, gt in pairs})
                if distinct != entry.gt_count:
                    raise ExtractionError(f"{_names(archives)}: {entry.name} pairs use {distinct} distinct clean "
                                          f"members matching {entry.gt_glob!r}, expected {entry.gt_count}")
            out_dir.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
            try:
                (tmp / "LR").mkdir()
                if not entry.reference_free:
                    (tmp / "HR").mkdir()
                if kind == "mat_blocks":
                    listed = _write_mat_blocks(entry, members, origin, archives, tmp)
                else:
                    listed = _write_pairs(entry, members, named, tmp)
                if entry.pair_count is None:
                    _warn(f"{entry.name}: {len(listed)} pairs extracted; no verified pair count is registered "
                          f"(pin it in cir/data/registry.py once it is confirmed)")
                manifest = {
                    "scale": entry.scale,
                    "task": entry.task,
                    "dataset": entry.name,
                    "split": entry.split,
                    "synthetic": False,
                    "reference_free": entry.reference_free,
                    "pairing": kind,
                    "sources": [a.name for a in archives],
                    "pair_count": len(listed),
                    "pair_count_registered": entry.pair_count,
                    "pairs": listed,
                }
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
                _replace_dir(tmp, out_dir)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
    except _ARCHIVE_ERRORS as exc:
        raise _archive_error(_names(archives), exc) from exc
    return out_dir


def _write_pairs(entry: PairedDatasetEntry, members: dict, named: list[tuple[str, str, str | None]],
                 tmp: Path) -> list[dict]:
    """Write ``(pair name, LQ member, GT member or None)`` into ``tmp/LR`` and ``tmp/HR``."""
    listed = []
    written_gt: dict[str, Path] = {}
    side = entry.pairing.kind == "side_by_side"
    for stem, lq, gt in named:
        record = {"name": stem, "lq_member": lq}
        if entry.scale > 1 and gt is not None:
            record.update(_write_scaled_pair(entry, members, stem, lq, gt, tmp))
            record["gt_member"] = gt
            listed.append(record)
            continue
        if side:
            _write_side_by_side(entry, members, lq, tmp / "LR" / f"{stem}.png", tmp / "HR" / f"{stem}.png")
            record["gt_member"] = f"{lq} ({'right' if entry.pairing.lq_half == 'left' else 'left'} half)"
            listed.append(record)
            continue
        _copy_stream(members[lq](), tmp / "LR" / f"{stem}{_suffix(lq)}")
        if gt is not None:
            dst = tmp / "HR" / f"{stem}{_suffix(gt)}"
            if gt in written_gt:
                _link_or_copy(written_gt[gt], dst)
            else:
                _copy_stream(members[gt](), dst)
                written_gt[gt] = dst
            record["gt_member"] = gt
        listed.append(record)
    return listed


# --- cache + registry --------------------------------------------------------------

def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    path = path.absolute()
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def _check_line(source: Source) -> str:
    if source.checksum:
        return f"It must have {source.hash_algo} {source.checksum}."
    return f"No checksum is published for it: {source.checksum_note} Its sha256 is printed when it is used."


def _where_from(source: Source, indent: str = "") -> str:
    """``Get it from:`` (the URLs) and ``By hand:`` (the registry's manual instructions) lines."""
    lines = []
    if source.urls:
        lines.append(f"{indent}Get it from:")
        lines += [f"{indent}  {u}" for u in source.urls]
    else:
        lines.append(f"{indent}It has no direct download link.")
    if source.manual:
        lines.append(f"{indent}By hand: {source.manual}")
    return "\n".join(lines)


def _build_line(target: str | os.PathLike, rule: str | None) -> str:
    by = f" (rule {rule})" if rule else ""
    return f"Then build the target with the workflow{by}:\n  snakemake --cores 1 {target}"


def missing_message(what: str, source: Source, cached: Path, target: str | os.PathLike, reason: str,
                    *, rule: str | None = None) -> str:
    """Instructions for providing ``source`` by hand (used by MissingDataError)."""
    size = f" ({source.size} bytes)" if source.size else ""
    return (
        f"{what} needs the file {source.filename}{size}, which is not in the cache and could not be "
        f"downloaded: {reason}.\n"
        f"Put the file at:\n  {cached.absolute()}\n"
        f"{_where_from(source)}\n"
        f"{_check_line(source)}\n"
        f"To share it through DVC once it is in place:\n"
        f"  dvc add {shlex.quote(_shown_path(cached))}\n  dvc push\n"
        f"{_build_line(target, rule)}"
    )


def missing_files_message(what: str, missing: Sequence[tuple[Source, Path, str]], target: str | os.PathLike,
                          *, rule: str | None = None) -> str:
    """Like :func:`missing_message` for several files ``(source, cached path, reason)`` at once."""
    if len(missing) == 1:
        return missing_message(what, *missing[0][:2], target, missing[0][2], rule=rule)
    blocks = []
    for source, cached, reason in missing:
        size = f" ({source.size} bytes)" if source.size else ""
        blocks.append(f"- {source.filename}{size}: not in the cache and not downloaded: {reason}.\n"
                      f"  Put the file at:\n    {cached.absolute()}\n"
                      f"{_where_from(source, indent='  ')}\n"
                      f"  {_check_line(source)}")
    shown = " ".join(shlex.quote(_shown_path(c)) for _, c, _ in missing)  # RealSR(V3).tar.gz needs quotes
    return (
        f"{what} needs {len(missing)} files that are not in the cache:\n" + "\n".join(blocks) + "\n"
        f"To share them through DVC once they are in place:\n  dvc add {shown}\n  dvc push\n"
        f"{_build_line(target, rule)}"
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


def _obtain(source: Source, cached: Path, offline: bool, **fetch_kwargs) -> tuple[bool, str | None]:
    """Download ``source`` to ``cached`` unless it is there: ``(fetched now, reason it is missing)``.

    A download is verified by :func:`fetch`; a ChecksumError propagates.
    """
    if cached.exists():
        return False, None
    if offline:
        return False, "offline mode"
    if not source.urls:
        return False, "it has no direct download link and must be fetched by hand"
    with _file_lock(cached.with_name(cached.name + ".lock")):
        if cached.exists():  # another job fetched it meanwhile
            return False, None
        try:
            fetch(source.urls, cached, checksum=source.checksum, algo=source.hash_algo, **fetch_kwargs)
        except ChecksumError:
            raise
        except DownloadError as exc:
            return False, str(exc)
    return True, None


def _verify_cached(cached: Path, source: Source) -> None:
    try:
        _verify(cached, source.checksum, source.hash_algo)
    except ChecksumError as exc:
        hint = "delete or replace the cached file"
        raise ChecksumError(cached, exc.algo, exc.expected, exc.actual, hint) from None


def ensure_source(
    source: Source,
    cache_dir: str | os.PathLike,
    *,
    what: str,
    target: str | os.PathLike,
    offline: bool = False,
    urls: Sequence[str] | None = None,
    rule: str | None = None,
    **fetch_kwargs,
) -> Path:
    """Path of ``source`` in ``cache_dir``: verified if already there, else downloaded.

    A cached file with a wrong checksum raises ChecksumError and is left in place
    (it may have been copied by hand). ``urls`` replaces the registry mirrors.
    """
    if urls:
        source = dataclasses.replace(source, urls=tuple(urls))
    cached = Path(cache_dir) / source.filename
    fetched, reason = _obtain(source, cached, offline, **fetch_kwargs)
    if reason is not None:
        raise MissingFileError(missing_message(what, source, cached, target, reason, rule=rule))
    if not fetched:
        _verify_cached(cached, source)
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


def _complete_pairs(out_dir: Path, entry: PairedDatasetEntry) -> bool:
    """``out_dir`` holds a finished extraction of ``entry`` (its manifest and every file)."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("dataset") != entry.name:
        return False
    n = entry.pair_count if entry.pair_count is not None else manifest.get("pair_count")
    if not isinstance(n, int) or n < 1 or len(manifest.get("pairs", ())) != n or manifest.get("scale", 1) != entry.scale:
        return False
    folders = ["LR"] if entry.reference_free else ["LR", "HR"]
    return all((out_dir / f).is_dir() and sum(1 for p in (out_dir / f).iterdir() if p.is_file()) == n
               for f in folders)


PAIRS_RULE = "download_pairs"  # the Snakemake rule (rules/data.smk) that writes <data>/pairs/<name>


def ensure_paired_dataset(
    name: str,
    out_dir: str | os.PathLike,
    cache_dir: str | os.PathLike,
    offline: bool = False,
    *,
    urls: Sequence[str] | None = None,
    **fetch_kwargs,
) -> Path:
    """Make ``out_dir`` the pair folder of paired data set ``name`` (see :func:`extract_pairs`).

    Every archive of the entry is taken from ``cache_dir`` (verified) or downloaded into it; when
    any is missing and cannot be fetched, one :class:`MissingFileError` names each missing file,
    where to put it, where to get it (by hand where no program can) and the Snakemake command that
    then builds ``out_dir``. ``urls`` replaces the mirrors of a single-archive entry. A folder that
    already holds the complete extraction is kept as is.
    """
    entry = get_paired_dataset(name)
    out_dir = Path(out_dir)
    if _complete_pairs(out_dir, entry):
        return out_dir
    sources = list(entry.sources)
    if urls:
        if len(sources) != 1:
            raise CirError(f"--url replaces the mirrors of one file, but {name} needs {len(sources)} files: "
                           f"{', '.join(s.filename for s in sources)}")
        sources = [dataclasses.replace(sources[0], urls=tuple(urls))]
    what = f"paired data set {name!r} ({entry.task}, {entry.split})"
    paths, missing = [], []
    for source in sources:
        cached = Path(cache_dir) / source.filename
        fetched, reason = _obtain(source, cached, offline, **fetch_kwargs)
        if reason is not None:
            missing.append((source, cached, reason))
            continue
        if not fetched:
            _verify_cached(cached, source)
        paths.append(cached)
    if missing:
        raise MissingFileError(missing_files_message(what, missing, out_dir, rule=PAIRS_RULE))
    return extract_pairs(paths, entry, out_dir)


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
        # torch.hub-style names carry the first hex digits of the file's sha256 (EDSR, torchvision)
        from cir.eval.assets import verify_name_hash_prefix

        verify_name_hash_prefix(src)
        if src.resolve() != out_file.resolve():
            with atomic_path(out_file) as tmp:
                shutil.copyfile(src, tmp)
        return out_file
    return extract_member(src, entry.archive, entry.member_glob, out_file)

"""Weight files of the model-based metrics: where they live, how they are obtained, how they load.

pyiqa downloads these files itself the first time a metric is built; this project never lets it.
The files are registry assets of kind ``metric`` (:mod:`cir.data.registry`), fetched by the
project's downloader (retries, resume, checksums, offline messages) into the folder pyiqa and
torchvision read from, ``$TORCH_HOME/hub`` (``TORCH_HOME`` defaults to ``<repository>/.cache/torch``,
set by :func:`ensure_torch_home` before pyiqa is imported):

==============================  ==========================  =====================================
file                            folder (under the hub dir)  used by
==============================  ==========================  =====================================
LPIPS_v0.1_alex-df73285e.pth    pyiqa/                      lpips (linear heads, v0.1)
alexnet-owt-7be5be79.pth        checkpoints/                lpips (torchvision AlexNet backbone)
niqe_modelparameters.mat        pyiqa/                      niqe (LIVE pristine MVG model)
brisque_svm_weights.pth         pyiqa/                      brisque (LIVE release SVR)
brisque_matlab.mat              pyiqa/                      brisque_matlab (MATLAB ``brisque``)
==============================  ==========================  =====================================

The metrics load these files themselves (pyiqa's ``load_file_from_url`` is never reached) and
every pyiqa/torchvision call runs under :func:`no_downloads`, which turns any download attempt
into :class:`MetricUnavailableError`.

Two files are also shipped inside packages from PyPI and may be used instead (``PACKAGE_FILES``):

* the ``lpips`` 0.1.4 wheel holds ``lpips/weights/v0.1/alex.pth``, byte-identical to pyiqa's
  ``LPIPS_v0.1_alex-df73285e.pth``: its sha256 starts with the ``df73285e`` of pyiqa's file name
  (as the other five heads of that wheel match the prefixes in pyiqa's names), and that full
  sha256 is the registry checksum, so a copy passes the same verification as a download;
* the BasicSR 1.4.2 source distribution holds ``basicsr/metrics/niqe_pris_params.npz``, whose
  ``mu_pris_param``/``cov_pris_param`` arrays are bit-identical to ``mu_prisparam``/
  ``cov_prisparam`` of ``modelparameters.mat`` of the LIVE NIQE release (compared element by
  element; see tests/test_metric_assets.py for the check that runs when both files are present).
  It is stored under its own name and NIQE says which file it used.

No package ships the AlexNet backbone or either BRISQUE model, so LPIPS and BRISQUE need the
download (``snakemake --cores 1 assets``).

:mod:`cir.eval.metrics` builds the metrics from these files; this module never imports it (the
cache folder helpers :func:`project_cache_dir` and :func:`ensure_torch_home` live here and are
re-exported there).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cir.errors import CirError
from cir.utils.io import atomic_path

ASSETS_TARGET = "assets"  # the Snakemake target that fetches every metric weight file
PACKAGES_TARGET = "metric_assets_from_packages"  # the target that copies the package-shipped files

# metric name -> the registry assets it needs (all of them)
METRIC_ASSETS: dict[str, tuple[str, ...]] = {
    "lpips": ("LPIPS_v0.1_alex-df73285e.pth", "alexnet-owt-7be5be79.pth"),
    "niqe": ("niqe_modelparameters.mat",),
    "brisque": ("brisque_svm_weights.pth",),
    "brisque_matlab": ("brisque_matlab.mat",),
}

# files torchvision reads from <hub>/checkpoints; every other metric file lives in <hub>/pyiqa
_TORCHVISION_FILES = ("alexnet-owt-7be5be79.pth",)


class MetricUnavailableError(CirError):
    """A metric cannot be built because a weight file is missing; ``short`` is a table-cell reason."""

    def __init__(self, message: str, short: str):
        super().__init__(message)
        self.short = short


@dataclass(frozen=True)
class PackageFile:
    """A metric weight file shipped inside a package on PyPI."""

    filename: str  # name in the metric cache folder
    stands_for: str  # the registry asset whose numbers it carries
    dist: str  # PyPI distribution
    version: str
    sdist: bool  # True: only in the source distribution (not installed as a package file)
    member: str  # path inside the installed distribution (wheel) or inside the sdist archive
    sha256: str
    note: str


PACKAGE_FILES: dict[str, PackageFile] = {
    p.filename: p
    for p in (
        PackageFile(
            filename="LPIPS_v0.1_alex-df73285e.pth",
            stands_for="LPIPS_v0.1_alex-df73285e.pth",
            dist="lpips", version="0.1.4", sdist=False,
            member="lpips/weights/v0.1/alex.pth",
            sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
            note="byte-identical to pyiqa's file (same sha256, which is the registry checksum)",
        ),
        PackageFile(
            filename="niqe_pris_params.npz",
            stands_for="niqe_modelparameters.mat",
            dist="basicsr", version="1.4.2", sdist=True,
            member="basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz",
            sha256="2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296",
            note="mu/cov arrays bit-identical to the LIVE NIQE release's modelparameters.mat",
        ),
    )
}


# --- locations -----------------------------------------------------------------------

def project_cache_dir() -> Path:
    """The project-local cache folder (``<repository>/.cache``)."""
    return Path(__file__).resolve().parents[2] / ".cache"


def ensure_torch_home() -> Path:
    """Point ``TORCH_HOME`` at the project cache unless the environment already sets it.

    pyiqa fixes its download folder from ``TORCH_HOME`` when it is first imported, so this
    must run before ``import pyiqa``; torchvision reads it whenever it loads weights.
    """
    if not os.environ.get("TORCH_HOME"):
        os.environ["TORCH_HOME"] = str(project_cache_dir() / "torch")
    return Path(os.environ["TORCH_HOME"])


def hub_dir() -> Path:
    """``$TORCH_HOME/hub``: torchvision reads ``checkpoints/`` and pyiqa ``pyiqa/`` below it.

    ``TORCH_HOME`` defaults to ``<repository>/.cache/torch``, the value :func:`ensure_torch_home`
    sets before pyiqa is imported; reading it here does not change the environment (the
    Snakefile calls this while it is parsed).
    """
    return Path(os.environ.get("TORCH_HOME") or project_cache_dir() / "torch") / "hub"


def asset_path(filename: str) -> Path:
    """Where the metric weight file ``filename`` (a registry asset or a package file) lives."""
    sub = "checkpoints" if filename in _TORCHVISION_FILES else "pyiqa"
    return hub_dir() / sub / filename


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when below it (as Snakemake targets are written)."""
    path = path.absolute()
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def metric_asset_names() -> list[str]:
    """Every registry asset a metric needs, in a fixed order."""
    return [n for names in METRIC_ASSETS.values() for n in names]


def unavailable(metric: str, filename: str, extra: str = "") -> MetricUnavailableError:
    """The error for metric ``metric`` whose weight file ``filename`` is missing."""
    from cir.data.registry import get_asset

    where = shown_path(asset_path(filename))
    urls = get_asset(filename).source.urls if filename in METRIC_ASSETS.get(metric, ()) else ()
    source = f" (from {urls[0]})" if urls else ""
    repo = Path(__file__).resolve().parents[2]
    message = (f"metric {metric!r} is unavailable: weight file {filename} is missing; it goes to {where}; "
               f"get it with `snakemake --cores 1 {ASSETS_TARGET}` (run in {repo}){source} or copy it "
               f"there by hand{extra}")
    return MetricUnavailableError(message, f"missing {filename} (snakemake --cores 1 {ASSETS_TARGET})")


def require(metric: str, filename: str) -> Path:
    """Path of an existing weight file of ``metric``, or :class:`MetricUnavailableError`."""
    path = asset_path(filename)
    if not path.is_file():
        raise unavailable(metric, filename)
    return path


# --- no silent downloads ---------------------------------------------------------------

@contextlib.contextmanager
def no_downloads(metric: str) -> Iterator[None]:
    """Refuse every download pyiqa or torchvision would start (both go through
    ``torch.hub.download_url_to_file``, pyiqa via its own imported name)."""
    import torch.hub
    from pyiqa.utils import download_util

    def refuse(url: str, dst: str, *args: object, **kwargs: object) -> None:
        name = Path(str(dst)).name.split(".partial")[0] or url.rsplit("/", 1)[-1]
        raise MetricUnavailableError(
            f"metric {metric!r} tried to download {url} to {dst}; downloads are done by the project "
            f"(`snakemake --cores 1 {ASSETS_TARGET}`), never by pyiqa or torchvision",
            f"missing {name} (snakemake --cores 1 {ASSETS_TARGET})")

    saved = (torch.hub.download_url_to_file, download_util.download_url_to_file)
    torch.hub.download_url_to_file = refuse
    download_util.download_url_to_file = refuse
    try:
        yield
    finally:
        torch.hub.download_url_to_file, download_util.download_url_to_file = saved


# --- loaders ---------------------------------------------------------------------------

def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class NiqeParams:
    mu: np.ndarray  # (36,)
    cov: np.ndarray  # (36, 36)
    source: str  # which file the numbers came from


def load_niqe_params() -> NiqeParams:
    """The LIVE NIQE pristine model: pyiqa's ``niqe_modelparameters.mat`` if present, else BasicSR's
    ``niqe_pris_params.npz`` (same arrays), else :class:`MetricUnavailableError`."""
    official = asset_path("niqe_modelparameters.mat")
    package = asset_path("niqe_pris_params.npz")
    if official.is_file():
        import scipy.io

        try:
            mat = scipy.io.loadmat(official)
            mu, cov = np.ravel(mat["mu_prisparam"]), np.asarray(mat["cov_prisparam"])
        except (OSError, ValueError, KeyError) as exc:
            raise CirError(f"{official}: not a NIQE model file with mu_prisparam/cov_prisparam ({exc}); "
                           "delete it and fetch it again") from exc
        source = official.name
    elif package.is_file():
        try:
            with np.load(package) as npz:
                mu, cov = np.ravel(npz["mu_pris_param"]), np.asarray(npz["cov_pris_param"])
        except (OSError, ValueError, KeyError) as exc:
            raise CirError(f"{package}: not BasicSR's niqe_pris_params.npz ({exc}); delete it and copy "
                           "it again") from exc
        source = f"{package.name} (basicsr 1.4.2; same arrays as LIVE modelparameters.mat)"
    else:
        raise unavailable("niqe", "niqe_modelparameters.mat",
                          f", or take the same numbers from BasicSR with `snakemake --cores 1 {PACKAGES_TARGET}`")
    if mu.shape != (36,) or cov.shape != (36, 36):
        raise CirError(f"{source}: NIQE model has shapes {mu.shape} and {cov.shape}, expected (36,) and (36, 36)")
    return NiqeParams(mu.astype(np.float64), cov.astype(np.float64), source)


def load_brisque_svr(metric: str) -> tuple[np.ndarray, np.ndarray, str]:
    """``(sv_coef, sv, file name)`` of the BRISQUE support-vector regressor of ``metric``
    (``brisque``: LIVE release model, ``brisque_matlab``: MATLAB's default model)."""
    filename = METRIC_ASSETS[metric][0]
    path = require(metric, filename)
    try:
        if metric == "brisque":
            import torch

            sv_coef, sv = torch.load(path, map_location="cpu", weights_only=True)
            sv_coef, sv = sv_coef.numpy(), sv.numpy()
        else:
            import scipy.io

            mat = scipy.io.loadmat(path)
            sv_coef, sv = np.ravel(mat["sv_coef"]), np.asarray(mat["sv"])
    except Exception as exc:  # any reader error means the file is not what the registry describes
        raise CirError(f"{path}: cannot read the BRISQUE model ({type(exc).__name__}: {exc}); "
                       "delete it and fetch it again") from exc
    if sv.ndim != 2 or sv.shape[1] != 36 or sv_coef.shape != (sv.shape[0],):
        raise CirError(f"{path}: BRISQUE model has shapes {sv_coef.shape} and {sv.shape}, "
                       "expected (n,) and (n, 36)")
    return sv_coef.astype(np.float64), sv.astype(np.float64), filename


def lpips_files() -> tuple[Path, Path]:
    """``(linear heads, AlexNet backbone)``; the heads must carry the registry checksum."""
    heads = require("lpips", "LPIPS_v0.1_alex-df73285e.pth")
    backbone = require("lpips", "alexnet-owt-7be5be79.pth")
    expected = PACKAGE_FILES[heads.name].sha256
    if _file_sha256(heads) != expected:  # 6 kB: cheap, and pyiqa would load a wrong file silently
        raise CirError(f"{heads}: sha256 differs from {expected}; delete it and fetch it again")
    return heads, backbone


# --- files from packages ---------------------------------------------------------------

def installed_member(spec: PackageFile) -> Path | None:
    try:
        dist = importlib.metadata.distribution(spec.dist)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != spec.version:
        return None
    path = Path(str(dist.locate_file(spec.member)))
    return path if path.is_file() else None


def _pip_download(spec: PackageFile, folder: Path) -> Path:
    """``pip download`` of ``spec.dist==spec.version`` (no dependencies) into ``folder``."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "-d", str(folder), f"{spec.dist}=={spec.version}"]
    if spec.sdist:  # preparing an sdist's metadata needs its build tools, which are installed here
        cmd[4:4] = ["--no-binary", ":all:", "--no-build-isolation"]
    else:
        cmd[4:4] = ["--only-binary", ":all:"]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise CirError(f"`{' '.join(cmd[2:])}` failed (exit {proc.returncode}): {tail}")
    found = [p for p in folder.iterdir() if re.match(rf"{re.escape(spec.dist)}-{re.escape(spec.version)}[-.]",
                                                       p.name, re.IGNORECASE)]
    if len(found) != 1:
        raise CirError(f"pip download of {spec.dist}=={spec.version} left {[p.name for p in folder.iterdir()]}")
    return found[0]


def _read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    with tarfile.open(archive, "r:gz") as tf:
        handle = tf.extractfile(member)
        if handle is None:
            raise CirError(f"{archive}: member {member} is not a regular file")
        return handle.read()


def copy_package_file(filename: str, dest: str | os.PathLike | None = None) -> Path:
    """Write the package-shipped file ``filename`` (a key of ``PACKAGE_FILES``) to ``dest``
    (default: its metric cache path), from the installed distribution when it is installed at the
    pinned version, else from ``pip download``; the sha256 is verified before the file appears."""
    spec = PACKAGE_FILES[filename]
    dest = Path(dest) if dest is not None else asset_path(filename)
    installed = None if spec.sdist else installed_member(spec)
    if installed is not None:
        data, origin = installed.read_bytes(), str(installed)
    else:
        with tempfile.TemporaryDirectory(prefix="cir-pip-") as tmp:
            archive = _pip_download(spec, Path(tmp))
            try:
                data = _read_member(archive, spec.member)
            except (KeyError, OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
                raise CirError(f"{archive.name}: cannot read {spec.member}: {exc}") from exc
            origin = f"{archive.name}:{spec.member}"
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise CirError(f"{origin}: sha256 {actual} differs from the pinned {spec.sha256} of {filename}")
    with atomic_path(dest) as tmp_path:
        tmp_path.write_bytes(data)
    return dest


def verify_name_hash_prefix(path: str | os.PathLike) -> None:
    """torchvision and pyiqa name files ``<stem>-<first hex digits of the sha256>.<ext>``; raise
    :class:`CirError` if ``path`` does not hash to the prefix in its name."""
    path = Path(path)
    m = re.search(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$", path.name)
    if not m:
        return
    actual = _file_sha256(path)
    if not actual.startswith(m.group(1)):
        raise CirError(f"{path}: sha256 {actual} does not start with {m.group(1)}, the prefix in its name; "
                       "delete it and fetch it again")

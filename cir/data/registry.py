"""Where the paper data sets and pretrained weight files come from.

A :class:`Source` is one downloadable file (an archive or a checkpoint) with its
mirrors and checksum. Several entries may share one source: the EDSR benchmark
archive holds Set5, Set14, B100 and Urban100, the RCAN archive holds all RCAN
checkpoints. Mirrors of one source must serve byte-identical files.

Checksums are copied from the public places named in the comment next to each
value. Where none could be found the checksum is ``None`` and ``checksum_note``
says so; the downloader then prints the sha256 it computed so that it can be
pinned here.
"""

from __future__ import annotations

from dataclasses import dataclass

from cir.errors import UnknownNameError

ARCHIVE_TYPES = ("zip", "tar", "tar.gz")
HASH_ALGOS = {"sha256": 64, "md5": 32}


@dataclass(frozen=True)
class Source:
    """One downloadable file."""

    filename: str
    urls: tuple[str, ...]
    checksum: str | None
    hash_algo: str = "sha256"
    size: int | None = None
    checksum_note: str = ""


@dataclass(frozen=True)
class DatasetEntry:
    """A data set whose HR images are the files matching ``member_glob`` in an archive.

    ``member_glob`` is matched against the whole member path, one ``/`` segment at
    a time (``*`` never crosses a ``/``; a ``**`` segment spans any number of
    segments).
    """

    name: str
    source: Source
    archive: str
    member_glob: str
    image_count: int
    description: str = ""


@dataclass(frozen=True)
class AssetEntry:
    """A pretrained weight file: the download itself, or one member of an archive.

    ``name`` is also the file name the weight file gets (its extension tells
    weight loaders how to read it); ``backbone`` is the cir architecture name;
    ``kind`` says what the file is for: an official ``teacher`` network (with its
    upscaling ``scale``), a frozen feature ``encoder`` for losses (no scale) or the
    weights of an image-quality ``metric`` (no scale; ``backbone`` names the metric).
    """

    name: str
    source: Source
    backbone: str
    scale: int | None
    description: str = ""
    archive: str | None = None
    member_glob: str | None = None
    kind: str = "teacher"


# --- data sets -------------------------------------------------------------------

_DIV2K = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"

DIV2K_TRAIN_HR = Source(
    filename="DIV2K_train_HR.zip",
    urls=(_DIV2K + "DIV2K_train_HR.zip",),
    # sha256 and size: tensorflow/datasets, tensorflow_datasets/url_checksums/div2k.txt.
    # The md5 bdc2d9338d4e574fe81bf7d158758658 is listed by Coloquinte/torchSR
    # (torchsr/datasets/div2k.py) for the same URL.
    checksum="9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335",
    size=3530603713,
)

DIV2K_VALID_HR = Source(
    filename="DIV2K_valid_HR.zip",
    urls=(_DIV2K + "DIV2K_valid_HR.zip",),
    # sha256 and size: tensorflow/datasets, tensorflow_datasets/url_checksums/div2k.txt.
    # The md5 9fcdda83005c5e5997799b69f955ff88 is listed by Coloquinte/torchSR.
    checksum="20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc",
    size=448993893,
)

EDSR_BENCHMARK = Source(
    filename="benchmark.tar",
    urls=("https://cv.snu.ac.kr/research/EDSR/benchmark.tar",),
    # md5: Coloquinte/torchSR, torchsr/datasets/benchmarks.py (the only published hash).
    checksum="4ace41d33c2384b97e6b320cd0afd6ba",
    hash_algo="md5",
)

MANGA109_SR = Source(
    filename="manga109.zip",
    urls=(
        ("https://drive.usercontent.google.com/download?id=1bEjcSRiT4V6vxjHjhr_jBPmAr3sGS_5l"
         "&export=download&confirm=t"),
    ),
    checksum=None,
    checksum_note=(
        "No checksum is published for this archive. It is the 109-image super-resolution "
        "test set (one page per title) as shared on Google Drive by isaaccorley/pytorch-enhance "
        "(torch_enhance/datasets/base.py, MANGA109_URL), which unpacks it to manga109/*.png. "
        "The official Manga109 distribution (manga109.org) needs a signed application and "
        "cannot be fetched automatically."
    ),
)

DATASETS: dict[str, DatasetEntry] = {
    e.name: e
    for e in (
        DatasetEntry("DIV2K_train_HR", DIV2K_TRAIN_HR, "zip", "DIV2K_train_HR/*.png", 800,
                     "DIV2K training split, HR images 0001-0800"),
        DatasetEntry("DIV2K_valid_HR", DIV2K_VALID_HR, "zip", "DIV2K_valid_HR/*.png", 100,
                     "DIV2K validation split, HR images 0801-0900"),
        # EDSR benchmark layout (torchSR uses the same paths): benchmark/<set>/HR/*.png
        DatasetEntry("Set5", EDSR_BENCHMARK, "tar", "benchmark/Set5/HR/*.png", 5,
                     "Set5 HR images from the EDSR benchmark archive"),
        DatasetEntry("Set14", EDSR_BENCHMARK, "tar", "benchmark/Set14/HR/*.png", 14,
                     "Set14 HR images from the EDSR benchmark archive"),
        DatasetEntry("BSD100", EDSR_BENCHMARK, "tar", "benchmark/B100/HR/*.png", 100,
                     "BSD100 (B100) HR images from the EDSR benchmark archive"),
        DatasetEntry("Urban100", EDSR_BENCHMARK, "tar", "benchmark/Urban100/HR/*.png", 100,
                     "Urban100 HR images from the EDSR benchmark archive"),
        DatasetEntry("Manga109", MANGA109_SR, "zip", "manga109/*.png", 109,
                     "Manga109 super-resolution test set, one image per title"),
    )
}


# --- pretrained weights ----------------------------------------------------------

_SWINIR = "https://github.com/JingyunLiang/SwinIR/releases/download/v0.0/"


def _swinir(scale: int, checksum: str, size: int) -> AssetEntry:
    filename = f"001_classicalSR_DIV2K_s48w8_SwinIR-M_x{scale}.pth"
    return AssetEntry(
        name=filename,
        source=Source(filename=filename, urls=(_SWINIR + filename,), checksum=checksum, size=size),
        backbone="swinir",
        scale=scale,
        description=f"SwinIR-M classical SR x{scale}, trained on DIV2K with 48x48 LR patches, window 8",
    )


RCAN_MODELS = Source(
    filename="models_ECCV2018RCAN.zip",
    # Both links are given in yulunzhang/RCAN README.md ("All the models (BIX2/3/4/8, BDX3)").
    urls=(
        "https://www.dropbox.com/s/qm9vc0p0w9i4s0n/models_ECCV2018RCAN.zip?dl=1",
        ("https://drive.usercontent.google.com/download?id=1U0RmWkkacyw0HNC7CBts2LcX1ewAulCn"
         "&export=download&confirm=t"),
    ),
    checksum=None,
    checksum_note=(
        "The RCAN authors publish no checksum for models_ECCV2018RCAN.zip and none was found "
        "elsewhere; pin the sha256 printed on first download."
    ),
)


def _rcan(scale: int) -> AssetEntry:
    return AssetEntry(
        name=f"RCAN_BIX{scale}.pt",
        source=RCAN_MODELS,
        backbone="rcan",
        scale=scale,
        description=f"RCAN (10 groups x 20 blocks, 64 channels) bicubic x{scale}, authors' checkpoint",
        archive="zip",
        member_glob=f"**/RCAN_BIX{scale}.pt",
    )


# pyiqa 0.1.16 downloads its weight files from this Hugging Face repository
# (pyiqa.archs.arch_util.get_url_from_name); its GitHub release v0.1-weights is the older home.
_PYIQA_HF = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/"
_PYIQA_GH = "https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/"


def _metric(name: str, metric: str, urls: tuple[str, ...], checksum: str | None, description: str, *,
            size: int | None = None, note: str = "") -> AssetEntry:
    """A weight file of an image-quality metric; ``backbone`` holds the metric's name."""
    return AssetEntry(
        name=name,
        source=Source(filename=name, urls=urls, checksum=checksum, size=size, checksum_note=note),
        backbone=metric,
        scale=None,
        kind="metric",
        description=description,
    )


ASSETS: dict[str, AssetEntry] = {
    e.name: e
    for e in (
        # sha256 and size: OpenModelDB/open-model-database,
        # data/models/2x-classicalSR-DIV2K-s64w8-SwinIR-M.json (that file is labelled s64w8,
        # but its URL is the s48w8 DIV2K checkpoint used here; likewise for x3 and x4).
        _swinir(2, "ac6d4895f73aa1b3d563937e29dcedcfdff4d401280e248f23db3c6f68e8343b", 59019939),
        # sha256 and size: OpenModelDB, data/models/3x-classicalSR-DIV2K-s64w8-SwinIR-M.json
        _swinir(3, "d835497f2332aae839ae19a033290ced8686fa2a795f76fc5153ec2c83003f75", 59758497),
        # sha256 and size: OpenModelDB, data/models/4x-classicalSR-DIV2K-s64w8-SwinIR-M.json;
        # the same sha256 and size are listed by other public projects for this file.
        _swinir(4, "129dc773ba2d4c07f3eb0bb116fbe692011b7cc072d9ca12797cd3748198610a", 59611499),
        _rcan(2),
        _rcan(3),
        _rcan(4),
        AssetEntry(
            name="vqgan_imagenet_f16_1024.ckpt",
            source=Source(
                filename="vqgan_imagenet_f16_1024.ckpt",
                # CompVis/taming-transformers README.md, table of pretrained first-stage models,
                # row "VQGAN ImageNet (f=16), 1024", links the share folder
                # https://heibox.uni-heidelberg.de/d/8088892a516d4e3baf92/ ; the checkpoint is
                # ckpts/last.ckpt in it. This direct-download form of that file is the one public
                # download scripts use (e.g. nerdyrodent/VQGAN-CLIP, download_models.sh, which
                # also gives its size as about 958 MB).
                urls=(("https://heibox.uni-heidelberg.de/d/8088892a516d4e3baf92/files/"
                       "?p=%2Fckpts%2Flast.ckpt&dl=1"),),
                checksum=None,
                checksum_note=(
                    "The taming-transformers authors publish no checksum or exact size for "
                    "vqgan_imagenet_f16_1024 ckpts/last.ckpt and none was found elsewhere; pin the "
                    "sha256 printed on first download."
                ),
            ),
            backbone="vqgan_f16",
            scale=None,
            kind="encoder",
            description=("taming-transformers VQGAN ImageNet f=16, 1024 codes (Lightning checkpoint); "
                         "DCKD uses its encoder, quant_conv and codebook"),
        ),
        # --- image-quality metrics (kind "metric"): the files pyiqa 0.1.16 and torchvision would
        # download at run time. cir/eval/assets.py places them where both read them
        # ($TORCH_HOME/hub/pyiqa, $TORCH_HOME/hub/checkpoints) so that neither ever downloads.
        _metric(
            "LPIPS_v0.1_alex-df73285e.pth", "lpips",
            (_PYIQA_HF + "LPIPS_v0.1_alex-df73285e.pth",
             _PYIQA_GH + "LPIPS_v0.1_alex-df73285e.pth",
             # the authors' repository holds the same file; pyiqa names it after its sha256 prefix
             "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth"),
            # sha256: pyiqa's file name carries its first 8 hex digits (df73285e); the full value is
            # that of lpips/weights/v0.1/alex.pth in the lpips 0.1.4 wheel on PyPI, which starts
            # with them (so do the other five LPIPS heads of that wheel and their pyiqa names).
            "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
            "LPIPS v0.1 linear heads on AlexNet features (pyiqa lpips_arch default_model_urls['0.1_alex'])",
            size=6009,
        ),
        _metric(
            "alexnet-owt-7be5be79.pth", "lpips",
            # torchvision.models.AlexNet_Weights.IMAGENET1K_V1.url (torchvision 0.29.1)
            ("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",),
            None,
            "torchvision AlexNet ImageNet weights: the LPIPS backbone pyiqa builds with "
            "models.alexnet(weights='IMAGENET1K_V1')",
            note=("torchvision publishes only the sha256 prefix 7be5be79 (in the file name; torch.hub "
                  "checks it on download); cir.eval.assets.verify_name_hash_prefix checks it after the "
                  "download. No full checksum was found."),
        ),
        _metric(
            "niqe_modelparameters.mat", "niqe",
            (_PYIQA_HF + "niqe_modelparameters.mat",),
            None,
            "NIQE pristine multivariate Gaussian (mu_prisparam, cov_prisparam) of the LIVE release "
            "(pyiqa niqe_arch default_model_urls['url'])",
            note=("pyiqa publishes no checksum. The LIVE release's modelparameters.mat (niqe_release.zip, "
                  "as mirrored in GitHub csjunxu/Bovik_NIQE_SPL2013) has sha256 "
                  "fa2aa4d12dd9595c3fb6bf8b4e1a15c79d5d1469238d0901c88dead195be578d; whether pyiqa's copy "
                  "is byte-identical could not be checked. The arrays are what matters: the project "
                  "compares them with BasicSR's niqe_pris_params.npz when both are present."),
        ),
        _metric(
            "brisque_svm_weights.pth", "brisque",
            (_PYIQA_HF + "brisque_svm_weights.pth",),
            None,
            "BRISQUE support-vector regressor (sv_coef, sv) of the LIVE release, as used by pyiqa's "
            "'brisque' (brisque_arch default_model_urls['url']; from piq v0.4.0)",
            note="pyiqa publishes no checksum for this file and none was found elsewhere.",
        ),
        _metric(
            "brisque_matlab.mat", "brisque_matlab",
            (_PYIQA_HF + "brisque_matlab.mat",),
            None,
            "BRISQUE model of MATLAB's Image Processing Toolbox brisque() (sv, sv_coef), as used by "
            "pyiqa's 'brisque_matlab' (brisque_arch default_model_urls['brisque_matlab'])",
            note="pyiqa publishes no checksum for this file and none was found elsewhere.",
        ),
    )
}


def _lookup(table: dict, kind: str, name: str):
    try:
        return table[name]
    except KeyError:
        raise UnknownNameError(kind, name, table) from None


def get_dataset(name: str) -> DatasetEntry:
    return _lookup(DATASETS, "data set", name)


def get_asset(name: str) -> AssetEntry:
    return _lookup(ASSETS, "asset", name)


def official_teacher_asset(backbone: str, scale: int) -> str:
    """Name of the released teacher weight file for ``backbone`` at ``scale``."""
    teachers = {f"{e.backbone} x{e.scale}": e.name for e in ASSETS.values() if e.kind == "teacher"}
    key = f"{backbone} x{int(scale)}"
    if key not in teachers:
        raise UnknownNameError("released teacher", key, teachers)
    return teachers[key]

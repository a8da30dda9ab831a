"""Where the paper data sets and pretrained weight files come from.

A :class:`Source` is one downloadable file (an archive or a checkpoint) with its
mirrors and checksum. Several entries may share one source: the EDSR benchmark
archive holds Set5, Set14, B100 and Urban100, the RCAN archive holds all RCAN
checkpoints. Mirrors of one source must serve byte-identical files.

Checksums are copied from the public places named in the comment next to each
value. Where none could be found the checksum is ``None`` and ``checksum_note``
says so; the downloader then prints the sha256 it computed so that it can be
pinned here. A source that cannot be fetched by a program (a cloud-drive folder, a
page behind a sign-in) has ``manual`` instructions: which file to get from where,
and how it must be laid out; the missing-file message prints them.

Three tables: :data:`DATASETS` (HR images for super-resolution),
:data:`PAIRED_DATASETS` (degraded -> clean pairs: at scale 1 for deblurring, deraining,
dehazing, denoising and camera SR, at their HR/LR size ratio for real-world super-resolution,
plus reference-free real-world test sets) and :data:`ASSETS` (weight files).
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
    manual: str = ""  # how to get the file by hand where no program can (cloud folder, sign-in)


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


# the cir task kinds of paired sets (cir/tasks.py): scale-1 restoration, real-world SR ("realsr",
# real LR -> HR photographs at the entry's scale) and camera SR ("camerasr": City100, scale 1)
PAIRED_TASKS = ("deblur", "derain", "dehaze", "denoise", "realsr", "camerasr")
SPLITS = ("train", "test")
# archive kinds of paired sets: those of ARCHIVE_TYPES, "auto" (zip or tar, told apart by their
# content, for archives whose format no public source states) and "file" (the download itself is
# the only member, named by Source.filename: e.g. a .mat file)
PAIRED_ARCHIVE_TYPES = ARCHIVE_TYPES + ("auto", "file")
PAIRING_KINDS = ("same_name", "regex", "sorted", "list", "side_by_side", "mat_blocks")


@dataclass(frozen=True)
class Pairing:
    """How the clean (GT) member of each degraded (LQ) member is found.

    * ``same_name``: the GT member with the LQ member's base name (among the members matching
      the entry's ``gt_glob``; exactly one must have it).
    * ``regex``: ``re.sub(pattern, repl, ...)`` of the LQ member's base name (``on="name"``,
      then looked up by base name like ``same_name``) or of its whole path (``on="path"``, then
      that member must exist). Many LQ members may map to one GT member (RESIDE's hazy images).
    * ``sorted``: the i-th LQ member with the i-th GT member, both sorted by path; both globs
      must match the same number of members. This is how the official evaluation scripts pair
      some test sets (Restormer's ``evaluate_PSNR_SSIM.m`` sorts ``input/`` and ``target/`` and
      pairs by position), whatever their file names.
    * ``list``: a list file in the archive (``list_glob``, exactly one member) names the pairs,
      one per line, whitespace-separated columns ``lq_column`` and ``gt_column`` holding paths
      relative to the list file's folder (RealBlur's ``RealBlur_J_test_list.txt``).
    * ``side_by_side``: every LQ member holds both images, degraded and clean halves side by
      side; ``lq_half`` (``left``/``right``) is the degraded one. Both halves are written as PNG
      (the pixels as decoded, losslessly; not the original bytes); there is no ``gt_glob``.
    * ``mat_blocks``: one MATLAB file of degraded and one of clean image blocks (the LQ and GT
      members), each holding a single ``uint8`` array of shape ``(images, blocks, H, W, 3)``
      (SIDD's validation blocks); every block pair is written as PNG.
    """

    kind: str = "same_name"
    pattern: str = ""
    repl: str = ""
    on: str = "name"
    list_glob: str = ""
    lq_column: int = 1
    gt_column: int = 0
    lq_half: str = "left"


SAME_NAME = Pairing()
SORTED = Pairing("sorted")
MAT_BLOCKS = Pairing("mat_blocks")


def regex_pairing(pattern: str, repl: str, on: str = "name") -> Pairing:
    return Pairing("regex", pattern=pattern, repl=repl, on=on)


def list_pairing(list_glob: str, lq_column: int, gt_column: int) -> Pairing:
    return Pairing("list", list_glob=list_glob, lq_column=lq_column, gt_column=gt_column)


def side_by_side(lq_half: str) -> Pairing:
    return Pairing("side_by_side", lq_half=lq_half)


@dataclass(frozen=True)
class PairedDatasetEntry:
    """A data set of degraded (LQ) -> clean (GT) image pairs in one or more archives.

    ``lq_glob``/``gt_glob`` select the degraded and clean members (matched like
    :attr:`DatasetEntry.member_glob`, against the members of all the entry's archives together;
    hidden files, ``__MACOSX`` folders and, except for ``mat_blocks``, files that are no images
    are never matched); ``lq_filter``, where set, is a regular expression that a degraded member's
    path must also contain (``re.search``; for a split that no glob can express, such as City100's
    images 001-020). ``pairing`` finds each LQ member's GT member. ``pair_count`` is the
    number of pairs (of LQ members for a ``reference_free`` set, which has no GT and no
    ``gt_glob``), or ``None`` where no public source states it: any positive number is then
    accepted, printed and written to the manifest so that it can be pinned here (``note`` must
    say why it is unknown). ``gt_count``, where set, is the number of distinct GT members
    (smaller for many-to-one sets). The pair's name (the file stem of both written images) is the
    LQ member's base name without extension, unless ``stem`` is set: a regular expression
    searched in the LQ member's path whose groups, joined by ``-``, form the name (for sets whose
    file names repeat across folders, like GoPro's frame numbers across sequences).

    ``scale`` is the size ratio of the clean to the degraded image (1 for restoration; 4 for the
    x4 real-world SR sets, whose GT is the HR photograph). It is written to the pair folder's
    manifest (``"scale"``, which :func:`cir.data.paired.load_pairs` reads). For ``scale > 1`` the
    extraction checks every pair's sizes: a pair with ``HR == LR x scale`` is written unchanged;
    where the two differ by at most ``size_slack`` HR pixels per side, both are cropped at the
    bottom/right to the largest common size (``LR = min(LR, HR // scale)``, ``HR = LR x scale``,
    written as PNG, the crop recorded in the manifest); a larger difference is an error naming
    the pair. Scale-1 sets are not decoded at extraction (the pair reader checks them).
    ``note`` records facts that could not be verified from public sources.
    """

    name: str
    task: str
    split: str
    source: Source | tuple[Source, ...]
    archive: str
    lq_glob: str
    gt_glob: str | None
    pair_count: int | None
    description: str
    pairing: Pairing = SAME_NAME
    stem: str = ""
    reference_free: bool = False
    gt_count: int | None = None
    note: str = ""
    scale: int = 1
    size_slack: int = 0  # HR pixels per side that HR may differ from LR x scale (cropped away)
    lq_filter: str = ""

    @property
    def sources(self) -> tuple[Source, ...]:
        return self.source if isinstance(self.source, tuple) else (self.source,)


@dataclass(frozen=True)
class AssetEntry:
    """A pretrained weight file: the download itself, or one member of an archive.

    ``name`` is also the file name the weight file gets (its extension tells
    weight loaders how to read it); ``backbone`` is the cir architecture name;
    ``kind`` says what the file is for: an official ``teacher`` network (with its
    upscaling ``scale``), the ``init`` weights a trained network starts from (a published
    network of another method whose layers the ``backbone`` shares, e.g. ESRGAN's PSNR-oriented
    RRDB for Cria-CL's trunk, loaded non-strictly; with its ``scale``, no task), a frozen feature
    ``encoder`` for losses (no scale) or the weights of an image-quality ``metric`` (no scale;
    ``backbone`` names the metric).
    A teacher's ``task`` is the cir task it restores (:func:`cir.tasks.parse_task`): ``x2`` ...
    ``x8`` for super-resolution (then ``scale`` is that factor), a scale-1 restoration task
    such as ``deblur`` or ``derain`` (``scale`` 1), or a real-world SR task such as
    ``realsr_ntire`` (``scale`` 4).
    """

    name: str
    source: Source
    backbone: str
    scale: int | None
    description: str = ""
    archive: str | None = None
    member_glob: str | None = None
    kind: str = "teacher"  # one of ASSET_KINDS
    task: str | None = None  # teachers: the cir task (x2 ... x8, deblur, derain, realsr_ntire, ...)


ASSET_KINDS = ("teacher", "init", "encoder", "metric")


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

FLICKR2K = Source(
    filename="Flickr2K.tar",
    urls=("https://cv.snu.ac.kr/research/EDSR/Flickr2K.tar",),
    # md5: Coloquinte/torchSR, torchsr/datasets/flickr2k.py (Flickr2K.urls; the only published hash).
    # Layout Flickr2K/Flickr2K_HR/*.png beside Flickr2K_LR_bicubic/ and Flickr2K_LR_unknown/ (its track_dirs).
    checksum="5d3f39443d5e9489bff8963f8f26cb03",
    hash_algo="md5",
)

# NTIRE 2020 Real-World SR challenge, track 1 (Lugmayr et al.): the files of the challenge's ETH
# folder, named in public download scripts (wget of <folder>/<name>.zip, then `unzip -d` and a check
# for the folder <name>/: so each zip holds one top-level folder of its own name). No checksum or
# size is published for any of them, and whether the folder still serves them is not known.
_NTIRE20 = "https://data.vision.ee.ethz.ch/alugmayr/real-world-sr/NTIRE20/"
_NTIRE20_NOTE = ("The NTIRE 2020 Real-World SR organisers publish no checksum or size for {} (challenge "
                 "data, CodaLab competition 22221) and none was found elsewhere; pin the sha256 printed on "
                 "first download.")


def _ntire20(filename: str) -> Source:
    return Source(filename=filename, urls=(_NTIRE20 + filename,), checksum=None,
                  checksum_note=_NTIRE20_NOTE.format(filename),
                  manual=(f"If the ETH folder no longer serves it, {filename} was distributed to the "
                          f"participants of the NTIRE 2020 Real-World SR challenge, track 1 "
                          f"(https://competitions.codalab.org/competitions/22221); keep it zipped."))


NTIRE20_T1_SOURCE = _ntire20("track1-train-source.zip")
NTIRE20_T1_TARGET = _ntire20("train-target.zip")
NTIRE20_T1_VALID_INPUT = _ntire20("track1-valid-input.zip")
NTIRE20_T1_VALID_GT = _ntire20("track1-valid-gt.zip")

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
        # DF2K's second half; NTIRE 2020 track 1 corrupted these 2650 images into its source domain
        DatasetEntry("Flickr2K", FLICKR2K, "tar", "Flickr2K/Flickr2K_HR/*.png", 2650,
                     "Flickr2K HR images 000001-002650 (EDSR authors' archive)"),
        # NTIRE 2020 track 1 training data: unpaired. The source domain: the 2650 Flickr2K images with
        # the challenge's unknown corruption (the challenge report; the authors' collect_noise.py globs
        # <source>/*.png). The target domain: the 800 clean DIV2K training images. Cria-CL's public
        # training config makes pairs of both by the Impressionism recipe (cir/data/impressionism.py,
        # rule impressionism_pairs). The member paths are inferred from public download scripts.
        DatasetEntry("NTIRE2020_T1_source", NTIRE20_T1_SOURCE, "zip", "track1-train-source/*.png", 2650,
                     "NTIRE 2020 Real-World SR track 1 training source domain: 2650 corrupted Flickr2K images"),
        DatasetEntry("NTIRE2020_T1_target", NTIRE20_T1_TARGET, "zip", "train-target/*.png", 800,
                     "NTIRE 2020 Real-World SR track 1 training target domain: the 800 clean DIV2K "
                     "training images"),
    )
}


# Pair sets made here from downloaded image sets by the Impressionism recipe (rule impressionism_pairs,
# cir/data/impressionism.py): name -> (source set, target set). NTIRE 2020 track 1's training pairs.
IMPRESSIONISM_PAIRS: dict[str, tuple[str, str]] = {"NTIRE2020_T1_train": ("NTIRE2020_T1_source", "NTIRE2020_T1_target")}


# --- paired data sets (scale 1) --------------------------------------------------

_GDRIVE = "https://drive.usercontent.google.com/download?id={}&export=download&confirm=t"
# A Hugging Face copy of the archives the Restormer authors share on Google Drive (the file ids in
# swz30/Restormer, */download_data.py). It is not the authors' own, so it serves only archives
# whose sha256 is pinned: any other file is refused.
_RESTORMER_HF = "https://huggingface.co/datasets/laoduanaaa/Image_Restoration_Datasets/resolve/main/"
# The sha256 and sizes pinned for the Restormer archives (_restormer(...) below) come from one
# public third-party training script (a Colab notebook whose DATASET_REGISTRY downloads each
# archive from Google Drive or the Hugging Face copy above and checks it against these values; it
# states that both serve the same bytes). No second source was found: a ChecksumError on a fresh
# download of one of them means this value, not the file, is in doubt.
_FOLDER_ZIP = ("This is a folder on a cloud drive, not one file: download the folder and zip it "
               "(any top-level folder is fine; the member paths below are matched anywhere) as")


def _restormer(filename: str, hf_path: str, drive_id: str, checksum: str, size: int) -> Source:
    return Source(
        filename=filename,
        urls=(_RESTORMER_HF + hf_path, _GDRIVE.format(drive_id)),
        checksum=checksum,
        size=size,
        manual=(f"If neither link works: open https://drive.google.com/file/d/{drive_id}/view (the "
                f"Restormer authors' Google Drive file, swz30/Restormer download_data.py) and save it "
                f"as {filename}."),
    )


def _manual(filename: str, manual: str, what: str, packed_by_hand: bool = True) -> Source:
    """A file that only a person can fetch (no direct link); it has no published checksum."""
    if packed_by_hand:
        check = ("No checksum can be published for an archive packed by hand; the sha256 printed on "
                 "first use identifies your copy.")
    else:
        check = "No checksum is published for it; pin the sha256 printed on first use."
    return Source(filename=filename, urls=(), checksum=None, checksum_note=f"{what} {check}", manual=manual)


GOPRO_LARGE = Source(
    filename="GOPRO_Large.zip",
    # SeungjunNah/seungjunnah.github.io, Datasets/gopro.md (the authors' page, March 2025): Hugging
    # Face (this URL) and Google Drive 1y4wvPdOG3mojpFCHTqLgriexhbjoWVkK; the SNU CVLab server
    # (http://data.cv.snu.ac.kr:8008/webdav/dataset/GOPRO/GOPRO_Large.zip) was replaced by Hugging
    # Face. Whether the Drive copy is byte-identical is not known, so it is not a mirror here.
    urls=("https://huggingface.co/datasets/snah/GOPRO_Large/resolve/main/GOPRO_Large.zip",),
    checksum=None,
    checksum_note=("The GoPro authors publish no checksum for GOPRO_Large.zip (about 8.8 GB by third-party "
                   "accounts) and none was found elsewhere; pin the sha256 printed on first download."),
    manual=("If Hugging Face is unreachable: download GOPRO_Large.zip from the authors' Google Drive, "
            "https://drive.google.com/file/d/1y4wvPdOG3mojpFCHTqLgriexhbjoWVkK/view (linked from "
            "https://seungjunnah.github.io/Datasets/gopro), and keep it zipped."),
)

RESTORMER_HIDE_TEST = _restormer(
    # Restormer Motion_Deblurring/download_data.py: HIDE_test; unpacks to test/HIDE/{input,target}
    "Restormer_HIDE_test.zip", "Deblurring/Motion_Deblurring/test2.zip", "1XRomKYJF1H92g1EuD06pCQe4o6HlwB7A",
    "a5fa86b7a18626530ad67271f27771bff9772818504317b1a177803df25df8b7", 4231646359)

REALBLUR = Source(
    filename="RealBlur.tar.gz",
    # rimchang/RealBlur README.md: "download RealBlur" at https://cgdata.postech.ac.kr/sharing/YhKdbtvD0
    # (a sharing page, not a file link) or the Google Drive folder 1xUNAAVzLhNQuGriKTk1hrE-MT-H_56fq.
    # The file id of RealBlur.tar.gz in that folder is taken from public download scripts that fetch it
    # with gdown (17v5Dj0M2WExgxJgsGpEWc-6UyhK1IWWK); about 12.2 GB by their account.
    urls=(_GDRIVE.format("17v5Dj0M2WExgxJgsGpEWc-6UyhK1IWWK"),),
    checksum=None,
    checksum_note=("The RealBlur authors publish no checksum for RealBlur.tar.gz and none was found "
                   "elsewhere; pin the sha256 printed on first download."),
    manual=("Download RealBlur.tar.gz from the RealBlur authors' page https://cgdata.postech.ac.kr/sharing/"
            "YhKdbtvD0 or their Google Drive folder https://drive.google.com/drive/folders/"
            "1xUNAAVzLhNQuGriKTk1hrE-MT-H_56fq (both linked from github.com/rimchang/RealBlur); keep it packed."),
)

RAIN13K_TRAIN = _restormer(
    # Restormer Deraining/download_data.py: rain13k_train; unpacks to train/Rain13K/{input,target}
    "Rain13K_train.zip", "Deraining/train.zip", "14BidJeG4nSNuFNFDf99K-7eErCq4i47t",
    "b999f61e7d7df1c2333d8a63a80b89fea2f75197dd9350428a174bcb9e193a5d", 1163440376)

RAIN13K_TEST = _restormer(
    # Restormer Deraining/download_data.py: rain13k_test; unpacks to test/<set>/{input,target} for
    # Test100, Rain100H, Rain100L, Test2800, Test1200 (Deraining/Datasets/README.md)
    "Rain13K_test.zip", "Deraining/test.zip", "1P_-RAvltEoEhfT-9GrWRdpEi6NSswTs8",
    "5be86b39609c3fbd6b3f0cceb45aa98b06e38ad76d7fb85bcbe0eefc0a9d5311", 1360310555)


def _drsformer(name: str, link: str) -> Source:
    # cschenxiang/DRSformer README.md, "Datasets" table (Baidu Cloud links, "fully paired images");
    # the repository's samples show the layout Datasets/{train,test}/<set>/{input,target}/<n>.png
    return _manual(
        f"{name}.zip",
        (f"Download the {name} data from Baidu Cloud {link} (listed in the DRSformer README, "
         f"github.com/cschenxiang/DRSformer). {_FOLDER_ZIP} {name}.zip so that the rainy images lie in "
         f"folders .../train/.../input/ and .../test/.../input/ and the clean ones, with the same file "
         f"names, in the matching .../target/ folders (DRSformer's layout "
         f"Datasets/train/{name}/input/1.png)."),
        f"{name}.zip is a zip you make from a cloud-drive folder.")


RAIN200H = _drsformer("Rain200H", "https://pan.baidu.com/s/1KK8R2bPKgcOX8gMXSuKtCQ?pwd=z9br (code z9br)")
RAIN200L = _drsformer("Rain200L", "https://pan.baidu.com/s/1rTb4qU3fCEA4MRpQss__DA?pwd=s2yx (code s2yx)")
SPA_DATA = _drsformer("SPA-Data", "https://pan.baidu.com/s/1YfxC5OvgYcQCffEttFz8Kg?pwd=yjow (code yjow)")

DID_MDN = Source(
    filename="DID-MDN-datasets.zip",
    # hezhangsprinter/DID-MDN README.md, "Dataset": training (heavy, medium, light) and testing data,
    # one Google Drive file. Its file name and archive format are not stated (archive kind "auto").
    urls=(_GDRIVE.format("1cMXWICiblTsRl1zjN8FizF5hXOpVOJz4"),),
    checksum=None,
    checksum_note="The DID-MDN authors publish no checksum for their data archive and none was found elsewhere.",
    manual=("Download the DID-MDN data file https://drive.google.com/file/d/1cMXWICiblTsRl1zjN8FizF5hXOpVOJz4/"
            "view (github.com/hezhangsprinter/DID-MDN, 'Dataset') and save it, still packed, as "
            "DID-MDN-datasets.zip (a zip or tar archive; the content tells which)."),
)

DDN_DATA = _manual(
    "DDN-Data.zip",
    ("Download the DDN (Rain1400) data: rainy_image and ground_truth folders of the training and "
     "testing sets, from the DDN project page https://xueyangfu.github.io/projects/cvpr2017.html or "
     "the DRSformer copy https://pan.baidu.com/s/1g_m7RfSUJUtknlWugO1nrw?pwd=ldzo (code ldzo). "
     f"{_FOLDER_ZIP} DDN-Data.zip with the layout .../training/rainy_image/<k>_<i>.jpg, "
     ".../training/ground_truth/<k>.jpg, .../testing/rainy_image/..., .../testing/ground_truth/... "
     "(the DDN release's folder names; 14 rainy images <k>_1 ... <k>_14 per clean image <k>)."),
    "DDN-Data.zip is a zip you make from cloud-drive folders.")

# RESIDE: the authors' download links (Dropbox folders, Baidu Yun) are listed in
# Boyiliee/RESIDE-dataset-link, RESIDE-Standard.txt (ITS, SOTS) and RESIDE-β.txt (OTS, RTTS, URHI).
_RESIDE_LINKS = "listed in github.com/Boyiliee/RESIDE-dataset-link, the RESIDE authors' link repository"
RESIDE_ITS_HAZY = _manual(
    "ITS_v2_hazy.zip",
    (f"Open the RESIDE-Standard ITS Dropbox folder https://bit.ly/3iwHmh0 (Baidu Yun: "
     f"http://tinyurl.com/yaohd3yv, password g0s6; {_RESIDE_LINKS}) and download hazy.zip from it; "
     f"save it as ITS_v2_hazy.zip (it unpacks to hazy/<k>_<i>_<beta>.png)."),
    "The ITS archives are shared in a Dropbox folder.", packed_by_hand=False)
RESIDE_ITS_CLEAR = _manual(
    "ITS_v2_clear.zip",
    (f"From the same RESIDE-Standard ITS Dropbox folder https://bit.ly/3iwHmh0 (Baidu Yun: "
     f"http://tinyurl.com/yaohd3yv, password g0s6; {_RESIDE_LINKS}) download clear.zip and save it as "
     f"ITS_v2_clear.zip (it unpacks to clear/<k>.png)."),
    "The ITS archives are shared in a Dropbox folder.", packed_by_hand=False)
RESIDE_OTS = _manual(
    "OTS.zip",
    (f"Download OTS from the RESIDE-β Dropbox folder https://bit.ly/3k8a0Gf (Baidu Yun: "
     f"https://pan.baidu.com/s/1YMYUp5P6FpX_5b7emjgrvA, password w54h; {_RESIDE_LINKS}). {_FOLDER_ZIP} "
     f"OTS.zip with every hazy image (<k>_<A>_<beta>.jpg) in a folder named hazy/ and every clear image "
     f"(<k>.jpg) in a folder named clear/ (the layout FFA-Net's README and loader use)."),
    "OTS.zip is a zip you make from a cloud-drive folder.")
RESIDE_SOTS = _manual(
    "SOTS.zip",
    (f"Download SOTS from the RESIDE-Standard Dropbox folder https://bit.ly/2XZH498 (Baidu Yun: "
     f"https://pan.baidu.com/share/init?surl=SSVzR058DX5ar5WL5oBTLg, password s6tu; {_RESIDE_LINKS}). "
     f"{_FOLDER_ZIP} SOTS.zip with the layout .../indoor/hazy/<k>_<i>.png, .../indoor/gt/<k>.png, "
     f".../outdoor/hazy/<k>_<A>_<beta>.jpg, .../outdoor/gt/<k>.png (the release's folder names)."),
    "SOTS.zip is a zip you make from a cloud-drive folder.")
RESIDE_RTTS = _manual(
    "RTTS.zip",
    (f"Download RTTS from the RESIDE-β Dropbox folder https://bit.ly/3c4gl3z (Baidu Yun: "
     f"https://pan.baidu.com/s/1nuJOdjr, password n3v8; {_RESIDE_LINKS}). {_FOLDER_ZIP} RTTS.zip; the "
     f"images are the ones under .../JPEGImages/ (VOC layout, with Annotations/ beside it)."),
    "RTTS.zip is a zip you make from a cloud-drive folder.")
RESIDE_URHI = _manual(
    "URHI.zip",
    (f"Download the Unannotated Real-world Hazy Images from the RESIDE-β Dropbox folder "
     f"https://bit.ly/2XVx7tc (Baidu Yun: https://pan.baidu.com/s/1i5GiZsx, password vt99; {_RESIDE_LINKS}). "
     f"{_FOLDER_ZIP} URHI.zip holding those images only (every image in it is used)."),
    "URHI.zip is a zip you make from a cloud-drive folder.")
RESIDE_6K = _manual(
    "RESIDE-6K.zip",
    ("Download RESIDE-6K from the DehazeFormer data folder on Google Drive "
     "https://drive.google.com/drive/folders/1Yy_GH6_bydYPU6_JJzFQwig4LTh86VI4 (or BaiduPan "
     "https://pan.baidu.com/s/1WVdNccqDMnJ5k5Q__Y2dsg?pwd=gtuw, code gtuw; github.com/IDKiro/DehazeFormer "
     "README). Keep or make a zip named RESIDE-6K.zip with DehazeFormer's layout "
     ".../train/hazy/, .../train/GT/, .../test/hazy/, .../test/GT/ (equal file names in hazy/ and GT/)."),
    "RESIDE-6K is shared in a cloud-drive folder.")

SIDD_MEDIUM_RESTORMER = _restormer(
    # Restormer Denoising/download_data.py: SIDD_train; unpacks to train/<160 scene folders>/
    # NNNN_{GT,NOISY}_SRGB_01{0,1}.PNG: the SIDD-Medium sRGB images (320 pairs). The official
    # SIDD_Medium_Srgb.zip (York University, http://130.63.97.225/share/SIDD_Medium_Srgb.zip, md5
    # f95b4bc9ec1dd3fe4ebd61aeacad3991 and 13234744070 bytes by two public download scripts) is a
    # different file with the same images under SIDD_Medium_Srgb/Data/.
    "SIDD_Medium_Srgb_Restormer.zip", "Denoising/Real/train.zip", "1UHjWZzLPGweA9ZczmV8lFSRcIxqiOVJw",
    "aae8c8dd6643fc65454db60cc317d64accd8bea34187ea6c4aadcf772991446c", 13233785522)

SIDD_VALIDATION_RESTORMER = _restormer(
    # Restormer Denoising/download_data.py: SIDD_test; unpacks to test/SIDD/
    # ValidationNoisyBlocksSrgb.mat and ValidationGtBlocksSrgb.mat, the official SIDD validation
    # blocks (also at http://130.63.97.225/share/SIDD_Blocks/, 229724517 and 232055617 bytes).
    # Restormer's test_real_denoising_sidd.py reads them with scipy.io.loadmat: 40 images x 32 blocks.
    "SIDD_Validation_Restormer.zip", "Denoising/Real/test1.zip", "11vfqV-lqousZTuAit1Qkqghiv_taY0KZ",
    "1139c32896697e960159ae845070751e58894ddf607ebfe8f6d83ef012e2fbff", 461780640)

# --- real-world super-resolution and camera SR (Cria-CL) -----------------------------

REALSR_V3 = Source(
    filename="RealSR(V3).tar.gz",
    # csjcai/RealSR README.md: "Version 3 ... (HR and LR have different resolution)", Google Drive
    # 17ZMjo-zwFouxnm_aFM6CUHBwgRrLZqIM; md5 and file name: Coloquinte/torchSR,
    # torchsr/datasets/realsr.py (RealSRv3.urls, the same Drive file). Layout (torchSR's track_dirs and
    # public loaders): RealSR(V3)/{Canon,Nikon}/{Train,Test}/{2,3,4}/<Camera>_<NNN>_HR.png beside
    # <Camera>_<NNN>_LR<scale>.png.
    urls=(_GDRIVE.format("17ZMjo-zwFouxnm_aFM6CUHBwgRrLZqIM"),),
    checksum="83e946bf4b5c22b30d1663231bb2e53e",
    hash_algo="md5",
    manual=("Open https://drive.google.com/file/d/17ZMjo-zwFouxnm_aFM6CUHBwgRrLZqIM/view (RealSR Version 3, "
            "linked from github.com/csjcai/RealSR; its README also gives a Baidu Drive copy, code 2n93) and "
            "save the file, still packed, under the name RealSR(V3).tar.gz."),
)

# ngchc/CameraSR holds City100 in the repository itself (City100/City100_iPhoneX/NNN{H,L}.PNG and
# City100_NikonD5500/...: 100 pairs each; all 200 iPhone X images are 840x600, read from the PNG
# headers of the git blobs at this commit, the repository's HEAD since 2019-06-12). GitHub builds the
# archive of a commit on request; its bytes are not guaranteed stable, so no checksum is pinned.
_CAMERASR_COMMIT = "336cac11f5ba409134b2bc5165e9ad6aa4a07e65"
CAMERASR_REPO = Source(
    filename=f"CameraSR-{_CAMERASR_COMMIT[:7]}.zip",
    urls=(f"https://github.com/ngchc/CameraSR/archive/{_CAMERASR_COMMIT}.zip",),
    checksum=None,
    checksum_note=("GitHub generates repository archives on request and publishes no checksum for them; "
                   f"the content is fixed by the commit {_CAMERASR_COMMIT} of github.com/ngchc/CameraSR "
                   "(about 430 MB of files: City100 iPhone X and Nikon D5500 plus model files)."),
    manual=(f"Download https://github.com/ngchc/CameraSR/archive/{_CAMERASR_COMMIT}.zip (or zip a clone of "
            f"github.com/ngchc/CameraSR at that commit, keeping the City100/City100_iPhoneX/ folder) and "
            f"save it as CameraSR-{_CAMERASR_COMMIT[:7]}.zip."),
)

# RealSR-Zero (Cria-CL's own test set): House-Leo/RealSR-Zero README.md links Google Drive
# 1A7wyIuSEBe4zzK9n05e81AD8Xz6LHAU9 and Baidu (code ljdr); the repository also holds the archive
# itself, dataset/realsr-zero.zip (git blob 7c5f5d955fd43c283e38ec3d472ffb19bc26a6a2, added in commit
# d7ea495 "Update RealSR-zero"). The GitHub copy at a fixed commit is the download; whether the
# Drive file is byte-identical is not known, so Drive is the by-hand fallback, not a mirror.
_REALSR_ZERO_COMMIT = "f2a4ad09547db1b2314af5bc136d494abb00d094"
REALSR_ZERO = Source(
    filename="realsr-zero.zip",
    urls=(f"https://github.com/House-Leo/RealSR-Zero/raw/{_REALSR_ZERO_COMMIT}/dataset/realsr-zero.zip",),
    checksum=None,
    checksum_note=("The RealSR-Zero authors publish no checksum; the file is the git blob "
                   "7c5f5d955fd43c283e38ec3d472ffb19bc26a6a2 of github.com/House-Leo/RealSR-Zero "
                   "(`git hash-object realsr-zero.zip` prints it for an intact copy). Pin the sha256 printed "
                   "on first download."),
    manual=("Download realsr-zero.zip from https://github.com/House-Leo/RealSR-Zero/tree/"
            f"{_REALSR_ZERO_COMMIT}/dataset, or the authors' Google Drive file "
            "https://drive.google.com/file/d/1A7wyIuSEBe4zzK9n05e81AD8Xz6LHAU9/view, or Baidu "
            "https://pan.baidu.com/s/13D5uZUpORZbjlKVRN1doGg?pwd=ljdr (code ljdr), all linked from "
            "github.com/House-Leo/RealSR-Zero; save it as realsr-zero.zip (a zip archive of the 45 images; "
            "repack it as a zip if the copy you get is another archive format)."),
)

# RealSR V3 pairs <Camera>_<NNN>_LR4.png -> <Camera>_<NNN>_HR.png, named <Camera>_<NNN>.
_REALSR_LR4 = regex_pairing(r"_LR4(\.png)$", r"_HR\1")
_REALSR_STEM = r"([^/]+)_LR4\.png$"
# Whether every V3 x4 HR image is exactly 4x its LR image is not verified (the V3 LR images were made
# by the RealSR authors, csjcai/RealSR issues #12/#25, and the project notes could not check the
# sizes). Pairs off by at most 8 HR pixels (2 LR pixels) per side are cropped at the bottom/right to
# HR = 4 x LR and the crop is recorded in the manifest; a larger difference stops the extraction.
# 8 is a guard chosen without seeing the data, not a measured bound.
_REALSR_SLACK = 8
# City100 iPhone X, the split of the Cria-CL README ("Test: iPhoneX001L-020L") and the project notes
# (train 021-100): names NNN, L (degraded) -> H (clean), both 840x600.
_CITY100_PAIRING = regex_pairing(r"^(\d{3})L(\.PNG)$", r"\1H\2")
_CITY100_STEM = r"/(\d{3})L\.PNG$"


def _paired(*entries: PairedDatasetEntry) -> dict[str, PairedDatasetEntry]:
    return {e.name: e for e in entries}


PAIRED_DATASETS: dict[str, PairedDatasetEntry] = _paired(
    # --- deblur --------------------------------------------------------------------------
    # GOPRO_Large: <split>/<sequence>/{blur,blur_gamma,sharp}/<frame>.png (DeepDeblur_release and
    # DeepDeblur-PyTorch READMEs); 22 train / 11 test sequences, 2103 / 1111 pairs (the authors'
    # statistics table). The frame numbers repeat across sequences, so the pair name is
    # <sequence>-<frame> (GOPR0372_07_00-000047). The input is blur/ (not blur_gamma/), as in the
    # deblurring benchmarks; the zip's top-level folder name is matched by "**".
    PairedDatasetEntry(
        "GoPro_train", "deblur", "train", GOPRO_LARGE, "zip",
        "**/train/*/blur/*.png", "**/train/*/sharp/*.png", 2103,
        "GoPro (GOPRO_Large) training pairs, 22 sequences; names <sequence>-<frame>",
        pairing=regex_pairing(r"/blur/([^/]+)$", r"/sharp/\1", on="path"),
        stem=r"([^/]+)/blur/([^/]+)\.png$"),
    PairedDatasetEntry(
        "GoPro_test", "deblur", "test", GOPRO_LARGE, "zip",
        "**/test/*/blur/*.png", "**/test/*/sharp/*.png", 1111,
        "GoPro (GOPRO_Large) test pairs, 11 sequences; names <sequence>-<frame>",
        pairing=regex_pairing(r"/blur/([^/]+)$", r"/sharp/\1", on="path"),
        stem=r"([^/]+)/blur/([^/]+)\.png$"),
    # HIDE test set as the Restormer authors share it: 2025 pairs (HIDE paper / Restormer Table 2).
    # Paired by sorted position, as Restormer's evaluate_gopro_hide.m does.
    PairedDatasetEntry(
        "HIDE_test", "deblur", "test", RESTORMER_HIDE_TEST, "zip",
        "**/HIDE/input/*", "**/HIDE/target/*", 2025,
        "HIDE test pairs (Restormer's copy: test/HIDE/input, target)", pairing=SORTED),
    # RealBlur.tar.gz: RealBlur-J_ECC_IMCORR_centroid_itensity_ref/sceneNNN/{blur,gt}/{blur,gt}_M.png
    # and RealBlur_J_{train,test}_list.txt beside them, each line "<gt path> <blur path>"; 3758 train /
    # 980 test pairs for RealBlur-J (rimchang/RealBlur README and public loaders of the list files).
    # Pair names scene<NNN>-blur_<M>.
    # (Uni-Removal adapts to the blurred side of the training pairs; no ground truth used)
    *[PairedDatasetEntry(
        f"RealBlur_J_{split}", "deblur", split, REALBLUR, "tar.gz",
        "**/RealBlur-J_ECC_IMCORR_centroid_itensity_ref/*/blur/*.png",
        "**/RealBlur-J_ECC_IMCORR_centroid_itensity_ref/*/gt/*.png", count,
        f"RealBlur-J {split} pairs (real camera shake, JPEG-processed), as listed in RealBlur_J_{split}_list.txt",
        pairing=list_pairing(f"**/RealBlur_J_{split}_list.txt", lq_column=1, gt_column=0),
        stem=r"/(scene\d+)/blur/(blur_\d+)\.png$")
      for split, count in (("train", 3758), ("test", 980))],
    # --- derain --------------------------------------------------------------------------
    # Rain13K training pairs: MPRNet/DCKD state 13,712, but the shared archive holds 13,711: "The
    # size for 1 image was not correct and hence we remove it. There are 13711 image pairs for
    # download." (swz30/MPRNet issue #74, a maintainer). Equal names in input/ and target/.
    PairedDatasetEntry(
        "Rain13K", "derain", "train", RAIN13K_TRAIN, "zip",
        "**/Rain13K/input/*", "**/Rain13K/target/*", 13711,
        "Rain13K deraining training pairs (MPRNet/Restormer archive; the papers' 13,712 minus one removed pair)"),
    # The five test sets of Rain13K's test archive (counts: MPRNet Table 1, Restormer). Paired by
    # sorted position like Restormer's evaluate_PSNR_SSIM.m, which works whatever the file names
    # (Rain100H's are said to be rain-NNN / norain-NNN).
    *[PairedDatasetEntry(
        name, "derain", "test", RAIN13K_TEST, "zip",
        f"**/test/{name}/input/*", f"**/test/{name}/target/*", count,
        f"{name} deraining test pairs (Rain13K test archive)", pairing=SORTED)
      for name, count in (("Test100", 100), ("Rain100H", 100), ("Rain100L", 100), ("Test2800", 2800),
                          ("Test1200", 1200))],
    # Rain200H/L (the updated Rain100H/L of Yang et al.: 1800 train / 200 test pairs) and SPA-Data
    # (real rain, Wang et al. CVPR 2019: 638,492 train / 1,000 test pairs) as the DRSformer authors
    # share them: counts from the DRSformer-family README table, unverified here.
    *[PairedDatasetEntry(
        f"{name}_{split}", "derain", split, source, "zip",
        f"**/{split}/**/input/*", f"**/{split}/**/target/*", count,
        f"{name} {split} pairs ({desc}; DRSformer's copy)",
        note=f"count {count} from the DRSformer README table, unverified here")
      for name, source, desc, split, count in (
          ("Rain200H", RAIN200H, "heavy synthetic rain", "train", 1800),
          ("Rain200H", RAIN200H, "heavy synthetic rain", "test", 200),
          ("Rain200L", RAIN200L, "light synthetic rain", "train", 1800),
          ("Rain200L", RAIN200L, "light synthetic rain", "test", 200),
          ("SPA", SPA_DATA, "real rain; the training set is huge, ~638k pairs", "train", 638492),
          ("SPA", SPA_DATA, "real rain", "test", 1000))],
    # DID-MDN (Zhang & Patel, CVPR 2018): every image holds the rainy (left) and clean (right)
    # halves side by side: the authors' loader (datasets/pix2pix_class.py) crops imgA = left half,
    # imgB = right half, and training uses input, target = imgA, imgB. Training: 4000 images per
    # density, DID-MDN-training/Rain_{Heavy,Medium,Light}/train2018new/<0..3999>.jpg (the loader's
    # paths); test: 1200 images (TestA = Test1200). The test folder name is unverified here; the
    # pair names are Rain_<density>-<n> (train) and the file stem (test).
    PairedDatasetEntry(
        "DID_train", "derain", "train", DID_MDN, "auto",
        "**/DID-MDN-training/Rain_*/train2018new/*", None, 12000,
        "DID-MDN training set: rainy|clean side-by-side images, 3 densities x 4000",
        pairing=side_by_side("left"), stem=r"(Rain_[A-Za-z]+)/train2018new/([^/]+)\.[^./]+$",
        note="archive format and member paths inferred from the authors' loader, unverified here"),
    PairedDatasetEntry(
        "DID_test", "derain", "test", DID_MDN, "auto",
        "**/DID-MDN-test/*", None, 1200,
        "DID-MDN test set (Test1200): rainy|clean side-by-side images",
        pairing=side_by_side("left"),
        note="test folder name DID-MDN-test unverified here"),
    # DDN / Rain1400 (Fu et al., CVPR 2017): 1000 clean images x 14 rain types; 900 clean (12,600
    # rainy) for training, 100 (1,400) for testing (the DDN paper; mmediting's Rain1400 config maps
    # rainy_image/<k>_<i> to ground_truth/<k> with separator "_"). Many rainy images per clean one.
    PairedDatasetEntry(
        "DDN_train", "derain", "train", DDN_DATA, "zip",
        "**/training/rainy_image/*", "**/training/ground_truth/*", 12600,
        "DDN (Rain1400) training set: 14 rainy images per clean image",
        pairing=regex_pairing(r"^(\d+)_\d+(\.[^.]+)$", r"\1\2"), gt_count=900,
        note="counts from the DDN paper, unverified here"),
    PairedDatasetEntry(
        "DDN_test", "derain", "test", DDN_DATA, "zip",
        "**/testing/rainy_image/*", "**/testing/ground_truth/*", 1400,
        "DDN (Rain1400) test set: 14 rainy images per clean image",
        pairing=regex_pairing(r"^(\d+)_\d+(\.[^.]+)$", r"\1\2"), gt_count=100,
        note="counts from the DDN paper, unverified here"),
    # --- dehaze --------------------------------------------------------------------------
    # RESIDE ITS (v2): hazy/<k>_<i>_<beta>.png, 10 per clear image clear/<k>.png: 13,990 hazy from
    # 1,399 clear (RESIDE paper; FFA-Net's loader maps a hazy name to <k>.png). Two archives
    # (hazy.zip and clear.zip of the ITS_v2 folder, unpacked side by side by public scripts).
    PairedDatasetEntry(
        "RESIDE_ITS", "dehaze", "train", (RESIDE_ITS_HAZY, RESIDE_ITS_CLEAR), "zip",
        "**/hazy/*.png", "**/clear/*.png", 13990,
        "RESIDE-Standard ITS (indoor training set): 10 hazy images per clear image",
        pairing=regex_pairing(r"^(\d+)_.*(\.png)$", r"\1\2"), gt_count=1399),
    # RESIDE-β OTS: 8,970 clear images x 35 hazy = 313,950 (a public script that counts the official
    # release checks exactly these numbers). The "8,477 clear" sometimes quoted could not be traced.
    # Hazy <k>_<A>_<beta>.jpg -> clear <k>.jpg (FFA-Net loader, format ".jpg").
    PairedDatasetEntry(
        "RESIDE_OTS", "dehaze", "train", RESIDE_OTS, "zip",
        "**/hazy/*", "**/clear/*", 313950,
        "RESIDE-β OTS (outdoor training set): 35 hazy images per clear image",
        pairing=regex_pairing(r"^(\d+)_.*(\.[^.]+)$", r"\1\2"),
        note="313,950 hazy / 8,970 clear from a third-party count of the release; the clear count is not checked"),
    # SOTS (RESIDE-Standard): indoor 500 hazy <k>_<i>.png from 50 gt <k>.png; outdoor 500 hazy
    # <k>_<A>_<beta>.jpg, gt <k>.png (a third-party count finds 492 outdoor gt files, so a few are
    # shared: the clear count is not checked).
    PairedDatasetEntry(
        "SOTS_indoor", "dehaze", "test", RESIDE_SOTS, "zip",
        "**/indoor/hazy/*", "**/indoor/gt/*", 500,
        "SOTS indoor test set: 10 hazy images per clear image",
        pairing=regex_pairing(r"^(\d+)_.*(\.[^.]+)$", r"\1\2"), gt_count=50),
    PairedDatasetEntry(
        "SOTS_outdoor", "dehaze", "test", RESIDE_SOTS, "zip",
        "**/outdoor/hazy/*", "**/outdoor/gt/*", 500,
        "SOTS outdoor test set (hazy JPEG, clear PNG)",
        pairing=regex_pairing(r"^(\d+)_.*\.[^.]+$", r"\1.png")),
    # RESIDE-6K (DehazeFormer): 3000 ITS + 3000 OTS training pairs, 1000 mixed test pairs, one clear
    # image per hazy image under the same name (DehazeFormer datasets/loader.py reads GT/<name> and
    # hazy/<name>).
    PairedDatasetEntry(
        "RESIDE6K_train", "dehaze", "train", RESIDE_6K, "zip",
        "**/train/hazy/*", "**/train/GT/*", 6000,
        "RESIDE-6K training pairs (DehazeFormer's mixed indoor/outdoor set)"),
    PairedDatasetEntry(
        "RESIDE6K_test", "dehaze", "test", RESIDE_6K, "zip",
        "**/test/hazy/*", "**/test/GT/*", 1000,
        "RESIDE-6K test pairs (DehazeFormer)"),
    # Real hazy photographs without ground truth, for no-reference metrics.
    PairedDatasetEntry(
        "RTTS", "dehaze", "test", RESIDE_RTTS, "zip", "**/JPEGImages/*", None, 4322,
        "RESIDE-β RTTS: real hazy photographs (object annotations unused), no ground truth",
        reference_free=True, note="count 4,322 from the RESIDE paper, unverified here"),
    PairedDatasetEntry(
        "URHI", "dehaze", "test", RESIDE_URHI, "zip", "**/*", None, 4809,
        "RESIDE-β unannotated real-world hazy images, no ground truth",
        reference_free=True, note="count 4,809 from the RESIDE paper, unverified here"),
    # --- denoise -------------------------------------------------------------------------
    # SIDD-Medium sRGB: 160 scene instances x 2 = 320 pairs, <scene>/NNNN_NOISY_SRGB_01x.PNG with
    # NNNN_GT_SRGB_01x.PNG beside it (Restormer generate_patches_sidd.py splits on GT/NOISY).
    PairedDatasetEntry(
        "SIDD_train", "denoise", "train", SIDD_MEDIUM_RESTORMER, "zip",
        "**/*_NOISY_SRGB_*", "**/*_GT_SRGB_*", 320,
        "SIDD-Medium sRGB training pairs (real smartphone noise), full-size images",
        pairing=regex_pairing("_NOISY_", "_GT_")),
    PairedDatasetEntry(
        "SIDD_val", "denoise", "test", SIDD_VALIDATION_RESTORMER, "zip",
        "**/ValidationNoisyBlocksSrgb.mat", "**/ValidationGtBlocksSrgb.mat", 1280,
        "SIDD validation: 1280 noisy/clean 256x256 sRGB blocks (40 images x 32), written as PNG pairs "
        "named <image>_<block> (two digits each, from 00)",
        pairing=MAT_BLOCKS),
    # --- real-world super-resolution (Cria-CL Tables I-III) ---------------------------------
    # RealSR V3 Canon x4. Test: Canon_001-050 (Cria-CL README "Test: Canon001-050"; csjcai/RealSR issue
    # #27: the V3 test folder holds 50 pairs per camera).
    PairedDatasetEntry(
        "RealSR_Canon_test", "realsr", "test", REALSR_V3, "tar.gz",
        "**/Canon/Test/4/*_LR4.png", "**/Canon/Test/4/*_HR.png", 50,
        "RealSR V3 Canon x4 test pairs Canon_001-050 (real LR/HR photographs, two focal lengths)",
        pairing=_REALSR_LR4, stem=_REALSR_STEM, scale=4, size_slack=_REALSR_SLACK,
        note="HR = 4 x LR not verified for every pair (see _REALSR_SLACK)"),
    PairedDatasetEntry(
        "RealSR_Canon_train", "realsr", "train", REALSR_V3, "tar.gz",
        "**/Canon/Train/4/*_LR4.png", "**/Canon/Train/4/*_HR.png", None,
        "RealSR V3 Canon x4 training pairs (all of RealSR(V3)/Canon/Train/4)",
        pairing=_REALSR_LR4, stem=_REALSR_STEM, scale=4, size_slack=_REALSR_SLACK,
        note=("pair count unknown: csjcai/RealSR states 459 training scenes for both cameras together, "
              "not per camera, and torchSR lists none; Cria-CL trains on '200 pairs' without naming them. "
              "The count found is printed and recorded at extraction. HR = 4 x LR not verified.")),
    # NTIRE 2020 Real-World SR track 1 validation set (Cria-CL's NTIRE2020 test set: "Validation
    # set", 100 DIV2K validation images). The GT names are 4 digits (the DIV2K ids 0801-0900, e.g.
    # track1-valid-gt/0801.png in the project notes); the inputs' names are longer and start with
    # the same 4 digits: the authors' test_demo.py saves each output as img_name[:4] and
    # caculate_metric.py looks it up by the GT's name. Pairs are therefore matched on those digits.
    PairedDatasetEntry(
        "NTIRE2020_T1_valid", "realsr", "test", (NTIRE20_T1_VALID_INPUT, NTIRE20_T1_VALID_GT), "zip",
        "**/track1-valid-input/*", "**/track1-valid-gt/*", 100,
        "NTIRE 2020 Real-World SR track 1 validation pairs 0801-0900 (x4; the corrupted input and "
        "the clean DIV2K image)",
        pairing=regex_pairing(r"^(\d{4})[^/]*(\.png)$", r"\1\2"), stem=r"/(\d{4})[^/]*\.png$", scale=4,
        note=("input file names unverified beyond 'they start with the GT's 4 digits' (RealSR-CCL "
              "test_demo.py); the authors' metric script compares whole images, so HR = 4 x LR is "
              "required exactly (no slack)")),
    # RealSR-Zero: 45 iPhone 4 photographs, no ground truth (NIQE/MOS only, Cria-CL Table I).
    PairedDatasetEntry(
        "RealSR_Zero", "realsr", "test", REALSR_ZERO, "zip", "**/*", None, 45,
        "RealSR-Zero: 45 real low-quality iPhone 4 photographs (2011-2013), no ground truth",
        reference_free=True, scale=4,
        note="count 45 from the RealSR-Zero README; the layout inside the zip is unverified (every image matches)"),
    # --- camera SR (Cria-CL Table IV) --------------------------------------------------------
    PairedDatasetEntry(
        "City100_iPhoneX_train", "camerasr", "train", CAMERASR_REPO, "zip",
        "**/City100/City100_iPhoneX/*L.PNG", "**/City100/City100_iPhoneX/*H.PNG", 80,
        "City100 iPhone X pairs 021-100 (same-size LR/HR photographs of printed city scenes)",
        pairing=_CITY100_PAIRING, stem=_CITY100_STEM,
        lq_filter=r"/(0(2[1-9]|[3-9]\d)|100)L\.PNG$"),
    PairedDatasetEntry(
        "City100_iPhoneX_test", "camerasr", "test", CAMERASR_REPO, "zip",
        "**/City100/City100_iPhoneX/*L.PNG", "**/City100/City100_iPhoneX/*H.PNG", 20,
        "City100 iPhone X test pairs 001-020 (Cria-CL README: 'Test: iPhoneX001L-020L')",
        pairing=_CITY100_PAIRING, stem=_CITY100_STEM,
        lq_filter=r"/0(0[1-9]|1\d|20)L\.PNG$"),
)


# --- pretrained weights ----------------------------------------------------------

_SWINIR = "https://github.com/JingyunLiang/SwinIR/releases/download/v0.0/"


def _swinir(scale: int, checksum: str, size: int) -> AssetEntry:
    filename = f"001_classicalSR_DIV2K_s48w8_SwinIR-M_x{scale}.pth"
    return AssetEntry(
        name=filename,
        source=Source(filename=filename, urls=(_SWINIR + filename,), checksum=checksum, size=size),
        backbone="swinir",
        scale=scale,
        task=f"x{scale}",
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
        task=f"x{scale}",
        description=f"RCAN (10 groups x 20 blocks, 64 channels) bicubic x{scale}, authors' checkpoint",
        archive="zip",
        member_glob=f"**/RCAN_BIX{scale}.pt",
    )


_RESTORMER_RELEASE = "https://github.com/swz30/Restormer/releases/download/v1.0/"


def _restormer_teacher(filename: str, task: str, description: str, note: str) -> AssetEntry:
    # Release v1.0 of swz30/Restormer; demo.py and the task READMEs load these file names
    # (Motion_Deblurring/pretrained_models/motion_deblurring.pth, Deraining/.../deraining.pth).
    return AssetEntry(
        name=filename,
        source=Source(filename=filename, urls=(_RESTORMER_RELEASE + filename,), checksum=None,
                      checksum_note=note),
        backbone="restormer",
        scale=1,
        task=task,
        description=description,
    )


NAFNET_GOPRO_WIDTH32 = Source(
    filename="NAFNet-GoPro-width32.pth",
    # megvii-research/NAFNet README.md and docs/GoPro.md: Google Drive file
    # 1Fr2QadtDCEXg6iwWX8OzeZLbHOx2t5Bj (and Baidu). The authors publish no checksum. sha256 and size
    # are those that three independent public projects pin for this file (a model-conversion README
    # listing the NAFNet checkpoints' sha256, a PowerShell installer that downloads it from the Drive
    # link above, and a tutorial pipeline that pins sha256 and 68671121 bytes and fetches it from the
    # Hugging Face copy below; they start with the 19394e61 also quoted elsewhere). The Hugging Face
    # copy is a third party's, safe as a mirror only because the sha256 is pinned.
    urls=(_GDRIVE.format("1Fr2QadtDCEXg6iwWX8OzeZLbHOx2t5Bj"),
          "https://huggingface.co/nyanko7/nafnet-models/resolve/main/NAFNet-GoPro-width32.pth"),
    checksum="19394e6155d12ef6371d1d57496f87f0ec88f92bdffa27c0792690722d5d1a5c",
    size=68671121,
    manual=("If no link works: download NAFNet-GoPro-width32.pth from the NAFNet authors' Google Drive "
            "https://drive.google.com/file/d/1Fr2QadtDCEXg6iwWX8OzeZLbHOx2t5Bj/view or Baidu "
            "https://pan.baidu.com/s/1AbgG0yoROHmrRQN7dgzDvQ?pwd=so6v (code so6v), both linked from "
            "github.com/megvii-research/NAFNet."),
)



# --- Uni-Removal: the official MPRNet releases (an option for its rain and blur teachers) ---------
# swz30/MPRNet README: Deraining/pretrained_models/model_deraining.pth (trained on Rain13K, not on
# Rain1400 as Uni-Removal's rain teacher) and Deblurring/pretrained_models/model_deblurring.pth
# (GoPro), each a Google Drive file; {'state_dict': ...} of MPRNet in [0, 1]. Widths: deraining
# 40/20/16 with 8 CABs, deblurring 96/48/32 (cir/models/mprnet.py PUBLIC_SIZES). No dehazing model
# exists. The authors publish no checksum.
def _mprnet_release(filename: str, drive_id: str, folder: str) -> Source:
    return Source(
        filename=filename, urls=(_GDRIVE.format(drive_id),), checksum=None,
        checksum_note=(f"The MPRNet authors publish no checksum or size for {filename} and none was found "
                       "elsewhere; pin the sha256 printed on first download."),
        manual=(f"Download {filename} from the MPRNet authors' Google Drive "
                f"https://drive.google.com/file/d/{drive_id}/view (linked from github.com/swz30/MPRNet, "
                f"{folder}/pretrained_models/README) and save it under this name. Licence: the MPRNet "
                "release is under its ACADEMIC PUBLIC LICENSE (non-commercial)."))


MPRNET_DERAINING = _mprnet_release("model_deraining.pth", "1O3WEJbcat7eTY6doXWeorAbQ1l_WmMnM", "Deraining")
MPRNET_DEBLURRING = _mprnet_release("model_deblurring.pth", "1QwQUVbk6YVOJViCsOKYNykCsdJSVGRtb", "Deblurring")

# --- Cria-CL: the network it starts from and its released models -------------------------

# ESRGAN's PSNR-oriented RRDB x4 (nf 64, nb 23, trained on DF2K). Cria-CL's public training config
# (House-Leo/RWSR-EDL codes/options/df2k/train_ntire.yml) loads the original RRDB_PSNR_x4.pth
# (xinntao/ESRGAN, Google Drive folder) with strict_load false. This is BasicSR's copy of that model:
# the file of BasicSR's scripts/download_pretrained_models.py (Google Drive id below), in BasicSR's
# format ({'params': state dict} with BasicSR's RRDBNet key names); that it holds the same weights
# as RRDB_PSNR_x4.pth is inferred from its "official" name, not checked. No https mirror on a GitHub
# release or elsewhere was found for either file.
_ESRGAN_PSNR = "ESRGAN_PSNR_SRx4_DF2K_official-150ff491.pth"
ESRGAN_PSNR_X4 = Source(
    filename=_ESRGAN_PSNR,
    urls=(_GDRIVE.format("1swaV5iBMFfg-DL6ZyiARztbhutDCWXMM"),),
    checksum=None,
    checksum_note=("BasicSR publishes only the sha256 prefix 150ff491 (in the file name, its naming convention; "
                   "cir checks the prefix after every download, see verify_name_hash_prefix); no full checksum "
                   "was found. Pin the sha256 printed on first download."),
    manual=("Download it from Google Drive, https://drive.google.com/file/d/1swaV5iBMFfg-DL6ZyiARztbhutDCWXMM/"
            f"view (BasicSR's scripts/download_pretrained_models.py, 'ESRGAN'), and save it as {_ESRGAN_PSNR}. "
            "The original RRDB_PSNR_x4.pth of github.com/xinntao/ESRGAN (its README's Google Drive folder "
            "https://drive.google.com/drive/u/0/folders/17VYV_SoZZesU6mbxz2dMAIccSSlqLecY) is a different "
            "file (plain state dict, old key names): do not save it under this name."),
)

# The released Cria-CL models: House-Leo/RealSR-CCL README "Pre-trained model [Google Drive]
# [Github Release]"; its test_demo.py loads model_zoo/NTIRE.pth strictly into RRDBNet(nf 64, nb 23).
# What else the zip holds (RealSR / CameraSR models?) and under which paths is not known: only
# NTIRE.pth is registered, matched anywhere in the zip.
CRIACL_MODELS = Source(
    filename="RealSR-CCL_model.zip",
    urls=("https://github.com/House-Leo/RealSR-CCL/releases/download/Premodel/model.zip",),
    checksum=None,
    checksum_note=("The Cria-CL authors publish no checksum or size for model.zip and none was found "
                   "elsewhere; pin the sha256 printed on first download."),
    manual=("Download model.zip from https://github.com/House-Leo/RealSR-CCL/releases/tag/Premodel or the "
            "authors' Google Drive file https://drive.google.com/file/d/1Aunk1UoZAWq45pr6tZkjsTMcc4Qv7lbO/view "
            "(both in the RealSR-CCL README) and save it, still zipped, as RealSR-CCL_model.zip."),
)

CRIACL_ASSETS: tuple[AssetEntry, ...] = (
    AssetEntry(
        name=_ESRGAN_PSNR,
        source=ESRGAN_PSNR_X4,
        backbone="criacl",
        scale=4,
        kind="init",
        description=("ESRGAN RRDB_PSNR x4 (nf 64, nb 23, DF2K), BasicSR's copy: the trunk Cria-CL's training "
                     "starts from (loaded non-strictly; the two-branch head starts random)"),
    ),
    AssetEntry(
        name="RealSR-CCL_NTIRE.pth",
        source=CRIACL_MODELS,
        backbone="criacl",
        scale=4,
        task="realsr_ntire",
        description=("Cria-CL (two-branch RRDB, nf 64, nb 23) x4 trained for NTIRE 2020 track 1; the authors' "
                     "release (plain state dict, RealSR-CCL models/ccl_RRDB.py key names)"),
        archive="zip",
        member_glob="**/NTIRE.pth",
    ),
)


# --- MCIR's baselines: the published models of its backbones (MCIR Tables 1-4, "official" rows)

_EDSR_MODELS = "https://cv.snu.ac.kr/research/EDSR/models/"


def _edsr_baseline(scale: int, prefix: str) -> AssetEntry:
    # sanghyun-son/EDSR-PyTorch src/model/edsr.py `url` table: r16f64x<scale>; torch.hub names the
    # file after the first 8 hex digits of its sha256 (checked after download, see verify_name_hash_prefix)
    filename = f"edsr_baseline_x{scale}-{prefix}.pt"
    return AssetEntry(
        name=filename,
        source=Source(filename=filename, urls=(_EDSR_MODELS + filename,), checksum=None,
                      checksum_note=(f"The EDSR authors publish only the sha256 prefix {prefix} (in the file "
                                     "name, checked after download); pin the full sha256 printed on first "
                                     "download.")),
        backbone="edsr",
        scale=scale,
        task=f"x{scale}",
        description=f"EDSR baseline (16 blocks x 64 channels) x{scale}, authors' checkpoint (MCIR's EDSR-light)",
    )


_DEHAZEFORMER_MODELS = ("the DehazeFormer authors' pretrained models (github.com/IDKiro/DehazeFormer README, "
                        "'Download the pretrained models': Google Drive or BaiduPan)")


def _dehazeformer(variant: str, folder: str, task: str, train_set: str) -> AssetEntry:
    filename = f"dehazeformer-{variant}_{folder}.pth"
    return AssetEntry(
        name=filename,
        source=_manual(filename, (f"Download save_models/{folder}/dehazeformer-{variant}.pth from "
                                  f"{_DEHAZEFORMER_MODELS} and save it as {filename}."),
                       "The DehazeFormer models are shared in a cloud-drive folder.", packed_by_hand=False),
        backbone=f"dehazeformer_{variant}",
        scale=1,
        task=task,
        description=(f"DehazeFormer-{variant.upper()} trained on {train_set}, authors' checkpoint "
                     "({'state_dict'} with DataParallel's 'module.' prefix)"),
    )


def _idt(set_name: str, task: str) -> AssetEntry:
    filename = f"IDT_{set_name}.pth"
    return AssetEntry(
        name=filename,
        source=_manual(filename, ("Download the IDT model trained on " + set_name + " from the IDT authors' "
                                  "Google Drive folder https://drive.google.com/drive/folders/"
                                  "1PrEwOyFPciWKHC_UFe5ZE7x9JqfUkUMP (github.com/jiexiaou/IDT README, "
                                  f"'Pretrained Model') and save it as {filename}."),
                       "The IDT models are shared in a cloud-drive folder.", packed_by_hand=False),
        backbone="idt",
        scale=1,
        task=task,
        description=f"IDT (embed 32, 128-pixel input) trained on {set_name}, authors' checkpoint (plain state dict)",
    )


MCIR_BASELINES: tuple[AssetEntry, ...] = (
    _edsr_baseline(2, "1bc95232"),
    _edsr_baseline(4, "6b446fab"),
    AssetEntry(
        name="002_lightweightSR_DIV2K_s64w8_SwinIR-S_x4.pth",
        source=Source(filename="002_lightweightSR_DIV2K_s64w8_SwinIR-S_x4.pth",
                      urls=(_SWINIR + "002_lightweightSR_DIV2K_s64w8_SwinIR-S_x4.pth",), checksum=None,
                      checksum_note=("The SwinIR authors publish no checksum; one third-party installer lists "
                                     "17225941 bytes for this file. Pin the sha256 printed on first download.")),
        backbone="swinir_light", scale=4, task="x4",
        description="SwinIR-S (lightweight: 60 channels, 4 RSTB x 6, pixelshuffledirect) x4, DIV2K; authors' release v0.0",
    ),
    AssetEntry(
        name="its_train_ffa_3_19.pk",
        source=_manual("its_train_ffa_3_19.pk",
                       ("Download trained_models/its_train_ffa_3_19.pk from the FFA-Net authors' Google Drive "
                        "folder https://drive.google.com/drive/folders/19_lSUPrpLDZl9AyewhHBsHidZEpTMIV5 "
                        "(github.com/zhilin007/FFA-Net README; also on BaiduPan) and save it under that name."),
                       "The FFA-Net models are shared in a cloud-drive folder.", packed_by_hand=False),
        backbone="ffanet", scale=1, task="dehaze_its",
        description="FFA-Net (3 groups x 19 blocks) trained on RESIDE ITS, authors' checkpoint (dict with 'model')",
    ),
    *(_dehazeformer(v, "indoor", "dehaze_its", "RESIDE ITS") for v in "tsb"),
    *(_dehazeformer(v, "reside6k", "dehaze_6k", "RESIDE-6K") for v in "tsb"),
    *(_idt(name, task) for name, task in (("Rain200L", "derain_rain200l"), ("Rain200H", "derain_rain200h"),
                                          ("DID-Data", "derain_did"), ("DDN-Data", "derain_ddn"),
                                          ("SPA-Data", "derain_spa"))),
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
        # --- scale-1 restoration teachers (DCKD Tables 3 and 4: the official Restormer and NAFNet)
        _restormer_teacher(
            "motion_deblurring.pth", "deblur",
            "Restormer (48 channels, 4/6/6/8 blocks) motion deblurring, trained on GoPro; authors' release v1.0",
            "The Restormer authors publish no checksum for motion_deblurring.pth and none was found "
            "elsewhere; pin the sha256 printed on first download."),
        _restormer_teacher(
            "deraining.pth", "derain",
            "Restormer (48 channels, 4/6/6/8 blocks) deraining, trained on Rain13K; authors' release v1.0",
            "The Restormer authors publish no checksum for deraining.pth. One public download script "
            "(a third party's) pins sha256 225ed9acf80b3527d7080e5182918f642a23a78ef8593ad700b7e924bd660681 "
            "for this URL; with a single unofficial source it is not pinned here: compare it with the "
            "sha256 printed on first download."),
        AssetEntry(
            name="NAFNet-GoPro-width32.pth",
            source=NAFNET_GOPRO_WIDTH32,
            backbone="nafnet",
            scale=1,
            task="deblur",
            description="NAFNet width 32 (36 blocks) trained on GoPro; authors' checkpoint (state dict under 'params')",
        ),
        # Uni-Removal's rain and blur teachers as the official MPRNet releases (experiments
        # ur_teacher_official_rain / _blur); the paper trains its own
        AssetEntry(name="model_deraining.pth", source=MPRNET_DERAINING, backbone="mprnet", scale=1, task="derain_ur",
                   description="MPRNet 40/20/16, 8 CABs, deraining, trained on Rain13K; authors' release ([0, 1] images)"),
        AssetEntry(name="model_deblurring.pth", source=MPRNET_DEBLURRING, backbone="mprnet", scale=1, task="deblur_ur",
                   description="MPRNet 96/48/32, 8 CABs, deblurring, trained on GoPro; authors' release ([0, 1] images)"),
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
        # --- torchvision's ImageNet VGG weights: the feature encoder of perceptual/contrastive
        # losses (MCIR's SPN: VGG16; DRCNet, Cria-CL: VGG19). torchvision's file names carry the
        # first 8 hex digits of the sha256 (its download checks them).
        AssetEntry(
            name="vgg16-397923af.pth",
            source=Source(
                filename="vgg16-397923af.pth",
                urls=("https://download.pytorch.org/models/vgg16-397923af.pth",),
                # full sha256 and size as listed by several independent public projects that pin this
                # file; its first 8 digits are torchvision's own (the file name)
                checksum="397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
                size=553433881,
            ),
            backbone="vgg16", scale=None, kind="encoder",
            description="torchvision VGG16 IMAGENET1K_V1 (MCIR's SPN loss: relu1_2/2_2/3_3)",
        ),
        AssetEntry(
            name="vgg19-dcbb9e9d.pth",
            source=Source(
                filename="vgg19-dcbb9e9d.pth",
                urls=("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",),
                checksum=None,
                checksum_note=("torchvision publishes only the first 8 hex digits of its sha256 "
                               "(dcbb9e9d, in the file name); pin the full sha256 printed on first download."),
            ),
            backbone="vgg19", scale=None, kind="encoder",
            description="torchvision VGG19 IMAGENET1K_V1 (DRCNet/AECR-Net CR, Cria-CL perceptual loss)",
        ),
        *MCIR_BASELINES,
        *CRIACL_ASSETS,
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


def get_paired_dataset(name: str) -> PairedDatasetEntry:
    return _lookup(PAIRED_DATASETS, "paired data set", name)


def get_any_dataset(name: str) -> DatasetEntry | PairedDatasetEntry:
    """The entry of ``name`` in :data:`DATASETS` or :data:`PAIRED_DATASETS` (names are unique across both)."""
    if name in PAIRED_DATASETS:
        return PAIRED_DATASETS[name]
    return _lookup({**DATASETS, **PAIRED_DATASETS}, "data set", name)


def official_teacher_asset(backbone: str, task: str, arch: str | None = None) -> str:
    """Name of the released weight file for ``backbone`` on ``task``: the entry of the backbone
    itself, else the one of its architecture ``arch`` (``swinir_m`` -> SwinIR-M's ``swinir``).

    ``task`` is a cir task name: ``x2`` ... ``x8`` (super-resolution) or a scale-1 restoration
    task (``deblur``, ``derain``, ``dehaze_its``, ...).
    """
    teachers = {f"{e.backbone} {e.task}": e.name for e in ASSETS.values() if e.kind == "teacher"}
    key = f"{backbone} {task}"
    if key not in teachers and arch:
        key = f"{arch} {task}" if f"{arch} {task}" in teachers else key
    if key not in teachers:
        raise UnknownNameError("released teacher", key, teachers)
    return teachers[key]

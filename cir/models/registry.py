"""Build restoration networks by name through spandrel and record how they were built.

A *model spec* is the plain dict ``{"arch": name, "scale": s, "params": {...}}``; it is
stored in every checkpoint so that a checkpoint file alone rebuilds its network.

Networks: SwinIR and RCAN (super-resolution, scale 2-4) and NAFNet and Restormer (deblurring
and deraining, scale 1), and the networks of cir's own modules (EDSR, FFA-Net, DehazeFormer,
DRCNet, IDT, Cria-CL, MPRNet: ``cir/models/<name>.py``). Every network accepts inputs of any
size: the ones whose down-sampling or windows need a multiple of some size pad internally and
crop the output back (:func:`pad_multiple`; also ``model.cir_pad_multiple``). The module classes
are spandrel's (or subclasses that only change how the input is padded or copied), so the
state-dict keys are those of the official releases and official weights load with
``load_state_dict``; the networks spandrel does not read (or, for MPRNet, that cir wraps) read
their official files through their own converter (``Architecture.convert``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cir.errors import CirError, UnknownNameError


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad ``x`` at the bottom and right to a multiple of ``multiple``: by reflection where the
    image is large enough (torch's reflection needs padding < size), else by edge replication."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def _swinir(scale: int, **params: Any) -> nn.Module:
    from spandrel.architectures.SwinIR import SwinIR

    class PaddingSwinIR(SwinIR):
        """spandrel's SwinIR pads its input to a multiple of the window by reflection, which
        fails for inputs smaller than the padding; replicate there instead.

        Subclassing keeps the state-dict keys identical to the official checkpoints.
        """

        def check_image_size(self, x: torch.Tensor) -> torch.Tensor:
            return pad_to_multiple(x, self.window_size)

    kwargs = dict(
        upscale=scale,
        img_size=48,
        window_size=8,
        img_range=1.0,
        mlp_ratio=2.0,
        upsampler="pixelshuffle",
        resi_connection="1conv",
    )
    kwargs.update(params)
    return PaddingSwinIR(**kwargs)


def _rcan(scale: int, **params: Any) -> nn.Module:
    from spandrel.architectures.RCAN import RCAN

    class CopyingRCAN(RCAN):
        """spandrel's RCAN scales its input in place (``x *= rgb_range``); give it a copy.

        Subclassing keeps the state-dict keys identical to the official checkpoints.
        """

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x.clone())

    kwargs = dict(scale=scale, rgb_range=255)
    kwargs.update(params)
    return CopyingRCAN(**kwargs)


def _require_scale_1(arch: str, scale: int) -> None:
    if scale != 1:
        raise CirError(f"architecture {arch!r} restores at scale 1 (same input and output size: "
                       f"deblurring, deraining); got scale {scale}")


# NAFNet-GoPro-width32, the official deblurring model (DCKD Table 1's NAFNet teacher)
NAFNET_DEFAULTS = {"img_channel": 3, "width": 32, "middle_blk_num": 1, "enc_blk_nums": [1, 1, 1, 28],
                   "dec_blk_nums": [1, 1, 1, 1]}


def _nafnet(scale: int, *, tlc: bool = False, tlc_train_size: int | list[int] = 256,
            tlc_base_size: int | list[int] | None = None, **params: Any) -> nn.Module:
    """spandrel's NAFNet; it zero-pads its input to a multiple of ``2 ** len(enc_blk_nums)`` and
    crops the output, as the official code does. ``tlc=True`` switches on test-time local
    statistics (:mod:`cir.models.tlc`) for ``tlc_train_size`` training patches."""
    from spandrel.architectures.NAFNet import NAFNet

    _require_scale_1("nafnet", scale)
    if not isinstance(tlc, bool):
        raise CirError(f"architecture 'nafnet': tlc must be true or false; got {tlc!r}")
    kwargs = dict(NAFNET_DEFAULTS)
    kwargs.update(params)
    model = NAFNet(**kwargs)
    if tlc:
        from cir.models.tlc import enable_tlc

        enable_tlc(model, tlc_train_size, tlc_base_size)
    return model


RESTORMER_MULTIPLE = 8  # three 2x pixel-unshuffle down-samplings


def _import_extra_arches():
    """Import spandrel_extra_arches; its package import also loads CodeFormer, whose
    ``@torch.jit.script`` raises a deprecation warning on recent torch that concerns no cir code."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
        import spandrel_extra_arches
        import spandrel_extra_arches.architectures.MPRNet
        import spandrel_extra_arches.architectures.Restormer
    return spandrel_extra_arches


def _restormer(scale: int, **params: Any) -> nn.Module:
    """Restormer from spandrel_extra_arches (its defaults are the official deblurring/deraining
    model: dim 48, blocks [4, 6, 6, 8], 4 refinement blocks)."""
    _require_scale_1("restormer", scale)
    Restormer = _import_extra_arches().architectures.Restormer.Restormer

    class PaddingRestormer(Restormer):
        """Reflect-pads the input to a multiple of 8 (bottom/right, as the official test scripts
        do) and crops the output back; the released Restormer needs that multiple.

        Subclassing keeps the state-dict keys identical to the official checkpoints.
        """

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h, w = x.shape[-2:]
            return super().forward(pad_to_multiple(x, RESTORMER_MULTIPLE))[..., :h, :w]

    return PaddingRestormer(**params)


def _edsr(scale: int, **params: Any) -> nn.Module:
    from cir.models.edsr import build_edsr

    return build_edsr(scale, **params)


def _ffanet(scale: int, **params: Any) -> nn.Module:
    """FFA-Net; ``input_norm`` defaults to true here: the official and MCLIR pipelines both feed it
    normalised images (cir/models/ffanet.py)."""
    from cir.models.ffanet import build_ffanet

    return build_ffanet(scale, **{"input_norm": True, **params})


def _dehazeformer(scale: int, **params: Any) -> nn.Module:
    from cir.models.dehazeformer import build_dehazeformer

    return build_dehazeformer(scale, **params)


def _drcnet(scale: int, **params: Any) -> nn.Module:
    from cir.models.drcnet import build_drcnet

    return build_drcnet(scale, **params)


def _idt(scale: int, **params: Any) -> nn.Module:
    from cir.models.idt import build_idt

    return build_idt(scale, **params)


def _criacl(scale: int, **params: Any) -> nn.Module:
    from cir.models.criacl import build_criacl

    return build_criacl(scale, **params)


def _mprnet(scale: int, **params: Any) -> nn.Module:
    from cir.models.mprnet import build_mprnet

    return build_mprnet(scale, **params)


def _convert_mprnet(obj: Any, scale: int, params: dict[str, Any]) -> dict[str, torch.Tensor]:
    from cir.models.mprnet import convert_official

    return convert_official(obj, scale, **params)


def _is_mprnet(obj: Any) -> bool:
    from cir.models.mprnet import is_mprnet_state

    return is_mprnet_state(obj)


def _convert_criacl(obj: Any, scale: int, params: dict[str, Any]) -> dict[str, torch.Tensor]:
    from cir.models.criacl import convert_official

    return convert_official(obj, scale, **params)


def _is_criacl(obj: Any) -> bool:
    from cir.models.criacl import is_criacl_state

    return is_criacl_state(obj)


def _convert_dehazeformer(obj: Any, scale: int, params: dict[str, Any]) -> dict[str, torch.Tensor]:
    from cir.models.dehazeformer import convert_official

    with torch.device("meta"):  # shapes only
        reference = _dehazeformer(scale, **params)
    return convert_official(obj, model=reference)


def _convert_idt(obj: Any, scale: int, params: dict[str, Any]) -> dict[str, torch.Tensor]:
    from cir.models.idt import convert_official

    return convert_official(obj, **params)


def _convert_edsr(obj: Any, scale: int, params: dict[str, Any]) -> dict[str, torch.Tensor]:
    from cir.models.edsr import convert_official

    return convert_official(obj, scale, **params)


def _convert_ffanet(obj: Any, scale: int, params: dict[str, Any]) -> dict[str, torch.Tensor]:
    from cir.models.ffanet import convert_official

    return convert_official(obj, **{k: v for k, v in params.items() if k != "input_norm"})


@dataclass(frozen=True)
class Architecture:
    name: str
    builder: Callable[..., nn.Module]
    spandrel_name: str  # the architecture id spandrel reports for an official weight file ("": none)
    citation: str
    scale_one: bool = False  # restores at scale 1 only (deblurring, deraining, ...); else an SR network
    # turns an official weight file (what torch.load returns) into a state dict for
    # build_model(name, scale, **params); for the networks spandrel does not know
    convert: Callable[[Any, int, dict[str, Any]], dict[str, torch.Tensor]] | None = None
    # recognises this network's official files (what torch.load returns) before spandrel sees
    # them: for a file spandrel would misread (Cria-CL's: read as ESRGAN, head dropped)
    recognise: Callable[[Any], bool] | None = None


ARCHITECTURES: dict[str, Architecture] = {
    "swinir": Architecture("swinir", _swinir, "SwinIR", "Liang et al., SwinIR, ICCVW 2021"),
    "rcan": Architecture("rcan", _rcan, "RCAN", "Zhang et al., RCAN, ECCV 2018"),
    "nafnet": Architecture("nafnet", _nafnet, "NAFNet",
                           "Chen et al., Simple Baselines for Image Restoration (NAFNet), ECCV 2022", scale_one=True),
    "restormer": Architecture("restormer", _restormer, "Restormer",
                              "Zamir et al., Restormer, CVPR 2022", scale_one=True),
    "edsr": Architecture("edsr", _edsr, "", "Lim et al., EDSR, CVPRW 2017 (cir/models/edsr.py)",
                         convert=_convert_edsr),
    "ffanet": Architecture("ffanet", _ffanet, "", "Qin et al., FFA-Net, AAAI 2020 (cir/models/ffanet.py)",
                           scale_one=True, convert=_convert_ffanet),
    "dehazeformer": Architecture("dehazeformer", _dehazeformer, "",
                                 "Song et al., DehazeFormer, IEEE TIP 2023 (cir/models/dehazeformer.py)",
                                 scale_one=True, convert=_convert_dehazeformer),
    "drcnet": Architecture("drcnet", _drcnet, "", "Li et al., DRCNet: Dynamic Image Restoration Contrastive "
                           "Network, ECCV 2022 (cir/models/drcnet.py)", scale_one=True),
    "idt": Architecture("idt", _idt, "", "Xiao et al., Image De-raining Transformer, IEEE TPAMI 2023 "
                        "(cir/models/idt.py)", scale_one=True, convert=_convert_idt),
    "criacl": Architecture("criacl", _criacl, "", "Shi et al., Criteria Comparative Learning for Real-scene "
                           "Image Super-Resolution (Cria-CL), IEEE TCSVT 2022 (cir/models/criacl.py)",
                           convert=_convert_criacl, recognise=_is_criacl),
    # spandrel (with the extra arches) knows MPRNet, but cir's module is a wrapper (keys under
    # ``net.``, value range): official files go through the converter, never through spandrel
    "mprnet": Architecture("mprnet", _mprnet, "", "Zamir et al., Multi-Stage Progressive Image Restoration "
                           "(MPRNet), CVPR 2021; Uni-Removal's backbone (cir/models/mprnet.py)",
                           scale_one=True, convert=_convert_mprnet, recognise=_is_mprnet),
}


def pad_multiple(arch: str, params: dict[str, Any] | None = None) -> int:
    """The size multiple ``arch`` pads its input to internally (1: none).

    Every registry network takes any input size; an input (or inference tile) that is already a
    multiple of this needs no padding. SwinIR: its window (reflection); NAFNet:
    ``2 ** len(enc_blk_nums)`` (zeros); Restormer: 8 (reflection); MPRNet: 8 (reflection); RCAN: 1.
    """
    params = params or {}
    if arch == "swinir":
        return int(params.get("window_size", 8))
    if arch == "rcan":
        return 1
    if arch == "nafnet":
        return 2 ** len(params.get("enc_blk_nums", NAFNET_DEFAULTS["enc_blk_nums"]))
    if arch == "restormer":
        return RESTORMER_MULTIPLE
    if arch in ("criacl", "edsr", "ffanet"):
        return 1
    if arch == "dehazeformer":
        from cir.models.dehazeformer import pad_multiple as dehazeformer_multiple

        return dehazeformer_multiple(params)
    if arch == "drcnet":
        from cir.models.drcnet import pad_multiple as drcnet_multiple

        return drcnet_multiple(params)
    if arch == "mprnet":
        from cir.models.mprnet import PAD_MULTIPLE as mprnet_multiple

        return mprnet_multiple  # two patch splits and two down-samplings (reflection)
    if arch == "idt":
        return 1  # it tiles any input at its fixed training size (cir/models/idt.py)
    raise UnknownNameError("architecture", arch, ARCHITECTURES)


def build_model(arch: str, scale: int, **params: Any) -> nn.Module:
    """Build ``arch`` for factor ``scale`` (1 for NAFNet and Restormer); ``params`` are the
    constructor's keywords (NAFNet also takes ``tlc``, ``tlc_train_size``, ``tlc_base_size``)."""
    if arch not in ARCHITECTURES:
        raise UnknownNameError("architecture", arch, ARCHITECTURES)
    try:
        model = ARCHITECTURES[arch].builder(int(scale), **params)
    except TypeError as exc:  # an unknown keyword for the constructor
        raise CirError(f"architecture {arch!r}: bad parameters {sorted(params)}: {exc}") from exc
    model.cir_spec = {"arch": arch, "scale": int(scale), "params": dict(params)}
    model.cir_pad_multiple = pad_multiple(arch, params)
    return model


def model_spec(model: nn.Module) -> dict:
    spec = getattr(model, "cir_spec", None)
    if spec is None:
        raise CirError("model was not built by cir.models.build_model; it has no spec to record")
    return spec


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_model_file(path: str | Path, *, expect_arch: str | None = None, expect_scale: int | None = None,
                    weights: str = "auto", params: dict[str, Any] | None = None) -> nn.Module:
    """Load a network from a cir checkpoint or from an official weight file.

    cir checkpoints carry their model spec; ``weights`` picks ``"ema"``, ``"model"`` or
    ``"auto"`` (EMA weights when the checkpoint has them). Any other file is handed to
    spandrel, which recognises the official SwinIR, RCAN, NAFNet and Restormer releases
    (Restormer through spandrel_extra_arches); its architecture and scale must match
    ``expect_arch``/``expect_scale`` when given. The networks spandrel does not know (EDSR,
    FFA-Net, ...) read their official files through their own converter: ``expect_arch`` and
    ``expect_scale`` are then required, ``params`` are the network's (default: the official
    configuration).
    """
    path = Path(path)
    if not path.is_file():
        raise CirError(f"weight file not found: {path}")
    obj = _read_weights(path)
    if isinstance(obj, dict) and "model_spec" in obj:
        spec = obj["model_spec"]
        model = build_model(spec["arch"], spec["scale"], **spec["params"])
        key = weights
        if weights == "auto":
            key = "ema" if obj.get("ema") is not None else "model"
        if obj.get(key) is None:
            raise CirError(f"checkpoint {path} has no {key!r} weights")
        model.load_state_dict(obj[key])
        _check_expectations(path, spec["arch"], spec["scale"], expect_arch, expect_scale)
        return model
    entry = ARCHITECTURES.get(expect_arch) if expect_arch else None
    if entry is None:  # a file spandrel would misread never reaches it
        entry = next((a for a in ARCHITECTURES.values() if a.recognise is not None and a.recognise(obj)), None)
    if entry is not None and entry.convert is not None:
        return _load_converted(path, obj, entry, expect_scale, dict(params or {}))
    return _load_official(path, expect_arch, expect_scale)


def _read_weights(path: Path) -> Any:
    """``torch.load`` with ``weights_only=True``. Some releases also pickle numpy scalars (FFA-Net's
    ``.pk`` keeps its best PSNR/SSIM beside the weights): numpy scalar and dtype objects are data,
    so a second try allows those, and nothing else."""
    import pickle

    import numpy as np

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "numpy" not in str(exc):
            raise CirError(f"cannot read weight file {path}: {exc}") from exc
    except Exception as exc:
        raise CirError(f"cannot read weight file {path}: {exc}") from exc
    from numpy._core.multiarray import scalar  # numpy >= 2 (pinned in constraints.txt)

    numpy_data = [np.dtype, scalar, *(getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType"))]
    try:
        with torch.serialization.safe_globals(numpy_data):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CirError(f"cannot read weight file {path}: {exc}") from exc


def _load_converted(path: Path, obj: Any, entry: Architecture, scale: int | None,
                    params: dict[str, Any]) -> nn.Module:
    if scale is None:
        scale = 1 if entry.scale_one else None
    if scale is None:
        raise CirError(f"{path}: reading an official {entry.name} file needs its scale (expect_scale)")
    try:
        state = entry.convert(obj, int(scale), params)
    except CirError as exc:
        raise CirError(f"{path}: {exc}") from exc
    model = build_model(entry.name, int(scale), **params)
    model.load_state_dict(state, strict=True)
    return model


def _check_expectations(path: Path, arch: str, scale: int, expect_arch: str | None,
                        expect_scale: int | None) -> None:
    if expect_arch is not None and arch != expect_arch:
        raise CirError(f"{path}: holds a {arch!r} network, expected {expect_arch!r}")
    if expect_scale is not None and int(scale) != int(expect_scale):
        raise CirError(f"{path}: holds a x{scale} network, expected x{expect_scale}")


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


_EXTRA_ARCHES_INSTALLED = False


def _install_extra_arches() -> None:
    """Register spandrel_extra_arches (Restormer; MPRNet files never reach spandrel: the
    ``mprnet`` entry recognises them first) with spandrel's main registry, once."""
    global _EXTRA_ARCHES_INSTALLED
    if not _EXTRA_ARCHES_INSTALLED:
        _import_extra_arches().install(ignore_duplicates=True)
        _EXTRA_ARCHES_INSTALLED = True


def _load_official(path: Path, expect_arch: str | None, expect_scale: int | None) -> nn.Module:
    import spandrel

    _install_extra_arches()
    try:
        descriptor = spandrel.ModelLoader(device="cpu").load_from_file(path)
    except Exception as exc:
        raise CirError(f"{path}: not a cir checkpoint and not a weight file spandrel recognises: {exc}") from exc
    by_spandrel = {a.spandrel_name: a.name for a in ARCHITECTURES.values() if a.spandrel_name}
    arch = by_spandrel.get(descriptor.architecture.id)
    if arch is None:
        raise CirError(f"{path}: architecture {descriptor.architecture.id!r} is not one of "
                       f"{sorted(by_spandrel)}")
    _check_expectations(path, arch, descriptor.scale, expect_arch, expect_scale)
    # Rebuild through the registry so that training uses the same module classes as ours.
    # Only plain values go into the spec (it is stored in checkpoints read with
    # weights_only=True); callables such as norm_layer/conv are the constructors' defaults.
    params = {k: v for k, v in descriptor.model.hyperparameters.items()
              if k not in ("upscale", "scale") and _plain(v)}
    model = build_model(arch, descriptor.scale, **params)
    model.load_state_dict(descriptor.model.state_dict())
    return model

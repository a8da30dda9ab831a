"""Cria-CL's generator and discriminator (Shi, Li, Zhang, Yang and Wang, "Criteria Comparative
Learning for Real-scene Image Super-Resolution", IEEE TCSVT 2022; paper seed 004).

No maintained package has the two-branch network, so it is written here from the paper and the
project's notes (``reference/papers/criacl.md``). The public test code
(github.com/House-Leo/RealSR-CCL, ``models/ccl_RRDB.py``) and the authors' training code base
(github.com/House-Leo/RWSR-EDL, ``codes/models/modules/RRDBNet_arch.py`` and
``discriminator_vgg_arch.py``) were read for the layer layout and the state-dict key names only,
so that the released weights (``model_zoo/NTIRE.pth`` and the others of ``model.zip``: plain
state dicts) load with ``load_state_dict``.

Generator (:class:`CriaCLNet`; key names of the public code in brackets):

- ESRGAN's RRDB trunk (Wang et al., ECCV Workshops 2018): a 3x3 conv [``conv_first``]; ``nb``
  residual-in-residual dense blocks [``RRDB_trunk.<i>.RDB{1,2,3}.conv{1..5}``; 5 convs of growth
  ``gc``, LeakyReLU 0.2, residual scaling 0.2 in each dense block and in each RRDB]; a 3x3 conv
  [``trunk_conv``] and a skip from ``conv_first``. Then the reconstruction: two stages of
  (nearest x2, 3x3 conv, LeakyReLU) [``upconv1``, ``upconv2``], a 3x3 conv and LeakyReLU
  [``HRconv``] and a 3x3 conv to RGB [``conv_last``]. Every conv has a bias; as in the code, only
  the dense-block convs get a special initialisation (Kaiming, times 0.1, zero bias).
- Residual block "RB" (both heads): ``lrelu(conv3x3(lrelu(conv3x3(x)))) + conv1x1(x)``, slope 0.2,
  all with bias [``<RB>.block.0``, ``<RB>.block.2`` (3x3), ``<RB>.conv`` (the 1x1 shortcut)]. The
  shortcut is always a 1x1 conv, also when the widths agree.

Three heads, selected by ``head`` (``"none"``: no head at all, ESRGAN's RRDB network whose
output is ``mid``: the rows of Table V without the spatial-view projection):

- ``"code"`` (default: the network of the released weights and the only one that loads them; a
  preset that follows the paper's text sets ``head: paper``). The trunk's RGB output
  ``mid`` (at HR size) feeds three stacks of RB(3->nf), RB(nf->nf), RB(nf->nf): the mask net
  [``sm``; followed by a softmax over its ``nf`` channels], ``branch1`` and ``branch2``.
  ``out1 = tail_conv1(mask * branch1(mid))``, ``out2 = tail_conv2((1 - mask) * branch2(mid))``
  [3x3 convs nf->3], ``out = out1 + out2``. The mask is an ``nf``-channel map that sums to one
  over its channels at every pixel; ``1 - mask`` is not a softmax (it sums to ``nf - 1``).
- ``"paper"`` (Sec. III, "Model Details" and eq. 10). Choices where the paper is silent:

  * *Where the branches sit.* "Two sub-branches at the end of RRDBs ... we send the intermediate
    output of RRDBs into two sub-branches": here each branch, three RB(nf->nf), reads the trunk's
    ``nf``-channel features (after ``trunk_conv`` and the skip, at LR size). Both branch outputs
    then go through the *shared* reconstruction (``upconv1/2``, ``HRconv``, ``conv_last``, run
    once on the two stacked along the batch), which gives the HR images ``I_unif`` (branch 1)
    and ``I_align`` (branch 2). Sharing the reconstruction keeps every ESRGAN layer, so ESRGAN weights (in the new-arch key names)
    initialise all of it, as the public configuration does with ``RRDB_PSNR_x4.pth``.
  * *The spatial projector* ``F_beta`` [``sm``] = RB(3->nf), RB(nf->nf), RB(nf->2) on the
    *original LR image*, then the up-sampling to the output size (``mask_upsample``: bilinear by
    default so that the masks carry no 4x4 blocks; ``"nearest"`` as an option), then a softmax over
    the two channels: ``S`` (channel 0) and ``S~ = 1 - S`` (channel 1). The paper's wording
    "three Residual blocks, an upsampling operation and a softmax" fixes the order, not the
    widths; two output channels make ``[S, S~]`` one softmax.
  * Output (eq. 10): ``I_SR = I_align * S + I_unif * S~``. The sentence after the equation
    calls ``[S, S~]`` the masks "for I_unif and I_align", the reverse order; the equation is
    followed. There are no ``tail_conv`` layers.

``forward(x)`` returns the fused image. ``forward(x, branches=True)`` returns the tuple
``(out, out_unif, out_align)``; in the code's naming ``(out, out1, out2)``. **out1 (branch 1,
weighted by the mask) is the adversarial "unif" branch and out2 (branch 2, weighted by
1 - mask) is the pixel "align" branch**: the training code adds the RaGAN loss of out1 and the L1
loss of out2 (notes, Sec. 1.2). With the code head ``out == out1 + out2`` (each branch is
already masked); with the paper head the two are unmasked images and
``out == out_align * S + out_unif * S~``. :meth:`CriaCLNet.parts` returns all of them and the
masks (for the paper's mask-weighted criteria, Fig. 4).

Scale. ``scale=4``: the two nearest x2 up-samplings. ``scale=1`` (CameraSR, whose LR and HR
images have the same size): the same layers and keys without the interpolation, as the public
code's comment ("remove interpolation when test CameraSR") says; the paper head's masks are then
not resized. Input and output images are in [0, 1], as in the public test code.

Sizes. The public configuration (nf 64, nb 23, gc 32, code head) has 17,286,473 parameters
(:data:`PUBLIC_PARAMS`; the ESRGAN part is 16,697,987 of them): Table VII prints 14.8 M, which no
``nb`` gives (nb 19: 14.41 M, nb 20: 15.13 M). The paper head at nb 23 has 17,284,397
(:data:`PAPER_HEAD_PARAMS`): 468,096 in the two branches and 118,314 in ``F_beta``, no tails.

Discriminator (:class:`PatchDiscriminator`, in :mod:`cir.models.discriminator`, shared with
Uni-Removal): the code's ``NLayerDiscriminator`` (pix2pix's
PatchGAN): 4x4 convs, ``ndf`` filters doubling up to 8x, ``n_layers`` stride-2 stages, a stride-1
stage and a 1-channel stride-1 output conv, BatchNorm and LeakyReLU 0.2 [``model.<i>``]. As in
that code the convs followed by a norm have no bias. ``ndf=64, n_layers=3``: 2,765,633 parameters
(:data:`PUBLIC_D_PARAMS`; the notes' "about 2.77 M"), plus the BatchNorm running statistics
(buffers, not parameters). ``norm="none"`` puts identities where the norms were (same key
indices) and gives those convs a bias, since no norm shift follows them.

spandrel recognises a Cria-CL weight file as ESRGAN and drops the head without a word (its key
conversion keeps only the trunk), which would leave a plain RRDB that outputs ``mid``. The
registry therefore reads these files itself (:func:`convert_official`, :func:`is_criacl_state`)
and never hands them to spandrel; :func:`load_criacl_state` refuses a state dict without the
head.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cir.errors import CirError, ConfigError
from cir.models.discriminator import (  # noqa: F401 - Cria-CL's discriminator, re-exported
    PATCH_D_DEFAULTS,
    PUBLIC_D_PARAMS,
    PatchDiscriminator,
    build_patch_discriminator,
)
from cir.models.weights import check_state_dict, expected_shapes, unwrap_state_dict

CITATION = ("Y. Shi, H. Li, S. Zhang, Z. Yang and X. Wang, Criteria Comparative Learning for Real-scene "
            "Image Super-Resolution, IEEE TCSVT 2022; public code github.com/House-Leo/RealSR-CCL")

HEADS = ("code", "paper", "none")
MASK_UPSAMPLE = ("bilinear", "nearest")
SCALES = (1, 4)

CRIACL_DEFAULTS: dict[str, Any] = {"nf": 64, "nb": 23, "gc": 32, "head": "code", "mask_upsample": "bilinear"}

# Measured on the modules below (nf 64, nb 23, gc 32).
PUBLIC_PARAMS = 17_286_473  # code head: the released networks
PAPER_HEAD_PARAMS = 17_284_397  # paper head
ESRGAN_PARAMS = 16_697_987  # the trunk and reconstruction alone (ESRGAN's RRDBNet)
PUBLISHED_PARAMS_M = 14.8  # Table VII, "Params (M)"


PAD_MULTIPLE = 1  # fully convolutional: any input size

# State-dict prefixes of the two-branch head (code head; the paper head has no tails)
HEAD_PREFIXES = ("branch1.", "branch2.", "sm.", "tail_conv1.", "tail_conv2.")


def _conv3(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=True)


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convs with dense connections (growth ``gc``), LeakyReLU 0.2 after the first four;
    output ``0.2 * conv5(...) + x``."""

    def __init__(self, nf: int, gc: int):
        super().__init__()
        self.conv1 = _conv3(nf, gc)
        self.conv2 = _conv3(nf + gc, gc)
        self.conv3 = _conv3(nf + 2 * gc, gc)
        self.conv4 = _conv3(nf + 3 * gc, gc)
        self.conv5 = _conv3(nf + 4 * gc, nf)
        self.lrelu = nn.LeakyReLU(0.2)
        with torch.no_grad():  # the code's initialize_weights(..., 0.1)
            for conv in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
                nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
                conv.weight.mul_(0.1)
                conv.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual in residual dense block: three dense blocks, output ``0.2 * rdbs(x) + x``."""

    def __init__(self, nf: int, gc: int):
        super().__init__()
        self.RDB1 = ResidualDenseBlock(nf, gc)
        self.RDB2 = ResidualDenseBlock(nf, gc)
        self.RDB3 = ResidualDenseBlock(nf, gc)

    def forward(self, x: Tensor) -> Tensor:
        return self.RDB3(self.RDB2(self.RDB1(x))) * 0.2 + x


class RB(nn.Module):
    """Residual block of the heads: ``lrelu(conv3(lrelu(conv3(x)))) + conv1x1(x)`` (slope 0.2)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.block = nn.Sequential(_conv3(in_ch, out_ch), nn.LeakyReLU(0.2), _conv3(out_ch, out_ch),
                                   nn.LeakyReLU(0.2))
        self.conv = nn.Conv2d(in_ch, out_ch, 1, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x) + self.conv(x)


def _rb_stack(in_ch: int, nf: int, out_ch: int | None = None) -> list[nn.Module]:
    return [RB(in_ch, nf), RB(nf, nf), RB(nf, nf if out_ch is None else out_ch)]


class CriaCLNet(nn.Module):
    """Cria-CL's two-branch RRDB network for ``scale`` 4 or 1; see the module docstring. Build it
    with :func:`build_criacl` (which validates the parameters)."""

    def __init__(self, scale: int = 4, nf: int = 64, nb: int = 23, gc: int = 32, head: str = "code",
                 mask_upsample: str = "bilinear"):
        super().__init__()
        _validate(scale=scale, nf=nf, nb=nb, gc=gc, head=head, mask_upsample=mask_upsample)
        self.scale, self.head, self.mask_upsample = int(scale), head, mask_upsample
        self.conv_first = _conv3(3, nf)
        self.RRDB_trunk = nn.Sequential(*[RRDB(nf, gc) for _ in range(nb)])
        self.trunk_conv = _conv3(nf, nf)
        self.upconv1 = _conv3(nf, nf)
        self.upconv2 = _conv3(nf, nf)
        self.HRconv = _conv3(nf, nf)
        self.conv_last = _conv3(nf, 3)
        self.lrelu = nn.LeakyReLU(0.2)
        if head == "code":
            self.branch1 = nn.Sequential(*_rb_stack(3, nf))
            self.branch2 = nn.Sequential(*_rb_stack(3, nf))
            self.sm = nn.Sequential(*_rb_stack(3, nf), nn.Softmax(dim=1))
            self.tail_conv1 = _conv3(nf, 3)
            self.tail_conv2 = _conv3(nf, 3)
        elif head == "paper":
            self.branch1 = nn.Sequential(*_rb_stack(nf, nf))
            self.branch2 = nn.Sequential(*_rb_stack(nf, nf))
            self.sm = nn.Sequential(*_rb_stack(3, nf, 2))  # F_beta; up-sampling and softmax in forward

    def _trunk(self, x: Tensor) -> Tensor:
        fea = self.conv_first(x)
        return fea + self.trunk_conv(self.RRDB_trunk(fea))

    def _reconstruct(self, fea: Tensor) -> Tensor:
        for conv in (self.upconv1, self.upconv2):
            if self.scale == 4:
                fea = F.interpolate(fea, scale_factor=2, mode="nearest")
            fea = self.lrelu(conv(fea))
        return self.conv_last(self.lrelu(self.HRconv(fea)))

    def parts(self, x: Tensor) -> dict[str, Tensor]:
        """Every output: ``out`` (fused), ``unif`` (branch 1), ``align`` (branch 2), ``mask``
        and, per head, ``mid`` (code: the trunk's RGB image) or ``mask_align``/``mask_unif``
        (paper: ``S`` and ``S~``, one channel each; ``mask`` is both, 2 channels)."""
        if self.head == "none":
            mid = self._reconstruct(self._trunk(x))
            return {"out": mid, "unif": mid, "align": mid, "mid": mid}
        if self.head == "code":
            mid = self._reconstruct(self._trunk(x))
            mask = self.sm(mid)
            unif = self.tail_conv1(mask * self.branch1(mid))
            align = self.tail_conv2((1 - mask) * self.branch2(mid))
            return {"out": unif + align, "unif": unif, "align": align, "mask": mask, "mid": mid}
        fea = self._trunk(x)
        images = self._reconstruct(torch.cat([self.branch1(fea), self.branch2(fea)], dim=0))
        unif, align = images.chunk(2, dim=0)
        logits = self.sm(x)
        if self.scale != 1:
            kwargs = {"align_corners": False} if self.mask_upsample == "bilinear" else {}
            logits = F.interpolate(logits, size=images.shape[-2:], mode=self.mask_upsample, **kwargs)
        mask = torch.softmax(logits, dim=1)
        s, s_tilde = mask[:, :1], mask[:, 1:]
        return {"out": align * s + unif * s_tilde, "unif": unif, "align": align, "mask": mask,
                "mask_align": s, "mask_unif": s_tilde}

    def forward(self, x: Tensor, branches: bool = False,
                parts: bool = False) -> Tensor | tuple[Tensor, Tensor, Tensor] | dict[str, Tensor]:
        """The fused image; ``branches=True``: ``(out, out_unif, out_align)`` = the code's
        ``(out, out1, out2)`` (out1: adversarial branch, out2: pixel branch); ``parts=True``: the
        dict of :meth:`parts` (through ``forward``, so that a data-parallel wrapper sees the call)."""
        p = self.parts(x)
        if parts:
            return p
        return (p["out"], p["unif"], p["align"]) if branches else p["out"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bad(arch: str, key: str, value: Any, need: str) -> ConfigError:
    return ConfigError(f"{arch}: parameter {key!r} must be {need}; got {value!r}")


def _validate(**p: Any) -> None:
    """Raise ConfigError naming the first bad generator parameter."""
    if not _is_int(p["scale"]) or p["scale"] not in SCALES:
        raise _bad("criacl", "scale", p["scale"], "4 or 1 (CameraSR: no interpolation)")
    if not _is_int(p["nf"]) or p["nf"] < 2:
        raise _bad("criacl", "nf", p["nf"], "an integer >= 2 (the code head's mask is a softmax over nf channels)")
    if not _is_int(p["nb"]) or p["nb"] < 1:
        raise _bad("criacl", "nb", p["nb"], "an integer >= 1")
    if not _is_int(p["gc"]) or p["gc"] < 1:
        raise _bad("criacl", "gc", p["gc"], "an integer >= 1")
    if p["head"] not in HEADS:
        raise _bad("criacl", "head", p["head"], "'code' (the public code), 'paper' or 'none' (ESRGAN's RRDB alone)")
    if p["mask_upsample"] not in MASK_UPSAMPLE:
        raise _bad("criacl", "mask_upsample", p["mask_upsample"], "'bilinear' or 'nearest'")


def _check_known(arch: str, params: Mapping[str, Any], valid: Mapping[str, Any]) -> None:
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(f"{arch}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                          f"valid: {', '.join(valid)}")


def build_criacl(scale: int = 4, **params: Any) -> CriaCLNet:
    """Cria-CL's generator for ``scale`` 4 or 1; ``params`` override :data:`CRIACL_DEFAULTS`
    (the public configuration; ``head="paper"`` for the paper's head)."""
    _check_known("criacl", params, CRIACL_DEFAULTS)
    return CriaCLNet(scale, **{**CRIACL_DEFAULTS, **params})


# -- official weight files -------------------------------------------------------------------------
def _state_dict(obj: Any, key: str | None) -> dict[str, Tensor]:
    """:func:`unwrap_state_dict`, except that a BasicSR file holding both ``params`` and
    ``params_ema`` gives ``params_ema`` (the weights BasicSR tests with) unless ``key`` says."""
    if key is None and isinstance(obj, Mapping) and all(isinstance(obj.get(k), Mapping)
                                                        for k in ("params", "params_ema")):
        key = "params_ema"
    return unwrap_state_dict(obj, "Cria-CL", key)


def is_criacl_state(obj: Any) -> bool:
    """Whether what ``torch.load`` returned is a Cria-CL generator state dict (the RRDB trunk and
    the two-branch head), possibly wrapped; never raises."""
    try:
        sd = _state_dict(obj, None)
    except CirError:
        return False
    return any(k.startswith("RRDB_trunk.") for k in sd) and all(
        any(k.startswith(p) for k in sd) for p in ("branch1.", "branch2.", "sm."))


def _first_keys(keys: list[str], limit: int = 6) -> str:
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(sorted(keys)[:limit]) + more


def _require_head(sd: Mapping[str, Tensor], expected: Mapping[str, Any]) -> None:
    """Refuse a state dict that lacks the head keys ``expected`` has, naming them."""
    head = [k for k in expected if k.startswith(HEAD_PREFIXES)]
    missing = [k for k in head if k not in sd]
    if not missing:
        return
    groups = {p.rstrip("."): sum(k.startswith(p) for k in missing) for p in HEAD_PREFIXES}
    summary = ", ".join(f"{g}.* ({n} keys)" for g, n in groups.items() if n)
    if len(missing) == len(head):
        plain = any("rdb" in k.lower() for k in sd)
        what = ("a plain ESRGAN/RRDB checkpoint: it has no two-branch head" if plain
                else "not a Cria-CL checkpoint: it has no two-branch head")
        hint = (" (spandrel would read it as ESRGAN and output the trunk's image; a trunk for "
                "initialisation is loaded with load_esrgan_trunk, not as a Cria-CL network)") if plain else ""
        raise CirError(f"Cria-CL: the weights are {what}{hint}; missing {summary}: {_first_keys(missing)}")
    raise CirError(f"Cria-CL: the weights have only part of the two-branch head; missing {summary}: "
                   f"{_first_keys(missing)}")


def _check(sd: dict[str, Tensor], expected: Mapping[str, torch.Size]) -> dict[str, Tensor]:
    _require_head(sd, expected)
    check_state_dict(sd, expected, "Cria-CL")
    return sd


def convert_official(obj: Any, scale: int = 4, *, key: str | None = None, **params: Any) -> dict[str, Tensor]:
    """Turn what ``torch.load`` returns for a Cria-CL weight file (the public release: a plain
    state dict; also ``{'params': ...}``/``{'params_ema': ...}``/``{'state_dict': ...}`` wrappers
    and the ``module.`` prefix) into a state dict for :func:`build_criacl` (``scale``,
    ``**params``). Raises CirError for a file without the two-branch head (a plain ESRGAN/RRDB
    checkpoint) and names the missing/unexpected keys and wrong shapes otherwise."""
    with torch.device("meta"):  # shapes only, no memory
        reference = build_criacl(scale, **params)
    return _check(_state_dict(obj, key), expected_shapes(reference))


def load_criacl_state(model: CriaCLNet, obj: Any, *, key: str | None = None) -> CriaCLNet:
    """Load a Cria-CL state dict (wrapped or not, see :func:`convert_official`) into ``model``,
    strictly; refuses one without the two-branch head. Returns ``model``."""
    sd = _check(_state_dict(obj, key), expected_shapes(model))
    model.load_state_dict(sd, strict=True)
    return model


# -- initialisation from ESRGAN's PSNR model (the public configuration's RRDB_PSNR_x4.pth) ---------
_OLD_ARCH = re.compile(r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$")
_OLD_ARCH_FIXED = {"model.0": "conv_first", "model.3": "upconv1", "model.6": "upconv2", "model.8": "HRconv",
                   "model.10": "conv_last"}


def esrgan_trunk_state(obj: Any, nb: int, *, key: str | None = None) -> dict[str, Tensor]:
    """ESRGAN's RRDBNet weights (the original repository's ``model.N`` keys, e.g.
    ``RRDB_PSNR_x4.pth``, or the new-arch ``conv_first`` / ``RRDB_trunk`` names of BasicSR) as a
    state dict of this module's trunk and reconstruction keys; ``nb``: the network's RRDB count
    (the old keys hold the trunk conv at ``model.1.sub.<nb>``). Head keys are absent."""
    sd = _state_dict(obj, key)
    if any(k.startswith(("conv_first.", "RRDB_trunk.")) for k in sd):   # new-arch names already
        return {k: v for k, v in sd.items() if not k.startswith(HEAD_PREFIXES)}
    out: dict[str, Tensor] = {}
    for k, v in sd.items():
        m = _OLD_ARCH.match(k)
        prefix, _, leaf = k.rpartition(".")
        if m:
            out[f"RRDB_trunk.{m[1]}.RDB{m[2]}.conv{m[3]}.{m[4]}"] = v
        elif prefix == f"model.1.sub.{int(nb)}":
            out[f"trunk_conv.{leaf}"] = v
        elif prefix in _OLD_ARCH_FIXED:
            out[f"{_OLD_ARCH_FIXED[prefix]}.{leaf}"] = v
        else:
            raise CirError(f"ESRGAN weights: key {k!r} is not one of ESRGAN's RRDBNet (model.0, model.1.sub.<i>."
                           f"RDB<k>.conv<j>.0, model.1.sub.{int(nb)}, model.3/6/8/10); is nb {nb} right?")
    return out


def load_esrgan_trunk(model: CriaCLNet, obj: Any, *, key: str | None = None) -> CriaCLNet:
    """Start ``model`` from an ESRGAN RRDBNet file (as the public configuration starts from
    ``RRDB_PSNR_x4.pth`` with ``strict_load: false``): every trunk and reconstruction weight must be
    there with its shape; the two-branch head keeps its initialisation. Returns ``model``."""
    expected = {k: s for k, s in expected_shapes(model).items() if not k.startswith(HEAD_PREFIXES)}
    sd = esrgan_trunk_state(obj, len(model.RRDB_trunk), key=key)
    check_state_dict(sd, expected, "ESRGAN trunk of Cria-CL")
    model.load_state_dict(sd, strict=False)
    return model

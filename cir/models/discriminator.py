"""The PatchGAN discriminator (pix2pix's ``NLayerDiscriminator``) shared by the adversarial methods:
Cria-CL's public training code uses it with BatchNorm (``cir/methods/criacl.py``); Uni-Removal
describes no discriminator, and its domain adaptation takes CycleGAN's default one, InstanceNorm
without affine parameters (``cir/methods/uniremoval.py``, recorded there as our assumption).

A map of real/fake logits, one per overlapping patch: 4x4 convs, ``ndf`` filters doubling up to 8x,
``n_layers`` stages (the last of stride 1 after ``n_layers - 1`` of stride 2, plus the first conv
of stride 2), LeakyReLU 0.2, a 1-channel stride-1 output conv [keys ``model.<i>``]. ``ndf=64,
n_layers=3`` with BatchNorm: 2,765,633 parameters (:data:`PUBLIC_D_PARAMS`), plus the BatchNorm
running statistics (buffers). ``norm="none"`` and ``"instance"`` give the convs before the
(absent or affine-free) norm a bias.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from cir.errors import ConfigError

PATCH_D_DEFAULTS: dict[str, Any] = {"ndf": 64, "n_layers": 3, "norm": "batch"}
PUBLIC_D_PARAMS = 2_765_633  # ndf 64, n_layers 3, BatchNorm
NORMS = ("batch", "none", "instance")


def _bad(key: str, value: Any, need: str) -> ConfigError:
    return ConfigError(f"patch discriminator: parameter {key!r} must be {need}; got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class PatchDiscriminator(nn.Module):
    """The public code's ``NLayerDiscriminator`` (PatchGAN): a map of real/fake logits, one per
    overlapping patch; see the module docstring. Keys ``model.<i>`` as in the code."""

    def __init__(self, ndf: int = 64, n_layers: int = 3, norm: str = "batch", in_nc: int = 3):
        super().__init__()
        _validate_d(ndf=ndf, n_layers=n_layers, norm=norm, in_nc=in_nc)
        # BatchNorm (Cria-CL's public code): the convs before it have no bias; InstanceNorm without
        # affine parameters (CycleGAN's default discriminator, Uni-Removal's assumed one) keeps them,
        # as CycleGAN's use_bias does
        with_norm = norm == "batch"

        def norm_layer(ch: int) -> nn.Module:
            if norm == "instance":
                return nn.InstanceNorm2d(ch)
            return nn.BatchNorm2d(ch) if with_norm else nn.Identity()

        layers: list[nn.Module] = [nn.Conv2d(in_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=not with_norm),
                       norm_layer(ndf * mult), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def _validate_d(**p: Any) -> None:
    for key in ("ndf", "n_layers", "in_nc"):
        if not _is_int(p[key]) or p[key] < 1:
            raise _bad(key, p[key], "an integer >= 1")
    if p["norm"] not in NORMS:
        raise _bad("norm", p["norm"], "'batch', 'instance' or 'none'")


def build_patch_discriminator(**params: Any) -> PatchDiscriminator:
    """The PatchGAN discriminator; ``params`` override :data:`PATCH_D_DEFAULTS` (and ``in_nc``, 3)."""
    valid = {**PATCH_D_DEFAULTS, "in_nc": 3}
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(f"patch discriminator: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                          f"valid: {', '.join(valid)}")
    return PatchDiscriminator(**{**valid, **params})

"""MPRNet as a registry backbone (arch ``mprnet``): the network of Uni-Removal.

Paper this is for: Zhang et al., "Uni-Removal: A Semi-Supervised Framework for Simultaneously
Addressing Multiple Degradations in Real-World Images" (arXiv 2307.05075v1; paper seed 003). Every
teacher and the student of Uni-Removal is an MPR-Net (Zamir et al., "Multi-Stage Progressive Image
Restoration", CVPR 2021), fed 128x128 crops with pixel values in [-1, 1]. The project's notes are
``reference/papers/uniremoval.md`` (section 4).

What it wraps. :class:`MPRNetRestorer` holds ``spandrel_extra_arches``' ``MPRNet`` (wheel 0.2.0, a
copy of the official ``MPRNet.py``) as its attribute ``net``, so the official state-dict keys are
those of ``net`` unchanged: ``model.net.load_state_dict(official)`` works, and so does
:meth:`MPRNetRestorer.load_official`, which also accepts the official checkpoints' wrapper
``{'state_dict': ..., 'epoch': ..., 'optimizer': ...}`` and the ``module.`` prefix of
``nn.DataParallel``. The wrapper itself has no parameters. As upstream, one ``nn.PReLU`` (one
parameter) is shared by every CAB, so the state dict lists it under many keys and
``parameters()`` counts it once.

Licences. The wheel ``spandrel_extra_arches`` is MIT. The upstream MPRNet code
(github.com/swz30/MPRNet) and its released weights are under the **"ACADEMIC PUBLIC LICENSE"**,
non-commercial: research use only. cir does not copy that code; it imports the wheel's class.

Input and output ranges (``value_range``):

- ``"-1_1"`` (default, Uni-Removal): the images given to and returned by the wrapper are in [0, 1]
  like everywhere else in cir; the wrapper maps ``x -> 2x - 1`` in and ``y -> (y + 1) / 2`` out,
  so the inner network sees and produces [-1, 1] images, as in the paper.
- ``"0_1"``: no mapping (the official MPRNet releases were trained on [0, 1] images).

Outputs are not clamped (training needs the raw values; evaluation clamps where it saves images).

Forward. MPRNet splits its input into 4 (stage 1) and 2 (stage 2) patches and down-samples each
twice, so it needs sizes that are multiples of 8 (:data:`PAD_MULTIPLE`; also the registry's
``pad_multiple("mprnet")`` and ``model.cir_pad_multiple``). Other sizes are padded at the bottom and
right by reflection (edge replication where the image is too small to reflect), as the official
demo does, and every output is cropped back. ``forward(x)`` returns the final (stage-3) image;
``forward(x, stages=True)`` returns the tuple ``(stage1, stage2, stage3)`` in stage order, final
last, as ``cir/models/drcnet.py`` does (upstream returns ``[stage3, stage2, stage1]``).

Intermediate features (Uni-Removal's feature-grained contrastive terms, eqs. 3 and 10). The paper
does not say which layer; cir taps :data:`FEATURE_LAYER` = ``"net.stage3_orsnet"``, the output of
the stage-3 original-resolution subnetwork: it runs once per forward pass and returns one
full-resolution map ``[B, n_feat + scale_orsnetfeats, H, W]`` (of the padded input: no padding at
multiples of 8, as the 128x128 training crops are). Use it with
:class:`cir.models.taps.FeatureTaps`, or :meth:`MPRNetRestorer.features`. The other candidates do
not work with ``FeatureTaps``: ``shallow_feat1`` and ``stage1_encoder`` run four times per pass,
``shallow_feat2``, ``concat12``, ``stage1_decoder`` and ``stage2_encoder`` twice (refused: "ran
twice"); the encoders, decoders and ``sam12``/``sam23`` return lists or tuples.

Sizes (parameters counted from the wheel's constructor, shared PReLU once):

- :data:`PUBLIC_SIZES`: the official configurations, deraining 40/20/16 with 8 CABs (3,637,249),
  deblurring 96/48/32 (20,127,073), denoising 80/48/32 (15,741,025). The wrapper's defaults are
  the deraining ones (the constructor's defaults).
- :data:`SMALL_SIZES`: cir's small configurations (16/8/8 with 2 CABs: 427,033; 24/12/8 with 4
  CABs: 1,032,937), for demos and tests; no source.
- Uni-Removal does not state its MPR-Net width (:data:`PAPER_WIDTH` is ``None``).

Ranges of the parameters (checked, a :class:`~cir.errors.ConfigError` names the parameter):
``n_feat`` >= ``reduction`` (the channel attention squeezes ``n_feat // reduction`` channels),
``scale_unetfeats`` >= 0, ``scale_orsnetfeats`` >= 0, ``num_cab`` >= 0, ``kernel_size`` odd >= 1,
``reduction`` >= 1, ``bias`` true/false, ``value_range`` ``"-1_1"``/``"0_1"``; scale 1 only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cir.errors import CirError, ConfigError
from cir.models.registry import _import_extra_arches, pad_to_multiple
from cir.models.weights import check_state_dict, expected_shapes, unwrap_state_dict

CITATION = ("S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang and L. Shao, Multi-Stage "
            "Progressive Image Restoration (MPRNet), CVPR 2021; the backbone of Uni-Removal "
            "(arXiv 2307.05075)")
UPSTREAM_LICENSE = "ACADEMIC PUBLIC LICENSE (github.com/swz30/MPRNet; non-commercial)"
WHEEL_LICENSE = "MIT (spandrel_extra_arches 0.2.0)"

PAD_MULTIPLE = 8  # 2 patch splits (stage 1) x 2 down-samplings of each patch -> multiples of 8
FEATURE_LAYER = "net.stage3_orsnet"  # Uni-Removal's "intermediate features" (cir's choice, see above)
VALUE_RANGES = ("-1_1", "0_1")

MPRNET_DEFAULTS: dict[str, Any] = {
    "n_feat": 40, "scale_unetfeats": 20, "scale_orsnetfeats": 16, "num_cab": 8, "kernel_size": 3,
    "reduction": 4, "bias": False, "value_range": "-1_1",
}

# The official releases (github.com/swz30/MPRNet, <Task>/MPRNet.py and pretrained_models/*.pth).
PUBLIC_SIZES: dict[str, dict[str, Any]] = {
    "derain": {"model": {"n_feat": 40, "scale_unetfeats": 20, "scale_orsnetfeats": 16, "num_cab": 8},
               "params": 3_637_249, "source": "official MPRNet Deraining (model_deraining.pth)"},
    "deblur": {"model": {"n_feat": 96, "scale_unetfeats": 48, "scale_orsnetfeats": 32, "num_cab": 8},
               "params": 20_127_073, "source": "official MPRNet Deblurring (model_deblurring.pth)"},
    "denoise": {"model": {"n_feat": 80, "scale_unetfeats": 48, "scale_orsnetfeats": 32, "num_cab": 8},
                "params": 15_741_025, "source": "official MPRNet Denoising (model_denoising.pth)"},
}
# cir's small configurations (no source), for demos and tests.
SMALL_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"model": {"n_feat": 16, "scale_unetfeats": 8, "scale_orsnetfeats": 8, "num_cab": 2},
             "params": 427_033, "source": "cir's choice"},
    "small": {"model": {"n_feat": 24, "scale_unetfeats": 12, "scale_orsnetfeats": 8, "num_cab": 4},
              "params": 1_032_937, "source": "cir's choice"},
}
PAPER_WIDTH = None  # Uni-Removal does not state the width of its MPR-Nets


def _mprnet_class() -> type[nn.Module]:
    return _import_extra_arches().architectures.MPRNet.MPRNet


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate(p: dict[str, Any]) -> None:
    """Raise ConfigError naming the first bad parameter."""
    def bad(key: str, need: str) -> ConfigError:
        return ConfigError(f"mprnet: parameter {key!r} must be {need}; got {p[key]!r}")

    if not _is_int(p["reduction"]) or p["reduction"] < 1:
        raise bad("reduction", "an integer >= 1")
    if not _is_int(p["n_feat"]) or p["n_feat"] < max(1, p["reduction"]):
        raise bad("n_feat", f"an integer >= reduction ({p['reduction']}): the channel attention "
                            "keeps n_feat // reduction channels")
    for key in ("scale_unetfeats", "scale_orsnetfeats", "num_cab"):
        if not _is_int(p[key]) or p[key] < 0:
            raise bad(key, "an integer >= 0")
    if not _is_int(p["kernel_size"]) or p["kernel_size"] < 1 or p["kernel_size"] % 2 == 0:
        raise bad("kernel_size", "an odd integer >= 1 (the convolutions keep the size)")
    if not isinstance(p["bias"], bool):
        raise bad("bias", "true or false")
    if p["value_range"] not in VALUE_RANGES:
        raise bad("value_range", "'-1_1' (Uni-Removal: the inner network sees [-1, 1] images) or '0_1' "
                                 "(the official MPRNet)")


class MPRNetRestorer(nn.Module):
    """MPRNet with cir's conventions: [0, 1] images in and out, any input size, stage-3 output.

    ``net`` is spandrel_extra_arches' ``MPRNet`` (official key names); see the module docstring.
    Build it through ``cir.models.build_model("mprnet", 1, **params)`` to get a model spec.
    """

    def __init__(self, n_feat: int = 40, scale_unetfeats: int = 20, scale_orsnetfeats: int = 16,
                 num_cab: int = 8, kernel_size: int = 3, reduction: int = 4, bias: bool = False,
                 value_range: str = "-1_1"):
        super().__init__()
        config = {"n_feat": n_feat, "scale_unetfeats": scale_unetfeats, "scale_orsnetfeats": scale_orsnetfeats,
                  "num_cab": num_cab, "kernel_size": kernel_size, "reduction": reduction, "bias": bias,
                  "value_range": value_range}
        _validate(config)
        self.value_range = value_range
        self.net = _mprnet_class()(in_c=3, out_c=3, n_feat=n_feat, scale_unetfeats=scale_unetfeats,
                                   scale_orsnetfeats=scale_orsnetfeats, num_cab=num_cab,
                                   kernel_size=kernel_size, reduction=reduction, bias=bias)

    # -- ranges ---------------------------------------------------------------------------------
    def to_net(self, x: Tensor) -> Tensor:
        """A [0, 1] image in the inner network's range."""
        return x * 2 - 1 if self.value_range == "-1_1" else x

    def from_net(self, y: Tensor) -> Tensor:
        """An image of the inner network's range in [0, 1] (not clamped)."""
        return (y + 1) / 2 if self.value_range == "-1_1" else y

    # -- forward --------------------------------------------------------------------------------
    def forward(self, x: Tensor, stages: bool = False) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        """The restored image (stage 3), in [0, 1]; ``stages=True``: ``(stage1, stage2, stage3)``.

        Inputs of any size: padded to a multiple of 8 (bottom/right, reflection) and cropped back.
        """
        h, w = x.shape[-2:]
        stage3, stage2, stage1 = self.net(self.to_net(pad_to_multiple(x, PAD_MULTIPLE)))
        if not stages:
            return self.from_net(stage3)[..., :h, :w]
        return tuple(self.from_net(s)[..., :h, :w] for s in (stage1, stage2, stage3))

    def features(self, x: Tensor) -> Tensor:
        """The :data:`FEATURE_LAYER` map for ``x`` (one forward pass), cropped to ``x``'s size.

        A training step that needs the restored image as well taps the layer itself, so that one
        pass gives both: ``with FeatureTaps(model, [FEATURE_LAYER]) as taps: y = model(x)``, then
        ``taps.feature(FEATURE_LAYER)`` (at the padded size when ``x`` is not a multiple of 8).
        """
        from cir.models.taps import FeatureTaps

        h, w = x.shape[-2:]
        with FeatureTaps(self, [FEATURE_LAYER]) as taps:
            self(x)
            return taps.feature(FEATURE_LAYER)[..., :h, :w]

    # -- official weights -----------------------------------------------------------------------
    def load_official(self, obj: Any) -> MPRNetRestorer:
        """Load an official MPRNet checkpoint into ``net``, strictly; ``obj`` is what ``torch.load``
        returned (``{'state_dict': ...}`` or a plain state dict, with or without ``module.``).

        Raises CirError naming the missing and unexpected keys and wrong shapes (and the
        configuration the file holds, when it can be read from the shapes). Returns ``self``.
        """
        sd = _official_state(obj)
        _check(sd, self.net)
        self.net.load_state_dict(sd, strict=True)
        return self


def _official_state(obj: Any) -> dict[str, Tensor]:
    return unwrap_state_dict(obj, "MPRNet")


def official_config(sd: dict[str, Tensor]) -> dict[str, Any] | None:
    """The constructor parameters an official MPRNet state dict was built with (as spandrel's
    loader reads them from the shapes); None when the keys are not MPRNet's."""
    try:
        first = sd["shallow_feat1.0.weight"]
        n_feat, kernel_size = int(first.shape[0]), int(first.shape[2])
        cabs = {k.split(".")[3] for k in sd if k.startswith("stage3_orsnet.orb1.body.")}
        return {
            "n_feat": n_feat,
            "scale_unetfeats": int(sd["stage1_encoder.encoder_level2.0.CA.conv_du.0.weight"].shape[1]) - n_feat,
            "scale_orsnetfeats": int(sd["tail.weight"].shape[1]) - n_feat,
            "num_cab": len(cabs) - 1,  # the ORB body ends with a plain conv
            "kernel_size": kernel_size,
            "reduction": n_feat // int(sd["shallow_feat1.1.CA.conv_du.0.weight"].shape[0]),
            "bias": "shallow_feat1.0.bias" in sd,
        }
    except (KeyError, IndexError, ZeroDivisionError, TypeError):
        return None


def _check(sd: dict[str, Tensor], net: nn.Module) -> None:
    try:
        check_state_dict(sd, expected_shapes(net), "MPRNet")
    except CirError as exc:
        found = official_config(sd)
        hint = (f"; the file holds an MPRNet with {', '.join(f'{k}={v!r}' for k, v in found.items())}"
                if found else "")
        raise CirError(f"{exc}{hint}") from exc


def is_mprnet_state(obj: Any) -> bool:
    """Whether what ``torch.load`` returned is an official MPRNet state dict (possibly wrapped in
    ``{'state_dict': ...}`` and/or prefixed ``module.``); never raises."""
    try:
        sd = _official_state(obj)
    except (CirError, TypeError, AttributeError):
        return False
    return all(k in sd for k in ("shallow_feat1.0.weight", "stage3_orsnet.orb1.body.0.body.0.weight",
                                 "sam23.conv1.weight", "concat23.weight", "tail.weight"))


def convert_official(obj: Any, scale: int = 1, **params: Any) -> dict[str, Tensor]:
    """An official MPRNet file (what ``torch.load`` returned) as a state dict for
    ``build_model("mprnet", scale, **params)`` (keys prefixed ``net.``), checked key by key.

    ``params`` must name ``value_range``: the official releases were trained on [0, 1] images
    (``"0_1"``), Uni-Removal feeds [-1, 1] (``"-1_1"``, the wrapper's default), and the file cannot
    tell. The widths must match the file's (the error names the file's configuration).
    """
    if "value_range" not in params:
        raise ConfigError("mprnet: reading an official MPRNet file needs the parameter 'value_range': "
                          "'0_1' for the official releases (trained on [0, 1] images), '-1_1' for "
                          "weights trained on [-1, 1] images (Uni-Removal)")
    sd = _official_state(obj)
    with torch.device("meta"):  # shapes only
        reference = build_mprnet(scale, **params)
    _check(sd, reference.net)
    return {f"net.{k}": v for k, v in sd.items()}


def build_mprnet(scale: int = 1, **params: Any) -> MPRNetRestorer:
    """MPRNet (scale 1 only); ``params`` override :data:`MPRNET_DEFAULTS` (the official deraining
    widths, Uni-Removal's [-1, 1] range)."""
    if int(scale) != 1:
        raise ConfigError(f"mprnet: parameter 'scale' must be 1 (MPRNet restores at the input's size: "
                          f"deraining, deblurring, dehazing); got {scale!r}")
    unknown = sorted(set(params) - set(MPRNET_DEFAULTS))
    if unknown:
        raise ConfigError(f"mprnet: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                          f"valid: {', '.join(MPRNET_DEFAULTS)}")
    return MPRNetRestorer(**{**MPRNET_DEFAULTS, **params})

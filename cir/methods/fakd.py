"""FAKD: feature-affinity distillation (He et al., ICIP 2020); the "FAKD" row of DCKD Table 2.

Loss = w_rec * L1(S, GT) + w_kd * L1(S, T) + w_fa * mean over matched layers of
mean |A_s - A_t|, with A the spatial affinity of a block's output (cir.losses.affinity).

Weights. The official code (github.com/Vincent-Hoo/Knowledge-Distillation-for-Super-resolution)
trains with ``--alpha 0.5 --feature_distilation_type 10*SA --features [1,2,3]``
(README and code/scripts/train_*_SA_*.sh): 0.5 * L1(S, GT) + 0.5 * L1(S, T)
+ 10 * sum over 3 layers of mean |A_s - A_t| (code/loss.py), on images in 0..255
(code/option.py: rgb_range 255). cir's images are in 0..1, which makes the pixel L1 terms
255 times smaller while the affinity term is unchanged (cosines do not depend on intensity
scale). Dividing FAKD's objective by 0.5 * 255 gives the same balance with pixel weights 1,
matching DCKD eq. (10) (L_res + L_kd with weight 1): w_rec = w_kd = 1 and
w_fa = 10 * 3 / (0.5 * 255) = 60/255 on the layer average (= 20/255 per layer, summed
over FAKD's 3 layers). Adam is invariant to that global rescaling up to its epsilon.

Layers. ``layers: "auto"`` taps every block output of the student (SwinIR RSTBs
``layers.i``, RCAN residual groups ``body.i``) and pairs each with the teacher block at the
same relative depth (cir.models.taps.match_layers). FAKD's own RCAN runs tapped three
places (after groups 3 and 7 of 10 and the end of the body); with the layer average the
total weight does not depend on how many layers are paired. An explicit list of
``[teacher_layer, student_layer]`` module names replaces the automatic choice.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from cir.engine.method import Method
from cir.errors import CirError, ConfigError
from cir.losses import l1
from cir.losses.affinity import affinity_loss
from cir.methods.catalog import defaults as _defaults
from cir.models.taps import FeatureTaps, check_layer_names, default_tap_layers, detect_arch, match_layers


def resolve_layer_pairs(layers: Any, teacher: nn.Module, student: nn.Module,
                        *, where: str = "options.layers") -> list[tuple[str, str]]:
    """``"auto"`` or a list of ``[teacher_layer, student_layer]`` -> checked ``(teacher, student)`` pairs."""
    if layers == "auto":
        try:
            return match_layers(default_tap_layers(detect_arch(teacher), teacher),
                                default_tap_layers(detect_arch(student), student))
        except CirError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ConfigError(f"{where}: expected \"auto\" or a non-empty list of [teacher_layer, student_layer] "
                          f"pairs, got {layers!r}")
    pairs = []
    for i, pair in enumerate(layers):
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                or not all(isinstance(name, str) for name in pair)):
            raise ConfigError(f"{where}[{i}]: expected [teacher_layer, student_layer] (two names), "
                              f"got {pair!r}")
        pairs.append((pair[0], pair[1]))
    try:
        check_layer_names(teacher, [t for t, _ in pairs], role="teacher")
        check_layer_names(student, [s for _, s in pairs], role="student")
    except CirError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    for side, names in (("teacher", [t for t, _ in pairs]), ("student", [s for _, s in pairs])):
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}: a {side} layer appears in more than one pair: {names}")
    return pairs


class FAKD(Method):
    name = "fakd"
    teacher_names = ("teacher",)
    loss_names = ("rec", "kd", "fa")
    defaults: ClassVar[dict[str, Any]] = _defaults("fakd")   # options: cir/methods/catalog.py

    def __init__(self, student: nn.Module, teacher: nn.Module | None = None,
                 options: dict[str, Any] | None = None, *, where: str = "options"):
        super().__init__(student, teacher, options, where=where)
        down = self.options["fa_downsample"]
        if isinstance(down, bool) or not isinstance(down, int) or down < 1:
            raise ConfigError(f"{where}.fa_downsample: expected an integer >= 1, got {down!r}")
        self.pairs = resolve_layer_pairs(self.options["layers"], self.teacher, self.student,
                                         where=f"{where}.layers")

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        lq, gt = batch["lq"], batch["gt"]
        t_names = [t for t, _ in self.pairs]
        s_names = [s for _, s in self.pairs]
        with FeatureTaps(self.teacher, t_names) as taps, torch.inference_mode():
            target = self.teacher(lq)
            t_feats = [taps.feature(name) for name in t_names]
        with FeatureTaps(self.student, s_names) as taps:
            sr = self.student(lq)
            s_feats = [taps.feature(name) for name in s_names]
        for (t_name, s_name), s, t in zip(self.pairs, s_feats, t_feats):
            if s.shape[0] != t.shape[0] or s.shape[-2:] != t.shape[-2:]:
                raise ValueError(f"fakd: student layer {s_name!r} {tuple(s.shape)} and teacher layer "
                                 f"{t_name!r} {tuple(t.shape)} differ in batch or spatial size; "
                                 "affinities need equal H, W")
        fa = affinity_loss(s_feats, t_feats, downsample=self.options["fa_downsample"])
        return {
            "rec": self.options["w_rec"] * self.rec_loss(sr, gt),
            "kd": self.options["w_kd"] * l1(sr, target),
            "fa": self.options["w_fa"] * fa,
        }

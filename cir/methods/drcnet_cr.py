"""DRCNet's training objective: L1 plus contrastive regularisation on every stage output
(Li et al., "DRCNet: Dynamic Image Restoration Contrastive Network", ECCV 2022; seed 002, supplement
only; project notes ``reference/papers/drcnet-and-dckd-deblur-derain.md``, part A).

For stage outputs ``X_s`` of the degraded input ``I`` with clean image ``J``::

    L = loss_weight * sum_s  v_s * ( L_rec(X_s, J) + w_cr * CR(X_s; J, negatives) )

``CR`` is :func:`cir.losses.drcnet.contrastive_regularisation`: the ratio of the VGG19 distance to
``J`` over the weighted distances to the negatives (relu1_1 / relu2_1 / relu3_1 without ImageNet
normalisation, levels 1/16, 1/8, 1/4). Option ``cr`` picks the negatives:

* ``intra`` (DRCNet's Intra-CR, the default): ``n_k = lambda_k I + (1 - lambda_k) J``,
  ``lambda = (1, 0.95, 0.90)``, denominator weights ``(1, 0.95, 0.90)``;
* ``extra`` (the "Extra-CR" of the supplement's Lemma 2, taken as AECR-Net's CR [notes: guess]):
  the degraded input alone;
* ``none``: the plain baseline, ``L_rec`` on every stage output (no encoder is built).

``L_rec`` is the backbone recipe's reconstruction loss (``train.rec_loss``, L1 by default; DRCNet's
code uses L1). DRCNet (``model(x, stages=True)`` gives ``(stage1, stage2)``) is supervised on both
stages, summed with ``stage_weights`` ``v = (1, 1)`` as the public code does (its training loop adds
``cri_pix(pred, gt)`` over the list of predictions); a backbone that returns one image has one
stage, which takes the last stage weight. The outputs are aligned to the end of ``stage_weights``.

Paper vs public code (defaults in cir/methods/catalog.py):

* The supplement's risk is ``sum_s [l1(s) + alpha * l_c(s*)]`` and names no value of alpha; the code
  hard-codes ``0.05`` (``loss_weight * l1 + loss_weight * loss * 0.05``): ``w_cr`` = 0.05.
* The code multiplies both terms by ``pixel_opt.loss_weight``: 0.5 in the GoPro and Rain13K configs,
  1 in SIDD's. The paper's risk has no such factor: ``loss_weight`` = 1 (a preset sets 0.5). With the
  public configs' gradient clipping at max-norm 0.01 (the preset's ``grad_clip``, not an option here)
  this overall factor is not neutral.
* The code's denominator is ``d_1 + lamda2 d_2 + lamda3 d_3``: the mixing weights double as
  denominator weights (``neg_weights``, same default as ``mix_weights``; the first is fixed at 1
  in the code, which equals lambda_1 = 1).

The VGG19 encoder is frozen (:meth:`frozen`); the positive and the negatives go through it in one
call under ``torch.inference_mode`` and are shared by both stages; the stage outputs go through it in
one call with gradients. Without torchvision's weights (``encoder_stand_in``) a random encoder is
used and recorded in :attr:`stand_ins`.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from cir.encoders.vgg import build_vgg_encoder, layer_names
from cir.engine.method import Method, PhaseOutput
from cir.errors import ConfigError
from cir.losses.drcnet import CR_MODES, contrastive_regularisation
from cir.methods.catalog import defaults as _defaults


def _numbers(value: Any) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in value))


class DRCNetCR(Method):
    name = "drcnet_cr"
    loss_names = ("rec", "cr", "cr_ratio")
    defaults: dict[str, Any] = _defaults("drcnet_cr")

    def __init__(self, student, teachers=None, options=None, *, where="options"):
        super().__init__(student, teachers, options, where=where)
        o = self.options
        if o["cr"] not in CR_MODES:
            raise ConfigError(f"{where}.cr: {o['cr']!r} is not one of {list(CR_MODES)}")
        for key in ("w_cr", "loss_weight"):
            v = o[key]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"{where}.{key}: must be a number >= 0; got {v!r}")
        for key in ("stage_weights", "mix_weights", "neg_weights", "level_weights"):
            if not _numbers(o[key]):
                raise ConfigError(f"{where}.{key}: must be a non-empty list of numbers >= 0; got {o[key]!r}")
        if not sum(o["stage_weights"]) > 0:
            raise ConfigError(f"{where}.stage_weights: at least one stage weight must be positive; got "
                              f"{o['stage_weights']}")
        if any(w > 1 for w in o["mix_weights"]):
            raise ConfigError(f"{where}.mix_weights: each lambda_k is the degraded input's share of a "
                              f"negative, in [0, 1]; got {o['mix_weights']}")
        if len(o["neg_weights"]) != len(o["mix_weights"]):
            raise ConfigError(f"{where}.neg_weights: {len(o['neg_weights'])} weights for "
                              f"{len(o['mix_weights'])} mix_weights (one per negative)")
        if not sum(o["neg_weights"]) > 0:
            raise ConfigError(f"{where}.neg_weights: need a positive sum; got {o['neg_weights']}")
        valid = layer_names("vgg19")
        if (not isinstance(o["layers"], (list, tuple)) or not o["layers"]
                or not all(isinstance(v, str) and v in valid for v in o["layers"])):
            raise ConfigError(f"{where}.layers: must be a non-empty list of VGG19 layer names "
                              f"({', '.join(valid)}); got {o['layers']!r}")
        if len(o["layers"]) != len(o["level_weights"]):
            raise ConfigError(f"{where}.level_weights: {len(o['level_weights'])} weights for "
                              f"{len(o['layers'])} layers")
        self.where = where
        # DRCNet's forward(x, stages=True) returns (stage1, stage2); other backbones return one image
        try:
            self.multi_stage = "stages" in inspect.signature(student.forward).parameters
        except (TypeError, ValueError):
            self.multi_stage = False
        self.encoder = None
        if o["cr"] != "none":
            self.encoder, self.stand_ins = build_vgg_encoder(
                o["encoder_weights"], arch="vgg19", layers=o["layers"], input_norm=bool(o["input_norm"]),
                input_range=o["encoder_input_range"], allow_random=bool(o["encoder_stand_in"]),
                stand_in_divisor=int(o["encoder_stand_in_divisor"]))

    def frozen(self):
        nets = super().frozen()
        if self.encoder is not None:
            nets["encoder"] = self.encoder
        return nets

    def stage_outputs(self, lq: torch.Tensor) -> list[torch.Tensor]:
        """The student's output images, first stage first (one for single-output backbones)."""
        out = self.student(lq, stages=True) if self.multi_stage else self.student(lq)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def training_step(self, batch, step):
        o = self.options
        lq, gt = batch["lq"], batch["gt"]
        outputs = self.stage_outputs(lq)
        weights = [float(w) for w in o["stage_weights"]]
        if len(outputs) > len(weights):
            raise ConfigError(f"{self.where}.stage_weights: {len(weights)} weight(s) for a student with "
                              f"{len(outputs)} stage outputs")
        weights = weights[len(weights) - len(outputs):]   # the final output takes the last weight
        scale = float(o["loss_weight"])
        used = [(x, w) for x, w in zip(outputs, weights) if w > 0]
        if not used:
            raise ConfigError(f"{self.where}.stage_weights: {o['stage_weights']} gives weight 0 to every "
                              f"one of the student's {len(outputs)} output(s)")
        rec = sum(scale * w * self.rec_loss(x, gt) for x, w in used)
        terms = {"rec": rec}
        logs: dict[str, torch.Tensor] = {}
        if self.encoder is not None:
            crs = contrastive_regularisation(
                self.encoder, [x for x, _ in used], lq, gt, mode=o["cr"], mix_weights=o["mix_weights"],
                neg_weights=o["neg_weights"], level_weights=o["level_weights"])
            terms["cr"] = sum(scale * w * float(o["w_cr"]) * c for (_, w), c in zip(used, crs))
            logs["cr_ratio"] = crs[-1].detach()   # the unweighted CR of the last supervised output
        return PhaseOutput(terms, logs)

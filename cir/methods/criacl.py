"""Cria-CL's training: a generator and a PatchGAN discriminator, with criteria comparative learning
(Shi, Li, Zhang, Yang and Wang, "Criteria Comparative Learning for Real-scene Image
Super-Resolution", IEEE TCSVT 2022; seed 004; notes ``reference/papers/criacl.md``).

Two trainable groups, one phase each per step (cir/engine/method.py): ``g`` (the student, the
generator) then ``d`` (the discriminator, :class:`cir.models.criacl.PatchDiscriminator`, built
here from option ``discriminator``). The generator phase runs the discriminator with its weights
frozen (the engine turns its gradients off); the discriminator phase scores the ground truth
against the generator's fused output of this step, detached: ESRGAN's relativistic loss
(:func:`cir.losses.criacl.ragan_discriminator_loss`), every step (the public code's
``D_update_ratio 1``, ``D_init_iters 0``). The discriminator always runs in training mode, so its
BatchNorm normalises with batch statistics; its running statistics are never used (under data
parallelism they are each rank's own, and the checkpoint keeps rank 0's).

The generator's loss (eq. 11), with ``I_SR`` the fused output and ``I_align``/``I_unif`` the two
branches (:meth:`cir.models.criacl.CriaCLNet.parts`)::

    w_pix L_pix(I_SR) + w_per L_per(I_SR) + w_adv L_adv(I_SR) + w_align L_align + w_unif L_unif

``assignment: paper`` (default) takes the criteria as the paper's "Anchor Selection" partitions
them, all against the ground truth ``I_hf``:

* anchor ``C_a`` (option ``anchor``, Table VI): ``pix`` (the pixel criterion; ``pix_loss``: the
  paper's "Euclidean" mean squared error, or L1), ``per`` (the perceptual criterion at
  ``per_layer``) or ``adv`` (the relativistic generator loss); taken on ``I_align`` for the
  alignment and on ``I_unif`` for the uniformity (eqs. 8-9);
* positives on ``I_align``: ``C_ssim`` (1 - SSIM, 11x11 Gaussian window, kornia) and ``C_perc^B``
  (L1 of VGG19 features at ``bottom_layers``, averaged over the layers);
* negatives on ``I_unif``: ``C_perc^T`` (the same at ``top_layers``) and ``C_adv``;
* ``L_align`` = :func:`~cir.losses.criacl.alignment` (``eta``), ``L_unif`` =
  :func:`~cir.losses.criacl.uniformity` (``t``, power 2);
* with ``masked_criteria`` and a network that has the paper's masks (``head: paper``), the pixel,
  SSIM and perceptual criteria of ``I_align`` are weighted by ``S`` and those of ``I_unif`` by
  ``S~`` ("only the pixels inside the spatial view take part"; the masks are resized to each
  feature map by area averaging). The adversarial criterion is a relativistic mean over patch
  logits and is not masked. The masks are not detached: the criteria's gradient reaches the
  projector too (the paper does not say otherwise).

``assignment: code`` is the authors' released training step (``SRGAN_al_model``; notes 1.2): the
criteria are the *weighted* losses; the anchor ``w_pix L1(I_SR)`` is not in the total;
``L_pix`` is taken on ``I_align`` (out2) and ``L_adv`` on ``I_unif`` (out1);
``L_align = (w_pix L1(I_align) - w_per L_per(I_SR))^2``;
``L_unif = -log sum_n exp(-2 (w_pix L1(I_SR) + n)^2)`` over the weighted RaGAN losses of
``I_SR``, ``I_unif`` and ``I_align``; no masks; anchor ``pix`` only. Its weights are
:data:`cir.losses.criacl.CODE_WEIGHTS` (set ``w_unif: 0.001``, ``pix_loss: l1``).

A network without branches (``head: none``, or any other backbone) has ``I_align = I_unif = I_SR``:
the rows of Table V without the spatial-view projection. ``align: false`` / ``unif: false`` drop
the two terms (Table V); with both off this is the weighted sum of eq. (2).

Logged but not optimised: the raw criteria (``c_*``), the discriminator's mean logits on real and
fake images; the discriminator's loss is the ``d`` group's total (``loss_d``).

The VGG19 (:mod:`cir.encoders.vgg`) is frozen: the ground truth goes through it once under
``torch.inference_mode``; the generator's images (fused and, where they differ, both branches)
go through it in one call with gradients. Without torchvision's weights (``encoder_stand_in``)
a random encoder stands in and is recorded in :attr:`stand_ins`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from cir.encoders.vgg import build_vgg_encoder, layer_names
from cir.engine.method import Method, PhaseOutput
from cir.errors import ConfigError
from cir.losses.criacl import (
    alignment,
    ragan_discriminator_loss,
    ragan_generator_loss,
    uniformity,
)
from cir.methods.catalog import CRIACL_ANCHORS, CRIACL_ASSIGNMENTS
from cir.methods.catalog import defaults as _defaults

_PAPER_CRITERIA = ("c_anchor_align", "c_ssim", "c_perc_b", "c_anchor_unif", "c_perc_t", "c_adv_unif")
_CODE_CRITERIA = ("c_pix_fused", "c_pix_align", "c_per", "c_gan_fused", "c_gan_unif", "c_gan_align")
_D_LOGS = ("d_real", "d_fake")


def _masked_mean(values: Tensor, mask: Tensor | None) -> Tensor:
    """Mean of ``values`` ``[B, C, H, W]`` weighted by ``mask`` ``[B, 1, h, w]`` (resized to H x W by
    area averaging); the plain mean without a mask."""
    if mask is None:
        return values.mean()
    if mask.shape[-2:] != values.shape[-2:]:
        mask = F.adaptive_avg_pool2d(mask, values.shape[-2:])
    weights = mask.expand_as(values)
    return (weights * values).sum() / (weights.sum() + 1e-12)


class CriaCL(Method):
    name = "criacl"
    groups = ("g", "d")
    defaults: dict[str, Any] = _defaults("criacl")

    def __init__(self, student, teachers=None, options=None, *, where="options"):
        super().__init__(student, teachers, options, where=where)
        from cir.models.criacl import build_patch_discriminator

        o = self.options
        self.where = where
        if o["assignment"] not in CRIACL_ASSIGNMENTS:
            raise ConfigError(f"{where}.assignment: {o['assignment']!r} is not one of {list(CRIACL_ASSIGNMENTS)}")
        if o["anchor"] not in CRIACL_ANCHORS:
            raise ConfigError(f"{where}.anchor: {o['anchor']!r} is not one of {list(CRIACL_ANCHORS)}")
        if o["assignment"] == "code" and o["anchor"] != "pix":
            raise ConfigError(f"{where}.anchor: the public code's step anchors on the pixel loss only; "
                              f"got {o['anchor']!r} with assignment: code")
        if o["pix_loss"] not in ("l1", "l2"):
            raise ConfigError(f"{where}.pix_loss: {o['pix_loss']!r} is not 'l1' or 'l2'")
        for key in ("w_pix", "w_per", "w_adv", "w_align", "w_unif"):
            v = o[key]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"{where}.{key}: must be a number >= 0; got {v!r}")
        valid = layer_names("vgg19")
        for key in ("bottom_layers", "top_layers"):
            if not isinstance(o[key], (list, tuple)) or not o[key] or any(v not in valid for v in o[key]):
                raise ConfigError(f"{where}.{key}: must be a non-empty list of VGG19 layer names "
                                  f"({', '.join(valid)}); got {o[key]!r}")
        if o["per_layer"] not in valid:
            raise ConfigError(f"{where}.per_layer: {o['per_layer']!r} is not a VGG19 layer ({', '.join(valid)})")
        try:
            self.discriminator = build_patch_discriminator(**dict(o["discriminator"]))
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"{where}.discriminator: {exc}") from exc
        self.layers = list(dict.fromkeys([o["per_layer"], *o["bottom_layers"], *o["top_layers"]]))
        self.encoder, self.stand_ins = build_vgg_encoder(
            o["encoder_weights"], arch="vgg19", layers=self.layers, input_norm=bool(o["input_norm"]),
            input_range=o["encoder_input_range"], allow_random=bool(o["encoder_stand_in"]),
            stand_in_divisor=int(o["encoder_stand_in_divisor"]))
        self.criteria_on = bool(o["align"] or o["unif"])
        criteria = _PAPER_CRITERIA if o["assignment"] == "paper" else _CODE_CRITERIA
        # instance attribute: the log's columns for this assignment
        self.loss_names = ("pix", "per", "adv", "align", "unif", *criteria, *_D_LOGS)
        self._two_branch = getattr(student, "head", "none") in ("code", "paper")

    # -- networks ------------------------------------------------------------------------------
    def trainable(self):
        return {"g": [self.student], "d": [self.discriminator]}

    def frozen(self):
        return {**super().frozen(), "encoder": self.encoder}

    def divergence_hint(self) -> str:
        return "lower the learning rates or the adversarial weight w_adv, or clip gradients (train.groups.d.grad_clip)"

    # -- pieces --------------------------------------------------------------------------------
    def _outputs(self, lq: Tensor) -> dict[str, Tensor]:
        """The fused image and the two branches (the same tensor for a network without branches);
        through the student's ``forward``, so that a data-parallel wrapper sees the call."""
        if self._two_branch:
            return self.student(lq, parts=True)
        out = self.student(lq)
        return {"out": out, "unif": out, "align": out}

    def _pix(self, x: Tensor, gt: Tensor, mask: Tensor | None = None) -> Tensor:
        diff = (x - gt).abs() if self.options["pix_loss"] == "l1" else (x - gt).square()
        return _masked_mean(diff, mask)

    def _features(self, images: list[Tensor], gt: Tensor) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        """VGG19 features of each image (one call with gradients) and of ``gt`` (inference mode)."""
        with torch.inference_mode():
            ref = dict(zip(self.layers, self.encoder(gt)))
        ref = {k: v.clone() for k, v in ref.items()}   # usable in autograd outside inference mode
        feats = self.encoder(torch.cat(images, dim=0))
        per_image: list[dict[str, Tensor]] = [{} for _ in images]
        for name, f in zip(self.layers, feats):
            for i, chunk in enumerate(f.chunk(len(images), dim=0)):
                per_image[i][name] = chunk
        return per_image, ref

    @staticmethod
    def _perc(feats: dict[str, Tensor], ref: dict[str, Tensor], layers: list[str],
              mask: Tensor | None = None) -> Tensor:
        return torch.stack([_masked_mean((feats[k] - ref[k]).abs(), mask) for k in layers]).mean()

    def _adv(self, real_logits: Tensor, image: Tensor) -> Tensor:
        return ragan_generator_loss(real_logits, self.discriminator(image))

    # -- phases --------------------------------------------------------------------------------
    def phase(self, group: str, batch: dict[str, Tensor], step: int, context: dict[str, Any]) -> PhaseOutput:
        lq, gt = batch["lq"], batch["gt"]
        if group == "d":
            fake = context["fake"]
            real_logits, fake_logits = self.discriminator(gt), self.discriminator(fake)
            return PhaseOutput({"d": ragan_discriminator_loss(real_logits, fake_logits)},
                               {"d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean()})
        parts = self._outputs(lq)
        context["fake"] = parts["out"].detach()
        with torch.no_grad():   # the real logits enter the generator loss detached (as the public step)
            real_logits = self.discriminator(gt)
        if self.options["assignment"] == "code":
            return self._code_step(parts, gt, real_logits)
        return self._paper_step(parts, gt, real_logits)

    def _paper_step(self, parts: dict[str, Tensor], gt: Tensor, real_logits: Tensor) -> PhaseOutput:
        o = self.options
        out, align_img, unif_img = parts["out"], parts["align"], parts["unif"]
        split = self._two_branch and self.criteria_on
        images = [out, align_img, unif_img] if split else [out]
        feats, ref = self._features(images, gt)
        f_out = feats[0]
        f_align, f_unif = (feats[1], feats[2]) if split else (f_out, f_out)
        adv_out = self._adv(real_logits, out)
        terms = {"pix": o["w_pix"] * self._pix(out, gt),
                 "per": o["w_per"] * self._perc(f_out, ref, [o["per_layer"]]),
                 "adv": o["w_adv"] * adv_out}
        logs: dict[str, Tensor] = {}
        if self.criteria_on:
            import kornia

            use_masks = bool(o["masked_criteria"]) and "mask_align" in parts
            m_align = parts["mask_align"] if use_masks else None
            m_unif = parts["mask_unif"] if use_masks else None
            adv_unif = self._adv(real_logits, unif_img) if split else adv_out

            def anchor(img: Tensor, f: dict[str, Tensor], mask: Tensor | None, adv: Tensor | None) -> Tensor:
                if o["anchor"] == "pix":
                    return self._pix(img, gt, mask)
                if o["anchor"] == "per":
                    return self._perc(f, ref, [o["per_layer"]], mask)
                return adv if adv is not None else self._adv(real_logits, img)

            ssim_map = kornia.metrics.ssim(align_img.clamp(0, 1), gt, window_size=11)
            c_ssim = 1 - _masked_mean(ssim_map, m_align)
            c_perc_b = self._perc(f_align, ref, list(o["bottom_layers"]), m_align)
            c_anchor_align = anchor(align_img, f_align, m_align, None if split else adv_out)
            c_anchor_unif = anchor(unif_img, f_unif, m_unif, adv_unif)
            c_perc_t = self._perc(f_unif, ref, list(o["top_layers"]), m_unif)
            if o["align"]:
                terms["align"] = o["w_align"] * alignment(c_anchor_align, [c_ssim, c_perc_b], eta=o["eta"])
            if o["unif"]:
                terms["unif"] = o["w_unif"] * uniformity(c_anchor_unif, [c_perc_t, adv_unif], t=o["t"])
            logs.update(c_anchor_align=c_anchor_align, c_ssim=c_ssim, c_perc_b=c_perc_b,
                        c_anchor_unif=c_anchor_unif, c_perc_t=c_perc_t, c_adv_unif=adv_unif)
        return PhaseOutput(terms, {k: v.detach() for k, v in logs.items()})

    def _code_step(self, parts: dict[str, Tensor], gt: Tensor, real_logits: Tensor) -> PhaseOutput:
        o = self.options
        out, out1, out2 = parts["out"], parts["unif"], parts["align"]
        w_pix, w_per, w_adv = float(o["w_pix"]), float(o["w_per"]), float(o["w_adv"])
        feats, ref = self._features([out], gt)
        l_pix = w_pix * self._pix(out, gt)               # the anchor: not in the total
        l_pix2 = w_pix * self._pix(out2, gt)
        l_fea = w_per * self._perc(feats[0], ref, [o["per_layer"]])
        if self._two_branch:
            l_gan, l_gan1, l_gan2 = (w_adv * self._adv(real_logits, x) for x in (out, out1, out2))
        else:
            l_gan = l_gan1 = l_gan2 = w_adv * self._adv(real_logits, out)
        terms = {"pix": l_pix2, "per": l_fea, "adv": l_gan1}
        if o["align"]:
            terms["align"] = o["w_align"] * alignment(l_pix2, [l_fea], eta=o["eta"])
        if o["unif"]:
            terms["unif"] = o["w_unif"] * uniformity(l_pix, [l_gan, l_gan1, l_gan2], t=o["t"])
        logs = {"c_pix_fused": l_pix, "c_pix_align": l_pix2, "c_per": l_fea, "c_gan_fused": l_gan,
                "c_gan_unif": l_gan1, "c_gan_align": l_gan2}
        return PhaseOutput(terms, {k: v.detach() for k, v in logs.items()})

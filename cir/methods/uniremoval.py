"""Uni-Removal's two training stages (Zhang et al., "Uni-Removal", arXiv 2307.05075v1, seed 003;
notes ``reference/papers/uniremoval.md``): knowledge transfer (:class:`UniRemovalKT`: one student
learns haze, rain and blur removal from three frozen task teachers of the same architecture,
MPRNet) and domain adaptation to real images (:class:`UniRemovalDA`, below).

Knowledge transfer.

Each sample of the batch carries its task (``batch["task"]``: the index of its training folder,
:class:`cir.data.paired.PatchSampler` with ``labelled=True``); option ``task_teachers`` names the
teacher of each index (default ``haze, rain, blur``). With ``x`` the degraded input, ``S`` the
student and ``T`` the sample's own teacher::

    L_kt = L_pixel + alpha2 * (L_ig + alpha1(epoch) * L_fg)                     (eqs. 1, 5, 6)

* ``L_pixel = |S(x) - T(x)|_1`` (eq. 1): the ground truth enters no student loss, as printed;
* ``L_ig`` (eq. 4, image-grained): anchor ``phi(S(x))``, positive ``phi(T(x))``, negatives the
  degraded inputs of the batch ``phi(x_q)`` (all of them, the sample's own included), with ``phi``
  the VGG19 features at ``vgg_layers`` (flattened; one term per layer, weighted by ``vgg_weights``);
* ``L_fg`` (eq. 3, feature-grained): anchor the student's intermediate features (``feature_layer``,
  MPRNet's ``stage3_orsnet``, flattened: ``phi`` = identity, VGG cannot read them), positive the
  teacher's features at the same layer, negatives the student's features of the batch's samples of
  *another* task;
* the contrastive form, temperature and stability: :func:`cir.losses.uniremoval.contrastive_loss`
  (``-log`` of eq. 2's ratio by default, ``tau`` 1e-6 as printed);
* ``alpha1`` = 0.5 multiplied by 0.99 per epoch (:func:`~cir.losses.uniremoval.decayed`; the
  paper gives no epoch length: ``steps_per_epoch``, set by the preset), ``alpha2`` = 0.1.

Table IV's rows are the switches ``icl`` (the image-grained term) and ``fcl`` (the
feature-grained term): BKT is both off, "+ICL" one, the full model both.

The teachers and the VGG19 are frozen: each teacher runs once per step on its own samples under
``torch.inference_mode()``; the degraded inputs and the teachers' outputs go through VGG19 in one
call without gradients, the student's output in one call with gradients.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from cir.encoders.vgg import build_vgg_encoder, layer_names
from cir.engine.method import Method, PhaseOutput
from cir.errors import ConfigError
from cir.losses.uniremoval import FORMS, contrastive_loss, decayed, flatten_features
from cir.methods.catalog import defaults as _defaults
from cir.models.taps import FeatureTaps, check_layer_names


class UniRemovalKT(Method):
    name = "uniremoval_kt"
    teacher_names = ("haze", "rain", "blur")
    loss_names = ("pixel", "ig", "fg", "alpha1")
    defaults: dict[str, Any] = _defaults("uniremoval_kt")

    def __init__(self, student, teachers=None, options=None, *, where="options"):
        super().__init__(student, teachers, options, where=where)
        o = self.options
        self.where = where
        order = list(o["task_teachers"])
        if sorted(order) != sorted(self.teacher_names):
            raise ConfigError(f"{where}.task_teachers: {order} must name each of the teachers "
                              f"{list(self.teacher_names)} once, in the order of the training folders")
        self.order = order
        if o["form"] not in FORMS:
            raise ConfigError(f"{where}.form: {o['form']!r} is not one of {list(FORMS)}")
        valid = layer_names("vgg19")
        if not o["vgg_layers"] or any(v not in valid for v in o["vgg_layers"]):
            raise ConfigError(f"{where}.vgg_layers: must be VGG19 layer names ({', '.join(valid)}); "
                              f"got {o['vgg_layers']!r}")
        if len(o["vgg_weights"]) != len(o["vgg_layers"]):
            raise ConfigError(f"{where}.vgg_weights: {len(o['vgg_weights'])} weights for "
                              f"{len(o['vgg_layers'])} vgg_layers")
        try:
            check_layer_names(student, [o["feature_layer"]], role="student")
            for name, t in self.teachers.items():
                check_layer_names(t, [o["feature_layer"]], role=f"teacher {name!r}")
        except KeyError as exc:
            raise ConfigError(f"{where}.feature_layer: {exc}") from exc
        self.encoder = None
        if o["icl"]:
            self.encoder, self.stand_ins = build_vgg_encoder(
                o["encoder_weights"], arch="vgg19", layers=o["vgg_layers"], input_norm=bool(o["input_norm"]),
                input_range="0_1", allow_random=bool(o["encoder_stand_in"]),
                stand_in_divisor=int(o["encoder_stand_in_divisor"]))

    def frozen(self):
        nets = super().frozen()
        if self.encoder is not None:
            nets["encoder"] = self.encoder
        return nets

    def _teach(self, lq: Tensor, task: Tensor, features: bool = True) -> tuple[Tensor, Tensor | None]:
        """Each sample's own teacher's output and, with ``features``, its features at
        ``feature_layer`` (one call per teacher present). Features of teachers of different widths
        (an official release beside teachers trained here) cannot be compared: a clear error."""
        layer = self.options["feature_layer"]
        out = feats = None
        with torch.inference_mode():
            for k, name in enumerate(self.order):
                idx = (task == k).nonzero(as_tuple=True)[0]
                if idx.numel() == 0:
                    continue
                if features:
                    with FeatureTaps(self.teachers[name], [layer]) as taps:
                        y = self.teachers[name](lq[idx])
                        f = taps.feature(layer)
                else:
                    y, f = self.teachers[name](lq[idx]), None
                if out is None:
                    out = y.new_empty((lq.shape[0], *y.shape[1:]))
                    feats = None if f is None else f.new_empty((lq.shape[0], *f.shape[1:]))
                if feats is not None and f is not None and f.shape[1:] != feats.shape[1:]:
                    raise ConfigError(
                        f"{self.where}.fcl: teacher {name!r} gives features of shape {tuple(f.shape[1:])} at "
                        f"{layer}, another teacher {tuple(feats.shape[1:])}: the feature-grained term needs "
                        "teachers of one width (set fcl: false to train without it)")
                out[idx] = y
                if feats is not None:
                    feats[idx] = f
        if out is None:   # unreachable with a non-empty batch
            raise ValueError("uniremoval_kt: empty batch")
        # normal tensors: usable as constants in the autograd graph
        return out.clone(), None if feats is None else feats.clone()

    def training_step(self, batch, step):
        o = self.options
        lq, task = batch["lq"], batch.get("task")
        if task is None:
            raise ConfigError(f"{self.where}: uniremoval_kt needs task labels in the batch (a labelled "
                              "sampler over one training folder per task)")
        if int(task.max()) >= len(self.order) or int(task.min()) < 0:
            raise ConfigError(f"{self.where}.task_teachers: a batch holds task {int(task.max())}, but only "
                              f"{len(self.order)} teachers are named ({self.order})")
        target, t_feats = self._teach(lq, task, features=bool(o["fcl"]))
        layer = o["feature_layer"]
        with FeatureTaps(self.student, [layer]) as taps:
            out = self.student(lq)
            s_feats = taps.feature(layer)
        terms = {"pixel": o["w_pixel"] * (out - target).abs().mean()}
        alpha1 = decayed(o["alpha1"], step, int(o["steps_per_epoch"]), o["decay"])
        logs = {"alpha1": torch.tensor(alpha1)}
        if o["icl"]:
            with torch.inference_mode():
                refs = self.encoder(torch.cat([target, lq], dim=0))
            refs = [r.clone() for r in refs]
            ig = out.new_zeros(())
            for f_out, ref, w in zip(self.encoder(out), refs, o["vgg_weights"]):
                pos, neg = ref.chunk(2, dim=0)
                bank = flatten_features(neg)
                ig = ig + float(w) * contrastive_loss(
                    flatten_features(f_out), flatten_features(pos), bank.unsqueeze(0).expand(len(out), -1, -1),
                    tau=o["tau"], form=o["form"])
            terms["ig"] = o["alpha2"] * ig
        if o["fcl"]:
            if t_feats is None or t_feats.shape != s_feats.shape:
                raise ConfigError(f"{self.where}.fcl: the teachers' features at {layer} have shape "
                                  f"{None if t_feats is None else tuple(t_feats.shape[1:])}, the student's "
                                  f"{tuple(s_feats.shape[1:])}: the feature-grained term needs teachers of the "
                                  "student's width (set fcl: false to train without it)")
            anchor = flatten_features(s_feats)
            other_task = task.unsqueeze(1) != task.unsqueeze(0)          # [B, B]: negatives of another task
            fg = contrastive_loss(anchor, flatten_features(t_feats), anchor.unsqueeze(0).expand(len(out), -1, -1),
                                  tau=o["tau"], form=o["form"], negative_mask=other_task)
            terms["fg"] = o["alpha2"] * alpha1 * fg
        return PhaseOutput(terms, logs)


class UniRemovalDA(Method):
    """Uni-Removal's second stage, domain adaptation (eqs. 7-13): the knowledge-transfer student
    (the experiment's ``init``) fine-tuned without labels on real degraded images (``batch["lq"]``,
    with their degradation type ``batch["task"]``) and real clear images (``batch["clear"]``), from
    :class:`cir.data.unpaired.UnpairedSampler`, against a discriminator::

        L_da = L_gan + lambda2 * L_idt + lambda3 * (L_eig + lambda1(epoch) * L_efg)   (eqs. 12-13)

    * ``L_gan``: the paper gives no discriminator and prints eq. (7) oddly; ours (recorded): the
      least-squares GAN of CycleGAN, whose identity loss and Adam beta1 0.5 the paper uses, with its
      default PatchGAN (``discriminator``: ndf 64, 3 layers, InstanceNorm). The generator term is
      ``(D(S(x_r)) - 1)^2``; the discriminator's ``d_weight * [(D(real) - 1)^2 + D(S(x_r))^2]`` with
      ``real`` the clear images (``d_real: clear``, the text: D separates restored images from
      real-world clear ones) or the student's outputs on them (``d_real: restored_clear``, eq. 7's
      ``G_S(x_c)``); ``gan: printed`` takes eq. (7) as printed for the generator instead;
    * ``L_idt = |S(x_c) - x_c|_1`` (eq. 8);
    * ``L_eig`` (eq. 11): anchor ``phi(S(x_r))``, positives the student's outputs on the clear batch
      ``phi(S(x_c^p))`` (all of them, eq. 9's weakly correlated positives), negatives the real
      degraded inputs ``phi(x_r^q)``; ``L_efg`` (eq. 10): anchor the student's features of ``x_r``,
      positives its features of the clear batch, negatives its features of the real degraded
      samples of *another* type;
    * ``lambda1`` = 0.5 x 0.99 per epoch, ``lambda2`` = ``lambda3`` = 0.1; the printed ``lambda4``
      = 0.01 appears in no equation and is not used.

    Table V's rows are the switches: ``eicl``/``efcl`` off is "KT + BDA" (GAN and identity only).
    The degraded and clear images go through the student in one call; VGG19 sees the degraded inputs
    without gradients and the student's outputs in one call with gradients.
    """

    name = "uniremoval_da"
    groups = ("g", "d")
    loss_names = ("gan", "idt", "eig", "efg", "lambda1", "d_real", "d_fake")
    defaults: dict[str, Any] = _defaults("uniremoval_da")

    def __init__(self, student, teachers=None, options=None, *, where="options"):
        super().__init__(student, teachers, options, where=where)
        from cir.models.discriminator import build_patch_discriminator

        o = self.options
        self.where = where
        if o["form"] not in FORMS:
            raise ConfigError(f"{where}.form: {o['form']!r} is not one of {list(FORMS)}")
        if len(o["vgg_weights"]) != len(o["vgg_layers"]):
            raise ConfigError(f"{where}.vgg_weights: {len(o['vgg_weights'])} weights for "
                              f"{len(o['vgg_layers'])} vgg_layers")
        try:
            check_layer_names(student, [o["feature_layer"]], role="student")
        except KeyError as exc:
            raise ConfigError(f"{where}.feature_layer: {exc}") from exc
        try:
            self.discriminator = build_patch_discriminator(**dict(o["discriminator"]))
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"{where}.discriminator: {exc}") from exc
        self.encoder = None
        if o["eicl"]:
            self.encoder, self.stand_ins = build_vgg_encoder(
                o["encoder_weights"], arch="vgg19", layers=o["vgg_layers"], input_norm=bool(o["input_norm"]),
                input_range="0_1", allow_random=bool(o["encoder_stand_in"]),
                stand_in_divisor=int(o["encoder_stand_in_divisor"]))

    def trainable(self):
        return {"g": [self.student], "d": [self.discriminator]}

    def frozen(self):
        nets = super().frozen()
        if self.encoder is not None:
            nets["encoder"] = self.encoder
        return nets

    def phase(self, group, batch, step, context):
        from cir.losses.uniremoval import lsgan_discriminator_loss, lsgan_generator_loss, printed_gan_loss

        o = self.options
        if group == "d":
            real_scores, fake_scores = self.discriminator(context["real"]), self.discriminator(context["fake"])
            return PhaseOutput({"d": lsgan_discriminator_loss(real_scores, fake_scores, d_weight=o["d_weight"])},
                               {"d_real": real_scores.detach().mean(), "d_fake": fake_scores.detach().mean()})
        lq, clear, task = batch["lq"], batch["clear"], batch["task"]
        b = lq.shape[0]
        layer = o["feature_layer"]
        with FeatureTaps(self.student, [layer]) as taps:
            out = self.student(torch.cat([lq, clear], dim=0))
            feats = taps.feature(layer)
        restored, restored_clear = out[:b], out[b:]
        f_r, f_c = flatten_features(feats[:b]), flatten_features(feats[b:])
        context["fake"] = restored.detach()
        context["real"] = clear if o["d_real"] == "clear" else restored_clear.detach()
        if o["gan"] == "printed":
            gan = printed_gan_loss(self.discriminator(restored), self.discriminator(restored_clear))
        else:
            gan = lsgan_generator_loss(self.discriminator(restored))
        terms = {"gan": gan, "idt": o["lambda2"] * (restored_clear - clear).abs().mean()}
        lambda1 = decayed(o["lambda1"], step, int(o["steps_per_epoch"]), o["decay"])
        if o["eicl"]:
            with torch.inference_mode():
                refs = self.encoder(lq)
            refs = [r.clone() for r in refs]
            eig = lq.new_zeros(())
            for f_out, ref, w in zip(self.encoder(out), refs, o["vgg_weights"]):
                anchor, positives = flatten_features(f_out[:b]), flatten_features(f_out[b:])
                eig = eig + float(w) * contrastive_loss(
                    anchor, positives.unsqueeze(0).expand(b, -1, -1),
                    flatten_features(ref).unsqueeze(0).expand(b, -1, -1), tau=o["tau"], form=o["form"])
            terms["eig"] = o["lambda3"] * eig
        if o["efcl"]:
            other_type = task.unsqueeze(1) != task.unsqueeze(0)
            efg = contrastive_loss(f_r, f_c.unsqueeze(0).expand(b, -1, -1), f_r.unsqueeze(0).expand(b, -1, -1),
                                   tau=o["tau"], form=o["form"], negative_mask=other_type)
            terms["efg"] = o["lambda3"] * lambda1 * efg
        return PhaseOutput(terms, {"lambda1": torch.tensor(lambda1)})

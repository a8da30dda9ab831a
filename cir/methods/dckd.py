"""DCKD: dynamic contrastive knowledge distillation (Zhou et al., AAAI 2025; seed 000).

Loss (eq. 10): L = L_rec + L_kd + lambda_dcl * L_dcl + lambda_ce * L_ce, with

* L_rec, L_kd: L1 to ground truth and to the frozen teacher (eqs. 2-3);
* L_dcl (DCR, eqs. 4-6): ratio contrastive loss on VQGAN encoder levels with the teacher's
  output as positive and the *history model* (a slowly updated copy of the student) applied
  to degraded inputs as negatives;
* L_ce (DMM, eqs. 7-9): cross-entropy between the teacher's and the student's pixel-level
  distributions over the VQGAN codebook.

Frozen networks (teacher, history model, encoder on positive/negatives) run under
``torch.inference_mode()``; all negatives of a batch go through the history model and the
encoder as one batched call each. Where the public code differs from the paper, the paper
is the default and the public behaviour an option (see ``defaults``).
"""

from __future__ import annotations

from typing import Any

import torch

from cir.data.degrade import Degrader
from cir.engine.ema import ModelEMA
from cir.engine.method import Method
from cir.errors import ConfigError
from cir.losses import l1
from cir.losses.contrastive import ratio_contrastive
from cir.losses.distribution import dmm_cross_entropy
from cir.methods.catalog import defaults as _defaults
from cir.methods.history import HistoryModel


def scaled_schedule(schedule, scale: float) -> list[list[int]]:
    """``(start, interval)`` pairs with both numbers multiplied by ``scale`` (intervals >= 1;
    pairs whose scaled start collides with the previous one are dropped)."""
    if scale <= 0:
        raise ConfigError(f"iteration_scale: {scale} must be positive")
    out: list[list[int]] = []
    for start, interval in schedule:
        pair = [round(start * scale), max(1, round(interval * scale))]
        if out and pair[0] <= out[-1][0]:
            continue
        out.append(pair)
    return out


class DCKD(Method):
    name = "dckd"
    teacher_names = ("teacher",)
    loss_names = ("rec", "kd", "dcl", "ce")
    defaults: dict[str, Any] = _defaults("dckd")   # every option, with its source: cir/methods/catalog.py

    def __init__(self, student, teacher=None, options=None, *, where="options"):
        super().__init__(student, teacher, options, where=where)
        o = self.options
        if o["history_source"] not in ("ema", "student"):
            raise ConfigError(f"{where}.history_source: {o['history_source']!r} is not allowed; "
                              "allowed values: 'ema', 'student'")
        n_degraded = int(o["num_negatives"]) - (1 if o["clean_negative"] else 0)
        if n_degraded < 0 or int(o["num_negatives"]) < 1:
            raise ConfigError(f"{where}.num_negatives: {o['num_negatives']} must be >= 1")
        self.n_degraded = n_degraded
        self.degrader = Degrader(o["degradation"]) if n_degraded else None
        # decay ** (1 / scale) keeps the EMA's memory the same fraction of training
        source_decay = o["source_ema_decay"] ** (1.0 / float(o["iteration_scale"]))
        self.source_ema = (ModelEMA(student, source_decay)
                           if o["dcr"] and o["history_source"] == "ema" else None)
        self.history = (HistoryModel(student, alpha=o["history_alpha"],
                                     schedule=scaled_schedule(o["history_schedule"], o["iteration_scale"]))
                        if o["dcr"] else None)
        self.encoder = None
        if o["dcr"] or o["dmm"]:
            from cir.encoders.vqgan import build_vqgan_encoder

            self.encoder, self.stand_ins = build_vqgan_encoder(
                o["encoder_weights"], allow_random=bool(o["encoder_stand_in"]),
                input_range=o["encoder_input_range"], stand_in_ch=o["encoder_stand_in_ch"])

    # -- devices and state ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "history": self.history.state_dict() if self.history else None,
            "source_ema": self.source_ema.state_dict() if self.source_ema else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.history is not None:
            self.history.load_state_dict(state["history"])
        if self.source_ema is not None:
            self.source_ema.load_state_dict(state["source_ema"])

    def frozen(self):
        nets = super().frozen()
        if self.history is not None:
            nets["history"] = self.history.model
        if self.source_ema is not None:
            nets["source_ema"] = self.source_ema.shadow
        if self.encoder is not None:
            nets["encoder"] = self.encoder
        return nets

    def after_step(self, step: int) -> None:
        if self.history is None:
            return
        if self.source_ema is not None:
            self.source_ema.update(self.student)
        source = self.source_ema.shadow if self.source_ema is not None else self.student
        self.history.maybe_update(step, source)

    # -- the loss ------------------------------------------------------------------------------
    def negatives(self, lq: torch.Tensor) -> torch.Tensor:
        """History-model outputs for the N negative inputs: ``[N * B, 3, H, W]``, copy-major."""
        inputs = []
        if self.options["clean_negative"]:
            inputs.append(lq.unsqueeze(0))
        if self.n_degraded:
            g = torch.Generator(device="cpu").manual_seed(int(torch.randint(0, 2**62, (1,))))
            inputs.append(self.degrader(lq, self.n_degraded, g))
        batch = torch.cat(inputs).flatten(0, 1)
        return self.history(batch)

    def training_step(self, batch, step):
        o = self.options
        lq, gt = batch["lq"], batch["gt"]
        sr = self.student(lq)
        terms = {"rec": o["w_rec"] * self.rec_loss(sr, gt)}
        with torch.inference_mode():
            t_out = self.teacher(lq)
            need_latent = bool(o["dmm"])
            pos = self.encoder(t_out, levels=bool(o["dcr"]), latent=need_latent) if self.encoder else None
            if o["dcr"]:
                neg_feats = self.encoder.features(self.negatives(lq))
        terms["kd"] = o["w_kd"] * l1(sr, t_out)
        zero = sr.new_zeros(())
        if self.encoder is None:
            return {**terms, "dcl": zero, "ce": zero}
        anc = self.encoder(sr, levels=bool(o["dcr"]), latent=need_latent)
        if o["dcr"]:
            n = o["num_negatives"]
            negs = [f.view(n, -1, *f.shape[1:]) for f in neg_feats]
            terms["dcl"] = o["w_dcl"] * ratio_contrastive(anc.features, pos.features, negs, o["level_weights"])
        else:
            terms["dcl"] = zero
        if o["dmm"]:
            terms["ce"] = o["w_ce"] * dmm_cross_entropy(anc.latent, pos.latent, self.encoder.codebook,
                                                        double_softmax=o["double_softmax"])
        else:
            terms["ce"] = zero
        return terms

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
from cir.engine.history import HistoryModel
from cir.errors import ConfigError
from cir.losses import l1
from cir.losses.contrastive import ratio_contrastive
from cir.losses.distribution import dmm_cross_entropy
from cir.methods.base import Method


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
    needs_teacher = True
    loss_names = ("rec", "kd", "dcl", "ce")
    defaults: dict[str, Any] = {  # noqa: RUF012 - read-only table of option defaults
        "w_rec": 1.0,                 # eq. (10)
        "w_kd": 1.0,                  # eq. (10)
        "w_dcl": 0.1,                 # lambda_dcl, Sec. Implementation / Table 7
        "w_ce": 0.001,                # lambda_ce, Table 7
        "dcr": True,                  # Table 5 switches
        "dmm": True,
        "num_negatives": 5,           # N, "default 5" (Fig. 8)
        "clean_negative": True,       # public code: the clean LR is one of the N history inputs
        "degradation": "noise",       # Table 6: blur | noise | resize | mix; released configs: noise
        "history_alpha": 0.1,         # eq. (6) alpha; public code his <- 0.1 his + 0.9 src
        "history_source": "ema",      # public code: the student's EMA copy; "student": live weights
        "source_ema_decay": 0.999,    # decay of that EMA copy (public code)
        "history_schedule": [[0, 1000], [100000, 2000], [200000, 3000]],  # update step s grows
        "level_weights": [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0],             # lambda_i, public code
        "double_softmax": False,      # public code's second log-softmax in L_ce (off = paper)
        "encoder_weights": None,      # path of the official VQGAN f16 checkpoint
        "encoder_stand_in": False,    # True: random encoder weights, recorded as a stand-in
        "encoder_input_range": "0_1",  # public code feeds [0, 1] images to the encoder
        "encoder_stand_in_ch": None,  # narrower random stand-in for small CPU presets (recorded)
        # Multiplies the iteration counts above (history schedule; the EMA horizon of the source
        # copy), which the paper states for 2.5e5 iterations; shorter presets set it to their
        # length / 2.5e5 so that the history model moves as it does, relative to training, in
        # the paper.
        "iteration_scale": 1.0,
    }

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
    def to(self, device):
        super().to(device)
        for m in (self.encoder, self.history, self.source_ema.shadow if self.source_ema else None):
            if m is not None:
                m.to(device)
        return self

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

    def timed_modules(self):
        parts = {}
        if self.history is not None:
            parts["history_forward"] = self.history.model
        if self.encoder is not None:
            parts["encoder_forward"] = self.encoder
        return parts

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
        terms = {"rec": o["w_rec"] * l1(sr, gt)}
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

"""Vanilla output ("logits") distillation: L1 to ground truth + L1 to the frozen teacher.

DCKD eqs. (2)-(3); the "Logits" row of its Table 2.
"""

from __future__ import annotations

from cir.engine.method import Method
from cir.losses import l1
from cir.methods.catalog import defaults as _defaults


class LogitsKD(Method):
    name = "logits"
    teacher_names = ("teacher",)
    loss_names = ("rec", "kd")
    defaults = _defaults("logits")

    def training_step(self, batch, step):
        lq, gt = batch["lq"], batch["gt"]
        sr = self.student(lq)
        target = self.teacher_output(lq)
        return {
            "rec": self.options["w_rec"] * self.rec_loss(sr, gt),
            "kd": self.options["w_kd"] * l1(sr, target),
        }

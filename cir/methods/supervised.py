"""Plain supervised training: L1 to ground truth (DCKD eq. 2).

Used for teacher pretraining and for the "Scratch" student row of DCKD Table 2.
"""

from __future__ import annotations

from cir.engine.method import Method
from cir.methods.catalog import defaults as _defaults


class Supervised(Method):
    name = "supervised"
    loss_names = ("rec",)
    defaults = _defaults("supervised")

    def training_step(self, batch, step):
        sr = self.student(batch["lq"])
        return {"rec": self.options["w_rec"] * self.rec_loss(sr, batch["gt"])}

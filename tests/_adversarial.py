"""A small adversarial method that lives in the tests: a generator (the student) and a critic, two
trainable groups, a generator phase then a critic phase. It proves the engine's critic path
(per-group optimisers, phases, logged-only values, checkpoints, data parallelism) with no paper's
method involved. Registered on import, in every process that imports it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cir.engine.method import Method, PhaseOutput
from cir.losses import l1
from cir.methods import register_method
from cir.methods.catalog import NUMBER
from cir.methods.catalog import defaults as _defaults

register_method("tiny_adversarial", "_adversarial:TinyAdversarial",
                {"w_rec": (1.0, NUMBER), "w_adv": (0.1, NUMBER)}, groups=("g", "d"))


class TinyCritic(nn.Module):
    """A two-layer patch critic: one logit per 2x2 output cell."""

    def __init__(self, width: int = 8):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(width, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class TinyAdversarial(Method):
    name = "tiny_adversarial"
    groups = ("g", "d")
    loss_names = ("rec", "adv", "d_real", "d_fake", "d_acc")
    defaults = _defaults("tiny_adversarial")

    def __init__(self, student, teachers=None, options=None, *, where="options"):
        super().__init__(student, teachers, options, where=where)
        self.critic = TinyCritic()

    def trainable(self):
        return {"g": [self.student], "d": [self.critic]}

    def phase(self, group, batch, step, context):
        lq, gt = batch["lq"], batch["gt"]
        if group == "g":
            sr = self.student(lq)
            context["sr"] = sr.detach()
            adv = F.softplus(-self.critic(sr)).mean()          # non-saturating generator loss
            return {"rec": self.options["w_rec"] * l1(sr, gt), "adv": self.options["w_adv"] * adv}
        real, fake = self.critic(gt), self.critic(context["sr"])
        accuracy = ((real > 0).float().mean() + (fake < 0).float().mean()) / 2
        return PhaseOutput({"d_real": F.softplus(-real).mean(), "d_fake": F.softplus(fake).mean()},
                           logs={"d_acc": accuracy})

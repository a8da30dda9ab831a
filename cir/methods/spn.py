"""MCIR's SPN: negatives from the model's own history (Wu et al., "Learning from History:
Task-agnostic Model Contrastive Learning for Image Restoration", AAAI 2024; seed 001).

N *negative models* are slow copies of the network being trained. Negative model k is updated
every ``s_k`` iterations by ``theta'_k <- alpha * theta'_k + (1 - alpha) * theta`` from the live
weights (eq. 3; alpha 0.1) and starts as ``init_weight * random + (1 - init_weight) * theta_0``
(the public code's ``neg_start`` 0.1). Their outputs on the same degraded input are the negatives;
the loss pushes the output away from them in VGG16 space:

    L = w_rec * L_rec(out, gt) - lambda * (1/N) sum_k sum_l w_l * mean |VGG_l(out) - VGG_l(neg_k)|

with relu1_2 / relu2_2 / relu3_3 weighted 0.2 / 0.3 / 0.5 and ImageNet normalisation (BasicSR's
``PerceptualLoss`` as the public code uses it). The extraction of the paper lost every formula;
this form is the public code's (``l_total -= ...``), which a summary of the paper confirms. The
README's pseudo-code writes ``+ lambda * L_neg`` (a sign slip).

Paper vs public code (the paper is the default, see cir/methods/catalog.py and
cir/paper/mcir/README.md): lambda 1e-4 (Table 8) vs 1e-3 (the only released config, FFA-Net);
steps s = 100/500/1000/2000 (Table 7) vs 100/200/500/1000.

Table 6's negative models: ``adaptive`` (the default above), ``fixed_random`` (random weights,
never updated) and ``fixed_pretrained`` (a pretrained model, never updated: the job's
``negative`` network, e.g. the baseline's model file).

The subtracted term is unbounded: lambda 1e-2 and 1e-3 "collapse" in Table 8, alpha 0 and 0.01
in Table 9. A non-finite loss stops the run (the trainer), and so does a validation PSNR that
falls ``collapse_drop_db`` below the best one seen (:meth:`SPN.after_validation`), each with an
error that names the step and what to change.

The negative models run under ``torch.inference_mode()``; the VGG encoder sees all N negatives of
a batch in one call.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from cir.engine.method import Method, PhaseOutput, TrainingDiverged
from cir.errors import ConfigError
from cir.losses.perceptual import perceptual_distance
from cir.methods.catalog import SPN_NEGATIVE_MODELS
from cir.methods.catalog import defaults as _defaults
from cir.methods.history import HistoryModel


class SPN(Method):
    name = "spn"
    loss_names = ("rec", "neg", "neg_distance")
    defaults: dict[str, Any] = _defaults("spn")

    def __init__(self, student, teachers=None, options=None, *, where="options"):
        mode = (options or {}).get("negative_model", self.defaults["negative_model"])
        # Table 6's "pre-trained (fixed)" negative is a network the job hands over, like a teacher
        self.teacher_names = ("negative",) if mode == "fixed_pretrained" else ()
        super().__init__(student, teachers, options, where=where)
        o = self.options
        if mode not in SPN_NEGATIVE_MODELS:
            raise ConfigError(f"{where}.negative_model: {mode!r} is not one of {list(SPN_NEGATIVE_MODELS)}")
        if len(o["layers"]) != len(o["layer_weights"]):
            raise ConfigError(f"{where}: {len(o['layers'])} layers but {len(o['layer_weights'])} layer_weights")
        self.mode = mode
        self.negatives: list[HistoryModel] = []
        if mode == "fixed_pretrained":
            pretrained = self.teachers["negative"]
            self.negatives.append(HistoryModel(pretrained, alpha=0.0, schedule=[(0, 1)]))
        else:
            weight = 1.0 if mode == "fixed_random" else float(o["init_weight"])
            steps = ([max(1, round(s * float(o["step_scale"]))) for s in o["steps"]] if mode == "adaptive"
                     else [1])
            self.steps = steps
            for k, s_k in enumerate(steps):
                seed = int(o["negative_seed"]) + k
                self.negatives.append(HistoryModel(student, alpha=float(o["alpha"]), schedule=[(0, int(s_k))],
                                                   init="mix_random", init_weight=weight,
                                                   random_model=_random_twin(student, seed),
                                                   generator=torch.Generator().manual_seed(seed)))
        from cir.encoders.vgg import build_vgg_encoder

        self.encoder, self.stand_ins = build_vgg_encoder(
            o["encoder_weights"], arch=o["encoder"], layers=o["layers"], input_norm=bool(o["input_norm"]),
            input_range=o["encoder_input_range"], allow_random=bool(o["encoder_stand_in"]),
            stand_in_divisor=int(o["encoder_stand_in_divisor"]))
        self.best_psnr = -math.inf

    # -- networks and state --------------------------------------------------------------------
    def frozen(self):
        nets = {k: v for k, v in super().frozen().items() if k != "negative"}
        nets.update({f"negative_{k}": h.model for k, h in enumerate(self.negatives)})
        nets["encoder"] = self.encoder
        return nets

    def state_dict(self) -> dict[str, Any]:
        return {"negatives": [h.state_dict() for h in self.negatives], "best_psnr": self.best_psnr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("negatives", [])
        if len(saved) != len(self.negatives):
            raise ValueError(f"spn: the checkpoint holds {len(saved)} negative models, this run has "
                             f"{len(self.negatives)}")
        for h, s in zip(self.negatives, saved):
            h.load_state_dict(s)
        self.best_psnr = float(state.get("best_psnr", -math.inf))

    def after_step(self, step: int) -> None:
        if self.mode != "adaptive":
            return
        for h in self.negatives:
            h.maybe_update(step, self.student)

    def after_validation(self, step: int, values: dict[str, float]) -> None:
        psnr = values.get("psnr")
        drop = float(self.options["collapse_drop_db"])
        if psnr is None or drop <= 0:
            return
        if not math.isfinite(psnr) or psnr < self.best_psnr - drop:
            raise TrainingDiverged(
                f"spn: training collapsed at step {step}: validation PSNR {psnr:.2f} dB is more than "
                f"{drop:g} dB below the best so far ({self.best_psnr:.2f} dB). The subtracted negative term "
                f"(lambda={self.options['lambda_neg']:g}) outgrew the reconstruction loss; MCIR reports the "
                f"same collapse for lambda >= 1e-3 and alpha <= 0.01 (Tables 8-9). Lower lambda_neg or raise "
                f"alpha, or set collapse_drop_db: 0 to train on regardless.")
        self.best_psnr = max(self.best_psnr, psnr)

    def divergence_hint(self) -> str:
        return (f"spn subtracts lambda_neg={self.options['lambda_neg']:g} times an unbounded VGG distance to "
                f"its negatives; lower lambda_neg (the paper's 1e-4) or raise alpha")

    # -- the loss ------------------------------------------------------------------------------
    def negative_outputs(self, lq: torch.Tensor) -> torch.Tensor:
        """The N negative models' outputs on ``lq``: ``[N * B, 3, H, W]``, model-major."""
        with torch.inference_mode():
            return torch.cat([h(lq) for h in self.negatives])

    def training_step(self, batch, step):
        o = self.options
        lq, gt = batch["lq"], batch["gt"]
        out = self.student(lq)
        terms = {"rec": o["w_rec"] * self.rec_loss(out, gt)}
        with torch.inference_mode():
            neg_feats = self.encoder(self.negative_outputs(lq))
        distance = perceptual_distance(self.encoder(out), neg_feats, o["layer_weights"])
        terms["neg"] = -float(o["lambda_neg"]) * distance
        return PhaseOutput(terms, {"neg_distance": distance.detach()})


def _random_twin(student: torch.nn.Module, seed: int) -> torch.nn.Module | None:
    """A freshly built network of the student's spec, initialised from ``seed`` (as the public code
    builds each negative: the constructor's initialisation, so fixed layers such as RCAN's mean
    shift keep their values); ``None`` for a network not built by the registry (then every
    submodule's ``reset_parameters`` re-draws a copy)."""
    spec = getattr(student, "cir_spec", None)
    if spec is None:
        return None
    from cir.models import build_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        twin = build_model(spec["arch"], spec["scale"], **spec["params"])
    device = next(student.parameters(), torch.empty(0)).device
    return twin.to(device)

"""MiPKD: multi-granularity mixture-of-priors distillation (Li et al., ICLR 2025, arXiv 2404.02573);
the "MiPKD" row of DCKD Table 2.

Loss: L = w_rec * L1(S, GT) + w_kd * L1(S, T) + w_feat * L_feat + w_ae * L_ae + w_block * L_block.

Feature prior mixer (per distillation position k, cir.models.mixers.FeaturePriorMixer). The
teacher feature F_T^k and the student feature F_S^k are encoded by separate CNN encoders into
one latent space, Z_T = E_T(F_T), Z_S = E_S(F_S); a random 0/1 mask I_k mixes them,
Z_k = I_k * Z_T + (1 - I_k) * Z_S; the teacher decoder reconstructs a teacher feature from the
mix, and L_feat is the mean over positions of L1(D_T(Z_k), F_T^k). In the paper's words, "the
encoder-decoder in the feature prior mixer reconstructs the portion of the teacher model
feature map that is replaced by the student's". L_ae is the auxiliary auto-encoder loss, the
mean of L1(D_T(Z_T), F_T^k); the paper ablates it (Table 8) as an aid to the accuracy of the
mapping into the latent space.

Block prior mixer. Per position, a random option R_k sends the enhanced feature map into the
student's blocks (R_k = 1) or the teacher's (R_k = 0), so that one forward pass combines
teacher and student blocks; its output is compared with the teacher's, L_block = L1(Y_mix, T).
cir builds that pass from the K matched positions: the mixed latent Z_1 is decoded into the
width of the network chosen by R_1 and runs that network's blocks up to position 2; the result
is encoded by that network's encoder at position 2 and mixed (mask I_2) with the other
network's latent there, decoded for the network chosen by R_2, and so on; R_K picks whose
remaining blocks and tail produce Y_mix. Hand-overs reuse the masks I_k of the feature mixer.

Teacher and gradients. The teacher's own forward pass (output target, features, head output)
runs under ``torch.inference_mode()``. The block prior mixer feeds student-dependent features
into teacher blocks and L_block must reach the student and the mixers through them, so those
teacher blocks run with autograd; their parameters have ``requires_grad=False`` (``freeze``),
so the teacher never receives gradients. Teacher features that enter an encoder are cloned out
of inference mode (a convolution keeps its input for the backward pass).

Sources: what is established and what is a cir default is recorded next to the Table 2 numbers,
in cir/paper/dckd/README.md ("The MiPKD row"); the cir defaults are options (catalog.py).

Backbones (DCKD follows MiPKD's; DCKD Table 1): SwinIR teacher 180 channels / 6 RSTBs, student
60 / 4; RCAN teacher 64 channels, 10 groups x 20 blocks, student 64 channels, 10 groups x 6
blocks. With ``layers: "auto"`` the positions are every student block output, paired with the
teacher block at the same relative depth (SwinIR: teacher RSTBs 0, 2, 3, 5; RCAN: group i with
group i), as for FAKD. Feature losses act on the networks' internal features, whose scale is
the networks' own (RCAN works on 0..255 intensities inside, as in the authors' framework).
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import torch
from torch import nn

from cir.engine.method import Method
from cir.errors import CirError, ConfigError
from cir.losses import l1
from cir.methods.catalog import defaults as _defaults
from cir.methods.fakd import resolve_layer_pairs
from cir.models.mixers import (
    MASK_MODES,
    BlockRunner,
    FeaturePriorMixer,
    block_runner,
    mix_latents,
    random_mask,
)
from cir.models.taps import FeatureTaps

# Loss weights of the paper's loss-weight ablation (ICLR version, Table 10, as reported in public
# summaries): lambda_feat = 1 and lambda_block = 0.1 performed best. Reconstruction and output-KD
# terms have weight 1, as in the BasicSR KD code of the same authors' DUKD (github.com/yun224/DUKD,
# options/*.yml: pixel_opt and kd_opt L1Loss, loss_weight 1.0) and in DCKD eq. (10).
# (lambda_feat, lambda_block: see cir/methods/catalog.py)
PROBE_SIZE = 16     # side of the blank image used once to read the tapped features' widths


def _probe_channels(model: nn.Module, names: list[str]) -> list[int]:
    """Channel count of each tapped feature, read from one forward pass of a blank image."""
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with FeatureTaps(model, names) as taps, torch.inference_mode():
            model(torch.zeros(1, 3, PROBE_SIZE, PROBE_SIZE, device=param.device, dtype=param.dtype))
            return [int(taps.feature(n).shape[1]) for n in names]
    finally:
        model.train(was_training)


class MiPKD(Method):
    name = "mipkd"
    teacher_names = ("teacher",)
    loss_names = ("rec", "kd", "feat", "ae", "block")
    defaults: ClassVar[dict[str, Any]] = _defaults("mipkd")   # options: cir/methods/catalog.py

    def __init__(self, student: nn.Module, teacher: nn.Module | None = None,
                 options: dict[str, Any] | None = None, *, where: str = "options"):
        super().__init__(student, teacher, options, where=where)
        self._check_options(where)
        o = self.options
        self.pairs = resolve_layer_pairs(o["layers"], self.teacher, self.student, where=f"{where}.layers")
        self.runners: dict[str, BlockRunner] = {}
        self.block_index: dict[str, list[int]] = {}
        if o["block_mixer"]:
            self._set_up_block_mixer(where)
        self.mixers = nn.ModuleList()
        if o["feature_mixer"] or o["block_mixer"]:
            t_channels = _probe_channels(self.teacher, [t for t, _ in self.pairs])
            s_channels = _probe_channels(self.student, [s for _, s in self.pairs])
            for ct, cs in zip(t_channels, s_channels):
                latent = ct if o["latent_channels"] is None else int(o["latent_channels"])
                self.mixers.append(FeaturePriorMixer(ct, cs, latent))
            param = next(self.student.parameters())
            self.mixers.to(device=param.device)

    # -- set-up ---------------------------------------------------------------------------------
    def _check_options(self, where: str) -> None:
        o = self.options
        for key in ("w_rec", "w_kd", "w_feat", "w_block", "w_ae"):
            value = o[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{where}.{key}: expected a number >= 0, got {value!r}")
        for key in ("feature_mixer", "block_mixer"):
            if not isinstance(o[key], bool):
                raise ConfigError(f"{where}.{key}: expected true or false, got {o[key]!r}")
        if o["mask"] not in MASK_MODES:
            raise ConfigError(f"{where}.mask: {o['mask']!r} is not allowed; allowed values: "
                              f"{', '.join(repr(m) for m in MASK_MODES)}")
        for key in ("mask_ratio", "student_block_prob"):
            value = o[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(f"{where}.{key}: expected a number in [0, 1], got {value!r}")
        latent = o["latent_channels"]
        if latent is not None and (isinstance(latent, bool) or not isinstance(latent, int) or latent < 1):
            raise ConfigError(f"{where}.latent_channels: expected null or an integer >= 1, got {latent!r}")

    def _set_up_block_mixer(self, where: str) -> None:
        try:
            self.runners = {"teacher": block_runner(self.teacher), "student": block_runner(self.student)}
        except CirError as exc:
            raise ConfigError(f"{where}.block_mixer: {exc}") from exc
        for side, names in (("teacher", [t for t, _ in self.pairs]), ("student", [s for _, s in self.pairs])):
            blocks = self.runners[side].blocks
            outside = [n for n in names if n not in blocks]
            if outside:
                raise ConfigError(f"{where}.layers: the block mixer needs {side} block outputs "
                                  f"({', '.join(blocks)}); not blocks: {outside}")
            index = [blocks.index(n) for n in names]
            if any(b <= a for a, b in itertools.pairwise(index)):
                raise ConfigError(f"{where}.layers: the block mixer needs the {side} layers from shallow "
                                  f"to deep, got {names}")
            self.block_index[side] = index

    # -- what the trainer calls -------------------------------------------------------------------
    def trainable(self) -> dict[str, list[nn.Module]]:
        """The mixers train with the student (one optimiser, group ``g``)."""
        return {"g": [self.student, self.mixers] if len(self.mixers) else [self.student]}

    # -- the loss ---------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        o = self.options
        lq, gt = batch["lq"], batch["gt"]
        t_names = [t for t, _ in self.pairs]
        s_names = [s for _, s in self.pairs]
        block = bool(o["block_mixer"])
        t_heads = [self.runners["teacher"].head_layer] if block else []
        s_heads = [self.runners["student"].head_layer] if block else []
        with FeatureTaps(self.teacher, t_names + t_heads) as taps, torch.inference_mode():
            target = self.teacher(lq)
            t_feats = [taps.feature(n) for n in t_names]
            t_head = taps.feature(t_heads[0]) if block else None
        with FeatureTaps(self.student, s_names + s_heads) as taps:
            sr = self.student(lq)
            s_feats = [taps.feature(n) for n in s_names]
            s_head = taps.feature(s_heads[0]) if block else None
        terms = {"rec": o["w_rec"] * self.rec_loss(sr, gt), "kd": o["w_kd"] * l1(sr, target)}
        zero = sr.new_zeros(())
        if not len(self.mixers):
            return {**terms, "feat": zero, "ae": zero, "block": zero}
        for (t_name, s_name), ft, fs in zip(self.pairs, t_feats, s_feats):
            if ft.shape[0] != fs.shape[0] or ft.shape[-2:] != fs.shape[-2:]:
                raise ValueError(f"mipkd: student layer {s_name!r} {tuple(fs.shape)} and teacher layer "
                                 f"{t_name!r} {tuple(ft.shape)} differ in batch or spatial size; "
                                 "mixing needs equal H, W")
        # Ordinary tensors: the teacher encoder's convolutions keep their input for backward.
        t_priors = [f.clone() for f in t_feats]
        z_t = [m.encode(f, "teacher") for m, f in zip(self.mixers, t_priors)]
        z_s = [m.encode(f, "student") for m, f in zip(self.mixers, s_feats)]
        masks = [random_mask(z.shape, float(o["mask_ratio"]), mode=o["mask"], device=z.device, dtype=z.dtype)
                 for z in z_t]
        mixed = [mix_latents(a, b, m) for a, b, m in zip(z_t, z_s, masks)]
        if o["feature_mixer"]:
            k = len(self.mixers)
            feat = sum(l1(m.decode(z, "teacher"), f) for m, z, f in zip(self.mixers, mixed, t_feats)) / k
            ae = sum(l1(m.decode(z, "teacher"), f) for m, z, f in zip(self.mixers, z_t, t_feats)) / k
            terms["feat"] = o["w_feat"] * feat
            terms["ae"] = o["w_ae"] * ae
        else:
            terms["feat"] = terms["ae"] = zero
        if block:
            heads = {"teacher": t_head.clone(), "student": s_head}
            y_mix = self.combined_forward(mixed[0], z_t, z_s, masks, heads, (int(lq.shape[-2]), int(lq.shape[-1])))
            terms["block"] = o["w_block"] * l1(y_mix, target)
        else:
            terms["block"] = zero
        return terms

    def draw_block_choices(self) -> list[str]:
        """R_1 .. R_K as the side whose blocks take the enhanced feature ("student" for R_k = 1)."""
        draws = torch.rand(len(self.pairs)) < float(self.options["student_block_prob"])
        return ["student" if d else "teacher" for d in draws.tolist()]

    def combined_forward(self, first: torch.Tensor, z_t: list[torch.Tensor], z_s: list[torch.Tensor],
                         masks: list[torch.Tensor], heads: dict[str, torch.Tensor],
                         size: tuple[int, int], choices: list[str] | None = None) -> torch.Tensor:
        """Output image of the block-mixed network, starting from the mixed latent at position 1.

        ``choices`` (default: drawn with :meth:`draw_block_choices`) names, for every position
        k, the network whose next blocks take the decoded mix.
        """
        choices = self.draw_block_choices() if choices is None else list(choices)
        if len(choices) != len(self.pairs) or any(c not in self.runners for c in choices):
            raise ValueError(f"mipkd: choices must name 'teacher' or 'student' for each of the "
                             f"{len(self.pairs)} positions, got {choices}")
        latent = first
        for k in range(len(self.pairs) - 1):
            side = choices[k]
            x = self.mixers[k].decode(latent, side)
            out = self.runners[side].run(self.block_index[side][k] + 1, self.block_index[side][k + 1] + 1, x)
            z_path = self.mixers[k + 1].encode(out, side)
            if side == "teacher":
                latent = mix_latents(z_path, z_s[k + 1], masks[k + 1])
            else:
                latent = mix_latents(z_t[k + 1], z_path, masks[k + 1])
        side = choices[-1]
        x = self.mixers[-1].decode(latent, side)
        return self.runners[side].finish(self.block_index[side][-1] + 1, x, heads[side], size)

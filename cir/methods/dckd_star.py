"""DCKD*: DCKD combined with DUKD (the "DCKD*" row, x4, of DCKD's Table 2; seed 000).

The DCKD paper says only that DUKD (Zhang et al. 2023, arXiv 2309.14162) is incorporated into
the DCKD framework. This method adds to DCKD's four terms (``rec``, ``kd``, ``dcl``, ``ce``,
computed by :class:`~cir.methods.dckd.DCKD` unchanged) the terms of the two public codes:

* ``lc`` -- label consistency as in the public DCKD code (``lcr_opt``): the teacher sees the LR
  input under random invertible augmentations (:mod:`cir.data.upcycling`), the augmentation is
  undone on its output, and the student's output on the *clean* LR is pulled towards it with L1;
* ``zoom_in`` -- DUKD's upcycled-data KD: LR-sized cells of the HR patch are extra inputs; the
  teacher's output on the clean cell is the target for the student's output on the augmented
  cell with the augmentation undone (L1);
* ``zoom_out_rec`` / ``zoom_out_kd`` -- DUKD's zoom-out: the LR input downscaled by the scale
  is an extra input with the LR input as its ground truth and the teacher's output as its KD
  target (L1 each). Off by default, as in DUKD's x4 SwinIR and RCAN configs.

All terms enter one loss and one optimiser step (the public DUKD code takes a second optimiser
step for its upcycled terms). Frozen networks run under ``torch.inference_mode()``; the random
draws come from a ``torch.Generator`` seeded from the global RNG after DCKD's own draws, so a
step depends only on the global seed and DCKD's terms equal those of ``dckd`` for that seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from cir.data.upcycling import augment, check_ops_names, draw_ops, invert, zoom_in, zoom_out
from cir.errors import ConfigError
from cir.losses import l1
from cir.methods.catalog import defaults as _defaults
from cir.methods.dckd import DCKD


@contextmanager
def captured_outputs(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """The outputs of every forward call of ``module`` inside the block, in call order."""
    outputs: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _m, _inp, out: outputs.append(out))
    try:
        yield outputs
    finally:
        handle.remove()


class DCKDStar(DCKD):
    name = "dckd_star"
    loss_names = (*DCKD.loss_names, "lc", "zoom_in", "zoom_out_rec", "zoom_out_kd")
    defaults: dict[str, Any] = _defaults("dckd_star")   # options and their sources: cir/methods/catalog.py

    def __init__(self, student, teacher=None, options=None, *, where="options"):
        super().__init__(student, teacher, options, where=where)
        o = self.options
        for key in ("lc_prob", "zoom_in_prob"):
            if not 0.0 <= float(o[key]) <= 1.0:
                raise ConfigError(f"{where}.{key}: {o[key]!r} must be in [0, 1]")
        try:
            self.aug_ops = check_ops_names(o["aug_ops"], f"{where}.aug_ops")
        except (TypeError, ValueError) as e:
            raise ConfigError(str(e)) from None
        cells = o["zoom_in_cells"]
        if isinstance(cells, bool) or not isinstance(cells, int) or cells < 1:
            raise ConfigError(f"{where}.zoom_in_cells: {cells!r} must be an integer >= 1")
        self.where = where

    # -- the loss ------------------------------------------------------------------------------
    def _scale(self, lq: torch.Tensor, gt: torch.Tensor) -> int:
        (h, w), (big_h, big_w) = lq.shape[-2:], gt.shape[-2:]
        if big_h % h or big_w % w or big_h // h != big_w // w:
            raise ValueError(f"dckd_star: gt {big_h}x{big_w} is not an integer multiple of lq {h}x{w}")
        return big_h // h

    def _check_square(self, lq: torch.Tensor) -> None:
        if "transpose" in self.aug_ops and lq.shape[-2] != lq.shape[-1]:
            raise ValueError(f"{self.where}.aug_ops: 'transpose' needs square patches; lq is "
                             f"{lq.shape[-2]}x{lq.shape[-1]}")

    def training_step(self, batch, step):
        o = self.options
        lq, gt = batch["lq"], batch["gt"]
        with captured_outputs(self.student) as outputs:
            terms = super().training_step(batch, step)
        if len(outputs) != 1:
            raise RuntimeError(f"dckd_star: expected one student pass in DCKD's step, saw {len(outputs)}")
        sr = outputs[0]
        zero = sr.new_zeros(())
        terms.update(lc=zero, zoom_in=zero, zoom_out_rec=zero, zoom_out_kd=zero)
        if not (o["label_consistency"] or o["zoom_in"] or o["zoom_out"]):
            return terms
        g = torch.Generator(device="cpu").manual_seed(int(torch.randint(0, 2**62, (1,))))
        scale = self._scale(lq, gt)
        if o["label_consistency"] or o["zoom_in"]:
            self._check_square(lq)

        # teacher inputs of the LR size go through the teacher as one batch
        t_inputs, lc_ops, cells, cell_ops = [], None, None, None
        if o["label_consistency"]:
            lc_ops = draw_ops(lq.shape[0], o["lc_prob"], g, self.aug_ops).to(lq.device)
            t_inputs.append(augment(lq, lc_ops))
        if o["zoom_in"]:
            cells = zoom_in(gt, lq.shape[-2:], o["zoom_in_cells"], g)
            cell_ops = draw_ops(cells.shape[0], o["zoom_in_prob"], g, self.aug_ops).to(lq.device)
            t_inputs.append(cells)
        small = zoom_out(lq, scale) if o["zoom_out"] else None
        with torch.inference_mode():
            t_out = self.teacher(torch.cat(t_inputs)) if t_inputs else None
            t_small = self.teacher(small) if small is not None else None
            if lc_ops is not None:
                lc_target = invert(t_out[: lq.shape[0]], lc_ops)

        if lc_ops is not None:
            terms["lc"] = o["w_lc"] * l1(sr, lc_target)
        if cells is not None:
            pred = invert(self.student(augment(cells, cell_ops)), cell_ops)
            terms["zoom_in"] = o["w_zoom_in"] * l1(pred, t_out[t_out.shape[0] - cells.shape[0]:])
        if small is not None:
            sr_small = self.student(small)
            terms["zoom_out_rec"] = o["w_zoom_out_rec"] * l1(sr_small, lq)
            terms["zoom_out_kd"] = o["w_zoom_out_kd"] * l1(sr_small, t_small)
        return terms

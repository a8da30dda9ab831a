"""DCKD Table 1's deblurring/deraining networks: the paper's numbers and the configurations that meet them.

Table 1 of DCKD ("The specifications of teacher and student models") gives, for NAFNet and
Restormer, only the channel width, the number of blocks and the parameter count. The teachers
are the official released models (NAFNet-GoPro-width32; Restormer's deblurring/deraining model),
whose configurations reproduce the printed counts exactly. The students' layouts are not
published; the ones below are cir's choice, made by one rule for both networks: **the teacher's
layout at half the width and half the blocks per stage**.

* NAFNet student: width 16 (the paper's 16 channels), encoder [1, 1, 1, 14] (the teacher's
  [1, 1, 1, 28] with the deep last level halved), middle 1, decoder [1, 1, 1, 1]:
  1+1+1+14 + 1 + 1+1+1+1 = 22 blocks, 2,683,059 parameters (paper: 22 blocks, 2.7M). Other
  22-block layouts at width 16 also land within 2% of 2.7M (e.g. encoder [2, 2, 2, 10], middle
  2), so the count alone does not pin the layout down; the teacher's shape does.
* Restormer student: dim 24 (the paper's 24 channels), num_blocks [2, 3, 3, 4] (encoder
  levels 1-3 and the latent level; the decoder repeats levels 3, 2, 1) and 2 refinement blocks:
  2+3+3 + 4 + 3+3+2 + 2 = 22 blocks, 3,813,230 parameters (paper: 22 blocks, 3.8M), i.e. exactly
  half of the teacher's [4, 6, 6, 8] + 4 (44 blocks). heads [1, 2, 4, 8] and the FFN expansion
  2.66 are the teacher's.

Block counts follow the Table 1 "Block" column: NAFNet counts its NAFBlocks (encoders, middle,
decoders), Restormer its transformer blocks (encoder levels, latent, decoder levels,
refinement): teachers 1+1+1+28 + 1 + 1+1+1+1 = 36 and 4+6+6 + 8 + 6+6+4 + 4 = 44.
"""

from __future__ import annotations

from typing import Any

from cir.errors import CirError

# (arch, role) -> the paper's Table 1 entries ("channels", "blocks", "params_m") and the
# registry parameters ("model", for cir.models.build_model(arch, 1, **model)) with their exact
# parameter count ("params").
DCKD_TABLE1: dict[tuple[str, str], dict[str, Any]] = {
    ("nafnet", "teacher"): {
        "paper": {"channels": 32, "blocks": 36, "params_m": 17.1},
        "model": {"width": 32, "enc_blk_nums": [1, 1, 1, 28], "middle_blk_num": 1,
                  "dec_blk_nums": [1, 1, 1, 1]},
        "params": 17_111_907,
        "source": "official NAFNet-GoPro-width32",
    },
    ("nafnet", "student"): {
        "paper": {"channels": 16, "blocks": 22, "params_m": 2.7},
        "model": {"width": 16, "enc_blk_nums": [1, 1, 1, 14], "middle_blk_num": 1,
                  "dec_blk_nums": [1, 1, 1, 1]},
        "params": 2_683_059,
        "source": "cir's choice: the teacher's layout, half width, half the deepest encoder level",
    },
    ("restormer", "teacher"): {
        "paper": {"channels": 48, "blocks": 44, "params_m": 26.1},
        "model": {"dim": 48, "num_blocks": [4, 6, 6, 8], "num_refinement_blocks": 4, "heads": [1, 2, 4, 8],
                  "ffn_expansion_factor": 2.66, "bias": False, "LayerNorm_type": "WithBias"},
        "params": 26_126_644,
        "source": "official Restormer (motion_deblurring.pth, deraining.pth)",
    },
    ("restormer", "student"): {
        "paper": {"channels": 24, "blocks": 22, "params_m": 3.8},
        "model": {"dim": 24, "num_blocks": [2, 3, 3, 4], "num_refinement_blocks": 2, "heads": [1, 2, 4, 8],
                  "ffn_expansion_factor": 2.66, "bias": False, "LayerNorm_type": "WithBias"},
        "params": 3_813_230,
        "source": "cir's choice: the teacher's layout, half width, half the blocks per stage",
    },
}


def block_count(arch: str, params: dict[str, Any]) -> int:
    """Number of blocks as DCKD Table 1 counts them, from registry parameters."""
    if arch == "nafnet":
        from cir.models.registry import NAFNET_DEFAULTS

        p = {**NAFNET_DEFAULTS, **params}
        return sum(p["enc_blk_nums"]) + int(p["middle_blk_num"]) + sum(p["dec_blk_nums"])
    if arch == "restormer":
        levels = list(params.get("num_blocks", [4, 6, 6, 8]))
        # encoder levels 1-3, latent, decoder levels 3-1 (same depths as the encoder), refinement
        return sum(levels) + sum(levels[:3]) + int(params.get("num_refinement_blocks", 4))
    raise CirError(f"block_count: Table 1 block counts are defined for nafnet and restormer; got {arch!r}")

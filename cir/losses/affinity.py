"""Spatial feature affinity distillation: the loss of FAKD.

He et al., "FAKD: Feature-Affinity Based Knowledge Distillation for Efficient Image
Super-Resolution", ICIP 2020; official code
github.com/Vincent-Hoo/Knowledge-Distillation-for-Super-resolution.

For a feature map F of shape [C, H*W], each spatial position's C-vector is divided by its
L2 norm, and the affinity is A = F^T F, an [H*W, H*W] matrix of cosine similarities between
positions. The loss is the mean absolute difference between the student's and the
teacher's affinity matrices. A depends on the channel count only through the cosines, so a
60-channel student can be compared with a 180-channel teacher; the spatial sizes must agree.

Memory: A holds (H*W)^2 float32 values per image. A 48x48 LR patch gives 2304^2 * 4 B
= 21.2 MB per image, e.g. 85 MB per layer at batch 4 and 340 MB at batch 16, for each of
A_s, A_t and |A_s - A_t|; the difference stays alive for backward, so the retained memory
is about one such matrix per distilled layer. ``downsample=k`` max-pools the features by k
before the affinity (FAKD's code offers the same as "pooled spatial similarity") and
divides that memory by k^4; the default 1 is the paper's loss. Affinities are computed in
float32 even under bf16 autocast: bf16 cannot resolve cosine differences below ~4e-3.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

# Added to the per-position L2 norm before dividing (official code,
# code/feature_transformation.py: spatial_similarity, "+ 0.0000001").
FAKD_NORM_EPS = 1e-7
# Distance between affinity matrices: element-wise L1, averaged over all entries (official
# code, code/loss.py: FeatureLoss(loss=nn.L1Loss())). The official code sums this over the
# distilled layers; affinity_loss averages instead, and cir.methods.fakd scales its weight
# so that the total equals FAKD's sum over its three layers.
FAKD_DISTANCE = "l1"
# Pooling used when features are downsampled before the affinity (official code,
# code/option.py: --pool_type default "max", pooled_spatial_similarity with ceil_mode=True).
FAKD_POOL = "max"


def _as_positions(features: torch.Tensor, downsample: int) -> torch.Tensor:
    """[B, C, H, W] map or [B, N, C] tokens -> [B, C, N] float32."""
    if features.dim() == 4:
        if downsample > 1:
            features = F.max_pool2d(features, kernel_size=downsample, stride=downsample, ceil_mode=True)
        return features.float().flatten(2)
    if features.dim() == 3:
        if downsample > 1:
            raise ValueError("spatial_affinity: downsample needs [B, C, H, W] maps; got [B, N, C] tokens")
        return features.float().transpose(1, 2)
    raise ValueError(f"spatial_affinity: expected [B, C, H, W] or [B, N, C], "
                     f"got shape {tuple(features.shape)}")


def spatial_affinity(features: torch.Tensor, *, downsample: int = 1) -> torch.Tensor:
    """Cosine similarity between all pairs of spatial positions: ``[B, N, N]``, N = H*W.

    ``features`` is a ``[B, C, H, W]`` map or a ``[B, N, C]`` token sequence (row-major
    positions). ``downsample`` > 1 max-pools a map by that factor first.
    """
    if int(downsample) != downsample or downsample < 1:
        raise ValueError(f"spatial_affinity: downsample must be an integer >= 1, got {downsample!r}")
    with torch.autocast(device_type=features.device.type, enabled=False):
        x = _as_positions(features, int(downsample))                              # [B, C, N]
        unit = x / (torch.linalg.vector_norm(x, dim=1, keepdim=True) + FAKD_NORM_EPS)
        return unit.transpose(1, 2) @ unit                                        # [B, N, N]


def affinity_distance(student: torch.Tensor, teacher: torch.Tensor, *, downsample: int = 1) -> torch.Tensor:
    """Mean |A_s - A_t| for one layer; the teacher's affinity is a constant (no gradient).

    The teacher affinity is built under ``torch.inference_mode()``, so teacher features may
    be inference tensors of a frozen network; the subtraction saves no operand for backward.
    """
    s_hw = student.shape[-2:] if student.dim() == 4 else student.shape[1:2]
    t_hw = teacher.shape[-2:] if teacher.dim() == 4 else teacher.shape[1:2]
    if student.dim() != teacher.dim() or student.shape[0] != teacher.shape[0] or s_hw != t_hw:
        raise ValueError(f"affinity_distance: student {tuple(student.shape)} and teacher "
                         f"{tuple(teacher.shape)} differ in layout, batch or spatial size")
    with torch.inference_mode():
        target = spatial_affinity(teacher, downsample=downsample)
    return (spatial_affinity(student, downsample=downsample) - target).abs().mean()


def affinity_loss(student_features: Sequence[torch.Tensor], teacher_features: Sequence[torch.Tensor], *,
                  downsample: int = 1) -> torch.Tensor:
    """FAKD's distillation term averaged over matched layers.

    ``student_features[i]`` is compared with ``teacher_features[i]``.
    """
    if len(student_features) != len(teacher_features) or not student_features:
        raise ValueError(f"affinity_loss: need equally many student and teacher features, got "
                         f"{len(student_features)} and {len(teacher_features)}")
    terms = [affinity_distance(s, t, downsample=downsample)
             for s, t in zip(student_features, teacher_features)]
    return torch.stack(terms).mean()

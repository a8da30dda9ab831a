import pytest
import torch

from cir.losses.contrastive import ratio_contrastive


def t(*values):
    """A [1, 1, 1, W] feature map holding ``values``."""
    return torch.tensor(values, dtype=torch.float64).view(1, 1, 1, -1)


def level_one():
    # anchor (1, 2); positive (1.5, 2.5): d_ap = (0.5 + 0.5) / 2 = 0.5
    # negative 1 (0, 0): d = (1 + 2) / 2 = 1.5;  negative 2 (3, 4): d = (2 + 2) / 2 = 2
    a = t(1.0, 2.0)
    p = t(1.5, 2.5)
    n = torch.stack([t(0.0, 0.0), t(3.0, 4.0)])      # [N=2, B=1, C=1, H=1, W=2]
    return a, p, n


def test_single_level_sum_of_negatives():
    a, p, n = level_one()
    loss = ratio_contrastive([a], [p], [n], [1.0], eps=0.0)
    assert loss.item() == pytest.approx(0.5 / (1.5 + 2.0))             # 1/7
    loss = ratio_contrastive([a], [p], [n], [2.0], eps=0.0)
    assert loss.item() == pytest.approx(2.0 * 0.5 / 3.5)               # 2/7


def test_eps_in_denominator():
    a, p, n = level_one()
    assert ratio_contrastive([a], [p], [n], [1.0], eps=1.0).item() == pytest.approx(0.5 / (3.5 + 1.0))
    # default eps 1e-7
    assert ratio_contrastive([a], [p], [n], [1.0]).item() == pytest.approx(0.5 / (3.5 + 1e-7), rel=1e-12)
    # negatives equal to the anchor: d_an = 0, the loss is d_ap / eps = 0.5 / 0.25
    same = torch.stack([a, a])
    assert ratio_contrastive([a], [p], [same], [1.0], eps=0.25).item() == pytest.approx(2.0)


def test_negative_weights_and_mean_variant():
    a, p, n = level_one()
    # weights (1, 0.5): denominator 1 * 1.5 + 0.5 * 2 = 2.5
    assert ratio_contrastive([a], [p], [n], [1.0], neg_weights=[1.0, 0.5], eps=0.0).item() == \
        pytest.approx(0.5 / 2.5)
    # mean over negatives: (1.5 + 2) / 2 = 1.75 -> 0.5 / 1.75 = 2/7
    assert ratio_contrastive([a], [p], [n], [1.0], reduce_negatives="mean", eps=0.0).item() == \
        pytest.approx(0.5 / 1.75)
    # weighted mean: 2.5 / (1 + 0.5) = 5/3 -> 0.5 / (5/3) = 0.3
    assert ratio_contrastive([a], [p], [n], [1.0], neg_weights=[1.0, 0.5], reduce_negatives="mean",
                             eps=0.0).item() == pytest.approx(0.3)


def test_two_levels_with_level_weights():
    a1, p1, n1 = level_one()
    # level 2, [B=1, C=2, 1, 1]: anchor (1, -1), positive (0, 0): d_ap = (1 + 1) / 2 = 1
    # one negative (3, 1): d = (2 + 2) / 2 = 2 -> ratio 1 / 2
    a2 = torch.tensor([1.0, -1.0], dtype=torch.float64).view(1, 2, 1, 1)
    p2 = torch.zeros_like(a2)
    n2 = torch.tensor([3.0, 1.0], dtype=torch.float64).view(1, 1, 2, 1, 1)
    loss = ratio_contrastive([a1, a2], [p1, p2], [n1, n2], [0.25, 1.0], eps=0.0)
    assert loss.item() == pytest.approx(0.25 * (1 / 7) + 1.0 * 0.5)    # 15/28


def test_distance_averages_over_the_batch():
    # B = 2: anchor (0 | 0), positive (1 | 3): d_ap = (1 + 3) / 2 = 2; negative (4 | 4): d = 4
    a = torch.zeros(2, 1, 1, 1, dtype=torch.float64)
    p = torch.tensor([1.0, 3.0], dtype=torch.float64).view(2, 1, 1, 1)
    n = torch.full((1, 2, 1, 1, 1), 4.0, dtype=torch.float64)
    assert ratio_contrastive([a], [p], [n], [1.0], eps=0.0).item() == pytest.approx(0.5)


def test_gradient_reaches_only_the_anchor():
    a, p, n = level_one()
    a.requires_grad_(True)
    p.requires_grad_(True)
    n.requires_grad_(True)
    ratio_contrastive([a], [p], [n], [1.0], eps=0.0).backward()
    assert p.grad is None and n.grad is None
    # dL/da_k = sign(a_k - p_k) / (M D) - d_ap * sum_j sign(a_k - n_jk) / (M D^2), M = 2, D = 3.5:
    # a_1: sign(-0.5) = -1, signs vs negatives (+1, -1) sum 0 -> -1/7; a_2 likewise -> -1/7
    assert torch.allclose(a.grad, torch.full_like(a, -1 / 7))


def test_inference_mode_positive_and_negatives():
    a, p, n = level_one()
    with torch.inference_mode():
        p_inf, n_inf = p.clone(), n.clone()
    assert p_inf.is_inference() and n_inf.is_inference()
    a.requires_grad_(True)
    loss = ratio_contrastive([a], [p_inf], [n_inf], [1.0], neg_weights=[1.0, 0.5], eps=0.0)
    loss.backward()
    assert loss.item() == pytest.approx(0.2)
    assert a.grad is not None and torch.isfinite(a.grad).all()


def test_l2_distance():
    a, p, n = level_one()
    # squared: d_ap = 0.25; negatives (1 + 4)/2 = 2.5 and (4 + 4)/2 = 4
    assert ratio_contrastive([a], [p], [n], [1.0], distance="l2", eps=0.0).item() == pytest.approx(0.25 / 6.5)


def test_errors_name_the_argument():
    a, p, n = level_one()
    with pytest.raises(ValueError, match="level_weights"):
        ratio_contrastive([a], [p], [n], [1.0, 2.0])
    with pytest.raises(ValueError, match="negatives shape"):
        ratio_contrastive([a], [p], [n[0]], [1.0])
    with pytest.raises(ValueError, match="neg_weights"):
        ratio_contrastive([a], [p], [n], [1.0], neg_weights=[1.0])
    with pytest.raises(ValueError, match="reduce_negatives='max'"):
        ratio_contrastive([a], [p], [n], [1.0], reduce_negatives="max")
    with pytest.raises(ValueError, match="distance='cos'"):
        ratio_contrastive([a], [p], [n], [1.0], distance="cos")

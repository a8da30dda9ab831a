import math

import pytest
import torch
import torch.nn.functional as F

from cir.losses.distribution import codebook_distribution, dmm_cross_entropy, squared_distances

# K = 3 codes in D = 2: e0 = (0, 0), e1 = (1, 0), e2 = (0, 2)
CODEBOOK = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)


def latent(*points):
    """[B=1, D=2, h=1, w=len(points)] with the given 2-D points as pixels."""
    return torch.tensor(points, dtype=torch.float64).t().reshape(1, 2, 1, len(points))


def softmax(values):
    z = sum(math.exp(v) for v in values)
    return [math.exp(v) / z for v in values]


def test_squared_distances_by_hand():
    # pixel (0, 0): distances 0, 1, 4;  pixel (1, 1): 1 + 1 = 2, 0 + 1 = 1, 1 + 1 = 2
    d = squared_distances(latent((0, 0), (1, 1)), CODEBOOK)
    assert d.shape == (1, 3, 1, 2)
    assert d[0, :, 0, 0].tolist() == pytest.approx([0, 1, 4])
    assert d[0, :, 0, 1].tolist() == pytest.approx([2, 1, 2])


def test_squared_distances_match_brute_force():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(2, 4, 3, 5, generator=g)
    e = torch.randn(7, 4, generator=g)
    brute = ((f.unsqueeze(1) - e.view(1, 7, 4, 1, 1)) ** 2).sum(dim=2)
    assert torch.allclose(squared_distances(f, e), brute, atol=1e-5)
    assert (squared_distances(f, f[0, :, 0, :2].t().contiguous()) >= 0).all()  # rounding clamped


def test_paper_mode_makes_the_nearest_code_most_likely():
    c = codebook_distribution(latent((0, 0), (1, 1)), CODEBOOK)
    # softmax(d_max - d) = softmax(-d): pixel (0, 0): softmax(0, -1, -4); pixel (1, 1): softmax(-2, -1, -2)
    assert c[0, :, 0, 0].tolist() == pytest.approx(softmax([0, -1, -4]))
    assert c[0, :, 0, 1].tolist() == pytest.approx(softmax([-2, -1, -2]))
    assert c[0, :, 0, 0].argmax() == 0 and c[0, :, 0, 1].argmax() == 1
    assert torch.allclose(c.sum(dim=1), torch.ones(1, 1, 2, dtype=torch.float64))


def test_literal_mode_is_the_printed_formula():
    c = codebook_distribution(latent((0, 0)), CODEBOOK, mode="literal")
    assert c[0, :, 0, 0].tolist() == pytest.approx(softmax([0, 1, 4]))   # farthest code most likely
    with pytest.raises(ValueError, match="mode='nearest'"):
        codebook_distribution(latent((0, 0)), CODEBOOK, mode="nearest")


def test_cross_entropy_by_hand():
    # student at (0, 0): d_S = (0, 1, 4);  teacher at (1, 0): d_T = (1, 0, 1 + 4 = 5)
    t = softmax([-1, 0, -5])
    log_s = [-d - math.log(math.exp(0) + math.exp(-1) + math.exp(-4)) for d in (0, 1, 4)]
    expected = -sum(tk * lk for tk, lk in zip(t, log_s))
    loss = dmm_cross_entropy(latent((0, 0)), latent((1, 0)), CODEBOOK)
    assert loss.item() == pytest.approx(expected)
    # two pixels: the mean of the per-pixel values (second pixel: student = teacher -> entropy of t)
    entropy = -sum(tk * math.log(tk) for tk in t)
    loss2 = dmm_cross_entropy(latent((0, 0), (1, 0)), latent((1, 0), (1, 0)), CODEBOOK)
    assert loss2.item() == pytest.approx((expected + entropy) / 2)


def test_double_softmax_quirk_by_hand():
    # the student's probabilities p_S = softmax(0, -1, -4) are used as logits:
    # loss = -sum_k t_k (p_k - log sum_j exp(p_j))
    t = softmax([-1, 0, -5])
    p = softmax([0, -1, -4])
    lse = math.log(sum(math.exp(v) for v in p))
    expected = -sum(tk * (pk - lse) for tk, pk in zip(t, p))
    loss = dmm_cross_entropy(latent((0, 0)), latent((1, 0)), CODEBOOK, double_softmax=True)
    assert loss.item() == pytest.approx(expected)
    # the same as the public code's F.cross_entropy(student_probs, teacher_probs) on [pixels, K] rows
    s_probs = torch.tensor([p], dtype=torch.float64)
    t_probs = torch.tensor([t], dtype=torch.float64)
    assert loss.item() == pytest.approx(F.cross_entropy(s_probs, t_probs).item())


def test_teacher_gets_no_gradient():
    s = latent((0.3, 0.1), (1, 1)).requires_grad_(True)
    tt = latent((1, 0), (0, 2)).requires_grad_(True)
    book = CODEBOOK.clone().requires_grad_(True)
    dmm_cross_entropy(s, tt, book).backward()
    assert tt.grad is None and book.grad is None
    assert s.grad is not None and s.grad.abs().sum() > 0


def test_inference_mode_teacher_and_codebook():
    with torch.inference_mode():
        tt, book = latent((1, 0)), CODEBOOK.clone()
    s = latent((0, 0)).requires_grad_(True)
    loss = dmm_cross_entropy(s, tt, book)
    loss.backward()
    assert torch.isfinite(s.grad).all()


def test_large_distances_stay_finite():
    # distances around 1e6: probabilities are one-hot, the loss is large but finite
    s = latent((1000, 1000), (-500, 300)).float().requires_grad_(True)
    tt = latent((-1000, 0), (0, 2)).float()
    book = CODEBOOK.float() * 100
    for double in (False, True):
        loss = dmm_cross_entropy(s, tt, book, double_softmax=double)
        grad, = torch.autograd.grad(loss, s)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()
    c = codebook_distribution(s.detach(), book)
    assert torch.isfinite(c).all() and torch.allclose(c.sum(dim=1), torch.ones(1, 1, 2))


def test_shape_errors():
    with pytest.raises(ValueError, match="D=3"):
        codebook_distribution(torch.zeros(1, 3, 1, 1), CODEBOOK)
    with pytest.raises(ValueError, match="teacher latent shape"):
        dmm_cross_entropy(latent((0, 0)), latent((0, 0), (1, 1)), CODEBOOK)

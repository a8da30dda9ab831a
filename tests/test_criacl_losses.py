import math

import pytest
import torch

from cir.losses.criacl import (
    CODE_WEIGHTS,
    PAPER_WEIGHTS,
    alignment,
    criacl_total,
    lneg,
    masked_l1,
    ragan_discriminator_loss,
    ragan_generator_loss,
    uniformity,
    weighted_sum,
)


def c(value, grad=False):
    """A 0-dim float64 criterion."""
    return torch.tensor(value, dtype=torch.float64, requires_grad=grad)


def softplus(x):
    return math.log1p(math.exp(x))


# --- alignment, eq. (8) ---------------------------------------------------------------------------

def test_alignment_two_positives_eta_2():
    # anchor 2, positives 1.5 and 3: (2 - 1.5)^2 + (2 - 3)^2 = 0.25 + 1 = 1.25
    assert alignment(c(2.0), [c(1.5), c(3.0)]).item() == pytest.approx(1.25)
    assert alignment(c(2.0), [c(1.5), c(3.0)], eta=2).item() == pytest.approx(1.25)


def test_alignment_eta_1_is_a_distance():
    # |2 - 1.5| + |2 - 3| = 0.5 + 1 = 1.5 (the signed power (2 - 1.5) + (2 - 3) would give -0.5)
    assert alignment(c(2.0), [c(1.5), c(3.0)], eta=1.0).item() == pytest.approx(1.5)
    # odd and non-integer powers of the negative difference: |-1|^3 = 1, |-1|^1.5 = 1
    assert alignment(c(2.0), [c(1.5), c(3.0)], eta=3.0).item() == pytest.approx(0.125 + 1.0)
    assert alignment(c(2.0), [c(1.5), c(3.0)], eta=1.5).item() == pytest.approx(0.5 ** 1.5 + 1.0)


def test_alignment_gradient_reaches_anchor_and_positives():
    a, p1, p2 = c(2.0, True), c(1.5, True), c(3.0, True)
    alignment(a, [p1, p2]).backward()
    # dL/da = 2 (a - p1) + 2 (a - p2) = 1 - 2 = -1; dL/dp1 = -2 (a - p1) = -1; dL/dp2 = -2 (a - p2) = 2
    assert a.grad.item() == pytest.approx(-1.0)
    assert p1.grad.item() == pytest.approx(-1.0)
    assert p2.grad.item() == pytest.approx(2.0)


def test_alignment_matches_the_code_for_one_positive():
    # the public code: 0.01 * (l_pix2 - l_fea)^2 with l_pix2 = 0.3, l_fea = 0.7 -> 0.01 * 0.16
    assert 0.01 * alignment(c(0.3), [c(0.7)]).item() == pytest.approx(0.01 * 0.16)


# --- uniformity, eq. (9) --------------------------------------------------------------------------

def test_uniformity_one_negative():
    # a = 0.5, n = 0.25, t = 2: -log exp(-2 * 0.75^2) = 2 * 0.5625 = 1.125
    assert uniformity(c(0.5), [c(0.25)]).item() == pytest.approx(1.125)
    # t = 1: 0.5625; power = 1 (t = 2): 2 * 0.75 = 1.5
    assert uniformity(c(0.5), [c(0.25)], t=1.0).item() == pytest.approx(0.5625)
    assert uniformity(c(0.5), [c(0.25)], power=1.0).item() == pytest.approx(1.5)


def test_uniformity_two_negatives():
    # a = 0.5, n = (0.25, 0.5): exponents -2 * 0.75^2 = -1.125 and -2 * 1^2 = -2
    expected = -math.log(math.exp(-1.125) + math.exp(-2.0))          # 0.7586...
    assert uniformity(c(0.5), [c(0.25), c(0.5)]).item() == pytest.approx(expected)
    # the printed form, -log sum exp(-t (a + n)^t), at t = 2 (Fig. 4) is the same number
    assert uniformity(c(0.5), [c(0.25), c(0.5)], t=2.0, power=2.0).item() == pytest.approx(expected)


def test_uniformity_equals_the_code_on_three_negatives():
    # the public code: -log sum_n exp(-2 (l_pix + n)^2), n over three GAN losses
    a, negs = 0.04, [0.02, 0.01, 0.03]
    code = -math.log(sum(math.exp(-2.0 * (a + n) ** 2) for n in negs))
    assert uniformity(c(a), [c(n) for n in negs]).item() == pytest.approx(code, rel=1e-12)


def test_uniformity_gradient_is_the_analytic_one():
    a, n1, n2 = c(0.5, True), c(0.25, True), c(0.5, True)
    uniformity(a, [n1, n2]).backward()
    # L = -log(e^{-2 s1^2} + e^{-2 s2^2}), s_k = a + n_k = 0.75, 1.0; softmax weights
    # w1 = e^{-1.125} / (e^{-1.125} + e^{-2}), w2 = 1 - w1; dL/ds_k = w_k * 4 s_k
    w1 = math.exp(-1.125) / (math.exp(-1.125) + math.exp(-2.0))       # 0.7058...
    w2 = 1.0 - w1
    assert a.grad.item() == pytest.approx(w1 * 4 * 0.75 + w2 * 4 * 1.0)
    assert n1.grad.item() == pytest.approx(w1 * 4 * 0.75)
    assert n2.grad.item() == pytest.approx(w2 * 4 * 1.0)
    # one negative: L = t (a + n)^2, dL/da = 2 t (a + n) = 4 * 0.75 = 3
    a = c(0.5, True)
    uniformity(a, [c(0.25)]).backward()
    assert a.grad.item() == pytest.approx(3.0)


def test_large_criteria_stay_finite():
    # exp(-2 * 110^2) = exp(-24200) underflows even in float64: the printed form gives -log 0 = inf
    a = torch.tensor(50.0, requires_grad=True)                         # float32
    negs = [torch.tensor(60.0), torch.tensor(70.0)]
    loss = uniformity(a, negs)
    loss.backward()
    # -log(e^{-24200} + e^{-28800}) = 24200 + log(1 + e^{-4600}) = 24200; dL/da = 4 * 110 = 440
    assert loss.item() == pytest.approx(24200.0)
    assert a.grad.item() == pytest.approx(440.0)
    # lneg(1e4, 1e4) = log(e^{-2e4}) = -2e4, not log 0
    assert lneg(torch.tensor(1e4), torch.tensor(1e4)).item() == pytest.approx(-2e4)
    # RaGAN on logits of +-1e4: softplus(1e4 + 1e4) = 2e4, softplus(-2e4) = 0
    real = torch.tensor([1e4])
    fake = torch.tensor([-1e4], requires_grad=True)
    g = ragan_generator_loss(real, fake)
    g.backward()
    assert g.item() == pytest.approx(2e4) and torch.isfinite(fake.grad).all()
    assert ragan_discriminator_loss(real, fake.detach()).item() == pytest.approx(0.0, abs=1e-6)
    for value in (alignment(a, [torch.tensor(1e3)]), uniformity(a, [torch.tensor(1e3)])):
        assert torch.isfinite(value)


# --- lneg (public code, SRGAN_an_model) ----------------------------------------------------------

def test_lneg_value_and_direction():
    # x = 0.5, y = 1, t = 2: log((e^{-1} + e^{-2}) / 2) = log(0.25161...) = -1.3798...
    expected = math.log((math.exp(-1.0) + math.exp(-2.0)) / 2)
    assert lneg(c(0.5), c(1.0)).item() == pytest.approx(expected)
    # t = 1: log((e^{-0.5} + e^{-1}) / 2)
    expected = math.log((math.exp(-0.5) + math.exp(-1.0)) / 2)
    assert lneg(c(0.5), c(1.0), t=1.0).item() == pytest.approx(expected)
    # equal criteria: log(e^{-t x}) = -t x
    assert lneg(c(0.3), c(0.3)).item() == pytest.approx(-0.6)
    # dL/dx = -t e^{-t x} / (e^{-t x} + e^{-t y}) < 0: minimising raises the criteria
    x = c(0.5, True)
    lneg(x, c(1.0)).backward()
    assert x.grad.item() == pytest.approx(-2 * math.exp(-1.0) / (math.exp(-1.0) + math.exp(-2.0)))


# --- RaGAN ------------------------------------------------------------------------------------------

REAL = (2.0, 0.0)            # mean 1
FAKE = (1.0, -1.0, -3.0)     # mean -1


def logits(values, grad=False):
    return torch.tensor(values, dtype=torch.float64).view(-1, 1, 1, 1).requires_grad_(grad)


def test_ragan_discriminator_value():
    # D_r - mean D_f = (3, 1), target 1: BCE = softplus(-3), softplus(-1)
    # D_f - mean D_r = (0, -2, -4), target 0: BCE = softplus(0), softplus(-2), softplus(-4)
    l_real = (softplus(-3) + softplus(-1)) / 2
    l_fake = (softplus(0) + softplus(-2) + softplus(-4)) / 3
    loss = ragan_discriminator_loss(logits(REAL), logits(FAKE))
    assert loss.item() == pytest.approx((l_real + l_fake) / 2)


def test_ragan_generator_value_and_detached_real():
    # targets mirrored: (3, 1) against 0 -> softplus(3), softplus(1); (0, -2, -4) against 1 ->
    # softplus(0), softplus(2), softplus(4)
    l_real = (softplus(3) + softplus(1)) / 2
    l_fake = (softplus(0) + softplus(2) + softplus(4)) / 3
    real, fake = logits(REAL, True), logits(FAKE, True)
    loss = ragan_generator_loss(real, fake)
    assert loss.item() == pytest.approx((l_real + l_fake) / 2)
    loss.backward()
    assert real.grad is None
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_ragan_matches_bce_with_logits():
    real, fake = logits(REAL), logits(FAKE)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    r, f = real - fake.mean(), fake - real.mean()
    d = (bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))) / 2
    g = (bce(r, torch.zeros_like(r)) + bce(f, torch.ones_like(f))) / 2
    assert ragan_discriminator_loss(real, fake).item() == pytest.approx(d.item(), rel=1e-12)
    assert ragan_generator_loss(real, fake).item() == pytest.approx(g.item(), rel=1e-12)


def test_ragan_discriminator_gradient_reaches_both():
    real, fake = logits(REAL, True), logits(FAKE, True)
    ragan_discriminator_loss(real, fake).backward()
    assert real.grad.abs().sum() > 0 and fake.grad.abs().sum() > 0


# --- weights and totals ------------------------------------------------------------------------

def test_weights_are_the_paper_and_the_code():
    assert dict(PAPER_WEIGHTS) == {"pix": 0.01, "per": 1.0, "adv": 0.005, "align": 0.01, "unif": 0.01}
    assert dict(CODE_WEIGHTS) == {"pix": 0.01, "per": 1.0, "adv": 5e-3, "align": 0.01, "unif": 1e-3}
    with pytest.raises(TypeError):
        PAPER_WEIGHTS["unif"] = 1.0  # type: ignore[index]


def test_weighted_sum_and_total():
    pix, per, adv, align, unif = c(1.0), c(2.0), c(3.0), c(4.0), c(5.0)
    # 0.01 * 1 + 1 * 2 + 0.005 * 3 = 2.025
    assert weighted_sum(pix, per, adv).item() == pytest.approx(2.025)
    assert weighted_sum(pix, per, adv, alpha=1.0, beta=0.0, gamma=2.0).item() == pytest.approx(7.0)
    # paper: 2.025 + 0.01 * 4 + 0.01 * 5 = 2.115; code: 2.025 + 0.04 + 0.001 * 5 = 2.07
    assert criacl_total(pix, per, adv, align, unif).item() == pytest.approx(2.115)
    assert criacl_total(pix, per, adv, align, unif, weights=CODE_WEIGHTS).item() == pytest.approx(2.07)
    # ablations: without the contrastive terms, with one of them
    assert criacl_total(pix, per, adv).item() == pytest.approx(2.025)
    assert criacl_total(pix, per, adv, unif=unif).item() == pytest.approx(2.075)


# --- masked criteria -----------------------------------------------------------------------------

def test_masked_l1():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64).view(1, 1, 2, 2)
    y = torch.zeros_like(x)
    # mask on the top row: (1 + 2) / 2 = 1.5
    top = torch.tensor([[1.0, 1.0], [0.0, 0.0]], dtype=torch.float64).view(1, 1, 2, 2)
    assert masked_l1(x, y, top).item() == pytest.approx(1.5)
    # a mask of ones is the plain mean: (1 + 2 + 3 + 4) / 4 = 2.5; all zeros gives 0
    assert masked_l1(x, y, torch.ones_like(x)).item() == pytest.approx(2.5)
    assert masked_l1(x, y, torch.zeros_like(x)).item() == 0.0


def test_masked_l1_broadcasts_over_channels():
    # x [1, 2, 1, 2]: channel 0 (1, 2), channel 1 (3, 5); mask [1, 1, 1, 2] = (1, 0.5)
    # numerator 1*1 + 0.5*2 + 1*3 + 0.5*5 = 7.5; broadcast mask sum (1 + 0.5) * 2 = 3 -> 2.5
    x = torch.tensor([1.0, 2.0, 3.0, 5.0], dtype=torch.float64).view(1, 2, 1, 2)
    mask = torch.tensor([1.0, 0.5], dtype=torch.float64).view(1, 1, 1, 2).requires_grad_(True)
    loss = masked_l1(x, torch.zeros_like(x), mask)
    assert loss.item() == pytest.approx(2.5)
    loss.backward()
    # dL/dm_j = (sum_c |d_cj| - 2 L) / 3: m_1 (1 + 3 - 5) / 3 = -1/3, m_2 (2 + 5 - 5) / 3 = 2/3
    assert mask.grad.flatten().tolist() == pytest.approx([-1 / 3, 2 / 3])


# --- errors ------------------------------------------------------------------------------------------

def test_errors():
    a, p = c(1.0), [c(0.5)]
    for eta in (0.5, 0.0, -2.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="eta must be a finite number >= 1"):
            alignment(a, p, eta=eta)
    for t in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="t must be a finite number > 0"):
            uniformity(a, p, t=t)
        with pytest.raises(ValueError, match="t must be a finite number > 0"):
            lneg(a, p[0], t=t)
    with pytest.raises(ValueError, match="power must be"):
        uniformity(a, p, power=0.5)
    with pytest.raises(ValueError, match="no positives"):
        alignment(a, [])
    with pytest.raises(ValueError, match="no negatives"):
        uniformity(a, [])
    with pytest.raises(ValueError, match="anchor must be a 0-dim"):
        alignment(torch.ones(2), p)
    with pytest.raises(ValueError, match=r"negatives\[1\] must be a 0-dim"):
        uniformity(a, [c(0.5), torch.ones(1)])
    with pytest.raises(ValueError, match="y must be a 0-dim"):
        lneg(a, torch.ones(2))
    with pytest.raises(ValueError, match="empty logits"):
        ragan_generator_loss(torch.ones(2), torch.ones(0))
    with pytest.raises(ValueError, match=r"missing \['unif'\]"):
        criacl_total(a, a, a, weights={"pix": 1, "per": 1, "adv": 1, "align": 1})
    with pytest.raises(ValueError, match=r"unknown \['ssim'\]"):
        criacl_total(a, a, a, weights={**PAPER_WEIGHTS, "ssim": 1.0})
    with pytest.raises(ValueError, match="finite and >= 0"):
        criacl_total(a, a, a, weights={**PAPER_WEIGHTS, "adv": -1.0})
    x = torch.ones(1, 3, 2, 2)
    with pytest.raises(ValueError, match="shape mismatch"):
        masked_l1(x, torch.ones(1, 3, 2, 1), torch.ones(1, 1, 2, 2))
    with pytest.raises(ValueError, match="does not broadcast"):
        masked_l1(x, x, torch.ones(1, 2, 2, 2))
    with pytest.raises(ValueError, match="does not broadcast"):
        masked_l1(x, x, torch.ones(2, 3, 2, 2))

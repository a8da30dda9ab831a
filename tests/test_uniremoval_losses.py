import math

import pytest
import torch

from cir.losses.pixel import l1
from cir.losses.uniremoval import (
    CYCLEGAN_D_WEIGHT,
    DA_WEIGHTS,
    DECAY,
    KT_WEIGHTS,
    LAMBDA4_PRINTED,
    TAU,
    contrastive_loss,
    decayed,
    flatten_features,
    identity_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    pooled,
    printed_gan_loss,
)

# 2-D vectors with known cosines to the anchor A = (1, 0):
A = (1.0, 0.0)
P06 = (0.6, 0.8)     # cos 0.6
P0 = (0.0, 1.0)      # cos 0
N08 = (0.8, 0.6)     # cos 0.8
NM1 = (-1.0, 0.0)    # cos -1
N0 = (0.0, -1.0)     # cos 0


def t(*rows, dtype=torch.float64, grad=False):
    return torch.tensor(rows, dtype=dtype, requires_grad=grad)


def one(anchor=A, positives=(P06,), negatives=(N08, NM1, N0), dtype=torch.float64):
    """One anchor: [1, D], [1, P, D], [1, K, D]."""
    return t(anchor, dtype=dtype), t(list(positives), dtype=dtype), t(list(negatives), dtype=dtype)


# At tau = 0.5 the logits are cos / 0.5: positive 1.2, negatives 1.6, -2, 0.
# R = e^1.2 / (e^1.2 + e^1.6 + e^-2 + e^0) = 3.3201 / (3.3201 + 4.9530 + 0.1353 + 1) = 0.352885...
R_ONE = 0.3528854064362317
# Two positives (cos 0.6 and 0): R = (e^1.2 + e^0) / (e^1.2 + e^0 + e^1.6 + e^-2 + e^0) = 0.415057...
R_TWO = 0.4150572418709228


# --- contrastive loss, eqs. (2) and (9) -----------------------------------------------------------

@pytest.mark.parametrize("form, expected", [
    ("neg_log", -math.log(R_ONE)),          # 1.0416119...
    ("printed_ratio", R_ONE),
    ("one_minus_ratio", 1.0 - R_ONE),       # 0.6471145...
])
def test_single_positive_each_form(form, expected):
    a, p, n = one()
    assert contrastive_loss(a, p, n, tau=0.5, form=form).item() == pytest.approx(expected, rel=1e-12)


def test_default_form_is_neg_log_and_default_tau_is_the_papers():
    a, p, n = one()
    assert contrastive_loss(a, p, n, tau=0.5).item() == pytest.approx(-math.log(R_ONE), rel=1e-12)
    assert TAU == 1e-6
    # default tau = 1e-6: positive cos 0.6 loses to the negative cos 0.8 -> (0.8 - 0.6) / 1e-6
    assert contrastive_loss(a, p, n).item() == pytest.approx(2e5, rel=1e-9)


@pytest.mark.parametrize("form, expected", [
    ("neg_log", -math.log(R_TWO)), ("printed_ratio", R_TWO), ("one_minus_ratio", 1.0 - R_TWO)])
def test_two_positives_each_form(form, expected):
    a, p, n = one(positives=(P06, P0))
    assert contrastive_loss(a, p, n, tau=0.5, form=form).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("form", ["neg_log", "printed_ratio", "one_minus_ratio"])
def test_single_positive_2d_equals_p_equal_1(form):
    torch.manual_seed(0)
    a, p, n = torch.randn(4, 5), torch.randn(4, 5), torch.randn(4, 3, 5)
    v2 = contrastive_loss(a, p, n, tau=0.3, form=form)
    v3 = contrastive_loss(a, p.unsqueeze(1), n, tau=0.3, form=form)
    assert v2.item() == v3.item()


def test_mean_over_anchors():
    # anchor 0 as above; anchor 1 = (0, 1) against positive (0, 1) (cos 1 -> logit 2) and
    # negatives (1, 0) (cos 0), (0, -1) (cos -1), (0.6, 0.8) (cos 0.8 -> 1.6)
    a = t(A, (0.0, 1.0))
    p = t([P06], [(0.0, 1.0)])
    n = t([N08, NM1, N0], [(1.0, 0.0), (0.0, -1.0), (0.6, 0.8)])
    r1 = math.exp(2) / (math.exp(2) + 1 + math.exp(-2) + math.exp(1.6))
    expected = (-math.log(R_ONE) - math.log(r1)) / 2
    assert contrastive_loss(a, p, n, tau=0.5).item() == pytest.approx(expected, rel=1e-12)


def test_invariant_to_vector_norms():
    a, p, n = one(positives=(P06, P0))
    scales = torch.tensor([[0.1], [7.0], [3e3]], dtype=torch.float64)
    for form in ("neg_log", "printed_ratio", "one_minus_ratio"):
        base = contrastive_loss(a, p, n, tau=0.5, form=form)
        scaled = contrastive_loss(5.0 * a, p * torch.tensor([[[0.01], [40.0]]], dtype=torch.float64),
                                  n * scales.unsqueeze(0), tau=0.5, form=form)
        assert scaled.item() == pytest.approx(base.item(), rel=1e-12)


def test_masked_out_negative_changes_nothing():
    a, p, n = one()
    mask = torch.tensor([[True, False, True]])                 # drop the cos -1 negative
    dropped = contrastive_loss(a, p, n[:, [0, 2]], tau=0.5)
    assert contrastive_loss(a, p, n, tau=0.5, negative_mask=mask).item() == pytest.approx(dropped.item(),
                                                                                          rel=1e-14)
    # by hand: e^1.2 / (e^1.2 + e^1.6 + 1)
    r = math.exp(1.2) / (math.exp(1.2) + math.exp(1.6) + 1)
    assert dropped.item() == pytest.approx(-math.log(r), rel=1e-12)
    # its value is irrelevant: move it onto the anchor
    n2 = n.clone()
    n2[0, 1] = torch.tensor(A)
    assert contrastive_loss(a, p, n2, tau=0.5, negative_mask=mask).item() == pytest.approx(dropped.item(),
                                                                                           rel=1e-14)


@pytest.mark.parametrize("form, expected", [("neg_log", 0.0), ("printed_ratio", 1.0), ("one_minus_ratio", 0.0)])
def test_all_negatives_masked_gives_p_over_p(form, expected):
    a, p, n = one(dtype=torch.float32)
    a.requires_grad_(True)
    mask = torch.zeros(1, 3, dtype=torch.bool)
    for tau in (0.5, TAU):
        a.grad = None
        value = contrastive_loss(a, p, n, tau=tau, negative_mask=mask, form=form)
        assert value.item() == expected
        value.backward()
        assert torch.equal(a.grad, torch.zeros_like(a))
    # no negatives at all (K = 0) gives the same
    assert contrastive_loss(a, p, n[:, :0], tau=0.5, form=form).item() == expected


def test_anchor_without_negatives_counts_in_the_mean():
    a = t(A, A)
    p = t([P06], [P06])
    n = t([N08, NM1, N0], [N08, NM1, N0])
    mask = torch.tensor([[True, True, True], [False, False, False]])
    assert contrastive_loss(a, p, n, tau=0.5, negative_mask=mask).item() == pytest.approx(
        (-math.log(R_ONE) + 0.0) / 2, rel=1e-12)


def test_positive_mask_and_anchors_without_positive():
    a = t(A, A)
    p = t([P06, P0], [P06, P0])
    n = t([N08, NM1, N0], [N08, NM1, N0])
    # anchor 0 keeps only the cos 0.6 positive; anchor 1 has none and is left out of the mean
    pmask = torch.tensor([[True, False], [False, False]])
    assert contrastive_loss(a, p, n, tau=0.5, positive_mask=pmask).item() == pytest.approx(
        -math.log(R_ONE), rel=1e-12)
    # no anchor has a positive: 0, still in the graph, zero gradient
    a.requires_grad_(True)
    value = contrastive_loss(a, p, n, tau=0.5, positive_mask=torch.zeros(2, 2, dtype=torch.bool))
    assert value.item() == 0.0
    value.backward()
    assert torch.equal(a.grad, torch.zeros_like(a))


def test_tau_1e6_hard_max_value_and_finite_gradients_float32():
    # positive cos 0.6 loses to the best negative cos 0.8 by 0.2: -log R -> (0.8 - 0.6) / tau = 2e5
    a, p, n = one(dtype=torch.float32)
    a.requires_grad_(True)
    value = contrastive_loss(a, p, n, tau=1e-6)
    assert value.dtype == torch.float32
    assert torch.isfinite(value) and value.item() == pytest.approx(2e5, rel=1e-5)
    value.backward()
    assert torch.isfinite(a.grad).all()
    # d/da [cos(a, n) - cos(a, p)] / tau at a = (1, 0): ((0.8, 0.6) - 0.8 (1, 0)) - ((0.6, 0.8) - 0.6 (1, 0))
    # = (0, 0.6) - (0, 0.8) = (0, -0.2), times 1 / tau: the gradients scale like 1 / tau
    assert a.grad[0, 0].item() == pytest.approx(0.0, abs=1.0)
    assert a.grad[0, 1].item() == pytest.approx(-2e5, rel=1e-4)
    assert contrastive_loss(a, p, n, tau=1e-6, form="printed_ratio").item() == 0.0
    assert contrastive_loss(a, p, n, tau=1e-6, form="one_minus_ratio").item() == 1.0


def test_tau_1e6_positive_wins():
    # positive cos 0.8 beats the best negative cos 0.6: R -> 1, -log R -> 0, gradient 0
    a, p, n = one(positives=(N08,), negatives=(P06, NM1, N0), dtype=torch.float32)
    for form, expected in (("neg_log", 0.0), ("printed_ratio", 1.0), ("one_minus_ratio", 0.0)):
        x = a.clone().requires_grad_(True)
        value = contrastive_loss(x, p, n, tau=1e-6, form=form)
        assert value.item() == expected
        value.backward()
        assert torch.isfinite(x.grad).all() and x.grad.abs().max().item() == 0.0


def test_tau_1e6_finite_for_random_float32_batches():
    torch.manual_seed(1)
    a = torch.randn(8, 64, requires_grad=True)
    p, n = torch.randn(8, 8, 64, requires_grad=True), torch.randn(8, 8, 64, requires_grad=True)
    mask = torch.rand(8, 8) > 0.5
    for form in ("neg_log", "printed_ratio", "one_minus_ratio"):
        value = contrastive_loss(a, p, n, tau=1e-6, negative_mask=mask, form=form)
        value.backward()
        assert torch.isfinite(value)
        for x in (a, p, n):
            assert torch.isfinite(x.grad).all()
            x.grad = None


def test_float32_under_bf16_autocast_and_bf16_inputs():
    a, p, n = one(dtype=torch.float32)
    ref = contrastive_loss(a, p, n, tau=1e-6)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        under = contrastive_loss(a, p, n, tau=1e-6)
    assert under.dtype == torch.float32 and under.item() == ref.item()
    half = contrastive_loss(a.bfloat16(), p.bfloat16(), n.bfloat16(), tau=0.5)
    assert half.dtype == torch.float32


def test_shared_bank_expanded_equals_copies():
    torch.manual_seed(2)
    a = torch.randn(3, 6, dtype=torch.float64)
    bank = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    pbank = torch.randn(2, 6, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False, True, True], [False, True, True, True], [True, True, True, False]])
    v1 = contrastive_loss(a, pbank.expand(3, 2, 6), bank.expand(3, 4, 6), tau=0.2, negative_mask=mask)
    g1 = torch.autograd.grad(v1, (bank, pbank))
    v2 = contrastive_loss(a, pbank.unsqueeze(0).repeat(3, 1, 1), bank.unsqueeze(0).repeat(3, 1, 1),
                          tau=0.2, negative_mask=mask)
    g2 = torch.autograd.grad(v2, (bank, pbank))
    assert v1.item() == pytest.approx(v2.item(), rel=1e-12)
    for x, y in zip(g1, g2):
        assert torch.allclose(x, y, rtol=1e-10, atol=1e-14)


def test_inference_mode_positives_and_negatives():
    with torch.inference_mode():
        p = t([P06])
        n = t([N08, NM1, N0])
    a = t(A, grad=True)
    value = contrastive_loss(a, p, n, tau=0.5)
    value.backward()
    assert value.item() == pytest.approx(-math.log(R_ONE), rel=1e-12)
    assert torch.isfinite(a.grad).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"anchor": torch.zeros(2, 3, 1)}, "anchor must be"),
    ({"positives": torch.zeros(3, 1, 4)}, "positives shape"),
    ({"positives": torch.zeros(2, 1, 5)}, "positives shape"),
    ({"positives": torch.zeros(2, 0, 4)}, "positives has P = 0"),
    ({"negatives": torch.zeros(2, 4)}, "negatives shape"),
    ({"negatives": torch.zeros(1, 3, 4)}, "negatives shape"),
    ({"negatives": torch.zeros(2, 3, 5)}, "negatives shape"),
    ({"negative_mask": torch.ones(2, 4, dtype=torch.bool)}, "negative_mask shape"),
    ({"negative_mask": torch.ones(2, 3)}, "negative_mask must be a bool"),
    ({"positive_mask": torch.ones(2, 2, dtype=torch.bool)}, "positive_mask shape"),
    ({"tau": 0.0}, "tau must be"),
    ({"tau": float("nan")}, "tau must be"),
    ({"form": "ratio"}, "form='ratio'"),
])
def test_contrastive_errors_name_the_argument(kwargs, match):
    args = {"anchor": torch.ones(2, 4), "positives": torch.ones(2, 1, 4), "negatives": torch.ones(2, 3, 4)}
    args.update(kwargs)
    anchor, positives, negatives = args.pop("anchor"), args.pop("positives"), args.pop("negatives")
    with pytest.raises(ValueError, match=match):
        contrastive_loss(anchor, positives, negatives, **args)


def test_flatten_and_pooled():
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    assert flatten_features(x).shape == (2, 12)
    assert torch.equal(flatten_features(x)[1], x[1].reshape(-1))
    assert torch.equal(pooled(x), x.mean(dim=(2, 3)))
    assert pooled(x)[0, 0].item() == 1.5                  # mean of 0, 1, 2, 3
    with pytest.raises(ValueError, match="flatten_features: x"):
        flatten_features(torch.zeros(3))
    with pytest.raises(ValueError, match="pooled: x"):
        pooled(torch.zeros(2, 3))


# --- GAN terms, eq. (7), and identity loss, eq. (8) ------------------------------------------------

REAL = torch.tensor([0.9, 0.2], dtype=torch.float64)     # D's scores on clear images
FAKE = torch.tensor([0.3, -0.1], dtype=torch.float64)    # D's scores on restored images


def test_lsgan_generator_by_hand():
    # ((0.3 - 1)^2 + (-0.1 - 1)^2) / 2 = (0.49 + 1.21) / 2 = 0.85
    assert lsgan_generator_loss(FAKE).item() == pytest.approx(0.85, rel=1e-12)


def test_lsgan_discriminator_by_hand():
    # real: ((0.9 - 1)^2 + (0.2 - 1)^2) / 2 = (0.01 + 0.64) / 2 = 0.325; fake: (0.09 + 0.01) / 2 = 0.05
    assert CYCLEGAN_D_WEIGHT == 0.5
    assert lsgan_discriminator_loss(REAL, FAKE).item() == pytest.approx(0.5 * 0.375, rel=1e-12)
    assert lsgan_discriminator_loss(REAL, FAKE, d_weight=1.0).item() == pytest.approx(0.375, rel=1e-12)
    # patch maps of different batch sizes: means over every score
    real_map = torch.full((3, 1, 2, 2), 1.0)
    fake_map = torch.full((1, 1, 2, 2), 0.5)
    assert lsgan_discriminator_loss(real_map, fake_map, d_weight=1.0).item() == pytest.approx(0.25)


def test_printed_gan_by_hand():
    # E[D(G(x_r))] + E[D(G(x_c)) - 1] = (0.3 - 0.1) / 2 + ((0.9 - 1) + (0.2 - 1)) / 2 = 0.1 - 0.45 = -0.35
    assert printed_gan_loss(FAKE, REAL).item() == pytest.approx(-0.35, rel=1e-12)


def test_gan_errors():
    with pytest.raises(ValueError, match="fake_scores is empty"):
        lsgan_generator_loss(torch.zeros(0))
    with pytest.raises(ValueError, match="real_scores is empty"):
        lsgan_discriminator_loss(torch.zeros(0), FAKE)
    with pytest.raises(ValueError, match="d_weight"):
        lsgan_discriminator_loss(REAL, FAKE, d_weight=0.0)
    with pytest.raises(ValueError, match="restored_clear_scores is empty"):
        printed_gan_loss(FAKE, torch.zeros(0))


def test_identity_loss_is_pixel_l1():
    assert identity_loss is l1
    x = torch.tensor([[0.5, -1.0]])
    assert identity_loss(x, torch.zeros_like(x)).item() == pytest.approx(0.75)


# --- weights and decays ---------------------------------------------------------------------------

def test_printed_weights():
    assert dict(KT_WEIGHTS) == {"alpha1": 0.5, "alpha2": 0.1}
    assert dict(DA_WEIGHTS) == {"lambda1": 0.5, "lambda2": 0.1, "lambda3": 0.1}
    assert LAMBDA4_PRINTED == 0.01 and "lambda4" not in DA_WEIGHTS
    assert DECAY == 0.99
    with pytest.raises(TypeError):
        KT_WEIGHTS["alpha1"] = 1.0  # type: ignore[index]


def test_decayed_values():
    assert decayed(0.5, 0, 10) == 0.5
    assert decayed(0.5, 9, 10) == 0.5
    assert decayed(0.5, 10, 10) == pytest.approx(0.5 * 0.99)
    assert decayed(0.5, 25, 10) == pytest.approx(0.5 * 0.99 ** 2)
    assert decayed(0.5, 25, 10, rate=0.5) == pytest.approx(0.125)
    # alpha_1 after 400 KT epochs, lambda_1 after 40 DA epochs
    assert decayed(KT_WEIGHTS["alpha1"], 400, 1) == pytest.approx(0.008975276637522569)
    assert decayed(DA_WEIGHTS["lambda1"], 40 * 132, 132) == pytest.approx(0.33448587928484014)


@pytest.mark.parametrize("args, match", [
    ((0.5, -1, 10), "step must be"),
    ((0.5, 1.5, 10), "step must be"),
    ((0.5, 3, 0), "steps_per_epoch must be"),
    ((0.5, 3, 2.5), "steps_per_epoch must be"),
    ((0.5, 3, 10, 0.0), "rate must be"),
    ((float("inf"), 3, 10), "weight must be"),
])
def test_decayed_errors(args, match):
    with pytest.raises(ValueError, match=match):
        decayed(*args)

import itertools

import pytest
import torch

from cir.data.bicubic import imresize
from cir.data.upcycling import OPS, augment, draw_ops, invert, zoom_in, zoom_out

ALL_COMBOS = torch.tensor(list(itertools.product([False, True], repeat=len(OPS))))  # 16 x 4


def images(n, size=6, channels=3, seed=0, grid=False):
    g = torch.Generator().manual_seed(seed)
    if grid:  # values k * 2**-24: 1 - (1 - x) is exact in float32
        return torch.randint(0, 2**24 + 1, (n, channels, size, size), generator=g).float() / 2**24
    return torch.rand(n, channels, size, size, generator=g)


def test_round_trip_is_exact_for_every_op_combination():
    x = images(len(ALL_COMBOS), grid=True)
    y = augment(x, ALL_COMBOS)
    assert torch.equal(invert(y, ALL_COMBOS), x)
    # only the identity combination leaves an image unchanged
    changed = [(not torch.equal(y[i], x[i])) for i in range(len(ALL_COMBOS))]
    assert changed == [bool(c.any()) for c in ALL_COMBOS]


def test_round_trip_on_arbitrary_floats_is_within_rounding():
    x = images(len(ALL_COMBOS))
    assert (invert(augment(x, ALL_COMBOS), ALL_COMBOS) - x).abs().max() <= 2**-24


@pytest.mark.parametrize("k,expected", [
    (0, lambda x: 1 - x), (1, lambda x: x.flip(-1)), (2, lambda x: x.flip(-2)),
    (3, lambda x: x.transpose(-2, -1)),
])
def test_each_operation(k, expected):
    x = images(2, grid=True)
    ops = torch.zeros(2, 4, dtype=torch.bool)
    ops[1, k] = True
    y = augment(x, ops)
    assert torch.equal(y[0], x[0]) and torch.equal(y[1], expected(x[1]))


def test_order_matters_and_invert_reverses_it():
    # a flip followed by a transpose is not undone by applying the same ops again
    x = images(1, grid=True)
    ops = torch.tensor([[False, True, False, True]])
    y = augment(x, ops)
    assert torch.equal(y, x.flip(-1).transpose(-2, -1))
    assert not torch.equal(augment(y, ops), x)
    assert torch.equal(invert(y, ops), x)


def test_inversion_is_undone_on_a_network_output_at_another_resolution():
    # nearest upsampling commutes with flips, transpose and 1 - x, like an ideal SR network
    net = torch.nn.Upsample(scale_factor=3, mode="nearest")
    x = images(len(ALL_COMBOS), grid=True)
    assert torch.equal(invert(net(augment(x, ALL_COMBOS)), ALL_COMBOS), net(x))
    ops = torch.tensor([[True, False, False, False]])
    out = net(augment(x[:1], ops))
    assert torch.equal(invert(out, ops), 1 - out)


def test_value_range():
    x = images(1) * 255
    ops = torch.tensor([[True, False, False, False]])
    assert torch.equal(augment(x, ops, value_range=255.0), 255 - x)


def test_augment_is_differentiable_and_leaves_input_alone():
    x = images(len(ALL_COMBOS)).requires_grad_()
    before = x.detach().clone()
    invert(augment(x, ALL_COMBOS), ALL_COMBOS).sum().backward()
    assert torch.equal(x.detach(), before) and torch.allclose(x.grad, torch.ones_like(x))


def test_draw_ops():
    g = torch.Generator().manual_seed(0)
    assert not draw_ops(8, 0.0, g).any()
    assert draw_ops(8, 1.0, g).all()
    only = draw_ops(64, 1.0, g, ["hflip", "transpose"])
    assert only[:, [1, 3]].all() and not only[:, [0, 2]].any()
    half = draw_ops(4000, 0.5, torch.Generator().manual_seed(1))
    assert half.dtype == torch.bool and half.shape == (4000, 4)
    assert torch.allclose(half.float().mean(0), torch.full((4,), 0.5), atol=0.03)
    a, b = (draw_ops(16, 0.5, torch.Generator().manual_seed(7)) for _ in range(2))
    assert torch.equal(a, b)


@pytest.mark.parametrize("call,match", [
    (lambda: draw_ops(2, 1.5, torch.Generator()), r"prob: 1\.5 must be in \[0, 1\]"),
    (lambda: draw_ops(2, 0.5, torch.Generator(), ["rotate"]), r"allowed: unknown operation\(s\) \['rotate'\]"),
    (lambda: augment(torch.rand(2, 3, 4, 4), torch.zeros(3, 4, dtype=torch.bool)), r"augment: ops must be"),
    (lambda: augment(torch.rand(1, 3, 4, 6), torch.tensor([[False, False, False, True]])),
     r"augment: the transpose drawn in ops needs square images; got 4x6"),
    (lambda: invert(torch.rand(3, 4, 4), torch.zeros(1, 4, dtype=torch.bool)), r"invert: x: expected"),
])
def test_errors_name_the_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_square_without_transpose_is_fine():
    x = images(1, size=6, grid=True)[..., :4, :]
    ops = torch.tensor([[True, True, True, False]])
    assert torch.equal(invert(augment(x, ops), ops), x)


def test_zoom_in_cuts_lr_sized_cells_of_the_hr_image():
    gt = images(2, size=8)
    cells = zoom_in(gt, (4, 4), 3, torch.Generator().manual_seed(0))
    assert cells.shape == (3 * 2, 3, 4, 4)
    grid = {(i, j): gt[..., 4 * i:4 * i + 4, 4 * j:4 * j + 4] for i in range(2) for j in range(2)}
    found = []
    for c in range(3):  # cell-major, the same cell for every image of the batch
        block = cells[2 * c:2 * c + 2]
        match = [k for k, v in grid.items() if torch.equal(v, block)]
        assert len(match) == 1
        found.append(match[0])
    assert len(set(found)) == 3
    again = zoom_in(gt, (4, 4), 3, torch.Generator().manual_seed(0))
    assert torch.equal(cells, again)
    assert zoom_in(gt, (4, 4), 4, torch.Generator()).shape == (8, 3, 4, 4)


def test_zoom_in_errors():
    gt = images(1, size=8)
    with pytest.raises(ValueError, match=r"n=5 must be between 1 and the 4 cells of the 2x2 grid"):
        zoom_in(gt, (4, 4), 5, torch.Generator())
    with pytest.raises(ValueError, match=r"size \(3, 3\) must tile the HR images \(8x8\)"):
        zoom_in(gt, (3, 3), 1, torch.Generator())


def test_zoom_out_is_matlab_bicubic_by_the_scale():
    lq = images(2, size=12)
    small = zoom_out(lq, 4)
    assert small.shape == (2, 3, 3, 3)
    assert torch.equal(small, imresize(lq, 1 / 4))
    with pytest.raises(ValueError, match=r"LR size 12x12 is not a multiple of scale 5"):
        zoom_out(lq, 5)
    with pytest.raises(ValueError, match=r"scale 1 must be an integer >= 2"):
        zoom_out(lq, 1)

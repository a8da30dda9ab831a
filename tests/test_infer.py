"""Whole-image and tiled inference."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from cir.errors import CirError
from cir.eval.infer import restore, tile_starts


class LocalNet(nn.Module):
    """Three 3x3 convolutions then pixel shuffle: each output pixel sees LR pixels at most 3 away."""

    receptive_radius = 3

    def __init__(self, scale: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 3 * scale * scale, 3, padding=1),
            nn.PixelShuffle(scale),
        )
        self.seen_training: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen_training.append(self.training)
        return torch.sigmoid(self.body(x))


class InPlaceNet(nn.Module):
    """Scales its input in place before upsampling, like some released SR implementations."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.mul_(0.5)
        return nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest")


def make_net(scale: int) -> LocalNet:
    torch.manual_seed(0)
    return LocalNet(scale)


@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("tile,overlap", [(16, 6), (12, 8), (9, 6)])
def test_tiled_equals_untiled_for_local_model(scale: int, tile: int, overlap: int) -> None:
    net = make_net(scale)
    assert overlap >= 2 * LocalNet.receptive_radius
    lr = torch.rand(2, 3, 37, 29, generator=torch.Generator().manual_seed(1))
    full = restore(net, lr, scale=scale)
    tiled = restore(net, lr, scale=scale, tile=tile, overlap=overlap, tile_batch=3)
    assert full.shape == tiled.shape == (2, 3, 37 * scale, 29 * scale)
    # float32 convolutions on differently shaped inputs may sum in a different order
    torch.testing.assert_close(tiled, full, rtol=0, atol=1e-5)


def test_too_small_overlap_shows_seams() -> None:
    """Guards the test above: with overlap < 2 x receptive radius the tiles do disagree."""
    net = make_net(2)
    lr = torch.rand(1, 3, 37, 29, generator=torch.Generator().manual_seed(1))
    full = restore(net, lr, scale=2)
    tiled = restore(net, lr, scale=2, tile=12, overlap=2)
    assert (tiled - full).abs().max() > 1e-3


@pytest.mark.parametrize("h,w,tile,overlap",
                         [(23, 17, 8, 2), (5, 40, 16, 4), (16, 16, 16, 4), (31, 9, 10, 9)])
def test_output_shapes_for_non_multiple_sizes(h: int, w: int, tile: int, overlap: int) -> None:
    net = make_net(3)
    lr = torch.rand(1, 3, h, w)
    out = restore(net, lr, scale=3, tile=tile, overlap=overlap)
    assert out.shape == (1, 3, 3 * h, 3 * w)
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("length,tile,overlap",
                         [(37, 16, 6), (16, 16, 4), (17, 16, 4), (100, 10, 9), (5, 8, 2)])
def test_tile_starts_cover_with_overlap(length: int, tile: int, overlap: int) -> None:
    starts = tile_starts(length, tile, overlap)
    size = min(tile, length)
    assert starts[0] == 0 and starts[-1] + size == length
    for a, b in itertools.pairwise(starts):
        assert b > a and a + size - b >= overlap


@pytest.mark.parametrize("tile", [None, 8])
def test_input_is_not_modified(tile: int | None) -> None:
    lr = torch.rand(1, 3, 20, 13)
    before = lr.clone()
    out = restore(InPlaceNet(2), lr, scale=2, tile=tile, overlap=2)
    assert torch.equal(lr, before)
    assert out.shape == (1, 3, 40, 26)


def test_eval_mode_inference_mode_and_mode_restored() -> None:
    net = make_net(2)
    net.train()
    out = restore(net, torch.rand(1, 3, 10, 10), scale=2)
    assert net.seen_training == [False]
    assert net.training
    assert out.is_inference() and not out.requires_grad


def test_output_is_clamped() -> None:
    class Overshoot(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return nn.functional.interpolate(x, scale_factor=2) * 3 - 1

    out = restore(Overshoot(), torch.rand(1, 3, 6, 6), scale=2)
    assert out.min() == 0 and out.max() == 1


def test_errors_name_the_value() -> None:
    net = make_net(2)
    lr = torch.rand(1, 3, 20, 20)
    with pytest.raises(CirError, match="overlap"):
        restore(net, lr, scale=2, tile=8, overlap=8)
    with pytest.raises(CirError, match="tile"):
        restore(net, lr, scale=2, tile=0)
    with pytest.raises(CirError, match="expected .* at scale 3"):
        restore(net, lr, scale=3)
    with pytest.raises(CirError, match="N x C x H x W"):
        restore(net, lr[0], scale=2)


@pytest.mark.parametrize("arch,params", [
    ("nafnet", {"width": 8, "enc_blk_nums": [1, 1], "middle_blk_num": 1, "dec_blk_nums": [1, 1]}),
    ("restormer", {"dim": 8, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1, "heads": [1, 1, 2, 2]}),
])
@pytest.mark.parametrize("h,w,tile,overlap", [(37, 29, 16, 6), (23, 17, 9, 4), (5, 3, 8, 2), (12, 40, 13, 5)])
def test_scale_1_registry_networks_at_any_size(arch, params, h, w, tile, overlap) -> None:
    """NAFNet and Restormer pad internally, so whole images and tiles of any size restore at scale 1."""
    from cir.models import build_model

    torch.manual_seed(0)
    net = build_model(arch, 1, **params)
    lr = torch.rand(1, 3, h, w)
    full = restore(net, lr, scale=1)
    tiled = restore(net, lr, scale=1, tile=tile, overlap=overlap, tile_batch=2)
    assert full.shape == tiled.shape == (1, 3, h, w)
    assert torch.isfinite(tiled).all()
    if h <= tile and w <= tile:
        torch.testing.assert_close(tiled, full, rtol=0, atol=0)

import kornia
import pytest
import torch

from cir.data.degrade import Degrader, gaussian_blur_batch

N, B, H, W = 5, 2, 24, 24


def image(seed=0, b=B, h=H, w=W):
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


def gen(seed=1):
    return torch.Generator().manual_seed(seed)


def high_freq(x):
    """Mean squared horizontal + vertical finite differences per [..., C, H, W] sample."""
    dx = x[..., :, 1:] - x[..., :, :-1]
    dy = x[..., 1:, :] - x[..., :-1, :]
    return dx.square().mean(dim=(-3, -2, -1)) + dy.square().mean(dim=(-3, -2, -1))


@pytest.mark.parametrize("kind", ["blur", "noise", "resize", "mix"])
def test_shapes_range_and_no_grad(kind):
    lq = image().requires_grad_(True)
    out = Degrader(kind)(lq, N, gen())
    assert out.shape == (N, B, 3, H, W)
    assert out.min() >= 0 and out.max() <= 1
    assert not out.requires_grad
    assert not torch.equal(out, lq.detach().expand_as(out))


@pytest.mark.parametrize("kind", ["blur", "noise", "resize", "mix"])
def test_deterministic_given_the_generator(kind):
    lq = image()
    a = Degrader(kind)(lq, N, gen(7))
    b = Degrader(kind)(lq, N, gen(7))
    c = Degrader(kind)(lq, N, gen(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_copies_are_independent():
    out = Degrader("noise")(image(), N, gen())
    for i in range(1, N):
        assert not torch.equal(out[0], out[i])


def test_noise_zero_mean_and_sampled_std():
    deg = Degrader("noise")
    lq = torch.full((B, 3, 32, 32), 0.5)
    g = gen(3)
    params = deg.sample_params(N, B, g)
    residual = deg.apply(lq, params, g) - lq                           # [N, B, 3, 32, 32]
    std = residual.std(dim=(2, 3, 4))
    assert torch.allclose(std, params.noise_sigma, rtol=0.1)
    assert (residual.mean(dim=(2, 3, 4)).abs() < 4 * params.noise_sigma / 3072 ** 0.5).all()
    assert (std > 0.9 / 255).all() and (std < 30 * 1.1 / 255).all()
    for i in range(N):
        for b in range(B):
            r = residual[i, b]
            same_channels = torch.equal(r[0], r[1]) and torch.equal(r[1], r[2])
            assert same_channels == bool(params.gray[i, b])


def test_blur_reduces_high_frequencies_and_matches_kornia():
    deg = Degrader("blur")
    lq = image()
    g = gen(4)
    params = deg.sample_params(N, B, g)
    out = deg.apply(lq, params, g)
    assert (high_freq(out) < high_freq(lq).unsqueeze(0)).all()
    for i in range(N):
        for b in range(B):
            ks = tuple(int(k) for k in params.kernel_size[i, b])
            ref = kornia.filters.gaussian_blur2d(lq[b:b + 1], ks, params.sigma[i, b].view(1, 2))
            assert torch.allclose(out[i, b], ref[0], atol=1e-5)


def test_batched_blur_equals_per_sample_kernels():
    x = image(b=3)
    sizes = torch.tensor([[3, 11], [5, 5], [11, 3]])
    sigmas = torch.tensor([[0.5, 2.0], [1.0, 1.0], [2.0, 0.1]])
    out = gaussian_blur_batch(x, sizes, sigmas)
    for m in range(3):
        ref = kornia.filters.gaussian_blur2d(x[m:m + 1], tuple(sizes[m].tolist()), sigmas[m].view(1, 2))
        assert torch.allclose(out[m], ref[0], atol=1e-5)
    with pytest.raises(ValueError, match="kernel size 11"):
        gaussian_blur_batch(torch.rand(1, 3, 4, 4), torch.tensor([[11, 11]]), torch.ones(1, 2))


def test_resize_changes_the_image_but_not_its_size():
    deg = Degrader("resize")
    lq = image()
    g = gen(5)
    params = deg.sample_params(N, B, g)
    out = deg.apply(lq, params, g)
    assert out.shape == (N, B, 3, H, W)
    assert params.resize.all() and not params.blur.any() and not params.noise.any()
    for i in range(N):
        if abs(float(params.scale[i]) - 1.0) > 0.05:
            assert (out[i] - lq).abs().mean() > 1e-3


def test_sampled_parameters_respect_the_ranges():
    p = Degrader("mix").sample_params(200, 8, gen(6))
    sizes = p.kernel_size.flatten()
    assert set(sizes.tolist()) == {3, 5, 7, 9, 11}
    assert p.sigma.min() >= 0.1 and p.sigma.max() <= 2.0
    assert p.noise_sigma.min() >= 1 / 255 and p.noise_sigma.max() <= 30 / 255
    assert p.scale.min() >= 0.5 and p.scale.max() <= 1.5
    up = (p.scale > 1).float().mean()
    assert 0.15 < up < 0.35                                              # p(up) = 0.25
    assert 0.4 < p.gray.float().mean() < 0.6                             # p(gray) = 0.5
    assert set(p.mode_down) == {"area", "bilinear", "bicubic"}
    custom = Degrader("blur", blur_kernel=(5, 7), blur_sigma=(1.0, 1.5)).sample_params(50, 4, gen(6))
    assert set(custom.kernel_size.flatten().tolist()) == {5, 7}
    assert custom.sigma.min() >= 1.0 and custom.sigma.max() <= 1.5


def test_mix_draws_from_the_other_kinds():
    deg = Degrader("mix")
    p = deg.sample_params(200, 8, gen(9))
    resize = p.resize.unsqueeze(1).expand_as(p.blur)
    assert (p.blur | p.noise | resize).all()                             # every sample is degraded
    assert p.blur.any() and p.noise.any() and p.resize.any()
    assert (p.blur & p.noise).any() and (p.blur & resize).any()          # combinations occur
    assert not p.blur.all() and not p.noise.all() and not p.resize.all()

    lq = image()
    g = gen(10)
    params = deg.sample_params(N, B, g)
    out = deg.apply(lq, params, g)
    checked = 0
    for i in range(N):
        for b in range(B):
            only_blur = params.blur[i, b] and not params.noise[i, b] and not params.resize[i]
            if only_blur:
                checked += 1
                ref = gaussian_blur_batch(lq[b:b + 1], params.kernel_size[i, b:b + 1], params.sigma[i, b:b + 1])
                assert torch.allclose(out[i, b], ref[0].clamp(0, 1), atol=1e-6)
            if not params.blur[i, b] and not params.noise[i, b] and not params.resize[i]:
                pytest.fail("a mix sample was left clean")
    assert checked > 0


def test_inference_mode_input_and_float64():
    with torch.inference_mode():
        lq = image()
    out = Degrader("mix")(lq, 3, gen())
    assert out.shape == (3, B, 3, H, W)
    assert Degrader("noise")(image().double(), 2, gen()).dtype == torch.float64


def test_errors_name_the_value():
    with pytest.raises(ValueError, match="kind='jpeg'"):
        Degrader("jpeg")
    with pytest.raises(ValueError, match="blur_kernel"):
        Degrader("blur", blur_kernel=(4, 11))
    with pytest.raises(ValueError, match="n=0"):
        Degrader("noise")(image(), 0, gen())
    with pytest.raises(ValueError, match="gray_noise_prob"):
        Degrader("noise", gray_noise_prob=1.5)

"""Random degradations of a low-quality batch: the raw material of DCKD's negatives (eq. 4).

``Degrader(kind)(lq, n, generator)`` returns ``n`` independently degraded copies of every image
of ``lq`` as ``[n, B, C, h, w]`` (copy-major: ``out.flatten(0, 1)`` is ``torch.cat`` of the
copies, the order in which a history model runs them as one batch). The operations and their
ranges follow the public DCKD code (``DCKDModel.optimize_parameters``):

* blur   -- anisotropic, axis-aligned Gaussian; odd kernel height/width in [3, 11] and
  sigma_y/sigma_x in [0.1, 2], each drawn independently per sample; reflect border;
* resize -- to ``scale * (h, w)`` (up, scale in [1, 1.5], with probability 0.25; else down,
  scale in [0.5, 1]) and back to ``(h, w)``, each resize with a mode drawn from
  area/bilinear/bicubic; scale and modes are shared by the images of one copy, as in the
  public code, where one call resizes the whole batch;
* noise  -- additive Gaussian, sigma in [1, 30] / 255 per sample; with probability 0.5 the
  same noise field is used for every channel ("gray" noise);
* mix    -- a random combination: blur and noise are applied per sample, resize per copy, each
  with probability 0.5; a sample that drew none gets blur or noise (equally likely).

In a copy the order is blur -> resize down/up -> noise -> resize back, so noise added to a
resized copy is resampled with the image, as in the public code. The result is clamped to
[0, 1]. All randomness comes from the given generator: the same generator state gives the
same output. The work is batched over all ``n * B`` samples (one grouped convolution per blur
axis); only resizing loops, over the ``n`` copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

KINDS = ("blur", "noise", "resize", "mix")
RESIZE_MODES = ("area", "bilinear", "bicubic")

# Defaults: the public DCKD code (basicsr/models/dckd_model.py and its train_*_DCKD.yml configs).
BLUR_KERNEL = (3, 11)      # kx = random.randint(1, 5) * 2 + 1  -> odd sizes 3..11
BLUR_SIGMA = (0.1, 2.0)    # sx = random.random() * 1.9 + 0.1
RESIZE_UP = (1.0, 1.5)     # np.random.uniform(1, 1.5) for 'up'
RESIZE_DOWN = (0.5, 1.0)   # np.random.uniform(0.5, 1) for 'down'
RESIZE_UP_PROB = 0.25      # random.choices(['up', 'down'], [0.25, 0.75])
NOISE_SIGMA = (1.0, 30.0)  # random_add_gaussian_noise_pt(sigma_range=[1, 30]) on a 0..255 scale
GRAY_NOISE_PROB = 0.5      # gray_noise_prob: 0.5 in the released configs
# "mix" has no preset in the public code (its per-operation probabilities are 0 or 1 in the
# released configs); this project applies each operation with probability 0.5.
MIX_PROBS = (0.5, 0.5, 0.5)  # blur, resize, noise


@dataclass
class DegradeParams:
    """The random choices behind one call; per-sample tensors are ``[n, B]`` (CPU).

    ``kernel_size`` and ``sigma`` are ``[n, B, 2]`` as (height, width) / (sigma_y, sigma_x);
    ``noise_sigma`` is on the [0, 1] intensity scale; ``mode_down``/``mode_back`` name the
    interpolation of each copy's two resizes.
    """

    blur: torch.Tensor
    kernel_size: torch.Tensor
    sigma: torch.Tensor
    resize: torch.Tensor        # [n]
    scale: torch.Tensor         # [n]
    mode_down: list[str]
    mode_back: list[str]
    noise: torch.Tensor
    noise_sigma: torch.Tensor
    gray: torch.Tensor


def _pair(value: tuple[float, float], name: str, *, positive: bool = True) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if lo > hi or (positive and lo <= 0):
        raise ValueError(f"Degrader: {name}={value} must be an increasing pair"
                         f"{' of positive numbers' if positive else ''}")
    return lo, hi


def _prob(value: float, name: str) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"Degrader: {name}={value} must be a probability in [0, 1]")
    return float(value)


def _uniform(lo: float, hi: float, shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
    return torch.rand(shape, generator=g, device=g.device).cpu() * (hi - lo) + lo


def gaussian_blur_batch(x: torch.Tensor, kernel_size: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur sample ``m`` of ``x [M, C, H, W]`` with its own separable Gaussian (reflect border).

    ``kernel_size [M, 2]`` (odd heights, widths) and ``sigma [M, 2]`` (sigma_y, sigma_x). Every
    kernel is zero-padded to the largest size, which leaves the result unchanged (reflect padding
    maps the same pixels), so the whole batch is two grouped convolutions.
    """
    m, c, h, w = x.shape
    k = int(kernel_size.max())
    radius = k // 2
    if radius >= h or radius >= w:
        raise ValueError(f"gaussian_blur_batch: kernel size {k} needs images larger than {radius} pixels, "
                         f"got {h}x{w}")
    taps = torch.arange(k, dtype=torch.float32, device=x.device) - radius          # [k]
    size = kernel_size.to(x.device, torch.float32)                                  # [M, 2]
    sig = sigma.to(x.device, torch.float32)
    inside = taps.abs().view(1, 1, k) <= (size.unsqueeze(-1) - 1) / 2               # [M, 2, k]
    g = torch.exp(-taps.square().view(1, 1, k) / (2 * sig.unsqueeze(-1).square())) * inside
    g = g / g.sum(dim=-1, keepdim=True)
    g = g.to(x.dtype).repeat_interleave(c, dim=0)                                   # [M*C, 2, k]
    y = F.pad(x.reshape(1, m * c, h, w), (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, g[:, 0].reshape(m * c, 1, k, 1), groups=m * c)                  # along H
    y = F.conv2d(y, g[:, 1].reshape(m * c, 1, 1, k), groups=m * c)                  # along W
    return y.view(m, c, h, w)


def _interpolate(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    return F.interpolate(x, size=size, mode=mode, align_corners=None if mode == "area" else False)


class Degrader:
    """Random blur / noise / resize / mix degradations; see the module docstring.

    Args:
        kind: ``"blur"``, ``"noise"``, ``"resize"`` or ``"mix"``.
        blur_kernel: range of the odd Gaussian kernel sizes (both ends odd).
        blur_sigma: range of the Gaussian standard deviations, in pixels.
        resize_up / resize_down: ranges of the up- and down-scaling factors.
        resize_up_prob: probability of scaling up rather than down.
        resize_modes: interpolation modes drawn from (subset of area, bilinear, bicubic).
        noise_sigma: range of the noise standard deviation on a 0..255 scale.
        gray_noise_prob: probability that one noise field is shared by all channels.
        mix_probs: probabilities of blur, resize and noise for ``kind="mix"``.
    """

    def __init__(self, kind: str, *, blur_kernel: tuple[int, int] = BLUR_KERNEL,
                 blur_sigma: tuple[float, float] = BLUR_SIGMA,
                 resize_up: tuple[float, float] = RESIZE_UP, resize_down: tuple[float, float] = RESIZE_DOWN,
                 resize_up_prob: float = RESIZE_UP_PROB, resize_modes: tuple[str, ...] = RESIZE_MODES,
                 noise_sigma: tuple[float, float] = NOISE_SIGMA, gray_noise_prob: float = GRAY_NOISE_PROB,
                 mix_probs: tuple[float, float, float] = MIX_PROBS):
        if kind not in KINDS:
            raise ValueError(f"Degrader: kind={kind!r}; valid kinds: {', '.join(KINDS)}")
        self.kind = kind
        k_lo, k_hi = (int(v) for v in blur_kernel)
        if k_lo < 1 or k_lo > k_hi or k_lo % 2 == 0 or k_hi % 2 == 0:
            raise ValueError(f"Degrader: blur_kernel={blur_kernel} must be an increasing pair of odd sizes >= 1")
        self.blur_kernel = (k_lo, k_hi)
        self.blur_sigma = _pair(blur_sigma, "blur_sigma")
        self.resize_up = _pair(resize_up, "resize_up")
        self.resize_down = _pair(resize_down, "resize_down")
        self.resize_up_prob = _prob(resize_up_prob, "resize_up_prob")
        modes = tuple(resize_modes)
        if not modes or any(m not in RESIZE_MODES for m in modes):
            raise ValueError(f"Degrader: resize_modes={resize_modes}; choose from {', '.join(RESIZE_MODES)}")
        self.resize_modes = modes
        self.noise_sigma = _pair(noise_sigma, "noise_sigma", positive=False)
        if self.noise_sigma[0] < 0:
            raise ValueError(f"Degrader: noise_sigma={noise_sigma} must be >= 0")
        self.gray_noise_prob = _prob(gray_noise_prob, "gray_noise_prob")
        if len(mix_probs) != 3:
            raise ValueError(f"Degrader: mix_probs={mix_probs} needs three probabilities (blur, resize, noise)")
        self.mix_probs = tuple(_prob(p, "mix_probs") for p in mix_probs)

    def __repr__(self) -> str:
        return f"Degrader(kind={self.kind!r})"

    # -- parameters ---------------------------------------------------------------------------
    def sample_params(self, n: int, batch: int, generator: torch.Generator) -> DegradeParams:
        """Draw every random choice for ``n`` copies of a batch of ``batch`` images.

        All parameters are drawn whatever the kind (the kind only sets which operations are on),
        so the generator advances by the same amount for every kind.
        """
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"Degrader: n={n!r} must be a positive integer (copies per image)")
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"Degrader: batch={batch!r} must be a positive integer")
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"Degrader: generator must be a torch.Generator, got {type(generator).__name__}")
        g, shape = generator, (n, batch)
        n_sizes = (self.blur_kernel[1] - self.blur_kernel[0]) // 2 + 1
        kernel_size = self.blur_kernel[0] + 2 * torch.randint(
            0, n_sizes, (n, batch, 2), generator=g, device=g.device).cpu()
        sigma = _uniform(*self.blur_sigma, (n, batch, 2), g)
        up = _uniform(0.0, 1.0, (n,), g) < self.resize_up_prob
        scale = torch.where(up, _uniform(*self.resize_up, (n,), g), _uniform(*self.resize_down, (n,), g))
        modes = torch.randint(0, len(self.resize_modes), (2, n), generator=g, device=g.device).cpu().tolist()
        noise_sigma = _uniform(*self.noise_sigma, shape, g) / 255.0
        gray = _uniform(0.0, 1.0, shape, g) < self.gray_noise_prob
        draws = _uniform(0.0, 1.0, (4, n, batch), g)  # mix: blur, resize (column 0), noise, fallback

        on, off = torch.ones(shape, dtype=torch.bool), torch.zeros(shape, dtype=torch.bool)
        if self.kind == "mix":
            p_blur, p_resize, p_noise = self.mix_probs
            blur, resize, noise = draws[0] < p_blur, draws[1, :, 0] < p_resize, draws[2] < p_noise
            none = ~blur & ~noise & ~resize.unsqueeze(1)
            blur = blur | (none & (draws[3] < 0.5))
            noise = noise | (none & (draws[3] >= 0.5))
        else:
            blur = on if self.kind == "blur" else off
            noise = on if self.kind == "noise" else off
            resize = torch.full((n,), self.kind == "resize", dtype=torch.bool)
        return DegradeParams(blur=blur, kernel_size=kernel_size, sigma=sigma, resize=resize, scale=scale,
                             mode_down=[self.resize_modes[i] for i in modes[0]],
                             mode_back=[self.resize_modes[i] for i in modes[1]],
                             noise=noise, noise_sigma=noise_sigma, gray=gray)

    # -- application --------------------------------------------------------------------------
    @torch.no_grad()
    def apply(self, lq: torch.Tensor, params: DegradeParams, generator: torch.Generator) -> torch.Tensor:
        """Degrade ``n`` copies of ``lq [B, C, h, w]`` with ``params``; noise fields come from ``generator``.

        The generator may live on the CPU or on ``lq``'s device; returns ``[n, B, C, h, w]``.
        """
        if lq.dim() != 4:
            raise ValueError(f"Degrader: lq must be [B, C, h, w], got shape {tuple(lq.shape)}")
        n, b = params.blur.shape
        if lq.shape[0] != b:
            raise ValueError(f"Degrader: params were drawn for batch {b} but lq has batch {lq.shape[0]}")
        _, c, h, w = lq.shape
        dev = lq.device
        x = lq.float().repeat(n, 1, 1, 1)                               # [n*B, C, h, w], copy-major

        blur = params.blur.flatten()
        if blur.any():
            idx = blur.nonzero().squeeze(1)
            x[idx.to(dev)] = gaussian_blur_batch(x[idx.to(dev)], params.kernel_size.flatten(0, 1)[idx],
                                                 params.sigma.flatten(0, 1)[idx])

        x = x.view(n, b, c, h, w)
        for i in torch.nonzero(params.resize).flatten().tolist():
            s = float(params.scale[i])
            small = (max(1, int(h * s)), max(1, int(w * s)))
            xi = _interpolate(x[i], small, params.mode_down[i])
            xi = self._add_noise(xi, params.noise[i], params.noise_sigma[i], params.gray[i], generator)
            x[i] = _interpolate(xi, (h, w), params.mode_back[i])

        still = ~params.resize                                           # copies noised at full size
        if (params.noise & still.unsqueeze(1)).any():
            keep = still.to(dev)
            x[keep] = self._add_noise(x[keep].flatten(0, 1), params.noise[still].flatten(),
                                      params.noise_sigma[still].flatten(), params.gray[still].flatten(),
                                      generator).view(-1, b, c, h, w)
        return x.clamp_(0.0, 1.0).to(lq.dtype)

    @staticmethod
    def _add_noise(x: torch.Tensor, on: torch.Tensor, sigma: torch.Tensor, gray: torch.Tensor,
                   g: torch.Generator) -> torch.Tensor:
        """``x [M, C, h, w]`` plus Gaussian noise on the samples where ``on`` (per-sample sigma/gray)."""
        if not bool(on.any()):
            return x
        m, c, h, w = x.shape
        color = torch.randn((m, c, h, w), generator=g, device=g.device).to(x.device)
        mono = torch.randn((m, 1, h, w), generator=g, device=g.device).to(x.device)
        noise = torch.where(gray.view(m, 1, 1, 1).to(x.device), mono.expand(m, c, h, w), color)
        scale = (sigma * on).to(x.device, x.dtype).view(m, 1, 1, 1)
        return x + noise * scale

    def __call__(self, lq: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` degraded copies of every image of ``lq [B, C, h, w]`` in [0, 1]: ``[n, B, C, h, w]``."""
        if lq.dim() != 4:
            raise ValueError(f"Degrader: lq must be [B, C, h, w], got shape {tuple(lq.shape)}")
        return self.apply(lq, self.sample_params(n, lq.shape[0], generator), generator)

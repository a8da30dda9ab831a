"""The two prior mixers of MiPKD (Li et al., "Knowledge Distillation with Multi-granularity
Mixture of Priors for Image Super-Resolution", ICLR 2025, arXiv 2404.02573).

Feature prior mixer (:class:`FeaturePriorMixer`). A teacher feature map and a student feature
map taken at the same relative depth are mapped by *separate* encoders into one latent space,
mixed there with a random binary mask and its complement (:func:`random_mask`,
:func:`mix_latents`), and decoded back to the teacher's feature space. Encoders and decoders
are small CNNs. The paper's ablations (Tables 6, 7 and 9 of the ICLR version, as reported in
public summaries) favour separate encoders over a shared one or none, CNN over MLP coders, and
a random 3D mask (over channels, height and width) over similarity-based or fixed-grid masks.
The coders' depth, the latent width and the mask ratio are not given there; the defaults here
are cir's and are options of the ``mipkd`` method.

Block prior mixer. A forward pass that runs each stage of the network on either the teacher's
or the student's blocks. :class:`BlockRunner` runs a range of a network's blocks on a given
feature map, and the rest of the network (its tail) to the output image, for spandrel's SwinIR
(residual Swin Transformer blocks ``layers.i``) and RCAN (residual groups ``body.i``). The
block lists are those of :func:`cir.models.taps.default_tap_layers`, so a tap name is also a
block boundary.
"""

from __future__ import annotations

import abc

import torch
from torch import nn

from cir.errors import CirError
from cir.models.taps import default_tap_layers, detect_arch, tokens_to_map

SIDES = ("teacher", "student")
MASK_MODES = ("3d", "spatial")


# -- masks -----------------------------------------------------------------------------------
def random_mask(shape: tuple[int, ...] | torch.Size, teacher_ratio: float, *, mode: str = "3d",
                generator: torch.Generator | None = None, device: torch.device | str | None = None,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A random 0/1 mask for latents of ``shape`` ``[B, C, H, W]``; 1 takes the teacher's entry.

    ``mode="3d"``: every (b, c, h, w) entry is drawn independently (the paper's random 3D
    mask); ``mode="spatial"``: one draw per (b, h, w), shared by all channels (shape
    ``[B, 1, H, W]``, broadcast when mixing). Each draw is 1 with probability ``teacher_ratio``.
    """
    if len(shape) != 4:
        raise ValueError(f"random_mask: shape must be [B, C, H, W], got {tuple(shape)}")
    if isinstance(teacher_ratio, bool) or not isinstance(teacher_ratio, (int, float)) or not (
            0.0 <= teacher_ratio <= 1.0):
        raise ValueError(f"random_mask: teacher_ratio must be a number in [0, 1], got {teacher_ratio!r}")
    if mode not in MASK_MODES:
        raise ValueError(f"random_mask: mode {mode!r} is not allowed; allowed values: {', '.join(MASK_MODES)}")
    b, c, h, w = (int(v) for v in shape)
    draw_shape = (b, c, h, w) if mode == "3d" else (b, 1, h, w)
    uniform = torch.rand(draw_shape, generator=generator, device=device)
    return (uniform < teacher_ratio).to(dtype)


def mix_latents(teacher: torch.Tensor, student: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mask * teacher + (1 - mask) * student``: complementary parts of the two latents."""
    if teacher.shape != student.shape:
        raise ValueError(f"mix_latents: teacher latent {tuple(teacher.shape)} and student latent "
                         f"{tuple(student.shape)} differ in shape")
    if mask.dim() != teacher.dim() or any(m not in (1, t) for m, t in zip(mask.shape, teacher.shape)):
        raise ValueError(f"mix_latents: mask {tuple(mask.shape)} does not broadcast to the latents "
                         f"{tuple(teacher.shape)}")
    return mask * teacher + (1 - mask) * student


# -- the feature prior mixer -----------------------------------------------------------------
def conv_coder(in_channels: int, out_channels: int) -> nn.Sequential:
    """Encoder or decoder: 3x3 conv -> ReLU -> 3x3 conv (linear output); cir's choice of depth."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
    )


class FeaturePriorMixer(nn.Module):
    """Encoders of both networks into a ``latent_channels``-wide space and decoders out of it.

    ``decode(z, "teacher")`` reconstructs a teacher feature (the target of the feature loss).
    ``decode(z, "student")`` gives a student-width feature for the block prior mixer; when
    both networks have the same width the teacher decoder serves both, otherwise a second
    decoder is kept.
    """

    def __init__(self, teacher_channels: int, student_channels: int, latent_channels: int):
        super().__init__()
        for name, value in (("teacher_channels", teacher_channels), ("student_channels", student_channels),
                            ("latent_channels", latent_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"FeaturePriorMixer: {name} must be a positive integer, got {value!r}")
        self.channels = {"teacher": teacher_channels, "student": student_channels}
        self.latent_channels = latent_channels
        self.encoders = nn.ModuleDict({
            "teacher": conv_coder(teacher_channels, latent_channels),
            "student": conv_coder(student_channels, latent_channels),
        })
        decoders = {"teacher": conv_coder(latent_channels, teacher_channels)}
        if student_channels != teacher_channels:
            decoders["student"] = conv_coder(latent_channels, student_channels)
        self.decoders = nn.ModuleDict(decoders)

    @staticmethod
    def _check_side(side: str) -> None:
        if side not in SIDES:
            raise ValueError(f"FeaturePriorMixer: side {side!r} is not allowed; allowed values: teacher, student")

    def encode(self, feature: torch.Tensor, side: str) -> torch.Tensor:
        self._check_side(side)
        if feature.dim() != 4 or feature.shape[1] != self.channels[side]:
            raise ValueError(f"FeaturePriorMixer.encode: expected a [B, {self.channels[side]}, H, W] {side} "
                             f"feature, got {tuple(feature.shape)}")
        return self.encoders[side](feature)

    def decode(self, latent: torch.Tensor, side: str) -> torch.Tensor:
        self._check_side(side)
        if latent.dim() != 4 or latent.shape[1] != self.latent_channels:
            raise ValueError(f"FeaturePriorMixer.decode: expected a [B, {self.latent_channels}, H, W] latent, "
                             f"got {tuple(latent.shape)}")
        decoder = self.decoders[side] if side in self.decoders else self.decoders["teacher"]
        return decoder(latent)


# -- running parts of a network for the block prior mixer -------------------------------------
SpatialSize = tuple[int, int]


class BlockRunner(abc.ABC):
    """Runs a network from a feature map at a block boundary instead of from its input.

    ``blocks`` are the network's block names (``default_tap_layers``), shallow to deep.
    ``run(start, stop, x)`` applies blocks ``start .. stop - 1`` to the map ``x`` and returns a
    map; ``finish(start, x, head, size)`` applies blocks ``start ..`` and the tail, with
    ``head`` the output of the network's first convolution (its global skip connection) and
    ``size`` the (H, W) of the low-resolution input, and returns the output image.
    """

    head_layer: str

    def __init__(self, model: nn.Module, arch: str):
        self.model = model
        self.blocks = default_tap_layers(arch, model)

    def _check_range(self, start: int, stop: int) -> None:
        if not 0 <= start <= stop <= len(self.blocks):
            raise IndexError(f"{type(self).__name__}: block range [{start}, {stop}) is outside 0..{len(self.blocks)}")

    @abc.abstractmethod
    def run(self, start: int, stop: int, x: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def finish(self, start: int, x: torch.Tensor, head: torch.Tensor, size: SpatialSize) -> torch.Tensor: ...


class SwinIRRunner(BlockRunner):
    """spandrel SwinIR: blocks are the RSTBs ``layers.i`` (run on row-major tokens)."""

    head_layer = "conv_first"
    UPSAMPLERS = ("pixelshuffle", "pixelshuffledirect")

    def __init__(self, model: nn.Module):
        super().__init__(model, "swinir")
        upsampler = getattr(model, "upsampler", None)
        if upsampler not in self.UPSAMPLERS:
            raise CirError(f"block prior mixer: SwinIR upsampler {upsampler!r} is not supported; "
                           f"supported: {', '.join(self.UPSAMPLERS)}")
        if getattr(model, "start_unshuffle", 1) != 1:
            raise CirError("block prior mixer: SwinIR with start_unshuffle > 1 is not supported")

    def _layers(self, start: int, stop: int, x: torch.Tensor) -> torch.Tensor:
        size = (int(x.shape[-2]), int(x.shape[-1]))
        tokens = x.flatten(2).transpose(1, 2)
        for layer in self.model.layers[start:stop]:
            tokens = layer(tokens, size)
        return tokens

    def run(self, start: int, stop: int, x: torch.Tensor) -> torch.Tensor:
        self._check_range(start, stop)
        return tokens_to_map(self._layers(start, stop, x), (int(x.shape[-2]), int(x.shape[-1])))

    def finish(self, start: int, x: torch.Tensor, head: torch.Tensor, size: SpatialSize) -> torch.Tensor:
        self._check_range(start, len(self.blocks))
        m = self.model
        tokens = self._layers(start, len(self.blocks), x)
        feature = tokens_to_map(m.norm(tokens), (int(x.shape[-2]), int(x.shape[-1])))
        out = m.conv_after_body(feature) + head
        if m.upsampler == "pixelshuffle":
            out = m.conv_last(m.upsample(m.conv_before_upsample(out)))
        else:
            out = m.upsample(out)
        out = out / m.img_range + m.mean.type_as(out)
        return out[:, :, : size[0] * m.upscale, : size[1] * m.upscale]


class RCANRunner(BlockRunner):
    """spandrel RCAN: blocks are the residual groups ``body.0 .. body.{n-1}``."""

    head_layer = "head"

    def __init__(self, model: nn.Module):
        super().__init__(model, "rcan")
        self.n_groups = len(self.blocks)

    def run(self, start: int, stop: int, x: torch.Tensor) -> torch.Tensor:
        self._check_range(start, stop)
        for group in self.model.body[start:stop]:
            x = group(x)
        return x

    def finish(self, start: int, x: torch.Tensor, head: torch.Tensor, size: SpatialSize) -> torch.Tensor:
        m = self.model
        x = self.run(start, self.n_groups, x)
        res = m.body[self.n_groups](x) + head      # trailing body conv and the global skip
        out = m.add_mean(m.tail(res))
        return (out / m.rgb_range)[:, :, : size[0] * m.scale, : size[1] * m.scale]


def block_runner(model: nn.Module) -> BlockRunner:
    """The :class:`BlockRunner` for a SwinIR or RCAN network."""
    arch = detect_arch(model)
    if arch == "swinir":
        return SwinIRRunner(model)
    if arch == "rcan":
        return RCANRunner(model)
    raise CirError(f"block prior mixer: no block runner for architecture {arch!r}; known: rcan, swinir")

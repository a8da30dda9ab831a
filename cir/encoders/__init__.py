"""Frozen feature encoders used by the distillation losses."""

from cir.encoders.vqgan import (
    DEFAULT_WEIGHTS_PATH,
    F16_1024,
    WEIGHTS_NAME,
    MissingEncoderWeightsError,
    VQGANConfig,
    VQGANEncoder,
    VQGANOutput,
    build_vqgan_encoder,
    load_official_weights,
    parameter_counts,
    read_checkpoint,
)

__all__ = [
    "DEFAULT_WEIGHTS_PATH",
    "F16_1024",
    "WEIGHTS_NAME",
    "MissingEncoderWeightsError",
    "VQGANConfig",
    "VQGANEncoder",
    "VQGANOutput",
    "build_vqgan_encoder",
    "load_official_weights",
    "parameter_counts",
    "read_checkpoint",
]

"""cir: reproduction pipeline for contrastive / distillation image-restoration papers."""

__version__ = "0.1.0"

"""Architecture registry: build restoration networks by name, load weight files."""

from cir.models.registry import (
    ARCHITECTURES,
    build_model,
    count_parameters,
    load_model_file,
    model_spec,
)

__all__ = ["ARCHITECTURES", "build_model", "count_parameters", "load_model_file", "model_spec"]

"""Turn an official pretrained weight file into a cir model file that records its provenance."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cir.engine import checkpoint as ckpt
from cir.models.registry import count_parameters, load_model_file, model_spec


def import_official(weights: str | Path, backbone: str, scale: int, out: str | Path, task: str | None = None,
                    *, arch: str | None = None, params: dict | None = None) -> Path:
    """Load ``weights`` (an official release: recognised by spandrel, or read by the architecture's
    converter with ``params``), check that it is an ``arch`` (default: ``backbone``) network for
    ``scale``, and write it as a cir model file at ``out``."""
    weights = Path(weights)
    model = load_model_file(weights, expect_arch=arch or backbone, expect_scale=scale, params=params)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    meta = {
        "name": f"official/{task or f'x{scale}'}/{backbone}",
        "method": "official",
        "role": "teacher",
        "source": "official pretrained release",
        "weights_file": str(weights),
        "weights_sha256": digest,
        "parameters": count_parameters(model),
        "stand_ins": [],
    }
    ckpt.save(out, ckpt.model_file(model_spec(model), model.state_dict(), None, meta))
    return Path(out)

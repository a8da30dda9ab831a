"""The one trainer shared by every method."""

from cir.engine.trainer import TrainSettings, Trainer, resolve_device

__all__ = ["TrainSettings", "Trainer", "resolve_device"]

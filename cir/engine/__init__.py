"""The one trainer shared by every method."""

from cir.engine.trainer import Trainer, TrainSettings
from cir.utils.device import resolve_device

__all__ = ["TrainSettings", "Trainer", "resolve_device"]

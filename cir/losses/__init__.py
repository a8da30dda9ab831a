"""Pure loss functions: tensors in, scalar tensor out; no state, no config."""

from cir.losses.pixel import l1, psnr_loss, reconstruction_loss

__all__ = ["l1", "psnr_loss", "reconstruction_loss"]

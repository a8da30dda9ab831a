"""The registry's architecture names without importing torch (the configuration check reads them;
a test keeps them equal to :data:`cir.models.registry.ARCHITECTURES`)."""

ARCH_NAMES: tuple[str, ...] = ("criacl", "dehazeformer", "drcnet", "edsr", "ffanet", "idt", "mprnet",
                               "nafnet", "rcan", "restormer", "swinir")
